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
  BIGINT,
  BOOLEAN,
  DOUBLE,
  type DuckDBAppender,
  type DuckDBConnection,
  DuckDBDataChunk,
  type DuckDBEnumType,
  type DuckDBInstance,
  type DuckDBType,
  DuckDBTypeId,
  ENUM,
  INTEGER,
  UBIGINT,
  UINTEGER,
  USMALLINT,
  UTINYINT,
  VARCHAR,
} from '@duckdb/node-api';
import duckdb from '@duckdb/node-bindings';
import { openDuckDb, sqlString } from '../ingest/dataset/duckdb.ts';
import type { ClockOffset } from './clock-offsets.ts';
import { FrameTable } from './correlate/frame-table.ts';
import type { Sightings } from './correlate/sightings.ts';
import type { Flow } from './flows.ts';
import { ip4Text } from './topology/ip-text.ts';
import { U32Ids } from './u32-ids.ts';

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

type Numeric =
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | Int32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array;
export interface StageCol {
  name: string;
  type: DuckDBType;
  sql: string;
  /** numbers, copied to DuckDB a chunk at a time; or texts, assigned one by one (null: NULL) */
  data: Numeric | readonly (string | null)[];
  /** for numbers: 0 where the value is NULL (absent: none is) */
  valid?: Uint8Array | undefined;
}

const CHUNK = 2048;
/**
 * Sightings rows gathered in JS at a time (`WriteOptions.partRows`): only that many rows' columns are in
 * JS memory at once (~70 bytes a row); DuckDB holds the staged rows under its memory limit and spills
 * past it. (A Parquet part, `ROWS_PER_PART`, is staged from several of them.)
 */
const PART_ROWS = 1 << 20;

/** A table filled from typed-array columns by DataChunks, synchronously once open. */
export class ColumnAppender {
  /** one validity mask, reused: a bit per row of a chunk */
  private readonly mask = new Uint8Array(CHUNK / 8);

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
    // copy_data_to_vector copies bytes: an array wider than the vector's values would write past it
    for (const c of cols)
      if (!Array.isArray(c.data) && (c.data as Numeric).BYTES_PER_ELEMENT !== valueBytes(c.type))
        throw new Error(
          `stage column ${c.name}: ${(c.data as Numeric).BYTES_PER_ELEMENT}-byte values for ${c.type.toString()}`,
        );
    const chunk = this.chunk;
    for (let start = 0; start < rows; start += CHUNK) {
      const n = Math.min(CHUNK, rows - start);
      duckdb.data_chunk_reset(chunk.chunk);
      cols.forEach((c, i) => {
        const v = duckdb.data_chunk_get_vector(chunk.chunk, i);
        const d = c.data;
        // a reset chunk's vectors are all valid; a mask is written only for a part with a NULL (the
        // bindings hand out a copy of the mask, so it is built here and copied in)
        const mask = this.mask;
        let nulls = 0;
        const setNull = (r: number) => {
          if (nulls++ === 0) mask.fill(255);
          mask[r >> 3]! &= ~(1 << (r & 7));
        };
        if (Array.isArray(d)) {
          for (let r = 0; r < n; r++) {
            const text = d[start + r] as string | null;
            if (text === null) setNull(r);
            else duckdb.vector_assign_string_element(v, r, text);
          }
        } else {
          const a = d as Numeric;
          const w = a.BYTES_PER_ELEMENT;
          duckdb.copy_data_to_vector(v, 0, a.buffer as ArrayBuffer, a.byteOffset + start * w, n * w);
          if (c.valid) for (let r = 0; r < n; r++) if (c.valid[start + r] === 0) setNull(r);
        }
        if (nulls > 0) {
          duckdb.vector_ensure_validity_writable(v);
          duckdb.copy_data_to_vector_validity(
            v,
            0,
            mask.buffer as ArrayBuffer,
            mask.byteOffset,
            mask.byteLength,
          );
        }
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

/** Bytes of one value of a fixed-width DuckDB type as its vectors store it (ENUM: its index type). */
function valueBytes(type: DuckDBType): number {
  const id = type.typeId === DuckDBTypeId.ENUM ? type.internalTypeId : type.typeId;
  switch (id) {
    case DuckDBTypeId.BOOLEAN:
    case DuckDBTypeId.UTINYINT:
      return 1;
    case DuckDBTypeId.USMALLINT:
      return 2;
    case DuckDBTypeId.INTEGER:
    case DuckDBTypeId.UINTEGER:
      return 4;
    default:
      return 8;
  }
}

/**
 * A stage column, its DuckDB type from its typed array's (VARCHAR for texts); `bool`: a Uint8Array of
 * 0/1 as BOOLEAN (DuckDB stores a boolean in one byte).
 */
export function stageCol(
  name: string,
  data: Numeric | readonly (string | null)[],
  valid?: Uint8Array,
  bool = false,
): StageCol {
  const [type, sql] = Array.isArray(data)
    ? [VARCHAR, 'VARCHAR']
    : data instanceof Uint8Array
      ? bool
        ? [BOOLEAN, 'BOOLEAN']
        : [UTINYINT, 'UTINYINT']
      : data instanceof Uint16Array
        ? [USMALLINT, 'USMALLINT']
        : data instanceof Uint32Array
          ? [UINTEGER, 'UINTEGER']
          : data instanceof Int32Array
            ? [INTEGER, 'INTEGER']
            : data instanceof BigInt64Array
              ? [BIGINT, 'BIGINT']
              : data instanceof BigUint64Array
                ? [UBIGINT, 'UBIGINT']
                : [DOUBLE, 'DOUBLE'];
  return { name, type, sql, data, valid };
}

/**
 * The stage columns of sightings rows [from, to): the row's own columns, then its frame's. `flowOf` is
 * indexed by `s`'s packet numbers; the table numbers them from `packetBase` (a slab's first packet).
 */
function sightingColumns(
  s: Sightings,
  flowOf: Int32Array,
  packetBase: number,
  enums: SightingEnums,
  from: number,
  to: number,
): StageCol[] {
  const f = s.frames;
  const n = to - from;
  const rowFrame = s.frame.subarray(from, to);
  // a spilled analysis keeps one evidence row per sighting, in row order: its columns are the rows'
  // own (views, no copy); else one monomorphic gather per element type (a generic one over all three
  // was polymorphic and cost 5x as much)
  let identity = true;
  for (let r = 0; r < n && identity; r++) identity = rowFrame[r] === from + r;
  const gather8 = (src: Uint8Array) => {
    if (identity) return src.subarray(from, to);
    const out = new Uint8Array(n);
    for (let r = 0; r < n; r++) out[r] = src[rowFrame[r]!]!;
    return out;
  };
  const gather16 = (src: Uint16Array) => {
    if (identity) return src.subarray(from, to);
    const out = new Uint16Array(n);
    for (let r = 0; r < n; r++) out[r] = src[rowFrame[r]!]!;
    return out;
  };
  const gather32 = (src: Uint32Array) => {
    if (identity) return src.subarray(from, to);
    const out = new Uint32Array(n);
    for (let r = 0; r < n; r++) out[r] = src[rowFrame[r]!]!;
    return out;
  };
  const flow = new Int32Array(n);
  for (let r = 0; r < n; r++) flow[r] = flowOf[s.packet[from + r]!] ?? -1;
  let packet = s.packet.subarray(from, to);
  if (packetBase > 0) {
    packet = new Uint32Array(n);
    for (let r = 0; r < n; r++) packet[r] = packetBase + s.packet[from + r]!;
  }
  // ENUM indexes: the point's own, its node's and kind's, the file's, and IPv6 addresses' intern ids
  const point = enums.point.make(n);
  const node = enums.node.make(n);
  const nodeValid = new Uint8Array(n);
  const kind = enums.kind.make(n);
  const fileIx = enums.file.make(n);
  const fileValid = new Uint8Array(n);
  const srcAddr = enums.addr.make(n);
  const dstAddr = enums.addr.make(n);
  const hasAddr = new Uint8Array(n);
  const v6Base = enums.v4.values.length;
  for (let r = 0; r < n; r++) {
    const p = s.point[from + r]!;
    const fr = rowFrame[r]!;
    point[r] = enums.pointIndex[p]!;
    const nd = enums.nodeOfPoint[p] ?? -1;
    node[r] = Math.max(nd, 0);
    nodeValid[r] = nd < 0 ? 0 : 1;
    kind[r] = enums.kindOfPoint[p] ?? 0;
    const fi = enums.fileIndex[f.file[fr]!] ?? -1;
    fileIx[r] = Math.max(fi, 0);
    fileValid[r] = fi < 0 ? 0 : 1;
    const v = f.ipVersion[fr];
    if (v === 4) {
      srcAddr[r] = enums.v4.id(f.src[fr]!);
      dstAddr[r] = enums.v4.id(f.dst[fr]!);
      hasAddr[r] = 1;
    } else if (v === 6) {
      srcAddr[r] = v6Base + f.src[fr]!;
      dstAddr[r] = v6Base + f.dst[fr]!;
      hasAddr[r] = 1;
    }
  }
  return [
    stageCol('packet', packet),
    stageCol('hop', s.hop.subarray(from, to)),
    enumCol('capture_point', enums.point, point),
    enumCol('node', enums.node, node, nodeValid),
    enumCol('point_kind', enums.kind, kind),
    stageCol('t', s.t.subarray(from, to)),
    stageCol('frames', s.count.subarray(from, to)),
    stageCol('bytes', s.bytes.subarray(from, to)),
    enumCol('role', enums.offload, s.role.subarray(from, to)),
    enumCol('rewrite', enums.rewrite, s.rewrite.subarray(from, to)),
    stageCol('collided', s.collided.subarray(from, to)),
    stageCol('flow', flow),
    enumCol('file', enums.file, fileIx, fileValid),
    stageCol('frame_no', gather32(f.frame)),
    enumCol('dir', enums.direction, gather8(f.dir)),
    stageCol('dir_inferred', gather8(f.dirInferred)),
    stageCol('ip_version', gather8(f.ipVersion)),
    stageCol('proto', gather8(f.proto)),
    enumCol('src_addr', enums.addr, srcAddr, hasAddr),
    enumCol('dst_addr', enums.addr, dstAddr, hasAddr),
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

function sightingsSelect(baseNs: bigint, table: string): string {
  return `SELECT s.packet AS packet_id, s.hop, s.capture_point::VARCHAR AS capture_point,
      s.node::VARCHAR AS node, s.point_kind::VARCHAR AS point_kind,
      s.dir::VARCHAR AS direction,
      s.dir_inferred = 1 AS direction_inferred,
      ${baseNs}::BIGINT + CAST(round(s.t) AS BIGINT) AS ts_ns,
      s.frames, s.bytes::UBIGINT AS bytes,
      s.role::VARCHAR AS offload,
      nullif(s.rewrite::VARCHAR, '') AS rewrite,
      s.collided = 1 AS collided,
      nullif(s.flow, -1) AS flow_id,
      s.file::VARCHAR AS file, s.frame_no AS frame,
      nullif(s.ip_version, 0) AS ip_version, s.proto AS ip_proto,
      s.src_addr::VARCHAR AS src_ip,
      s.dst_addr::VARCHAR AS dst_ip,
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
    FROM ${table} s`;
}

/**
 * A text column's values as a DuckDB ENUM (dictionary-encoded text: DuckDB turns an ENUM into VARCHAR by
 * a dictionary lookup). Its values are appended to `<name>_values` and the type made from that table, so
 * no value read from a capture or bundle is ever SQL text. `values` must be distinct.
 */
interface TextEnum {
  /** the SQL type name */
  name: string;
  type: DuckDBEnumType;
  /** the typed array width an index takes (DuckDB's: by the number of values) */
  make: (n: number) => Uint8Array | Uint16Array | Uint32Array;
}

async function createEnum(
  con: DuckDBConnection,
  name: string,
  distinct: readonly string[],
): Promise<TextEnum> {
  // an ENUM needs a value; a column with no values holds only NULLs, and '' is never referenced
  const values = distinct.length > 0 ? distinct : [''];
  const stage = await ColumnAppender.open(con, `${name}_values`, [stageCol('v', [])]);
  stage.append([stageCol('v', values)], values.length);
  stage.close();
  // a single-table SELECT keeps its order: the ENUM's indexes are the values' positions
  await con.run(`CREATE TYPE ${name} AS ENUM (SELECT v FROM ${name}_values)`);
  const type = ENUM(values);
  const make =
    type.internalTypeId === DuckDBTypeId.UTINYINT
      ? (n: number) => new Uint8Array(n)
      : type.internalTypeId === DuckDBTypeId.USMALLINT
        ? (n: number) => new Uint16Array(n)
        : (n: number) => new Uint32Array(n);
  return { name, type, make };
}

/** A stage column of ENUM indexes (`valid` 0: NULL). */
function enumCol(
  name: string,
  e: TextEnum,
  ids: Uint8Array | Uint16Array | Uint32Array,
  valid?: Uint8Array,
): StageCol {
  return { name, type: e.type, sql: e.name, data: ids, valid };
}

/** The distinct texts of `texts` (a TextDict's) and each one's index among them (null: -1). */
function distinctOf(texts: readonly (string | null)[]): { values: string[]; index: Int32Array } {
  const dict = new TextDict();
  const { ids, valid } = dict.encode(texts);
  return { values: dict.texts, index: Int32Array.from(ids, (id, i) => (valid[i] === 1 ? id : -1)) };
}

/** The ENUMs of the sightings' text columns, and the per-point and per-file indexes into them. */
interface SightingEnums {
  point: TextEnum;
  /** point ENUM index per point (two numbers of one name share it) */
  pointIndex: Int32Array;
  node: TextEnum;
  /** node ENUM index per point (-1: none) */
  nodeOfPoint: Int32Array;
  kind: TextEnum;
  kindOfPoint: Int32Array;
  file: TextEnum;
  fileIndex: Int32Array;
  /** every address text: the IPv4 ones first (ids from `v4`), then the IPv6 ones (their intern ids after those) */
  addr: TextEnum;
  v4: U32Ids;
  direction: TextEnum;
  offload: TextEnum;
  rewrite: TextEnum;
}

/** Enum texts of codes this code defines (the stage column holds the code itself). */
const DIRECTION_TEXTS = ['unknown', 'in', 'out'];
const OFFLOAD_TEXTS = ['none', 'super', 'segment'];
/** rewrite bits (sightings.ts `Rewrite`) -> the changed fields, comma-separated ('' for none: NULL) */
const REWRITE_TEXTS = Array.from({ length: 16 }, (_, bits) =>
  ['src_ip', 'src_port', 'dst_ip', 'dst_port'].filter((_, k) => (bits & (1 << k)) !== 0).join(','),
);

/**
 * Where the sightings' text columns take their values from: an ENUM's values are fixed before its first
 * row, and a streamed analysis stages each slab's rows as the slab is correlated.
 */
export interface StageTexts {
  points: readonly string[];
  pointNode: readonly (string | null)[];
  pointKind: readonly string[];
  /** capture files by FrameTable file number */
  files: readonly string[];
  /** every IPv4 address a sighting may carry (more do no harm) */
  ip4: readonly number[];
  /** the IPv6 texts the frames' intern ids index, every one the rows will use */
  ip6: readonly string[];
}

/** The texts of sightings held whole (every IPv4 address of their rows). */
export function stageTextsOf(s: Sightings, files: readonly string[]): StageTexts {
  const f = s.frames;
  const v4 = new U32Ids();
  for (let r = 0; r < s.length; r++) {
    const fr = s.frame[r]!;
    if (f.ipVersion[fr] !== 4) continue;
    v4.id(f.src[fr]!);
    v4.id(f.dst[fr]!);
  }
  return {
    points: s.points,
    pointNode: s.pointNode,
    pointKind: s.pointKind,
    files,
    ip4: v4.values,
    ip6: f.ip6,
  };
}

async function sightingEnums(con: DuckDBConnection, t: StageTexts): Promise<SightingEnums> {
  const v4 = new U32Ids();
  for (const a of t.ip4) v4.id(a);
  // IPv4 text and IPv6 intern text are distinct (a dot against colons), and interned texts are distinct
  const addrs = [...v4.values.map((a) => ip4Text(a)), ...t.ip6];
  const points = distinctOf(t.points);
  const nodes = distinctOf(t.points.map((_, i) => t.pointNode[i] ?? null));
  const kinds = distinctOf(t.points.map((_, i) => t.pointKind[i] ?? 'other'));
  const files = distinctOf(t.files);
  return {
    point: await createEnum(con, 'point_t', points.values),
    pointIndex: points.index,
    node: await createEnum(con, 'node_t', nodes.values),
    nodeOfPoint: nodes.index,
    kind: await createEnum(con, 'kind_t', kinds.values),
    kindOfPoint: kinds.index,
    file: await createEnum(con, 'file_t', files.values),
    fileIndex: files.index,
    addr: await createEnum(con, 'addr_t', addrs),
    v4,
    direction: await createEnum(con, 'direction_t', DIRECTION_TEXTS),
    offload: await createEnum(con, 'offload_t', OFFLOAD_TEXTS),
    rewrite: await createEnum(con, 'rewrite_t', REWRITE_TEXTS),
  };
}

const pathText = (p: Flow['requestPath']) => p.map((h) => `${h.point}:${h.dir}`).join(' > ');

/** Flows staged per part: a streamed analysis holds this many ended flows until they are staged. */
const FLOW_PART = 1 << 12;

/** The flows table's columns for flows [from, to), in its column order. */
function flowColumns(flows: readonly Flow[], from: number, to: number): StageCol[] {
  const n = to - from;
  const u32 = () => new Uint32Array(n);
  const [id, clientPort, servicePort, serverPort] = [
    u32(),
    new Uint16Array(n),
    new Uint16Array(n),
    new Uint16Array(n),
  ];
  const [proto, family, seen, hasService] = [
    new Uint8Array(n),
    new Uint8Array(n),
    new Uint8Array(n),
    new Uint8Array(n),
  ];
  const counts = Array.from({ length: 6 }, () => new BigUint64Array(n));
  const [firstNs, lastNs] = [new BigInt64Array(n), new BigInt64Array(n)];
  const texts = Array.from({ length: 12 }, () => new Array<string | null>(n));
  for (let k = 0; k < n; k++) {
    const f = flows[from + k]!;
    id[k] = f.id;
    proto[k] = f.proto;
    family[k] = f.family;
    clientPort[k] = f.client.port;
    serverPort[k] = f.server.port;
    hasService[k] = f.service ? 1 : 0;
    servicePort[k] = f.service?.port ?? 0;
    seen[k] = f.service?.seen ? 1 : 0;
    counts[0]![k] = BigInt(f.packets);
    counts[1]![k] = BigInt(f.requestPackets);
    counts[2]![k] = BigInt(f.replyPackets);
    counts[3]![k] = BigInt(f.bytes);
    counts[4]![k] = BigInt(f.requestPathPackets);
    counts[5]![k] = BigInt(f.replyPathPackets);
    firstNs[k] = f.firstNs;
    lastNs[k] = f.lastNs;
    const t = [
      f.client.ip,
      f.client.pod,
      f.client.node,
      f.service?.ip ?? null,
      f.service?.name ?? null,
      f.server.ip,
      f.server.pod,
      f.server.node,
      f.communityIdService,
      f.communityIdServer,
      pathText(f.requestPath),
      pathText(f.replyPath),
    ];
    for (let j = 0; j < t.length; j++) texts[j]![k] = t[j]!;
  }
  const [clientIp, clientPod, clientNode, serviceIp, serviceName, serverIp, serverPod, serverNode] = texts;
  return [
    stageCol('flow_id', id),
    stageCol('ip_proto', proto),
    stageCol('ip_version', family),
    stageCol('client_ip', clientIp!),
    stageCol('client_port', clientPort),
    stageCol('client_pod', clientPod!),
    stageCol('client_node', clientNode!),
    stageCol('service_ip', serviceIp!),
    stageCol('service_port', servicePort, hasService),
    stageCol('service_name', serviceName!),
    stageCol('service_seen', seen, hasService, true),
    stageCol('server_ip', serverIp!),
    stageCol('server_port', serverPort),
    stageCol('server_pod', serverPod!),
    stageCol('server_node', serverNode!),
    stageCol('packets', counts[0]!),
    stageCol('request_packets', counts[1]!),
    stageCol('reply_packets', counts[2]!),
    stageCol('bytes', counts[3]!),
    stageCol('first_ns', firstNs),
    stageCol('last_ns', lastNs),
    stageCol('community_id_service', texts[8]!),
    stageCol('community_id_server', texts[9]!),
    stageCol('request_path', texts[10]!),
    stageCol('reply_path', texts[11]!),
    stageCol('request_path_packets', counts[4]!),
    stageCol('reply_path_packets', counts[5]!),
  ];
}

/**
 * Rows of a per-flow list (hops, coverage) flattened: `count(flow)` rows of each flow in
 * [from, to), their flows' ids and the flow and item of each row.
 */
function flatten<T>(
  flows: readonly Flow[],
  from: number,
  to: number,
  items: (f: Flow) => readonly T[],
): { id: Uint32Array; item: T[] } {
  let n = 0;
  for (let k = from; k < to; k++) n += items(flows[k]!).length;
  const id = new Uint32Array(n);
  const item = new Array<T>(n);
  let r = 0;
  for (let k = from; k < to; k++)
    for (const x of items(flows[k]!)) {
      id[r] = flows[k]!.id;
      item[r++] = x;
    }
  return { id, item };
}

function hopColumns(flows: readonly Flow[], from: number, to: number): StageCol[] {
  const { id, item } = flatten(flows, from, to, (f) => f.hops);
  const n = item.length;
  const hop = new Uint16Array(n);
  const [samples, min, median, max] = [
    new BigUint64Array(n),
    new BigInt64Array(n),
    new BigInt64Array(n),
    new BigInt64Array(n),
  ];
  for (let r = 0; r < n; r++) {
    const h = item[r]!;
    hop[r] = h.hop;
    samples[r] = BigInt(h.samples);
    min[r] = BigInt(h.minNs);
    median[r] = BigInt(h.medianNs);
    max[r] = BigInt(h.maxNs);
  }
  return [
    stageCol('flow_id', id),
    stageCol(
      'leg',
      item.map((h) => h.leg),
    ),
    stageCol('hop', hop),
    stageCol(
      'from_point',
      item.map((h) => h.from),
    ),
    stageCol(
      'to_point',
      item.map((h) => h.to),
    ),
    stageCol('samples', samples),
    stageCol('min_ns', min),
    stageCol('median_ns', median),
    stageCol('max_ns', max),
  ];
}

/** One row per (flow, point) that cannot vouch for the flow (flows.ts `Flow.coverage`). */
function coverageColumns(flows: readonly Flow[], from: number, to: number): StageCol[] {
  const { id, item } = flatten(flows, from, to, (f) => f.coverage);
  const n = item.length;
  const seen = new Uint8Array(n);
  const drops = new BigUint64Array(n);
  const hasDrops = new Uint8Array(n);
  for (let r = 0; r < n; r++) {
    const c = item[r]!;
    seen[r] = c.seen ? 1 : 0;
    hasDrops[r] = c.drops === null ? 0 : 1;
    drops[r] = BigInt(c.drops ?? 0);
  }
  return [
    stageCol('flow_id', id),
    stageCol(
      'capture_point',
      item.map((c) => c.point),
    ),
    stageCol(
      'status',
      item.map((c) => c.status),
    ),
    stageCol('seen', seen, undefined, true),
    stageCol('drops', drops, hasDrops),
  ];
}

/**
 * The texts of the per-flow tables, each staged once: a text column is staged as ids into it, since a
 * native call per string value (1.2 M of them for 28 k flows' hops) cost more than the rest of staging.
 */
class TextDict {
  private readonly ids = new Map<string, number>();
  readonly texts: string[] = [];

  /** ids of `values` (0 where null, which `valid` marks) */
  encode(values: readonly (string | null)[]): { ids: Uint32Array; valid: Uint8Array } {
    const ids = new Uint32Array(values.length);
    const valid = new Uint8Array(values.length);
    for (let r = 0; r < values.length; r++) {
      const v = values[r];
      if (v === null || v === undefined) continue;
      let id = this.ids.get(v);
      if (id === undefined) {
        id = this.texts.length;
        this.texts.push(v);
        this.ids.set(v, id);
      }
      ids[r] = id;
      valid[r] = 1;
    }
    return { ids, valid };
  }

  /**
   * Stages the texts as one list in `texts_list`, in id order: `list` without an ORDER BY takes the
   * rows in the order DuckDB's threads finish (past a row group of 122 880 texts, not the staged one).
   */
  async stage(con: DuckDBConnection): Promise<void> {
    const n = this.texts.length;
    const ids = new Uint32Array(n);
    for (let i = 0; i < n; i++) ids[i] = i;
    const cols = [stageCol('id', ids), stageCol('text', this.texts)];
    const stage = await ColumnAppender.open(con, 'texts_stage', cols);
    if (n > 0) stage.append(cols, n);
    stage.close();
    await con.run('CREATE TABLE texts_list AS SELECT list(text ORDER BY id) AS l FROM texts_stage');
  }
}

/**
 * A table of per-flow rows, staged by DataChunks a part of flows at a time (a row-by-row appender made
 * one native call per value), its texts as ids into `dict`; the COPY that writes it turns them back into
 * texts (a list lookup per value, on DuckDB's threads) and writes the rows in flow id order, each flow's
 * in the order given: a streamed analysis stages flows as they end, out of id order, and the held one
 * wrote them by id (a list held in a variable instead cost 20x as much: DuckDB copies the constant list
 * per vector).
 */
class PerFlowStage {
  private rowBase = 0;

  private constructor(
    readonly table: string,
    private readonly columnsOf: (flows: readonly Flow[], from: number, to: number) => StageCol[],
    private readonly dict: TextDict,
    /** every column's name in order, and which of them are texts */
    private readonly names: readonly string[],
    private readonly texts: ReadonlySet<string>,
  ) {}

  private stage: ColumnAppender | null = null;

  /** The table is created from the columns of no flow (their types do not depend on the rows). */
  static async open(
    con: DuckDBConnection,
    table: string,
    columnsOf: (flows: readonly Flow[], from: number, to: number) => StageCol[],
    dict: TextDict,
  ): Promise<PerFlowStage> {
    const none = columnsOf([], 0, 0);
    const texts = new Set(none.filter((c) => Array.isArray(c.data)).map((c) => c.name));
    const out = new PerFlowStage(
      table,
      columnsOf,
      dict,
      none.map((c) => c.name),
      texts,
    );
    out.stage = await ColumnAppender.open(con, `${table}_stage`, out.encode(none));
    return out;
  }

  private encode(cols: StageCol[]): StageCol[] {
    const rows = cols[0]!.data.length;
    const ord = new Uint32Array(rows);
    for (let r = 0; r < rows; r++) ord[r] = this.rowBase + r;
    this.rowBase += rows;
    return [
      stageCol('ord', ord),
      ...cols.map((c) => {
        if (!Array.isArray(c.data)) return c;
        const { ids, valid } = this.dict.encode(c.data);
        return stageCol(c.name, ids, valid);
      }),
    ];
  }

  add(flows: readonly Flow[]): void {
    const cols = this.encode(this.columnsOf(flows, 0, flows.length));
    const rows = cols[0]!.data.length;
    if (rows > 0) this.stage!.append(cols, rows);
  }

  close(): void {
    this.stage!.close();
  }

  /** The COPY that writes the table: names and the list index are this code's own, no value from a capture is in the SQL. */
  copy(file: string): string {
    const t = this.table;
    const select = this.names.map((c) => (this.texts.has(c) ? `t.l[s.${c} + 1] AS ${c}` : `s.${c}`));
    return `COPY (SELECT ${select.join(', ')} FROM ${t}_stage s, texts_list t ORDER BY s.flow_id, s.ord) TO ${sqlString(file)} (FORMAT parquet)`;
  }
}

async function stageClockOffsets(
  con: DuckDBConnection,
  offsets: readonly ClockOffset[],
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
 * and DuckDB writes the Parquet files on its own threads (`written`), so the caller can judge the flows
 * meanwhile. `written` must be awaited: it closes the database.
 */
export async function stageAnalysisTables(
  datasetDir: string,
  t: AnalysisTables,
  opts: WriteOptions = {},
): Promise<{ written: Promise<void> }> {
  const root = path.resolve(datasetDir);
  const tmp = path.join(root, `.analysis-tmp-${process.pid}`);
  const parts = path.join(root, 'sightings');
  const stage = await AnalysisStage.open(tmp, parts, stageTextsOf(t.sightings, t.files), opts);
  try {
    await stage.sightings(t.sightings, t.flowOfPacket, 0);
    for (const f of t.flows) stage.flow(f);
  } catch (e) {
    await stage.discard();
    throw e;
  }
  return stage.finish(datasetDir, t.clockOffsets);
}

/** Sightings without a row: the stage's columns, and so its table's types, come from them. */
function noSightings(): Sightings {
  return {
    frames: new FrameTable(1),
    points: [],
    pointNode: [],
    pointKind: [],
    length: 0,
    packet: new Uint32Array(0),
    hop: new Uint16Array(0),
    point: new Uint16Array(0),
    frame: new Int32Array(0),
    count: new Uint32Array(0),
    t: new Float64Array(0),
    bytes: new Float64Array(0),
    role: new Uint8Array(0),
    rewrite: new Uint8Array(0),
    collided: new Uint8Array(0),
    packetStart: new Int32Array(1),
    packets: 0,
  };
}

/** Sightings rows per Parquet part: DuckDB holds at most one part being written and the next filling. */
const ROWS_PER_PART = 1 << 21;

/** The sightings table's part files, in row order (a view reads `sightings/*.parquet`). */
const sightingsPart = (k: number): string => `part-${String(k).padStart(5, '0')}.parquet`;

/**
 * The analyzers' tables staged in DuckDB as the analysis makes them: a slab's sightings as the slab is
 * correlated, a flow as it ends. Sightings are written to Parquet a part at a time (`ROWS_PER_PART`
 * rows) on DuckDB's threads while the analysis goes on, into `partsDir`; the other tables are small and
 * written by `finish`, once the dataset folder exists. Nothing of a capture stays in JS memory.
 */
export class AnalysisStage {
  private readonly pending: Flow[] = [];
  private baseNs: bigint | null = null;
  private closed = false;
  private part = 0;
  /** sightings rows staged for the part being filled */
  private rowsInPart = 0;
  /** the part being written (at most one: the next one fills meanwhile) */
  private copying: Promise<unknown> = Promise.resolve();
  private readonly parts: string[] = [];

  private constructor(
    private readonly db: DuckDBInstance,
    private readonly con: DuckDBConnection,
    /** the connection the parts are written through, while `con` stages the next */
    private readonly copyCon: DuckDBConnection,
    private readonly tmp: string,
    private readonly partsDir: string,
    private readonly enums: SightingEnums,
    private rows: ColumnAppender,
    private readonly perFlow: readonly PerFlowStage[],
    private readonly dict: TextDict,
    private readonly chunkRows: number,
    private readonly rowsPerPart: number,
  ) {}

  /**
   * `partsDir`: where the sightings' parts go as they are written (`finish` moves them into the
   * dataset); `tmp`: DuckDB's spill folder.
   */
  static async open(
    tmp: string,
    partsDir: string,
    texts: StageTexts,
    opts: WriteOptions & { rowsPerPart?: number } = {},
  ): Promise<AnalysisStage> {
    const db = await openDuckDb({
      memoryLimit: opts.memoryLimit ?? '1GB',
      threads: opts.threads,
      tempDirectory: tmp,
    });
    const cons: DuckDBConnection[] = [];
    try {
      // an earlier run's parts would be read as rows of this one
      await fs.mkdir(partsDir, { recursive: true });
      for (const f of await fs.readdir(partsDir))
        if (f.endsWith('.parquet')) await fs.rm(path.join(partsDir, f), { force: true });
      const con = await db.connect();
      cons.push(con);
      const copyCon = await db.connect();
      cons.push(copyCon);
      // texts as ENUMs: the COPY is then a projection of one table, which keeps the staged order (packet,
      // hop: the order the correlation made); joins needed an ORDER BY, a sort of every row
      const enums = await sightingEnums(con, texts);
      const rows = await ColumnAppender.open(con, 'stage_0', emptyRows(enums));
      const dict = new TextDict();
      const perFlow = [
        await PerFlowStage.open(con, 'flows', flowColumns, dict),
        await PerFlowStage.open(con, 'flow_hops', hopColumns, dict),
        await PerFlowStage.open(con, 'flow_coverage', coverageColumns, dict),
      ];
      return new AnalysisStage(
        db,
        con,
        copyCon,
        tmp,
        partsDir,
        enums,
        rows,
        perFlow,
        dict,
        Math.max(1, opts.partRows ?? PART_ROWS),
        Math.max(1, opts.rowsPerPart ?? ROWS_PER_PART),
      );
    } catch (e) {
      for (const c of cons) c.closeSync();
      db.closeSync();
      await fs.rm(tmp, { recursive: true, force: true });
      throw e;
    }
  }

  /** The sightings of `s` (a slab, or all of them), packets numbered from `packetBase`; `flowOf` by `s`'s packet numbers. */
  async sightings(s: Sightings, flowOf: Int32Array, packetBase: number): Promise<void> {
    this.baseNs ??= s.frames.baseNs;
    for (let at = 0; at < s.length; at += this.chunkRows) {
      const to = Math.min(s.length, at + this.chunkRows);
      this.rows.append(sightingColumns(s, flowOf, packetBase, this.enums, at, to), to - at);
      this.rowsInPart += to - at;
    }
    if (this.rowsInPart >= this.rowsPerPart) await this.nextPart();
  }

  /** Writes the part staged so far on DuckDB's threads and stages the next in a new table. */
  private async nextPart(): Promise<void> {
    this.rows.close();
    const k = this.part++;
    this.rowsInPart = 0;
    // one part written at a time: a slow disk holds the analysis back instead of filling memory
    await this.copying;
    this.copying = this.copyCon.run(this.partCopy(k));
    // its failure is heard at the next part or at `finish`, never as an unhandled rejection
    this.copying.catch(() => undefined);
    this.rows = await ColumnAppender.open(this.con, `stage_${k + 1}`, emptyRows(this.enums));
  }

  /** Writes part k and drops its table (names, numbers and paths are this code's own). */
  private partCopy(k: number): string {
    const file = path.join(this.partsDir, sightingsPart(k));
    this.parts.push(file);
    return `COPY (${sightingsSelect(this.baseNs ?? 0n, `stage_${k}`)}) TO ${sqlString(file)} (FORMAT parquet); DROP TABLE stage_${k}`;
  }

  flow(f: Flow): void {
    this.pending.push(f);
    if (this.pending.length >= FLOW_PART) this.flushFlows();
  }

  private flushFlows(): void {
    for (const stage of this.perFlow) stage.add(this.pending);
    this.pending.length = 0;
  }

  /**
   * The Parquet files under `datasetDir/<table>/`: this thread stages the rest (the promise resolves
   * then) and DuckDB writes on its own threads (`written`, which must be awaited: it closes the
   * database, whatever failed); the sightings' parts are moved in once written.
   */
  async finish(
    datasetDir: string,
    clockOffsets: readonly ClockOffset[],
  ): Promise<{ written: Promise<void> }> {
    const root = path.resolve(datasetDir);
    const file = (table: string) => path.join(root, table, `${table}.parquet`);
    const copies: string[] = [];
    try {
      for (const table of ANALYSIS_TABLES) await fs.mkdir(path.join(root, table), { recursive: true });
      this.rows.close();
      // the last part, even without rows when it is the only one (the table exists, empty)
      if (this.rowsInPart > 0 || this.part === 0) copies.push(this.partCopy(this.part++));
      this.flushFlows();
      for (const stage of this.perFlow) {
        stage.close();
        copies.push(stage.copy(file(stage.table)));
      }
      await this.dict.stage(this.con);
      await stageClockOffsets(this.con, clockOffsets, file('clock_offsets'), copies);
    } catch (e) {
      await this.discard();
      throw e;
    }
    const write = async () => {
      await this.copying;
      // one statement list, one native call: the copies go on while this thread is busy elsewhere
      await this.con.run(copies.join(';\n'));
      const into = path.join(root, 'sightings');
      if (path.resolve(this.partsDir) !== into)
        for (const part of this.parts) await fs.rename(part, path.join(into, path.basename(part)));
    };
    const written = write().then(
      () => this.close(),
      async (e: unknown) => {
        await this.discard();
        throw e;
      },
    );
    return { written };
  }

  /**
   * After a failure: closes the database and removes its spill folder and the sightings' parts written
   * so far (a part left in a dataset's folder would be read as the whole table).
   */
  async discard(): Promise<void> {
    await this.close();
    for (const part of this.parts) await fs.rm(part, { force: true });
  }

  /** Closes the database and removes its spill folder (after a failure, or once written). */
  private async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      // a part still being written: DuckDB must not close under it
      await this.copying.catch(() => undefined);
      this.con.closeSync();
      this.copyCon.closeSync();
      this.db.closeSync();
    }
    await fs.rm(this.tmp, { recursive: true, force: true });
  }
}

/** The sightings stage's columns without a row: a part's table is created from them. */
function emptyRows(enums: SightingEnums): StageCol[] {
  return sightingColumns(noSightings(), new Int32Array(0), 0, enums, 0, 0);
}
