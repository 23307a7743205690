/**
 * The `verdicts` table (DESIGN §4: one row per flow and check) as Parquet in the dataset, through DuckDB
 * with an explicit memory limit, as analyzers/write-analysis.ts writes its tables: values travel through
 * an appender, never into SQL text. Also the files `hoptrace report` rebuilds a report from without
 * re-running anything: `report/verdicts.json`, `report/topology.json`, `report/warnings.json`.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { openDuckDb, sqlString } from '../../ingest/dataset/duckdb.ts';
import type { Topology } from '../topology/model.ts';
import type { VerdictsDocument } from '../verdicts.ts';

export const VERDICTS_TABLE = 'verdicts';

/** Writes `<dataset>/verdicts/verdicts.parquet`, replacing an earlier one. */
export async function writeVerdictsTable(
  datasetDir: string,
  doc: VerdictsDocument,
  opts: { memoryLimit?: string; threads?: number } = {},
): Promise<string> {
  const dir = path.join(path.resolve(datasetDir), VERDICTS_TABLE);
  await fs.mkdir(dir, { recursive: true });
  const file = path.join(dir, `${VERDICTS_TABLE}.parquet`);
  const db = await openDuckDb({ memoryLimit: opts.memoryLimit ?? '256MB', threads: opts.threads ?? 1 });
  const con = await db.connect();
  try {
    await con.run(`CREATE TABLE verdicts (flow_id UINTEGER, proto VARCHAR, client_ip VARCHAR, client_port USMALLINT,
      client_pod VARCHAR, server_ip VARCHAR, server_port USMALLINT, server_pod VARCHAR, service_ip VARCHAR,
      service_port USMALLINT, scenario UTINYINT, scenario_rule VARCHAR, rule_id VARCHAR, datapath VARCHAR,
      flow_status VARCHAR, flow_reason VARCHAR, check_name VARCHAR, status VARCHAR, reason VARCHAR,
      message VARCHAR, evidence VARCHAR)`);
    const a = await con.createAppender('verdicts');
    const text = (v: string | null) => (v === null ? a.appendNull() : a.appendVarchar(v));
    for (const f of doc.flows)
      for (const c of f.checks) {
        a.appendUInteger(f.flow_id);
        a.appendVarchar(f.proto);
        a.appendVarchar(f.client.ip);
        a.appendUSmallInt(f.client.port);
        text(f.client.pod);
        a.appendVarchar(f.server.ip);
        a.appendUSmallInt(f.server.port);
        text(f.server.pod);
        text(f.service?.ip ?? null);
        if (f.service) a.appendUSmallInt(f.service.port);
        else a.appendNull();
        if (f.scenario) a.appendUTinyInt(f.scenario.id);
        else a.appendNull();
        text(f.scenario?.rule ?? null);
        text(f.rule_id);
        a.appendVarchar(f.datapath);
        a.appendVarchar(f.status);
        text(f.reason);
        a.appendVarchar(c.name);
        a.appendVarchar(c.status);
        text(c.reason);
        a.appendVarchar(c.message);
        // evidence as JSON text: a list of {point, file, frame}, readable with DuckDB's json functions
        a.appendVarchar(JSON.stringify(c.evidence));
        a.endRow();
      }
    a.closeSync();
    await con.run(`COPY verdicts TO ${sqlString(file)} (FORMAT parquet)`);
  } finally {
    con.closeSync();
    db.closeSync();
  }
  return file;
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

/** `<dataset>/report/{verdicts,topology,warnings}.json`: what `hoptrace report` needs besides the tables. */
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
  await write('verdicts.json', doc);
  await write('topology.json', topologyJson(topology));
  await write('warnings.json', doc.warnings);
  return dir;
}
