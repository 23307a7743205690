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
import { datasetViewStatements, presentTables } from './views.ts';

export interface OpenDataset {
  db: DuckDBInstance;
  con: DuckDBConnection;
  root: string;
  close(): void;
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
    // views (and the table macros over them) for the tables present; nothing found in the folder
    // becomes SQL except through the fixed table list in views.ts
    for (const sql of datasetViewStatements(posixRoot, await presentTables(root))) await con.run(sql);
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
