/**
 * The Parquet format pieces we write: enum values from parquet.thrift, and encoders for the page
 * headers and the footer (FileMetaData) over the Thrift compact writer. Only the fields we use exist here.
 */
import { CT, type ThriftWriter } from './thrift-compact.ts';

/** parquet.thrift `Type` */
export const PhysicalType = {
  BOOLEAN: 0,
  INT32: 1,
  INT64: 2,
  BYTE_ARRAY: 6,
  FIXED_LEN_BYTE_ARRAY: 7,
} as const;
export type PhysicalType = (typeof PhysicalType)[keyof typeof PhysicalType];

/** parquet.thrift `FieldRepetitionType` */
export const Repetition = { REQUIRED: 0, OPTIONAL: 1, REPEATED: 2 } as const;
export type Repetition = (typeof Repetition)[keyof typeof Repetition];

/** parquet.thrift `ConvertedType` (kept beside logical types for older readers) */
export const ConvertedType = {
  UTF8: 0,
  LIST: 3,
  UINT_8: 11,
  UINT_16: 12,
  UINT_32: 13,
  UINT_64: 14,
  INT_32: 17,
  INT_64: 18,
} as const;

/** parquet.thrift `Encoding` */
export const Encoding = { PLAIN: 0, RLE: 3, DELTA_BINARY_PACKED: 5, RLE_DICTIONARY: 8 } as const;

/** parquet.thrift `PageType` */
export const PageType = { DATA_PAGE: 0, DICTIONARY_PAGE: 2 } as const;

export type LogicalType =
  | { kind: 'int'; bits: 8 | 16 | 32 | 64; signed: boolean }
  | { kind: 'string' }
  | { kind: 'list' };

/** One SchemaElement, in the depth-first order of the footer's schema list. */
export interface SchemaNode {
  name: string;
  type?: PhysicalType;
  typeLength?: number;
  repetition?: Repetition;
  children?: number;
  converted?: number;
  logical?: LogicalType;
}

/** An integer column's schema element: INT32 or INT64 by `bits`, with its converted and logical types. */
export function intNode(
  name: string,
  bits: 8 | 16 | 32 | 64,
  signed: boolean,
  repetition: Repetition,
): SchemaNode {
  const converted =
    bits === 64
      ? signed
        ? ConvertedType.INT_64
        : ConvertedType.UINT_64
      : signed
        ? bits === 32
          ? ConvertedType.INT_32
          : undefined
        : { 8: ConvertedType.UINT_8, 16: ConvertedType.UINT_16, 32: ConvertedType.UINT_32 }[bits];
  return {
    name,
    type: bits === 64 ? PhysicalType.INT64 : PhysicalType.INT32,
    repetition,
    ...(converted === undefined ? {} : { converted }),
    logical: { kind: 'int', bits, signed },
  };
}

/** A UTF-8 string column's schema element. */
export function stringNode(name: string, repetition: Repetition): SchemaNode {
  return {
    name,
    type: PhysicalType.BYTE_ARRAY,
    repetition,
    converted: ConvertedType.UTF8,
    logical: { kind: 'string' },
  };
}

export interface ChunkStatistics {
  nullCount: number;
  /** plain-encoded bounds, in the order of the column's logical type */
  min?: Uint8Array;
  max?: Uint8Array;
}

export interface ColumnChunkMeta {
  type: PhysicalType;
  encodings: readonly number[];
  path: readonly string[];
  /** level entries (rows, or list elements for a list column) */
  numValues: number;
  size: number;
  dataPageOffset: number;
  dictionaryPageOffset?: number;
  stats?: ChunkStatistics;
}

export interface RowGroupMeta {
  columns: ColumnChunkMeta[];
  numRows: number;
  /** byte offset of the row group's first page */
  fileOffset: number;
  size: number;
}

export interface DataPageHeader {
  /** page body bytes (no compression: uncompressed and compressed sizes are equal) */
  size: number;
  numValues: number;
  encoding: number;
}

export function writeDataPageHeader(w: ThriftWriter, h: DataPageHeader): void {
  w.begin();
  w.i32(1, PageType.DATA_PAGE);
  w.i32(2, h.size);
  w.i32(3, h.size);
  w.struct(5);
  w.i32(1, h.numValues);
  w.i32(2, h.encoding);
  w.i32(3, Encoding.RLE);
  w.i32(4, Encoding.RLE);
  w.end();
  w.end();
}

export function writeDictionaryPageHeader(w: ThriftWriter, size: number, numValues: number): void {
  w.begin();
  w.i32(1, PageType.DICTIONARY_PAGE);
  w.i32(2, size);
  w.i32(3, size);
  w.struct(7);
  w.i32(1, numValues);
  w.i32(2, Encoding.PLAIN);
  w.end();
  w.end();
}

function writeLogicalType(w: ThriftWriter, t: LogicalType): void {
  w.struct(10);
  switch (t.kind) {
    case 'string':
      w.struct(1);
      w.end();
      break;
    case 'list':
      w.struct(3);
      w.end();
      break;
    case 'int':
      w.struct(10);
      w.i8(1, t.bits);
      w.bool(2, t.signed);
      w.end();
      break;
  }
  w.end();
}

function writeSchemaNode(w: ThriftWriter, s: SchemaNode): void {
  w.begin();
  if (s.type !== undefined) w.i32(1, s.type);
  if (s.typeLength !== undefined) w.i32(2, s.typeLength);
  if (s.repetition !== undefined) w.i32(3, s.repetition);
  w.string(4, s.name);
  if (s.children !== undefined) w.i32(5, s.children);
  if (s.converted !== undefined) w.i32(6, s.converted);
  if (s.logical) writeLogicalType(w, s.logical);
  w.end();
}

function writeStatistics(w: ThriftWriter, s: ChunkStatistics): void {
  w.struct(12);
  w.i64(3, s.nullCount);
  if (s.max && s.min) {
    w.binary(5, s.max);
    w.binary(6, s.min);
  }
  w.end();
}

function writeColumnChunk(w: ThriftWriter, c: ColumnChunkMeta): void {
  w.begin();
  // deprecated file_offset: where the metadata would be if it were beside the data; 0 is what most writers put
  w.i64(2, 0);
  w.struct(3);
  w.i32(1, c.type);
  w.list(2, CT.I32, c.encodings.length);
  for (const e of c.encodings) w.rawZigzag(e);
  w.list(3, CT.BINARY, c.path.length);
  for (const p of c.path) w.rawBinary(new TextEncoder().encode(p));
  w.i32(4, 0); // UNCOMPRESSED
  w.i64(5, c.numValues);
  w.i64(6, c.size);
  w.i64(7, c.size);
  w.i64(9, c.dataPageOffset);
  if (c.dictionaryPageOffset !== undefined) w.i64(11, c.dictionaryPageOffset);
  if (c.stats) writeStatistics(w, c.stats);
  w.end();
  w.end();
}

/** FileMetaData: schema, row groups and column orders (TypeDefinedOrder, so min_value/max_value count). */
export function writeFileMetaData(
  w: ThriftWriter,
  schema: readonly SchemaNode[],
  rowGroups: readonly RowGroupMeta[],
  leafColumns: number,
  createdBy: string,
): void {
  w.begin();
  w.i32(1, 2);
  w.list(2, CT.STRUCT, schema.length);
  for (const s of schema) writeSchemaNode(w, s);
  w.i64(
    3,
    rowGroups.reduce((n, g) => n + g.numRows, 0),
  );
  w.list(4, CT.STRUCT, rowGroups.length);
  for (const [ordinal, g] of rowGroups.entries()) {
    w.begin();
    w.list(1, CT.STRUCT, g.columns.length);
    for (const c of g.columns) writeColumnChunk(w, c);
    w.i64(2, g.size);
    w.i64(3, g.numRows);
    w.i64(5, g.fileOffset);
    w.i64(6, g.size);
    if (ordinal <= 0x7fff) w.fieldI16(7, ordinal);
    w.end();
  }
  w.string(6, createdBy);
  w.list(7, CT.STRUCT, leafColumns);
  for (let i = 0; i < leafColumns; i++) {
    w.begin();
    w.struct(1);
    w.end();
    w.end();
  }
  w.end();
}
