/**
 * `spoolSlabs` with each slab's correlation (grouping, matching, rows) on a worker thread
 * (slab-worker.ts): this thread reads slab k from the spool and hands its columns over, then gives the
 * caller slab k-1's sightings to build flows from and judge while the worker correlates slab k. The
 * clock pass stays here (a sample); the slabs, their order and their rows are those of `spoolSlabs`
 * (tested on every fixture against the held analysis).
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
import { CORRELATION_COLUMNS, FRAME_COLUMNS, FrameTable } from './frame-table.ts';
import type { FrameSet } from './frames-from-bundle.ts';
import { countSlab, run, WORKER_BOOT } from './parallel-slabs.ts';
import { type CorrelateOptions, SightingsBuilder } from './sightings.ts';
import type { SlabDone, SlabTask, SlabWorkerInit } from './slab-worker.ts';

export async function* spoolSlabsOnThread(
  spool: FrameSpool,
  set: FrameSet,
  topology: Topology,
  opts: CorrelateOptions,
): AsyncGenerator<SpoolSlab, SpoolCorrelation, undefined> {
  const { c, offsets, slabs } = spoolClock(spool, set, topology, opts);
  const init: SlabWorkerInit = {
    points: set.points,
    pointInfo: set.points.map((p) => topology.points.get(p) ?? null),
    opts,
    offsets,
  };
  const worker = new Worker(WORKER_BOOT, { eval: true, workerData: init });
  // a caller that stops without ending the generator must not be kept alive by the thread
  worker.unref();
  const out = new SightingsBuilder();
  // slab k is read into one table while the caller still reads slab k-1's
  const tables = [new FrameTable(1024), new FrameTable(1024)];
  let ident = new Int32Array(0);
  let ready: { done: Promise<SlabDone>; local: FrameTable; from: number } | null = null;
  /** slab `r`'s sightings, from the rows the worker sent back (their frames number the slab's) */
  const settle = async (r: NonNullable<typeof ready>): Promise<SpoolSlab> => {
    const done = await r.done;
    countSlab(c, done);
    if (ident.length < r.local.length) ident = Int32Array.from({ length: r.local.length * 2 }, (_, i) => i);
    out.clear();
    out.append(done.rows, ident, 0);
    return { slab: out.finish(r.local, set.points, c.ctx), ownFrom: r.from, clockOffsets: offsets };
  };
  try {
    let k = 0;
    for (const { from, to, ov, shift } of slabs) {
      const local = spool.read(from - ov, to + ov, shift, 0, FRAME_COLUMNS, tables[k & 1]);
      if (local.length === 0) continue;
      k++;
      const columns: SlabTask['columns'] = {};
      for (const col of CORRELATION_COLUMNS) columns[col] = local[col].slice(0, local.length);
      // one slab at a time on the worker: the one before is back before this one goes
      const before = ready ? await settle(ready) : null;
      ready = { done: run(worker, { length: local.length, columns, ownFrom: from, ownTo: to }), local, from };
      // (a failure of this slab is heard when it is settled, never as an unhandled rejection)
      ready.done.catch(() => undefined);
      if (before) yield before;
    }
    if (ready) yield await settle(ready);
  } finally {
    await worker.terminate();
  }
  return spoolCorrelation(spool, c, offsets);
}
