/**
 * `spoolSlabs` with each slab's reading and correlation (grouping, matching, rows) on a worker thread
 * (slab-worker.ts): the worker reads slab k from the spool itself (a descriptor of its own) and sends
 * back its frames and rows (transferred, not copied), while the caller builds flows from slab k-1's
 * sightings and judges them. The clock pass stays here (a sample); the slabs, their order and their
 * rows are those of `spoolSlabs` (tested on every fixture against the held analysis).
 */
import { Worker } from 'node:worker_threads';
import type { Topology } from '../topology/model.ts';
import {
  type FrameSpool,
  type SpoolCorrelation,
  type SpoolSlab,
  spoolClock,
  spoolCorrelation,
} from './frame-spool.ts';
import { FRAME_COLUMNS } from './frame-table.ts';
import type { FrameSet } from './frames-from-bundle.ts';
import { countSlab, run, WORKER_BOOT } from './parallel-slabs.ts';
import { type CorrelateOptions, SightingsBuilder } from './sightings.ts';
import {
  type SlabColumns,
  type SlabDone,
  type SlabWorkerInit,
  type SlabWorkerStart,
  tableOf,
} from './slab-worker.ts';

/**
 * A slab worker started before its work is known (slab-worker.ts `SlabWorkerStart`): its modules load
 * while the captures are read. Its starter ends it too (`terminate`, which a thread already ended
 * ignores): a failure before the slabs leaves it to no one else.
 */
export function slabWorkerAhead(): AheadWorker {
  const worker = new Worker(WORKER_BOOT, { eval: true });
  // a caller that stops without ending the generator must not be kept alive by the thread
  worker.unref();
  // heard from its start: an error while main still reads the captures (its modules failing to load, out
  // of memory) would otherwise be an unheard 'error' event, which ends the process uncleaned
  let failure: Error | null = null;
  worker.on('error', (e: Error) => {
    failure ??= e;
  });
  worker.once('exit', (code: number) => {
    failure ??= new Error(`correlation worker exited (code ${code}) before its first slab`);
  });
  return { worker, failure: () => failure };
}

/** A worker from `slabWorkerAhead`, and what ended it before its work, if anything did. */
export interface AheadWorker {
  worker: Worker;
  failure: () => Error | null;
}

/**
 * `ahead`: a worker from `slabWorkerAhead` to use, which its starter ends; else one is started here and
 * ended as the slabs end.
 */
export async function* spoolSlabsOnThread(
  spool: FrameSpool,
  set: FrameSet,
  topology: Topology,
  opts: CorrelateOptions,
  ahead?: AheadWorker,
): AsyncGenerator<SpoolSlab, SpoolCorrelation, undefined> {
  const { c, offsets, slabs } = spoolClock(spool, set, topology, opts);
  let worker = ahead?.worker;
  const init: SlabWorkerInit = {
    points: set.points,
    pointInfo: set.points.map((p) => topology.points.get(p) ?? null),
    opts,
    offsets,
    // every frame is spooled by now
    spool: spool.index(),
    baseNs: spool.table.baseNs,
  };
  if (worker) {
    // (checked in the tick the first slab's listeners are attached: nothing is missed between)
    const failed = ahead!.failure();
    if (failed) throw failed;
    worker.postMessage({ init } satisfies SlabWorkerStart);
  } else {
    worker = new Worker(WORKER_BOOT, { eval: true, workerData: init });
    // a caller that stops without ending the generator must not be kept alive by the thread
    worker.unref();
  }
  const w = worker;
  const out = new SightingsBuilder();
  let ident = new Int32Array(0);
  /**
   * the worker's two tables in shared memory: slab k is written into one while the caller reads slab
   * k-1 from the other (it is done with a slab once it asks for the next, as with spoolSlabs)
   */
  const shared: (SlabColumns | null)[] = [null, null];
  let ready: { done: Promise<SlabDone>; from: number } | null = null;
  /** slab `r`'s sightings, from the frames and rows the worker sent back (null: no frame in it) */
  const settle = async (r: NonNullable<typeof ready>): Promise<SpoolSlab | null> => {
    const done = await r.done;
    if (done.partsFailure !== undefined) throw new Error(done.partsFailure);
    const frames = done.frames!;
    if (frames.columns) shared[frames.table] = frames.columns;
    if (frames.length === 0) return null;
    countSlab(c, done);
    const local = tableOf(frames.length, shared[frames.table]!, FRAME_COLUMNS);
    local.adoptBase(spool.table);
    local.shareIp6(spool.table);
    if (ident.length < local.length) ident = Int32Array.from({ length: local.length * 2 }, (_, i) => i);
    out.clear();
    out.append(done.rows, ident, 0);
    return { slab: out.finish(local, set.points, c.ctx), ownFrom: r.from, clockOffsets: offsets };
  };
  try {
    for (const read of slabs) {
      // one slab at a time on the worker: the one before is back before this one goes
      const before = ready ? await settle(ready) : null;
      ready = { done: run(w, { read }), from: read.from };
      // (a failure of this slab is heard when it is settled, never as an unhandled rejection)
      ready.done.catch(() => undefined);
      if (before) yield before;
    }
    if (ready) {
      const last = await settle(ready);
      if (last) yield last;
    }
  } finally {
    // a worker started ahead is its starter's to end: it may have more to do (sightings-on-worker.ts)
    if (!ahead) await w.terminate();
  }
  return spoolCorrelation(spool, c, offsets);
}
