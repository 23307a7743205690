/**
 * The packets table's Parquet columns, derived from `packetFields` (minus view-only ones) and the
 * staging column list, and the encoders that turn rows [0, n) of a PacketColumns batch into one data
 * page per column. Every encoder is a bulk copy or one branch-free loop per page; nothing is allocated
 * per row. Long pages are stored by what costs least to write for what it costs to encode (the
 * encoder thread's writes cost it 0.2-2 ns a byte of kernel time on this machine): small integers as
 * 8/16-bit ids that are their own values, MACs as ids into a dictionary of values, frame numbers,
 * offsets and capture times DELTA_BINARY_PACKED, the rest PLAIN.
 */
import type { PacketColumns } from '../../columns/packet-columns.ts';
import {
  isViewOnly,
  packetFields,
  type StageColumn,
  stageColumns,
  type U8Key,
  type U32Key,
} from '../../columns/packets-schema.ts';
import { ChunkBuilder, type MinMax } from './column-chunk.ts';
import { type Deltas, deltaBinaryPacked, deltaPackedBound, exactDeltas } from './delta-binary-packed.ts';
import {
  ConvertedType,
  Encoding,
  intNode,
  PhysicalType,
  Repetition,
  type SchemaNode,
  stringNode,
} from './format.ts';
import { minMaxU8, minMaxU16, minMaxU32, range } from './min-max.ts';
import { allZero, bitLevels, dictionaryIndices, packLevels, rleLevels, uniformBits } from './rle-hybrid.ts';

/** Where a nullable column's validity comes from. */
type Validity =
  | { kind: 'none' }
  | { kind: 'bytes'; key: U8Key }
  | { kind: 'ipVersion'; column: 'ipVersion' | 'innerIpVersion'; version: 4 | 6 }
  /** NULL where the column's own value is 0 (`nullif(x, 0)`) */
  | { kind: 'nonZero' };

/** Dictionary-encoded string columns: which ids, which dictionary. */
export type DictionarySource = 'point' | 'file' | 'direction' | 'error';

export type PacketColumnSpec =
  | {
      kind: 'int32';
      name: string;
      source: StageColumn['source'] & { kind: 'u8' | 'u16' | 'u32' };
      validity: Validity;
      stats: boolean;
      delta: boolean;
    }
  | {
      kind: 'int64';
      name: string;
      data: U32Key;
      validity: Validity;
      signed: boolean;
      stats: boolean;
      delta: boolean;
      /** dictionary of values (ValueDictionary) */
      values: boolean;
    }
  | { kind: 'fileOffset'; name: string }
  | { kind: 'ip6'; name: string; data: U8Key; validity: Validity }
  | { kind: 'bool'; name: string; data: U8Key; validity: Validity }
  | { kind: 'dict'; name: string; source: DictionarySource }
  | { kind: 'vlan'; name: string };

/** Columns whose min/max go into the footer so that engines skip row groups on range filters. */
const WITH_STATS = new Set(['ts_ns', 'frame', 'src_ip4', 'dst_ip4', 'src_port', 'dst_port', 'ip_proto']);

/**
 * Integer columns whose neighbouring values are close, stored DELTA_BINARY_PACKED in long pages
 * (file_offset always is): frame numbers count up by one, capture times by micro- to milliseconds.
 */
const DELTA = new Set(['frame', 'ts_ns']);

/** MAC columns, which a capture repeats a lot: stored as ids into a dictionary of their values. */
const VALUES = new Set(['src_mac', 'dst_mac']);

const SPECIAL: Record<string, PacketColumnSpec> = {
  capture_point: { kind: 'dict', name: 'capture_point', source: 'point' },
  file: { kind: 'dict', name: 'file', source: 'file' },
  direction: { kind: 'dict', name: 'direction', source: 'direction' },
  decode_error: { kind: 'dict', name: 'decode_error', source: 'error' },
  file_offset: { kind: 'fileOffset', name: 'file_offset' },
  vlan_ids: { kind: 'vlan', name: 'vlan_ids' },
  more_fragments: {
    kind: 'bool',
    name: 'more_fragments',
    data: 'moreFragments',
    validity: { kind: 'bytes', key: 'moreFragmentsValid' },
  },
};

/** `nullif(x, 0)` columns in packetFields */
const NULL_IF_ZERO = new Set(['ip_version', 'inner_ip_version']);

function validityOf(col: StageColumn): Validity {
  if (col.valid) return { kind: 'bytes', key: col.valid };
  if (col.whenIpVersion) return { kind: 'ipVersion', ...col.whenIpVersion };
  if (NULL_IF_ZERO.has(col.name)) return { kind: 'nonZero' };
  return { kind: 'none' };
}

function specOf(name: string): PacketColumnSpec {
  const special = SPECIAL[name];
  if (special) return special;
  const col = stageColumns.find((c) => c.name === name);
  if (!col) throw new Error(`packets-parquet: no storage for column ${name}`);
  const validity = validityOf(col);
  const src = col.source;
  switch (src.kind) {
    case 'u8':
    case 'u16':
    case 'u32':
      return {
        kind: 'int32',
        name,
        source: src,
        validity,
        stats: WITH_STATS.has(name),
        delta: DELTA.has(name),
      };
    case 'u64':
      return {
        kind: 'int64',
        name,
        data: src.data,
        validity,
        signed: col.type === 'BIGINT',
        stats: WITH_STATS.has(name),
        delta: DELTA.has(name),
        values: VALUES.has(name),
      };
    case 'ip6':
      return { kind: 'ip6', name, data: src.data, validity };
    default:
      throw new Error(`packets-parquet: no encoder for column ${name} (${src.kind})`);
  }
}

/** The Parquet columns of the packets table, in packetFields order. */
export const packetColumnSpecs: readonly PacketColumnSpec[] = packetFields
  .filter((f) => !isViewOnly(f))
  .map((f) => specOf(f.name));

const intBits = { u8: 8, u16: 16, u32: 32 } as const;

function nullable(spec: PacketColumnSpec): boolean {
  if (spec.kind === 'dict') return spec.source === 'direction' || spec.source === 'error';
  if (spec.kind === 'fileOffset' || spec.kind === 'vlan') return spec.kind === 'vlan';
  return spec.validity.kind !== 'none';
}

/** Schema elements (depth first) of one column. */
function schemaNodes(spec: PacketColumnSpec): SchemaNode[] {
  const repetition = nullable(spec) ? Repetition.OPTIONAL : Repetition.REQUIRED;
  const name = spec.name;
  switch (spec.kind) {
    case 'int32':
      return [intNode(name, intBits[spec.source.kind], false, repetition)];
    case 'int64':
      return [intNode(name, 64, spec.signed, repetition)];
    case 'fileOffset':
      return [intNode(name, 64, false, repetition)];
    case 'ip6':
      // no logical type: DuckDB reads an unannotated FIXED_LEN_BYTE_ARRAY as BLOB, like the old BYTE_ARRAY
      return [{ name, type: PhysicalType.FIXED_LEN_BYTE_ARRAY, typeLength: 16, repetition }];
    case 'bool':
      return [{ name, type: PhysicalType.BOOLEAN, repetition }];
    case 'dict':
      return [stringNode(name, repetition)];
    case 'vlan':
      // the three-level LIST of the spec; elements are never null inside a list
      return [
        { name, repetition, children: 1, converted: ConvertedType.LIST, logical: { kind: 'list' } },
        { name: 'list', repetition: Repetition.REPEATED, children: 1 },
        intNode('element', 16, false, Repetition.REQUIRED),
      ];
  }
}

/** The footer schema: the root, then every column. */
export const packetsSchema: readonly SchemaNode[] = [
  { name: 'schema', children: packetColumnSpecs.length },
  ...packetColumnSpecs.flatMap(schemaNodes),
];

function physicalType(spec: PacketColumnSpec): PhysicalType {
  const leaf = schemaNodes(spec).at(-1)!;
  return leaf.type!;
}

/** One chunk builder per column, for row groups of up to `rowGroupRows` rows (0: not known). */
export function packetChunkBuilders(rowGroupRows = 0): ChunkBuilder[] {
  return packetColumnSpecs.map(
    (spec) =>
      new ChunkBuilder(
        physicalType(spec),
        spec.kind === 'vlan' ? [spec.name, 'list', 'element'] : [spec.name],
        {
          stats: (spec.kind === 'int32' || spec.kind === 'int64') && spec.stats,
          values: spec.kind === 'int64' && spec.values,
          expectValues: rowGroupRows,
        },
      ),
  );
}

/** Dictionaries and id translation for the string columns, owned by the dataset writer. */
export interface EncodeContext {
  /** largest valid id of each dictionary when the page is encoded */
  maxPoint: number;
  maxFile: number;
  maxError: number;
  /** batch decode_error id -> writer dictionary id */
  errorMap: Uint16Array;
}

/**
 * The rows where a column is not null, shared by every column with the same validity (the five TCP
 * columns, both ports, both addresses...): its definition levels are packed once, and its row list
 * lets each column gather only its non-null values instead of testing every row again.
 */
export interface RowSet {
  /** definition levels, `[u32 length][runs]` */
  levels: Uint8Array;
  /** non-null rows */
  count: number;
  /** the non-null rows in order, when some but not all rows are */
  rows: Uint32Array | null;
  /** the 0/1 validity bytes the set was made from, when some but not all rows are */
  valid: Uint8Array | null;
}

/** Per-writer scratch, allocated once per batch capacity and reused for every batch. */
export class EncodeScratch {
  readonly ids: Uint16Array;
  readonly bytes: Uint8Array;
  readonly levelsRep: Uint8Array;
  readonly levelsDef: Uint8Array;
  readonly vlanValues: Uint32Array;
  /**
   * a page's values before ChunkBuilder.addPage copies them into the chunk (up to 16 bytes a row):
   * one scratch for every column, as each page is copied out before the next is encoded
   */
  readonly words: Uint32Array;
  /** dictionary index sections (bit width byte, run header, up to 2 bytes a value) */
  readonly indices: Uint8Array;
  /** deltas of a DELTA_BINARY_PACKED page (int32, or exact doubles), and the page's values section */
  readonly deltas32: Deltas & { kind: 'int32' };
  readonly deltas: Deltas & { kind: 'double' };
  readonly packed: Uint8Array;
  /** smallest and largest offset from a page's first value (laneDeltas) */
  readonly span = { lo: 0, hi: 0 };
  /** row sets of the batch being encoded, by validity */
  readonly sets = new Map<string, RowSet>();
  /** the sets of the batch with some but not all rows valid: equal validity bytes share one */
  readonly mixed: RowSet[] = [];
  private readonly rowLists = new Map<string, Uint32Array>();
  private readonly validLists = new Map<string, Uint8Array>();
  readonly capacity: number;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.ids = new Uint16Array(capacity + 8);
    this.bytes = new Uint8Array(capacity + 8);
    this.levelsRep = new Uint8Array(4 * capacity + 8);
    this.levelsDef = new Uint8Array(4 * capacity + 8);
    this.vlanValues = new Uint32Array(4 * capacity + 8);
    this.words = new Uint32Array(4 * capacity + 8);
    this.indices = new Uint8Array(2 * capacity + 16);
    this.deltas32 = { kind: 'int32', d: new Int32Array(capacity) };
    this.deltas = { kind: 'double', d: new Float64Array(capacity) };
    this.packed = new Uint8Array(deltaPackedBound(capacity));
  }

  /** Starts a new batch: its row sets are its own. */
  clear(): void {
    this.sets.clear();
    this.mixed.length = 0;
  }

  rowList(key: string): Uint32Array {
    return listFor(this.rowLists, key, () => new Uint32Array(this.capacity + 1));
  }

  /** 0/1 bytes computed for a validity that is no array of the batch (kept while the batch is encoded) */
  validList(key: string): Uint8Array {
    return listFor(this.validLists, key, () => new Uint8Array(this.capacity + 8));
  }
}

function listFor<T>(lists: Map<string, T>, key: string, make: () => T): T {
  let list = lists.get(key);
  if (list === undefined) {
    list = make();
    lists.set(key, list);
  }
  return list;
}

function validityKey(v: Validity, column: string): string {
  switch (v.kind) {
    case 'none':
      return '';
    case 'bytes':
      return v.key;
    case 'ipVersion':
      return `${v.column}=${v.version}`;
    case 'nonZero':
      return `${column}!=0`;
  }
}

/** 0/1 bytes of "value at row !== 0" into `out`. */
function nonZeroBytes(x: Uint8Array | Uint16Array, n: number, out: Uint8Array): Uint8Array {
  for (let r = 0; r < n; r++) out[r] = x[r] !== 0 ? 1 : 0;
  return out;
}

/**
 * The row set of a validity for rows [0, n) of `c`, or null for a required column. Computed once per
 * batch and validity; validities with equal bytes (shared arrays, and arrays that the traffic fills
 * alike: the IPv4 fields and "IP version is 4", the TCP fields...) share one set.
 */
function rowSet(
  v: Validity,
  column: string,
  c: PacketColumns,
  own: Uint8Array | Uint16Array | null,
  n: number,
  s: EncodeScratch,
): RowSet | null {
  if (v.kind === 'none') return null;
  const key = validityKey(v, column);
  const cached = s.sets.get(key);
  if (cached) return cached;
  let valid: Uint8Array;
  if (v.kind === 'bytes') valid = c[v.key];
  else if (v.kind === 'nonZero') {
    // direction in a pcap, decode_error and the inner IP version are mostly all zero: all NULL
    if (allZero(own!, n)) return cacheSet(s, key, uniformSet(0, n));
    valid = nonZeroBytes(own!, n, s.validList(key));
  } else {
    const ver = c[v.column];
    // the inner IP version of traffic without tunnels: all NULL, found by a word scan (~4 ns a row
    // less than comparing row by row, for each of the inner address columns)
    if (allZero(ver, n)) return cacheSet(s, key, uniformSet(0, n));
    const want = v.version;
    valid = s.validList(key);
    for (let r = 0; r < n; r++) valid[r] = ver[r] === want ? 1 : 0;
  }
  // columns of a layer the traffic has everywhere or nowhere: one RLE run, no bit packing
  const same = uniformBits(valid, n);
  if (same >= 0) return cacheSet(s, key, uniformSet(same, n));
  for (const other of s.mixed) if (sameBytes(other.valid!, valid, n)) return cacheSet(s, key, other);
  const lv = bitLevels(valid, n);
  // one spare slot: the branch-free loop stores every row and advances only past valid ones
  const rows = s.rowList(key);
  let k = 0;
  for (let r = 0; r < n; r++) {
    rows[k] = r;
    k += valid[r]!;
  }
  const set = { levels: lv.bytes, count: lv.count, rows, valid };
  s.mixed.push(set);
  return cacheSet(s, key, set);
}

function uniformSet(value: number, n: number): RowSet {
  return { levels: rleLevels(value, n, 1), count: value * n, rows: null, valid: null };
}

/** True when a[0..n) equals b[0..n); four bytes a load (both start on a 4-byte boundary). */
function sameBytes(a: Uint8Array, b: Uint8Array, n: number): boolean {
  if (a === b) return true;
  const wa = new Uint32Array(a.buffer, a.byteOffset, n >>> 2);
  const wb = new Uint32Array(b.buffer, b.byteOffset, n >>> 2);
  for (let i = 0; i < wa.length; i++) if (wa[i] !== wb[i]) return false;
  for (let r = wa.length << 2; r < n; r++) if (a[r] !== b[r]) return false;
  return true;
}

function cacheSet(s: EncodeScratch, key: string, set: RowSet): RowSet {
  s.sets.set(key, set);
  return set;
}

export function asBytes(a: Uint32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

// One gather per source element type, so each loop stays monomorphic.
function gatherU8(src: Uint8Array, rows: Uint32Array, m: number, out: Uint32Array): void {
  for (let k = 0; k < m; k++) out[k] = src[rows[k]!]!;
}
function gatherU16(src: Uint16Array, rows: Uint32Array, m: number, out: Uint32Array): void {
  for (let k = 0; k < m; k++) out[k] = src[rows[k]!]!;
}
function gatherU32(src: Uint32Array, rows: Uint32Array, m: number, out: Uint32Array): void {
  for (let k = 0; k < m; k++) out[k] = src[rows[k]!]!;
}

/**
 * Pages at least this long store u8/u16 columns as RLE_DICTIONARY over the dictionary 0..max, so a
 * value costs 1 or 2 bytes (a copy of the column) instead of 4, and a constant page a few bytes.
 * Shorter pages stay PLAIN INT32, where a dictionary of up to 65536 entries would not pay for itself.
 * u32 columns whose page holds no value above 65535 (lengths, IPv4 ids) are stored the same way.
 */
const DICTIONARY_MIN_ROWS = { u8: 256, u16: 16384, u32: 16384 } as const;
/** pages of a column with a dictionary of values use it from this many values on */
const VALUE_IDS_MIN_VALUES = 256;
/** DELTA_BINARY_PACKED pages have at least this many values (shorter ones are PLAIN) */
const DELTA_MIN_VALUES = 256;
const TWO_32 = 4294967296;

function gatherBytes(src: Uint8Array, rows: Uint32Array, m: number, out: Uint8Array): void {
  for (let k = 0; k < m; k++) out[k] = src[rows[k]!]!;
}
function gatherShorts(src: Uint16Array, rows: Uint32Array, m: number, out: Uint16Array): void {
  for (let k = 0; k < m; k++) out[k] = src[rows[k]!]!;
}

/** A u8/u16 column as dictionary indices that are the values themselves (see DICTIONARY_MIN_ROWS). */
function encodeSmallInt(
  data: Uint8Array | Uint16Array,
  set: RowSet | null,
  n: number,
  s: EncodeScratch,
  out: ChunkBuilder,
): void {
  const m = set ? set.count : n;
  let vals: Uint8Array | Uint16Array = data;
  if (set?.rows) {
    if (data instanceof Uint8Array) {
      gatherBytes(data, set.rows, m, s.bytes);
      vals = s.bytes;
    } else {
      gatherShorts(data, set.rows, m, s.ids);
      vals = s.ids;
    }
  }
  let lo = 0xffff;
  let hi = 0;
  let constant: boolean | undefined;
  if (data instanceof Uint16Array || out.stats) {
    if (m > 0) {
      if (vals instanceof Uint8Array) minMaxU8(vals, m);
      else minMaxU16(vals, m);
      lo = range.lo;
      hi = range.hi;
    }
    constant = lo === hi;
  } else hi = 255;
  if (out.stats && m > 0) out.stats.add(0, lo, 0, hi);
  addIndexPage(vals, m, data instanceof Uint8Array ? 255 : hi, set ? [set.levels] : [], n, s, out, constant);
}

/**
 * A RLE_DICTIONARY page of integers that are their own ids (`vals[0..m)`, at most `max`), and the
 * dictionary 0..max it needs. A page of RLE_DICTIONARY needs a dictionary page before it, even when
 * every row is NULL.
 */
function addIndexPage(
  vals: Uint8Array | Uint16Array,
  m: number,
  max: number,
  /** the page's definition levels (none for a required column) */
  levels: readonly Uint8Array[],
  n: number,
  s: EncodeScratch,
  out: ChunkBuilder,
  /** every value is the same (undefined: not known) */
  constant?: boolean,
): void {
  out.dictionaryMax = Math.max(out.dictionaryMax, m === 0 ? 0 : max);
  const indices = m > 0 ? dictionaryIndices(vals, m, max, s.indices, constant) : NO_INDICES;
  out.addPage([...levels, indices], n, n - m, Encoding.RLE_DICTIONARY);
}

function encodeInt32(
  spec: PacketColumnSpec & { kind: 'int32' },
  c: PacketColumns,
  n: number,
  s: EncodeScratch,
  out: ChunkBuilder,
): void {
  const data = c[spec.source.data];
  const set = rowSet(spec.validity, spec.name, c, data instanceof Uint32Array ? null : data, n, s);
  if (!(data instanceof Uint32Array)) {
    if (n >= DICTIONARY_MIN_ROWS[spec.source.kind]) {
      encodeSmallInt(data, set, n, s, out);
      return;
    }
  }
  const m = set ? set.count : n;
  let vals = s.words.subarray(0, m);
  if (set?.rows) {
    if (data instanceof Uint8Array) gatherU8(data, set.rows, m, vals);
    else if (data instanceof Uint16Array) gatherU16(data, set.rows, m, vals);
    else gatherU32(data, set.rows, m, vals);
  } else if (data instanceof Uint32Array) {
    // every row or none: the column is the page (addPage copies it)
    vals = data.subarray(0, m);
  } else if (m > 0) vals.set(data.subarray(0, n));
  if (m === 0) {
    out.addPage(set ? [set.levels] : [], n, n);
    return;
  }
  minMaxU32(vals, m);
  const { lo, hi } = range;
  if (out.stats) out.stats.add(0, lo, 0, hi);
  const levels = set ? [set.levels] : [];
  if (spec.delta && m >= DELTA_MIN_VALUES && hi < 2 ** 31) {
    // below 2^31 the values read the same as INT32, and every delta fits an int32
    const d = s.deltas32.d;
    for (let i = 0; i + 1 < m; i++) d[i] = vals[i + 1]! - vals[i]!;
    addDeltaPage(s.deltas32, 0, vals[0]!, m, levels, n, s, out);
    return;
  }
  if (data instanceof Uint32Array && hi <= 0xffff && n >= DICTIONARY_MIN_ROWS.u32) {
    const ids = s.ids.subarray(0, m);
    ids.set(vals);
    addIndexPage(ids, m, hi, levels, n, s, out, lo === hi);
    return;
  }
  out.addPage([...levels, asBytes(vals)], n, n - m);
}

/** A DELTA_BINARY_PACKED page of m values: the first `firstHi:firstLo`, then the m - 1 `deltas`. */
export function addDeltaPage(
  deltas: Deltas,
  firstHi: number,
  firstLo: number,
  m: number,
  levels: Uint8Array[],
  n: number,
  s: EncodeScratch,
  out: ChunkBuilder,
): void {
  const end = deltaBinaryPacked(firstHi, firstLo, deltas, m, s.packed, 0);
  out.addPage([...levels, s.packed.subarray(0, end)], n, n - m, Encoding.DELTA_BINARY_PACKED);
}

/**
 * The deltas of m exact doubles `src[0..m)`: in s.deltas32 when they all fit, else in s.deltas when
 * they are exact, else null (the page stays PLAIN).
 */
function doubleDeltas(src: Float64Array, m: number, s: EncodeScratch): Deltas | null {
  const d32 = s.deltas32.d;
  let fits = true;
  for (let i = 0; i + 1 < m; i++) {
    const x = src[i + 1]! - src[i]!;
    d32[i] = x;
    if ((x | 0) !== x) fits = false;
  }
  if (fits) return s.deltas32;
  const d = s.deltas.d;
  for (let i = 0; i + 1 < m; i++) d[i] = src[i + 1]! - src[i]!;
  return exactDeltas(d, m - 1) ? s.deltas : null;
}

/**
 * As doubleDeltas, for m signed 64-bit lane pairs, through each value's offset from the first (exact
 * while the page spans less than 2^52: always within an hour's partition). Also leaves the smallest
 * and largest offset in s.span for the statistics; null when the page spans more.
 */
export function laneDeltas(vals: Uint32Array, m: number, s: EncodeScratch): Deltas | null {
  const hi0 = vals[1]! | 0;
  const lo0 = vals[0]!;
  const d32 = s.deltas32.d;
  let fits = true;
  let prev = 0;
  let lo = 0;
  let hi = 0;
  for (let i = 1; i < m; i++) {
    const rel = ((vals[2 * i + 1]! | 0) - hi0) * TWO_32 + (vals[2 * i]! - lo0);
    if (rel < lo) lo = rel;
    else if (rel > hi) hi = rel;
    const x = rel - prev;
    d32[i - 1] = x;
    if ((x | 0) !== x) fits = false;
    prev = rel;
  }
  if (lo < -MAX_SPAN || hi > MAX_SPAN) return null;
  s.span.lo = lo;
  s.span.hi = hi;
  if (fits) return s.deltas32;
  const d = s.deltas.d;
  prev = 0;
  for (let i = 1; i < m; i++) {
    const rel = ((vals[2 * i + 1]! | 0) - hi0) * TWO_32 + (vals[2 * i]! - lo0);
    d[i - 1] = rel - prev;
    prev = rel;
  }
  return exactDeltas(d, m - 1) ? s.deltas : null;
}

const MAX_SPAN = 2 ** 52;

/** Adds min/max to `stats` as the value `hi0:lo0` plus the offsets s.span (see laneDeltas). */
export function addSpanStats(stats: MinMax, hi0: number, lo0: number, s: EncodeScratch): void {
  const min = lo0 + s.span.lo;
  const max = lo0 + s.span.hi;
  const minCarry = Math.floor(min / TWO_32);
  const maxCarry = Math.floor(max / TWO_32);
  stats.add((hi0 + minCarry) | 0, min - minCarry * TWO_32, (hi0 + maxCarry) | 0, max - maxCarry * TWO_32);
}

/** Adds the min and max of m signed 64-bit lane pairs to `stats` (high lanes as int32, then low as uint32). */
export function addLaneStats(stats: MinMax, vals: Uint32Array, m: number): void {
  let minHi = vals[1]! | 0;
  let minLo = vals[0]!;
  let maxHi = minHi;
  let maxLo = minLo;
  for (let i = 1; i < m; i++) {
    const hi = vals[2 * i + 1]! | 0;
    const lo = vals[2 * i]!;
    if (hi < minHi || (hi === minHi && lo < minLo)) {
      minHi = hi;
      minLo = lo;
    }
    if (hi > maxHi || (hi === maxHi && lo > maxLo)) {
      maxHi = hi;
      maxLo = lo;
    }
  }
  stats.add(minHi, minLo, maxHi, maxLo);
}

function encodeInt64(
  spec: PacketColumnSpec & { kind: 'int64' },
  c: PacketColumns,
  n: number,
  s: EncodeScratch,
  out: ChunkBuilder,
): void {
  const data = c[spec.data];
  const set = rowSet(spec.validity, spec.name, c, null, n, s);
  const m = set ? set.count : n;
  let vals = data.subarray(0, 2 * m);
  if (set?.rows) {
    vals = s.words.subarray(0, 2 * m);
    const rows = set.rows;
    for (let k = 0; k < m; k++) {
      const r = 2 * rows[k]!;
      vals[2 * k] = data[r]!;
      vals[2 * k + 1] = data[r + 1]!;
    }
  }
  const levels = set ? [set.levels] : [];
  const deltas = spec.delta && m >= DELTA_MIN_VALUES ? laneDeltas(vals, m, s) : null;
  if (deltas) {
    if (out.stats) addSpanStats(out.stats, vals[1]! | 0, vals[0]!, s);
    addDeltaPage(deltas, vals[1]! | 0, vals[0]!, m, levels, n, s, out);
    return;
  }
  if (out.stats && m > 0) addLaneStats(out.stats, vals, m);
  if (addValueIdPage(vals, m, set, n, s, out)) return;
  out.addPage([...levels, asBytes(vals)], n, n - m);
}

/**
 * A page of a column with a dictionary of values (`out.values`): its m 64-bit values as ids. False when the column has none, the page is short, or the dictionary is full (PLAIN then).
 */
function addValueIdPage(
  vals: Uint32Array,
  m: number,
  set: RowSet | null,
  n: number,
  s: EncodeScratch,
  out: ChunkBuilder,
): boolean {
  const dict = out.values;
  if (!dict || m < VALUE_IDS_MIN_VALUES || !dict.encode(vals, m, s.ids)) return false;
  const ids = s.ids.subarray(0, m);
  const indices = dictionaryIndices(ids, m, dict.size - 1, s.indices);
  out.addPage(set ? [set.levels, indices] : [indices], n, n - m, Encoding.RLE_DICTIONARY);
  return true;
}

function encodeFileOffset(c: PacketColumns, n: number, s: EncodeScratch, out: ChunkBuilder): void {
  const src = c.fileOffset;
  const deltas = n >= DELTA_MIN_VALUES ? doubleDeltas(src, n, s) : null;
  if (deltas) {
    const first = src[0]!;
    const hi = Math.floor(first / TWO_32);
    addDeltaPage(deltas, hi, (first - hi * TWO_32) >>> 0, n, [], n, s, out);
    return;
  }
  const vals = s.words.subarray(0, 2 * n);
  for (let r = 0; r < n; r++) {
    const x = src[r]!;
    // exact for integers below 2^53: ToUint32 is x mod 2^32
    const lo = x >>> 0;
    vals[2 * r] = lo;
    vals[2 * r + 1] = (x - lo) / TWO_32;
  }
  out.addPage([asBytes(vals)], n, 0);
}

function encodeIp6(
  spec: PacketColumnSpec & { kind: 'ip6' },
  c: PacketColumns,
  n: number,
  s: EncodeScratch,
  out: ChunkBuilder,
): void {
  const data = c[spec.data];
  const set = rowSet(spec.validity, spec.name, c, null, n, s)!;
  const m = set.count;
  if (m === 0) {
    out.addPage([set.levels], n, n);
    return;
  }
  if (!set.rows) {
    out.addPage([set.levels, data.subarray(0, 16 * n)], n, 0);
    return;
  }
  const rows = set.rows;
  const words = new Uint32Array(data.buffer, data.byteOffset, 4 * n);
  const vals = s.words.subarray(0, 4 * m);
  for (let k = 0; k < m; k++) {
    const w = 4 * rows[k]!;
    const o = 4 * k;
    vals[o] = words[w]!;
    vals[o + 1] = words[w + 1]!;
    vals[o + 2] = words[w + 2]!;
    vals[o + 3] = words[w + 3]!;
  }
  out.addPage([set.levels, asBytes(vals)], n, n - m);
}

function encodeBool(
  spec: PacketColumnSpec & { kind: 'bool' },
  c: PacketColumns,
  n: number,
  s: EncodeScratch,
  out: ChunkBuilder,
): void {
  const data = c[spec.data];
  const set = rowSet(spec.validity, spec.name, c, null, n, s)!;
  const m = set.count;
  out.addPage([set.levels, plainBools(data, m, set.rows)], n, n - m);
}

const DIRECTION_VALIDITY: Validity = { kind: 'nonZero' };
/** an index section with a bit width and no run */
const NO_INDICES = new Uint8Array([8]);

function encodeDict(
  spec: PacketColumnSpec & { kind: 'dict' },
  c: PacketColumns,
  n: number,
  s: EncodeScratch,
  ctx: EncodeContext,
  out: ChunkBuilder,
): void {
  if (spec.source === 'point' || spec.source === 'file') {
    const ids = spec.source === 'point' ? c.point : c.file;
    const max = spec.source === 'point' ? ctx.maxPoint : ctx.maxFile;
    out.addPage([dictionaryIndices(ids, n, max, s.indices)], n, 0, Encoding.RLE_DICTIONARY);
    return;
  }
  // direction: codes 1/2 -> entries 0/1; decode_error: batch ids -> writer ids; 0 is NULL in both
  const codes = spec.source === 'direction' ? c.direction : c.decodeError;
  const set = rowSet(DIRECTION_VALIDITY, spec.name, c, codes, n, s)!;
  const m = set.count;
  if (m === 0) {
    // DuckDB reads the bit-width byte even when a page holds no index (all rows NULL)
    out.addPage([set.levels, NO_INDICES], n, n, Encoding.RLE_DICTIONARY);
    return;
  }
  const ids = s.ids;
  const rows = set.rows;
  if (spec.source === 'direction') {
    for (let k = 0; k < m; k++) ids[k] = codes[rows ? rows[k]! : k]! - 1;
  } else {
    const map = ctx.errorMap;
    for (let k = 0; k < m; k++) ids[k] = map[codes[rows ? rows[k]! : k]!]!;
  }
  const max = spec.source === 'direction' ? 1 : ctx.maxError;
  out.addPage([set.levels, dictionaryIndices(ids, m, max, s.indices)], n, n - m, Encoding.RLE_DICTIONARY);
}

function encodeVlan(c: PacketColumns, n: number, s: EncodeScratch, out: ChunkBuilder): void {
  const count = c.vlanCount;
  let tagged = 0;
  for (let r = 0; r < n; r++) tagged |= count[r]!;
  if (tagged === 0) {
    // untagged traffic: every row is a NULL list (def 0, rep 0)
    out.addPage([rleLevels(0, n, 1), rleLevels(0, n, 2)], n, n);
    return;
  }
  const def = s.levelsDef;
  const vals = s.vlanValues;
  const vlan = c.vlan;
  if ((tagged & ~1) === 0) {
    // at most one tag a row (the usual 802.1Q): one level a row, no repetition; branch-free, so the
    // slot after the last value is written too (the scratch has room)
    let values = 0;
    for (let r = 0; r < n; r++) {
      const k = count[r]!;
      def[r] = k << 1;
      vals[values] = vlan[4 * r]!;
      values += k;
    }
    out.addPage(
      [rleLevels(0, n, 1), packLevels(def, n, 2), asBytes(vals.subarray(0, values))],
      n,
      n - values,
    );
    return;
  }
  const rep = s.levelsRep;
  let levels = 0;
  let values = 0;
  let nulls = 0;
  for (let r = 0; r < n; r++) {
    const k = Math.min(count[r]!, 4);
    if (k === 0) {
      rep[levels] = 0;
      def[levels++] = 0;
      nulls++;
      continue;
    }
    for (let j = 0; j < k; j++) {
      rep[levels] = j === 0 ? 0 : 1;
      def[levels++] = 2;
      vals[values++] = vlan[4 * r + j]!;
    }
  }
  out.addPage(
    [packLevels(rep, levels, 1), packLevels(def, levels, 2), asBytes(vals.subarray(0, values))],
    levels,
    nulls,
  );
}

/** Encodes rows [0, n) of `c` as one data page per column into `chunks` (from packetChunkBuilders). */
export function encodePacketPages(
  c: PacketColumns,
  n: number,
  s: EncodeScratch,
  ctx: EncodeContext,
  chunks: readonly ChunkBuilder[],
): void {
  s.clear();
  for (let i = 0; i < packetColumnSpecs.length; i++) {
    const spec = packetColumnSpecs[i]!;
    const out = chunks[i]!;
    switch (spec.kind) {
      case 'int32':
        encodeInt32(spec, c, n, s, out);
        break;
      case 'int64':
        encodeInt64(spec, c, n, s, out);
        break;
      case 'fileOffset':
        encodeFileOffset(c, n, s, out);
        break;
      case 'ip6':
        encodeIp6(spec, c, n, s, out);
        break;
      case 'bool':
        encodeBool(spec, c, n, s, out);
        break;
      case 'dict':
        encodeDict(spec, c, n, s, ctx, out);
        break;
      case 'vlan':
        encodeVlan(c, n, s, out);
        break;
    }
  }
}

/** PLAIN INT32 0, 1, ..., 65535, made once: every id dictionary is a prefix of it. */
let idRange: Uint8Array | null = null;

/**
 * The dictionary page body of integers stored as their own ids: PLAIN INT32 0, 1, ..., max. Read-only
 * (a view of one shared range up to 65535, which every row group's id dictionary is: a page's ids are at
 * most 16 bits).
 */
export function plainRange(max: number): Uint8Array {
  if (max <= 0xffff) {
    if (idRange === null) {
      const values = new Uint32Array(0x10000);
      for (let i = 0; i <= 0xffff; i++) values[i] = i;
      idRange = asBytes(values);
    }
    return idRange.subarray(0, 4 * (max + 1));
  }
  const values = new Uint32Array(max + 1);
  for (let i = 0; i <= max; i++) values[i] = i;
  return asBytes(values);
}

/** PLAIN BYTE_ARRAY bodies (a 4-byte length before each UTF-8 string), in one buffer reused call to call. */
export class PlainStrings {
  private buf = Buffer.allocUnsafe(1 << 16);
  /** the non-null strings of the last body */
  count = 0;

  /** The body of the non-null strings of `values[from, from + m)`: a view, valid until the next call. */
  encode(values: readonly (string | null)[], from = 0, m = values.length): Uint8Array {
    let bound = 0;
    for (let r = from; r < from + m; r++) {
      const v = values[r];
      // at most three bytes a UTF-16 unit
      if (v !== null && v !== undefined) bound += 4 + 3 * v.length;
    }
    if (this.buf.length < bound) this.buf = Buffer.allocUnsafe(Math.max(bound, 2 * this.buf.length));
    const buf = this.buf;
    let at = 0;
    let count = 0;
    for (let r = from; r < from + m; r++) {
      const v = values[r];
      if (v === null || v === undefined) continue;
      // written in place: no encoded copy (or result object) per string
      const n = buf.write(v, at + 4);
      buf.writeUInt32LE(n, at);
      at += 4 + n;
      count++;
    }
    this.count = count;
    return buf.subarray(0, at);
  }
}

const dictionaryStrings = new PlainStrings();

/** A PLAIN BYTE_ARRAY dictionary page body, its own copy (a page outlives the next body). */
export function plainStrings(values: readonly string[]): Uint8Array {
  const body = dictionaryStrings.encode(values);
  const out = new Uint8Array(body.length);
  out.set(body);
  return out;
}

/** PLAIN booleans: a bit per value (of `vals` at `rows[0..m)`, or at 0..m), LSB first. */
export function plainBools(
  vals: ArrayLike<number>,
  m: number,
  rows: ArrayLike<number> | null = null,
): Uint8Array {
  const bits = new Uint8Array((m + 7) >>> 3);
  for (let k = 0; k < m; k++) if (vals[rows ? rows[k]! : k] !== 0) bits[k >>> 3]! |= 1 << (k & 7);
  return bits;
}
