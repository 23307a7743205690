/**
 * `verdictsFromFlows`: the rules stage (DESIGN §1 "analyzers -> verdicts"). Flows, sightings, coverage
 * and topology in; the verdicts document of DESIGN §8 out (flows, nodes, clock offsets, captures,
 * warnings). Which rule set judges which node (issue 6): `--rules DIR` for every node if given, else
 * `--datapath`, else each node's `node_capabilities` (datapathv2 -> terway-v2, veth -> kernel-routing;
 * anything else: no rule set, so its flows are inconclusive with reason `no-rule`). `--kernel` replaces
 * every node's recorded kernel.
 *
 * The evaluator reads each point's coverage window and drops (`BundleAnalysis.coverage`) through
 * flow-facts.ts, so a change of the analyzers' shapes stays in that adapter.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { analysisFromBundle, type BundleAnalysis } from './analysis-from-bundle.ts';
import { ScenarioKey } from './classify.ts';
import type { ClockOffset } from './clock-offsets.ts';
import type { CorrelateOptions } from './correlate/sightings.ts';
import type { FlowOptions } from './flows.ts';
import {
  combineDatapath,
  type EvaluateContext,
  type EvaluatedFlow,
  evaluateFlow,
} from './rules/evaluate-rules.ts';
import {
  coverageFromFrames,
  type FlowFacts,
  forEachFlowFacts,
  type PointCoverage,
} from './rules/flow-facts.ts';
import {
  type KernelVersion,
  type LoadResult,
  loadRulePaths,
  parseKernelVersion,
  type Rule,
} from './rules/load-rules.ts';
import { forgetPointTexts } from './rules/verdict-messages.ts';
import { type Datapath, type FlowVerdict, Status } from './rules/verdict-types.ts';
import type { Topology } from './topology/model.ts';

export const VERDICTS_SCHEMA_VERSION = 1;

/** The shipped rule sets (`rules/<set>/`). */
export const RULES_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'rules');
export const RuleSetName = Object.freeze({
  /** Terway DataPath V2 (eBPF on the veths and ENIs) */
  terwayV2: 'terway-v2',
  /** plain veth + policy routing + kube-proxy */
  kernelRouting: 'kernel-routing',
} as const);

/** `--datapath` values and the set each selects. */
export const DATAPATH_SETS: Readonly<Record<string, string>> = Object.freeze({
  datapathv2: RuleSetName.terwayV2,
  kernel: RuleSetName.kernelRouting,
});

/** node_capabilities `datapath` -> rule set; values without a rule set judge nothing (explicit unknown). */
const CAPABILITY_SETS: Readonly<Record<string, string>> = Object.freeze({
  datapathv2: RuleSetName.terwayV2,
  veth: RuleSetName.kernelRouting,
});

export interface RuleSelection {
  /** `--rules <folder>` */
  rulesDir?: string | undefined;
  /** `--datapath datapathv2|kernel` */
  datapath?: string | undefined;
  /** `--kernel <version>`: replaces every node's recorded kernel */
  kernel?: string | undefined;
}

export interface Warning {
  code: string;
  message: string;
}

export interface VerdictNode {
  node: string;
  /** the kernel the rules used (the `--kernel` override when given); null: unknown */
  kernel: string | null;
  /** the datapath the node is judged as (`ebpf` for DataPath V2, `kernel` for kernel routing) */
  claimed: Datapath;
  /** what its pods' packets show (flows whose rule expects the host stack, 8b and host clients, excluded) */
  observed: Datapath;
  /** the rule set that judged it, and where that choice came from */
  rule_set: string | null;
  claimed_by: 'rules' | 'datapath' | 'node_capabilities' | 'unknown';
}

export interface VerdictCapture {
  point: string;
  start_ns: string | null;
  end_ns: string | null;
  drops: number | null;
  files: string[];
}

export interface VerdictsDocument extends VerdictsTail {
  schema_version: number;
  flows: FlowVerdict[];
}

/**
 * The fields of the document after `flows` (DESIGN §8 order): known once every flow is judged
 * (`nodes[].observed` sums what the flows show), so a streamed verdicts.json writes them last.
 */
export interface VerdictsTail {
  nodes: VerdictNode[];
  clock_offsets: { node: string; offset_ns: number; error_ns: number | null }[];
  captures: VerdictCapture[];
  warnings: Warning[];
}

export interface AnalysisWithCoverage {
  analysis: BundleAnalysis;
  coverage: Map<string, PointCoverage>;
}

/** The analyzers' stages over one bundle, with each point's coverage in the evaluator's terms. */
export async function analysisWithCoverage(
  bundleDir: string,
  opts: CorrelateOptions & FlowOptions = {},
): Promise<AnalysisWithCoverage> {
  const analysis = await analysisFromBundle(bundleDir, opts);
  return { analysis, coverage: coverageFromFrames(analysis.coverage) };
}

/** The rule sets a selection needs, loaded and checked; errors are the caller's to report (exit 2). */
export function loadRuleSets(sel: RuleSelection, root = RULES_ROOT): LoadResult {
  if (sel.rulesDir !== undefined) return loadRulePaths([sel.rulesDir]);
  return loadRulePaths([path.join(root, RuleSetName.terwayV2), path.join(root, RuleSetName.kernelRouting)]);
}

const claimOfSet = (set: string | null): Datapath =>
  set === RuleSetName.terwayV2 ? 'ebpf' : set === RuleSetName.kernelRouting ? 'kernel' : 'unknown';

/** Scenario keys whose datapath the node's claim governs (8b and host clients go to the host stack by design). */
const POD_DATAPATH_KEYS: ReadonlySet<string> = new Set([
  ScenarioKey.s1,
  ScenarioKey.s2,
  ScenarioKey.s3,
  ScenarioKey.s4,
  ScenarioKey.s5,
  ScenarioKey.s6,
  ScenarioKey.s7,
  ScenarioKey.s8a,
  ScenarioKey.hairpin,
]);

export interface VerdictsResult {
  document: VerdictsDocument;
  evaluated: EvaluatedFlow[];
}

/** The whole document in memory: for small bundles and tests (`hoptrace analyze` streams, `judgeFlows`). */
export function verdictsFromFlows(
  input: AnalysisWithCoverage,
  rules: readonly Rule[],
  sel: RuleSelection = {},
  extraWarnings: readonly Warning[] = [],
): VerdictsResult {
  const evaluated: EvaluatedFlow[] = [];
  const tail = judgeFlows(input, rules, sel, extraWarnings, (e) => evaluated.push(e));
  const document: VerdictsDocument = {
    schema_version: VERDICTS_SCHEMA_VERSION,
    flows: evaluated.map((e) => e.verdict),
    ...tail,
  };
  return { document, evaluated };
}

/**
 * Judges every flow, handing each to `onFlow` as it is made (in flow order) and keeping none: what
 * the document needs besides the flows (the tail) is returned once all are judged.
 */
export function judgeFlows(
  input: AnalysisWithCoverage,
  rules: readonly Rule[],
  sel: RuleSelection,
  extraWarnings: readonly Warning[],
  onFlow: (e: EvaluatedFlow) => void,
): VerdictsTail {
  const { analysis } = input;
  const judge = new FlowJudge(
    analysis.topology,
    input.coverage,
    analysis.correlation.clockOffsets,
    rules,
    sel,
  );
  try {
    forEachFlowFacts(
      analysis.tables.sightings,
      analysis.tables.flows,
      analysis.tables.flowOfPacket,
      analysis.tables.files,
      (facts) => onFlow(judge.judge(facts)),
    );
  } finally {
    forgetPointTexts();
  }
  return judge.tail(analysis.correlation.warnings, extraWarnings);
}

/**
 * The rules over one flow at a time (a streaming caller hands it each flow's facts as the flow ends),
 * and what the document needs besides the flows once all are judged (`tail`).
 */
export class FlowJudge {
  private readonly ctx: EvaluateContext;
  private readonly setOfNode: (node: string | null) => string | null;
  private readonly kernelOf: (node: string | null) => KernelVersion | null;
  private readonly kernelText: (node: string | null) => string | null;
  private readonly claimedBy: VerdictNode['claimed_by'];
  /** per node, the datapaths its pods' packets showed (what nodes[].observed combines) */
  private readonly seenBy = new Map<string, Set<Datapath>>();

  constructor(
    private readonly topo: Topology,
    private readonly coverage: ReadonlyMap<string, PointCoverage>,
    private readonly clockOffsets: readonly ClockOffset[],
    rules: readonly Rule[],
    private readonly sel: RuleSelection,
  ) {
    const sets = new Map<string, Rule[]>();
    for (const r of rules) sets.set(r.set, [...(sets.get(r.set) ?? []), r]);
    const forced =
      sel.rulesDir !== undefined
        ? path.basename(path.resolve(sel.rulesDir))
        : sel.datapath !== undefined
          ? (DATAPATH_SETS[sel.datapath] ?? null)
          : null;
    this.claimedBy =
      sel.rulesDir !== undefined ? 'rules' : sel.datapath !== undefined ? 'datapath' : 'node_capabilities';
    const setOfNode = (node: string | null): string | null => {
      if (node === null) return null;
      if (forced !== null) return forced;
      const claim = topo.nodes.get(node)?.claimedDatapath ?? 'unknown';
      return CAPABILITY_SETS[claim] ?? null;
    };
    const override = sel.kernel !== undefined ? parseKernelVersion(sel.kernel) : null;
    const kernelText = (node: string | null): string | null =>
      sel.kernel ?? (node !== null ? (topo.nodes.get(node)?.kernel ?? null) : null);
    // asked for every hop of every flow: each node's kernel is parsed once
    const kernels = new Map<string | null, KernelVersion | null>();
    const kernelOf = (node: string | null): KernelVersion | null => {
      if (override !== null) return override;
      let k = kernels.get(node);
      if (k === undefined) {
        k = parseKernelVersion(kernelText(node));
        kernels.set(node, k);
      }
      return k;
    };
    this.setOfNode = setOfNode;
    this.kernelOf = kernelOf;
    this.kernelText = kernelText;
    const clock = new Map(clockOffsets.map((o) => [o.node, o]));
    // coverage windows are on each capture's own clock; sightings are clock-corrected (ts + offset_ns)
    const corrected = new Map<string, PointCoverage>();
    for (const [id, c] of coverage) {
      const node = topo.points.get(id)?.node ?? null;
      const off = BigInt(Math.round(node !== null ? (clock.get(node)?.offsetNs ?? 0) : 0));
      corrected.set(id, {
        ...c,
        startNs: c.startNs === null ? null : c.startNs + off,
        endNs: c.endNs === null ? null : c.endNs + off,
        windows: c.windows.map((w) => ({ ...w, startNs: w.startNs + off, endNs: w.endNs + off })),
      });
    }
    this.ctx = {
      topology: topo,
      coverage: corrected,
      sets,
      setOfNode,
      kernelOf,
      kernelText,
      clockErrorNs: (node) => {
        if (node === null) return null;
        const o = clock.get(node);
        // the reference node has no error; a node the clock pass never tied to it is unbounded
        return o ? (o.reference ? 0 : o.errorNs) : clock.size <= 1 ? 0 : null;
      },
    };
  }

  judge(facts: FlowFacts): EvaluatedFlow {
    const e = evaluateFlow(facts, this.ctx);
    if (e.key !== null && POD_DATAPATH_KEYS.has(e.key))
      for (const h of e.verdict.handled_by) {
        let seen = this.seenBy.get(h.node);
        if (seen === undefined) {
          seen = new Set();
          this.seenBy.set(h.node, seen);
        }
        seen.add(h.by);
      }
    return e;
  }

  /** The document's fields after the flows, once every flow is judged. */
  tail(correlationWarnings: readonly string[], extraWarnings: readonly Warning[]): VerdictsTail {
    const { topo, sel, coverage } = this;
    const { setOfNode, kernelOf, kernelText, claimedBy } = this;
    const warnings: Warning[] = [
      ...topo.warnings.map((w) => ({ code: w.code, message: w.message })),
      ...correlationWarnings.map((m) => ({ code: 'correlate.warning', message: m })),
      ...extraWarnings,
    ];
    const nodes: VerdictNode[] = [...topo.nodes.values()]
      .map((n) => n.name)
      .sort()
      .map((name) => {
        const seen = [...(this.seenBy.get(name) ?? [])];
        const set = setOfNode(name);
        return {
          node: name,
          kernel: kernelText(name),
          claimed: claimOfSet(set),
          observed: combineDatapath(seen),
          rule_set: set,
          claimed_by: set === null ? 'unknown' : claimedBy,
        };
      });
    if (sel.kernel !== undefined)
      warnings.push({
        code: 'verdicts.kernel-override',
        message: `--kernel ${sel.kernel}: every node is judged as running it (recorded: ${[...topo.nodes.values()].map((n) => `${n.name} ${n.kernel ?? 'unknown'}`).join(', ')})`,
      });
    for (const n of nodes) {
      const k = kernelOf(n.node);
      if (n.rule_set === null)
        warnings.push({
          code: 'verdicts.no-rule-set',
          message: `node ${n.node}: node_capabilities names no datapath with a rule set (${topo.nodes.get(n.node)?.claimedDatapath ?? 'unknown'}); its flows are not judged (pass --datapath or --rules)`,
        });
      if (k === null)
        warnings.push({
          code: 'verdicts.kernel-unknown',
          message: `node ${n.node}: kernel unknown (no os/uname); kernel-dependent hops are inconclusive (pass --kernel)`,
        });
      else if (k[0] < 5 || (k[0] === 5 && k[1] < 10))
        warnings.push({
          code: 'verdicts.legacy-kernel',
          message: `node ${n.node} runs kernel ${n.kernel} (< 5.10): DataPath V2 delivers with bpf_redirect instead of bpf_redirect_peer, so the destination veth's egress (cali…:out) is crossed and cannot be skipped, and ENI egress keeps the TTL (ctx_redirect)`,
        });
      if (n.observed !== 'unknown' && n.claimed !== 'unknown' && n.observed !== n.claimed)
        warnings.push({
          code: 'verdicts.datapath-differs',
          message: `node ${n.node} is judged as ${n.claimed} (${n.claimed_by}) but its pods' packets show ${n.observed}`,
        });
    }
    const lossUnknown = [...coverage.values()].filter((c) => c.drops === null).map((c) => c.point);
    if (lossUnknown.length > 0)
      warnings.push({
        code: 'verdicts.drops-unknown',
        message: `${lossUnknown.length} capture point(s) do not say whether they dropped packets (${lossUnknown.slice(0, 5).join(', ')}${lossUnknown.length > 5 ? ', …' : ''}); their silence is taken at face value`,
      });

    return {
      nodes,
      clock_offsets: this.clockOffsets.map((o) => ({
        node: o.node,
        offset_ns: o.offsetNs,
        error_ns: o.errorNs,
      })),
      captures: [...coverage.values()]
        .sort((a, b) => a.point.localeCompare(b.point))
        .map((c) => ({
          point: c.point,
          start_ns: c.startNs?.toString() ?? null,
          end_ns: c.endNs?.toString() ?? null,
          drops: c.drops,
          files: c.files,
        })),
      warnings,
    };
  }
}

/** Counts by status, for exit codes and summaries. */
export function statusCounts(doc: VerdictsDocument): Record<Status, number> & { unclassified: number } {
  const out = { pass: 0, fail: 0, inconclusive: 0, unclassified: 0 };
  for (const f of doc.flows) {
    out[f.status]++;
    if (f.scenario === null && f.rule_id === null) out.unclassified++;
  }
  return out;
}

export { Status };
