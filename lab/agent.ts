/**
 * The lab's traffic endpoints, run inside a pod namespace (`ip netns exec <ns> node --import tsx lab/agent.ts`):
 *   serve <name> <tcpPorts> <udpPorts> <maxSeconds>   TCP/UDP servers on :: (IPv4 and IPv6), print "ready"
 *   client <flows-json> <maxSeconds>                  run flows one after the other, one JSON line each
 * Everything is bounded: a server exits after maxSeconds, every flow has a timeout, a client has a total budget.
 * A TCP server reads until the client half-closes, then answers "<pod> <bytes received>"; a UDP server answers
 * each datagram with "<pod> <datagram>". Replies name the pod so the lab knows which backend answered.
 */
import { createSocket } from 'node:dgram';
import { connect, createServer } from 'node:net';
import type { AgentFlow, AgentResult } from './agent-types.ts';

const FLOW_TIMEOUT_MS = 5000;

function serve(pod: string, tcpPorts: number[], udpPorts: number[], maxSeconds: number): void {
  let pending = tcpPorts.length + udpPorts.length;
  const listening = () => {
    pending -= 1;
    if (pending === 0) process.stdout.write('ready\n');
  };
  for (const port of tcpPorts) {
    const server = createServer((sock) => {
      let received = 0;
      sock.setTimeout(FLOW_TIMEOUT_MS, () => sock.destroy());
      sock.on('data', (chunk: Buffer) => {
        received += chunk.length;
      });
      sock.on('end', () => sock.end(`${pod} ${received}\n`));
      sock.on('error', () => sock.destroy());
    });
    server.listen({ port, host: '::', ipv6Only: false }, listening);
  }
  for (const port of udpPorts) {
    const sock = createSocket({ type: 'udp6', ipv6Only: false });
    sock.on('message', (msg, rinfo) => sock.send(`${pod} ${msg.toString()}`, rinfo.port, rinfo.address));
    sock.bind(port, '::', listening);
  }
  setTimeout(() => process.exit(0), maxSeconds * 1000).unref();
  // Keep the loop alive until the deadline even if a server errors.
  setInterval(() => {}, 1000);
}

function nowNs(): string {
  return (BigInt(Date.now()) * 1_000_000n).toString();
}

function tcpFlow(flow: AgentFlow): Promise<AgentResult> {
  const startNs = nowNs();
  return new Promise((resolve) => {
    let reply = '';
    let settled = false;
    const done = (ok: boolean, error?: string) => {
      if (settled) return;
      settled = true;
      sock.destroy();
      resolve({ id: flow.id, ok, reply: reply.trim(), startNs, endNs: nowNs(), ...(error ? { error } : {}) });
    };
    const family = flow.dst.includes(':') ? 6 : 4;
    const sock = connect({ host: flow.dst, port: flow.dport, localPort: flow.sport, family });
    sock.setTimeout(FLOW_TIMEOUT_MS, () => done(false, 'timeout'));
    sock.on('connect', () => {
      const payload = Buffer.alloc(flow.bytes, `${flow.id} `);
      sock.end(payload);
    });
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      reply += chunk;
    });
    sock.on('end', () => done(reply.length > 0));
    sock.on('error', (err) => done(false, err.message));
  });
}

function udpFlow(flow: AgentFlow): Promise<AgentResult> {
  const startNs = nowNs();
  return new Promise((resolve) => {
    const sock = createSocket(flow.dst.includes(':') ? 'udp6' : 'udp4');
    let settled = false;
    const done = (ok: boolean, reply: string, error?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.close();
      resolve({ id: flow.id, ok, reply, startNs, endNs: nowNs(), ...(error ? { error } : {}) });
    };
    const timer = setTimeout(() => done(false, '', 'timeout'), FLOW_TIMEOUT_MS);
    sock.on('message', (msg) => done(true, msg.toString().trim()));
    sock.on('error', (err) => done(false, '', err.message));
    sock.bind(flow.sport, () => sock.send(`${flow.id}`, flow.dport, flow.dst));
  });
}

async function client(flows: AgentFlow[], maxSeconds: number): Promise<void> {
  setTimeout(() => process.exit(3), maxSeconds * 1000).unref();
  for (const flow of flows) {
    const result = flow.proto === 'tcp' ? await tcpFlow(flow) : await udpFlow(flow);
    process.stdout.write(`${JSON.stringify(result)}\n`);
  }
}

function ports(text: string | undefined): number[] {
  return (text ?? '')
    .split(',')
    .filter((p) => p !== '')
    .map(Number);
}

const [, , command, ...rest] = process.argv;
if (command === 'serve') {
  serve(rest[0] ?? 'pod', ports(rest[1]), ports(rest[2]), Number(rest[3] ?? 60));
} else if (command === 'client') {
  await client(JSON.parse(rest[0] ?? '[]') as AgentFlow[], Number(rest[1] ?? 60));
} else {
  process.stderr.write(
    'usage: agent.ts serve <pod> <tcp,ports> <udp,ports> <maxSeconds> | client <json> <maxSeconds>\n',
  );
  process.exit(2);
}
