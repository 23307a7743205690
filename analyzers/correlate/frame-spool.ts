/**
 * A frame source that does not hold the capture in memory (DESIGN §9, issue 8): `framesFromBundle` with a
 * spool decodes each capture file into one reused FrameTable and writes it to a temporary file every
 * `chunkFrames` frames (all columns, raw bytes), remembering each chunk's time range. A time slab is then
 * read back from the chunks that overlap it, so memory is a chunk plus a slab whatever the capture's
 * length. Every file's frames are in time order (one capture per interface), so a slab touches a few
 * chunks per file.
 */

import fs from 'node:fs';
import path from 'node:path';
import type { ClockOffset } from '../clock-offsets.ts';
import type { Topology } from '../topology/model.ts';
import { U32Ids } from '../u32-ids.ts';
import { FRAME_COLUMNS, type FrameColumn, FrameTable } from './frame-table.ts';
import type { FrameSet } from './frames-from-bundle.ts';
import {
  type CorrelateOptions,
  type CorrelateResult,
  type CorrelateStats,
  clockSampleMask,
  DEFAULT_SLAB_NS,
  type PointContext,
  type Sightings,
  SightingsBuilder,
  SlabCorrelator,
} from './sightings.ts';

export interface Chunk {
  /** byte offset of the first column in the spool file */
  offset: number;
  length: number;
  /** raw (node clock) time range of its frames, ns relative to the table's base */
  tMin: number;
  tMax: number;
  /** the same per block of BLOCK_FRAMES rows: a slab reads the blocks it overlaps, not the whole chunk */
  blockMin: Float64Array;
  blockMax: Float64Array;
}

/**
 * Rows per block of a chunk. A chunk of one file spans a long time (a quarter million frames), and a
 * slab only a second of it: reading whole chunks read each one again for every slab it overlapped
 * (10 of 18 CPU-s of a 5 M-frame analysis went to reading the spool). Small blocks: a slab reads less
 * past its edges (a block per file at each), and a silent stretch of the capture lies between blocks
 * rather than inside one, so that `meets` can tell its slabs empty (blocks of 4 096 frames straddled the
 * silence of every file, and all 120 empty slabs of the 5 M-frame bench capture were read for nothing).
 * At 5 M frames a block's range is 160 KB of the spool's index.
 */
const BLOCK_FRAMES = 512;

/** What `read` filters on: loaded whatever columns it returns (else it filtered on an earlier run's values). */
const FILTER_COLUMNS: readonly FrameColumn[] = ['t', 'point', 'fpValid', 'fpLo'];

const BYTES: Record<FrameColumn, number> = Object.fromEntries(
  FRAME_COLUMNS.map((c) => [c, new FrameTable(1)[c].BYTES_PER_ELEMENT]),
) as Record<FrameColumn, number>;

export class FrameSpool {
  /** the table frames are decoded into; after `finish()` it is empty but keeps the base and IPv6 text */
  readonly table: FrameTable;
  private readonly chunks: Chunk[] = [];
  private readonly fd: number;
  private offset = 0;
  private readonly reader: SpoolReader;
  frames = 0;
  /** frames without a fingerprint (spooled, but they take part in no packet) */
  withoutFingerprint = 0;
  /**
   * every IPv4 address spooled: a streamed sightings table needs its address texts before its first
   * row (write-analysis.ts), and after the spool only slabs of the capture are ever in memory
   */
  readonly ip4 = new U32Ids();

  constructor(
    readonly file: string,
    readonly chunkFrames = 1 << 18,
    /** rows per block (tests make them small so that slabs skip blocks inside a chunk) */
    readonly blockFrames = BLOCK_FRAMES,
  ) {
    // the tables first: when they cannot be allocated, no file is left open or behind
    this.table = new FrameTable(chunkFrames);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    this.fd = fs.openSync(file, 'w+');
    // the chunks are this spool's own list: the reader sees each one as it is written
    this.reader = new SpoolReader(this.fd, { file, chunks: this.chunks, chunkFrames, blockFrames });
  }

  /** Called after every appended batch: writes the table out once it holds a chunk. */
  maybeFlush(): void {
    if (this.table.length >= this.chunkFrames) this.flush();
  }

  /**
   * Writes what the table holds (the end of a file: chunks never mix two files' time ranges), in
   * chunks of at most `chunkFrames`: a decoded batch lands whole and can overshoot it.
   */
  flush(): void {
    const n = this.table.length;
    for (let a = 0; a < n; a += this.chunkFrames) this.writeChunk(a, Math.min(n, a + this.chunkFrames));
    this.frames += n;
    this.table.length = 0;
  }

  /** Writes the table's rows [a, b) as one chunk. */
  private writeChunk(a: number, b: number): void {
    const f = this.table;
    let tMin = Number.POSITIVE_INFINITY;
    let tMax = Number.NEGATIVE_INFINITY;
    for (let i = a; i < b; i++) {
      if (f.t[i]! < tMin) tMin = f.t[i]!;
      if (f.t[i]! > tMax) tMax = f.t[i]!;
      if (f.fpValid[i] !== 1) this.withoutFingerprint++;
      if (f.ipVersion[i] === 4) {
        this.ip4.id(f.src[i]!);
        this.ip4.id(f.dst[i]!);
      }
    }
    const blocks = Math.ceil((b - a) / this.blockFrames);
    const blockMin = new Float64Array(blocks).fill(Number.POSITIVE_INFINITY);
    const blockMax = new Float64Array(blocks).fill(Number.NEGATIVE_INFINITY);
    for (let i = a; i < b; i++) {
      const k = ((i - a) / this.blockFrames) | 0;
      const t = f.t[i]!;
      if (t < blockMin[k]!) blockMin[k] = t;
      if (t > blockMax[k]!) blockMax[k] = t;
    }
    const start = this.offset;
    for (const c of FRAME_COLUMNS) {
      const col = f[c];
      const bytes = (b - a) * col.BYTES_PER_ELEMENT;
      const view = new Uint8Array(col.buffer, col.byteOffset + a * col.BYTES_PER_ELEMENT, bytes);
      fs.writeSync(this.fd, view, 0, bytes, this.offset);
      this.offset += bytes;
    }
    this.chunks.push({ offset: start, length: b - a, tMin, tMax, blockMin, blockMax });
  }

  /** Time range of every frame spooled (raw clocks), or null when none. */
  range(): [number, number] | null {
    if (this.chunks.length === 0) return null;
    return [Math.min(...this.chunks.map((c) => c.tMin)), Math.max(...this.chunks.map((c) => c.tMax))];
  }

  /**
   * The frames whose time, moved by their point's `shift` (clock offsets; none: raw), lies in
   * [from, to), and whose fingerprint has `sampleMask`'s bits clear, in chunk order.
   */
  read(
    from: number,
    to: number,
    pointShift: Float64Array | null = null,
    sampleMask = 0,
    columns: readonly FrameColumn[] = FRAME_COLUMNS,
    /** a table to refill (slab after slab: no regrowing and no garbage per slab) */
    into: FrameTable = new FrameTable(1024),
  ): FrameTable {
    into.adoptBase(this.table);
    into.shareIp6(this.table);
    return this.reader.read({ from, to, pointShift, sampleMask, columns }, into);
  }

  /** Whether a read of [from, to) with `shift` may find a frame (SpoolReader.meets). */
  meets(from: number, to: number, shift: Float64Array | null): boolean {
    return this.reader.meets({ from, to, pointShift: shift });
  }

  /** Where the spooled frames are, for a SpoolReader on another thread (once every frame is spooled). */
  index(): SpoolIndex {
    return {
      file: this.file,
      chunks: this.chunks,
      chunkFrames: this.chunkFrames,
      blockFrames: this.blockFrames,
    };
  }

  /** Closes and removes the spool file (removed even when closing fails). */
  close(): void {
    try {
      fs.closeSync(this.fd);
    } finally {
      fs.rmSync(this.file, { force: true });
    }
  }
}

/** A spool's file and chunks: what a thread needs to read its frames (structured-clonable). */
export interface SpoolIndex {
  file: string;
  chunks: Chunk[];
  chunkFrames: number;
  blockFrames: number;
}

/** What FrameSpool.read selects: see there. */
export interface SpoolQuery {
  from: number;
  to: number;
  pointShift: Float64Array | null;
  sampleMask: number;
  columns: readonly FrameColumn[];
}

/**
 * Reads a spool's frames by time: on the spooling thread (FrameSpool.read), or on a correlation worker
 * with a descriptor of its own (`SpoolReader.open`), so that the reads' CPU is not the analysis
 * thread's (at 5 M frames, 3.5 of its ~20 CPU-s).
 */
export class SpoolReader {
  private readonly scratch = new FrameTable(16);
  /** rows of a run of blocks that a read keeps (`flush` cuts chunks at `chunkFrames` rows, so a run fits) */
  private readonly keep: Int32Array;

  constructor(
    private readonly fd: number,
    private readonly index: SpoolIndex,
  ) {
    this.keep = new Int32Array(index.chunkFrames);
  }

  /** A reader of the spool `index` names, on a descriptor of its own (`close` closes it). */
  static open(index: SpoolIndex): SpoolReader {
    return new SpoolReader(fs.openSync(index.file, 'r'), index);
  }

  close(): void {
    fs.closeSync(this.fd);
  }

  /** FrameSpool.read, into `out` (its time base and IPv6 texts are the caller's to set). */
  read(q: SpoolQuery, out: FrameTable): FrameTable {
    out.length = 0;
    const blockFrames = this.index.blockFrames;
    for (const [ch, b, e] of this.runs(q))
      this.keepRows(ch, b * blockFrames, Math.min(ch.length, e * blockFrames), q, out);
    return out;
  }

  /**
   * Whether a read of `q` may find a frame: false when no block's range meets it (a slab in a gap of the
   * capture, which the analysis then skips without a round trip to the worker).
   */
  meets(q: Pick<SpoolQuery, 'from' | 'to' | 'pointShift'>): boolean {
    return !this.runs(q).next().done;
  }

  /** The runs [b, e) of consecutive blocks of each chunk whose range meets `q`'s, moved by its shifts. */
  private *runs(q: Pick<SpoolQuery, 'from' | 'to' | 'pointShift'>): Generator<[Chunk, number, number]> {
    const { from, to, pointShift } = q;
    // a chunk can hold frames of any point: its range moves by at most the extreme shifts
    const lo = pointShift ? Math.min(0, ...pointShift) : 0;
    const hi = pointShift ? Math.max(0, ...pointShift) : 0;
    for (const ch of this.index.chunks) {
      if (ch.tMax + hi < from || ch.tMin + lo >= to) continue;
      // runs of consecutive blocks that overlap: one read per column per run
      const blocks = ch.blockMin.length;
      for (let b = 0; b < blocks; ) {
        if (ch.blockMax[b]! + hi < from || ch.blockMin[b]! + lo >= to) {
          b++;
          continue;
        }
        let e = b + 1;
        while (e < blocks && !(ch.blockMax[e]! + hi < from || ch.blockMin[e]! + lo >= to)) e++;
        yield [ch, b, e];
        b = e;
      }
    }
  }

  /** Appends to `out` the rows [a, b) of a chunk that `read` keeps. */
  private keepRows(ch: Chunk, a: number, b: number, q: SpoolQuery, out: FrameTable): void {
    const { from, to, pointShift, sampleMask } = q;
    const s = this.load(ch, a, b, q.columns, out);
    const n = b - a;
    const keep = this.keep;
    let k = 0;
    for (let i = 0; i < n; i++) {
      const t = s.t[i]! + (pointShift ? (pointShift[s.point[i]!] ?? 0) : 0);
      if (t >= from && t < to && s.fpValid[i] === 1 && (s.fpLo[i]! & sampleMask) === 0) keep[k++] = i;
    }
    if (k > 0) out.copyRows(s, keep, 0, k, q.columns, true);
  }

  /** Reads rows [a, b) of a chunk's `columns` and FILTER_COLUMNS (no more: the clock pass needs less than the evidence). */
  private load(
    ch: Chunk,
    a: number,
    b: number,
    columns: readonly FrameColumn[],
    out: FrameTable,
  ): FrameTable {
    const s = this.scratch;
    // copyRows gives `out` the scratch's time base: the same
    s.adoptBase(out);
    s.length = 0;
    s.reserve(b - a);
    let at = ch.offset;
    for (const c of FRAME_COLUMNS) {
      if (columns.includes(c) || FILTER_COLUMNS.includes(c)) {
        const col = s[c];
        const bytes = (b - a) * BYTES[c];
        fs.readSync(this.fd, new Uint8Array(col.buffer, col.byteOffset, bytes), 0, bytes, at + a * BYTES[c]);
      }
      at += ch.length * BYTES[c];
    }
    s.length = b - a;
    return s;
  }
}

/** What the clock pass reads: time, point, direction and fingerprint. */
const CLOCK_COLUMNS: readonly FrameColumn[] = ['point', 't', 'fpLo', 'fpHi', 'fpValid', 'dir'];

export interface SpoolCorrelation {
  clockOffsets: ClockOffset[];
  /** the points' nodes, kinds and path ranks */
  ctx: PointContext;
  stats: CorrelateStats;
  warnings: string[];
}

/** A slab's sightings as `spoolSlabs` yields them. */
export interface SpoolSlab {
  slab: Sightings;
  /** where the slab's own range starts (every packet of a later slab starts at or after it) */
  ownFrom: number;
  clockOffsets: readonly ClockOffset[];
}

/**
 * Correlates a spooled capture slab by slab: the clock pass over a fingerprint sample of every slab
 * (raw clocks, wide overlap), then each slab on corrected clocks. `onSlab` gets each slab's sightings,
 * whose `frames` is the slab's own table (evidence columns included), where the slab's own range starts
 * and the clock offsets; that table and the rows' arrays are reused for the next slab, so a caller
 * writes them out or copies what it keeps before returning.
 */
export function correlateSpool(
  spool: FrameSpool,
  set: FrameSet,
  topology: Topology,
  opts: CorrelateOptions,
  onSlab: (slab: Sightings, ownFrom: number, clockOffsets: readonly ClockOffset[]) => void,
): SpoolCorrelation {
  const slabs = spoolSlabs(spool, set, topology, opts);
  for (let r = slabs.next(); ; r = slabs.next()) {
    if (r.done) return r.value;
    onSlab(r.value.slab, r.value.ownFrom, r.value.clockOffsets);
  }
}

/**
 * `correlateSpool` as an iterator: a caller that writes each slab out asynchronously awaits between
 * slabs (the event loop runs: DuckDB's results, progress, Ctrl-C). The next slab reuses the arrays.
 */
function* spoolSlabs(
  spool: FrameSpool,
  set: FrameSet,
  topology: Topology,
  opts: CorrelateOptions,
): Generator<SpoolSlab, SpoolCorrelation, undefined> {
  const { c, offsets, slabs } = spoolClock(spool, set, topology, opts);
  const out = new SightingsBuilder();
  const slab = new FrameTable(1024);
  for (const { from, to, ov, shift } of slabs) {
    const local = spool.read(from - ov, to + ov, shift, 0, FRAME_COLUMNS, slab);
    if (local.length === 0) continue;
    out.clear();
    c.correlate(local, from, to, out);
    yield { slab: out.finish(local, set.points, c.ctx), ownFrom: from, clockOffsets: offsets };
  }
  return spoolCorrelation(spool, c, offsets);
}

/**
 * The clock pass over a spool (a fingerprint sample of every slab, raw clocks) and the slabs to
 * correlate then: each one's own range, its overlap and every point's clock shift; slabs that no spool
 * block meets are counted (`gapSlabs`) instead.
 */
export function spoolClock(
  spool: FrameSpool,
  set: FrameSet,
  topology: Topology,
  opts: CorrelateOptions,
): {
  c: SlabCorrelator;
  offsets: ClockOffset[];
  slabs: Generator<{ from: number; to: number; ov: number; shift: Float64Array }>;
} {
  const c = new SlabCorrelator(set.points, topology, opts);
  const slabNs = opts.slabNs ?? DEFAULT_SLAB_NS;
  const range = spool.range();
  if (range && !opts.clockOffsets) {
    const mask = clockSampleMask(spool.frames - spool.withoutFingerprint, opts);
    // the sample is at most `clockSampleFrames` frames: one slab of all of it (as settleClockOf)
    const sample = spool.read(range[0], Number.POSITIVE_INFINITY, null, mask, CLOCK_COLUMNS);
    if (sample.length > 0) c.sampleClock(sample, range[0], Number.POSITIVE_INFINITY);
  }
  const offsets = c.settleClock();
  const offsetOf = new Map(offsets.map((o) => [o.node, o.offsetNs]));
  const shift = Float64Array.from(set.points, (_, p) => {
    const node = c.ctx.nodeNames[c.ctx.pointNode[p]!];
    return node === undefined ? 0 : (offsetOf.get(node) ?? 0);
  });
  function* slabs() {
    if (!range) return;
    const lo = range[0] + Math.min(0, ...shift);
    const hi = range[1] + Math.max(0, ...shift);
    // the first slabs are shorter (an eighth, a quarter, a half, then whole): the analysis waits for the
    // first one whole before it has anything to do (a slab of 1 s of a 5 M-frame capture took 0.9 s)
    for (let from = lo, len = slabNs / 8; from <= hi; from += len, len = Math.min(slabNs, 2 * len)) {
      // a slab in a silence at every capture point has no frame to read: skipped unread (in a capture
      // with minutes of silence half the slabs were empty, each a round trip to the correlation thread)
      if (!spool.meets(from - c.overlapNs, from + len + c.overlapNs, shift)) {
        c.stats.gapSlabs++;
        continue;
      }
      yield { from, to: from + len, ov: c.overlapNs, shift };
    }
  }
  return { c, offsets, slabs: slabs() };
}

/** What a spool's correlation returns once its slabs are done. */
export function spoolCorrelation(
  spool: FrameSpool,
  c: SlabCorrelator,
  offsets: ClockOffset[],
): SpoolCorrelation {
  return {
    clockOffsets: offsets,
    stats: { ...c.stats, frames: spool.frames, withoutFingerprint: spool.withoutFingerprint },
    warnings: c.warnings,
    ctx: c.ctx,
  };
}

/**
 * Columns the sightings' evidence table leaves out: matching is done, and the sightings hold the
 * point, the corrected time and the bytes of each row.
 */
const NOT_EVIDENCE: readonly FrameColumn[] = ['fpLo', 'fpHi', 'fpValid', 't', 'point', 'wirelen'];

/**
 * `sightingsFromPackets` over a spool: the same sightings, but `frames` holds one evidence row per
 * sighting (the slab frame it names), not every frame of the capture: offload segments after the
 * first, `any` duplicates and frames without a fingerprint stay on disk, and so do the columns matching
 * alone reads. Memory is the sightings (about 100 bytes a row: 35 in the rows, 66 of evidence) plus
 * one slab.
 */
export function sightingsFromSpool(
  spool: FrameSpool,
  set: FrameSet,
  topology: Topology,
  opts: CorrelateOptions = {},
): CorrelateResult {
  const evidence = new FrameTable(1 << 16, NOT_EVIDENCE);
  evidence.adoptBase(spool.table);
  evidence.shareIp6(spool.table);
  const out = new SightingsBuilder();
  // a sighting per frame at most: sized once, no growth copies and no slack beyond it
  const rows = spool.frames - spool.withoutFingerprint;
  out.reserve(rows, rows >> 1);
  evidence.reserve(rows);
  const r = correlateSpool(spool, set, topology, opts, (slab) => {
    const at = evidence.length;
    evidence.copyRows(slab.frames, slab.frame, 0, slab.length, FRAME_COLUMNS, true);
    out.append(slab, null, at);
  });
  return {
    sightings: out.finish(evidence, set.points, r.ctx),
    clockOffsets: r.clockOffsets,
    stats: r.stats,
    warnings: r.warnings,
  };
}
