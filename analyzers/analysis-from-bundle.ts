/**
 * The analyzers' stages over one bundle, in data-flow order: topology -> frames -> sightings (with
 * clock offsets) -> flows. `hoptrace analyze` calls this, then `writeAnalysisTables`.
 */
import { type Coverage, framesFromBundle } from './correlate/frames-from-bundle.ts';
import { type ParallelOptions, sightingsFromPacketsParallel } from './correlate/parallel-slabs.ts';
import type { CorrelateResult } from './correlate/sightings.ts';
import { type FlowOptions, type FlowsResult, flowsFromSightings } from './flows.ts';
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

export async function analysisFromBundle(
  bundleDir: string,
  opts: ParallelOptions & FlowOptions = {},
): Promise<BundleAnalysis> {
  const topology = await topologyFromBundle(bundleDir);
  const set = await framesFromBundle(bundleDir, topology);
  const correlation = await sightingsFromPacketsParallel(set, topology, opts);
  const flows = flowsFromSightings(correlation.sightings, topology, {
    ...opts,
    coverage: set.coverage,
    clockOffsets: correlation.clockOffsets,
  });
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
