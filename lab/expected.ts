/**
 * expected.json, from the lab's own knowledge of what it built (never from hoptrace's rules): for every flow
 * its scenario, backend, and per leg the capture points it must cross in order (direction, TTL, addresses as
 * seen there) and the points it must not appear on.
 *
 * Hop model (reference §1.3, §1.5, §2), per leg:
 * - source side: the source cali's tc program handles the packet unless the mode is `kernel`, the source pod
 *   has no programs (no-bpf), or host-dnat sends Service traffic to the stack;
 * - local delivery: bpf_redirect_peer (datapathv2: destination cali not seen), bpf_redirect (legacy: the
 *   destination cali egress is seen) or the stack (cali egress seen, TTL - 1 by forwarding);
 * - remote: out of the ENI owning the source IP (TTL - 1, except legacy BPF: unchanged), the VPC keeps the
 *   TTL, in on the ENI owning the destination IP, then delivery as above by the destination node.
 * - Service addresses: the request shows the VIP up to the client's cali ingress; the reply shows it only
 *   where it is delivered to the client (client eth0 in, and the client's cali egress when that is seen).
 */
import type { FlowSpec } from './flows.ts';
import { hasHostDnat, type LabMode, modeName, noBpfPods } from './modes.ts';
import { type LabPlan, nodeByName, podByName, SERVICE_LOOPBACK4 } from './plan.ts';

export interface ExpectedHop {
  point: string;
  dir: 'in' | 'out';
  ttl: number;
  src: string;
  dst: string;
}

export interface ExpectedLeg {
  path: ExpectedHop[];
  not_seen: { point: string; dir: 'in' | 'out' }[];
  /** how each node handled this leg */
  handled_by: { node: string; by: 'ebpf' | 'ebpf-legacy' | 'kernel' }[];
  /** false when a fault changes this leg's handling but no capture point can show it */
  fault_visible: boolean | null;
}

export interface ExpectedFlow {
  id: string;
  scenario: number;
  rule: string | null;
  proto: string;
  family: number;
  client: { ip: string; port: number; pod: string | null; node: string | null };
  service: { ip: string; port: number; name: string } | null;
  server: { ip: string; port: number; pod: string; node: string };
  backend: string;
  datapath: 'ebpf' | 'kernel' | 'mixed';
  request: ExpectedLeg;
  reply: ExpectedLeg;
  bulk: { super_segments_at: string[]; mtu_segments_at: string[] } | null;
}

export interface ExpectedFile {
  schema_version: 1;
  mode: string;
  datapath: string;
  faults: string[];
  kernels: Record<string, string>;
  backend_selection: string;
  flows: ExpectedFlow[];
}

interface Endpoint {
  pod: string | null;
  ip: string;
  port: number;
}

type Handling = 'ebpf' | 'ebpf-legacy' | 'kernel';

function podPoint(plan: LabPlan, pod: string): string {
  const p = podByName(plan, pod);
  return `pod/${p.namespace}/${p.name}/eth0`;
}

function caliPoint(plan: LabPlan, pod: string): string {
  const p = podByName(plan, pod);
  return `node/${p.node}/${p.cali}`;
}

function addr(ip: string, port: number, proto: string): string {
  if (proto === 'icmp') return ip;
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

class LegBuilder {
  readonly path: ExpectedHop[] = [];
  readonly notSeen: { point: string; dir: 'in' | 'out' }[] = [];
  readonly handled: { node: string; by: Handling }[] = [];
  ttl = 64;
  constructor(
    private readonly proto: string,
    public src: string,
    public dst: string,
  ) {}
  hop(point: string, dir: 'in' | 'out'): void {
    this.path.push({ point, dir, ttl: this.ttl, src: this.src, dst: this.dst });
  }
  not(point: string, dir: 'in' | 'out'): void {
    this.notSeen.push({ point, dir });
  }
  port(ip: string, port: number): string {
    return addr(ip, port, this.proto);
  }
}

/** How a node handles one leg at a given place, given the mode and faults. */
function handling(mode: LabMode, bpfHere: boolean): Handling {
  if (mode.datapath === 'kernel' || !bpfHere) return 'kernel';
  return mode.datapath === 'datapathv2-legacy-kernel' ? 'ebpf-legacy' : 'ebpf';
}

interface LegInput {
  from: Endpoint;
  to: Endpoint;
  /** addresses the packet carries before the Service translation (request) / after it (reply) */
  vipSide: { src: string; dst: string } | null;
  isReply: boolean;
  serviceFlow: boolean;
  /** the client is its own backend: the source is rewritten on the way in (and back on the reply) */
  hairpin: boolean;
}

/**
 * The client address a hairpin connection shows the backend: the eBPF path SNATs to Cilium's service loopback
 * address keeping the port; kube-proxy masquerades to the node address with `--random-fully`, so the port is
 * unknown (`*`).
 */
function hairpinSource(plan: LabPlan, pod: string, how: Handling, port: number): string {
  if (how === 'kernel') return `${nodeByName(plan, podByName(plan, pod).node).ip4}:*`;
  return `${SERVICE_LOOPBACK4}:${port}`;
}

function buildLeg(plan: LabPlan, mode: LabMode, flow: FlowSpec, leg: LegInput): ExpectedLeg {
  const noBpf = noBpfPods(mode);
  const hostDnat = hasHostDnat(mode) && leg.serviceFlow && flow.scenario !== 8;
  const real = {
    src: addr(leg.from.ip, leg.from.port, flow.proto),
    dst: addr(leg.to.ip, leg.to.port, flow.proto),
  };
  const b = new LegBuilder(flow.proto, real.src, real.dst);
  if (!leg.isReply && leg.vipSide) b.dst = leg.vipSide.dst;
  const fromPod = leg.from.pod ? podByName(plan, leg.from.pod) : null;
  const toPod = leg.to.pod ? podByName(plan, leg.to.pod) : null;
  const reverseAtDelivery = leg.isReply && leg.vipSide !== null;

  if (fromPod) {
    const node = nodeByName(plan, fromPod.node);
    const srcHandling = handling(mode, !noBpf.has(fromPod.name) && !hostDnat);
    b.handled.push({ node: node.name, by: srcHandling });
    const hairpinSrc = leg.hairpin ? hairpinSource(plan, fromPod.name, srcHandling, flow.clientPort) : null;
    if (hairpinSrc && leg.isReply) b.dst = hairpinSrc; // the backend answers the address it was shown
    b.hop(podPoint(plan, fromPod.name), 'out');
    b.hop(caliPoint(plan, fromPod.name), 'in');
    // a hairpin is delivered back through this very cali, where the stack path is seen leaving
    if (!leg.hairpin) b.not(caliPoint(plan, fromPod.name), 'out');
    // Service DNAT (BPF at the cali, or iptables PREROUTING) happens after this tap; a hairpin reply keeps
    // its (loopback or masqueraded) destination until the reverse translation at delivery.
    if (!(hairpinSrc && leg.isReply)) b.dst = real.dst;
    if (hairpinSrc && !leg.isReply) b.src = hairpinSrc;
    if (toPod && toPod.node === fromPod.node) {
      for (const eni of node.enis) {
        b.not(`node/${node.name}/${eni.name}`, 'out');
        b.not(`node/${node.name}/${eni.name}`, 'in');
      }
      deliver(
        plan,
        mode,
        b,
        toPod.name,
        srcHandling !== 'kernel' && !noBpf.has(toPod.name),
        reverseAtDelivery,
        leg,
      );
      return finish(b);
    }
    // Off-node: out of the ENI that owns the source pod IP; the others must stay silent.
    b.ttl -= srcHandling === 'ebpf-legacy' ? 0 : 1;
    for (const eni of node.enis) if (eni.name !== fromPod.eni) b.not(`node/${node.name}/${eni.name}`, 'out');
    b.hop(`node/${node.name}/${fromPod.eni}`, 'out');
  }
  if (!toPod) return finish(b); // to the external client: beyond the VPC, nothing captured
  // From the external client: the SLB is a Linux router (TTL - 1); the VPC keeps the TTL.
  if (!fromPod) b.ttl = 63;
  // The VPC forwards without touching the TTL; the frame arrives on the ENI owning the destination IP.
  const node = nodeByName(plan, toPod.node);
  for (const eni of node.enis) if (eni.name !== toPod.eni) b.not(`node/${node.name}/${eni.name}`, 'in');
  b.hop(`node/${node.name}/${toPod.eni}`, 'in');
  // With host-dnat the request reaches the backend's node already translated (plain pod traffic for its
  // programs); only replies, coming from a backend address, are left to conntrack in the stack.
  const dstBpf = !noBpf.has(toPod.name) && !(hostDnat && leg.isReply);
  deliver(plan, mode, b, toPod.name, dstBpf, reverseAtDelivery, leg);
  return finish(b);
}

function deliver(
  plan: LabPlan,
  mode: LabMode,
  b: LegBuilder,
  pod: string,
  bpf: boolean,
  reverseAtDelivery: boolean,
  leg: LegInput,
): void {
  const p = podByName(plan, pod);
  const how = handling(mode, bpf);
  b.handled.push({ node: p.node, by: how });
  // Reverse NAT happens before the packet reaches the client's cali egress (BPF at the backend's cali or the
  // ENI; conntrack in the stack), so from here on the reply carries the Service address.
  if (reverseAtDelivery && leg.vipSide) {
    b.src = leg.vipSide.src;
    if (leg.hairpin) b.dst = leg.vipSide.dst; // hairpin: the loopback/masqueraded client is the client again
  }
  b.ttl -= 1;
  if (how === 'ebpf') b.not(caliPoint(plan, pod), 'out');
  else b.hop(caliPoint(plan, pod), 'out');
  b.hop(podPoint(plan, pod), 'in');
}

function finish(b: LegBuilder): ExpectedLeg {
  const handled = b.handled.filter(
    (h, i, all) => all.findIndex((x) => x.node === h.node && x.by === h.by) === i,
  );
  return { path: b.path, not_seen: b.notSeen, handled_by: handled, fault_visible: null };
}

/**
 * S8b, ECS backend: the SLB sends to nodeIP:NodePort on the node's eth0; the node's programs hand traffic for a
 * node address to the stack in every mode, where kube-proxy DNATs to the backend and masquerades the source
 * (externalTrafficPolicy Cluster, `--random-fully`: port unknown). The reply reaches the node address, is
 * un-masqueraded in PREROUTING (destination back to the client) and routed with the pod's source by rule 2048
 * into the table of the pod's ENI, then un-DNATed in POSTROUTING: it leaves the backend's ENI, not eth0.
 */
function legs8b(plan: LabPlan, flow: FlowSpec): { request: ExpectedLeg; reply: ExpectedLeg } {
  const pod = podByName(plan, flow.server);
  const node = nodeByName(plan, pod.node);
  const np = plan.nodePortLb;
  const nodePort = np.nodePorts[flow.proto === 'udp' ? 'udp' : 'tcp'];
  const client = addr(flow.clientIp, flow.clientPort, flow.proto);
  const nodeAddr = addr(node.ip4, nodePort, flow.proto);
  const masq = `${node.ip4}:*`;
  const backend = addr(pod.ip4, flow.serverPort, flow.proto);
  const handled = [{ node: node.name, by: 'kernel' as const }];
  const req = new LegBuilder(flow.proto, client, nodeAddr);
  req.ttl = 63; // the SLB is a Linux router; the VPC keeps the TTL
  for (const eni of node.enis) if (eni.name !== 'eth0') req.not(`node/${node.name}/${eni.name}`, 'in');
  req.hop(`node/${node.name}/eth0`, 'in');
  req.src = masq;
  req.dst = backend;
  req.ttl -= 1;
  req.hop(caliPoint(plan, pod.name), 'out');
  req.hop(podPoint(plan, pod.name), 'in');
  const rep = new LegBuilder(flow.proto, backend, masq);
  rep.hop(podPoint(plan, pod.name), 'out');
  rep.hop(caliPoint(plan, pod.name), 'in');
  rep.not(caliPoint(plan, pod.name), 'out');
  rep.src = nodeAddr;
  rep.dst = client;
  rep.ttl -= 1;
  for (const eni of node.enis) if (eni.name !== pod.eni) rep.not(`node/${node.name}/${eni.name}`, 'out');
  rep.hop(`node/${node.name}/${pod.eni}`, 'out');
  req.handled.push(...handled);
  rep.handled.push(...handled);
  return { request: finish(req), reply: finish(rep) };
}

function legsFor(plan: LabPlan, mode: LabMode, flow: FlowSpec): { request: ExpectedLeg; reply: ExpectedLeg } {
  if (flow.rule === '8b') return legs8b(plan, flow);
  const client: Endpoint = { pod: flow.client, ip: flow.clientIp, port: flow.clientPort };
  const server: Endpoint = { pod: flow.server, ip: flow.serverIp, port: flow.serverPort };
  // ICMP echo replies keep the identifier in the same field: both legs show it as the "port".
  const serviceFlow = flow.service !== null;
  const vip =
    flow.service && flow.scenario !== 8 ? addr(flow.service.ip, flow.service.port, flow.proto) : null;
  const request = buildLeg(plan, mode, flow, {
    from: client,
    to: server,
    vipSide: vip ? { src: addr(client.ip, client.port, flow.proto), dst: vip } : null,
    isReply: false,
    serviceFlow,
    hairpin: flow.rule === 'hairpin',
  });
  const reply = buildLeg(plan, mode, flow, {
    from: server,
    to: client,
    vipSide: vip ? { src: vip, dst: addr(client.ip, client.port, flow.proto) } : null,
    isReply: true,
    serviceFlow,
    hairpin: flow.rule === 'hairpin',
  });
  return { request, reply };
}

function samePath(a: ExpectedLeg, b: ExpectedLeg): boolean {
  return JSON.stringify(a.path) === JSON.stringify(b.path);
}

export function expectedFlows(plan: LabPlan, mode: LabMode, flows: FlowSpec[]): ExpectedFlow[] {
  return flows.map((flow) => {
    const legs = legsFor(plan, mode, flow);
    if (mode.faults.length > 0) {
      // A fault is visible on a leg only if it changes what some capture point shows.
      const healthy = legsFor(plan, { datapath: mode.datapath, faults: [] }, flow);
      const changed = (leg: ExpectedLeg, ok: ExpectedLeg) =>
        JSON.stringify(leg.handled_by) !== JSON.stringify(ok.handled_by);
      for (const [leg, ok] of [
        [legs.request, healthy.request],
        [legs.reply, healthy.reply],
      ] as const) {
        if (changed(leg, ok)) leg.fault_visible = !samePath(leg, ok);
      }
    }
    const kinds = new Set(
      [...legs.request.handled_by, ...legs.reply.handled_by].map((h) => h.by === 'kernel'),
    );
    const server = podByName(plan, flow.server);
    return {
      id: flow.id,
      scenario: flow.scenario,
      rule: flow.rule,
      proto: flow.proto,
      family: flow.family,
      client: {
        ip: flow.clientIp,
        port: flow.clientPort,
        pod: flow.client ? `default/${flow.client}` : null,
        node: flow.client ? podByName(plan, flow.client).node : null,
      },
      service: flow.service,
      server: { ip: flow.serverIp, port: flow.serverPort, pod: `default/${flow.server}`, node: server.node },
      backend: `default/${flow.server}`,
      datapath: kinds.size > 1 ? 'mixed' : kinds.has(true) ? 'kernel' : 'ebpf',
      request: legs.request,
      reply: legs.reply,
      bulk: flow.bulk
        ? {
            // the client's eth0 and cali see the sender's super-segments; the ENI with TSO/GSO off (and every
            // hop after it: veth and the VPC never merge) sees MTU-sized segments
            super_segments_at: legs.request.path.slice(0, 2).map((h) => h.point),
            mtu_segments_at: legs.request.path.slice(2).map((h) => h.point),
          }
        : null,
    };
  });
}

export function expectedFile(
  plan: LabPlan,
  mode: LabMode,
  flows: FlowSpec[],
  kernels: Record<string, string>,
): ExpectedFile {
  return {
    schema_version: 1,
    mode: modeName(mode),
    datapath: mode.datapath,
    faults: mode.faults.map((f) => (f.kind === 'host-dnat' ? 'host-dnat' : `no-bpf:${f.pod}`)),
    kernels,
    backend_selection:
      'ClusterIP backend by client port: 40000-40999 -> slot 0, 41000-41999 -> slot 1, 42000-42999 -> slot 2 (slots in service.backends order); other ports: port % count in BPF, random in iptables',
    flows: expectedFlows(plan, mode, flows),
  };
}
