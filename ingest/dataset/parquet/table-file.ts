/**
 * A Parquet file of any table the analysis writes (`verdicts`, `verdict_texts`, `sightings`), from
 * typed-array columns a batch at a time, with the pages and framing the packets table uses
 * (packets-parquet.ts): small integers as ids that are their own values, increasing ones
 * DELTA_BINARY_PACKED, texts as ids into a dictionary made per row group from the values a row group
 * uses. Staging these rows in DuckDB and having it write them cost the analysis 1.5 µs a row (its
 * appender copies, sketches and compresses every value, then the COPY reads them back); this writes
 * a row in tens of nanoseconds, as rows arrive, so nothing is left to write when the analysis ends.
 */
import { ChunkBuilder } from './column-chunk.ts';
import { Encoding, intNode, PhysicalType, Repetition, type SchemaNode, stringNode } from './format.ts';
import { minMaxU8, minMaxU16, minMaxU32, range } from './min-max.ts';
import {
  addDeltaPage,
  addLaneStats,
  addSpanStats,
  asBytes,
  EncodeScratch,
  laneDeltas,
  PlainStrings,
  plainBools,
  plainRange,
  plainStrings,
} from './packets-parquet.ts';
import { ParquetFile } from './parquet-file.ts';
import { bitLevels, hybridBound, hybridIndices, rleLevels } from './rle-hybrid.ts';

/** One column of a table file. `nullable`: a batch may give it validity bytes (0: NULL). */
export type TableColumn =
  /**
   * an unsigned integer of `bits` (its values in a Uint8/16/32Array); `delta` for increasing ones;
   * `signed` (32 bits): typed INTEGER, for values that are all below 2^31 where not NULL
   */
  | {
      kind: 'uint';
      name: string;
      bits: 8 | 16 | 32;
      signed?: boolean;
      nullable?: boolean;
      stats?: boolean;
      delta?: boolean;
    }
  /** a 64-bit integer, its values given as (lo, hi) uint32 lane pairs */
  | { kind: 'int64'; name: string; signed: boolean; nullable?: boolean; stats?: boolean; delta?: boolean }
  /** 0/1 bytes */
  | { kind: 'bool'; name: string; nullable?: boolean }
  /**
   * ids into `values`: fixed for the file, or with `growing` a list that may grow between batches (each
   * batch's ids below its length then; every row group gets a dictionary of the values it uses)
   */
  | { kind: 'text'; name: string; values: readonly string[]; nullable?: boolean; growing?: boolean }
  /** a string per row (null: NULL) */
  | { kind: 'string'; name: string };

const TWO_32 = 4294967296;

/** `v` (an integer, |v| < 2^53) into row `r` of an int64 column's lanes. */
export function setInt64(lanes: Uint32Array, r: number, v: number): void {
  const hi = Math.floor(v / TWO_32);
  lanes[2 * r] = v - hi * TWO_32;
  lanes[2 * r + 1] = hi | 0;
}

// a bigint's two halves through one 8-byte buffer: BigInt shifts and masks make a BigInt each
const big = new BigInt64Array(1);
const bigHalves = new Uint32Array(big.buffer);

/** `v` (any 64-bit integer) into row `r` of an int64 column's lanes, without a BigInt made. */
export function setBigInt64(lanes: Uint32Array, r: number, v: bigint): void {
  big[0] = v;
  lanes[2 * r] = bigHalves[0]!;
  lanes[2 * r + 1] = bigHalves[1]!;
}

/** One column's rows of a batch, as its kind takes them. */
export type ColumnRows =
  | { data: Uint8Array | Uint16Array | Uint32Array; valid?: Uint8Array | undefined }
  | { lanes: Uint32Array; valid?: Uint8Array | undefined }
  | { strings: readonly (string | null)[] };

/** Rows per data page: a page's text ids then fit 16 bits whatever the dictionary. */
const PAGE_ROWS = 1 << 16;
/** DuckDB's row groups are 122 880 rows; a row group's pages are held until it is written */
const ROW_GROUP_ROWS = 1 << 18;
/** integer pages of at least this many values may be ids into 0..max (see `encodeUint`) */
const ID_PAGE_MIN_VALUES = 256;
const DELTA_MIN_VALUES = 256;
/** texts of at most this many values are written with every value in each row group's dictionary */
const TEXT_AS_IS = 256;
const CREATED_BY = 'hoptrace table-file 1';

function schemaNode(c: TableColumn): SchemaNode {
  // a string column is always nullable
  const repetition = c.kind === 'string' || c.nullable ? Repetition.OPTIONAL : Repetition.REQUIRED;
  switch (c.kind) {
    case 'uint':
      return intNode(c.name, c.bits, c.signed === true, repetition);
    case 'int64':
      return intNode(c.name, 64, c.signed, repetition);
    case 'bool':
      return { name: c.name, type: PhysicalType.BOOLEAN, repetition };
    case 'text':
    case 'string':
      return stringNode(c.name, repetition);
  }
}

/** A text column's dictionary of the row group being filled: the file's ids it uses, in first use. */
class LocalTexts {
  /** file id -> row group id (-1: not used yet); grown with a growing list */
  private local: Int32Array;
  readonly used: number[] = [];

  constructor(readonly values: readonly string[]) {
    this.local = new Int32Array(values.length).fill(-1);
  }

  /**
   * Whether a page of `m` more rows surely keeps the row group's ids within 16 bits: at most `m` new
   * ids, and never more than the values not used yet (a list of up to 65 536 values always fits; a
   * bound of `m` alone cut every row group at one page).
   */
  room(m: number): boolean {
    return this.used.length + Math.min(m, this.values.length - this.used.length) <= 1 << 16;
  }

  /** The row group ids of `ids[0..m)` into `out`. */
  map(ids: Uint8Array | Uint16Array | Uint32Array, m: number, out: Uint16Array): number {
    // a page has at most 2^16 rows, and `room` was asked first: every id fits 16 bits; every id is
    // below the values' count (encodeText checked)
    if (this.local.length < this.values.length) {
      const grown = new Int32Array(Math.max(this.values.length, 2 * this.local.length)).fill(-1);
      grown.set(this.local);
      this.local = grown;
    }
    const local = this.local;
    const used = this.used;
    for (let k = 0; k < m; k++) {
      const id = ids[k]!;
      let l = local[id]!;
      if (l < 0) {
        l = used.length;
        local[id] = l;
        used.push(id);
      }
      out[k] = l;
    }
    return used.length - 1;
  }

  /** The dictionary page body, and forgets the row group's ids. */
  take(): { bytes: Uint8Array; entries: number } {
    const texts = this.used.map((id) => this.values[id]!);
    for (const id of this.used) this.local[id] = -1;
    this.used.length = 0;
    // a dictionary page is never empty: readers differ on zero-entry dictionaries
    if (texts.length === 0) texts.push('');
    return { bytes: plainStrings(texts), entries: texts.length };
  }
}

export class TableFile {
  private readonly file: ParquetFile;
  private readonly chunks: ChunkBuilder[];
  private readonly locals: (LocalTexts | null)[];
  private readonly scratch = new EncodeScratch(PAGE_ROWS);
  /** non-null rows of the page being encoded (gathered once per column) */
  private readonly rows = new Uint32Array(PAGE_ROWS + 1);
  /** a text page's ids into its row group's dictionary */
  private readonly textIds = new Uint16Array(PAGE_ROWS);
  /** a page's dictionary indices */
  private readonly indices = new Uint8Array(hybridBound(PAGE_ROWS));
  private readonly strings = new PlainStrings();
  /** the dictionary pages of text columns written with all their values, by column */
  private readonly textPages = new Map<number, { bytes: Uint8Array; entries: number }>();
  private groupRows = 0;
  private readonly rowGroupRows: number;
  /** rows written (row groups and the one being filled) */
  count = 0;

  constructor(
    path: string,
    private readonly columns: readonly TableColumn[],
    opts: { rowGroupRows?: number } = {},
  ) {
    this.rowGroupRows = opts.rowGroupRows ?? ROW_GROUP_ROWS;
    const schema: SchemaNode[] = [{ name: 'schema', children: columns.length }, ...columns.map(schemaNode)];
    this.chunks = columns.map(
      (c) =>
        new ChunkBuilder(schemaNode(c).type!, [c.name], {
          stats: (c.kind === 'uint' || c.kind === 'int64') && c.stats === true,
          expectValues: this.rowGroupRows,
        }),
    );
    this.locals = columns.map((c) =>
      c.kind === 'text' && (c.growing === true || c.values.length > TEXT_AS_IS)
        ? new LocalTexts(c.values)
        : null,
    );
    this.file = new ParquetFile(path, schema, columns.length);
  }

  get path(): string {
    return this.file.path;
  }

  /** Adds rows [start, start + n) of `batch` (one entry per column, in order); the arrays may be reused after. */
  append(batch: readonly ColumnRows[], n: number, start = 0): void {
    if (batch.length !== this.columns.length)
      throw new Error(`${this.file.path}: ${batch.length} columns given for ${this.columns.length}`);
    const end = start + n;
    for (let from = start; from < end; ) {
      const m = Math.min(end - from, PAGE_ROWS, this.rowGroupRows - this.groupRows);
      if (!this.textsFit(m)) this.flush();
      this.page(batch, from, m);
      from += m;
      this.groupRows += m;
      this.count += m;
      if (this.groupRows >= this.rowGroupRows) this.flush();
    }
  }

  /** Writes the last row group and the footer. */
  close(): void {
    this.flush();
    this.file.close(CREATED_BY);
  }

  /** Closes the file without a footer (the caller removes it). */
  abort(): void {
    this.file.abort();
  }

  /** Whether every text column's row group dictionary has room for `m` more distinct ids. */
  private textsFit(m: number): boolean {
    for (const l of this.locals) if (l && !l.room(m)) return false;
    return true;
  }

  private flush(): void {
    if (this.groupRows === 0) return;
    this.file.writeRowGroup(this.groupRows, this.chunks.length, (i, offset) => {
      const chunk = this.chunks[i]!;
      const dict = this.dictionaryOf(i, chunk);
      return chunk.take(offset, dict?.bytes ?? null, dict?.entries ?? 0);
    });
    this.groupRows = 0;
  }

  private dictionaryOf(i: number, chunk: ChunkBuilder): { bytes: Uint8Array; entries: number } | null {
    const c = this.columns[i]!;
    const local = this.locals[i];
    if (local) return local.take();
    if (c.kind === 'text') {
      // the same for every row group: made once
      let page = this.textPages.get(i);
      if (page === undefined) {
        const values = c.values.length > 0 ? c.values : [''];
        page = { bytes: plainStrings(values), entries: values.length };
        this.textPages.set(i, page);
      }
      return page;
    }
    if (chunk.dictionaryMax >= 0)
      return { bytes: plainRange(chunk.dictionaryMax), entries: chunk.dictionaryMax + 1 };
    return null;
  }

  /** Encodes rows [from, from + m) of every column as one data page each. */
  private page(batch: readonly ColumnRows[], from: number, m: number): void {
    for (let i = 0; i < this.columns.length; i++) {
      const c = this.columns[i]!;
      const rows = batch[i]!;
      const out = this.chunks[i]!;
      if ('strings' in rows) {
        this.encodeStrings(rows.strings, from, m, out);
        continue;
      }
      let levels: Uint8Array[] = [];
      let kept: Uint32Array | null = null;
      let count = m;
      if (c.kind !== 'string' && c.nullable) {
        const valid = rows.valid?.subarray(from, from + m);
        if (valid) {
          // validity bytes are read four at a time (bitLevels): a view off a 4-byte boundary is copied
          const aligned = valid.byteOffset % 4 === 0 ? valid : valid.slice();
          const packed = bitLevels(aligned, m);
          levels = [packed.bytes];
          count = packed.count;
          if (count > 0 && count < m) kept = this.keptRows(aligned, m);
        } else levels = [rleLevels(1, m, 1)];
      }
      if ('lanes' in rows) {
        this.encodeInt64(c, rows.lanes, from, m, kept, count, levels, out);
        continue;
      }
      const vals = this.gathered(rows.data, from, m, kept, count);
      if (c.kind === 'bool') encodeBool(vals, count, levels, m, out);
      else if (c.kind === 'text') this.encodeText(i, c.values.length, vals, count, levels, m, out);
      else this.encodeUint(c.kind === 'uint' && c.delta === true, vals, count, levels, m, out);
    }
  }

  /** The rows of [0, m) whose validity byte is 1, in order. */
  private keptRows(valid: Uint8Array, m: number): Uint32Array {
    const rows = this.rows;
    let k = 0;
    for (let r = 0; r < m; r++) {
      rows[k] = r;
      k += valid[r]!;
    }
    return rows;
  }

  /** The column's non-null values of [from, from + m): a view when every row is, else gathered. */
  private gathered(
    data: Uint8Array | Uint16Array | Uint32Array,
    from: number,
    m: number,
    kept: Uint32Array | null,
    count: number,
  ): Uint8Array | Uint16Array | Uint32Array {
    if (!kept) return data.subarray(from, from + m);
    const s = this.scratch;
    if (data instanceof Uint8Array) {
      const out = s.bytes;
      for (let k = 0; k < count; k++) out[k] = data[from + kept[k]!]!;
      return out.subarray(0, count);
    }
    if (data instanceof Uint16Array) {
      const out = s.ids;
      for (let k = 0; k < count; k++) out[k] = data[from + kept[k]!]!;
      return out.subarray(0, count);
    }
    const out = s.words;
    for (let k = 0; k < count; k++) out[k] = data[from + kept[k]!]!;
    return out.subarray(0, count);
  }

  /** Ids into the column's values: as they are for a few values, else into the row group's own. */
  private encodeText(
    i: number,
    size: number,
    ids: Uint8Array | Uint16Array | Uint32Array,
    count: number,
    levels: readonly Uint8Array[],
    m: number,
    out: ChunkBuilder,
  ): void {
    if (count > 0 && maxOf(ids, count) >= size)
      throw new Error(`${this.file.path}: text id ${range.hi} past the column's ${size} values`);
    const local = this.locals[i];
    if (local) {
      const max = local.map(ids, count, this.textIds);
      this.indexPage(this.textIds, count, Math.max(max, 0), levels, m, out);
      return;
    }
    this.indexPage(ids, count, Math.max(size - 1, 0), levels, m, out);
  }

  /**
   * A RLE_DICTIONARY page of `ids[0..count)` (at most `max`) after `levels`; the chunk's dictionary is
   * then 0..dictionaryMax for an integer column (a text column's is its values).
   */
  private indexPage(
    ids: ArrayLike<number>,
    count: number,
    max: number,
    levels: readonly Uint8Array[],
    m: number,
    out: ChunkBuilder,
  ): void {
    out.dictionaryMax = Math.max(out.dictionaryMax, max);
    const end = hybridIndices(ids, count, max, this.indices);
    out.addPage([...levels, this.indices.subarray(0, end)], m, m - count, Encoding.RLE_DICTIONARY);
  }

  private encodeInt64(
    c: TableColumn,
    lanes: Uint32Array,
    from: number,
    m: number,
    kept: Uint32Array | null,
    count: number,
    lv: Uint8Array[],
    out: ChunkBuilder,
  ): void {
    if (count === 0) {
      out.addPage(lv, m, m);
      return;
    }
    const s = this.scratch;
    let vals = lanes.subarray(2 * from, 2 * (from + m));
    if (kept) {
      const w = s.words;
      for (let k = 0; k < count; k++) {
        const r = 2 * (from + kept[k]!);
        w[2 * k] = lanes[r]!;
        w[2 * k + 1] = lanes[r + 1]!;
      }
      vals = w.subarray(0, 2 * count);
    }
    const delta =
      c.kind === 'int64' && c.delta === true && count >= DELTA_MIN_VALUES ? laneDeltas(vals, count, s) : null;
    if (delta) {
      if (out.stats) addSpanStats(out.stats, vals[1]! | 0, vals[0]!, s);
      addDeltaPage(delta, vals[1]! | 0, vals[0]!, count, lv, m, s, out);
      return;
    }
    // an unsigned column's values are below 2^63 (bytes, counts): compared as signed they order alike
    if (out.stats && count > 0) addLaneStats(out.stats, vals, count);
    out.addPage([...lv, asBytes(vals)], m, m - count);
  }

  /** PLAIN BYTE_ARRAY: each non-null string's UTF-8 length (4 bytes), then its bytes. */
  private encodeStrings(
    strings: readonly (string | null)[],
    from: number,
    m: number,
    out: ChunkBuilder,
  ): void {
    const valid = this.scratch.bytes;
    for (let r = 0; r < m; r++) valid[r] = strings[from + r] == null ? 0 : 1;
    const body = this.strings.encode(strings, from, m);
    out.addPage([bitLevels(valid, m).bytes, body], m, m - this.strings.count);
  }

  /**
   * Unsigned integers: DELTA_BINARY_PACKED for an increasing column (`delta`), ids into the dictionary
   * 0..max when the values are small and many (a byte or two a value instead of four), else PLAIN.
   */
  private encodeUint(
    delta: boolean,
    vals: Uint8Array | Uint16Array | Uint32Array,
    count: number,
    lv: Uint8Array[],
    m: number,
    out: ChunkBuilder,
  ): void {
    const s = this.scratch;
    if (count === 0) {
      out.addPage(lv, m, m);
      return;
    }
    maxOf(vals, count);
    const { lo, hi } = range;
    if (out.stats) out.stats.add(0, lo, 0, hi);
    if (delta && count >= DELTA_MIN_VALUES && hi < 2 ** 31) {
      const d = s.deltas32.d;
      for (let k = 0; k + 1 < count; k++) d[k] = vals[k + 1]! - vals[k]!;
      addDeltaPage(s.deltas32, 0, vals[0]!, count, lv, m, s, out);
      return;
    }
    // the row group's dictionary 0..max costs 4 bytes an entry, once; an id saves 2-3 bytes a value
    if (count >= ID_PAGE_MIN_VALUES && hi <= 0xffff && (hi < 256 || hi < 2 * count)) {
      this.indexPage(vals, count, hi, lv, m, out);
      return;
    }
    let words: Uint32Array;
    if (vals instanceof Uint32Array) words = vals;
    else {
      words = s.words.subarray(0, count);
      words.set(vals);
    }
    out.addPage([...lv, asBytes(words)], m, m - count);
  }
}

/** The largest of `vals[0..count)` (count > 0), its smallest left in `range.lo` (min-max.ts's kernels). */
function maxOf(vals: Uint8Array | Uint16Array | Uint32Array, count: number): number {
  if (vals instanceof Uint8Array) minMaxU8(vals, count);
  else if (vals instanceof Uint16Array) minMaxU16(vals, count);
  else minMaxU32(vals, count);
  return range.hi;
}

/** PLAIN booleans: a bit per non-null value. */
function encodeBool(
  vals: Uint8Array | Uint16Array | Uint32Array,
  count: number,
  lv: Uint8Array[],
  m: number,
  out: ChunkBuilder,
): void {
  out.addPage([...lv, plainBools(vals, count)], m, m - count);
}
