/**
 * Runs the flow catalogue: servers in the server pods, one client agent per client namespace, pings, and the
 * bulk transfer with TSO/GSO off on one hop. Every process is bounded in time and recorded by PID.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AgentFlow, AgentResult } from './agent-types.ts';
import { runIn, type Started, startIn } from './exec.ts';
import { BULK_SEGMENTING_HOP, type FlowSpec, SERVER_PORTS } from './flows.ts';
import { EXT_NS, type LabPlan, nodeByName, podByName } from './plan.ts';
import { recordPid } from './state.ts';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..');
const AGENT = join(REPO, 'lab', 'agent.ts');
const SERVER_SECONDS = 90;
const CLIENT_SECONDS = 60;

export interface FlowOutcome {
  id: string;
  ok: boolean;
  detail: string;
}

function agent(ns: string, args: string[], timeoutMs: number, onStdout?: (c: string) => void): Started {
  const started = startIn(ns, process.execPath, ['--import', 'tsx', AGENT, ...args], {
    timeoutMs,
    ...(onStdout ? { onStdout } : {}),
  });
  recordPid(started.pid);
  return started;
}

/** Starts a server agent in every server pod and resolves once all print "ready". */
export async function startServers(plan: LabPlan, servers: string[]): Promise<Started[]> {
  const started = servers.map((name) => {
    const pod = podByName(plan, name);
    let ready: () => void = () => {};
    const isReady = new Promise<void>((resolve) => {
      ready = resolve;
    });
    let out = '';
    const s = agent(
      pod.ns,
      ['serve', name, SERVER_PORTS.tcp.join(','), SERVER_PORTS.udp.join(','), String(SERVER_SECONDS)],
      (SERVER_SECONDS + 5) * 1000,
      (c) => {
        out += c;
        if (out.includes('ready')) ready();
      },
    );
    return { s, isReady };
  });
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error('lab servers did not become ready in 20 s')), 20_000).unref(),
  );
  await Promise.race([Promise.all(started.map((x) => x.isReady)), timeout]);
  return started.map((x) => x.s);
}

/** TSO and GSO off on one ENI: the sender's super-segments are split there, before that ENI's tap. */
export function segmentOnOneHop(plan: LabPlan): void {
  const node = nodeByName(plan, BULK_SEGMENTING_HOP.node);
  runIn(node.ns, 'ethtool', ['-K', BULK_SEGMENTING_HOP.iface, 'tso', 'off', 'gso', 'off']);
}

async function runAgentFlows(ns: string, flows: FlowSpec[]): Promise<FlowOutcome[]> {
  if (flows.length === 0) return [];
  const agentFlows: AgentFlow[] = flows.map((f) => ({
    id: f.id,
    proto: f.proto === 'udp' ? 'udp' : 'tcp',
    dst: f.dstIp,
    dport: f.dstPort,
    sport: f.clientPort,
    bytes: f.bytes,
  }));
  const res = await agent(
    ns,
    ['client', JSON.stringify(agentFlows), String(CLIENT_SECONDS)],
    (CLIENT_SECONDS + 5) * 1000,
  ).done;
  const results = res.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as AgentResult);
  return flows.map((f) => {
    const r = results.find((x) => x.id === f.id);
    if (!r)
      return { id: f.id, ok: false, detail: `no result (agent exit ${res.status}: ${res.stderr.trim()})` };
    // The reply names the pod that answered: it must be the backend the lab expects.
    const answered = r.reply.split(' ')[0];
    if (r.ok && answered !== f.server)
      return { id: f.id, ok: false, detail: `answered by ${answered}, expected ${f.server}` };
    return { id: f.id, ok: r.ok, detail: r.ok ? r.reply : (r.error ?? 'failed') };
  });
}

function runPing(ns: string, flow: FlowSpec): FlowOutcome {
  const res = runIn(
    ns,
    'ping',
    ['-n', '-c', '2', '-i', '0.2', '-W', '1', '-e', String(flow.clientPort), flow.dstIp],
    { allowFail: true, timeoutMs: 5000 },
  );
  return {
    id: flow.id,
    ok: res.status === 0,
    detail: res.status === 0 ? '2 echo replies' : res.stdout.trim(),
  };
}

/** Runs every flow once, pings first, then request/response flows, the bulk transfer last. */
export async function runFlows(plan: LabPlan, flows: FlowSpec[]): Promise<FlowOutcome[]> {
  const outcomes: FlowOutcome[] = [];
  const nsOf = (f: FlowSpec) => (f.client ? podByName(plan, f.client).ns : EXT_NS);
  for (const f of flows.filter((x) => x.proto === 'icmp')) outcomes.push(runPing(nsOf(f), f));
  const others = flows.filter((x) => x.proto !== 'icmp' && !x.bulk);
  const namespaces = [...new Set(others.map(nsOf))];
  for (const ns of namespaces)
    outcomes.push(
      ...(await runAgentFlows(
        ns,
        others.filter((f) => nsOf(f) === ns),
      )),
    );
  const bulk = flows.filter((x) => x.bulk);
  for (const ns of [...new Set(bulk.map(nsOf))]) {
    outcomes.push(
      ...(await runAgentFlows(
        ns,
        bulk.filter((f) => nsOf(f) === ns),
      )),
    );
  }
  return outcomes;
}
