/**
 * The analyzers' stages over one bundle, in data-flow order: topology -> frames -> sightings (with
 * clock offsets) -> flows. `hoptrace analyze` calls this, then `writeAnalysisTables`.
 * Frames stay in memory while they fit `memoryBudgetBytes`; a larger capture is spooled to a temporary
 * file while it is decoded and correlated slab by slab from there (`sightingsFromSpool`), so only the
 * sightings and one slab are held: the same sightings and flows either way (tested on every fixture).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ClockOffset } from './clock-offsets.ts';
import { FrameSpool, sightingsFromSpool } from './correlate/frame-spool.ts';
import {
  type Coverage,
  captureBytes,
  type FrameSet,
  framesFromBundle,
} from './correlate/frames-from-bundle.ts';
import { type ParallelOptions, sightingsFromPacketsParallel } from './correlate/parallel-slabs.ts';
import { type CorrelateResult, pointsOf, type Sightings } from './correlate/sightings.ts';
import { SightingsOnWorker } from './correlate/sightings-on-worker.ts';
import { type AheadWorker, slabWorkerAhead, spoolSlabsOnThread } from './correlate/spool-slabs-thread.ts';
import { FlowBuilder, type FlowLadder } from './flow-builder.ts';
import type { Flow, FlowOptions, FlowsResult } from './flows.ts';
import type { FlowFacts } from './rules/flow-facts.ts';
import { type SightingsOpener, type StageTexts, stageTextsOf } from './sightings-parts.ts';
import type { Topology } from './topology/model.ts';
import { topologyFromBundle } from './topology/topology-from-bundle.ts';
import type { AnalysisTables } from './write-analysis.ts';

export interface BundleAnalysis {
  topology: Topology;
  correlation: CorrelateResult;
  flows: FlowsResult;
  tables: AnalysisTables;
  /** each capture point's windows and drops (what a missing sighting can prove) */
  coverage: Map<string, Coverage>;
  /** container faults of capture files (records before them were kept) */
  faults: string[];
}

export interface SpillOptions {
  /**
   * memory the frames may take before they are spooled to disk instead (default 1 GiB). Frames in
   * memory cost about twice the capture files' bytes (80 bytes a frame, the slack of a growing table,
   * correlation's per-frame arrays and the sightings), so captures above half the budget spill.
   */
  memoryBudgetBytes?: number;
  /** where the spool file goes (default: the OS temporary directory); it is removed afterwards */
  spoolDir?: string;
  /** frames per spool chunk (tests use small ones so chunk boundaries fall inside flows) */
  spoolChunkFrames?: number;
  /** frames per block of a chunk, the unit slabs read or skip (tests use small ones so slabs skip some) */
  spoolBlockFrames?: number;
}

export const DEFAULT_MEMORY_BUDGET_BYTES = 2 ** 30;

/** How much memory frames in memory take per byte of capture file (see `memoryBudgetBytes`). */
const MEMORY_PER_CAPTURE_BYTE = 2;

/**
 * Every sighting and every flow of a bundle, held (tests, `hoptrace report`'s analysis folder without
 * rules, small bundles); `hoptrace analyze` streams them instead (`streamAnalysis`).
 */
export async function analysisFromBundle(
  bundleDir: string,
  opts: ParallelOptions & FlowOptions & SpillOptions = {},
): Promise<BundleAnalysis> {
  const topology = await topologyFromBundle(bundleDir);
  const budget = opts.memoryBudgetBytes ?? DEFAULT_MEMORY_BUDGET_BYTES;
  const spill = MEMORY_PER_CAPTURE_BYTE * (await captureBytes(bundleDir)) > budget;
  let set: FrameSet;
  let correlation: CorrelateResult;
  if (spill) {
    const dir = fs.mkdtempSync(path.join(opts.spoolDir ?? os.tmpdir(), 'hoptrace-spool-'));
    // the directory goes whatever fails, the spool's own construction included
    let spool: FrameSpool | undefined;
    try {
      spool = new FrameSpool(path.join(dir, 'frames.bin'), opts.spoolChunkFrames, opts.spoolBlockFrames);
      set = await framesFromBundle(bundleDir, topology, { spool });
      correlation = sightingsFromSpool(spool, set, topology, opts);
    } finally {
      try {
        spool?.close();
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
  } else {
    set = await framesFromBundle(bundleDir, topology);
    correlation = await sightingsFromPacketsParallel(set, topology, opts);
  }
  // the sightings are held whole: one slab of them
  const found: Flow[] = [];
  const builder = new FlowBuilder(
    topology,
    { ...opts, coverage: set.coverage, files: set.files, facts: false },
    (flow) => found.push(flow),
  );
  builder.useClock(correlation.clockOffsets);
  builder.add(correlation.sightings);
  builder.end();
  found.sort((x, y) => x.id - y.id);
  const flows: FlowsResult = {
    flows: found,
    flowOfPacket: builder.flowOfPacket.subarray(0, correlation.sightings.packets),
  };
  return {
    topology,
    correlation,
    flows,
    coverage: set.coverage,
    faults: set.faults,
    tables: {
      sightings: correlation.sightings,
      flows: flows.flows,
      flowOfPacket: flows.flowOfPacket,
      clockOffsets: correlation.clockOffsets,
      files: set.files,
    },
  };
}

/**
 * Where a streamed analysis (`streamAnalysis`) hands what it makes, as it makes it, so that no more than
 * one slab of sightings and the open flows are ever held (`hoptrace analyze`, issues 5 and 8).
 */
export interface AnalysisSink {
  /**
   * once the frames are read, before the first sighting: every text a sighting row may name, and (a
   * spooled capture) where the sightings' parts can be written off this thread: on the correlation
   * worker, which holds each slab already (sightings-on-worker.ts). A sink that opens parts there still
   * gets every slab, and passes it with its flow ids to the opened parts' `slab`.
   */
  open(texts: StageTexts, sightingsOn?: SightingsOpener): Promise<void>;
  /** once the clock offsets are known, before the first flow */
  clock(ctx: {
    topology: Topology;
    coverage: ReadonlyMap<string, Coverage>;
    clockOffsets: readonly ClockOffset[];
  }): void;
  /**
   * a slab's sightings (the slab's arrays are reused once this returns, or its promise settles), once
   * its packets are in flows: `flowOf` by the slab's packet numbers; the analysis numbers them from
   * `packetBase`. The next slab waits for it.
   */
  slab(s: Sightings, flowOf: Int32Array, packetBase: number): void | Promise<void>;
  /**
   * a flow as it ends, with the facts the rules judge and its first packets (`ladderPackets`): the
   * ladder's rows can be read during this call only (its numbers are reused once it returns)
   */
  flow(flow: Flow, facts: FlowFacts, ladder: FlowLadder | null): void;
}

/** What a streamed analysis returns: everything but the sightings and flows, which went to the sink. */
export interface StreamedAnalysis {
  topology: Topology;
  clockOffsets: ClockOffset[];
  stats: CorrelateResult['stats'];
  warnings: string[];
  coverage: Map<string, Coverage>;
  faults: string[];
  packets: number;
}

/**
 * The analysis of `analysisFromBundle`, streamed: each slab's sightings and each flow go to `sink` as
 * they are made, the same rows and flows (flows in the order they end: those that end together in id
 * order). A capture above the memory budget is spooled and correlated slab by slab; a smaller one is
 * correlated in memory (on worker threads) and handed over as one slab.
 */
export async function streamAnalysis(
  bundleDir: string,
  sink: AnalysisSink,
  opts: ParallelOptions & FlowOptions & SpillOptions & { ladderPackets?: number } = {},
): Promise<StreamedAnalysis> {
  const topology = await topologyFromBundle(bundleDir);
  const budget = opts.memoryBudgetBytes ?? DEFAULT_MEMORY_BUDGET_BYTES;
  const spill = MEMORY_PER_CAPTURE_BYTE * (await captureBytes(bundleDir)) > budget;
  const builderFor = (s: FrameSet) =>
    new FlowBuilder(
      topology,
      {
        ...opts,
        coverage: s.coverage,
        files: s.files,
        facts: true,
        slabFlows: true,
        ladderPackets: opts.ladderPackets ?? 0,
      },
      (flow, facts, ladder) => sink.flow(flow, facts!, ladder),
    );
  let packets = 0;
  const slab = async (b: FlowBuilder, s: Sightings, ownFrom: number) => {
    b.add(s, ownFrom);
    await sink.slab(s, b.flowOfPacket, packets);
    packets += s.packets;
  };
  if (!spill) {
    const set = await framesFromBundle(bundleDir, topology);
    const c = await sightingsFromPacketsParallel(set, topology, opts);
    await sink.open(stageTextsOf(c.sightings, set.files));
    const b = builderFor(set);
    b.useClock(c.clockOffsets);
    sink.clock({ topology, coverage: set.coverage, clockOffsets: c.clockOffsets });
    // one slab, never reused: its flows still open are ended while the sink takes its rows (they are
    // in flows already, and ending flows changes no packet's flow)
    b.add(c.sightings, Number.NEGATIVE_INFINITY);
    const staged = Promise.resolve(sink.slab(c.sightings, b.flowOfPacket, 0));
    // (heard below, unless ending the flows fails first)
    staged.catch(() => undefined);
    b.end();
    await staged;
    packets = c.sightings.packets;
    return { topology, ...pick(c), coverage: set.coverage, faults: set.faults, packets };
  }
  const dir = fs.mkdtempSync(path.join(opts.spoolDir ?? os.tmpdir(), 'hoptrace-spool-'));
  let spool: FrameSpool | undefined;
  let ahead: AheadWorker | undefined;
  try {
    // the correlation thread loads its modules while this one reads the captures
    ahead = slabWorkerAhead();
    spool = new FrameSpool(path.join(dir, 'frames.bin'), opts.spoolChunkFrames, opts.spoolBlockFrames);
    const sp = spool;
    const set = await framesFromBundle(bundleDir, topology, { spool: sp });
    const parts = new SightingsOnWorker(ahead.worker);
    await sink.open(
      { ...pointsOf(set.points, topology), files: set.files, ip4: sp.ip4.values, ip6: sp.table.ip6 },
      parts.open,
    );
    const b = builderFor(set);
    let clocked = false;
    // each slab is correlated on a worker thread while this one builds and hands over the one before
    const slabs = spoolSlabsOnThread(sp, set, topology, opts, ahead);
    let next = await slabs.next();
    try {
      for (; !next.done; next = await slabs.next()) {
        const { slab: s, ownFrom, clockOffsets } = next.value;
        if (!clocked) {
          b.useClock(clockOffsets);
          sink.clock({ topology, coverage: set.coverage, clockOffsets });
          clocked = true;
        }
        await slab(b, s, ownFrom);
      }
    } finally {
      // a sink that failed leaves the generator mid-slab: its worker thread ends here
      if (!next.done) await slabs.return(null as never);
    }
    const r = next.value;
    // a capture without a slab (no frame to correlate) is clocked all the same: its flows' tail
    if (!clocked) sink.clock({ topology, coverage: set.coverage, clockOffsets: r.clockOffsets });
    b.end();
    // every slab's flow ids are with the worker: it ends the last part before it is ended below
    await parts.close();
    return {
      topology,
      clockOffsets: r.clockOffsets,
      stats: r.stats,
      warnings: r.warnings,
      coverage: set.coverage,
      faults: set.faults,
      packets,
    };
  } finally {
    try {
      await ahead?.worker.terminate();
      spool?.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
}

const pick = (c: CorrelateResult) => ({
  clockOffsets: c.clockOffsets,
  stats: c.stats,
  warnings: c.warnings,
});
