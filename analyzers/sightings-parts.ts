/**
 * The `sightings` table's Parquet parts (DESIGN §4), written by table-file.ts as the analysis makes the
 * rows, a part (`ROWS_PER_PART` rows) after another. Texts are ids into lists fixed before the first
 * row (`StageTexts`): a row group's dictionary holds the texts its rows use.
 *
 * A slab's rows reach `SightingsParts` as `SightingRows`: every column per row, the frame's columns
 * gathered, flow ids looked up, packets renumbered, so the rows need nothing but themselves.
 *
 * Staged in DuckDB on a thread of their own and copied out a part at a time, these rows cost 1.5 µs
 * each on that thread (6.9 CPU-s of appends for 4.5 M rows at 5 M frames, then the COPY's compression
 * on DuckDB's threads), CPU the analysis wanted on a 2-core machine. Written here, on the analysis
 * thread, they cost ~0.1 µs a row; the parts are about twice DuckDB's size, as nothing is compressed
 * beyond dictionaries, deltas and bit packing.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  type ColumnRows,
  setInt64,
  type TableColumn,
  TableFile,
} from '../ingest/dataset/parquet/table-file.ts';
import { FRAME_COLUMNS, type FrameColumn, type FrameTable } from './correlate/frame-table.ts';
import type { Sightings } from './correlate/sightings.ts';
import { TextDict } from './text-dict.ts';
import { ip4Text } from './topology/ip-text.ts';
import { U32Ids } from './u32-ids.ts';

/** Sightings rows gathered at a time (`partRows`): only that many rows' columns are in JS memory at once. */
export const PART_ROWS = 1 << 20;

/** Sightings rows per Parquet part. */
const ROWS_PER_PART = 1 << 21;

/** The sightings table's part files, in row order (a view reads `sightings/*.parquet`). */
const sightingsPart = (k: number): string => `part-${String(k).padStart(5, '0')}.parquet`;

export interface SightingsPartsOptions {
  /** rows per Parquet part; default ROWS_PER_PART */
  rowsPerPart?: number;
}

/** Frame columns only the matcher reads. */
const NOT_CARRIED = [
  'point',
  't',
  'fpLo',
  'fpHi',
  'fpValid',
  'wirelen',
  'linkType',
  'srcMac',
  'dstMac',
] as const;
type NotCarried = (typeof NOT_CARRIED)[number];
/** The frame columns a sightings row carries (gathered by its `frame`): all but the matcher's own. */
const FRAME_FIELDS = FRAME_COLUMNS.filter(
  (c): c is Exclude<FrameColumn, NotCarried> => !NOT_CARRIED.includes(c as NotCarried),
);
/** The sighting's own columns a row carries. */
const OWN_FIELDS = ['hop', 'point', 'count', 't', 'bytes', 'role', 'rewrite', 'collided'] as const;

/**
 * Sightings rows, each column per row: the sighting's own (Sightings), then its frame's (FrameTable),
 * `packet` already numbered for the table and `flow` the packet's flow id (-1: none).
 */
export type SightingRows = Pick<Sightings, (typeof OWN_FIELDS)[number] | 'length'> &
  Pick<FrameTable, (typeof FRAME_FIELDS)[number]> & {
    /** the frames' time base: `t` is ns after it */
    baseNs: bigint;
    packet: Uint32Array;
    flow: Int32Array;
  };

type Column = Uint8Array | Uint16Array | Uint32Array | Int32Array | Float64Array;

/**
 * Arrays kept from call to call, by name (`sightingRows`' flow ids, packet numbers and gathered frame
 * columns; `sightingBatch`'s ids, lanes and validity bytes): a batch's rows are written before the next
 * call, so a slab needs no fresh memory (each slab's own arrays were pages faulted in anew).
 */
export class RowsScratch {
  private readonly arrays = new Map<string, Column>();

  /** `key`'s array of `n` values, of `src`'s kind. */
  take<T extends Column>(key: string, like: T, n: number): T {
    let a = this.arrays.get(key);
    if (a === undefined || a.length < n || a.constructor !== like.constructor) {
      a = new (like.constructor as new (n: number) => T)(Math.max(n, 2 * (a?.length ?? 0)));
      this.arrays.set(key, a);
    }
    return a.subarray(0, n) as T;
  }
}

/**
 * The rows [from, to) of `s` as `SightingRows`; `flowOf` by `s`'s packet numbers, packets numbered from
 * `packetBase`. The sighting's columns are views of `s`'s, valid until its arrays are reused; the rest
 * are `scratch`'s, valid until its next use.
 */
export function sightingRows(
  s: Sightings,
  flowOf: Int32Array,
  packetBase: number,
  from: number,
  to: number,
  scratch: RowsScratch,
): SightingRows {
  const f = s.frames;
  const n = to - from;
  const rowFrame = s.frame.subarray(from, to);
  // a spilled analysis keeps one evidence row per sighting, in row order: its frame columns are then
  // the rows' own (no gather)
  let identity = true;
  for (let r = 0; r < n && identity; r++) identity = rowFrame[r] === from + r;
  const take = <T extends Column>(src: T): T => src.subarray(from, to) as T;
  const rows = { length: n, baseNs: f.baseNs ?? 0n } as SightingRows;
  const out = rows as unknown as Record<string, Column>;
  for (const k of OWN_FIELDS) out[k] = take(s[k]);
  for (const k of FRAME_FIELDS)
    out[k] = identity ? take(f[k]) : gather(f[k], rowFrame, scratch.take(k, f[k], n));
  const flow = scratch.take('flow', INT32, n);
  const renumber = packetBase > 0;
  const packet = renumber ? scratch.take('packet', UINT32, n) : s.packet.subarray(from, to);
  for (let r = 0; r < n; r++) {
    const p = s.packet[from + r]!;
    flow[r] = flowOf[p] ?? -1;
    if (renumber) packet[r] = packetBase + p;
  }
  rows.flow = flow;
  rows.packet = packet;
  return rows;
}

const INT32 = new Int32Array(0);
const UINT32 = new Uint32Array(0);

/** `src` at `rows` into `out`, an array of its kind (one monomorphic loop per element type). */
function gather<T extends Column>(src: T, rows: Int32Array, out: T): T {
  const n = rows.length;
  if (src instanceof Uint8Array) {
    const o = out as Uint8Array;
    for (let r = 0; r < n; r++) o[r] = src[rows[r]!]!;
  } else if (src instanceof Uint16Array) {
    const o = out as Uint16Array;
    for (let r = 0; r < n; r++) o[r] = src[rows[r]!]!;
  } else if (src instanceof Uint32Array) {
    const o = out as Uint32Array;
    for (let r = 0; r < n; r++) o[r] = src[rows[r]!]!;
  } else {
    const o = out as Float64Array;
    for (let r = 0; r < n; r++) o[r] = src[rows[r]!]!;
  }
  return out;
}

/** The distinct texts of `texts` (a TextDict's) and each one's index among them (null: -1). */
function distinctOf(texts: readonly (string | null)[]): { values: string[]; index: Int32Array } {
  const dict = new TextDict();
  const { ids, valid } = dict.encode(texts);
  return { values: dict.values, index: Int32Array.from(ids, (id, i) => (valid[i] === 1 ? id : -1)) };
}

/** Enum texts of codes this code defines (the stage column holds the code itself). */
const DIRECTION_TEXTS = ['unknown', 'in', 'out'];
const OFFLOAD_TEXTS = ['none', 'super', 'segment'];
/** rewrite bits (sightings.ts `Rewrite`) -> the changed fields, comma-separated ('' for none: NULL) */
const REWRITE_TEXTS = Array.from({ length: 16 }, (_, bits) =>
  ['src_ip', 'src_port', 'dst_ip', 'dst_port'].filter((_, k) => (bits & (1 << k)) !== 0).join(','),
);

/**
 * Where the sightings' text columns take their values from: a column's values are fixed before its
 * first row (TableFile's text lists), and a streamed analysis writes each slab's rows as the slab is
 * correlated.
 */
export interface StageTexts {
  points: readonly string[];
  pointNode: readonly (string | null)[];
  pointKind: readonly string[];
  /** capture files by FrameTable file number */
  files: readonly string[];
  /** every IPv4 address a sighting may carry (more do no harm) */
  ip4: readonly number[];
  /** the IPv6 texts the frames' intern ids index, every one the rows will use */
  ip6: readonly string[];
}

/** The texts of sightings held whole (every IPv4 address of their rows). */
export function stageTextsOf(s: Sightings, files: readonly string[]): StageTexts {
  const f = s.frames;
  const v4 = new U32Ids();
  for (let r = 0; r < s.length; r++) {
    const fr = s.frame[r]!;
    if (f.ipVersion[fr] !== 4) continue;
    v4.id(f.src[fr]!);
    v4.id(f.dst[fr]!);
  }
  return {
    points: s.points,
    pointNode: s.pointNode,
    pointKind: s.pointKind,
    files,
    ip4: v4.values,
    ip6: f.ip6,
  };
}

/** The sightings' text columns' values, and the per-point and per-file indexes into them. */
interface SightingTexts {
  points: string[];
  /** index into `points` per point number (two numbers of one name share it) */
  pointIndex: Int32Array;
  nodes: string[];
  /** index into `nodes` per point number (-1: none) */
  nodeOfPoint: Int32Array;
  kinds: string[];
  kindOfPoint: Int32Array;
  files: string[];
  fileIndex: Int32Array;
  /** every address text: the IPv4 ones first (ids from `v4`), then the IPv6 ones (their intern ids after those) */
  addrs: string[];
  v4: U32Ids;
}

function sightingTexts(t: StageTexts): SightingTexts {
  const v4 = new U32Ids();
  for (const a of t.ip4) v4.id(a);
  // IPv4 text and IPv6 intern text are distinct (a dot against colons), and interned texts are distinct
  const addrs = [...v4.values.map((a) => ip4Text(a)), ...t.ip6];
  const points = distinctOf(t.points);
  const nodes = distinctOf(t.points.map((_, i) => t.pointNode[i] ?? null));
  const kinds = distinctOf(t.points.map((_, i) => t.pointKind[i] ?? 'other'));
  const files = distinctOf(t.files);
  return {
    points: points.values,
    pointIndex: points.index,
    nodes: nodes.values,
    nodeOfPoint: nodes.index,
    kinds: kinds.values,
    kindOfPoint: kinds.index,
    files: files.values,
    fileIndex: files.index,
    addrs,
    v4,
  };
}

/** The table's columns, in its order. */
function sightingColumns(t: SightingTexts): TableColumn[] {
  const uint = (name: string, bits: 8 | 16 | 32, nullable = false): TableColumn => ({
    kind: 'uint',
    name,
    bits,
    nullable,
  });
  const text = (name: string, values: readonly string[], nullable = false): TableColumn => ({
    kind: 'text',
    name,
    values,
    nullable,
  });
  return [
    { kind: 'uint', name: 'packet_id', bits: 32, delta: true, stats: true },
    uint('hop', 16),
    text('capture_point', t.points),
    text('node', t.nodes, true),
    text('point_kind', t.kinds),
    text('direction', DIRECTION_TEXTS),
    { kind: 'bool', name: 'direction_inferred' },
    { kind: 'int64', name: 'ts_ns', signed: true, delta: true, stats: true },
    uint('frames', 32),
    { kind: 'int64', name: 'bytes', signed: false, delta: true },
    text('offload', OFFLOAD_TEXTS),
    text('rewrite', REWRITE_TEXTS, true),
    { kind: 'bool', name: 'collided' },
    { kind: 'uint', name: 'flow_id', bits: 32, signed: true, nullable: true, stats: true, delta: true },
    text('file', t.files, true),
    { kind: 'uint', name: 'frame', bits: 32, delta: true },
    uint('ip_version', 8, true),
    uint('ip_proto', 8),
    text('src_ip', t.addrs, true),
    text('dst_ip', t.addrs, true),
    uint('src_port', 16, true),
    uint('dst_port', 16, true),
    uint('ttl', 8),
    uint('tcp_seq', 32, true),
    uint('tcp_ack', 32, true),
    uint('tcp_flags', 16, true),
    uint('payload_len', 32),
    uint('icmp_type', 16, true),
    uint('icmp_code', 16, true),
    uint('icmp_id', 16, true),
  ];
}

const TWO_32 = 4294967296;

const U8 = new Uint8Array(0);
const U16 = new Uint16Array(0);

/**
 * `rows` as sightingColumns take them; what is computed (ids into the text lists, 64-bit lanes,
 * validity bytes) goes into arrays of `scratch`, kept from batch to batch.
 */
function sightingBatch(rows: SightingRows, t: SightingTexts, scratch: RowsScratch): ColumnRows[] {
  const n = rows.length;
  const u8 = (key: string) => scratch.take(key, U8, n);
  const u16 = (key: string) => scratch.take(key, U16, n);
  const u32 = (key: string, per = 1) => scratch.take(key, UINT32, per * n);
  const x = {
    point: u16('point'),
    node: u16('node'),
    kind: u16('kind'),
    file: u32('file'),
    src: u32('src'),
    dst: u32('dst'),
    ts: u32('ts', 2),
    bytes: u32('bytes', 2),
    icmpType: u16('icmpType'),
    icmpCode: u16('icmpCode'),
    hasNode: u8('hasNode'),
    hasFile: u8('hasFile'),
    rewritten: u8('rewritten'),
    hasFlow: u8('hasFlow'),
    hasIp: u8('hasIp'),
    hasAddr: u8('hasAddr'),
    hasPorts: u8('hasPorts'),
    isTcp: u8('isTcp'),
    isIcmp: u8('isIcmp'),
    isEcho: u8('isEcho'),
  };
  const v6Base = t.v4.values.length;
  const base = rows.baseNs;
  const baseHi = Number(BigInt.asIntN(32, base >> 32n));
  const baseLo = Number(base & 0xffffffffn);
  // the arrays in locals: read through the objects, every access in the loop was a property load
  const {
    point,
    file,
    rewrite,
    flow,
    t: time,
    bytes,
    ipVersion,
    src,
    dst,
    proto,
    icmpEcho,
    icmpTypeCode,
  } = rows;
  const { pointIndex, nodeOfPoint, kindOfPoint, fileIndex, v4 } = t;
  const { point: xPoint, node: xNode, hasNode, kind: xKind, file: xFile, hasFile, rewritten, hasFlow } = x;
  const { ts, bytes: xBytes, hasIp, src: xSrc, dst: xDst, hasAddr, hasPorts, isTcp, isIcmp, isEcho } = x;
  const { icmpType, icmpCode } = x;
  for (let r = 0; r < n; r++) {
    const p = point[r]!;
    xPoint[r] = pointIndex[p]!;
    const nd = nodeOfPoint[p] ?? -1;
    xNode[r] = Math.max(nd, 0);
    hasNode[r] = nd < 0 ? 0 : 1;
    xKind[r] = kindOfPoint[p] ?? 0;
    const fi = fileIndex[file[r]!] ?? -1;
    xFile[r] = Math.max(fi, 0);
    hasFile[r] = fi < 0 ? 0 : 1;
    // no rewrite (code 0, the empty text) is NULL
    rewritten[r] = rewrite[r] === 0 ? 0 : 1;
    hasFlow[r] = flow[r]! < 0 ? 0 : 1;
    // the capture time: the base plus the rounded offset, exact in two 32-bit lanes
    const sum = baseLo + Math.round(time[r]!);
    const carry = Math.floor(sum / TWO_32);
    ts[2 * r] = sum - carry * TWO_32;
    ts[2 * r + 1] = (baseHi + carry) | 0;
    setInt64(xBytes, r, bytes[r]!);
    const v = ipVersion[r];
    hasIp[r] = v === 0 ? 0 : 1;
    if (v === 4) {
      xSrc[r] = v4.id(src[r]!);
      xDst[r] = v4.id(dst[r]!);
      hasAddr[r] = 1;
    } else if (v === 6) {
      xSrc[r] = v6Base + src[r]!;
      xDst[r] = v6Base + dst[r]!;
      hasAddr[r] = 1;
    } else hasAddr[r] = 0;
    const pr = proto[r]!;
    hasPorts[r] = pr === 6 || pr === 17 || pr === 132 ? 1 : 0;
    isTcp[r] = pr === 6 ? 1 : 0;
    isIcmp[r] = pr === 1 || pr === 58 ? 1 : 0;
    isEcho[r] = icmpEcho[r] === 1 ? 1 : 0;
    const tc = icmpTypeCode[r]!;
    icmpType[r] = tc >>> 8;
    icmpCode[r] = tc & 255;
  }
  return [
    { data: rows.packet },
    { data: rows.hop },
    { data: x.point },
    { data: x.node, valid: x.hasNode },
    { data: x.kind },
    { data: rows.dir },
    { data: rows.dirInferred },
    { lanes: x.ts },
    { data: rows.count },
    { lanes: x.bytes },
    { data: rows.role },
    { data: rows.rewrite, valid: x.rewritten },
    { data: rows.collided },
    // ids below 2^31 where not NULL (-1)
    { data: new Uint32Array(flow.buffer, flow.byteOffset, n), valid: x.hasFlow },
    { data: x.file, valid: x.hasFile },
    { data: rows.frame },
    { data: rows.ipVersion, valid: x.hasIp },
    { data: rows.proto },
    { data: x.src, valid: x.hasAddr },
    { data: x.dst, valid: x.hasAddr },
    { data: rows.srcPort, valid: x.hasPorts },
    { data: rows.dstPort, valid: x.hasPorts },
    { data: rows.ttl },
    { data: rows.tcpSeq, valid: x.isTcp },
    { data: rows.tcpAck, valid: x.isTcp },
    { data: rows.tcpFlags, valid: x.isTcp },
    { data: rows.payloadLen },
    { data: x.icmpType, valid: x.isIcmp },
    { data: x.icmpCode, valid: x.isIcmp },
    { data: rows.icmpId, valid: x.isEcho },
  ];
}

/**
 * The sightings written a part at a time into `partsDir`: `rows` adds a batch (and starts the next part
 * when one is full), `finish` ends the last part. The parts are in row order (packet, then hop: the
 * order the correlation made). Synchronous: the correlation worker writes them between two slab tasks
 * (sightings-on-worker.ts), where an awaited write would let the next task reuse the slab's table first.
 */
export class SightingsParts {
  private file: TableFile | null = null;
  private readonly parts: string[] = [];
  private readonly scratch = new RowsScratch();
  private readonly columns: TableColumn[];

  private constructor(
    private readonly partsDir: string,
    private readonly texts: SightingTexts,
    private readonly rowsPerPart: number,
  ) {
    this.columns = sightingColumns(texts);
  }

  /** `partsDir`: where the parts go (an earlier run's are removed). */
  static open(partsDir: string, texts: StageTexts, opts: SightingsPartsOptions = {}): SightingsParts {
    // an earlier run's parts would be read as rows of this one
    removeParts(partsDir);
    fs.mkdirSync(partsDir, { recursive: true });
    return new SightingsParts(partsDir, sightingTexts(texts), Math.max(1, opts.rowsPerPart ?? ROWS_PER_PART));
  }

  /** Writes `rows` (they may be reused once this returns). */
  rows(rows: SightingRows): void {
    const batch = sightingBatch(rows, this.texts, this.scratch);
    for (let from = 0; from < rows.length; ) {
      const file = this.file ?? this.nextPart();
      const m = Math.min(rows.length - from, this.rowsPerPart - file.count);
      file.append(batch, m, from);
      from += m;
      if (file.count >= this.rowsPerPart) this.endPart();
    }
  }

  private nextPart(): TableFile {
    const file = new TableFile(path.join(this.partsDir, sightingsPart(this.parts.length)), this.columns);
    this.parts.push(file.path);
    this.file = file;
    return file;
  }

  private endPart(): void {
    this.file?.close();
    this.file = null;
  }

  /**
   * Ends the last part (a part without rows when there is no other: the table exists, empty); the parts'
   * paths in row order. After a failure the parts written so far are removed.
   */
  finish(): string[] {
    try {
      if (this.parts.length === 0) this.nextPart();
      this.endPart();
      return [...this.parts];
    } catch (e) {
      this.discard();
      throw e;
    }
  }

  /** After a failure: removes the parts written so far (a part left in a dataset's folder would be read as the whole table). */
  discard(): void {
    try {
      this.file?.abort();
    } finally {
      this.file = null;
      for (const part of this.parts) fs.rmSync(part, { force: true });
    }
  }
}

/** Every part file in `partsDir` (none when it does not exist). */
export function removeParts(partsDir: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(partsDir);
  } catch {
    return;
  }
  for (const f of names) if (f.endsWith('.parquet')) fs.rmSync(path.join(partsDir, f), { force: true });
}

/**
 * Where a streamed analysis hands each slab's sightings once its packets are in flows: written on this
 * thread (`LocalSightings`) or on the correlation worker that made the slab (sightings-on-worker.ts).
 */
export interface SightingsSink {
  /** a slab's rows (`s` may be reused once this returns); `flowOf` by `s`'s packet numbers */
  slab(s: Sightings, flowOf: Int32Array, packetBase: number): void;
  /** the parts' paths in row order (every slab written), once */
  finish(): string[];
  /** after a failure: no part is left */
  discard(): void;
}

/** Opens a `SightingsSink` writing parts into `partsDir` (an earlier run's removed). */
export type SightingsOpener = (
  partsDir: string,
  texts: StageTexts,
  opts: SightingsPartsOptions & { partRows: number },
) => SightingsSink;

/** Writes `s`'s rows into `parts`, `partRows` gathered at a time. */
export function writeSlab(
  parts: SightingsParts,
  s: Sightings,
  flowOf: Int32Array,
  packetBase: number,
  partRows: number,
  scratch: RowsScratch,
): void {
  // (resolved by AnalysisStage; a step of 0 would never end)
  if (!(partRows >= 1)) throw new RangeError(`sightings parts: ${partRows} rows a part`);
  for (let at = 0; at < s.length; at += partRows) {
    const to = Math.min(s.length, at + partRows);
    parts.rows(sightingRows(s, flowOf, packetBase, at, to, scratch));
  }
}

/** The sightings written on the thread that builds the flows. */
export const localSightings: SightingsOpener = (partsDir, texts, opts) => {
  const parts = SightingsParts.open(partsDir, texts, opts);
  const scratch = new RowsScratch();
  return {
    slab: (s, flowOf, packetBase) => writeSlab(parts, s, flowOf, packetBase, opts.partRows, scratch),
    finish: () => parts.finish(),
    discard: () => parts.discard(),
  };
};
