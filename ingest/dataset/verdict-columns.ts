/**
 * How the `verdicts` table (one row per flow and check, DESIGN §4) lies on disk, and the view that
 * shows it. Its texts are few and repeat on every row (a flow's addresses and pods on each of its
 * checks, a check's name, status and reason, shared messages), and its evidence lists differ only in
 * their frame numbers, so the Parquet file holds codes: each text column as `<name>_code` into the
 * `verdict_texts` table (column_name, code, text; each column its own codes from 1, 0 is NULL), a
 * message seen once as text, and evidence as the code of its template (the JSON text with its frames
 * cut out, parts separated by PART_SEP), its entry count and its frames (a list longer than
 * EVIDENCE_FRAMES, or one whose frames a template cannot hold, as text). The `verdicts` view joins each
 * column to its texts and splices the frames into their template. The view has no row order (joins
 * keep none): ORDER BY flow_id where order matters.
 *
 * Why: written as text, the evidence alone was 6.5 M distinct JSON strings at 20 M frames, made and
 * compressed by DuckDB after the analysis: 31 s of a 159 s run (bench/results.json, session 9); the
 * codes are written in a few seconds. A query pays a join per coded column, each against that
 * column's own texts (a few values for most; the distinct addresses, messages or evidence paths for
 * the others), which DuckDB does not skip when the query reads no text.
 */
import path from 'node:path';
import { sqlString } from './duckdb.ts';

export const VERDICTS_TABLE = 'verdicts';
export const VERDICT_TEXTS_TABLE = 'verdict_texts';

/** The text columns of the table, in its column order, and which are per flow or per check. */
export const FLOW_TEXT = [
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
export const CHECK_TEXT = ['check_name', 'status', 'reason'] as const;
/** Every coded column: each has its own codes in `verdict_texts` (its `column_name`). */
export const CODED_COLUMNS = [...FLOW_TEXT, ...CHECK_TEXT, 'message', 'evidence'] as const;
export type CodedColumn = (typeof CODED_COLUMNS)[number];

/** Evidence entries stored as frames of a template; a longer list is stored as text. */
export const EVIDENCE_FRAMES = 8;
/**
 * Separates a template's parts (the text between frames): JSON.stringify writes every character below
 * U+0020 escaped, so the raw character never occurs in a part.
 */
export const PART_SEP = '\u0001';

/**
 * The view's column list over a row `s` of the Parquet file with `parts` (its evidence template split)
 * and `t_<column>` the texts joined to each coded column: the table's columns, in its order, as they
 * were when the file held text.
 */
function viewColumns(): string {
  const text = (c: string) => `t_${c}.text AS ${c}`;
  const frames = Array.from(
    { length: EVIDENCE_FRAMES },
    (_, k) => `s.parts[${k + 1}], CASE WHEN s.evidence_count > ${k} THEN s.frame_${k + 1} END`,
  ).join(', ');
  return [
    's.flow_id',
    text('proto'),
    text('client_ip'),
    's.client_port',
    text('client_pod'),
    text('server_ip'),
    's.server_port',
    text('server_pod'),
    text('service_ip'),
    // a Service port of 0 and scenario 0 stand for NULL (ports of Services and scenario ids are never 0)
    'nullif(s.service_port, 0) AS service_port',
    'nullif(s.scenario, 0) AS scenario',
    ...FLOW_TEXT.slice(6).map(text),
    ...CHECK_TEXT.map(text),
    'coalesce(s.message, t_message.text) AS message',
    // each part, then its frame (the template has one part more than frames; concat skips the NULLs)
    `coalesce(s.evidence, CASE WHEN s.evidence_count = 0 THEN '[]' ELSE concat(${frames}, s.parts[${EVIDENCE_FRAMES + 1}]) END) AS evidence`,
  ].join(', ');
}

/** The `verdicts` view over the coded file(s) under `root` and the `verdict_texts` table. */
export function verdictsViewSql(root: string): string {
  const rows = sqlString(path.posix.join(root, VERDICTS_TABLE, '*.parquet'));
  const texts = sqlString(path.posix.join(root, VERDICT_TEXTS_TABLE, '*.parquet'));
  // column names are this module's own constants, never data
  const of = (c: CodedColumn) => `(SELECT code, text FROM texts WHERE column_name = '${c}')`;
  const joins = CODED_COLUMNS.filter((c) => c !== 'evidence')
    .map((c) => `LEFT JOIN ${of(c)} t_${c} ON t_${c}.code = s.${c}_code`)
    .join('\n      ');
  return `CREATE OR REPLACE VIEW verdicts AS
    WITH texts AS (SELECT column_name, code, text FROM read_parquet(${texts}))
    SELECT ${viewColumns()}
    FROM (SELECT r.*, string_split(e.text, chr(1)) AS parts
        FROM read_parquet(${rows}) r LEFT JOIN ${of('evidence')} e ON e.code = r.evidence_code) s
      ${joins}`;
}
