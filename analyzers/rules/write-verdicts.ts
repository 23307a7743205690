/**
 * The `verdicts` table (DESIGN §4: one row per flow and check) as Parquet in the dataset, through DuckDB
 * with an explicit memory limit, as analyzers/write-analysis.ts writes its tables: values travel through
 * an appender, never into SQL text. Also two of the files `hoptrace report` rebuilds a report from
 * without re-running anything: `report/topology.json`, `report/warnings.json` (`report/verdicts.json`
 * is streamed by reports/verdicts-json.ts).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { openDuckDb, sqlString } from '../../ingest/dataset/duckdb.ts';
import type { Topology } from '../topology/model.ts';
import type { VerdictsDocument } from '../verdicts.ts';
import { appendColumns, stageCol } from '../write-analysis.ts';

export const VERDICTS_TABLE = 'verdicts';

/** Text values as numbers: 0 is NULL, every other code one distinct string (written once). */
class TextCodes {
  readonly texts: string[] = [];
  private readonly codes = new Map<string, number>();

  code(text: string | null): number {
    if (text === null) return 0;
    let c = this.codes.get(text);
    if (c === undefined) {
      this.texts.push(text);
      c = this.texts.length;
      this.codes.set(text, c);
    }
    return c;
  }
}

/** The text columns of the table, in its column order, and which are per flow or per check. */
const FLOW_TEXT = [
  'proto',
  'client_ip',
  'client_pod',
  'server_ip',
  'server_pod',
  'service_ip',
  'scenario_rule',
  'rule_id',
  'datapath',
  'flow_status',
  'flow_reason',
] as const;
const CHECK_TEXT = ['check_name', 'status', 'reason', 'message', 'evidence'] as const;
/** Columns with few distinct values, staged as codes; message and evidence are staged as text. */
const CODED = [...FLOW_TEXT, 'check_name', 'status', 'reason'] as const;

/** Rows gathered per part (as analyzers/write-analysis.ts stages sightings). */
const PART_ROWS = 1 << 18;

/**
 * The stage columns of check rows [from, to): numbers, with every text as a code into `texts`; the
 * flow's own fields repeated on each of its checks, as the table has them.
 */
function checkColumns(doc: VerdictsDocument, texts: TextCodes, rows: CheckRows, from: number, to: number) {
  const n = to - from;
  const flowText = FLOW_TEXT.map(() => new Uint32Array(n));
  const checkText = CHECK_TEXT.slice(0, 3).map(() => new Uint32Array(n));
  const message: string[] = new Array(n);
  const evidence: string[] = new Array(n);
  const flowId = new Uint32Array(n);
  const clientPort = new Uint16Array(n);
  const serverPort = new Uint16Array(n);
  // a Service port of 0 and scenario 0 stand for NULL (ports of Services and scenario ids are never 0)
  const servicePort = new Uint16Array(n);
  const scenario = new Uint8Array(n);
  let lastFlow = -1;
  const flowCodes = new Uint32Array(FLOW_TEXT.length);
  for (let r = 0; r < n; r++) {
    const fi = rows.flow[from + r]!;
    const f = doc.flows[fi]!;
    if (fi !== lastFlow) {
      lastFlow = fi;
      const values = [
        f.proto,
        f.client.ip,
        f.client.pod,
        f.server.ip,
        f.server.pod,
        f.service?.ip ?? null,
        f.scenario?.rule ?? null,
        f.rule_id,
        f.datapath,
        f.status,
        f.reason,
      ];
      for (let k = 0; k < values.length; k++) flowCodes[k] = texts.code(values[k]!);
    }
    for (let k = 0; k < flowCodes.length; k++) flowText[k]![r] = flowCodes[k]!;
    flowId[r] = f.flow_id;
    clientPort[r] = f.client.port;
    serverPort[r] = f.server.port;
    servicePort[r] = f.service?.port ?? 0;
    scenario[r] = f.scenario?.id ?? 0;
    const c = f.checks[rows.check[from + r]!]!;
    checkText[0]![r] = texts.code(c.name);
    checkText[1]![r] = texts.code(c.status);
    checkText[2]![r] = texts.code(c.reason);
    message[r] = c.message;
    // evidence as JSON text: a list of {point, file, frame}, readable with DuckDB's json functions
    evidence[r] = c.evidence.length === 0 ? '[]' : JSON.stringify(c.evidence);
  }
  return [
    stageCol('flow_id', flowId),
    stageCol('client_port', clientPort),
    stageCol('server_port', serverPort),
    stageCol('service_port', servicePort),
    stageCol('scenario', scenario),
    ...FLOW_TEXT.map((name, k) => stageCol(name, flowText[k]!)),
    ...CHECK_TEXT.slice(0, 3).map((name, k) => stageCol(name, checkText[k]!)),
    stageCol('message', message),
    stageCol('evidence', evidence),
  ];
}

interface CheckRows {
  /** per row: the flow's index in the document and the check's in the flow */
  flow: Uint32Array;
  check: Uint16Array;
}

function checkRows(doc: VerdictsDocument): CheckRows {
  let n = 0;
  for (const f of doc.flows) n += f.checks.length;
  const rows = { flow: new Uint32Array(n), check: new Uint16Array(n) };
  let r = 0;
  doc.flows.forEach((f, i) => {
    for (let k = 0; k < f.checks.length; k++, r++) {
      rows.flow[r] = i;
      rows.check[r] = k;
    }
  });
  return rows;
}

/**
 * Writes `<dataset>/verdicts/verdicts.parquet`, replacing an earlier one. Rows are staged as numbers
 * (DataChunks copied from typed arrays) with each distinct text appended once to a `texts` table;
 * DuckDB joins the texts back while it writes the Parquet file.
 */
export async function writeVerdictsTable(
  datasetDir: string,
  doc: VerdictsDocument,
  opts: { memoryLimit?: string; threads?: number } = {},
): Promise<string> {
  const staged = await stageVerdictsTable(datasetDir, doc, opts);
  await staged.written;
  return staged.file;
}

/**
 * `writeVerdictsTable` in two steps, as analyzers/write-analysis.ts `stageAnalysisTables`: the promise
 * resolves once DuckDB has the rows, and `written` (which must be awaited) once the file is written.
 */
export async function stageVerdictsTable(
  datasetDir: string,
  doc: VerdictsDocument,
  opts: { memoryLimit?: string; threads?: number } = {},
): Promise<{ file: string; written: Promise<void> }> {
  const root = path.resolve(datasetDir);
  const dir = path.join(root, VERDICTS_TABLE);
  await fs.mkdir(dir, { recursive: true });
  const file = path.join(dir, `${VERDICTS_TABLE}.parquet`);
  // past the memory limit, the sort by row spills here
  const tmp = path.join(root, `.verdicts-tmp-${process.pid}`);
  const db = await openDuckDb({
    memoryLimit: opts.memoryLimit ?? '256MB',
    threads: opts.threads ?? 1,
    tempDirectory: tmp,
  });
  const con = await db.connect();
  const close = async () => {
    con.closeSync();
    db.closeSync();
    await fs.rm(tmp, { recursive: true, force: true });
  };
  try {
    const texts = new TextCodes();
    const rows = checkRows(doc);
    const columnsOf = (from: number, to: number) => checkColumns(doc, texts, rows, from, to);
    await appendColumns(con, 'stage', columnsOf, rows.flow.length, PART_ROWS);
    await con.run('CREATE TABLE texts (code UINTEGER, text VARCHAR)');
    const a = await con.createAppender('texts');
    texts.texts.forEach((t, i) => {
      a.appendUInteger(i + 1);
      a.appendVarchar(t);
      a.endRow();
    });
    a.closeSync();
  } catch (e) {
    await close();
    throw e;
  }
  // each coded column joined to its few distinct strings (the hash tables are small)
  const joins = CODED.map((c) => `LEFT JOIN texts t_${c} ON t_${c}.code = s.${c}`).join(' ');
  const column = (c: string) => ((CODED as readonly string[]).includes(c) ? `t_${c}.text AS ${c}` : `s.${c}`);
  const written = con
    .run(`COPY (SELECT s.flow_id, ${column('proto')}, ${column('client_ip')}, s.client_port,
      ${column('client_pod')}, ${column('server_ip')}, s.server_port, ${column('server_pod')}, ${column('service_ip')},
      nullif(s.service_port, 0) AS service_port, nullif(s.scenario, 0) AS scenario,
      ${[...FLOW_TEXT.slice(6), ...CHECK_TEXT].map(column).join(', ')}
      FROM stage s ${joins} ORDER BY s.rowid) TO ${sqlString(file)} (FORMAT parquet)`)
    .then(close, async (e: unknown) => {
      await close();
      throw e;
    });
  return { file, written };
}

/** Topology as JSON (Maps as objects), for a report rebuilt without the bundle. */
function topologyJson(t: Topology): unknown {
  return {
    nodes: [...t.nodes.values()],
    pods: [...t.pods.values()],
    services: t.services,
    points: [...t.points.values()],
    warnings: t.warnings,
  };
}

/** `<dataset>/report/{topology,warnings}.json`: what `hoptrace report` needs besides the tables and verdicts. */
export async function writeReportInputs(
  datasetDir: string,
  doc: VerdictsDocument,
  topology: Topology,
): Promise<string> {
  const dir = path.join(path.resolve(datasetDir), 'report');
  await fs.mkdir(dir, { recursive: true });
  const write = async (name: string, value: unknown) => {
    const file = path.join(dir, name);
    await fs.writeFile(`${file}.tmp`, `${JSON.stringify(value, null, 2)}\n`);
    await fs.rename(`${file}.tmp`, file);
  };
  await write('topology.json', topologyJson(topology));
  await write('warnings.json', doc.warnings);
  return dir;
}
