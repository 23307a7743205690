/**
 * `sightingsFromPacketsParallel`: `sightingsFromPackets` with the time slabs of the second pass spread
 * over worker threads (`jobs`). The clock pass stays on the main thread (a sample,
 * cheap); the main thread then bins the frames, copies each slab's columns out and hands them to the
 * next free worker, and appends the returned rows in slab order, so the result is the same as one
 * thread's, packet numbers included.
 */
import { Worker } from 'node:worker_threads';
import type { Topology } from '../topology/model.ts';
import { CORRELATION_COLUMNS, FrameTable } from './frame-table.ts';
import type { FrameSet } from './frames-from-bundle.ts';
import {
  type CorrelateOptions,
  type CorrelateResult,
  DEFAULT_SLAB_NS,
  SightingsBuilder,
  SlabCorrelator,
  settleClockOf,
  sightingsFromPackets,
  slabsOf,
} from './sightings.ts';
import type { SlabDone, SlabTask, SlabWorkerInit, SpoolTask } from './slab-worker.ts';

export interface ParallelOptions extends CorrelateOptions {
  /**
   * worker threads (`os.availableParallelism()` for one per core); default 1, inline. Measured on the
   * 2-core machine (docs/analyzers.md): 2 workers ran 0.9-1.2x the speed of one thread for 1.4x the CPU
   * (the main thread's binning and copying stay serial, each worker pays its own JIT warm-up and tsx
   * start, and the machine is shared), so they are not on by default.
   */
  jobs?: number;
}

/**
 * The worker's entry: the sources are TypeScript run through tsx (no build step), and a worker thread
 * does not inherit the main thread's loader, so it registers tsx itself before importing the module.
 */
export const WORKER_BOOT = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})
  .then((tsx) => { tsx.register(); return import(${JSON.stringify(new URL('./slab-worker.ts', import.meta.url).href)}); })
  .catch((err) => { throw err; });`;

/** Posts `message` to `w` and resolves with its next message (rejects when it fails or ends first). */
export function ask<T>(w: Worker, message: unknown, transfer: ArrayBuffer[] = []): Promise<T> {
  return new Promise((resolve, reject) => {
    // a thread already ended will send no 'exit' again: waiting for it would never end
    if (w.threadId === -1) {
      reject(new Error('correlation worker exited before answering'));
      return;
    }
    const settle = () => {
      w.off('message', onMessage);
      w.off('error', onError);
      w.off('exit', onExit);
    };
    const onError = (err: Error) => {
      settle();
      reject(err);
    };
    const onMessage = (answer: T) => {
      settle();
      resolve(answer);
    };
    // a worker that ends without answering (process.exit in it, out of memory) would leave us waiting forever
    const onExit = (code: number) => {
      settle();
      reject(new Error(`correlation worker exited (code ${code}) before answering`));
    };
    w.once('message', onMessage);
    w.once('error', onError);
    w.once('exit', onExit);
    w.postMessage(message, transfer);
  });
}

export function run(w: Worker, task: SlabTask | SpoolTask): Promise<SlabDone> {
  // a slab's columns go over whole (transferred); a spool task is a few numbers
  const buffers = 'columns' in task ? Object.values(task.columns).map((a) => a.buffer as ArrayBuffer) : [];
  return ask<SlabDone>(w, task, buffers);
}

/** Adds a slab a worker correlated to the correlator's counts. */
export function countSlab(c: SlabCorrelator, done: SlabDone): void {
  c.stats.identities += done.stats.identities;
  c.stats.collisions += done.stats.collisions;
  c.stats.ambiguous += done.stats.ambiguous;
  c.stats.offloadMerged += done.stats.offloadMerged;
  c.stats.slabs++;
}

export async function sightingsFromPacketsParallel(
  set: FrameSet,
  topology: Topology,
  opts: ParallelOptions = {},
): Promise<CorrelateResult> {
  const jobs = opts.jobs ?? 1;
  if (jobs <= 1) return sightingsFromPackets(set, topology, opts);
  const f = set.frames;
  const { jobs: _, ...correlateOpts } = opts;
  const c = new SlabCorrelator(set.points, topology, correlateOpts);
  const withoutFingerprint = settleClockOf(c, f, correlateOpts, new FrameTable(1024));
  const init: SlabWorkerInit = {
    points: set.points,
    pointInfo: set.points.map((p) => topology.points.get(p) ?? null),
    opts: correlateOpts,
    offsets: c.offsets,
  };
  const workers = Array.from(
    { length: jobs },
    () => new Worker(WORKER_BOOT, { eval: true, workerData: init }),
  );
  const out = new SightingsBuilder();
  try {
    const free = [...workers];
    const inflight = new Map<number, Promise<void>>();
    const done = new Map<number, SlabDone>();
    const where: { rows: Int32Array; a: number }[] = [];
    let appended = 0;
    let seq = 0;
    // rows go in in slab order whatever order the workers finish in: packet numbers stay deterministic
    const appendReady = () => {
      for (let r = done.get(appended); r; r = done.get(appended)) {
        done.delete(appended);
        out.append(r.rows, where[appended]!.rows, where[appended]!.a);
        countSlab(c, r);
        appended++;
      }
    };
    const corrected = c.correctedTimes(f);
    const slabNs = opts.slabNs ?? DEFAULT_SLAB_NS;
    for (const sl of slabsOf(corrected, f.length, f.fpValid, f.fpLo, 0, c.overlapNs, slabNs)) {
      while (free.length === 0) await Promise.race(inflight.values());
      const w = free.pop()!;
      const local = new FrameTable(sl.b - sl.a);
      local.copyRows(f, sl.rows, sl.a, sl.b, CORRELATION_COLUMNS);
      const columns: SlabTask['columns'] = {};
      for (const col of CORRELATION_COLUMNS) columns[col] = local[col];
      const id = seq++;
      where[id] = { rows: sl.rows, a: sl.a };
      const task: SlabTask = { length: sl.b - sl.a, columns, ownFrom: sl.ownFrom, ownTo: sl.ownTo };
      inflight.set(
        id,
        run(w, task).then((r) => {
          done.set(id, r);
          inflight.delete(id);
          free.push(w);
          appendReady();
        }),
      );
    }
    await Promise.all(inflight.values());
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return {
    sightings: out.finish(f, set.points, c.ctx),
    clockOffsets: c.offsets,
    stats: { ...c.stats, frames: f.length, withoutFingerprint },
    warnings: c.warnings,
  };
}
