/**
 * PacketColumns -> Arrow RecordBatch without copying the value buffers: each Arrow column is a view
 * (`subarray`) over the batch's typed arrays, and 64-bit columns view their uint32 lanes. Only validity
 * bitmaps (packed from the 0/1 bytes, and omitted when nothing is null) and the de-interleaved VLAN ids
 * are new memory. The record batch therefore aliases the PacketColumns: hand in a batch that is not
 * reset afterwards (`tableFromCapture` allocates one per batch).
 */
import {
  Data,
  DataType,
  Dictionary,
  Field,
  FixedSizeBinary,
  Float64,
  Int64,
  RecordBatch,
  Schema,
  Struct,
  Uint8,
  Uint16,
  Uint32,
  Uint64,
  Utf8,
  type Vector,
  vectorFromArray,
} from 'apache-arrow';
import { PacketColumns } from './packet-columns.ts';
import { type StageColumn, stageColumns } from './packets-schema.ts';
import {
  allZero,
  packBits,
  packEquals,
  packNonZero,
  packNonZero16,
  Validity,
  validityKind,
} from './validity.ts';

/** Dictionaries that turn ids into names. */
export interface ArrowDictionaries {
  points: readonly string[];
  files: readonly string[];
}

/** Indexed by the storage code itself (0 unknown, 1 in, 2 out): the codes are the indices, no copy. */
const DIRECTIONS = ['', 'in', 'out'];

function arrowType(col: StageColumn): DataType {
  switch (col.type) {
    case 'UTINYINT':
      return new Uint8();
    case 'USMALLINT':
      return new Uint16();
    case 'UINTEGER':
      return new Uint32();
    case 'UBIGINT':
      return new Uint64();
    case 'BIGINT':
      return new Int64();
    case 'DOUBLE':
      return new Float64();
    case 'BLOB':
      return new FixedSizeBinary(16);
  }
}

/** Each staging column's Arrow type, made once: types are immutable, and batches share them. */
const columnTypes = stageColumns.map(arrowType);

/**
 * A column's Data made directly: `makeData` goes through a type visitor and re-wraps every buffer
 * (its fixed cost, with the record batch's below, was ~65 µs a batch, as much as 4 ns a row at 16 K
 * rows). Without a bitmap the column has none and no nulls, as `makeData` makes it: an empty bitmap
 * (shared: nothing writes into an empty array) and a null count of 0; with one, the count is left
 * for Arrow to take from the bitmap when asked.
 */
function columnOf<T extends DataType>(
  type: T,
  n: number,
  values: T['TArray'],
  bitmap: Uint8Array | undefined,
  dictionary?: Vector,
): Data<T> {
  const nulls = bitmap ?? NO_BITMAP;
  return new Data(type, 0, n, bitmap ? -1 : 0, [undefined, values, nulls], [], dictionary);
}

const NO_BITMAP = new Uint8Array(0);

/** Arrow name of a staging column: ids become the named dictionary column. */
function arrowName(col: StageColumn): string {
  if (col.name === 'point_id') return 'capture_point';
  if (col.name === 'file_id') return 'file';
  if (col.name === 'decode_error_id') return 'decode_error';
  return col.name;
}

let dictionaryIds = 0;

/** A dictionary as Arrow holds it: its type (with its id) and its values. */
interface ArrowDictionary {
  /** how many strings the list had when this was built */
  size: number;
  type: Dictionary<Utf8, Uint8 | Uint16>;
  vector: Vector<Utf8>;
}

/**
 * Built dictionaries by string list. The lists only grow (capture points and decode errors are
 * appended, never changed), so a list of the same length is the same dictionary: the next batch
 * reuses its vector and its id instead of building both again (a dictionary vector and the schema
 * around it cost more than a small batch's columns).
 */
const builtDictionaries = new WeakMap<readonly string[], ArrowDictionary>();
const builtDictionaries8 = new WeakMap<readonly string[], ArrowDictionary>();

function arrowDictionary(values: readonly string[], wide: boolean): ArrowDictionary {
  const built = wide ? builtDictionaries : builtDictionaries8;
  const known = built.get(values);
  if (known && known.size === values.length) return known;
  const index = wide ? new Uint16() : new Uint8();
  const d: ArrowDictionary = {
    size: values.length,
    type: new Dictionary(new Utf8(), index, dictionaryIds++),
    vector: vectorFromArray([...values], new Utf8()),
  };
  built.set(values, d);
  return d;
}

function dictionaryData(
  values: readonly string[],
  indices: Uint8Array | Uint16Array,
  n: number,
  bitmap: Uint8Array | undefined,
) {
  const { type, vector } = arrowDictionary(values, !(indices instanceof Uint8Array));
  return columnOf<DataType>(type, n, indices, bitmap, vector);
}

/**
 * The bitmap group of each column: columns whose validity is one array (by identity: the aliased
 * arrays of packet-columns.ts are one) or one IP-version rule share a group and so one bitmap per
 * batch; the dictionary columns that are NULL where their code is 0 have a group each; -1 is never
 * NULL. Found once, on a probe batch, so a conversion looks groups up by index, not by key.
 */
const bitmapGroup: readonly number[] = (() => {
  const probe = new PacketColumns(1);
  const groups = new Map<unknown, number>();
  return stageColumns.map((col) => {
    const key = col.valid
      ? probe[col.valid]
      : col.whenIpVersion
        ? `${col.whenIpVersion.column}=${col.whenIpVersion.version}`
        : col.name === 'decode_error_id' || col.name === 'direction'
          ? col.name
          : null;
    if (key === null) return -1;
    let group = groups.get(key);
    if (group === undefined) {
      group = groups.size;
      groups.set(key, group);
    }
    return group;
  });
})();
const GROUPS = Math.max(...bitmapGroup) + 1;

/**
 * Memory a batch's record batches reuse from one conversion to the next: bitmaps and VLAN planes
 * allocated per batch cost more (allocation, zeroing, the external-memory GCs they bring on) than
 * filling them, and so do the views of the columns (a subarray is a call into the runtime: about
 * 60 a conversion). Kept per PacketColumns, so it lives exactly as long as the typed arrays the
 * record batch already aliases: a batch that is converted again after a reset (a reused batch)
 * overwrites them, as it overwrites its columns.
 */
class ArrowScratch {
  /** bitmap memory by group, made on first use */
  readonly bits: (Uint8Array | null)[] = new Array<Uint8Array | null>(GROUPS).fill(null);
  /** this conversion's bitmap by group (undefined: no NULLs), valid where `done` is 1 */
  readonly bitmaps: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(GROUPS).fill(undefined);
  readonly done = new Uint8Array(GROUPS);
  /** each column's values viewed over rows [0, viewRows), made on first use */
  readonly views: (ArrayBufferView | null)[] = new Array<ArrayBufferView | null>(stageColumns.length).fill(
    null,
  );
  viewRows = -1;
  /** every row NULL: shared by the columns that are absent from the whole batch, never written */
  readonly noneValid: Uint8Array;
  /** an all-zero VLAN column, shared by untagged batches, never written */
  readonly zeroPlane: Uint16Array;
  readonly planes: Uint16Array[];
  /** this conversion's VLAN columns once made (the four VLAN columns share them), else null */
  vlans: Uint16Array[] | null = null;
  /** this conversion's `allZero` answers by array: IP versions are asked for twice (4 and 6) */
  readonly zero = new Map<Uint8Array | Uint16Array, boolean>();
  constructor(readonly rows: number) {
    this.noneValid = new Uint8Array(bitmapBytes(rows));
    this.zeroPlane = new Uint16Array(rows);
    this.planes = [
      new Uint16Array(rows),
      new Uint16Array(rows),
      new Uint16Array(rows),
      new Uint16Array(rows),
    ];
  }

  /** Starts a conversion of `n` rows: forgets the last one's answers (and its views, if `n` differs). */
  begin(n: number): void {
    this.done.fill(0);
    this.vlans = null;
    this.zero.clear();
    if (n !== this.viewRows) {
      this.views.fill(null);
      this.viewRows = n;
    }
  }

  allZero(values: Uint8Array | Uint16Array, n: number): boolean {
    let zero = this.zero.get(values);
    if (zero === undefined) {
      zero = allZero(values, n);
      this.zero.set(values, zero);
    }
    return zero;
  }

  bitmap(group: number): Uint8Array {
    let bits = this.bits[group];
    if (!bits) {
      bits = new Uint8Array(bitmapBytes(this.rows));
      this.bits[group] = bits;
    }
    return bits;
  }
}

function bitmapBytes(rows: number): number {
  return Math.ceil(rows / 8) + 8;
}

const scratchOf = new WeakMap<PacketColumns, ArrowScratch>();

function scratchFor(c: PacketColumns, n: number): ArrowScratch {
  let s = scratchOf.get(c);
  if (!s || s.rows < n) {
    s = new ArrowScratch(Math.max(n, c.capacity));
    scratchOf.set(c, s);
  }
  return s;
}

/**
 * Packed validity of column `index`, or undefined when nothing is null. Columns of one bitmap group
 * (both ports, the TCP fields, aliased arrays, one IP-version rule) share one bitmap per batch.
 */
function validityBitmap(
  index: number,
  c: PacketColumns,
  n: number,
  scratch: ArrowScratch,
): Uint8Array | undefined {
  const group = bitmapGroup[index]!;
  if (group < 0) return undefined;
  if (scratch.done[group] === 1) return scratch.bitmaps[group];
  const col = stageColumns[index]!;
  let out: Uint8Array | undefined;
  if (col.valid) {
    const valid = c[col.valid];
    const kind = validityKind(valid, n);
    if (kind === Validity.all) out = undefined;
    else if (kind === Validity.none) out = scratch.noneValid;
    else {
      out = scratch.bitmap(group);
      packBits(valid, 0, n, out);
    }
  } else if (col.whenIpVersion) {
    const rule = col.whenIpVersion;
    const versions = c[rule.column];
    if (scratch.allZero(versions, n)) out = scratch.noneValid;
    else {
      const bits = scratch.bitmap(group);
      out = packEquals(versions, rule.version, 0, n, bits) ? undefined : bits;
    }
  } else {
    // a dictionary column, NULL where its code is 0
    const values = col.name === 'direction' ? c.direction : c.decodeError;
    if (scratch.allZero(values, n)) out = scratch.noneValid;
    else {
      const bits = scratch.bitmap(group);
      const none =
        values instanceof Uint8Array ? packNonZero(values, n, bits) : packNonZero16(values, n, bits);
      out = none ? undefined : bits;
    }
  }
  scratch.done[group] = 1;
  scratch.bitmaps[group] = out;
  return out;
}

/** Column `index`'s values over rows [0, n) (not the VLAN columns: scratch.vlans are theirs). */
function valuesOf(index: number, c: PacketColumns, n: number, scratch: ArrowScratch): ArrayBufferView {
  const known = scratch.views[index];
  if (known) return known;
  const col = stageColumns[index]!;
  const src = col.source;
  let view: ArrayBufferView;
  if (col.name === 'point_id') view = c.point.subarray(0, n);
  else if (col.name === 'file_id') view = c.file.subarray(0, n);
  else if (col.name === 'decode_error_id') view = c.decodeError.subarray(0, n);
  else if (col.name === 'direction') view = c.direction.subarray(0, n);
  else if (src.kind === 'u64') {
    const lanes = c[src.data];
    view =
      col.type === 'BIGINT'
        ? new BigInt64Array(lanes.buffer, lanes.byteOffset, n)
        : new BigUint64Array(lanes.buffer, lanes.byteOffset, n);
  } else if (src.kind === 'ip6') view = c[src.data].subarray(0, 16 * n);
  else if (src.kind === 'vlan') throw new Error('VLAN columns are viewed per conversion');
  else view = c[src.data].subarray(0, n);
  scratch.views[index] = view;
  return view;
}

function columnData(
  index: number,
  c: PacketColumns,
  n: number,
  dicts: ArrowDictionaries,
  scratch: ArrowScratch,
): Data {
  const col = stageColumns[index]!;
  const src = col.source;
  if (src.kind === 'vlan')
    return columnOf(columnTypes[index]!, n, vlanPlanes(c, n, scratch)[src.index]!.subarray(0, n), undefined);
  const values = valuesOf(index, c, n, scratch);
  const bitmap = validityBitmap(index, c, n, scratch);
  if (col.name === 'point_id') return dictionaryData(dicts.points, values as Uint16Array, n, bitmap);
  if (col.name === 'file_id') return dictionaryData(dicts.files, values as Uint16Array, n, bitmap);
  if (col.name === 'decode_error_id') return dictionaryData(c.errors, values as Uint16Array, n, bitmap);
  // direction: code 0 (unknown) is NULL; the codes themselves index the dictionary
  if (col.name === 'direction') return dictionaryData(DIRECTIONS, values as Uint8Array, n, bitmap);
  return columnOf<DataType>(columnTypes[index]!, n, values, bitmap);
}

/**
 * The four interleaved VLAN ids as four columns, de-interleaved once per batch (the first call of
 * the batch; the planes are the scratch's). Only the ids a row has (its first `vlan_count`, at most
 * four) are copied: the rest of a row's slots may hold an earlier batch's ids when the batch memory
 * is reused. Untagged batches share one zero column; untagged rows are skipped four at a time.
 */
function vlanPlanes(c: PacketColumns, n: number, scratch: ArrowScratch): Uint16Array[] {
  const count = c.vlanCount;
  if (scratch.vlans) return scratch.vlans;
  if (scratch.allZero(count, n)) {
    scratch.vlans = [scratch.zeroPlane, scratch.zeroPlane, scratch.zeroPlane, scratch.zeroPlane];
    return scratch.vlans;
  }
  const planes = scratch.planes;
  const [p0, p1, p2, p3] = planes as [Uint16Array, Uint16Array, Uint16Array, Uint16Array];
  for (const p of planes) p.fill(0, 0, n);
  const v = c.vlan;
  const tagged = (r: number): void => {
    const k = count[r]!;
    if (k === 0) return;
    const i = 4 * r;
    p0[r] = v[i]!;
    if (k > 1) p1[r] = v[i + 1]!;
    if (k > 2) p2[r] = v[i + 2]!;
    if (k > 3) p3[r] = v[i + 3]!;
  };
  let r = 0;
  if ((count.byteOffset & 3) === 0) {
    const words = new Uint32Array(count.buffer, count.byteOffset, n >> 2);
    for (let w = 0; w < words.length; w++) {
      if (words[w] === 0) continue;
      const at = w << 2;
      tagged(at);
      tagged(at + 1);
      tagged(at + 2);
      tagged(at + 3);
    }
    r = words.length << 2;
  }
  for (; r < n; r++) tagged(r);
  scratch.vlans = planes;
  return planes;
}

/** The last schema built, by the dictionary ids it names: consecutive batches share one. */
let lastSchema: { key: string; schema: Schema; struct: Struct } | null = null;

function schemaOf(children: Data[]): { schema: Schema; struct: Struct } {
  let key = '';
  for (const child of children) if (DataType.isDictionary(child.type)) key += `${child.type.id},`;
  if (lastSchema?.key === key) return lastSchema;
  const fields = stageColumns.map((col, i) => new Field(arrowName(col), children[i]!.type, true));
  const schema = new Schema(fields);
  lastSchema = { key, schema, struct: new Struct(fields) };
  return lastSchema;
}

export function packetsToArrow(c: PacketColumns, dicts: ArrowDictionaries): RecordBatch {
  const n = c.length;
  const scratch = scratchFor(c, n);
  scratch.begin(n);
  const children = stageColumns.map((_, i) => columnData(i, c, n, dicts, scratch));
  const { schema, struct } = schemaOf(children);
  return recordBatch(schema, new Data(struct, 0, n, 0, [undefined, undefined, NO_BITMAP], children));
}

/**
 * `new RecordBatch(schema, data)` without its length check: the constructor makes every column as
 * long as the longest (`ensureSameLengthData`), which rebuilds the schema field by field with merged
 * metadata maps whether or not a column needed it (~15 µs a batch, half of what remained). Every
 * column here has the batch's length by construction, so the result is what the constructor would
 * return; the own fields are the constructor's (apache-arrow 21, pinned; to-arrow.test.ts compares
 * them with a constructed batch's).
 */
function recordBatch(schema: Schema, data: Data<Struct>): RecordBatch {
  const batch = Object.create(RecordBatch.prototype) as RecordBatch;
  return Object.assign(batch, { schema, data, _metadata: new Map<string, string>() });
}
