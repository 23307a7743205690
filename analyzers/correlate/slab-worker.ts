/**
 * A worker thread correlating time slabs for `sightingsFromPacketsParallel` (parallel-slabs.ts): slabs are
 * independent once the clock is settled (DESIGN §9), so the main thread bins and copies them out and the
 * workers do the grouping, matching and row building. Frames come in as transferred column buffers and
 * rows go back the same way; nothing is shared.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { ClockOffset } from '../clock-offsets.ts';
import { emptyTopology, type Point } from '../topology/model.ts';
import { CORRELATION_COLUMNS, type FrameColumn, FrameTable } from './frame-table.ts';
import { type CorrelateOptions, SightingsBuilder, SlabCorrelator, type SlabRows } from './sightings.ts';

export interface SlabWorkerInit {
  points: string[];
  /** the topology's record of each point (all the correlator reads from the topology) */
  pointInfo: (Point | null)[];
  opts: CorrelateOptions;
  offsets: ClockOffset[];
}

export interface SlabTask {
  length: number;
  columns: Partial<Record<FrameColumn, FrameTable[FrameColumn]>>;
  ownFrom: number;
  ownTo: number;
}

export interface SlabDone {
  rows: SlabRows;
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

if (parentPort) {
  const port = parentPort;
  const init = workerData as SlabWorkerInit;
  const topology = emptyTopology();
  for (const p of init.pointInfo) if (p) topology.points.set(p.id, p);
  const c = new SlabCorrelator(init.points, topology, init.opts);
  c.useClock(init.offsets);
  port.on('message', (task: SlabTask) => {
    const f = new FrameTable(16);
    for (const col of CORRELATION_COLUMNS) {
      const data = task.columns[col];
      if (data) (f as unknown as Record<FrameColumn, FrameTable[FrameColumn]>)[col] = data;
    }
    f.length = task.length;
    f.capacity = task.length;
    const before = { ...c.stats };
    const out = new SightingsBuilder();
    c.correlate(f, task.ownFrom, task.ownTo, out);
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
    const done: SlabDone = {
      rows,
      stats: {
        identities: c.stats.identities - before.identities,
        collisions: c.stats.collisions - before.collisions,
        ambiguous: c.stats.ambiguous - before.ambiguous,
        offloadMerged: c.stats.offloadMerged - before.offloadMerged,
      },
    };
    port.postMessage(done, rowBuffers(rows));
  });
}
