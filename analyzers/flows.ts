/**
 * Flows: one per connection, NAT-aware (issue 5, DESIGN §4): their shapes and the pieces the flow
 * builder (flow-builder.ts) is made of.
 *
 * Every packet links the tuples it carried along its path (a DNAT shows two: client->VIP before the
 * rewrite, client->backend after), and replies link theirs (backend->client, VIP->client): tuples that
 * share a packet are one connection (union-find), so the Service leg and the backend leg are one flow.
 * Tuples are direction-free (the lower endpoint first) and an ICMP echo's "port" is its identifier.
 * Within a connection, packets in time order start a new flow when a TCP SYN follows a packet that was
 * not a SYN (port reuse), or after a silence (`idleNs`; `closedIdleNs` for a closed TCP connection,
 * `datagramIdleNs` for UDP and ICMP).
 * The client is the sender of the flow's first packet (a SYN after other packets starts a new flow);
 * requests are the packets it sent.
 * Per flow: the most common request and reply paths (capture point + direction, in path order), the
 * latency of each hop of those paths, the Community ID of each leg, counts and times.
 * Coverage (DESIGN §3): per flow, every capture point that could not prove an absence during the flow's
 * time: outside its capture windows (`not_captured`) or dropping packets then (`capture_loss`). A missing
 * sighting there is no evidence of a bypass; the verdict stage reports it inconclusive.
 */
import type { ClockOffset } from './clock-offsets.ts';
import type { Coverage } from './correlate/frames-from-bundle.ts';
import type { Sightings } from './correlate/sightings.ts';
import type { Topology } from './topology/model.ts';

export interface Endpoint {
  ip: string;
  /** TCP/UDP port; ICMP echo identifier for an ICMP client; 0 for an ICMP server */
  port: number;
  pod: string | null;
  node: string | null;
}

export interface PathHop {
  point: string;
  dir: 'in' | 'out' | 'unknown';
}

export interface HopLatency {
  leg: 'request' | 'reply';
  /** 0-based index of the hop's first point on the leg's path */
  hop: number;
  from: string;
  to: string;
  samples: number;
  minNs: number;
  medianNs: number;
  maxNs: number;
}

/**
 * Why a capture point cannot vouch for a flow: `not_captured`, part of the flow's time (corrected clocks)
 * lies outside every capture window of the point; `capture_loss`, the point was capturing but a file
 * covering that time reported drops (bundle.json and pcapng count drops per file, not per moment).
 */
export type CoverageGap = 'not_captured' | 'capture_loss';

export interface FlowPointCoverage {
  point: string;
  status: CoverageGap;
  /** whether the flow was seen there all the same (seeing proves presence whatever the coverage) */
  seen: boolean;
  /** drops reported by the files overlapping the flow's time (capture_loss), else null */
  drops: number | null;
}

export interface Flow {
  id: number;
  proto: number;
  family: 4 | 6;
  client: Endpoint;
  /**
   * `seen`: the VIP was on the wire (a sighting before the rewrite); false when the rewrite happened
   * outside every capture point (an SLB in front of an external client) and the Service comes from the
   * topology: the server is its backend and the client is outside the cluster.
   */
  service: { ip: string; port: number; name: string | null; seen: boolean } | null;
  server: Endpoint;
  packets: number;
  requestPackets: number;
  replyPackets: number;
  /** wire bytes at each packet's first sighting */
  bytes: number;
  firstNs: bigint;
  lastNs: bigint;
  /** Community ID of client -> service (null without a Service) and of the leg that reaches the server */
  communityIdService: string | null;
  communityIdServer: string | null;
  requestPath: PathHop[];
  replyPath: PathHop[];
  /** packets that followed the reported path, per leg */
  requestPathPackets: number;
  replyPathPackets: number;
  hops: HopLatency[];
  /** points that could not prove an absence during this flow; points absent here covered it without loss */
  coverage: FlowPointCoverage[];
}

export interface FlowsResult {
  flows: Flow[];
  /** flow id per packet (-1: no IP tuple) */
  flowOfPacket: Int32Array;
}

export interface FlowOptions {
  /** silence after which a tuple starts a new flow (TCP, and any protocol but UDP and ICMP); default 120 s */
  idleNs?: number;
  /**
   * silence after which a closed TCP connection (an RST, or a FIN from each end) starts a new flow, and
   * its flow ends; default 5 s (Zeek's tcp_close_delay): a capture's flows are then held while their
   * connections are open, not for `idleNs` after
   */
  closedIdleNs?: number;
  /**
   * silence after which a UDP or ICMP flow ends (and its tuple starts a new one); default 60 s (Zeek's
   * udp_inactivity_timeout and icmp_inactivity_timeout), at most `idleNs`: datagram flows have no close
   * to wait for, and a capture's flows are held while they may go on
   */
  datagramIdleNs?: number;
  /** each point's capture windows and drops (framesFromBundle); without it, `Flow.coverage` is empty */
  coverage?: ReadonlyMap<string, Coverage>;
  /** to put the windows (node clocks) on the flows' corrected clocks */
  clockOffsets?: readonly ClockOffset[];
}

/** A point's windows on corrected clocks, ns relative to the FrameTable's base, sorted by start. */
export interface PointWindows {
  point: string;
  index: number;
  start: Float64Array;
  end: Float64Array;
  drops: (number | null)[];
}

export function pointWindows(s: Sightings, opts: FlowOptions): PointWindows[] {
  const base = s.frames.baseNs ?? 0n;
  const offset = new Map((opts.clockOffsets ?? []).map((o) => [o.node, o.offsetNs]));
  const out: PointWindows[] = [];
  for (const [point, c] of opts.coverage ?? []) {
    const off = c.node === null ? 0 : (offset.get(c.node) ?? 0);
    // a file without a known start or end proves nothing: it contributes no coverage
    const ws = c.windows
      .filter((w) => w.startNs !== null && w.endNs !== null)
      .map((w) => ({
        start: Number((w.startNs ?? 0n) - base) + off,
        end: Number((w.endNs ?? 0n) - base) + off,
        drops: w.drops,
      }))
      .sort((a, b) => a.start - b.start);
    out.push({
      point,
      index: s.points.indexOf(point),
      start: Float64Array.from(ws, (w) => w.start),
      end: Float64Array.from(ws, (w) => w.end),
      drops: ws.map((w) => w.drops),
    });
  }
  return out;
}

/** The points that cannot vouch for [from, to] (corrected, relative ns); `seen(point index)`: sighted. */
export function coverageGaps(
  windows: PointWindows[],
  from: number,
  to: number,
  seen: (point: number) => boolean,
): FlowPointCoverage[] {
  const gaps: FlowPointCoverage[] = [];
  for (const w of windows) {
    // sweep the sorted windows: [from, reached) is covered so far
    let reached = from;
    let drops: number | null = null;
    // `from` itself must lie in a window: a one-packet flow (from = to) outside every window is not covered
    let startCovered = false;
    for (let k = 0; k < w.start.length; k++) {
      if (w.end[k]! < from || w.start[k]! > to) continue;
      const d = w.drops[k];
      if (d !== null && d !== undefined && d > 0) drops = (drops ?? 0) + d;
      if (w.start[k]! <= from) startCovered = true;
      if (w.start[k]! <= reached && w.end[k]! > reached) reached = w.end[k]!;
    }
    const status: CoverageGap | null =
      reached < to || !startCovered ? 'not_captured' : drops !== null ? 'capture_loss' : null;
    if (status)
      gaps.push({
        point: w.point,
        status,
        seen: w.index >= 0 && seen(w.index),
        drops: status === 'capture_loss' ? drops : null,
      });
  }
  return gaps;
}

export class UnionFind {
  readonly parent: number[] = [];
  add(): number {
    this.parent.push(this.parent.length);
    return this.parent.length - 1;
  }
  find(x: number): number {
    let r = x;
    while (this.parent[r] !== r) r = this.parent[r]!;
    while (this.parent[x] !== r) {
      const next = this.parent[x]!;
      this.parent[x] = r;
      x = next;
    }
    return r;
  }
  union(a: number, b: number): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra !== rb) this.parent[Math.max(ra, rb)] = Math.min(ra, rb);
  }
}

/**
 * Indexes [0, n) grouped by `groupOf` (a group in [0, groups); -1: in none), each group's in index order,
 * by a counting sort into typed arrays: group g's indexes are members[start[g], start[g + 1]).
 */
export function groupIndexes(
  groupOf: Int32Array,
  n: number,
  groups: number,
): { start: Int32Array; members: Int32Array } {
  const start = new Int32Array(groups + 1);
  for (let i = 0; i < n; i++) {
    const g = groupOf[i] ?? -1;
    if (g >= 0) start[g + 1]!++;
  }
  for (let g = 0; g < groups; g++) start[g + 1]! += start[g]!;
  const fill = start.slice(0, groups);
  const members = new Int32Array(start[groups]!);
  for (let i = 0; i < n; i++) {
    const g = groupOf[i] ?? -1;
    if (g >= 0) members[fill[g]!++] = i;
  }
  return { start, members };
}

/**
 * Tuple -> union-find id without strings (a text key per packet cost more than correlating it). A tuple
 * is numbers only: IPv4 addresses as themselves, IPv6 ones as their FrameTable intern ids (the version
 * keeps the two apart), ports, protocol; direction-free (the lower endpoint first). Open addressing over
 * four uint32 lanes.
 */
export class TupleIds {
  private keys = new Uint32Array(4 * 1024);
  private ids = new Int32Array(1024).fill(-1);
  private count = 0;

  constructor(private readonly add: () => number) {}

  id(addrA: number, portA: number, addrB: number, portB: number, protoVersion: number): number {
    if (addrA > addrB || (addrA === addrB && portA > portB)) {
      const a = addrA;
      addrA = addrB;
      addrB = a;
      const p = portA;
      portA = portB;
      portB = p;
    }
    const ports = ((portA << 16) | portB) >>> 0;
    if (2 * (this.count + 1) > this.ids.length) this.grow();
    const mask = this.ids.length - 1;
    let slot = this.hash(addrA, addrB, ports, protoVersion) & mask;
    for (;;) {
      const id = this.ids[slot]!;
      if (id < 0) {
        const k = 4 * slot;
        this.keys[k] = addrA;
        this.keys[k + 1] = addrB;
        this.keys[k + 2] = ports;
        this.keys[k + 3] = protoVersion;
        const fresh = this.add();
        this.ids[slot] = fresh;
        this.count++;
        return fresh;
      }
      const k = 4 * slot;
      if (
        this.keys[k] === addrA &&
        this.keys[k + 1] === addrB &&
        this.keys[k + 2] === ports &&
        this.keys[k + 3] === protoVersion
      )
        return id;
      slot = (slot + 1) & mask;
    }
  }

  private hash(a: number, b: number, c: number, d: number): number {
    let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b);
    h = Math.imul(h ^ b ^ (h >>> 13), 0xc2b2ae35);
    h = Math.imul(h ^ c ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ d ^ (h >>> 13), 0xc2b2ae35);
    return (h ^ (h >>> 16)) >>> 0;
  }

  private grow(): void {
    const keys = this.keys;
    const ids = this.ids;
    this.keys = new Uint32Array(2 * keys.length);
    this.ids = new Int32Array(2 * ids.length).fill(-1);
    const mask = this.ids.length - 1;
    for (let old = 0; old < ids.length; old++) {
      if (ids[old]! < 0) continue;
      const k = 4 * old;
      let slot = this.hash(keys[k]!, keys[k + 1]!, keys[k + 2]!, keys[k + 3]!) & mask;
      while (this.ids[slot]! >= 0) slot = (slot + 1) & mask;
      this.keys.set(keys.subarray(k, k + 4), 4 * slot);
      this.ids[slot] = ids[old]!;
    }
  }
}

export function endpointOf(topology: Topology, ip: string, port: number): Endpoint {
  const pod = topology.podByIp.get(ip) ?? null;
  const node = pod ? (topology.pods.get(pod)?.node ?? null) : (topology.nodeByIp.get(ip) ?? null);
  return { ip, port, pod, node };
}

/** Where a flow's opener went: its source, and its destination first and last along its path (ICMP: port 0). */
export interface OpenerEnds {
  proto: number;
  clientIp: string;
  clientPort: number;
  originDst: string;
  originPort: number;
  finalDst: string;
  finalPort: number;
}

/**
 * A flow's client, Service and server from its opener: a destination rewritten along the path, or a
 * Service VIP, is the Service and its last destination the server; a NodePort belongs to its Service;
 * an outside client reaching a backend of a LoadBalancer/ExternalIP Service names that Service.
 */
export function flowEnds(topology: Topology, o: OpenerEnds): Pick<Flow, 'client' | 'service' | 'server'> {
  const { proto, originDst, originPort, finalDst, finalPort } = o;
  const serviceKey = topology.serviceByIp.get(originDst) ?? null;
  const rewritten = originDst !== finalDst || originPort !== finalPort;
  const onWire = serviceKey !== null || rewritten;
  const server = endpointOf(topology, onWire ? finalDst : originDst, onWire ? finalPort : originPort);
  const client = endpointOf(topology, o.clientIp, o.clientPort);
  const nodePort = topology.nodeByIp.has(originDst) ? nodePortService(topology, originPort, proto) : null;
  const service = nodePort
    ? nodePort
    : onWire
      ? { ip: originDst, port: originPort, name: serviceKey, seen: true }
      : client.pod === null && client.node === null
        ? externalService(topology, server, proto)
        : null;
  return { client, service, server };
}

/**
 * A request to nodeIP:NodePort (an SLB with ECS backends, scenario 8b) belongs to the Service owning
 * that NodePort; its outside address (LoadBalancer, else ExternalIP, else ClusterIP) names the flow's
 * service, `seen: false`: that address itself was rewritten before any capture point.
 */
export function nodePortService(topology: Topology, port: number, proto: number): Flow['service'] {
  const protocol = proto === 6 ? 'TCP' : proto === 17 ? 'UDP' : proto === 132 ? 'SCTP' : null;
  for (const svc of topology.services) {
    const p = svc.ports.find((x) => x.nodePort === port && x.protocol === protocol);
    const ip = svc.loadBalancerIps[0] ?? svc.externalIps[0] ?? svc.clusterIps[0];
    if (p && ip) return { ip, port: p.port, name: svc.key, seen: false };
  }
  return null;
}

/** The LoadBalancer/ExternalIP Service whose backend the server is, for a client outside the cluster. */
export function externalService(topology: Topology, server: Endpoint, proto: number): Flow['service'] {
  const protocol = proto === 6 ? 'TCP' : proto === 17 ? 'UDP' : proto === 132 ? 'SCTP' : null;
  for (const svc of topology.services) {
    const outside = [...svc.loadBalancerIps, ...svc.externalIps];
    if (outside.length === 0) continue;
    if (!svc.backends.some((b) => b.ip === server.ip && b.port === server.port && b.protocol === protocol))
      continue;
    const port = svc.ports.find((p) => p.protocol === protocol && p.targetPort === server.port);
    if (port) return { ip: outside[0]!, port: port.port, name: svc.key, seen: false };
  }
  return null;
}

/**
 * Sorts latency samples ascending: most legs have a handful of packets, where an insertion sort in
 * place beats the call into TypedArray.prototype.sort; a typed array sorts numerically without a
 * comparator call per pair for the rest.
 */
export function sortSamples(d: Float64Array): void {
  if (d.length > 16) {
    d.sort();
    return;
  }
  for (let i = 1; i < d.length; i++) {
    const v = d[i]!;
    let j = i - 1;
    while (j >= 0 && d[j]! > v) d[j + 1] = d[j--]!;
    d[j + 1] = v;
  }
}
