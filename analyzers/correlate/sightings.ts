/**
 * `sightingsFromPackets`: the same packet found at every capture point (DESIGN §5, issue 5).
 *
 * Correlation is local in time (DESIGN §9), so it runs in time slabs (`SlabCorrelator`): each slab is
 * its own frames plus an overlap on both sides as wide as the matching reach, copied out in time order
 * (which is also what makes it fast: a packet's frames at its 4-6 points then sit next to each other in
 * memory instead of in 6 far-apart per-file runs). A slab keeps only the packets whose first frame falls
 * inside it, so a packet crossing a boundary is found whole by exactly one slab, and flows, built over
 * all packets, are stitched by construction. Memory is set by packet rate x (slab + overlap).
 * 1. First pass, wide window on raw clocks, over a sample of the frames (fingerprint low bits): the
 *    identities feed the clock estimate (clock-offsets.ts).
 * 2. Second pass, narrow window on corrected clocks, per slab: frames grouped by fingerprint
 *    (fingerprint-groups.ts), split into identities (match-groups.ts), GSO/GRO segments merged into their
 *    super-segment (segment-offload.ts).
 * 3. Each identity becomes one sighting per capture point, ordered along the path: nodes in path-rank
 *    order (then corrected time), and within a node by time, then path rank (ties at µs resolution).
 * The engine is a hash join over typed arrays, not SQL: see docs/analyzers.md for the measurements.
 */
import {
  type ClockOffset,
  type ClockSamples,
  clockOffsetsFromSamples,
  clockSampleSink,
  emptyClockSamples,
} from '../clock-offsets.ts';
import { PointKind, type Topology } from '../topology/model.ts';
import { groupByFingerprint } from './fingerprint-groups.ts';
import { CORRELATION_COLUMNS, FrameTable } from './frame-table.ts';
import type { FrameSet } from './frames-from-bundle.ts';
import { type MatchStats, matchGroups } from './match-groups.ts';
import { pathRank } from './path-rank.ts';
import { Scratch } from './scratch.ts';
import { type IdentityIndex, indexIdentities, mergeOffloadSegments, SegmentRole } from './segment-offload.ts';

export interface CorrelateOptions {
  /** first-pass window, before clocks are known; must exceed the largest clock offset. Default 2 s */
  wideWindowNs?: number;
  /** second-pass window, on corrected clocks. Default 50 ms */
  narrowWindowNs?: number;
  /** TCP payloads longer than this may be offload super-segments. Default 1460 */
  mss?: number;
  /**
   * frames the clock pass visits at most: an even sample by fingerprint bits (random, so no pattern in
   * time, point or direction). The offsets rest on the fastest packets each way, which a sample of
   * whole packets finds as well. Default 500 000
   */
  clockSampleFrames?: number;
  /** offsets to use instead of estimating them (tests, or a previous run) */
  clockOffsets?: ReadonlyMap<string, number>;
  /** time slab length; memory is set by packet rate x (slab + 2 overlaps). Default DEFAULT_SLAB_NS; Infinity: one slab */
  slabNs?: number;
}

/** Default time slab: measured, 0.5-2 s slabs run at the same speed and 4 s ones 25 % slower (cache). */
export const DEFAULT_SLAB_NS = 1e9;

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

export interface CorrelateStats extends MatchStats {
  frames: number;
  withoutFingerprint: number;
  offloadMerged: number;
  /** time slabs of the second pass */
  slabs: number;
  /**
   * slabs a spooled analysis skipped unread, no block of the spool meeting their time range (a silence
   * at every capture point); `slabs` counts those that held frames
   */
  gapSlabs: number;
}

export interface CorrelateResult {
  sightings: Sightings;
  clockOffsets: ClockOffset[];
  stats: CorrelateStats;
  warnings: string[];
}

/** Per capture point: its node (index into `nodeNames`, -1 unknown), kind, and path rank per direction. */
export interface PointContext {
  nodeNames: string[];
  pointNode: Int32Array;
  pointKind: PointKind[];
  multiPoint: Uint8Array;
  /** [3 * point + dir] */
  rankOf: Uint8Array;
}

function pointContext(points: string[], topology: Topology): PointContext {
  const nodeNames = [
    ...new Set(points.map((p) => topology.points.get(p)?.node ?? null).filter((x): x is string => !!x)),
  ].sort();
  const nodeIndex = new Map(nodeNames.map((name, i) => [name, i]));
  const pointNode = new Int32Array(points.length).fill(-1);
  const pointKind: PointKind[] = [];
  const multiPoint = new Uint8Array(points.length);
  points.forEach((id, i) => {
    const p = topology.points.get(id);
    pointNode[i] = p?.node ? (nodeIndex.get(p.node) ?? -1) : -1;
    pointKind.push(p?.kind ?? PointKind.other);
    multiPoint[i] = p?.kind === PointKind.any ? 1 : 0;
  });
  const rankOf = new Uint8Array(3 * points.length);
  for (let p = 0; p < points.length; p++)
    for (let d = 0; d < 3; d++) rankOf[3 * p + d] = pathRank(pointKind[p]!, d);
  return { nodeNames, pointNode, pointKind, multiPoint, rankOf };
}

/** Each point's node (null: unknown) and kind, as `Sightings` gives them, before any sighting is made. */
export function pointsOf(
  points: string[],
  topology: Topology,
): Pick<Sightings, 'points' | 'pointNode' | 'pointKind'> {
  return pointTexts(points, pointContext(points, topology));
}

function pointTexts(
  points: string[],
  ctx: PointContext,
): Pick<Sightings, 'points' | 'pointNode' | 'pointKind'> {
  return {
    points,
    pointNode: points.map((_, i) => ctx.nodeNames[ctx.pointNode[i]!] ?? null),
    pointKind: ctx.pointKind,
  };
}

/** A slab's rows as a worker sends them back (the builder's arrays, frames numbered within the slab). */
export type SlabRows = Pick<
  Sightings,
  | 'length'
  | 'packets'
  | 'packet'
  | 'hop'
  | 'point'
  | 'frame'
  | 'count'
  | 't'
  | 'bytes'
  | 'role'
  | 'rewrite'
  | 'collided'
  | 'packetStart'
>;

/**
 * Sightings rows accumulated slab after slab (typed arrays that double when full). `clear()` lets a
 * streaming caller write each slab's rows out and reuse the memory.
 */
export class SightingsBuilder {
  length = 0;
  packets = 0;
  packet = new Uint32Array(0);
  hop = new Uint16Array(0);
  point = new Uint16Array(0);
  frame = new Int32Array(0);
  count = new Uint32Array(0);
  t = new Float64Array(0);
  bytes = new Float64Array(0);
  role = new Uint8Array(0);
  rewrite = new Uint8Array(0);
  collided = new Uint8Array(0);
  packetStart = new Int32Array(1);

  reserve(rows: number, packets: number): void {
    const grow = <T extends Uint8Array | Uint16Array | Uint32Array | Int32Array | Float64Array>(
      a: T,
      need: number,
      make: (n: number) => T,
    ): T => {
      if (need <= a.length) return a;
      // 1.5x: the slack of a large builder is part of the peak
      const next = make(Math.max(need, Math.ceil(1.5 * a.length), 1024));
      next.set(a as never);
      return next;
    };
    const r = this.length + rows;
    this.packet = grow(this.packet, r, (n) => new Uint32Array(n));
    this.hop = grow(this.hop, r, (n) => new Uint16Array(n));
    this.point = grow(this.point, r, (n) => new Uint16Array(n));
    this.frame = grow(this.frame, r, (n) => new Int32Array(n));
    this.count = grow(this.count, r, (n) => new Uint32Array(n));
    this.t = grow(this.t, r, (n) => new Float64Array(n));
    this.bytes = grow(this.bytes, r, (n) => new Float64Array(n));
    this.role = grow(this.role, r, (n) => new Uint8Array(n));
    this.rewrite = grow(this.rewrite, r, (n) => new Uint8Array(n));
    this.collided = grow(this.collided, r, (n) => new Uint8Array(n));
    this.packetStart = grow(this.packetStart, this.packets + packets + 1, (n) => new Int32Array(n));
  }

  /**
   * Appends a slab's rows built elsewhere (a worker), their frames mapped through `rows[a + frame]`;
   * `rows` null: row r's frame is `a + r` (its evidence copied out row by row, `sightingsFromSpool`).
   */
  append(part: SlabRows, rows: Int32Array | null, a: number): void {
    this.reserve(part.length, part.packets);
    const base = this.length;
    const packets = this.packets;
    this.packet.set(part.packet.subarray(0, part.length), base);
    for (let r = 0; r < part.length; r++) {
      this.packet[base + r]! += packets;
      this.frame[base + r] = rows ? rows[a + part.frame[r]!]! : a + r;
    }
    this.hop.set(part.hop.subarray(0, part.length), base);
    this.point.set(part.point.subarray(0, part.length), base);
    this.count.set(part.count.subarray(0, part.length), base);
    this.t.set(part.t.subarray(0, part.length), base);
    this.bytes.set(part.bytes.subarray(0, part.length), base);
    this.role.set(part.role.subarray(0, part.length), base);
    this.rewrite.set(part.rewrite.subarray(0, part.length), base);
    this.collided.set(part.collided.subarray(0, part.length), base);
    for (let p = 0; p < part.packets; p++) this.packetStart[packets + p] = base + part.packetStart[p]!;
    this.length += part.length;
    this.packets += part.packets;
  }

  clear(): void {
    this.length = 0;
    this.packets = 0;
  }

  finish(frames: FrameTable, points: string[], ctx: PointContext): Sightings {
    this.packetStart[this.packets] = this.length;
    return {
      frames,
      ...pointTexts(points, ctx),
      length: this.length,
      packet: this.packet,
      hop: this.hop,
      point: this.point,
      frame: this.frame,
      count: this.count,
      t: this.t,
      bytes: this.bytes,
      role: this.role,
      rewrite: this.rewrite,
      collided: this.collided,
      packetStart: this.packetStart.subarray(0, this.packets + 1),
      packets: this.packets,
    };
  }
}

/**
 * The correlation engine over time slabs. A caller feeds it slabs of frames (a FrameTable each, the
 * slab's own time range plus overlaps): first `sampleClock` over raw-clock slabs (a sample is enough),
 * then `settleClock`, then `correlate` per slab on corrected clocks. Owning a packet by its first frame
 * makes the slabs independent work (DESIGN §9).
 */
export class SlabCorrelator {
  readonly ctx: PointContext;
  readonly samples: ClockSamples;
  offsets: ClockOffset[] = [];
  warnings: string[] = [];
  /** second-pass window: narrow + 2 x the clock error */
  windowNs: number;
  readonly stats: CorrelateStats = {
    identities: 0,
    collisions: 0,
    ambiguous: 0,
    frames: 0,
    withoutFingerprint: 0,
    offloadMerged: 0,
    slabs: 0,
    gapSlabs: 0,
  };
  private nodeOffset: Float64Array;
  private readonly wide: number;
  private readonly narrow: number;
  private readonly mss: number;

  constructor(
    readonly points: string[],
    topology: Topology,
    private readonly opts: CorrelateOptions = {},
  ) {
    this.ctx = pointContext(points, topology);
    this.samples = emptyClockSamples(this.ctx.nodeNames);
    this.nodeOffset = new Float64Array(this.ctx.nodeNames.length);
    this.wide = opts.wideWindowNs ?? 2e9;
    this.narrow = opts.narrowWindowNs ?? 50e6;
    this.windowNs = this.narrow;
    this.mss = opts.mss ?? 1460;
  }

  get wideWindowNs(): number {
    return this.wide;
  }

  /**
   * How far a slab must reach past its own range on corrected clocks: a packet spans one window, an
   * offload merge joins packets up to a window apart, and a partial GRO chains two merges.
   */
  get overlapNs(): number {
    return 3 * this.windowNs;
  }

  /** per-slab working arrays, reused: see scratch.ts */
  private readonly scratch = new Scratch();

  private ranks(f: FrameTable): Uint8Array {
    const rank = this.scratch.u8('rank', f.length);
    const { rankOf } = this.ctx;
    const { point, dir } = f;
    for (let i = 0; i < f.length; i++) rank[i] = rankOf[3 * point[i]! + dir[i]!]!;
    return rank;
  }

  /** Pass 1 on one slab of raw-clock frames (a sample of them is enough): feeds the clock estimate. */
  sampleClock(f: FrameTable, ownFrom: number, ownTo: number): void {
    const rank = this.ranks(f);
    const { sink } = clockSampleSink(
      this.ctx.nodeNames,
      this.ctx.pointNode,
      f.point,
      rank,
      f.t,
      this.samples,
      ownFrom,
      ownTo,
    );
    matchGroups(
      {
        groups: groupByFingerprint(f, this.scratch),
        t: f.t,
        point: f.point,
        rank,
        multiPoint: this.ctx.multiPoint,
        windowNs: this.wide,
      },
      sink,
    );
  }

  /** Ends pass 1: the offsets (given ones when `clockOffsets` was passed) and the narrow window. */
  settleClock(): ClockOffset[] {
    const given = this.opts.clockOffsets;
    if (given) {
      this.offsets = this.ctx.nodeNames.map((node) => ({
        node,
        offsetNs: given.get(node) ?? 0,
        errorNs: null,
        reference: (given.get(node) ?? 0) === 0,
        matchedFrames: 0,
        via: null,
        samples: [0, 0],
      }));
    } else {
      const est = clockOffsetsFromSamples(this.samples);
      this.offsets = est.offsets;
      this.warnings.push(...est.warnings);
    }
    this.useClock(this.offsets);
    return this.offsets;
  }

  /** Takes offsets settled elsewhere (a worker given the main thread's estimate). */
  useClock(offsets: ClockOffset[]): void {
    this.offsets = offsets;
    const index = new Map(this.ctx.nodeNames.map((name, i) => [name, i]));
    for (const o of offsets) {
      const i = index.get(o.node);
      if (i !== undefined) this.nodeOffset[i] = o.offsetNs;
    }
    this.windowNs = this.narrow + 2 * Math.max(0, ...offsets.map((o) => o.errorNs ?? 0));
  }

  /** Corrected time of a frame: `ts + offset_ns` of its node. */
  correctedTimes(f: FrameTable, into = new Float64Array(f.length)): Float64Array {
    const { pointNode } = this.ctx;
    const off = this.nodeOffset;
    for (let i = 0; i < f.length; i++) {
      const node = pointNode[f.point[i]!]!;
      into[i] = f.t[i]! + (node >= 0 ? off[node]! : 0);
    }
    return into;
  }

  /**
   * Pass 2 on one slab: appends to `out` the packets whose first frame (corrected) is in
   * [ownFrom, ownTo). `globalRow[rowBase + i]` is the caller's row of slab frame i, stored in
   * `Sightings.frame` (omitted: slab rows).
   */
  correlate(
    f: FrameTable,
    ownFrom: number,
    ownTo: number,
    out: SightingsBuilder,
    globalRow?: Int32Array,
    rowBase = 0,
  ): void {
    const n = f.length;
    const rank = this.ranks(f);
    const t = this.correctedTimes(f, this.scratch.f64('t', n));
    const W = this.windowNs;
    const ident = this.scratch.i32('ident', n, -1);
    const collidedId: number[] = [];
    let next = 0;
    const st = matchGroups(
      {
        groups: groupByFingerprint(f, this.scratch),
        t,
        point: f.point,
        rank,
        multiPoint: this.ctx.multiPoint,
        windowNs: W,
        ownFrom,
        ownTo,
      },
      (frames, count, collided) => {
        const id = next++;
        for (let k = 0; k < count; k++) ident[frames[k]!] = id;
        if (collided) collidedId.push(id);
      },
    );
    const ids = indexIdentities(ident, n, next, t, this.scratch, 'ids');
    const merge = mergeOffloadSegments(f, ids, W, this.mss, this.scratch);
    const collided = this.scratch.u8('collided', next, 0);
    for (const id of collidedId) collided[merge.parent[id]!] = 1;
    for (let i = 0; i < n; i++) if (ident[i]! >= 0) ident[i] = merge.parent[ident[i]!]!;
    const roots = indexIdentities(ident, n, next, t, this.scratch, 'roots');
    const owned = this.scratch.u8('owned', next, 0);
    for (let id = 0; id < next; id++) {
      const first = roots.first[id]!;
      if (first >= ownFrom && first < ownTo) owned[id] = 1;
    }
    for (let id = 0; id < next; id++)
      if (merge.parent[id] !== id && owned[merge.parent[id]!] === 1) this.stats.offloadMerged++;
    this.stats.identities += st.identities;
    this.stats.collisions += st.collisions;
    this.stats.ambiguous += st.ambiguous;
    this.stats.slabs++;
    out.reserve(roots.members.length, roots.count);
    buildRows(out, f, t, rank, this.ctx.pointNode, roots, owned, merge.role, collided, globalRow, rowBase);
  }
}

/**
 * Yields each time slab of the frames `t` (with `fpValid` set and `fpLo & sampleMask` clear),
 * in time order: rows[a..b) are the slab's frames (own range and overlaps, in time-bin order), and
 * [ownFrom, ownTo) its own range. Frames are binned by a stable counting sort on 1 ms bins (finer when
 * the overlap is), so a frame's bin, and the slab owning it, follow from exact comparisons with the bin
 * edges, and a slab comes out nearly in time order: the frames of one packet at its 4-6 points end up
 * within a bin or two of each other instead of in 4-6 per-file runs (measured: row building 10x faster).
 */
export interface Slab {
  /** the slab's frames are rows[a..b) */
  rows: Int32Array;
  a: number;
  b: number;
  ownFrom: number;
  ownTo: number;
}

export function* slabsOf(
  t: Float64Array,
  n: number,
  fpValid: Uint8Array,
  fpLo: Uint32Array,
  sampleMask: number,
  overlapNs: number,
  slabNs: number,
): Generator<Slab> {
  const keep = new Uint8Array(n);
  let t0 = Number.POSITIVE_INFINITY;
  let t1 = Number.NEGATIVE_INFINITY;
  let kept = 0;
  for (let i = 0; i < n; i++)
    if (fpValid[i] === 1 && (fpLo[i]! & sampleMask) === 0) {
      keep[i] = 1;
      kept++;
      const x = t[i]!;
      if (x < t0) t0 = x;
      if (x > t1) t1 = x;
    }
  if (kept === 0) return;
  const bin = Math.max(1, Math.min(overlapNs, 1e6));
  const overlapBins = Math.ceil(overlapNs / bin);
  const perNs = 1 / bin;
  const keyOf = (x: number): number => {
    let k = Math.floor((x - t0) * perNs);
    // exact edges: ownership compares times with t0 + k * bin, so binning must agree with it
    while (k > 0 && x < t0 + k * bin) k--;
    while (x >= t0 + (k + 1) * bin) k++;
    return k;
  };
  // bins: every bin from 0 to the last when that is few (the bin is the slot); else only the occupied
  // ones, keys as doubles (a stray timestamp years away must not allocate years of bins, and can be more
  // than 2^31 bins away), each frame's slot its key's index among them
  const slotOf = new Int32Array(n);
  let binKey: Float64Array;
  const span = keyOf(t1) + 1;
  if (span <= 4 * kept + 1024) {
    binKey = Float64Array.from({ length: span }, (_, k) => k);
    for (let i = 0; i < n; i++) if (keep[i] === 1) slotOf[i] = keyOf(t[i]!);
  } else {
    const keys = new Float64Array(n);
    const occupied = new Set<number>();
    for (let i = 0; i < n; i++)
      if (keep[i] === 1) {
        keys[i] = keyOf(t[i]!);
        occupied.add(keys[i]!);
      }
    binKey = Float64Array.from(occupied).sort();
    const index = new Map<number, number>();
    for (let j = 0; j < binKey.length; j++) index.set(binKey[j]!, j);
    for (let i = 0; i < n; i++) if (keep[i] === 1) slotOf[i] = index.get(keys[i]!)!;
  }
  const K = binKey.length;
  const binStart = new Int32Array(K + 1);
  for (let i = 0; i < n; i++) if (keep[i] === 1) binStart[slotOf[i]! + 1]!++;
  for (let k = 0; k < K; k++) binStart[k + 1]! += binStart[k]!;
  const fill = binStart.slice(0, K);
  const rows = new Int32Array(kept);
  for (let i = 0; i < n; i++) if (keep[i] === 1) rows[fill[slotOf[i]!]!++] = i;

  const slabBins = Math.max(1, Math.ceil(slabNs / bin));
  let lo = 0;
  for (let i = 0; i < K; ) {
    if (binStart[i + 1] === binStart[i]) {
      i++;
      continue;
    }
    const fromKey = binKey[i]!;
    const toKey = fromKey + slabBins;
    let j = i;
    while (j < K && binKey[j]! < toKey) j++;
    while (binKey[lo]! < fromKey - overlapBins) lo++;
    let hi = j;
    while (hi < K && binKey[hi]! < toKey + overlapBins) hi++;
    yield {
      rows,
      a: binStart[lo]!,
      b: binStart[hi]!,
      ownFrom: t0 + fromKey * bin,
      ownTo: j >= K ? Number.POSITIVE_INFINITY : t0 + toKey * bin,
    };
    i = j;
  }
}

/**
 * The clock pass's sample of `frames` fingerprinted frames: those whose fingerprint has these low bits
 * clear, at most about `clockSampleFrames` of them (in memory and from a spool alike).
 */
export function clockSampleMask(frames: number, opts: CorrelateOptions): number {
  let mask = 0;
  while (frames / (mask + 1) > (opts.clockSampleFrames ?? 500_000)) mask = 2 * mask + 1;
  return mask;
}

/**
 * Pass 1 over frames in memory: raw clocks, wide window, a sample of the frames -> offsets (settled in
 * `c`). Returns the frames without a fingerprint (they take part in nothing).
 */
export function settleClockOf(
  c: SlabCorrelator,
  f: FrameTable,
  opts: CorrelateOptions,
  local: FrameTable,
): number {
  const n = f.length;
  let withoutFingerprint = 0;
  for (let i = 0; i < n; i++) if (f.fpValid[i] !== 1) withoutFingerprint++;
  if (!opts.clockOffsets) {
    const mask = clockSampleMask(n - withoutFingerprint, opts);
    // the sample is at most `clockSampleFrames` frames: one slab, not slabs each reaching a wide window
    // past both ends (with 1 s slabs and a 2 s window, that visited every sampled frame five times)
    for (const sl of slabsOf(f.t, n, f.fpValid, f.fpLo, mask, c.wideWindowNs, Number.POSITIVE_INFINITY)) {
      local.copyRows(f, sl.rows, sl.a, sl.b, CORRELATION_COLUMNS);
      c.sampleClock(local, sl.ownFrom, sl.ownTo);
    }
  }
  c.settleClock();
  return withoutFingerprint;
}

export function sightingsFromPackets(
  set: FrameSet,
  topology: Topology,
  opts: CorrelateOptions = {},
): CorrelateResult {
  const f = set.frames;
  const n = f.length;
  const c = new SlabCorrelator(set.points, topology, opts);
  const local = new FrameTable(1024);
  const withoutFingerprint = settleClockOf(c, f, opts, local);
  const slabNs = opts.slabNs ?? DEFAULT_SLAB_NS;

  // pass 2: corrected clocks, narrow window, slab by slab
  const corrected = c.correctedTimes(f);
  const out = new SightingsBuilder();
  // sized once: at most one row per frame, and packets of 2 frames or more are the usual case
  out.reserve(n - withoutFingerprint, (n - withoutFingerprint) >> 1);
  for (const sl of slabsOf(corrected, n, f.fpValid, f.fpLo, 0, c.overlapNs, slabNs)) {
    local.copyRows(f, sl.rows, sl.a, sl.b, CORRELATION_COLUMNS);
    c.correlate(local, sl.ownFrom, sl.ownTo, out, sl.rows, sl.a);
  }
  return {
    sightings: out.finish(f, set.points, c.ctx),
    clockOffsets: c.offsets,
    stats: { ...c.stats, frames: n, withoutFingerprint },
    warnings: c.warnings,
  };
}

function buildRows(
  s: SightingsBuilder,
  f: FrameTable,
  t: Float64Array,
  rank: Uint8Array,
  pointNode: Int32Array,
  ids: IdentityIndex,
  owned: Uint8Array,
  role: Uint8Array,
  collidedById: Uint8Array,
  globalRow: Int32Array | undefined,
  rowBase: number,
): void {
  const nodes = Math.max(0, ...pointNode) + 2;
  const segRank = new Int32Array(nodes);
  const segFirst = new Float64Array(nodes);
  const segStamp = new Int32Array(nodes).fill(-1);
  const { start, members } = ids;
  let maxMembers = 1;
  for (let id = 0; id < ids.count; id++) maxMembers = Math.max(maxMembers, start[id + 1]! - start[id]!);
  // per row of the current packet, what ordering and emitting compare, so those loops read a few
  // small arrays instead of chasing frame numbers into the slab's columns
  const rowFrame = new Int32Array(maxMembers);
  const rowKey = new Int32Array(maxMembers);
  const rowT = new Float64Array(maxMembers);
  const rowRank = new Int32Array(maxMembers);
  const rowNode = new Int32Array(maxMembers);
  const order = new Int32Array(maxMembers);
  const counts = new Uint32Array(maxMembers);
  const bytes = new Float64Array(maxMembers);
  const { point, payloadLen, wirelen, ipVersion, src, dst, srcPort, dstPort } = f;
  // the builder's arrays as locals: reserve() was called, and property loads per row cost more than the row
  const oPacket = s.packet;
  const oHop = s.hop;
  const oPoint = s.point;
  const oFrame = s.frame;
  const oCount = s.count;
  const oT = s.t;
  const oBytes = s.bytes;
  const oRole = s.role;
  const oRewrite = s.rewrite;
  const oCollided = s.collided;
  const oStart = s.packetStart;

  for (let id = 0; id < ids.count; id++) {
    const a = start[id]!;
    const b = start[id + 1]!;
    if (a === b || owned[id] !== 1) continue;
    const p = s.packets++;
    oStart[p] = s.length;
    // one row per (point, direction): the earliest frame stands for it; a hairpin crosses its pod's
    // eth0 out and back in
    let rows = 0;
    let maxPayload = 0;
    for (let m = a; m < b; m++) {
      const fr = members[m]!;
      if (payloadLen[fr]! > maxPayload) maxPayload = payloadLen[fr]!;
      const key = (point[fr]! << 8) | rank[fr]!;
      const tf = t[fr]!;
      let r = 0;
      while (r < rows && rowKey[r] !== key) r++;
      if (r === rows) {
        rows++;
        rowFrame[r] = fr;
        rowKey[r] = key;
        rowT[r] = tf;
        counts[r] = 0;
        bytes[r] = 0;
      } else if (tf < rowT[r]!) {
        rowFrame[r] = fr;
        rowT[r] = tf;
      }
      counts[r]!++;
      bytes[r]! += wirelen[fr]!;
    }
    // node segments: ordered by the earliest path rank they saw, then by corrected time
    for (let r = 0; r < rows; r++) {
      const rk = rowKey[r]! & 255;
      const node = pointNode[rowKey[r]! >>> 8]! + 1;
      rowRank[r] = rk;
      rowNode[r] = node;
      if (segStamp[node] !== id) {
        segStamp[node] = id;
        segRank[node] = rk;
        segFirst[node] = rowT[r]!;
      } else {
        if (rk < segRank[node]!) segRank[node] = rk;
        if (rowT[r]! < segFirst[node]!) segFirst[node] = rowT[r]!;
      }
      order[r] = r;
    }
    for (let i = 1; i < rows; i++) {
      const v = order[i]!;
      let j = i - 1;
      while (j >= 0 && hopBefore(v, order[j]!, rowNode, rowT, rowRank, segRank, segFirst)) {
        order[j + 1] = order[j]!;
        j--;
      }
      order[j + 1] = v;
    }
    const superId = role[id] === SegmentRole.super;
    const collided = collidedById[id]!;
    let prev = -1;
    for (let h = 0; h < rows; h++) {
      const r = order[h]!;
      const fr = rowFrame[r]!;
      const row = s.length + h;
      oPacket[row] = p;
      oHop[row] = h;
      oPoint[row] = rowKey[r]! >>> 8;
      oFrame[row] = globalRow ? globalRow[rowBase + fr]! : fr;
      oCount[row] = counts[r]!;
      oBytes[row] = bytes[r]!;
      oT[row] = rowT[r]!;
      // in a merged packet, the points that saw the whole range in one frame hold the super-segment
      oRole[row] = !superId
        ? SegmentRole.none
        : payloadLen[fr]! < maxPayload
          ? SegmentRole.segment
          : SegmentRole.super;
      oCollided[row] = collided;
      let bits = 0;
      if (prev >= 0) {
        const v = ipVersion[prev] !== ipVersion[fr];
        if (v || src[prev] !== src[fr]) bits |= Rewrite.srcIp;
        if (v || dst[prev] !== dst[fr]) bits |= Rewrite.dstIp;
        if (srcPort[prev] !== srcPort[fr]) bits |= Rewrite.srcPort;
        if (dstPort[prev] !== dstPort[fr]) bits |= Rewrite.dstPort;
      }
      oRewrite[row] = bits;
      prev = fr;
    }
    s.length += rows;
  }
}

/** Whether row x comes before row y on the path (see the module comment). */
function hopBefore(
  x: number,
  y: number,
  rowNode: Int32Array,
  rowT: Float64Array,
  rowRank: Int32Array,
  segRank: Int32Array,
  segFirst: Float64Array,
): boolean {
  const nx = rowNode[x]!;
  const ny = rowNode[y]!;
  if (nx !== ny) {
    if (segRank[nx] !== segRank[ny]) return segRank[nx]! < segRank[ny]!;
    return segFirst[nx]! < segFirst[ny]!;
  }
  if (rowT[x] !== rowT[y]) return rowT[x]! < rowT[y]!;
  return rowRank[x]! < rowRank[y]!;
}
