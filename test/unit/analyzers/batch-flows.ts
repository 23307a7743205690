/**
 * The batch flow grouping as it was before the FlowBuilder (analyzers/flows.ts at 6830450), kept as the
 * reference the builder is compared with on generated sightings: every sighting held, connections by
 * union-find over all packets first, then each connection's packets in time order split at a SYN after
 * a non-SYN or after more than `idleNs` of silence. The shared pieces (tuple ids, union-find, coverage,
 * endpoints, Services, sample sort) are flows.ts's own, unchanged since.
 */
import { communityIdV1 } from '../../../analyzers/community-id.ts';
import type { Sightings } from '../../../analyzers/correlate/sightings.ts';
import {
  coverageGaps,
  type Flow,
  type FlowOptions,
  type FlowsResult,
  flowEnds,
  groupIndexes,
  type HopLatency,
  type PathHop,
  type PointWindows,
  pointWindows,
  sortSamples,
  TupleIds,
  UnionFind,
} from '../../../analyzers/flows.ts';
import type { Topology } from '../../../analyzers/topology/model.ts';

const DIR = ['unknown', 'in', 'out'] as const;
const FIN = 0x001;
const SYN = 0x002;
const RST = 0x004;
const ACK = 0x010;

export function batchFlows(s: Sightings, topology: Topology, opts: FlowOptions = {}): FlowsResult {
  const f = s.frames;
  const idle = opts.idleNs ?? 120e9;
  const closedIdle = Math.min(idle, opts.closedIdleNs ?? 5e9);
  const datagramIdle = Math.min(idle, opts.datagramIdleNs ?? 60e9);
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
    for (let r = a + 1; r < b; r++) if (s.rewrite[r] !== 0) uf.union(id, tupleOf(s.frame[r]!));
  }
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
  const connOrder = new Int32Array(conns);
  for (let c = 0; c < conns; c++) connOrder[c] = c;
  connOrder.sort((x, y) => byTime(connPackets[connStart[x]!]!, connPackets[connStart[y]!]!));
  const ctx: Ctx = {
    s,
    topology,
    portOf,
    flowOfPacket: new Int32Array(s.packets).fill(-1),
    windows: pointWindows(s, opts),
    paths: new BatchPaths(s),
    seenStamp: new Int32Array(s.points.length).fill(-1),
  };
  const flows: Flow[] = [];
  for (let k = 0; k < conns; k++) {
    const c = connOrder[k]!;
    const packets = connPackets.subarray(connStart[c]!, connStart[c + 1]!);
    packets.sort(byTime);
    let from = 0;
    let sawNonSyn = false;
    // a closed connection (an RST, or a FIN from each end) ends its flow after a shorter silence
    let closed = false;
    let finFrom = '';
    for (let i = 0; i < packets.length; i++) {
      const p = packets[i]!;
      const fr = s.frame[s.packetStart[p]!]!;
      const flags = f.tcpFlags[fr]!;
      const isSyn = f.proto[fr] === 6 && (flags & SYN) !== 0 && (flags & ACK) === 0;
      const gap = i > from ? firstT[p]! - firstT[packets[i - 1]!]! : 0;
      // a flow's protocol is its first packet's
      const first = f.proto[s.frame[s.packetStart[packets[from]!]!]!]!;
      const datagram = first === 17 || first === 1 || first === 58;
      if (
        i > from &&
        ((isSyn && sawNonSyn) || gap > (closed ? closedIdle : datagram ? datagramIdle : idle))
      ) {
        flows.push(buildFlow(flows.length, packets.subarray(from, i), ctx));
        from = i;
        sawNonSyn = false;
        closed = false;
        finFrom = '';
      }
      if (!isSyn) sawNonSyn = true;
      if (f.proto[fr] === 6 && (flags & RST) !== 0) closed = true;
      else if (f.proto[fr] === 6 && (flags & FIN) !== 0) {
        const sender = `${f.src[fr]}:${f.srcPort[fr]}`;
        if (finFrom === '') finFrom = sender;
        else if (finFrom !== sender) closed = true;
      }
    }
    if (packets.length > from) flows.push(buildFlow(flows.length, packets.subarray(from), ctx));
  }
  return { flows, flowOfPacket: ctx.flowOfPacket };
}

class BatchPaths {
  readonly of: Int32Array;
  private readonly parent: number[] = [-1];
  private readonly code: number[] = [0];

  constructor(private readonly s: Sightings) {
    const ids = new Map<number, number>();
    this.of = new Int32Array(s.packets);
    for (let p = 0; p < s.packets; p++) {
      let id = 0;
      for (let r = s.packetStart[p]!; r < s.packetStart[p + 1]!; r++) {
        const key = id * 262144 + 4 * s.point[r]! + s.frames.dir[s.frame[r]!]!;
        let next = ids.get(key);
        if (next === undefined) {
          next = this.parent.length;
          this.parent.push(id);
          this.code.push(4 * s.point[r]! + s.frames.dir[s.frame[r]!]!);
          ids.set(key, next);
        }
        id = next;
      }
      this.of[p] = id;
    }
  }

  path(id: number): PathHop[] {
    const hops: PathHop[] = [];
    for (let at = id; at > 0; at = this.parent[at]!) {
      const code = this.code[at]!;
      hops.push({ point: this.s.points[code >> 2]!, dir: DIR[code & 3] ?? 'unknown' });
    }
    return hops.reverse();
  }
}

interface Ctx {
  s: Sightings;
  topology: Topology;
  portOf: (fr: number, which: 'src' | 'dst') => number;
  flowOfPacket: Int32Array;
  windows: PointWindows[];
  paths: BatchPaths;
  seenStamp: Int32Array;
}

function buildFlow(id: number, packets: Int32Array, ctx: Ctx): Flow {
  const { s, topology, portOf } = ctx;
  const f = s.frames;
  const { frame, packetStart } = s;
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
  const requests: number[] = [];
  const replies: number[] = [];
  for (const p of packets) {
    const fr = frame[packetStart[p]!]!;
    const req =
      f.ipVersion[fr] === f.ipVersion[o] && f.src[fr] === f.src[o] && portOf(fr, 'src') === clientPort;
    (req ? requests : replies).push(p);
  }
  const last = frame[packetStart[opener + 1]! - 1]!;
  const originDst = f.addrText(o, 'dst') ?? '';
  const finalDst = f.addrText(last, 'dst') ?? '';
  const originPort = icmp ? 0 : portOf(o, 'dst');
  const finalPort = icmp ? 0 : portOf(last, 'dst');
  // the endpoints are the production rule's (flowEnds): this reference differs only in the grouping
  const { client, service, server } = flowEnds(topology, {
    proto,
    clientIp,
    clientPort,
    originDst,
    originPort,
    finalDst,
    finalPort,
  });
  const [requestPath, requestPathPackets] = modalPath(requests, ctx);
  const [replyPath, replyPathPackets] = modalPath(replies, ctx);
  const hops = [
    ...hopLatencies('request', requests, requestPath, ctx),
    ...hopLatencies('reply', replies, replyPath, ctx),
  ];
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
    requestPath: ctx.paths.path(requestPath),
    replyPath: ctx.paths.path(replyPath),
    requestPathPackets,
    replyPathPackets,
    hops,
    coverage: coverageGaps(ctx.windows, minT, maxT, (point) => stamp[point] === id),
  };
}

/** The path most packets of the leg took, the earliest seen on a tie; 0 (empty) for no packets. */
function modalPath(packets: readonly number[], ctx: Ctx): [number, number] {
  const counts = new Map<number, number>();
  for (const p of packets) counts.set(ctx.paths.of[p]!, (counts.get(ctx.paths.of[p]!) ?? 0) + 1);
  let best = 0;
  let bestCount = 0;
  for (const [id, n] of counts)
    if (n > bestCount) {
      best = id;
      bestCount = n;
    }
  return [best, bestCount];
}

function hopLatencies(
  leg: 'request' | 'reply',
  packets: readonly number[],
  path: number,
  ctx: Ctx,
): HopLatency[] {
  const { s } = ctx;
  const taken = packets.filter((p) => ctx.paths.of[p] === path);
  if (taken.length === 0) return [];
  const first = taken[0]!;
  const n = taken.length;
  const out: HopLatency[] = [];
  for (let h = 0; h + 1 < s.packetStart[first + 1]! - s.packetStart[first]!; h++) {
    const d = Float64Array.from(taken, (p) => s.t[s.packetStart[p]! + h + 1]! - s.t[s.packetStart[p]! + h]!);
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
