/**
 * The interactive side of `hoptrace sql`: lines in, statements out. A statement ends at a `;` outside
 * quotes and comments; dot commands (`.tables`, `.schema [name]`, `.format <f>`, `.help`, `.quit`)
 * stand alone on a line. Kept apart from readline so tests drive it line by line.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { type QueryResult, runReadOnlyQuery } from '../ingest/dataset/run-query.ts';
import { formatResult, type ResultFormat } from './format-result.ts';
import { UsageError } from './usage-error.ts';

export const HELP = `.tables              list tables and views
.schema [name]       columns of one view, or of all
.format table|csv|json   output format
.help                this text
.quit                leave (also Ctrl-D)
Statements end with ';' and may span lines. The dataset is read-only.
`;

export class SqlSession {
  private buffer = '';
  format: ResultFormat;
  done = false;
  private readonly con: DuckDBConnection;

  constructor(con: DuckDBConnection, format: ResultFormat = 'table') {
    this.con = con;
    this.format = format;
  }

  /** True while a statement is incomplete (the prompt shows a continuation). */
  get pending(): boolean {
    return this.buffer.trim() !== '';
  }

  /** Feeds one line; returns what to print (results or a one-line error). */
  async line(text: string): Promise<string> {
    if (!this.pending && text.trim().startsWith('.')) return this.dot(text.trim());
    this.buffer += `${text}\n`;
    if (!statementComplete(this.buffer)) return '';
    const sql = this.buffer;
    this.buffer = '';
    return this.run(sql);
  }

  /** End of input: runs what is left even without a final `;`. */
  async end(): Promise<string> {
    const sql = this.buffer;
    this.buffer = '';
    return sql.trim() === '' ? '' : this.run(sql);
  }

  private async run(sql: string): Promise<string> {
    try {
      const results = await runReadOnlyQuery(this.con, sql);
      return results.map((r) => formatResult(r, this.format)).join('');
    } catch (err) {
      if (err instanceof UsageError) return `error: ${err.message}\n`;
      throw err;
    }
  }

  private async dot(command: string): Promise<string> {
    const [name, arg] = command.split(/\s+/, 2);
    switch (name) {
      case '.quit':
      case '.exit':
        this.done = true;
        return '';
      case '.help':
        return HELP;
      case '.tables':
        return this.show(
          await this.query('SELECT view_name AS name FROM duckdb_views() WHERE NOT internal ORDER BY 1'),
        );
      case '.schema': {
        const rows = await this.query(
          `SELECT table_name AS view, column_name AS column, data_type AS type FROM duckdb_columns()
           WHERE NOT internal AND ($1 IS NULL OR table_name = $1) ORDER BY table_name, column_index`,
          [arg ?? null],
        );
        return this.show(rows);
      }
      case '.format':
        if (arg === 'table' || arg === 'csv' || arg === 'json') {
          this.format = arg;
          return '';
        }
        return 'error: .format takes table, csv or json\n';
      default:
        return `error: unknown command ${name}; try .help\n`;
    }
  }

  private async query(sql: string, params: (string | null)[] = []): Promise<QueryResult> {
    const reader = await this.con.runAndReadAll(sql, params);
    return {
      columns: reader.columnNames(),
      types: reader.columnTypes().map((t) => t.toString()),
      rows: reader.getRowsJS() as unknown[][],
    };
  }

  private show(result: QueryResult): string {
    return formatResult(result, this.format);
  }
}

/** Whether `sql` ends with a `;` that is not inside a string, quoted identifier or comment. */
export function statementComplete(sql: string): boolean {
  let quote: string | null = null;
  let lastSignificant = '';
  for (let i = 0; i < sql.length; i++) {
    const ch = sql[i]!;
    if (quote) {
      if (ch === quote) quote = null;
      continue;
    }
    if (ch === "'" || ch === '"') {
      quote = ch;
      lastSignificant = ch;
      continue;
    }
    if (ch === '-' && sql[i + 1] === '-') {
      const eol = sql.indexOf('\n', i);
      if (eol < 0) break;
      i = eol;
      continue;
    }
    if (ch === '/' && sql[i + 1] === '*') {
      const close = sql.indexOf('*/', i + 2);
      if (close < 0) return false;
      i = close + 1;
      continue;
    }
    if (!/\s/.test(ch)) lastSignificant = ch;
  }
  return quote === null && lastSignificant === ';';
}
