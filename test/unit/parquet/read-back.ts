/**
 * Test helpers: read a packets Parquet dataset back with DuckDB, and compute the rows a PacketColumns
 * batch should give, column by column, straight from the storage arrays (independent of the writer).
 */
import { DuckDBInstance } from '@duckdb/node-api';
import type { PacketColumns } from '../../../ingest/columns/packet-columns.ts';
import { isViewOnly, packetFields, stageColumns } from '../../../ingest/columns/packets-schema.ts';
import { sqlString } from '../../../ingest/dataset/duckdb.ts';

export type Row = Record<string, unknown>;

/** Parquet column names of the packets table. */
export const parquetColumns = packetFields.filter((f) => !isViewOnly(f)).map((f) => f.name);

/** Runs queries on a fresh in-memory DuckDB; rows as JSON-safe objects (64-bit integers as strings). */
export async function duckRows(...queries: string[]): Promise<Row[][]> {
  const db = await DuckDBInstance.create(':memory:', { threads: '1' });
  const con = await db.connect();
  try {
    const out: Row[][] = [];
    for (const q of queries) out.push((await con.runAndReadAll(q)).getRowObjectsJson() as Row[]);
    return out;
  } finally {
    con.closeSync();
    db.closeSync();
  }
}

/** Every Parquet column (IPv6 as hex) plus the Hive partition columns, ordered by `order`. */
export function selectAll(dir: string, order = 'file, frame'): string {
  const cols = parquetColumns.map((c) => (c.endsWith('ip6') ? `hex(${c}) AS ${c}` : c));
  return `SELECT ${cols.join(', ')}, node, hour FROM read_parquet(${sqlString(`${dir}/**/*.parquet`)}, hive_partitioning = true) ORDER BY ${order}`;
}

const u64 = (lanes: Uint32Array, r: number) =>
  ((BigInt(lanes[2 * r + 1]!) << 32n) | BigInt(lanes[2 * r]!)).toString();
const i64 = (lanes: Uint32Array, r: number) => BigInt.asIntN(64, BigInt(u64(lanes, r))).toString();
const hex = (bytes: Uint8Array, r: number) =>
  Buffer.from(bytes.subarray(16 * r, 16 * r + 16))
    .toString('hex')
    .toUpperCase();

/** UTC `YYYY-MM-DDTHH` of a ns timestamp, floored (also before 1970). */
export function hourOf(ns: bigint): string {
  const hour = 3_600_000_000_000n;
  const q = ns / hour - (ns % hour < 0n ? 1n : 0n);
  return new Date(Number(q) * 3_600_000).toISOString().slice(0, 13);
}

/** The expected Parquet row of row `r` of `c`, with `node` and `hour` as DuckDB's hive reader gives them. */
export function expectedRow(
  c: PacketColumns,
  r: number,
  points: readonly { name: string; node: string }[],
  files: readonly string[],
): Row {
  const row: Row = {};
  for (const name of parquetColumns) {
    const col = stageColumns.find((s) => s.name === name);
    let value: unknown;
    switch (name) {
      case 'capture_point':
        value = points[c.point[r]!]!.name;
        break;
      case 'file':
        value = files[c.file[r]!]!;
        break;
      case 'file_offset':
        value = String(c.fileOffset[r]!);
        break;
      case 'direction':
        value = [null, 'in', 'out'][c.direction[r]!];
        break;
      case 'vlan_ids': {
        const k = Math.min(c.vlanCount[r]!, 4);
        value = k === 0 ? null : [...c.vlan.subarray(4 * r, 4 * r + k)];
        break;
      }
      case 'decode_error':
        value = c.decodeError[r] === 0 ? null : c.errors[c.decodeError[r]!];
        break;
      case 'more_fragments':
        value = c.moreFragmentsValid[r] ? c.moreFragments[r] !== 0 : null;
        break;
      default: {
        if (!col) throw new Error(`no storage for ${name}`);
        let valid = true;
        if (col.valid) valid = c[col.valid][r] === 1;
        if (col.whenIpVersion) valid = c[col.whenIpVersion.column][r] === col.whenIpVersion.version;
        const src = col.source;
        if (src.kind === 'u64') value = col.type === 'BIGINT' ? i64(c[src.data], r) : u64(c[src.data], r);
        else if (src.kind === 'ip6') value = hex(c[src.data], r);
        else if (src.kind === 'u8' || src.kind === 'u16' || src.kind === 'u32') value = c[src.data][r]!;
        if ((name === 'ip_version' || name === 'inner_ip_version') && value === 0) valid = false;
        if (!valid) value = null;
      }
    }
    row[name] = value;
  }
  const point = points[c.point[r]!]!;
  row['node'] = point.node;
  row['hour'] = c.tsValid[r] ? hourOf(BigInt(i64(c.ts, r))) : 'none';
  return row;
}
