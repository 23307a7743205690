/**
 * `sightingsFromPackets`: the same packet found at every capture point (DESIGN §5, issue 5).
 *
 * 1. Frames are grouped by fingerprint once (fingerprint-groups.ts).
 * 2. First pass, wide window on raw clocks: identities feed the clock estimate (clock-offsets.ts).
 * 3. Second pass, narrow window on corrected clocks: the identities kept.
 * 4. GSO/GRO: small identities merge into the super-segment containing them (segment-offload.ts).
 * 5. Each identity becomes one sighting per capture point, ordered along the path: nodes in path-rank
 *    order (then corrected time), and within a node by time, then path rank (ties at µs resolution).
 * The engine is a hash join over typed arrays, not SQL: see docs/analyzers.md for the measurements.
 */
import { type ClockOffset, clockOffsetsFromSamples, clockSampleSink } from '../clock-offsets.ts';
import { PointKind, type Topology } from '../topology/model.ts';
import { groupByFingerprint } from './fingerprint-groups.ts';
import type { FrameTable } from './frame-table.ts';
import type { FrameSet } from './frames-from-bundle.ts';
import { type MatchStats, matchGroups } from './match-groups.ts';
import { pathRank } from './path-rank.ts';
import { indexIdentities, mergeOffloadSegments, SegmentRole } from './segment-offload.ts';

export interface CorrelateOptions {
  /** first-pass window, before clocks are known; must exceed the largest clock offset. Default 2 s */
  wideWindowNs?: number;
  /** second-pass window, on corrected clocks. Default 50 ms */
  narrowWindowNs?: number;
  /** TCP payloads longer than this may be offload super-segments. Default 1460 */
  mss?: number;
  /** fingerprint groups the clock pass visits at most (evenly spread); default 300 000 */
  clockSampleGroups?: number;
  /** offsets to use instead of estimating them (tests, or a previous run) */
  clockOffsets?: ReadonlyMap<string, number>;
}

/** NAT changes between a sighting and the one before it, as bits of `Sightings.rewrite`. */
export const Rewrite = Object.freeze({ srcIp: 1, srcPort: 2, dstIp: 4, dstPort: 8 } as const);

/** One row per (packet, capture point); rows of a packet are contiguous, in hop order. */
export interface Sightings {
  frames: FrameTable;
  points: string[];
  /** node name per point (null: unknown) */
  pointNode: (string | null)[];
  pointKind: PointKind[];
  length: number;
  packet: Uint32Array;
  hop: Uint16Array;
  point: Uint16Array;
  /** the first frame of the packet at this point (FrameTable row): addresses, ports, TTL come from it */
  frame: Int32Array;
  /** frames of the packet at this point (>1: offload segments, or `any` duplicates) */
  count: Uint32Array;
  /** corrected time of the first frame, ns relative to frames.baseNs */
  t: Float64Array;
  /** wire bytes of all its frames */
  bytes: Float64Array;
  role: Uint8Array;
  rewrite: Uint8Array;
  /** 1 when the packet shared its fingerprint with another one in the window */
  collided: Uint8Array;
  /** rows of packet p: packetStart[p] .. packetStart[p + 1] */
  packetStart: Int32Array;
  packets: number;
}

export interface CorrelateResult {
  sightings: Sightings;
  clockOffsets: ClockOffset[];
  stats: MatchStats & { frames: number; withoutFingerprint: number; offloadMerged: number };
  warnings: string[];
}

export function sightingsFromPackets(
  set: FrameSet,
  topology: Topology,
  opts: CorrelateOptions = {},
): CorrelateResult {
  const f = set.frames;
  const n = f.length;
  const wide = opts.wideWindowNs ?? 2e9;
  const narrow = opts.narrowWindowNs ?? 50e6;
  const nodeNames = [
    ...new Set(set.points.map((p) => topology.points.get(p)?.node ?? null).filter((x): x is string => !!x)),
  ].sort();
  const nodeIndex = new Map(nodeNames.map((name, i) => [name, i]));
  const pointNode = new Int32Array(set.points.length).fill(-1);
  const pointKind: PointKind[] = [];
  const multiPoint = new Uint8Array(set.points.length);
  set.points.forEach((id, i) => {
    const p = topology.points.get(id);
    pointNode[i] = p?.node ? (nodeIndex.get(p.node) ?? -1) : -1;
    pointKind.push(p?.kind ?? PointKind.other);
    multiPoint[i] = p?.kind === PointKind.any ? 1 : 0;
  });
  const rankOf = new Uint8Array(3 * set.points.length);
  for (let p = 0; p < set.points.length; p++)
    for (let d = 0; d < 3; d++) rankOf[3 * p + d] = pathRank(pointKind[p]!, d);
  const rank = new Uint8Array(n);
  for (let i = 0; i < n; i++) rank[i] = rankOf[3 * f.point[i]! + f.dir[i]!]!;

  const groups = groupByFingerprint(f);
  let withoutFingerprint = 0;
  for (let i = 0; i < n; i++) if (f.fpValid[i] !== 1) withoutFingerprint++;

  // pass 1: raw clocks, wide window -> offsets
  const warnings: string[] = [];
  let offsets: ClockOffset[];
  if (opts.clockOffsets) {
    offsets = nodeNames.map((node) => ({
      node,
      offsetNs: opts.clockOffsets?.get(node) ?? 0,
      errorNs: null,
      reference: (opts.clockOffsets?.get(node) ?? 0) === 0,
      matchedFrames: 0,
      via: null,
      samples: [0, 0],
    }));
  } else {
    const { sink, samples } = clockSampleSink(nodeNames, pointNode, f.point, rank, f.t);
    // the offsets rest on the fastest packets each way: an even sample of groups finds them as well
    let sampleMask = 0;
    while (groups.count / (sampleMask + 1) > (opts.clockSampleGroups ?? 300_000))
      sampleMask = 2 * sampleMask + 1;
    matchGroups(
      { groups, t: f.t, point: f.point, rank, multiPoint, windowNs: wide, sampleMask, fpLo: f.fpLo },
      sink,
    );
    const est = clockOffsetsFromSamples(samples);
    offsets = est.offsets;
    warnings.push(...est.warnings);
  }

  // pass 2: corrected clocks, narrow window
  const nodeOffset = new Float64Array(nodeNames.length);
  offsets.forEach((o) => {
    nodeOffset[nodeIndex.get(o.node)!] = o.offsetNs;
  });
  const t = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const node = pointNode[f.point[i]!]!;
    t[i] = f.t[i]! + (node >= 0 ? nodeOffset[node]! : 0);
  }
  const maxError = Math.max(0, ...offsets.map((o) => o.errorNs ?? 0));
  const ident = new Int32Array(n).fill(-1);
  const collidedId: number[] = [];
  let next = 0;
  const stats = matchGroups(
    { groups, t, point: f.point, rank, multiPoint, windowNs: narrow + 2 * maxError },
    (frames, count, collided) => {
      const id = next++;
      for (let k = 0; k < count; k++) ident[frames[k]!] = id;
      if (collided) collidedId.push(id);
    },
  );
  const ids = indexIdentities(ident, n, next, t);
  const merge = mergeOffloadSegments(f, ids, narrow + 2 * maxError, opts.mss ?? 1460);
  const collided = new Uint8Array(next);
  for (const id of collidedId) collided[merge.parent[id]!] = 1;
  for (let i = 0; i < n; i++) if (ident[i]! >= 0) ident[i] = merge.parent[ident[i]!]!;
  const roots = indexIdentities(ident, n, next, t);

  const sightings = buildRows(set, f, t, rank, pointNode, pointKind, roots, merge.role, collided, nodeNames);
  return {
    sightings,
    clockOffsets: offsets,
    stats: { ...stats, frames: n, withoutFingerprint, offloadMerged: merge.merged },
    warnings,
  };
}

function buildRows(
  set: FrameSet,
  f: FrameTable,
  t: Float64Array,
  rank: Uint8Array,
  pointNode: Int32Array,
  pointKind: PointKind[],
  ids: ReturnType<typeof indexIdentities>,
  role: Uint8Array,
  collidedById: Uint8Array,
  nodeNames: string[],
): Sightings {
  const cap = ids.members.length;
  const s: Sightings = {
    frames: f,
    points: set.points,
    pointNode: set.points.map((_, i) => nodeNames[pointNode[i]!] ?? null),
    pointKind,
    length: 0,
    packet: new Uint32Array(cap),
    hop: new Uint16Array(cap),
    point: new Uint16Array(cap),
    frame: new Int32Array(cap),
    count: new Uint32Array(cap),
    t: new Float64Array(cap),
    bytes: new Float64Array(cap),
    role: new Uint8Array(cap),
    rewrite: new Uint8Array(cap),
    collided: new Uint8Array(cap),
    packetStart: new Int32Array(ids.count + 1),
    packets: 0,
  };
  const nodes = nodeNames.length + 1;
  const segRank = new Int32Array(nodes);
  const segFirst = new Float64Array(nodes);
  const segStamp = new Int32Array(nodes).fill(-1);
  let maxMembers = 1;
  for (let id = 0; id < ids.count; id++)
    maxMembers = Math.max(maxMembers, ids.start[id + 1]! - ids.start[id]!);
  const rowFrame = new Int32Array(maxMembers);
  const order = new Int32Array(maxMembers);
  const counts = new Uint32Array(maxMembers);
  const bytes = new Float64Array(maxMembers);

  for (let id = 0; id < ids.count; id++) {
    const a = ids.start[id]!;
    const b = ids.start[id + 1]!;
    if (a === b) continue;
    const p = s.packets++;
    s.packetStart[p] = s.length;
    // one row per (point, direction): the earliest frame stands for it
    let rows = 0;
    let maxPayload = 0;
    for (let m = a; m < b; m++) {
      const fr = ids.members[m]!;
      if (f.payloadLen[fr]! > maxPayload) maxPayload = f.payloadLen[fr]!;
      let r = 0;
      // one row per point and direction: a hairpin crosses its pod's eth0 out and back in
      while (r < rows && (f.point[rowFrame[r]!] !== f.point[fr] || rank[rowFrame[r]!] !== rank[fr])) r++;
      if (r === rows) {
        rowFrame[rows++] = fr;
        const row = s.length + r;
        s.count[row] = 0;
        s.bytes[row] = 0;
      } else if (t[fr]! < t[rowFrame[r]!]!) rowFrame[r] = fr;
      s.count[s.length + r]!++;
      s.bytes[s.length + r]! += f.wirelen[fr]!;
    }
    // node segments: ordered by the earliest path rank they saw, then by corrected time
    for (let r = 0; r < rows; r++) {
      const fr = rowFrame[r]!;
      const node = pointNode[f.point[fr]!]! + 1;
      if (segStamp[node] !== id) {
        segStamp[node] = id;
        segRank[node] = rank[fr]!;
        segFirst[node] = t[fr]!;
      } else {
        if (rank[fr]! < segRank[node]!) segRank[node] = rank[fr]!;
        if (t[fr]! < segFirst[node]!) segFirst[node] = t[fr]!;
      }
      order[r] = r;
    }
    for (let i = 1; i < rows; i++) {
      const v = order[i]!;
      let j = i - 1;
      while (
        j >= 0 &&
        hopBefore(rowFrame[v]!, rowFrame[order[j]!]!, f.point, pointNode, segRank, segFirst, t, rank)
      ) {
        order[j + 1] = order[j]!;
        j--;
      }
      order[j + 1] = v;
    }
    // rows were accumulated at s.length + r; write them out in hop order
    for (let r = 0; r < rows; r++) {
      counts[r] = s.count[s.length + r]!;
      bytes[r] = s.bytes[s.length + r]!;
    }
    let prev = -1;
    for (let h = 0; h < rows; h++) {
      const r = order[h]!;
      const fr = rowFrame[r]!;
      const row = s.length + h;
      s.packet[row] = p;
      s.hop[row] = h;
      s.point[row] = f.point[fr]!;
      s.frame[row] = fr;
      s.count[row] = counts[r]!;
      s.bytes[row] = bytes[r]!;
      s.t[row] = t[fr]!;
      // in a merged packet, the points that saw the whole range in one frame hold the super-segment
      s.role[row] =
        role[id] !== SegmentRole.super
          ? SegmentRole.none
          : f.payloadLen[fr]! < maxPayload
            ? SegmentRole.segment
            : SegmentRole.super;
      s.collided[row] = collidedById[id]!;
      s.rewrite[row] = prev < 0 ? 0 : rewriteBits(f, prev, fr);
      prev = fr;
    }
    s.length += rows;
  }
  s.packetStart[s.packets] = s.length;
  return s;
}

/** Whether frame x comes before frame y on the path (see the module comment). */
function hopBefore(
  x: number,
  y: number,
  point: Uint16Array,
  pointNode: Int32Array,
  segRank: Int32Array,
  segFirst: Float64Array,
  t: Float64Array,
  rank: Uint8Array,
): boolean {
  const nx = pointNode[point[x]!]! + 1;
  const ny = pointNode[point[y]!]! + 1;
  if (nx !== ny) {
    if (segRank[nx] !== segRank[ny]) return segRank[nx]! < segRank[ny]!;
    return segFirst[nx]! < segFirst[ny]!;
  }
  if (t[x] !== t[y]) return t[x]! < t[y]!;
  return rank[x]! < rank[y]!;
}

function rewriteBits(f: FrameTable, a: number, b: number): number {
  let bits = 0;
  if (f.ipVersion[a] !== f.ipVersion[b] || f.src[a] !== f.src[b]) bits |= Rewrite.srcIp;
  if (f.dst[a] !== f.dst[b] || f.ipVersion[a] !== f.ipVersion[b]) bits |= Rewrite.dstIp;
  if (f.srcPort[a] !== f.srcPort[b]) bits |= Rewrite.srcPort;
  if (f.dstPort[a] !== f.dstPort[b]) bits |= Rewrite.dstPort;
  return bits;
}
