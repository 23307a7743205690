/**
 * Runs user SQL over an opened dataset. Only read statements pass (SELECT, EXPLAIN; DESCRIBE and
 * SHOW parse as SELECT): the allow-list sits on top of DuckDB's own locks, so that neither alone has
 * to be perfect.
 */
import { type DuckDBConnection, type DuckDBPreparedStatement, StatementType } from '@duckdb/node-api';
import { UsageError } from '../../cli/usage-error.ts';

const allowed = new Set<StatementType>([StatementType.SELECT, StatementType.EXPLAIN]);

export interface QueryResult {
  columns: string[];
  types: string[];
  rows: unknown[][];
}

/** Prepares every statement of `sql`, refusing the whole script if any one is not a read. */
export async function prepareReadOnly(
  con: DuckDBConnection,
  sql: string,
): Promise<DuckDBPreparedStatement[]> {
  // DuckDB's extractor fails on an empty script with an opaque native error
  if (sql.trim() === '') throw new UsageError('SQL: no statement given');
  const extracted = await con.extractStatements(sql).catch((err: unknown) => {
    throw new UsageError(`SQL: ${firstLine(err)}`);
  });
  if (extracted.count === 0) throw new UsageError('SQL: no statement given');
  const statements: DuckDBPreparedStatement[] = [];
  for (let i = 0; i < extracted.count; i++) {
    const prepared = await extracted.prepare(i).catch((err: unknown) => {
      throw new UsageError(`SQL: ${firstLine(err)}`);
    });
    if (!allowed.has(prepared.statementType)) {
      throw new UsageError(
        `SQL: statement ${i + 1} is ${StatementType[prepared.statementType]}; the dataset is read-only (only SELECT, EXPLAIN, DESCRIBE, SHOW)`,
      );
    }
    statements.push(prepared);
  }
  return statements;
}

export async function runReadOnlyQuery(con: DuckDBConnection, sql: string): Promise<QueryResult[]> {
  const results: QueryResult[] = [];
  for (const prepared of await prepareReadOnly(con, sql)) {
    const reader = await prepared.runAndReadAll().catch((err: unknown) => {
      throw new UsageError(`SQL: ${firstLine(err)}`);
    });
    results.push({
      columns: reader.columnNames(),
      types: reader.columnTypes().map((t) => t.toString()),
      rows: reader.getRowsJS() as unknown[][],
    });
  }
  return results;
}

export function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0] ?? message;
}
