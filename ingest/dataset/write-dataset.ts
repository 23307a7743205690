/**
 * `hoptrace ingest`: capture files, bundles or trees of bundles -> a dataset folder of Hive-partitioned
 * Parquet (`packets/node=<node>/hour=<UTC hour>/*.parquet`, `captures/captures.parquet`) plus
 * `dataset.json` and the SQL that opens it.
 *
 * Parallel and bounded: files are spread over lanes (ingest-worker.ts), one per worker thread, biggest
 * file first; each lane streams its files through its own Parquet writer with a fixed buffer bound, so
 * memory is lanes x bound whatever the input size. The main thread only hands out files, moves the
 * lanes' part files into place and writes the small `captures` table and `dataset.json`.
 *
 * Never half-written: everything goes to `<out>.partial-<pid>` and is renamed into place when complete.
 * An interrupt (AbortSignal) stops the lanes and removes the partial folder; a run killed outright
 * leaves only `<out>.partial-<pid>` (never read as a dataset: wrong name) or, in the instant of the swap,
 * `<out>.old-<pid>`: the next run removes the first and restores the second when `<out>` is missing.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Worker } from 'node:worker_threads';
import type { DuckDBConnection } from '@duckdb/node-api';
import { UsageError } from '../../cli/usage-error.ts';
import type { InputError } from '../errors.ts';
import { type InputPlan, type PlannedFile, planInputs } from './bundle-tree.ts';
import { openDuckDb, sqlString } from './duckdb.ts';
import { prepareEncodeThread } from './encode-thread.ts';
import {
  type CaptureRow,
  type FileDone,
  type FileProgress,
  type FileTask,
  type FromLane,
  faultOf,
  IngestLane,
  Interrupted,
  type LaneOptions,
  type LaneWorkerData,
} from './ingest-worker.ts';
import { PacketsDatasetWriter } from './parquet/packets-dataset.ts';
import { dropProgress, lanePartName, leftoverPartial, recordProgress, resumeIn } from './resume.ts';
import { macroStatements } from './sql-macros.ts';
import { tsWorker } from './ts-worker.ts';
import { baseViewStatements } from './views.ts';

export type { CaptureRow } from './ingest-worker.ts';
export { Interrupted } from './ingest-worker.ts';

export const DATASET_SCHEMA_VERSION = 1;

export interface IngestProgress {
  filesDone: number;
  filesTotal: number;
  /** bytes on disk of finished files, plus how far into unfinished uncompressed files the readers are */
  bytesDone: number;
  bytesTotal: number;
  packets: number;
  elapsedMs: number;
  jobs: number;
}

export interface IngestOptions {
  outDir: string;
  memoryLimit?: string;
  threads?: number;
  /** rows per Parquet row group (each partition's file gets one when it has this many) */
  rowGroupRows?: number;
  batchRows?: number;
  /**
   * worker threads reading files in parallel; default one per core when the input is at least
   * MIN_BYTES_FOR_WORKERS and has several files, else 1 (inline: no worker start-up)
   */
  jobs?: number;
  /**
   * encode Parquet on a thread of its own beside each lane's decoding (encode-thread.ts); default on
   * when the lanes leave a core each for it (2 x lanes <= cores) and the input is worth a thread's
   * start-up (MIN_BYTES_FOR_WORKERS)
   */
  pipeline?: boolean;
  /** files at least this large are hashed on a thread of their own (default 16 MB, hash-thread.ts) */
  hashThreadMinBytes?: number;
  /**
   * nice steps the worker lanes run below the process (thread-priority.ts): `hoptrace analyze` lowers
   * them so that its analysis thread, the critical path, is never the one that waits for a core
   */
  nice?: number;
  onFileDone?: (file: FileSummary) => void;
  onProgress?: (p: IngestProgress) => void;
  /** aborting stops the run: lanes end, the partial folder is removed, the promise rejects with Interrupted */
  signal?: AbortSignal;
}

export interface FileSummary {
  file: string;
  records: number;
  error: InputError | null;
  warnings: number;
  captures: CaptureRow[];
}

export interface IngestSummary {
  outDir: string;
  files: FileSummary[];
  packets: number;
  faults: InputError[];
  /** lanes used (1: inline) */
  jobs: number;
  bytes: number;
  bundles: string[];
  /** node or pod names prefixed because several bundles used them */
  renamed: InputPlan['renamed'];
  /** files whose rows an interrupted earlier run had written, kept instead of read again */
  resumed: number;
}

/** Below this many input bytes, one inline lane: a worker's start-up (tsx included) costs ~0.3 s. */
export const MIN_BYTES_FOR_WORKERS = 64 << 20;

/** Rows per batch when a lane has an encoder thread (its batches are in flight several at a time). */
const PIPELINE_BATCH_ROWS = 32768;

/** Files and folders -> capture files, as named in outputs (see bundle-tree.ts for trees of bundles). */
export async function expandInputs(inputs: readonly string[]): Promise<{ abs: string; display: string }[]> {
  return (await planInputs(inputs)).files.map((f) => ({ abs: f.abs, display: f.display }));
}

function laneCount(requested: number | undefined, files: readonly PlannedFile[]): number {
  const wanted = requested ?? (inputBytes(files) >= MIN_BYTES_FOR_WORKERS ? os.availableParallelism() : 1);
  return Math.max(1, Math.min(wanted, files.length));
}

function inputBytes(files: readonly PlannedFile[]): number {
  return files.reduce((a, f) => a + f.size, 0);
}

/** Lanes already busy every core: a second thread per lane would only take turns with the others. */
function pipelined(requested: boolean | undefined, jobs: number, files: readonly PlannedFile[]): boolean {
  if (requested !== undefined) return requested;
  return 2 * jobs <= os.availableParallelism() && inputBytes(files) >= MIN_BYTES_FOR_WORKERS;
}

export async function ingestToDataset(
  inputs: readonly string[],
  opts: IngestOptions,
): Promise<IngestSummary> {
  const plan = await planInputs(inputs);
  // an empty folder or a tree of non-captures is a mistake in the command, not an empty dataset
  if (plan.files.length === 0)
    throw new UsageError(
      `${inputs.join(', ')}: no capture files (pcap or pcapng by magic number, or gzip/zstd of one)`,
    );
  // built while the folders are prepared: an input this large likely gets an encoder thread
  const encoderReady = inputBytes(plan.files) >= MIN_BYTES_FOR_WORKERS ? prepareEncodeThread() : null;
  const outDir = path.resolve(opts.outDir);
  const work = `${outDir}.partial-${process.pid}`;
  // an earlier run that was interrupted: its finished files are kept (resume.ts)
  const leftover = await leftoverPartial(outDir, pidAlive);
  if (leftover !== work) await fs.rm(work, { recursive: true, force: true });
  if (leftover && leftover !== work) await fs.rename(leftover, work);
  await sweepStale(outDir);
  await fs.mkdir(path.join(work, 'packets'), { recursive: true });
  await fs.mkdir(path.join(work, 'captures'), { recursive: true });
  const kept = leftover ? await resumeIn(work, plan.files) : new Map<number, FileDone>();
  const todo = plan.files.map((_, i) => i).filter((i) => !kept.has(i));
  const jobs = laneCount(
    opts.jobs,
    todo.map((i) => plan.files[i]!),
  );
  const progress = new ProgressTracker(plan.files, jobs, opts.onProgress);
  const done: (FileDone | null)[] = plan.files.map(() => null);
  const finished = (d: FileDone) => {
    done[d.index] = d;
    progress.done(d);
    opts.onFileDone?.(fileSummary(d));
  };
  for (const d of kept.values()) finished(d);
  const onDone = (d: FileDone) => {
    recordProgress(work, plan.files[d.index]!, d);
    finished(d);
  };
  const summary: IngestSummary = {
    outDir,
    files: [],
    packets: 0,
    faults: [],
    jobs,
    bytes: progress.bytesTotal,
    bundles: plan.bundles.map((b) => b.label),
    renamed: plan.renamed,
    resumed: kept.size,
  };
  const pipeline = pipelined(
    opts.pipeline,
    jobs,
    todo.map((i) => plan.files[i]!),
  );
  const lane: Omit<LaneOptions, 'packetsDir'> = {
    ...(opts.rowGroupRows ? { rowGroupRows: opts.rowGroupRows } : {}),
    // an encoder thread holds several batches: smaller ones keep that memory down
    ...(opts.batchRows || pipeline ? { batchRows: opts.batchRows ?? PIPELINE_BATCH_ROWS } : {}),
    // lanes x bound stays near what one writer alone would buffer
    maxBufferedBytes: Math.max(32 << 20, Math.floor((48 << 20) / jobs)),
    pipeline,
    ...(opts.hashThreadMinBytes !== undefined ? { hashThreadMinBytes: opts.hashThreadMinBytes } : {}),
    ...(opts.nice ? { nice: opts.nice } : {}),
  };
  try {
    if (pipeline) await encoderReady;
    const run: RunContext = { plan, todo, work, lane, onDone, progress, signal: opts.signal };
    if (todo.length > 0) await (jobs <= 1 ? runInline(run) : runWorkers(run, jobs));
    if (!(await hasParquet(path.join(work, 'packets')))) {
      // a dataset without rows still gets one (empty) packets file, so the views open
      await new PacketsDatasetWriter({ dir: path.join(work, 'packets'), points: [], files: [] }).close();
    }
    for (const d of done) {
      if (!d) throw new Error('ingest: a file was not read');
      const f = fileSummary(d);
      if (f.error) summary.faults.push(f.error);
      summary.files.push(f);
      summary.packets += f.records;
    }
    throwIfAborted(opts.signal);
    await writeSmallTables(work, summary, opts);
    throwIfAborted(opts.signal);
    await dropProgress(work);
  } catch (e) {
    // interrupted: the files finished so far stay for the next run to keep (resume.ts)
    if (!(e instanceof Interrupted)) await fs.rm(work, { recursive: true, force: true });
    throw e;
  }
  await commitDir(work, outDir);
  return summary;
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new Interrupted();
}

function fileSummary(d: FileDone): FileSummary {
  const error = d.error ? faultOf(d.error) : null;
  return { file: d.file, records: d.records, error, warnings: d.warnings, captures: d.captures };
}

function taskOf(plan: InputPlan, index: number): FileTask {
  const f = plan.files[index]!;
  return { index, abs: f.abs, display: f.display, place: f.place, bundle: f.bundle };
}

/** What both ways of running the lanes need. */
interface RunContext {
  plan: InputPlan;
  /** plan indices of the files to read */
  todo: readonly number[];
  work: string;
  lane: Omit<LaneOptions, 'packetsDir'>;
  onDone: (d: FileDone) => void;
  progress: ProgressTracker;
  signal: AbortSignal | undefined;
}

async function runInline({ plan, todo, work, lane, onDone, progress, signal }: RunContext): Promise<void> {
  const inline = new IngestLane(
    { ...lane, packetsDir: path.join(work, 'packets') },
    () => signal?.aborted === true,
  );
  try {
    for (const i of todo) {
      throwIfAborted(signal);
      onDone(await inline.ingest(taskOf(plan, i), (p) => progress.update(p)));
    }
    throwIfAborted(signal);
    await inline.close();
  } catch (e) {
    await inline.abort().catch(() => {});
    throw e;
  }
}

async function runWorkers(
  { plan, todo, work, lane, onDone, progress, signal }: RunContext,
  jobs: number,
): Promise<void> {
  // biggest first, so that one large file does not start last and run alone at the end
  const order = [...todo].sort((a, b) => plan.files[b]!.size - plan.files[a]!.size || a - b);
  let next = 0;
  const nextTask = (): FileTask | null => (next < order.length ? taskOf(plan, order[next++]!) : null);
  const dirs = Array.from({ length: jobs }, (_, k) => path.join(work, '.lanes', `w${k}`));
  const workers = dirs.map((packetsDir) => {
    const data: LaneWorkerData = { role: 'hoptrace-ingest-lane', lane: { ...lane, packetsDir } };
    return tsWorker(new URL('./ingest-worker.ts', import.meta.url), data);
  });
  try {
    await Promise.all(workers.map((w) => driveLane(w, nextTask, onDone, progress, signal)));
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  // part files move into the one packets tree; the lane number keeps their names apart
  for (const dir of dirs) await moveParts(dir, path.join(work, 'packets'));
  await fs.rm(path.join(work, '.lanes'), { recursive: true, force: true });
}

function driveLane(
  w: Worker,
  nextTask: () => FileTask | null,
  onDone: (d: FileDone) => void,
  progress: ProgressTracker,
  signal: AbortSignal | undefined,
): Promise<number> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new Interrupted());
    const onAbort = () => reject(new Interrupted());
    signal?.addEventListener('abort', onAbort, { once: true });
    const settle = () => signal?.removeEventListener('abort', onAbort);
    const send = () => {
      if (signal?.aborted) return reject(new Interrupted());
      const task = nextTask();
      w.postMessage(task ? { type: 'file', task } : { type: 'close' });
    };
    w.on('message', (m: FromLane) => {
      switch (m.type) {
        case 'progress':
          progress.update(m.progress);
          break;
        case 'done':
          try {
            // recording progress can fail (a full disk): the run fails, not the process
            onDone(m.done);
          } catch (e) {
            settle();
            reject(e);
            break;
          }
          send();
          break;
        case 'closed':
          settle();
          resolve(m.rows);
          break;
        case 'failed':
          settle();
          reject(new Error(`ingest worker: ${m.message}`));
          break;
      }
    });
    w.once('error', (err) => {
      settle();
      reject(err);
    });
    // after `closed` this is a no-op (the promise is settled); before it, a lane died
    w.once('exit', (code) => reject(new Error(`ingest worker exited with code ${code}`)));
    send();
  });
}

/** Moves `<from>/node=X/hour=Y/<name>` to `<to>/node=X/hour=Y/<prefix><name>`. */
async function moveParts(from: string, to: string): Promise<void> {
  const lane = path.basename(from);
  const entries = await fs.readdir(from, { recursive: true, withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    if (!e.isFile()) continue;
    const rel = path.relative(from, e.parentPath);
    await fs.mkdir(path.join(to, rel), { recursive: true });
    await fs.rename(path.join(e.parentPath, e.name), path.join(to, rel, lanePartName(lane, e.name)));
  }
}

class ProgressTracker {
  readonly bytesTotal: number;
  private filesDone = 0;
  private bytesDone = 0;
  private packetsDone = 0;
  private readonly inflight = new Map<number, FileProgress>();
  private readonly started = performance.now();

  constructor(
    private readonly files: readonly PlannedFile[],
    private readonly jobs: number,
    private readonly listener: ((p: IngestProgress) => void) | undefined,
  ) {
    this.bytesTotal = files.reduce((a, f) => a + f.size, 0);
  }

  update(p: FileProgress): void {
    this.inflight.set(p.index, p);
    this.emit();
  }

  done(d: FileDone): void {
    this.inflight.delete(d.index);
    this.filesDone++;
    this.bytesDone += this.files[d.index]?.size ?? 0;
    this.packetsDone += d.records;
    this.emit();
  }

  private emit(): void {
    if (!this.listener) return;
    let bytes = this.bytesDone;
    let packets = this.packetsDone;
    for (const p of this.inflight.values()) {
      const f = this.files[p.index];
      // a compressed file's offsets are in the decompressed stream: it counts when it is done
      if (f && f.compression === 'none') bytes += Math.min(p.offset, f.size);
      packets += p.records;
    }
    this.listener({
      filesDone: this.filesDone,
      filesTotal: this.files.length,
      bytesDone: bytes,
      bytesTotal: this.bytesTotal,
      packets,
      elapsedMs: performance.now() - this.started,
      jobs: this.jobs,
    });
  }
}

async function writeSmallTables(work: string, summary: IngestSummary, opts: IngestOptions): Promise<void> {
  const db = await openDuckDb({
    memoryLimit: opts.memoryLimit,
    threads: opts.threads,
    tempDirectory: path.join(work, '.duckdb-tmp'),
  });
  const con = await db.connect();
  try {
    await writeCaptures(con, path.join(work, 'captures', 'captures.parquet'), summary.files);
    await fs.writeFile(path.join(work, 'macros.sql'), `${macroStatements.join(';\n\n')};\n`);
    await fs.writeFile(path.join(work, 'views.sql'), `${baseViewStatements('.').join(';\n\n')};\n`);
    // dataset.json last: it is what makes a folder a dataset (open-dataset.ts)
    await fs.writeFile(
      path.join(work, 'dataset.json'),
      `${JSON.stringify(datasetManifest(summary), null, 2)}\n`,
    );
  } finally {
    con.closeSync();
    db.closeSync();
    await fs.rm(path.join(work, '.duckdb-tmp'), { recursive: true, force: true });
  }
}

async function hasParquet(dir: string): Promise<boolean> {
  const entries = await fs.readdir(dir, { recursive: true }).catch(() => []);
  return entries.some((e) => e.endsWith('.parquet'));
}

function pidAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Leftovers of runs that died (SIGKILL, power loss) next to `outDir`: partial folders are removed; an
 * `.old-<pid>` folder is the previous dataset caught mid-swap, restored when `outDir` is missing.
 */
export async function sweepStale(outDir: string): Promise<void> {
  const parent = path.dirname(outDir);
  const base = path.basename(outDir);
  const names = await fs.readdir(parent).catch(() => []);
  const stale = new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.(partial|old)-(\\d+)$`);
  for (const name of names) {
    const m = stale.exec(name);
    if (!m || pidAlive(Number(m[2]))) continue;
    const dir = path.join(parent, name);
    const outExists = await fs.stat(outDir).then(
      () => true,
      () => false,
    );
    if (m[1] === 'old' && !outExists) await fs.rename(dir, outDir);
    else await fs.rm(dir, { recursive: true, force: true });
  }
}

/**
 * Moves a finished folder into place; an older one at that path is replaced whole. Two renames: a
 * folder cannot atomically replace a non-empty folder on Linux, so the old one steps aside first.
 */
export async function commitDir(work: string, outDir: string): Promise<void> {
  const old = `${outDir}.old-${process.pid}`;
  const existed = await fs.stat(outDir).then(
    () => true,
    () => false,
  );
  if (existed) await fs.rename(outDir, old);
  await fs.rename(work, outDir);
  if (existed) await fs.rm(old, { recursive: true, force: true });
}

async function writeCaptures(
  con: DuckDBConnection,
  file: string,
  files: readonly FileSummary[],
): Promise<void> {
  await con.run(`CREATE TABLE captures (capture_point VARCHAR, node VARCHAR, pod VARCHAR, iface VARCHAR, kind VARCHAR,
    link_type USMALLINT, ts_resolution VARCHAR, snaplen UINTEGER, packets UBIGINT, bytes UBIGINT, decode_errors UBIGINT,
    drops UBIGINT, start_ns BIGINT, end_ns BIGINT, file VARCHAR, sha256 VARCHAR, clock_offset_ns BIGINT,
    fault VARCHAR, bundle VARCHAR, ring_index INTEGER)`);
  const a = await con.createAppender('captures');
  const text = (v: string | null) => (v === null ? a.appendNull() : a.appendVarchar(v));
  const big = (v: bigint | null) => (v === null ? a.appendNull() : a.appendBigInt(v));
  for (const f of files) {
    for (const c of f.captures) {
      text(c.capture_point);
      text(c.node);
      text(c.pod);
      text(c.iface);
      text(c.kind);
      a.appendUSmallInt(c.link_type);
      text(c.ts_resolution);
      a.appendUInteger(c.snaplen);
      a.appendUBigInt(BigInt(c.packets));
      a.appendUBigInt(BigInt(c.bytes));
      a.appendUBigInt(BigInt(c.decode_errors));
      if (c.drops === null) a.appendNull();
      else a.appendUBigInt(BigInt(c.drops));
      big(c.start_ns);
      big(c.end_ns);
      text(c.file);
      text(c.sha256);
      a.appendBigInt(c.clock_offset_ns);
      text(f.error ? f.error.line() : null);
      text(c.bundle);
      if (c.ring_index === null) a.appendNull();
      else a.appendInteger(c.ring_index);
      a.endRow();
    }
  }
  a.closeSync();
  await con.run(`COPY captures TO ${sqlString(file)} (FORMAT parquet)`);
}

/** Views over a dataset folder; `root` is a path DuckDB resolves (absolute, or relative to its cwd). */
export function viewStatements(root: string): string[] {
  return baseViewStatements(root);
}

function datasetManifest(summary: IngestSummary): object {
  return {
    schema_version: DATASET_SCHEMA_VERSION,
    tool: { name: 'hoptrace', version: '0.1.0' },
    created: new Date().toISOString(),
    tables: {
      packets: { path: 'packets', partitioning: ['node', 'hour'], rows: summary.packets },
      captures: { path: 'captures/captures.parquet' },
    },
    bundles: summary.bundles,
    renamed: summary.renamed,
    files: summary.files.map((f) => ({
      file: f.file,
      records: f.records,
      warnings: f.warnings,
      fault: f.error ? { code: f.error.code, offset: f.error.offset, message: f.error.line() } : null,
    })),
  };
}
