/**
 * Writes the analyzers' tables into a dataset folder as Parquet (DESIGN §4), through DuckDB opened
 * with an explicit memory limit (it spills past it): `sightings/`, `flows/`, `flow_hops/`,
 * `clock_offsets/`, `flow_coverage/`. Sightings go in by DataChunks filled from typed arrays (no per-value JS call);
 * the small tables by appenders. No value read from a capture is ever put into SQL text: strings travel
 * as appended values, and the only literals are numbers and paths this code made.
 * The views `hoptrace sql` opens over them come from ingest/dataset/views.ts.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import {
  DOUBLE,
  type DuckDBAppender,
  type DuckDBConnection,
  DuckDBDataChunk,
  type DuckDBType,
  INTEGER,
  UINTEGER,
  USMALLINT,
  UTINYINT,
  VARCHAR,
} from '@duckdb/node-api';
import duckdb from '@duckdb/node-bindings';
import { openDuckDb, sqlString } from '../ingest/dataset/duckdb.ts';
import type { ClockOffset } from './clock-offsets.ts';
import type { Sightings } from './correlate/sightings.ts';
import type { Flow } from './flows.ts';

export const ANALYSIS_TABLES = ['sightings', 'flows', 'flow_hops', 'clock_offsets', 'flow_coverage'] as const;

export interface AnalysisTables {
  sightings: Sightings;
  flows: Flow[];
  flowOfPacket: Int32Array;
  clockOffsets: ClockOffset[];
  /** capture files by FrameTable file number */
  files: string[];
}

export interface WriteOptions {
  memoryLimit?: string;
  threads?: number;
  /** sightings rows gathered in JS at a time; default PART_ROWS */
  partRows?: number;
}

type Numeric = Uint8Array | Uint16Array | Uint32Array | Int32Array | Float64Array;
export interface StageCol {
  name: string;
  type: DuckDBType;
  sql: string;
  /** numbers, copied to DuckDB a chunk at a time; or texts (never NULL), assigned one by one */
  data: Numeric | readonly string[];
}

const CHUNK = 2048;
/**
 * Sightings rows gathered per part: only one part's columns are in JS memory at a time (~70 bytes a
 * row); DuckDB holds the staged rows under its memory limit and spills past it.
 */
const PART_ROWS = 1 << 20;

/**
 * Creates `table` from typed-array columns and fills it by DataChunks copied straight from them (no
 * per-value JS call); `columnsOf(from, to)` gives the columns of rows [from, to), `partRows` at a time.
 */
async function appendColumns(
  con: DuckDBConnection,
  table: string,
  columnsOf: (from: number, to: number) => StageCol[],
  rows: number,
  partRows: number,
): Promise<void> {
  let cols = columnsOf(0, Math.min(rows, partRows));
  const stage = await ColumnAppender.open(con, table, cols);
  for (let part = 0; part < rows; part += partRows) {
    if (part > 0) cols = columnsOf(part, Math.min(rows, part + partRows));
    stage.append(cols, Math.min(partRows, rows - part));
  }
  stage.close();
}

/** A table filled from typed-array columns by DataChunks, synchronously once open. */
export class ColumnAppender {
  private constructor(
    private readonly appender: DuckDBAppender,
    private readonly chunk: DuckDBDataChunk,
  ) {}

  /** Creates `table` with the columns' names and types (`cols` give them; their rows are not added). */
  static async open(
    con: DuckDBConnection,
    table: string,
    cols: readonly StageCol[],
  ): Promise<ColumnAppender> {
    await con.run(`CREATE TABLE ${table} (${cols.map((c) => `${c.name} ${c.sql}`).join(', ')})`);
    const appender = await con.createAppender(table);
    return new ColumnAppender(appender, DuckDBDataChunk.create(cols.map((c) => c.type)));
  }

  /** The first `rows` rows of `cols` (in the table's column order). */
  append(cols: readonly StageCol[], rows: number): void {
    const chunk = this.chunk;
    for (let start = 0; start < rows; start += CHUNK) {
      const n = Math.min(CHUNK, rows - start);
      duckdb.data_chunk_reset(chunk.chunk);
      cols.forEach((c, i) => {
        const v = duckdb.data_chunk_get_vector(chunk.chunk, i);
        const d = c.data;
        if (Array.isArray(d)) {
          for (let r = 0; r < n; r++) duckdb.vector_assign_string_element(v, r, d[start + r]!);
          return;
        }
        const w = (d as Numeric).BYTES_PER_ELEMENT;
        const a = d as Numeric;
        duckdb.copy_data_to_vector(v, 0, a.buffer as ArrayBuffer, a.byteOffset + start * w, n * w);
      });
      duckdb.data_chunk_set_size(chunk.chunk, n);
      this.appender.appendDataChunk(chunk);
    }
  }

  close(): void {
    this.appender.flushSync();
    this.appender.closeSync();
  }
}

/** A stage column, its DuckDB type from its typed array's (VARCHAR for texts). */
export function stageCol(name: string, data: Numeric | readonly string[]): StageCol {
  const [type, sql] = Array.isArray(data)
    ? [VARCHAR, 'VARCHAR']
    : data instanceof Uint8Array
      ? [UTINYINT, 'UTINYINT']
      : data instanceof Uint16Array
        ? [USMALLINT, 'USMALLINT']
        : data instanceof Uint32Array
          ? [UINTEGER, 'UINTEGER']
          : data instanceof Int32Array
            ? [INTEGER, 'INTEGER']
            : [DOUBLE, 'DOUBLE'];
  return { name, type, sql, data };
}

/** The stage columns of sightings rows [from, to): the row's own columns, then its frame's. */
function sightingColumns(s: Sightings, flowOfPacket: Int32Array, from: number, to: number): StageCol[] {
  const f = s.frames;
  const n = to - from;
  const rowFrame = s.frame.subarray(from, to);
  const gather = <T extends Uint8Array | Uint16Array | Uint32Array>(src: T, make: (k: number) => T): T => {
    const out = make(n);
    for (let r = 0; r < n; r++) out[r] = src[rowFrame[r]!]!;
    return out;
  };
  const gather8 = (src: Uint8Array) => gather(src, (k) => new Uint8Array(k));
  const gather16 = (src: Uint16Array) => gather(src, (k) => new Uint16Array(k));
  const gather32 = (src: Uint32Array) => gather(src, (k) => new Uint32Array(k));
  const flow = new Int32Array(n);
  for (let r = 0; r < n; r++) flow[r] = flowOfPacket[s.packet[from + r]!] ?? -1;
  return [
    stageCol('packet', s.packet.subarray(from, to)),
    stageCol('hop', s.hop.subarray(from, to)),
    stageCol('point', s.point.subarray(from, to)),
    stageCol('t', s.t.subarray(from, to)),
    stageCol('frames', s.count.subarray(from, to)),
    stageCol('bytes', s.bytes.subarray(from, to)),
    stageCol('role', s.role.subarray(from, to)),
    stageCol('rewrite', s.rewrite.subarray(from, to)),
    stageCol('collided', s.collided.subarray(from, to)),
    stageCol('flow', flow),
    stageCol('file', gather16(f.file)),
    stageCol('frame_no', gather32(f.frame)),
    stageCol('dir', gather8(f.dir)),
    stageCol('dir_inferred', gather8(f.dirInferred)),
    stageCol('ip_version', gather8(f.ipVersion)),
    stageCol('proto', gather8(f.proto)),
    stageCol('src', gather32(f.src)),
    stageCol('dst', gather32(f.dst)),
    stageCol('src_port', gather16(f.srcPort)),
    stageCol('dst_port', gather16(f.dstPort)),
    stageCol('ttl', gather8(f.ttl)),
    stageCol('tcp_seq', gather32(f.tcpSeq)),
    stageCol('tcp_ack', gather32(f.tcpAck)),
    stageCol('tcp_flags', gather16(f.tcpFlags)),
    stageCol('payload_len', gather32(f.payloadLen)),
    stageCol('icmp_type_code', gather16(f.icmpTypeCode)),
    stageCol('icmp_id', gather16(f.icmpId)),
    stageCol('icmp_echo', gather8(f.icmpEcho)),
  ];
}

const ip4Text = (c: string) =>
  `concat_ws('.', (${c} >> 24) & 255, (${c} >> 16) & 255, (${c} >> 8) & 255, ${c} & 255)`;

function sightingsSelect(baseNs: bigint): string {
  const rewrite = ['src_ip', 'src_port', 'dst_ip', 'dst_port']
    .map((name, bit) => `CASE WHEN s.rewrite & ${1 << bit} <> 0 THEN '${name}' END`)
    .join(', ');
  return `SELECT s.packet AS packet_id, s.hop, p.capture_point, p.node, p.kind AS point_kind,
      CASE s.dir WHEN 1 THEN 'in' WHEN 2 THEN 'out' ELSE 'unknown' END AS direction,
      s.dir_inferred = 1 AS direction_inferred,
      ${baseNs}::BIGINT + CAST(round(s.t) AS BIGINT) AS ts_ns,
      s.frames, s.bytes::UBIGINT AS bytes,
      CASE s.role WHEN 1 THEN 'super' WHEN 2 THEN 'segment' ELSE 'none' END AS offload,
      nullif(concat_ws(',', ${rewrite}), '') AS rewrite,
      s.collided = 1 AS collided,
      nullif(s.flow, -1) AS flow_id,
      fl.file, s.frame_no AS frame,
      nullif(s.ip_version, 0) AS ip_version, s.proto AS ip_proto,
      CASE s.ip_version WHEN 4 THEN ${ip4Text('s.src')} WHEN 6 THEN a6.addr END AS src_ip,
      CASE s.ip_version WHEN 4 THEN ${ip4Text('s.dst')} WHEN 6 THEN b6.addr END AS dst_ip,
      CASE WHEN s.proto IN (6, 17, 132) THEN s.src_port END AS src_port,
      CASE WHEN s.proto IN (6, 17, 132) THEN s.dst_port END AS dst_port,
      s.ttl,
      CASE WHEN s.proto = 6 THEN s.tcp_seq END AS tcp_seq,
      CASE WHEN s.proto = 6 THEN s.tcp_ack END AS tcp_ack,
      CASE WHEN s.proto = 6 THEN s.tcp_flags END AS tcp_flags,
      s.payload_len,
      CASE WHEN s.proto IN (1, 58) THEN s.icmp_type_code >> 8 END AS icmp_type,
      CASE WHEN s.proto IN (1, 58) THEN s.icmp_type_code & 255 END AS icmp_code,
      CASE WHEN s.icmp_echo = 1 THEN s.icmp_id END AS icmp_id
    FROM stage s
    JOIN points p ON p.point_id = s.point
    LEFT JOIN files fl ON fl.file_id = s.file
    LEFT JOIN ip6 a6 ON s.ip_version = 6 AND a6.id = s.src
    LEFT JOIN ip6 b6 ON s.ip_version = 6 AND b6.id = s.dst
    ORDER BY s.packet, s.hop`;
}

async function stageSightings(
  con: DuckDBConnection,
  t: AnalysisTables,
  file: string,
  partRows: number,
  copies: string[],
): Promise<void> {
  const s = t.sightings;
  await con.run(
    'CREATE TABLE points (point_id USMALLINT, capture_point VARCHAR, node VARCHAR, kind VARCHAR)',
  );
  const points = await con.createAppender('points');
  s.points.forEach((id, i) => {
    points.appendUSmallInt(i);
    points.appendVarchar(id);
    const node = s.pointNode[i];
    if (node) points.appendVarchar(node);
    else points.appendNull();
    points.appendVarchar(s.pointKind[i] ?? 'other');
    points.endRow();
  });
  points.closeSync();
  await con.run('CREATE TABLE files (file_id USMALLINT, file VARCHAR)');
  const files = await con.createAppender('files');
  t.files.forEach((name, i) => {
    files.appendUSmallInt(i);
    files.appendVarchar(name);
    files.endRow();
  });
  files.closeSync();
  await con.run('CREATE TABLE ip6 (id UINTEGER, addr VARCHAR)');
  const ip6 = await con.createAppender('ip6');
  s.frames.ip6.forEach((addr, i) => {
    ip6.appendUInteger(i);
    ip6.appendVarchar(addr);
    ip6.endRow();
  });
  ip6.closeSync();
  const columnsOf = (from: number, to: number) => sightingColumns(s, t.flowOfPacket, from, to);
  await appendColumns(con, 'stage', columnsOf, s.length, Math.max(1, partRows));
  copies.push(`COPY (${sightingsSelect(s.frames.baseNs ?? 0n)}) TO ${sqlString(file)} (FORMAT parquet)`);
}

const pathText = (p: Flow['requestPath']) => p.map((h) => `${h.point}:${h.dir}`).join(' > ');

async function stageFlows(
  con: DuckDBConnection,
  flows: Flow[],
  file: string,
  hopsFile: string,
  copies: string[],
): Promise<void> {
  await con.run(`CREATE TABLE flows (flow_id UINTEGER, ip_proto UTINYINT, ip_version UTINYINT,
    client_ip VARCHAR, client_port USMALLINT, client_pod VARCHAR, client_node VARCHAR,
    service_ip VARCHAR, service_port USMALLINT, service_name VARCHAR, service_seen BOOLEAN,
    server_ip VARCHAR, server_port USMALLINT, server_pod VARCHAR, server_node VARCHAR,
    packets UBIGINT, request_packets UBIGINT, reply_packets UBIGINT, bytes UBIGINT,
    first_ns BIGINT, last_ns BIGINT, community_id_service VARCHAR, community_id_server VARCHAR,
    request_path VARCHAR, reply_path VARCHAR, request_path_packets UBIGINT, reply_path_packets UBIGINT)`);
  const a = await con.createAppender('flows');
  const text = (v: string | null) => (v === null ? a.appendNull() : a.appendVarchar(v));
  for (const f of flows) {
    a.appendUInteger(f.id);
    a.appendUTinyInt(f.proto);
    a.appendUTinyInt(f.family);
    text(f.client.ip);
    a.appendUSmallInt(f.client.port);
    text(f.client.pod);
    text(f.client.node);
    text(f.service?.ip ?? null);
    if (f.service) a.appendUSmallInt(f.service.port);
    else a.appendNull();
    text(f.service?.name ?? null);
    if (f.service) a.appendBoolean(f.service.seen);
    else a.appendNull();
    text(f.server.ip);
    a.appendUSmallInt(f.server.port);
    text(f.server.pod);
    text(f.server.node);
    a.appendUBigInt(BigInt(f.packets));
    a.appendUBigInt(BigInt(f.requestPackets));
    a.appendUBigInt(BigInt(f.replyPackets));
    a.appendUBigInt(BigInt(f.bytes));
    a.appendBigInt(f.firstNs);
    a.appendBigInt(f.lastNs);
    text(f.communityIdService);
    text(f.communityIdServer);
    text(pathText(f.requestPath));
    text(pathText(f.replyPath));
    a.appendUBigInt(BigInt(f.requestPathPackets));
    a.appendUBigInt(BigInt(f.replyPathPackets));
    a.endRow();
  }
  a.closeSync();
  copies.push(`COPY flows TO ${sqlString(file)} (FORMAT parquet)`);
  await con.run(`CREATE TABLE flow_hops (flow_id UINTEGER, leg VARCHAR, hop USMALLINT, from_point VARCHAR,
    to_point VARCHAR, samples UBIGINT, min_ns BIGINT, median_ns BIGINT, max_ns BIGINT)`);
  const h = await con.createAppender('flow_hops');
  for (const f of flows)
    for (const hop of f.hops) {
      h.appendUInteger(f.id);
      h.appendVarchar(hop.leg);
      h.appendUSmallInt(hop.hop);
      h.appendVarchar(hop.from);
      h.appendVarchar(hop.to);
      h.appendUBigInt(BigInt(hop.samples));
      h.appendBigInt(BigInt(hop.minNs));
      h.appendBigInt(BigInt(hop.medianNs));
      h.appendBigInt(BigInt(hop.maxNs));
      h.endRow();
    }
  h.closeSync();
  copies.push(`COPY flow_hops TO ${sqlString(hopsFile)} (FORMAT parquet)`);
}

/** One row per (flow, point) that cannot vouch for the flow (flows.ts `Flow.coverage`). */
async function stageFlowCoverage(
  con: DuckDBConnection,
  flows: Flow[],
  file: string,
  copies: string[],
): Promise<void> {
  await con.run(`CREATE TABLE flow_coverage (flow_id UINTEGER, capture_point VARCHAR, status VARCHAR,
    seen BOOLEAN, drops UBIGINT)`);
  const a = await con.createAppender('flow_coverage');
  for (const f of flows)
    for (const c of f.coverage) {
      a.appendUInteger(f.id);
      a.appendVarchar(c.point);
      a.appendVarchar(c.status);
      a.appendBoolean(c.seen);
      if (c.drops === null) a.appendNull();
      else a.appendUBigInt(BigInt(c.drops));
      a.endRow();
    }
  a.closeSync();
  copies.push(`COPY flow_coverage TO ${sqlString(file)} (FORMAT parquet)`);
}

async function stageClockOffsets(
  con: DuckDBConnection,
  offsets: ClockOffset[],
  file: string,
  copies: string[],
): Promise<void> {
  await con.run(`CREATE TABLE clock_offsets (node VARCHAR, offset_ns BIGINT, error_ns BIGINT, reference BOOLEAN,
    matched_frames UBIGINT, via VARCHAR, packets_to_via UBIGINT, packets_from_via UBIGINT)`);
  const a = await con.createAppender('clock_offsets');
  for (const o of offsets) {
    a.appendVarchar(o.node);
    a.appendBigInt(BigInt(o.offsetNs));
    if (o.errorNs === null) a.appendNull();
    else a.appendBigInt(BigInt(o.errorNs));
    a.appendBoolean(o.reference);
    a.appendUBigInt(BigInt(o.matchedFrames));
    if (o.via === null) a.appendNull();
    else a.appendVarchar(o.via);
    a.appendUBigInt(BigInt(o.samples[0]));
    a.appendUBigInt(BigInt(o.samples[1]));
    a.endRow();
  }
  a.closeSync();
  copies.push(`COPY clock_offsets TO ${sqlString(file)} (FORMAT parquet)`);
}

/** Writes the tables under `datasetDir/<table>/<table>.parquet`, replacing earlier ones. */
export async function writeAnalysisTables(
  datasetDir: string,
  t: AnalysisTables,
  opts: WriteOptions = {},
): Promise<void> {
  await (await stageAnalysisTables(datasetDir, t, opts)).written;
}

/**
 * `writeAnalysisTables` in two steps: this thread hands the rows to DuckDB (the promise resolves then),
 * and DuckDB sorts and writes the Parquet files on its own threads (`written`), so the caller can
 * judge the flows meanwhile. `written` must be awaited: it closes the database.
 */
export async function stageAnalysisTables(
  datasetDir: string,
  t: AnalysisTables,
  opts: WriteOptions = {},
): Promise<{ written: Promise<void> }> {
  const root = path.resolve(datasetDir);
  for (const table of ANALYSIS_TABLES) await fs.mkdir(path.join(root, table), { recursive: true });
  const tmp = path.join(root, `.analysis-tmp-${process.pid}`);
  const db = await openDuckDb({
    memoryLimit: opts.memoryLimit ?? '1GB',
    threads: opts.threads,
    tempDirectory: tmp,
  });
  const con = await db.connect();
  const file = (table: string) => path.join(root, table, `${table}.parquet`);
  const close = async () => {
    con.closeSync();
    db.closeSync();
    await fs.rm(tmp, { recursive: true, force: true });
  };
  const copies: string[] = [];
  try {
    await stageSightings(con, t, file('sightings'), opts.partRows ?? PART_ROWS, copies);
    await stageFlows(con, t.flows, file('flows'), file('flow_hops'), copies);
    await stageClockOffsets(con, t.clockOffsets, file('clock_offsets'), copies);
    await stageFlowCoverage(con, t.flows, file('flow_coverage'), copies);
  } catch (e) {
    await close();
    throw e;
  }
  // one statement list, one native call: the copies go on while this thread is busy elsewhere
  const written = con.run(copies.join(';\n')).then(close, async (e: unknown) => {
    await close();
    throw e;
  });
  return { written };
}
