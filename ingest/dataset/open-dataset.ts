/**
 * Opens a dataset folder for SQL: an in-memory DuckDB whose views read the dataset's Parquet files,
 * locked down so that a query can read the dataset and nothing else: external access is limited to
 * the dataset folder, configuration is locked, and only read statements are accepted.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { UsageError } from '../../cli/usage-error.ts';
import { openDuckDb, sqlString } from './duckdb.ts';
import { macroStatements } from './sql-macros.ts';
import { viewStatements } from './write-dataset.ts';

export interface OpenDataset {
  db: DuckDBInstance;
  con: DuckDBConnection;
  root: string;
  close(): void;
}

/**
 * Tables the later stages add (`<name>/<name>.parquet`): a view for each one present. Only these
 * known names become views; nothing found in the folder is turned into SQL.
 */
export const LATER_TABLES = [
  'sightings',
  'flows',
  'flow_hops',
  'clock_offsets',
  'flow_coverage',
  'verdicts',
] as const;

async function tableViewStatements(root: string, posixRoot: string): Promise<string[]> {
  const present: string[] = [];
  for (const name of LATER_TABLES) {
    const ok = await fs.stat(path.join(root, name, `${name}.parquet`)).then(
      (s) => s.isFile(),
      () => false,
    );
    if (ok) {
      const file = sqlString(path.posix.join(posixRoot, name, `${name}.parquet`));
      present.push(`CREATE OR REPLACE VIEW ${name} AS SELECT * FROM read_parquet(${file})`);
    }
  }
  return present;
}

export async function openDataset(
  dir: string,
  opts: { memoryLimit?: string; threads?: number } = {},
): Promise<OpenDataset> {
  const root = await fs.realpath(dir).catch(() => null);
  if (!root) throw new UsageError(`${dir}: no such dataset folder`);
  const manifest = await fs.readFile(path.join(root, 'dataset.json'), 'utf8').catch(() => null);
  if (manifest === null) throw new UsageError(`${dir}: not a hoptrace dataset (no dataset.json)`);
  const db = await openDuckDb(opts);
  const con = await db.connect();
  try {
    for (const sql of macroStatements) await con.run(sql);
    const posixRoot = root.split(path.sep).join('/');
    for (const sql of viewStatements(posixRoot)) await con.run(sql);
    for (const sql of await tableViewStatements(root, posixRoot)) await con.run(sql);
    await con.run(`SET allowed_directories = [${sqlString(`${root}/`)}]`);
    await con.run('SET enable_external_access = false');
    await con.run('SET lock_configuration = true');
  } catch (err) {
    con.closeSync();
    db.closeSync();
    throw err;
  }
  return {
    db,
    con,
    root,
    close() {
      con.closeSync();
      db.closeSync();
    },
  };
}
