/**
 * `hoptrace sql --format parquet --output FILE`: the query runs in the locked, read-only database; its
 * result chunks are appended into a second in-memory DuckDB that never sees user SQL, and that one
 * writes the file. So the path comes only from the command line, never from a statement.
 */
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { UsageError } from '../../cli/usage-error.ts';
import { openDuckDb, sqlString } from './duckdb.ts';
import { firstLine, prepareReadOnly } from './run-query.ts';

export async function exportQueryToParquet(
  con: DuckDBConnection,
  sql: string,
  output: string,
): Promise<number> {
  const statements = await prepareReadOnly(con, sql);
  if (statements.length !== 1) throw new UsageError('SQL: --format parquet takes exactly one statement');
  const result = await statements[0]!.stream().catch((err: unknown) => {
    throw new UsageError(`SQL: ${firstLine(err)}`);
  });
  const names = result.columnNames();
  const types = result.columnTypes();
  const out = await openDuckDb({ memoryLimit: '512MB', threads: 1 });
  const writer = await out.connect();
  let rows = 0;
  try {
    const columns = names.map((n, i) => `${quoteIdent(n)} ${types[i]!.toString()}`).join(', ');
    await writer.run(`CREATE TABLE result (${columns})`);
    const appender = await writer.createAppender('result');
    for (
      let chunk = await result.fetchChunk();
      chunk && chunk.rowCount > 0;
      chunk = await result.fetchChunk()
    ) {
      appender.appendDataChunk(chunk);
      rows += chunk.rowCount;
    }
    appender.closeSync();
    await writer.run(`COPY result TO ${sqlString(path.resolve(output))} (FORMAT parquet)`);
  } finally {
    writer.closeSync();
    out.closeSync();
  }
  return rows;
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
