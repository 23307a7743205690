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
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { openDuckDb, setMemoryLimit, sqlString } from '../ingest/dataset/duckdb.ts';
import type { ClockOffset } from './clock-offsets.ts';
import type { Sightings } from './correlate/sightings.ts';
import type { Flow } from './flows.ts';
import {
  PART_ROWS,
  RowsScratch,
  SightingsParts,
  type StageTexts,
  sightingRows,
  stageTextsOf,
} from './sightings-parts.ts';
import { ColumnAppender, type StageCol, stageCol, TextDict } from './stage-columns.ts';

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

/**
 * The analyzers' tables staged as the analysis makes them: a slab's sightings as the slab is correlated
 * (`SightingsParts`: written to Parquet a part at a time while the analysis goes on, into `partsDir`,
 * on a thread of their own with `thread`), a flow as it ends (in this DuckDB; these tables are small
 * and written by `finish`, once the dataset folder exists). Nothing of a capture stays in JS memory.
 */
export class AnalysisStage {
  private readonly pending: Flow[] = [];
  private readonly rowsScratch = new RowsScratch();
  private closed = false;

  private constructor(
    private readonly db: DuckDBInstance,
    private readonly con: DuckDBConnection,
    private readonly tmp: string,
    private readonly partsDir: string,
    private readonly parts: SightingsParts,
    private readonly perFlow: readonly PerFlowStage[],
    private readonly dict: TextDict,
    private readonly chunkRows: number,
  ) {}

  /**
   * `partsDir`: where the sightings' parts go as they are written (`finish` moves them into the
   * dataset); `tmp`: the spill folders of DuckDB. `memoryLimit` is the flows tables' (the sightings are
   * written without DuckDB).
   */
  static async open(
    tmp: string,
    partsDir: string,
    texts: StageTexts,
    opts: WriteOptions & { rowsPerPart?: number } = {},
  ): Promise<AnalysisStage> {
    // DuckDB makes its spill folder, not the folders above it
    await fs.mkdir(tmp, { recursive: true });
    let parts: SightingsParts;
    try {
      parts = await SightingsParts.open(partsDir, texts, { rowsPerPart: opts.rowsPerPart });
    } catch (e) {
      await fs.rm(tmp, { recursive: true, force: true });
      throw e;
    }
    let db: DuckDBInstance | undefined;
    const cons: DuckDBConnection[] = [];
    try {
      db = await openDuckDb({
        memoryLimit: opts.memoryLimit ?? '1GB',
        threads: opts.threads,
        tempDirectory: path.join(tmp, 'flows'),
      });
      const con = await db.connect();
      cons.push(con);
      const dict = new TextDict();
      const perFlow = [
        await PerFlowStage.open(con, 'flows', flowColumns, dict),
        await PerFlowStage.open(con, 'flow_hops', hopColumns, dict),
        await PerFlowStage.open(con, 'flow_coverage', coverageColumns, dict),
      ];
      return new AnalysisStage(
        db,
        con,
        tmp,
        partsDir,
        parts,
        perFlow,
        dict,
        Math.max(1, opts.partRows ?? PART_ROWS),
      );
    } catch (e) {
      for (const c of cons) c.closeSync();
      db?.closeSync();
      await parts.discard();
      await fs.rm(tmp, { recursive: true, force: true });
      throw e;
    }
  }

  /** The sightings of `s` (a slab, or all of them), packets numbered from `packetBase`; `flowOf` by `s`'s packet numbers. */
  async sightings(s: Sightings, flowOf: Int32Array, packetBase: number): Promise<void> {
    for (let at = 0; at < s.length; at += this.chunkRows) {
      const to = Math.min(s.length, at + this.chunkRows);
      await this.parts.rows(sightingRows(s, flowOf, packetBase, at, to, this.rowsScratch));
    }
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
   * databases, whatever failed); the sightings' parts are moved in once written.
   */
  async finish(
    datasetDir: string,
    clockOffsets: readonly ClockOffset[],
    /** the flows' database's memory for writing */
    writing: { memoryLimit?: string } = {},
  ): Promise<{ written: Promise<void> }> {
    const root = path.resolve(datasetDir);
    const file = (table: string) => path.join(root, table, `${table}.parquet`);
    const copies: string[] = [];
    try {
      if (writing.memoryLimit) await setMemoryLimit(this.con, writing.memoryLimit);
      for (const table of ANALYSIS_TABLES) await fs.mkdir(path.join(root, table), { recursive: true });
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
    // the last sightings part is ended here (its rows are written as they come)
    const parts = this.parts.finish();
    parts.catch(() => undefined);
    const write = async () => {
      // one statement list, one native call: the copies go on while this thread is busy elsewhere
      await this.con.run(copies.join(';\n'));
      const into = path.join(root, 'sightings');
      for (const part of await parts)
        if (path.resolve(this.partsDir) !== into) await fs.rename(part, path.join(into, path.basename(part)));
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
   * After a failure: closes the databases and removes their spill folders and the sightings' parts
   * written so far (a part left in a dataset's folder would be read as the whole table).
   */
  async discard(): Promise<void> {
    await this.parts.discard().catch(() => undefined);
    await this.close();
  }

  /** Closes the flows' database and removes the spill folders (after a failure, or once written). */
  private async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.con.closeSync();
      this.db.closeSync();
    }
    await fs.rm(this.tmp, { recursive: true, force: true });
  }
}
