/**
 * The `sightings` table's Parquet parts (DESIGN §4): rows staged in DuckDB as the analysis makes them, a
 * part (`ROWS_PER_PART` rows) written on DuckDB's threads while the next fills. Texts travel as ENUM
 * indexes fixed before the first row (`StageTexts`), so no value read from a capture is ever SQL text.
 *
 * A slab's rows reach `SightingsParts` as `SightingRows`: every column per row, the frame's columns
 * gathered, flow ids looked up, packets renumbered, so the rows need nothing but themselves. That is
 * what lets `hoptrace analyze` stage them on a thread of their own (sightings-thread.ts): the analysis
 * thread only gathers and hands over the arrays.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import {
  type DuckDBConnection,
  type DuckDBEnumType,
  type DuckDBInstance,
  DuckDBTypeId,
  ENUM,
} from '@duckdb/node-api';
import { openDuckDb, sqlString } from '../ingest/dataset/duckdb.ts';
import { FRAME_COLUMNS, type FrameColumn, FrameTable } from './correlate/frame-table.ts';
import type { Sightings } from './correlate/sightings.ts';
import { ColumnAppender, type StageCol, stageCol, TextDict } from './stage-columns.ts';
import { ip4Text } from './topology/ip-text.ts';
import { U32Ids } from './u32-ids.ts';

/**
 * Sightings rows gathered at a time (`partRows`): only that many rows' columns are in JS memory at once
 * (~70 bytes a row); DuckDB holds the staged rows under its memory limit and spills past it. (A Parquet
 * part, `ROWS_PER_PART`, is staged from several of them.)
 */
export const PART_ROWS = 1 << 20;

/** Sightings rows per Parquet part: DuckDB holds at most one part being written and the next filling. */
const ROWS_PER_PART = 1 << 21;

/** The sightings table's part files, in row order (a view reads `sightings/*.parquet`). */
const sightingsPart = (k: number): string => `part-${String(k).padStart(5, '0')}.parquet`;

export interface SightingsPartsOptions {
  memoryLimit?: string;
  threads?: number;
  /** rows per Parquet part; default ROWS_PER_PART */
  rowsPerPart?: number;
  /** ENUMs of at most this many values are written as they are (default ENUM_AS_IS; tests vary it) */
  enumAsIs?: number;
}

/** Frame columns only the matcher reads. */
const NOT_CARRIED = [
  'point',
  't',
  'fpLo',
  'fpHi',
  'fpValid',
  'wirelen',
  'linkType',
  'srcMac',
  'dstMac',
] as const;
type NotCarried = (typeof NOT_CARRIED)[number];
/** The frame columns a sightings row carries (gathered by its `frame`): all but the matcher's own. */
const FRAME_FIELDS = FRAME_COLUMNS.filter(
  (c): c is Exclude<FrameColumn, NotCarried> => !NOT_CARRIED.includes(c as NotCarried),
);
/** The sighting's own columns a row carries. */
const OWN_FIELDS = ['hop', 'point', 'count', 't', 'bytes', 'role', 'rewrite', 'collided'] as const;

/**
 * Sightings rows, each column per row: the sighting's own (Sightings), then its frame's (FrameTable),
 * `packet` already numbered for the table and `flow` the packet's flow id (-1: none).
 */
export type SightingRows = Pick<Sightings, (typeof OWN_FIELDS)[number] | 'length'> &
  Pick<FrameTable, (typeof FRAME_FIELDS)[number]> & {
    /** the frames' time base: `t` is ns after it */
    baseNs: bigint;
    packet: Uint32Array;
    flow: Int32Array;
  };

type Column = Uint8Array | Uint16Array | Uint32Array | Float64Array;

/**
 * The rows [from, to) of `s` as `SightingRows`; `flowOf` by `s`'s packet numbers, packets numbered from
 * `packetBase`. `own`: every column in a buffer of its own (to transfer to another thread); else the
 * sighting's columns are views of `s`'s, valid until its arrays are reused.
 */
export function sightingRows(
  s: Sightings,
  flowOf: Int32Array,
  packetBase: number,
  from: number,
  to: number,
  own: boolean,
): SightingRows {
  const f = s.frames;
  const n = to - from;
  const rowFrame = s.frame.subarray(from, to);
  // a spilled analysis keeps one evidence row per sighting, in row order: its frame columns are then
  // the rows' own (no gather)
  let identity = true;
  for (let r = 0; r < n && identity; r++) identity = rowFrame[r] === from + r;
  const take = <T extends Column>(src: T): T => (own ? src.slice(from, to) : src.subarray(from, to)) as T;
  const rows = { length: n, baseNs: f.baseNs ?? 0n } as SightingRows;
  const out = rows as unknown as Record<string, Column>;
  for (const k of OWN_FIELDS) out[k] = take(s[k]);
  for (const k of FRAME_FIELDS) out[k] = identity ? take(f[k]) : gather(f[k], rowFrame);
  const flow = new Int32Array(n);
  const renumber = packetBase > 0 || own;
  const packet = renumber ? new Uint32Array(n) : s.packet.subarray(from, to);
  for (let r = 0; r < n; r++) {
    const p = s.packet[from + r]!;
    flow[r] = flowOf[p] ?? -1;
    if (renumber) packet[r] = packetBase + p;
  }
  rows.flow = flow;
  rows.packet = packet;
  return rows;
}

/** `src` at `rows`, in a new array of its kind (one monomorphic loop per element type). */
function gather<T extends Column>(src: T, rows: Int32Array): T {
  const n = rows.length;
  if (src instanceof Uint8Array) {
    const out = new Uint8Array(n);
    for (let r = 0; r < n; r++) out[r] = src[rows[r]!]!;
    return out as T;
  }
  if (src instanceof Uint16Array) {
    const out = new Uint16Array(n);
    for (let r = 0; r < n; r++) out[r] = src[rows[r]!]!;
    return out as T;
  }
  if (src instanceof Uint32Array) {
    const out = new Uint32Array(n);
    for (let r = 0; r < n; r++) out[r] = src[rows[r]!]!;
    return out as T;
  }
  const out = new Float64Array(n);
  for (let r = 0; r < n; r++) out[r] = src[rows[r]!]!;
  return out as T;
}

/** The buffers of `rows` (what a transfer to another thread moves). */
export function rowBuffers(rows: SightingRows): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (const v of Object.values(rows))
    if (ArrayBuffer.isView(v) && !out.includes(v.buffer as ArrayBuffer)) out.push(v.buffer as ArrayBuffer);
  return out;
}

/** The stage columns of `rows` (ENUM texts as their indexes). */
function sightingColumns(rows: SightingRows, enums: SightingEnums): StageCol[] {
  const n = rows.length;
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
  // no rewrite (code 0, the empty text) is NULL
  const rewritten = new Uint8Array(n);
  for (let r = 0; r < n; r++) {
    rewritten[r] = rows.rewrite[r] === 0 ? 0 : 1;
    const p = rows.point[r]!;
    point[r] = enums.pointIndex[p]!;
    const nd = enums.nodeOfPoint[p] ?? -1;
    node[r] = Math.max(nd, 0);
    nodeValid[r] = nd < 0 ? 0 : 1;
    kind[r] = enums.kindOfPoint[p] ?? 0;
    const fi = enums.fileIndex[rows.file[r]!] ?? -1;
    fileIx[r] = Math.max(fi, 0);
    fileValid[r] = fi < 0 ? 0 : 1;
    const v = rows.ipVersion[r];
    if (v === 4) {
      srcAddr[r] = enums.v4.id(rows.src[r]!);
      dstAddr[r] = enums.v4.id(rows.dst[r]!);
      hasAddr[r] = 1;
    } else if (v === 6) {
      srcAddr[r] = v6Base + rows.src[r]!;
      dstAddr[r] = v6Base + rows.dst[r]!;
      hasAddr[r] = 1;
    }
  }
  return [
    stageCol('packet', rows.packet),
    stageCol('hop', rows.hop),
    enumCol('capture_point', enums.point, point),
    enumCol('node', enums.node, node, nodeValid),
    enumCol('point_kind', enums.kind, kind),
    stageCol('t', rows.t),
    stageCol('frames', rows.count),
    stageCol('bytes', rows.bytes),
    enumCol('role', enums.offload, rows.role),
    enumCol('rewrite', enums.rewrite, rows.rewrite, rewritten),
    stageCol('collided', rows.collided),
    stageCol('flow', rows.flow),
    enumCol('file', enums.file, fileIx, fileValid),
    stageCol('frame_no', rows.frame),
    enumCol('dir', enums.direction, rows.dir),
    stageCol('dir_inferred', rows.dirInferred),
    stageCol('ip_version', rows.ipVersion),
    stageCol('proto', rows.proto),
    enumCol('src_addr', enums.addr, srcAddr, hasAddr),
    enumCol('dst_addr', enums.addr, dstAddr, hasAddr),
    stageCol('src_port', rows.srcPort),
    stageCol('dst_port', rows.dstPort),
    stageCol('ttl', rows.ttl),
    stageCol('tcp_seq', rows.tcpSeq),
    stageCol('tcp_ack', rows.tcpAck),
    stageCol('tcp_flags', rows.tcpFlags),
    stageCol('payload_len', rows.payloadLen),
    stageCol('icmp_type_code', rows.icmpTypeCode),
    stageCol('icmp_id', rows.icmpId),
    stageCol('icmp_echo', rows.icmpEcho),
  ];
}

/** Sightings rows without a row: a part's table is created from their columns (their types). */
function noRows(): SightingRows {
  const none: Sightings = {
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
  return sightingRows(none, new Int32Array(0), 0, 0, 0, false);
}

/**
 * An ENUM column as the Parquet file's text: written as the ENUM itself when it has few values (DuckDB
 * then writes its dictionary as it is: at 2 M rows, 0.07 CPU-s against 0.45 for three columns cast to
 * text, whose every value the writer hashes into a dictionary of its own), else as text (the ENUM's
 * writer puts every value in each row group's dictionary: 100 000 addresses doubled the file and saved
 * nothing). The file's column is text either way.
 */
const ENUM_AS_IS = 4096;

function sightingsSelect(baseNs: bigint, table: string, e: SightingEnums, enumAsIs: number): string {
  const text = (col: string, en: TextEnum) => (en.size <= enumAsIs ? `s.${col}` : `s.${col}::VARCHAR`);
  return `SELECT s.packet AS packet_id, s.hop, ${text('capture_point', e.point)} AS capture_point,
      ${text('node', e.node)} AS node, ${text('point_kind', e.kind)} AS point_kind,
      ${text('dir', e.direction)} AS direction,
      s.dir_inferred = 1 AS direction_inferred,
      ${baseNs}::BIGINT + CAST(round(s.t) AS BIGINT) AS ts_ns,
      s.frames, s.bytes::UBIGINT AS bytes,
      ${text('role', e.offload)} AS offload,
      ${text('rewrite', e.rewrite)} AS rewrite,
      s.collided = 1 AS collided,
      nullif(s.flow, -1) AS flow_id,
      ${text('file', e.file)} AS file, s.frame_no AS frame,
      nullif(s.ip_version, 0) AS ip_version, s.proto AS ip_proto,
      ${text('src_addr', e.addr)} AS src_ip,
      ${text('dst_addr', e.addr)} AS dst_ip,
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
  /** its number of values */
  size: number;
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
  return { name, type, make, size: values.length };
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

/**
 * The sightings staged in DuckDB (its own instance) and written a part at a time, into `partsDir`:
 * `rows` stages (and starts writing a full part), `finish` writes the last part and closes.
 */
export class SightingsParts {
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
    private stage: ColumnAppender,
    private readonly rowsPerPart: number,
    private readonly enumAsIs: number,
  ) {}

  /** `partsDir`: where the parts go (an earlier run's are removed); `tmp`: DuckDB's spill folder. */
  static async open(
    tmp: string,
    partsDir: string,
    texts: StageTexts,
    opts: SightingsPartsOptions = {},
  ): Promise<SightingsParts> {
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
      const stage = await ColumnAppender.open(con, 'stage_0', sightingColumns(noRows(), enums));
      return new SightingsParts(
        db,
        con,
        copyCon,
        tmp,
        partsDir,
        enums,
        stage,
        Math.max(1, opts.rowsPerPart ?? ROWS_PER_PART),
        opts.enumAsIs ?? ENUM_AS_IS,
      );
    } catch (e) {
      for (const c of cons) c.closeSync();
      db.closeSync();
      await fs.rm(tmp, { recursive: true, force: true });
      throw e;
    }
  }

  /** Stages `rows`; a full part is then written on DuckDB's threads while the next fills. */
  async rows(rows: SightingRows): Promise<void> {
    this.baseNs ??= rows.baseNs;
    if (rows.length > 0) this.stage.append(sightingColumns(rows, this.enums), rows.length);
    this.rowsInPart += rows.length;
    if (this.rowsInPart >= this.rowsPerPart) await this.nextPart();
  }

  /** Writes the part staged so far on DuckDB's threads and stages the next in a new table. */
  private async nextPart(): Promise<void> {
    this.stage.close();
    const k = this.part++;
    this.rowsInPart = 0;
    // one part written at a time: a slow disk holds the analysis back instead of filling memory
    await this.copying;
    this.copying = this.copyCon.run(this.partCopy(k));
    // its failure is heard at the next part or at `finish`, never as an unhandled rejection
    this.copying.catch(() => undefined);
    this.stage = await ColumnAppender.open(this.con, `stage_${k + 1}`, sightingColumns(noRows(), this.enums));
  }

  /** Writes part k and drops its table (names, numbers and paths are this code's own). */
  private partCopy(k: number): string {
    const file = path.join(this.partsDir, sightingsPart(k));
    this.parts.push(file);
    return `COPY (${sightingsSelect(this.baseNs ?? 0n, `stage_${k}`, this.enums, this.enumAsIs)}) TO ${sqlString(file)} (FORMAT parquet); DROP TABLE stage_${k}`;
  }

  /**
   * Writes the last part (even without rows when it is the only one: the table exists, empty) and
   * closes; the parts' paths in row order. After a failure the parts written so far are removed.
   */
  async finish(): Promise<string[]> {
    try {
      this.stage.close();
      const last = this.rowsInPart > 0 || this.part === 0 ? this.partCopy(this.part++) : null;
      await this.copying;
      if (last !== null) await this.con.run(last);
      await this.close();
      return [...this.parts];
    } catch (e) {
      await this.discard();
      throw e;
    }
  }

  /**
   * After a failure: closes the database and removes its spill folder and the parts written so far (a
   * part left in a dataset's folder would be read as the whole table).
   */
  async discard(): Promise<void> {
    await this.close();
    for (const part of this.parts) await fs.rm(part, { force: true });
  }

  /** Closes the database and removes its spill folder. */
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
