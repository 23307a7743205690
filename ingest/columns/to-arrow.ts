/**
 * PacketColumns -> Arrow RecordBatch without copying the value buffers: each Arrow column is a view
 * (`subarray`) over the batch's typed arrays, and 64-bit columns view their uint32 lanes. Only validity
 * bitmaps (packed from the 0/1 bytes, and omitted when nothing is null) and the de-interleaved VLAN ids
 * are new memory. The record batch therefore aliases the PacketColumns: hand in a batch that is not
 * reset afterwards (`tableFromCapture` allocates one per batch).
 */
import {
  type Data,
  type DataType,
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
  vectorFromArray,
} from 'apache-arrow';
import type { PacketColumns } from './packet-columns.ts';
import { type StageColumn, stageColumns } from './packets-schema.ts';
import { packBits, packEquals } from './validity.ts';

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

function dictionaryData(
  values: readonly string[],
  indices: Uint8Array | Uint16Array,
  n: number,
  bitmap?: Uint8Array,
) {
  const dictionary = vectorFromArray([...values], new Utf8());
  const type =
    indices instanceof Uint8Array
      ? new Dictionary(new Utf8(), new Uint8(), dictionaryIds++)
      : new Dictionary(new Utf8(), new Uint16(), dictionaryIds++);
  return makeData({
    type,
    length: n,
    data: indices.subarray(0, n),
    dictionary,
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
    const none = packNonZero(c.decodeError, n, bits);
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
 * The four interleaved VLAN ids as four columns, de-interleaved once per batch; untagged batches (the
 * common case) share one zero column instead of four copies.
 */
function vlanPlanes(c: PacketColumns, n: number, cache: Map<unknown, unknown>): Uint16Array[] {
  const cached = cache.get(c.vlan) as Uint16Array[] | undefined;
  if (cached) return cached;
  let tagged = false;
  for (let r = 0; r < n; r++) {
    if (c.vlanCount[r] !== 0) {
      tagged = true;
      break;
    }
  }
  let planes: Uint16Array[];
  if (!tagged) {
    const zero = new Uint16Array(n);
    planes = [zero, zero, zero, zero];
  } else {
    planes = [new Uint16Array(n), new Uint16Array(n), new Uint16Array(n), new Uint16Array(n)];
    const [p0, p1, p2, p3] = planes as [Uint16Array, Uint16Array, Uint16Array, Uint16Array];
    const v = c.vlan;
    for (let r = 0, i = 0; r < n; r++, i += 4) {
      p0[r] = v[i]!;
      p1[r] = v[i + 1]!;
      p2[r] = v[i + 2]!;
      p3[r] = v[i + 3]!;
    }
  }
  cache.set(c.vlan, planes);
  return planes;
}

function packNonZero(values: Uint8Array | Uint16Array, n: number, bits: Uint8Array): boolean {
  let all = true;
  for (let r = 0; r < n; r++) {
    if (values[r] !== 0) bits[r >> 3]! |= 1 << (r & 7);
    else all = false;
  }
  return all;
}

export function packetsToArrow(c: PacketColumns, dicts: ArrowDictionaries): RecordBatch {
  const n = c.length;
  const cache = new Map<unknown, unknown>();
  const children = stageColumns.map((col) => columnData(col, c, n, dicts, cache));
  const fields = stageColumns.map((col, i) => new Field(arrowName(col), children[i]!.type, true));
  const schema = new Schema(fields);
  const data = makeData({ type: new Struct(fields), length: n, children, nullCount: 0 });
  return new RecordBatch(schema, data);
}
