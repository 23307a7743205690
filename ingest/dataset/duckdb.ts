/**
 * One place that opens DuckDB, always with an explicit memory limit and thread count (DESIGN §9):
 * joins that outgrow memory spill to `tempDirectory` instead of failing or taking the machine.
 */
import os from 'node:os';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';

export interface DuckDbOptions {
  /** e.g. '512MB'; default: a quarter of physical memory, at most 4 GB */
  memoryLimit?: string;
  threads?: number;
  tempDirectory?: string;
}

export function defaultMemoryLimit(): string {
  const quarter = Math.floor(os.totalmem() / 4 / 2 ** 20);
  return `${Math.min(quarter, 4096)}MB`;
}

export async function openDuckDb(opts: DuckDbOptions = {}): Promise<DuckDBInstance> {
  const config: Record<string, string> = {
    memory_limit: opts.memoryLimit ?? defaultMemoryLimit(),
    threads: String(opts.threads ?? Math.max(1, os.availableParallelism())),
    // no extension is ever downloaded: this tool must work offline and must not load code from the net
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
  };
  if (opts.tempDirectory) config['temp_directory'] = opts.tempDirectory;
  return DuckDBInstance.create(':memory:', config);
}

/**
 * Changes an open database's memory limit (a stage that needs more to write than to stage). The size
 * is this code's own choice and goes into SQL text, so only digits and a unit are taken.
 */
export async function setMemoryLimit(con: DuckDBConnection, limit: string): Promise<void> {
  if (!/^\d+(MB|GB)$/.test(limit))
    throw new Error(`memory limit ${JSON.stringify(limit)}: digits and MB or GB`);
  await con.run(`SET memory_limit = '${limit}'`);
}

/** A SQL string literal; for paths we build ourselves (DuckDB's COPY takes no parameters). */
export function sqlString(value: string): string {
  if (value.includes('\0')) throw new Error('NUL byte in a SQL string');
  return `'${value.replaceAll("'", "''")}'`;
}
