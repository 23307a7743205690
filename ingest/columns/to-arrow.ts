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
import { packBits, packEquals, packNonZero, packNonZero16 } from './validity.ts';

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
 * Packed validity of a column, or undefined when nothing is null. Columns that share a validity array
 * (both ports, the TCP fields, aliased arrays) or an IP-version rule share one bitmap per batch.
 */
function validityBitmap(
  col: StageColumn,
  c: PacketColumns,
  n: number,
  cache: Map<unknown, unknown>,
): Uint8Array | undefined {
  const key = col.valid
    ? c[col.valid]
    : col.whenIpVersion
      ? `${col.whenIpVersion.column}=${col.whenIpVersion.version}`
      : null;
  if (key === null) return undefined;
  if (cache.has(key)) return cache.get(key) as Uint8Array | undefined;
  const bits = new Uint8Array(Math.ceil(n / 8) + 8);
  let all: boolean;
  if (col.valid) all = packBits(c[col.valid], 0, n, bits);
  else all = packEquals(c[col.whenIpVersion!.column], col.whenIpVersion!.version, 0, n, bits);
  const out = all ? undefined : bits;
  cache.set(key, out);
  return out;
}

function columnData(
  col: StageColumn,
  c: PacketColumns,
  n: number,
  dicts: ArrowDictionaries,
  cache: Map<unknown, unknown>,
): Data {
  const src = col.source;
  if (col.name === 'point_id') return dictionaryData(dicts.points, c.point, n);
  if (col.name === 'file_id') return dictionaryData(dicts.files, c.file, n);
  if (col.name === 'decode_error_id') {
    const bits = new Uint8Array(Math.ceil(n / 8) + 8);
    const none = packNonZero16(c.decodeError, n, bits);
    return dictionaryData(c.errors, c.decodeError, n, none ? undefined : bits);
  }
  if (col.name === 'direction') {
    // code 0 (unknown) is NULL; the codes themselves index the dictionary
    const bits = new Uint8Array(Math.ceil(n / 8) + 8);
    const none = packNonZero(c.direction, n, bits);
    return dictionaryData(DIRECTIONS, c.direction, n, none ? undefined : bits);
  }
  const type = arrowType(col);
  const nullBitmap = validityBitmap(col, c, n, cache);
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
      return makeData({ type: new Uint16(), length: n, data: vlanPlanes(c, n, cache)[src.index]! });
  }
}

/**
 * The four interleaved VLAN ids as four columns, de-interleaved once per batch. Only the ids a row
 * has (its first `vlan_count`, at most four) are copied: the rest of a row's slots may hold an
 * earlier batch's ids when the batch memory is reused. Untagged batches share one zero column.
 */
function vlanPlanes(c: PacketColumns, n: number, cache: Map<unknown, unknown>): Uint16Array[] {
  const cached = cache.get(c.vlan) as Uint16Array[] | undefined;
  if (cached) return cached;
  const count = c.vlanCount;
  let first = 0;
  while (first < n && count[first] === 0) first++;
  let planes: Uint16Array[];
  if (first === n) {
    const zero = new Uint16Array(n);
    planes = [zero, zero, zero, zero];
  } else {
    const p0 = new Uint16Array(n);
    const p1 = new Uint16Array(n);
    const p2 = new Uint16Array(n);
    const p3 = new Uint16Array(n);
    planes = [p0, p1, p2, p3];
    const v = c.vlan;
    for (let r = first; r < n; r++) {
      const k = count[r]!;
      if (k === 0) continue;
      const i = 4 * r;
      p0[r] = v[i]!;
      if (k > 1) p1[r] = v[i + 1]!;
      if (k > 2) p2[r] = v[i + 2]!;
      if (k > 3) p3[r] = v[i + 3]!;
    }
  }
  cache.set(c.vlan, planes);
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
  const cache = new Map<unknown, unknown>();
  const children = stageColumns.map((col) => columnData(col, c, n, dicts, cache));
  const { schema, struct } = schemaOf(children);
  const data = makeData({ type: struct, length: n, children, nullCount: 0 });
  return new RecordBatch(schema, data);
}
