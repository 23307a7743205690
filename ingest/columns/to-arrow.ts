/**
 * PacketColumns -> Arrow RecordBatch without copying the value buffers: each Arrow column is a view
 * (`subarray`) over the batch's typed arrays, and 64-bit columns view their uint32 lanes. Only validity
 * bitmaps (packed from the 0/1 bytes, and omitted when nothing is null) and the de-interleaved VLAN ids
 * are new memory. The record batch therefore aliases the PacketColumns: hand in a batch that is not
 * reset afterwards (`tableFromCapture` allocates one per batch).
 */
import {
  type Data,
  DataType,
  Dictionary,
  Field,
  FixedSizeBinary,
  Float64,
  Int64,
  makeData,
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
import type { PacketColumns } from './packet-columns.ts';
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
  bitmap?: Uint8Array,
) {
  const { type, vector } = arrowDictionary(values, !(indices instanceof Uint8Array));
  return makeData({
    type,
    length: n,
    data: indices.subarray(0, n),
    dictionary: vector,
    ...(bitmap ? { nullBitmap: bitmap, nullCount: -1 } : {}),
  });
}

/**
 * Memory a batch's record batches reuse from one conversion to the next: bitmaps and VLAN planes
 * allocated per batch cost more (allocation, zeroing, the external-memory GCs they bring on) than
 * filling them. Kept per PacketColumns, so it lives exactly as long as the typed arrays the record
 * batch already aliases: a batch that is converted again after a reset (a reused batch) overwrites
 * them, as it overwrites its columns.
 */
class ArrowScratch {
  /** bitmap by its key (a validity array, an IP-version rule, a column name) */
  readonly bits = new Map<unknown, Uint8Array>();
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

  allZero(values: Uint8Array | Uint16Array, n: number): boolean {
    let zero = this.zero.get(values);
    if (zero === undefined) {
      zero = allZero(values, n);
      this.zero.set(values, zero);
    }
    return zero;
  }

  bitmap(key: unknown): Uint8Array {
    let bits = this.bits.get(key);
    if (!bits) {
      bits = new Uint8Array(bitmapBytes(this.rows));
      this.bits.set(key, bits);
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
 * Packed validity of a column, or undefined when nothing is null. Columns that share a validity array
 * (both ports, the TCP fields, aliased arrays) or an IP-version rule share one bitmap per batch.
 */
function validityBitmap(
  col: StageColumn,
  c: PacketColumns,
  n: number,
  cache: Map<unknown, Uint8Array | undefined>,
  scratch: ArrowScratch,
): Uint8Array | undefined {
  const key = col.valid
    ? c[col.valid]
    : col.whenIpVersion
      ? `${col.whenIpVersion.column}=${col.whenIpVersion.version}`
      : null;
  if (key === null) return undefined;
  if (cache.has(key)) return cache.get(key);
  let out: Uint8Array | undefined;
  if (col.valid) {
    const valid = c[col.valid];
    const kind = validityKind(valid, n);
    if (kind === Validity.all) out = undefined;
    else if (kind === Validity.none) out = scratch.noneValid;
    else {
      out = scratch.bitmap(key);
      packBits(valid, 0, n, out);
    }
  } else {
    const rule = col.whenIpVersion!;
    const versions = c[rule.column];
    if (scratch.allZero(versions, n)) out = scratch.noneValid;
    else {
      const bits = scratch.bitmap(key);
      out = packEquals(versions, rule.version, 0, n, bits) ? undefined : bits;
    }
  }
  cache.set(key, out);
  return out;
}

/** Validity "value is not zero" of a dictionary-coded column, or undefined when no row is zero. */
function nonZeroBitmap(
  values: Uint8Array | Uint16Array,
  n: number,
  scratch: ArrowScratch,
  key: string,
): Uint8Array | undefined {
  if (scratch.allZero(values, n)) return scratch.noneValid;
  const bits = scratch.bitmap(key);
  const none = values instanceof Uint8Array ? packNonZero(values, n, bits) : packNonZero16(values, n, bits);
  return none ? undefined : bits;
}

function columnData(
  col: StageColumn,
  c: PacketColumns,
  n: number,
  dicts: ArrowDictionaries,
  cache: Map<unknown, Uint8Array | undefined>,
  scratch: ArrowScratch,
): Data {
  const src = col.source;
  if (col.name === 'point_id') return dictionaryData(dicts.points, c.point, n);
  if (col.name === 'file_id') return dictionaryData(dicts.files, c.file, n);
  if (col.name === 'decode_error_id')
    return dictionaryData(c.errors, c.decodeError, n, nonZeroBitmap(c.decodeError, n, scratch, col.name));
  if (col.name === 'direction') {
    // code 0 (unknown) is NULL; the codes themselves index the dictionary
    return dictionaryData(DIRECTIONS, c.direction, n, nonZeroBitmap(c.direction, n, scratch, col.name));
  }
  const type = arrowType(col);
  const nullBitmap = validityBitmap(col, c, n, cache, scratch);
  const nulls = nullBitmap ? { nullBitmap, nullCount: -1 } : {};
  switch (src.kind) {
    case 'u8':
    case 'u16':
    case 'u32':
    case 'f64':
      return makeData({ type, length: n, data: c[src.data].subarray(0, n), ...nulls } as never);
    case 'u64': {
      const lanes = c[src.data];
      const data =
        col.type === 'BIGINT'
          ? new BigInt64Array(lanes.buffer, lanes.byteOffset, n)
          : new BigUint64Array(lanes.buffer, lanes.byteOffset, n);
      return makeData({ type, length: n, data, ...nulls } as never);
    }
    case 'ip6':
      return makeData({
        type: new FixedSizeBinary(16),
        length: n,
        data: c[src.data].subarray(0, 16 * n),
        ...nulls,
      });
    case 'vlan':
      return makeData({
        type: new Uint16(),
        length: n,
        data: vlanPlanes(c, n, scratch)[src.index]!.subarray(0, n),
      });
  }
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
  const cache = new Map<unknown, Uint8Array | undefined>();
  const scratch = scratchFor(c, n);
  scratch.vlans = null;
  scratch.zero.clear();
  const children = stageColumns.map((col) => columnData(col, c, n, dicts, cache, scratch));
  const { schema, struct } = schemaOf(children);
  const data = makeData({ type: struct, length: n, children, nullCount: 0 });
  return new RecordBatch(schema, data);
}
