import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import type { DuckDBConnection } from '@duckdb/node-api';
import { Command, Option } from 'commander';
import { exportQueryToParquet } from '../ingest/dataset/export-parquet.ts';
import { openDataset } from '../ingest/dataset/open-dataset.ts';
import { runReadOnlyQuery } from '../ingest/dataset/run-query.ts';
import { formatResult, type ResultFormat } from './format-result.ts';
import { SqlSession } from './sql-session.ts';
import { UsageError } from './usage-error.ts';

interface SqlOptions {
  format: ResultFormat | 'parquet';
  output?: string;
  memoryLimit?: string;
}

export const sqlCommand = new Command('sql')
  .description('read-only DuckDB SQL over a dataset; without a query, an interactive prompt')
  .argument('<dataset>', 'dataset folder written by `hoptrace ingest` or `hoptrace analyze`')
  .argument('[query]', 'SQL; several statements separated by ";" (read from stdin when it is not a terminal)')
  .addOption(
    new Option('--format <format>', 'output format')
      .choices(['table', 'csv', 'json', 'parquet'])
      .default('table'),
  )
  .option('-o, --output <file>', 'write the result to a file instead of stdout (required for parquet)')
  .option('--memory-limit <size>', 'DuckDB memory limit, e.g. 2GB')
  .action(async (dataset: string, query: string | undefined, opts: SqlOptions) => {
    if (opts.format === 'parquet' && !opts.output)
      throw new UsageError('sql: --format parquet needs --output FILE');
    const ds = await openDataset(dataset, { memoryLimit: opts.memoryLimit });
    try {
      if (query === undefined && process.stdin.isTTY) {
        if (opts.format === 'parquet') throw new UsageError('sql: --format parquet needs a query');
        await interactive(ds.con, opts.format);
        return;
      }
      const sql = query ?? fs.readFileSync(0, 'utf8');
      if (opts.format === 'parquet') {
        const rows = await exportQueryToParquet(ds.con, sql, opts.output!);
        process.stderr.write(`wrote ${rows} rows to ${opts.output}\n`);
        return;
      }
      const format = opts.format;
      const text = (await runReadOnlyQuery(ds.con, sql)).map((r) => formatResult(r, format)).join('');
      if (opts.output) fs.writeFileSync(opts.output, text);
      else process.stdout.write(text);
    } finally {
      ds.close();
    }
  });

/** A prompt with history (~/.hoptrace_history), multi-line statements and dot commands. */
async function interactive(con: DuckDBConnection, format: ResultFormat): Promise<void> {
  const historyFile = path.join(os.homedir(), '.hoptrace_history');
  const history = fs.existsSync(historyFile)
    ? fs.readFileSync(historyFile, 'utf8').split('\n').filter(Boolean).reverse()
    : [];
  const rl = readline.createInterface({
    input: process.stdin,
    output: process.stdout,
    history,
    historySize: 1000,
  });
  const session = new SqlSession(con, format);
  process.stdout.write('hoptrace sql: views packets, captures; .help for commands; statements end with ;\n');
  const prompt = () => rl.setPrompt(session.pending ? '     ...> ' : 'hoptrace> ');
  prompt();
  rl.prompt();
  for await (const line of rl) {
    process.stdout.write(await session.line(line));
    if (session.done) break;
    prompt();
    rl.prompt();
  }
  process.stdout.write(await session.end());
  rl.close();
  const kept = (rl as unknown as { history: string[] }).history.slice(0, 1000).reverse();
  fs.writeFileSync(historyFile, `${kept.join('\n')}\n`, { mode: 0o600 });
}
