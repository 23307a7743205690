/**
 * `flowsFromSightings`: one flow per connection, NAT-aware (issue 5, DESIGN §4).
 *
 * Every packet links the tuples it carried along its path (a DNAT shows two: client->VIP before the
 * rewrite, client->backend after), and replies link theirs (backend->client, VIP->client): tuples that
 * share a packet are one connection (union-find), so the Service leg and the backend leg are one flow.
 * Tuples are direction-free (the lower endpoint first) and an ICMP echo's "port" is its identifier.
 * Within a connection, packets in time order start a new flow when a TCP SYN follows a packet that was
 * not a SYN (port reuse), or after `idleNs` of silence.
 * The client is the sender of the SYN (else of the first packet); requests are the packets it sent.
 * Per flow: the most common request and reply paths (capture point + direction, in path order), the
 * latency of each hop of those paths, the Community ID of each leg, counts and times.
 * Coverage (DESIGN §3): per flow, every capture point that could not prove an absence during the flow's
 * time: outside its capture windows (`not_captured`) or dropping packets then (`capture_loss`). A missing
 * sighting there is no evidence of a bypass; the verdict stage reports it inconclusive.
 */
import type { ClockOffset } from './clock-offsets.ts';
import { communityIdV1 } from './community-id.ts';
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
  /** silence after which a tuple starts a new flow; default 120 s */
  idleNs?: number;
  /** each point's capture windows and drops (framesFromBundle); without it, `Flow.coverage` is empty */
  coverage?: ReadonlyMap<string, Coverage>;
  /** to put the windows (node clocks) on the flows' corrected clocks */
  clockOffsets?: readonly ClockOffset[];
}

/** A point's windows on corrected clocks, ns relative to the FrameTable's base, sorted by start. */
interface PointWindows {
  point: string;
  index: number;
  start: Float64Array;
  end: Float64Array;
  drops: (number | null)[];
}

function pointWindows(s: Sightings, opts: FlowOptions): PointWindows[] {
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
function coverageGaps(
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

const DIR = ['unknown', 'in', 'out'] as const;
const SYN = 0x002;
const ACK = 0x010;

class UnionFind {
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
class TupleIds {
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

export function flowsFromSightings(s: Sightings, topology: Topology, opts: FlowOptions = {}): FlowsResult {
  const f = s.frames;
  const idle = opts.idleNs ?? 120e9;
  const portOf = (fr: number, which: 'src' | 'dst'): number => {
    const proto = f.proto[fr]!;
    if (proto === 1 || proto === 58) return f.icmpEcho[fr] === 1 ? f.icmpId[fr]! : 0;
    return (which === 'src' ? f.srcPort : f.dstPort)[fr]!;
  };
  const uf = new UnionFind();
  const tuples = new TupleIds(() => uf.add());
  const tupleOf = (fr: number): number =>
    tuples.id(
      f.src[fr]!,
      portOf(fr, 'src'),
      f.dst[fr]!,
      portOf(fr, 'dst'),
      f.proto[fr]! | (f.ipVersion[fr]! << 8),
    );
  const packetTuple = new Int32Array(s.packets).fill(-1);
  for (let p = 0; p < s.packets; p++) {
    const a = s.packetStart[p]!;
    const b = s.packetStart[p + 1]!;
    const first = s.frame[a]!;
    if (f.ipVersion[first] === 0) continue;
    const id = tupleOf(first);
    packetTuple[p] = id;
    // only hops where an address or port changed carry another tuple
    for (let r = a + 1; r < b; r++) if (s.rewrite[r] !== 0) uf.union(id, tupleOf(s.frame[r]!));
  }

  // connections numbered in the order of their lowest-numbered packet, packets grouped by connection
  // (a counting sort into typed arrays: no array, closure or key string per packet or flow)
  const connOfRoot = new Int32Array(uf.parent.length).fill(-1);
  const connOf = new Int32Array(s.packets).fill(-1);
  let conns = 0;
  for (let p = 0; p < s.packets; p++) {
    if (packetTuple[p]! < 0) continue;
    const root = uf.find(packetTuple[p]!);
    if (connOfRoot[root]! < 0) connOfRoot[root] = conns++;
    connOf[p] = connOfRoot[root]!;
  }
  const { start: connStart, members: connPackets } = groupIndexes(connOf, s.packets, conns);
  const firstT = new Float64Array(s.packets);
  for (let p = 0; p < s.packets; p++) firstT[p] = s.t[s.packetStart[p]!]!;
  const byTime = (x: number, y: number) => firstT[x]! - firstT[y]! || x - y;
  // connections by the time of their lowest-numbered packet, ties by its number
  const connOrder = new Int32Array(conns);
  for (let c = 0; c < conns; c++) connOrder[c] = c;
  connOrder.sort((x, y) => byTime(connPackets[connStart[x]!]!, connPackets[connStart[y]!]!));

  const ctx: FlowContext = {
    s,
    topology,
    portOf,
    flowOfPacket: new Int32Array(s.packets).fill(-1),
    windows: pointWindows(s, opts),
    paths: new PathIndex(s),
    split: new Int32Array(0),
    deltas: new Float64Array(0),
    seenStamp: new Int32Array(s.points.length).fill(-1),
  };
  const flows: Flow[] = [];
  for (let k = 0; k < conns; k++) {
    const c = connOrder[k]!;
    const packets = connPackets.subarray(connStart[c]!, connStart[c + 1]!);
    sortPackets(packets, firstT, byTime);
    let from = 0;
    let sawNonSyn = false;
    for (let i = 0; i < packets.length; i++) {
      const p = packets[i]!;
      const fr = s.frame[s.packetStart[p]!]!;
      const flags = f.tcpFlags[fr]!;
      const isSyn = f.proto[fr] === 6 && (flags & SYN) !== 0 && (flags & ACK) === 0;
      if (i > from && ((isSyn && sawNonSyn) || firstT[p]! - firstT[packets[i - 1]!]! > idle)) {
        flows.push(buildFlow(flows.length, packets.subarray(from, i), ctx));
        from = i;
        sawNonSyn = false;
      }
      if (!isSyn) sawNonSyn = true;
    }
    if (packets.length > from) flows.push(buildFlow(flows.length, packets.subarray(from), ctx));
  }
  return { flows, flowOfPacket: ctx.flowOfPacket };
}

/** Packets of one connection in time order (then number): nearly sorted already, in slab order. */
function sortPackets(
  packets: Int32Array,
  firstT: Float64Array,
  byTime: (x: number, y: number) => number,
): void {
  if (packets.length > 32) {
    packets.sort(byTime);
    return;
  }
  for (let i = 1; i < packets.length; i++) {
    const v = packets[i]!;
    let j = i - 1;
    while (
      j >= 0 &&
      (firstT[packets[j]!]! > firstT[v]! || (firstT[packets[j]!]! === firstT[v]! && packets[j]! > v))
    )
      packets[j + 1] = packets[j--]!;
    packets[j + 1] = v;
  }
}

/**
 * Each packet's path (capture point and direction per hop) as a number: paths interned hop by hop
 * (a path is its prefix's id plus one hop), so flows compare and count paths without building a key
 * string per packet, and a path's hops are built once however many flows take it.
 */
class PathIndex {
  /** path id per packet */
  readonly of: Int32Array;
  private readonly parent: number[] = [-1];
  private readonly code: number[] = [0];
  private readonly hops = new Map<number, PathHop[]>();

  constructor(private readonly s: Sightings) {
    const ids = new Map<number, number>();
    this.of = new Int32Array(s.packets);
    const dir = s.frames.dir;
    for (let p = 0; p < s.packets; p++) {
      let id = 0;
      for (let r = s.packetStart[p]!; r < s.packetStart[p + 1]!; r++) {
        // point x 4 + direction, below 2^18; ids stay far below 2^35, so the key is exact
        const code = 4 * s.point[r]! + dir[s.frame[r]!]!;
        const key = id * 262144 + code;
        let next = ids.get(key);
        if (next === undefined) {
          next = this.parent.length;
          this.parent.push(id);
          this.code.push(code);
          ids.set(key, next);
        }
        id = next;
      }
      this.of[p] = id;
    }
  }

  /** The hops of path `id` (shared by every flow that reports it: read only). */
  path(id: number): PathHop[] {
    let hops = this.hops.get(id);
    if (!hops) {
      hops = [];
      for (let at = id; at > 0; at = this.parent[at]!) {
        const code = this.code[at]!;
        hops.push({ point: this.s.points[code >> 2]!, dir: DIR[code & 3] ?? 'unknown' });
      }
      hops.reverse();
      this.hops.set(id, hops);
    }
    return hops;
  }
}

interface FlowContext {
  s: Sightings;
  topology: Topology;
  portOf: (fr: number, which: 'src' | 'dst') => number;
  flowOfPacket: Int32Array;
  windows: PointWindows[];
  paths: PathIndex;
  /** reused buffers: a flow's packets split by leg, and one hop's latency samples */
  split: Int32Array;
  deltas: Float64Array;
  /** flow id that last saw each point */
  seenStamp: Int32Array;
}

function buildFlow(id: number, packets: Int32Array, ctx: FlowContext): Flow {
  const { s, topology, portOf } = ctx;
  const f = s.frames;
  const { frame, packetStart } = s;
  // the client sent the SYN, else the first packet
  let opener = packets[0]!;
  for (const p of packets) {
    const fr = frame[packetStart[p]!]!;
    if (f.proto[fr] === 6 && (f.tcpFlags[fr]! & SYN) !== 0 && (f.tcpFlags[fr]! & ACK) === 0) {
      opener = p;
      break;
    }
  }
  const o = frame[packetStart[opener]!]!;
  const proto = f.proto[o]!;
  const icmp = proto === 1 || proto === 58;
  const clientIp = f.addrText(o, 'src') ?? '';
  const clientPort = portOf(o, 'src');
  // requests (the same address as the opener's sender: same version and number, IPv6 intern id, and
  // port) to the front of the split buffer, replies to its back, each in time order
  if (ctx.split.length < packets.length) ctx.split = new Int32Array(Math.ceil(1.5 * packets.length));
  const split = ctx.split;
  let nReq = 0;
  let nRep = 0;
  for (const p of packets) {
    const fr = frame[packetStart[p]!]!;
    const req =
      f.ipVersion[fr] === f.ipVersion[o] && f.src[fr] === f.src[o] && portOf(fr, 'src') === clientPort;
    if (req) split[nReq++] = p;
    else split[packets.length - ++nRep] = p;
  }
  split.subarray(packets.length - nRep, packets.length).reverse();
  const requests = split.subarray(0, nReq);
  const replies = split.subarray(packets.length - nRep, packets.length);

  const last = frame[packetStart[opener + 1]! - 1]!;
  const originDst = f.addrText(o, 'dst') ?? '';
  const finalDst = f.addrText(last, 'dst') ?? '';
  const originPort = icmp ? 0 : portOf(o, 'dst');
  const finalPort = icmp ? 0 : portOf(last, 'dst');
  const serviceKey = topology.serviceByIp.get(originDst) ?? null;
  const rewritten = originDst !== finalDst || originPort !== finalPort;
  const onWire = serviceKey !== null || rewritten;
  const server = endpointOf(topology, onWire ? finalDst : originDst, onWire ? finalPort : originPort);
  const client = endpointOf(topology, clientIp, clientPort);
  const nodePort = topology.nodeByIp.has(originDst) ? nodePortService(topology, originPort, proto) : null;
  const service = nodePort
    ? nodePort
    : onWire
      ? { ip: originDst, port: originPort, name: serviceKey, seen: true }
      : client.pod === null && client.node === null
        ? externalService(topology, server, proto)
        : null;

  const [requestPath, requestPathPackets] = modalPath(requests, ctx);
  const requestHops = hopLatencies('request', requests, requestPath, ctx);
  const [replyPath, replyPathPackets] = modalPath(replies, ctx);
  const hops = [...requestHops, ...hopLatencies('reply', replies, replyPath, ctx)];

  let bytes = 0;
  let minT = Number.POSITIVE_INFINITY;
  let maxT = Number.NEGATIVE_INFINITY;
  const stamp = ctx.seenStamp;
  for (const p of packets) {
    ctx.flowOfPacket[p] = id;
    bytes += s.bytes[s.packetStart[p]!]!;
    for (let r = s.packetStart[p]!; r < s.packetStart[p + 1]!; r++) {
      if (s.t[r]! < minT) minT = s.t[r]!;
      if (s.t[r]! > maxT) maxT = s.t[r]!;
      stamp[s.point[r]!] = id;
    }
  }
  // ICMP legs are identified by type/code, as the spec wants; the request's type names the exchange
  const sp = icmp ? f.icmpTypeCode[o]! >> 8 : clientPort;
  const icmpCode = f.icmpTypeCode[o]! & 255;
  const lastSrc = f.addrText(last, 'src') ?? clientIp;
  return {
    id,
    proto,
    family: f.ipVersion[o] === 6 ? 6 : 4,
    client,
    service,
    server,
    packets: packets.length,
    requestPackets: requests.length,
    replyPackets: replies.length,
    bytes,
    firstNs: f.absNs(minT),
    lastNs: f.absNs(maxT),
    communityIdService: service
      ? communityIdV1(clientIp, service.ip, proto, sp, icmp ? icmpCode : service.port)
      : null,
    communityIdServer: communityIdV1(
      lastSrc,
      server.ip,
      proto,
      icmp ? sp : portOf(last, 'src'),
      icmp ? icmpCode : server.port,
    ),
    requestPath: ctx.paths.path(requestPath).slice(),
    replyPath: ctx.paths.path(replyPath).slice(),
    requestPathPackets,
    replyPathPackets,
    hops,
    coverage: coverageGaps(ctx.windows, minT, maxT, (point) => stamp[point] === id),
  };
}

function endpointOf(topology: Topology, ip: string, port: number): Endpoint {
  const pod = topology.podByIp.get(ip) ?? null;
  const node = pod ? (topology.pods.get(pod)?.node ?? null) : (topology.nodeByIp.get(ip) ?? null);
  return { ip, port, pod, node };
}

/**
 * A request to nodeIP:NodePort (an SLB with ECS backends, scenario 8b) belongs to the Service owning
 * that NodePort; its outside address (LoadBalancer, else ExternalIP, else ClusterIP) names the flow's
 * service, `seen: false`: that address itself was rewritten before any capture point.
 */
function nodePortService(topology: Topology, port: number, proto: number): Flow['service'] {
  const protocol = proto === 6 ? 'TCP' : proto === 17 ? 'UDP' : proto === 132 ? 'SCTP' : null;
  for (const svc of topology.services) {
    const p = svc.ports.find((x) => x.nodePort === port && x.protocol === protocol);
    const ip = svc.loadBalancerIps[0] ?? svc.externalIps[0] ?? svc.clusterIps[0];
    if (p && ip) return { ip, port: p.port, name: svc.key, seen: false };
  }
  return null;
}

/** The LoadBalancer/ExternalIP Service whose backend the server is, for a client outside the cluster. */
function externalService(topology: Topology, server: Endpoint, proto: number): Flow['service'] {
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
 * The path id most packets of a leg followed (the earliest seen on a tie; 0, the empty path, for no
 * packets) and how many did.
 */
function modalPath(packets: Int32Array, ctx: FlowContext): [number, number] {
  const of = ctx.paths.of;
  let best = 0;
  let bestCount = 0;
  if (packets.length > 64) {
    // a Map iterates in first-seen order, which breaks ties as the scan below does
    const counts = new Map<number, number>();
    for (const p of packets) counts.set(of[p]!, (counts.get(of[p]!) ?? 0) + 1);
    for (const [id, n] of counts)
      if (n > bestCount) {
        best = id;
        bestCount = n;
      }
    return [best, bestCount];
  }
  // a short leg: count each path at its first packet, in packet order, without a Map
  for (let i = 0; i < packets.length; i++) {
    const id = of[packets[i]!]!;
    let first = true;
    for (let j = 0; j < i && first; j++) if (of[packets[j]!] === id) first = false;
    if (!first) continue;
    let n = 0;
    for (let j = i; j < packets.length; j++) if (of[packets[j]!] === id) n++;
    if (n > bestCount) {
      best = id;
      bestCount = n;
    }
    if (bestCount > packets.length - i) break;
  }
  return [best, bestCount];
}

/** Per hop of the leg's reported path: min, median and max latency over the packets that took it. */
function hopLatencies(
  leg: 'request' | 'reply',
  packets: Int32Array,
  path: number,
  ctx: FlowContext,
): HopLatency[] {
  const { s } = ctx;
  const of = ctx.paths.of;
  let n = 0;
  let first = -1;
  for (const p of packets)
    if (of[p] === path) {
      n++;
      if (first < 0) first = p;
    }
  if (n === 0) return [];
  const hops = s.packetStart[first + 1]! - s.packetStart[first]!;
  if (ctx.deltas.length < n) ctx.deltas = new Float64Array(Math.ceil(1.5 * n));
  const out: HopLatency[] = [];
  for (let h = 0; h + 1 < hops; h++) {
    const d = ctx.deltas.subarray(0, n);
    let k = 0;
    for (const p of packets) {
      if (of[p] !== path) continue;
      const r = s.packetStart[p]! + h;
      d[k++] = s.t[r + 1]! - s.t[r]!;
    }
    sortSamples(d);
    out.push({
      leg,
      hop: h,
      from: s.points[s.point[s.packetStart[first]! + h]!]!,
      to: s.points[s.point[s.packetStart[first]! + h + 1]!]!,
      samples: n,
      minNs: Math.round(d[0]!),
      medianNs: Math.round(d[n >> 1]!),
      maxNs: Math.round(d[n - 1]!),
    });
  }
  return out;
}

/**
 * Sorts latency samples ascending: most legs have a handful of packets, where an insertion sort in
 * place beats the call into TypedArray.prototype.sort; a typed array sorts numerically without a
 * comparator call per pair for the rest.
 */
function sortSamples(d: Float64Array): void {
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
