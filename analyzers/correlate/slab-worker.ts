/**
 * A worker thread correlating time slabs for `sightingsFromPacketsParallel` (parallel-slabs.ts): slabs are
 * independent once the clock is settled (DESIGN §9), so the main thread bins and copies them out and the
 * workers do the grouping, matching and row building. Frames come in as transferred column buffers and
 * rows go back the same way; nothing is shared.
 */
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import type { ClockOffset } from '../clock-offsets.ts';
import { emptyTopology, type Point } from '../topology/model.ts';
import { type SpoolIndex, SpoolReader } from './frame-spool.ts';
import { CORRELATION_COLUMNS, FRAME_COLUMNS, type FrameColumn, FrameTable } from './frame-table.ts';
import { type CorrelateOptions, SightingsBuilder, SlabCorrelator, type SlabRows } from './sightings.ts';
import { isPartsMessage, type PartsMessage, SlabParts } from './sightings-on-worker.ts';

export interface SlabWorkerInit {
  points: string[];
  /** the topology's record of each point (all the correlator reads from the topology) */
  pointInfo: (Point | null)[];
  opts: CorrelateOptions;
  offsets: ClockOffset[];
  /** a spool the worker reads its slabs from itself (`SpoolTask`) */
  spool?: SpoolIndex;
  /** the spool's time base (its frames' times are ns after it): the sightings' parts write absolute times */
  baseNs?: bigint | null;
}

export type SlabColumns = Partial<Record<FrameColumn, FrameTable[FrameColumn]>>;

/** A slab's frames handed over (their columns transferred). */
export interface SlabTask {
  length: number;
  columns: SlabColumns;
  ownFrom: number;
  ownTo: number;
}

/** A slab the worker reads from the spool (FrameSpool.read's arguments: its own range, overlap, shifts). */
export interface SpoolTask {
  read: { from: number; to: number; ov: number; shift: Float64Array };
}

export interface SlabDone {
  /**
   * for a SpoolTask: the slab's frames, every column, to build flows from: in the shared table `table`
   * (slabs alternate between two), whose columns come along when the worker made them anew (larger)
   */
  frames?: { length: number; table: number; columns?: SlabColumns };
  rows: SlabRows;
  /** why the sightings' parts this worker writes (sightings-on-worker.ts) failed, once they did */
  partsFailure?: string;
  stats: { identities: number; collisions: number; ambiguous: number; offloadMerged: number };
}

/** The buffers of a slab's rows, for a transfer list. */
export function rowBuffers(r: SlabRows): ArrayBuffer[] {
  return [
    r.packet,
    r.hop,
    r.point,
    r.frame,
    r.count,
    r.t,
    r.bytes,
    r.role,
    r.rewrite,
    r.collided,
    r.packetStart,
  ].map((a) => a.buffer as ArrayBuffer);
}

/** A table over columns handed to this thread (no copy). */
export function tableOf(length: number, columns: SlabColumns, names: readonly FrameColumn[]): FrameTable {
  const f = new FrameTable(16);
  for (const col of names) {
    const data = columns[col];
    if (data) (f as unknown as Record<FrameColumn, FrameTable[FrameColumn]>)[col] = data;
  }
  f.length = length;
  f.capacity = length;
  return f;
}

/**
 * What starts a worker started ahead of its work (`slabWorkerAhead`): the first message, before any task.
 * Its modules load while the caller reads the captures (tsx's loading took ~0.5 s of the first slab).
 */
export interface SlabWorkerStart {
  init: SlabWorkerInit;
}

if (parentPort) {
  const port = parentPort;
  // the parts may be opened before the correlation's init comes (a worker started ahead of its work)
  const parts = new SlabParts();
  let task: ((t: SlabTask | SpoolTask) => void) | null = workerData
    ? serve(port, workerData as SlabWorkerInit, parts)
    : null;
  port.on('message', (m: SlabWorkerStart | SlabTask | SpoolTask | PartsMessage) => {
    if (isPartsMessage(m)) {
      const answer = parts.take(m);
      if (answer) port.postMessage(answer);
    } else if ('init' in m) task = serve(port, m.init, parts);
    else if (task) task(m);
    else throw new Error('slab worker: a task before its init');
  });
}

/** The worker's correlation: a handler of its slab tasks. */
function serve(port: MessagePort, init: SlabWorkerInit, parts: SlabParts): (t: SlabTask | SpoolTask) => void {
  const topology = emptyTopology();
  for (const p of init.pointInfo) if (p) topology.points.set(p.id, p);
  const c = new SlabCorrelator(init.points, topology, init.opts);
  c.useClock(init.offsets);
  const reader = init.spool ? SpoolReader.open(init.spool) : null;
  // slabs are read into two tables in shared memory, in turn: the caller reads slab k-1 from one while
  // this reads slab k into the other. Buffers transferred anew for every slab were external memory that
  // made V8 run full collections (125 for "external memory pressure" against 22 in a 20 M-frame run,
  // and 40 more CPU-s)
  // (they start small and grow 1.5x to the largest slab; a table that grew is sent again)
  const tables = [new FrameTable(16, [], true), new FrameTable(16, [], true)];
  for (const t of tables) t.useBase(init.baseNs ?? null);
  /** per table, its time column when its columns were last sent (a table that grew has new ones) */
  const sent: (Float64Array | null)[] = [null, null];
  let slabs = 0;
  const onTask = (task: SlabTask | SpoolTask): void => {
    let f: FrameTable;
    let frames: SlabDone['frames'];
    if ('read' in task) {
      const { from, to, ov, shift } = task.read;
      if (reader === null) throw new Error('slab worker: a spool task without a spool');
      const k = slabs++ & 1;
      if (parts.holds(tables[k]!))
        parts.fail(
          new Error('sightings on the correlation worker: a slab table reused before its rows were written'),
        );
      f = reader.read(
        { from: from - ov, to: to + ov, pointShift: shift, sampleMask: 0, columns: FRAME_COLUMNS },
        tables[k]!,
      );
      frames = { length: f.length, table: k };
      if (sent[k] !== f.t) {
        sent[k] = f.t;
        const columns: SlabColumns = {};
        for (const col of FRAME_COLUMNS)
          (columns as Record<FrameColumn, FrameTable[FrameColumn]>)[col] = f[col];
        frames.columns = columns;
      }
      correlateAndPost(f, from, to, frames);
    } else {
      f = tableOf(task.length, task.columns, CORRELATION_COLUMNS);
      correlateAndPost(f, task.ownFrom, task.ownTo, frames);
    }
  };

  function correlateAndPost(f: FrameTable, ownFrom: number, ownTo: number, frames: SlabDone['frames']): void {
    const before = { ...c.stats };
    const out = new SightingsBuilder();
    if (f.length > 0) c.correlate(f, ownFrom, ownTo, out);
    const n = out.length;
    const rows: SlabRows = {
      length: n,
      packets: out.packets,
      packet: out.packet.slice(0, n),
      hop: out.hop.slice(0, n),
      point: out.point.slice(0, n),
      frame: out.frame.slice(0, n),
      count: out.count.slice(0, n),
      t: out.t.slice(0, n),
      bytes: out.bytes.slice(0, n),
      role: out.role.slice(0, n),
      rewrite: out.rewrite.slice(0, n),
      collided: out.collided.slice(0, n),
      packetStart: out.packetStart.slice(0, out.packets + 1),
    };
    // a slab the caller builds flows from (one with frames): its flow ids come back for its parts
    if (frames && f.length > 0 && parts.keeping) parts.keep(out.finish(f, init.points, c.ctx));
    const done: SlabDone = {
      ...(frames ? { frames } : {}),
      rows,
      ...(parts.failure === null ? {} : { partsFailure: parts.failure }),
      stats: {
        identities: c.stats.identities - before.identities,
        collisions: c.stats.collisions - before.collisions,
        ambiguous: c.stats.ambiguous - before.ambiguous,
        offloadMerged: c.stats.offloadMerged - before.offloadMerged,
      },
    };
    port.postMessage(done, rowBuffers(rows));
  }
  return onTask;
}
