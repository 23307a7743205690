/**
 * The views (and the table macros built on them) of a dataset, in one list for the two places that
 * need it: `hoptrace sql` (open-dataset.ts, over absolute paths) and `<dataset>/views.sql` for the
 * DuckDB CLI (over `.`). Everything here is plain DuckDB SQL over the dataset's Parquet files; paths go
 * through sqlString, and table names come only from the fixed list below, never from the folder.
 *
 * Derived views make the common questions one line (docs/queries.md):
 *   flow_status     one row per flow: flows + scenario, rule, datapath, status, reason, failed checks
 *   hop_latency     per consecutive hop pair (point:dir -> point:dir): samples and latency percentiles
 *   capture_gaps    per capture point, the time between consecutive files (ring-buffer sets)
 *   flow_path(id)   table macro: a flow's packets along their path, one row per sighting, in hop order
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { packetFields } from '../columns/packets-schema.ts';
import { sqlString } from './duckdb.ts';
import { verdictsViewSql } from './verdict-columns.ts';

/**
 * Tables the later stages add (`<name>/<name>.parquet`; the sightings, written while the analysis runs,
 * as parts `sightings/part-<n>.parquet`); only these names ever become views.
 */
export const LATER_TABLES = [
  'sightings',
  'flows',
  'flow_hops',
  'clock_offsets',
  'flow_coverage',
  'verdicts',
  'verdict_texts',
] as const;

export type LaterTable = (typeof LATER_TABLES)[number];

/** Which later tables a dataset folder holds (a view over a missing file would fail when read). */
export async function presentTables(root: string): Promise<Set<LaterTable>> {
  const present = new Set<LaterTable>();
  for (const name of LATER_TABLES) {
    const files = await fs.readdir(path.join(root, name)).catch(() => []);
    if (files.some((f) => f.endsWith('.parquet'))) present.add(name);
  }
  return present;
}

/** packets_raw, packets (addresses as text), captures, capture_gaps: what every dataset has. */
export function baseViewStatements(root: string): string[] {
  const packets = path.posix.join(root, 'packets', '**', '*.parquet');
  const captures = path.posix.join(root, 'captures', '*.parquet');
  const view = packetFields
    .filter((f) => f.view !== null)
    .map((f) => (f.view ? `${f.view} AS ${f.name}` : f.name));
  return [
    `CREATE OR REPLACE VIEW packets_raw AS SELECT * FROM read_parquet(${sqlString(packets)}, hive_partitioning = true, union_by_name = true)`,
    `CREATE OR REPLACE VIEW packets AS SELECT ${view.join(', ')}, node, hour FROM packets_raw`,
    // union_by_name: datasets written before the bundle/ring_index columns still open
    `CREATE OR REPLACE VIEW captures AS SELECT * FROM read_parquet(${sqlString(captures)}, union_by_name = true)`,
    // between consecutive files of one capture point (ring-buffer sets, or files of several bundles
    // naming the same point): what was not captured there. Files that overlap give no row.
    `CREATE OR REPLACE VIEW capture_gaps AS
    SELECT capture_point, file AS file_before, next_file AS file_after, end_ns AS gap_start_ns,
      next_start_ns AS gap_end_ns, next_start_ns - end_ns AS gap_ns
    FROM (SELECT capture_point, file, end_ns,
        lead(file) OVER w AS next_file, lead(start_ns) OVER w AS next_start_ns
      FROM captures WHERE start_ns IS NOT NULL
      WINDOW w AS (PARTITION BY capture_point ORDER BY start_ns, file))
    WHERE next_file IS NOT NULL AND next_start_ns > end_ns`,
  ];
}

function tableView(root: string, name: LaterTable): string {
  const file = sqlString(path.posix.join(root, name, '*.parquet'));
  return `CREATE OR REPLACE VIEW ${name} AS SELECT * FROM read_parquet(${file})`;
}

/** Views over the analyzers' tables present, then the derived views and macros their inputs allow. */
export function analysisViewStatements(root: string, present: ReadonlySet<LaterTable>): string[] {
  // the verdicts file holds codes when its texts are a table of their own (verdict-columns.ts); a
  // dataset written before that holds the texts themselves
  const coded = present.has('verdicts') && present.has('verdict_texts');
  const out = LATER_TABLES.filter((t) => present.has(t)).map((t) =>
    t === 'verdicts' && coded ? verdictsViewSql(root) : tableView(root, t),
  );
  if (present.has('flows') && present.has('verdicts')) {
    // verdicts has one row per (flow, check) with the flow's own fields repeated: one of each per flow
    out.push(`CREATE OR REPLACE VIEW flow_status AS
    SELECT f.*, v.scenario, v.scenario_rule, v.rule_id, v.datapath, v.status, v.reason,
      v.failed_checks, v.inconclusive_checks
    FROM flows f LEFT JOIN (
      SELECT flow_id, any_value(scenario) AS scenario, any_value(scenario_rule) AS scenario_rule,
        any_value(rule_id) AS rule_id, any_value(datapath) AS datapath, any_value(flow_status) AS status,
        any_value(flow_reason) AS reason,
        coalesce(list(check_name ORDER BY check_name) FILTER (WHERE status = 'fail'), []) AS failed_checks,
        coalesce(list(check_name ORDER BY check_name) FILTER (WHERE status = 'inconclusive'), [])
          AS inconclusive_checks
      FROM verdicts GROUP BY flow_id) v USING (flow_id)`);
  }
  if (present.has('sightings')) {
    // sightings times are clock-corrected, so a cross-node pair is a latency up to the clock error
    out.push(`CREATE OR REPLACE VIEW hop_latency AS
    SELECT from_point, from_dir, to_point, to_dir, count(*) AS samples, min(latency_ns) AS min_ns,
      quantile_disc(latency_ns, 0.5) AS p50_ns, quantile_disc(latency_ns, 0.9) AS p90_ns,
      quantile_disc(latency_ns, 0.99) AS p99_ns, max(latency_ns) AS max_ns
    FROM (SELECT lag(capture_point) OVER w AS from_point, lag(direction) OVER w AS from_dir,
        capture_point AS to_point, direction AS to_dir, ts_ns - lag(ts_ns) OVER w AS latency_ns
      FROM sightings WINDOW w AS (PARTITION BY packet_id ORDER BY hop))
    WHERE from_point IS NOT NULL
    GROUP BY ALL`);
    // a table macro is bound when created, so it comes after the view it reads
    out.push(`CREATE OR REPLACE MACRO flow_path(id) AS TABLE
    SELECT packet_id, hop, capture_point, direction, ts_ns,
      ts_ns - first_value(ts_ns) OVER (PARTITION BY packet_id ORDER BY hop) AS since_first_ns,
      src_ip, src_port, dst_ip, dst_port, ttl, rewrite, offload, frames, file, frame
    FROM sightings WHERE flow_id = id
    ORDER BY packet_id, hop`);
  }
  return out;
}

/** Every view a dataset folder supports, in creation order. */
export function datasetViewStatements(root: string, present: ReadonlySet<LaterTable>): string[] {
  return [...baseViewStatements(root), ...analysisViewStatements(root, present)];
}

/**
 * Rewrites `<dataset>/views.sql` (relative paths, for the DuckDB CLI run from inside the folder) for
 * the tables now present: analyze calls it after adding its tables.
 */
export async function writeViewsSql(datasetDir: string): Promise<void> {
  const present = await presentTables(datasetDir);
  const text = `${datasetViewStatements('.', present).join(';\n\n')};\n`;
  const file = path.join(datasetDir, 'views.sql');
  await fs.writeFile(`${file}.tmp`, text);
  await fs.rename(`${file}.tmp`, file);
}
