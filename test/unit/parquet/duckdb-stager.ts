/**
 * The former production path, kept as the test oracle for the Parquet writer: PacketColumns batches
 * staged in DuckDB and written by DuckDB's own COPY (see duckdb-reference.ts).
 *
 * Copies PacketColumns batches into a DuckDB staging table, one 2048-row DataChunk at a time,
 * by memcpy of each typed array slice into its vector (no per-value JS calls except IPv6 BLOBs).
 */
import {
  BIGINT,
  BLOB,
  DOUBLE,
  type DuckDBAppender,
  type DuckDBConnection,
  DuckDBDataChunk,
  type DuckDBType,
  UBIGINT,
  UINTEGER,
  USMALLINT,
  UTINYINT,
} from '@duckdb/node-api';
import duckdb from '@duckdb/node-bindings';
import type { PacketColumns } from '../../../ingest/columns/packet-columns.ts';
import { type StageColumn, type StageType, stageColumns } from '../../../ingest/columns/packets-schema.ts';
import { packBits, packEquals } from '../../../ingest/columns/validity.ts';

const CHUNK_ROWS = 2048;

const duckTypes: Record<StageType, DuckDBType> = {
  UTINYINT,
  USMALLINT,
  UINTEGER,
  UBIGINT,
  BIGINT,
  DOUBLE,
  BLOB,
};

/** `CREATE TABLE` column list of the staging table. */
export function stageTableDdl(table: string): string {
  return `CREATE OR REPLACE TABLE ${table} (${stageColumns.map((c) => `${c.name} ${c.type}`).join(', ')})`;
}

export class PacketStager {
  private readonly appender: DuckDBAppender;
  private readonly wrapped: DuckDBDataChunk;
  private readonly chunk: duckdb.DataChunk;
  private readonly validity = new Uint8Array(CHUNK_ROWS / 8);
  private readonly vlanScratch = new Uint16Array(CHUNK_ROWS);
  private readonly ip6Scratch = new Uint8Array(16);
  /** rows appended since creation */
  rows = 0;

  private constructor(appender: DuckDBAppender) {
    this.appender = appender;
    this.wrapped = DuckDBDataChunk.create(stageColumns.map((c) => duckTypes[c.type]));
    this.chunk = this.wrapped.chunk;
  }

  static async create(con: DuckDBConnection, table: string): Promise<PacketStager> {
    return new PacketStager(await con.createAppender(table));
  }

  append(c: PacketColumns): void {
    for (let start = 0; start < c.length; start += CHUNK_ROWS) {
      const n = Math.min(CHUNK_ROWS, c.length - start);
      duckdb.data_chunk_reset(this.chunk);
      for (let i = 0; i < stageColumns.length; i++) {
        const vector = duckdb.data_chunk_get_vector(this.chunk, i);
        this.fillVector(vector, stageColumns[i]!, c, start, n);
      }
      duckdb.data_chunk_set_size(this.chunk, n);
      this.appender.appendDataChunk(this.wrapped);
    }
    this.rows += c.length;
  }

  /** Makes appended rows visible to queries on the same connection. */
  flush(): void {
    this.appender.flushSync();
  }

  close(): void {
    this.appender.closeSync();
  }

  private fillVector(
    vector: duckdb.Vector,
    col: StageColumn,
    c: PacketColumns,
    start: number,
    n: number,
  ): void {
    const src = col.source;
    switch (src.kind) {
      case 'u8':
      case 'u16':
      case 'u32':
      case 'f64':
        copySlice(vector, c[src.data], start, n, 1);
        break;
      case 'u64':
        copySlice(vector, c[src.data], start, n, 2);
        break;
      case 'vlan': {
        const scratch = this.vlanScratch;
        const vlan = c.vlan;
        for (let r = 0; r < n; r++) scratch[r] = vlan[4 * (start + r) + src.index]!;
        duckdb.copy_data_to_vector(vector, 0, scratch.buffer, scratch.byteOffset, n * 2);
        break;
      }
      case 'ip6':
        this.fillIp6(vector, c[src.data], c, col, start, n);
        return;
    }
    this.fillValidity(vector, col, c, start, n);
  }

  private fillIp6(
    vector: duckdb.Vector,
    bytes: Uint8Array,
    c: PacketColumns,
    col: StageColumn,
    start: number,
    n: number,
  ) {
    const version = col.whenIpVersion ? c[col.whenIpVersion.column] : c.ipVersion;
    const scratch = this.ip6Scratch;
    const bits = this.validity;
    bits.fill(0);
    for (let r = 0; r < n; r++) {
      if (version[start + r] !== 6) continue;
      const at = 16 * (start + r);
      for (let k = 0; k < 16; k++) scratch[k] = bytes[at + k]!;
      duckdb.vector_assign_string_element_len(vector, r, scratch);
      bits[r >> 3]! |= 1 << (r & 7);
    }
    duckdb.vector_ensure_validity_writable(vector);
    duckdb.copy_data_to_vector_validity(vector, 0, bits.buffer, bits.byteOffset, Math.ceil(n / 64) * 8);
  }

  /** Packs the column's 0/1 bytes into DuckDB's validity bits; nothing is written when all are valid. */
  private fillValidity(
    vector: duckdb.Vector,
    col: StageColumn,
    c: PacketColumns,
    start: number,
    n: number,
  ): void {
    let allValid: boolean;
    if (col.valid) allValid = packBits(c[col.valid], start, n, this.validity);
    else if (col.whenIpVersion)
      allValid = packEquals(c[col.whenIpVersion.column], col.whenIpVersion.version, start, n, this.validity);
    else return;
    if (allValid) return;
    duckdb.vector_ensure_validity_writable(vector);
    duckdb.copy_data_to_vector_validity(vector, 0, this.validity.buffer, 0, Math.ceil(n / 64) * 8);
  }
}

function copySlice(
  vector: duckdb.Vector,
  array: Uint8Array | Uint16Array | Uint32Array | Float64Array,
  start: number,
  n: number,
  lanes: number,
): void {
  const width = array.BYTES_PER_ELEMENT * lanes;
  duckdb.copy_data_to_vector(
    vector,
    0,
    array.buffer as ArrayBuffer,
    array.byteOffset + start * width,
    n * width,
  );
}
