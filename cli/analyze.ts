/**
 * `hoptrace analyze <bundle> --out <dir>`: ingest, correlation, flows and rules end to end (DESIGN §8).
 * Writes `<dir>/dataset/` (packets, captures, the analyzers' tables, the `verdicts` table and
 * `report/{verdicts,topology,warnings}.json`), `<dir>/verdicts.json` (a hard link to the dataset's
 * copy), `<dir>/junit.xml` and `<dir>/report.html`, prints the
 * summary, and sets the exit code: 0 every check passed (inconclusive and unclassified flows reported;
 * `--strict` makes them 1), 1 a check failed, 2 a usage error or a container fault in a capture (records
 * before the fault are kept and analyzed; `--keep-going` turns faults into warnings).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { type StreamedAnalysis, streamAnalysis } from '../analyzers/analysis-from-bundle.ts';
import { coverageFromFrames } from '../analyzers/rules/flow-facts.ts';
import { formatProblem, parseKernelVersion } from '../analyzers/rules/load-rules.ts';
import { forgetPointTexts } from '../analyzers/rules/verdict-messages.ts';
import type { FlowVerdict } from '../analyzers/rules/verdict-types.ts';
import { VerdictsTableStage, writeReportInputs } from '../analyzers/rules/write-verdicts.ts';
import {
  DATAPATH_SETS,
  FlowJudge,
  loadRuleSets,
  type RuleSelection,
  VERDICTS_SCHEMA_VERSION,
  type VerdictsDocument,
  type Warning,
} from '../analyzers/verdicts.ts';
import { AnalysisStage } from '../analyzers/write-analysis.ts';
import { findBundles, planBundles } from '../ingest/dataset/bundle-tree.ts';
import { VERDICT_TEXTS_TABLE, VERDICTS_TABLE } from '../ingest/dataset/verdict-columns.ts';
import { writeViewsSql } from '../ingest/dataset/views.ts';
import {
  commitDir,
  type IngestProgress,
  Interrupted,
  ingestToDataset,
  sweepStale,
} from '../ingest/dataset/write-dataset.ts';
import {
  ANALYSIS_JSON,
  type AnalysisJsonHead,
  AnalysisJsonWriter,
  reportFromAnalysisDir,
} from '../reports/analysis-dir.ts';
import { fileSuiteParts, JunitWriter } from '../reports/junit.ts';
import {
  DEFAULT_LADDER_PACKETS,
  inputFlowOf,
  inputPointsOf,
  inputWarnings,
  ladderOf,
  reportInputHead,
} from '../reports/report-input.ts';
import { ReportFeed, type ReportModel } from '../reports/report-model.ts';
import { ReportVerdicts } from '../reports/report-verdicts.ts';
import { summaryText } from '../reports/summary.ts';
import { type TextFile, writeTextFile } from '../reports/text-file.ts';
import { VerdictsJsonWriter } from '../reports/verdicts-json.ts';
import { ExitCode } from './exit-codes.ts';
import { boundHeapGrowth } from './heap-growth.ts';
import { INTERRUPTED_EXIT, ProgressLine, progressWanted, withInterrupt } from './ingest.ts';
import { parseCount } from './parse-flags.ts';
import { UsageError } from './usage-error.ts';

export interface AnalyzeOptions extends RuleSelection {
  strict?: boolean;
  keepGoing?: boolean;
  /** ingest worker threads (write-dataset.ts); default one per core for large inputs */
  jobs?: number;
  onProgress?: (p: IngestProgress) => void;
  /** aborting stops the run; the output folder keeps what it had before (Interrupted is thrown) */
  signal?: AbortSignal;
  /** called as each stage ends, with its name (the benchmark times the stages with it) */
  onStage?: (stage: AnalyzeStage) => void;
}

export type AnalyzeStage =
  | 'ingest+analysis'
  | 'rules'
  | 'tables written'
  | 'verdicts written'
  | 'verdicts.json'
  | 'analysis.json'
  | 'junit.xml'
  | 'report.html';

export interface AnalyzeResult {
  /**
   * the verdicts with every flow's status, scenario, rule and datapath, but checks and paths only for
   * the flows the report details (every failing or inconclusive one, a sample of the others): the
   * whole document is verdicts.json
   */
  document: VerdictsDocument;
  exitCode: number;
  /** container faults, one line each */
  faults: string[];
  outputs: { verdicts: string; junit: string; dataset: string; report: string; html: string };
}

/** The exit code of DESIGN §8 for a finished analysis. */
export function exitCodeOf(doc: VerdictsDocument, faults: number, opts: AnalyzeOptions): number {
  if (faults > 0 && !opts.keepGoing) return ExitCode.input;
  if (doc.flows.some((f) => f.status === 'fail')) return ExitCode.failed;
  if (opts.strict && doc.flows.some((f) => f.status === 'inconclusive')) return ExitCode.failed;
  return ExitCode.ok;
}

/** The analyze stage over one bundle; throws UsageError for unusable rule sets, Interrupted when aborted. */
export async function analyzeBundle(
  bundle: string,
  outDir: string,
  opts: AnalyzeOptions = {},
): Promise<AnalyzeResult> {
  const rules = loadRuleSets(opts);
  if (rules.errors.length > 0)
    throw new UsageError(`rule files have errors:\n${rules.errors.map(formatProblem).join('\n')}`);
  if (rules.rules.length === 0) throw new UsageError('no rules loaded');
  await fs.mkdir(outDir, { recursive: true });
  const dataset = path.join(outDir, 'dataset');
  // everything is built under a staging name and moved into place complete (see commitOutputs)
  const stagingBase = path.join(outDir, '.staging');
  await sweepStale(stagingBase);
  await sweepStale(dataset);
  const stage = `${stagingBase}.partial-${process.pid}`;
  const done = (name: AnalyzeStage) => opts.onStage?.(name);
  const staged = path.join(stage, 'dataset');
  let result: Omit<AnalyzeResult, 'outputs'> & { model: ReportModel };
  let sinks: FlowSinks | undefined;
  let tables: AnalysisStage | undefined;
  let analysisRun: Promise<StreamedAnalysis> | undefined;
  const side = path.join(stage, SIDE);
  try {
    // each flow is judged as it ends, during the analysis, and goes to every output at once; the
    // outputs are written into a side folder until the ingest has put the staged dataset in place
    const out = await FlowSinks.open(stage, side);
    sinks = out;
    let judge: FlowJudge | undefined;
    boundHeapGrowth();
    // what the page shows: of every flow its counts and latencies, whole only those it may list
    let feed: ReportFeed | undefined;
    // analysis.json's members but the flows and warnings, known once the clocks are
    let analysisHead: AnalysisJsonHead | undefined;
    // ingest (worker threads for large inputs) and the analysis (which reads the captures itself, on
    // this thread) run at the same time; the ingest is awaited first, so a failed analysis never
    // removes the stage under a still-writing ingest
    const ingestRun = ingestToDataset([bundle], {
      outDir: staged,
      nice: INGEST_NICE,
      ...(opts.jobs ? { jobs: opts.jobs } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    const stopped = () => out.discarded || opts.signal?.aborted === true;
    analysisRun = streamAnalysis(
      bundle,
      {
        open: async (texts, sightingsOn) => {
          tables = await AnalysisStage.open(
            path.join(side, 'flow-tables'),
            path.join(side, 'sightings'),
            texts,
            sightingsOn ? { sightingsOn } : {},
          );
        },
        clock: ({ topology, coverage, clockOffsets }) => {
          // after a failure or Ctrl-C the sinks are gone (analysis.json's among them)
          if (stopped()) throw new Interrupted();
          judge = new FlowJudge(topology, coverageFromFrames(coverage), clockOffsets, rules.rules, opts);
          feed = new ReportFeed(inputPointsOf(topology), { analysisDir: outDir });
          // analysis.json's head goes ahead of its flows; the warnings, known last, after them
          const { warnings: _, ...head } = reportInputHead(
            { topology, clockOffsets, warnings: [], faults: [] },
            bundle,
            DEFAULT_LADDER_PACKETS,
          );
          analysisHead = head;
          out.analysisJson.head(head);
        },
        slab: (s, flowOf, packetBase) => {
          if (stopped()) throw new Interrupted();
          tables!.sightings(s, flowOf, packetBase);
        },
        flow: (flow, facts, ladder) => {
          // after a failure or Ctrl-C the sinks are gone: stop the analysis at its next flow or slab
          if (stopped()) throw new Interrupted();
          tables!.flow(flow);
          const v = judge!.judge(facts).verdict;
          out.add(v);
          // a ladder only for a flow the page may detail (analysis.json keeps no other)
          const detail = ladder !== null && feed!.wantsDetail(flow.id, v);
          const f = inputFlowOf(flow, detail ? ladderOf(ladder, flow.client, flow.firstNs) : []);
          out.analysisJson.flow(f);
          feed!.add(f, v);
        },
      },
      { ladderPackets: DEFAULT_LADDER_PACKETS },
    ).finally(forgetPointTexts);
    // (its failure is reported once the ingest is done; an interrupted ingest leaves it unheard)
    analysisRun.catch(() => undefined);
    const ingest = await ingestRun;
    const analysis = await analysisRun;
    stopIfAborted(opts.signal);
    done('ingest+analysis');
    const faults = [...new Set([...ingest.faults.map((f) => f.line()), ...analysis.faults])];
    const extra: Warning[] = faults.map((message) => ({ code: 'input.container-fault', message }));
    const tail = judge!.tail(analysis.warnings, extra);
    done('rules');
    // the tables' rows were written as the analysis made them: only their files' ends are left
    await tables!.finish(staged, analysis.clockOffsets);
    done('tables written');
    out.table.finish();
    done('verdicts written');
    out.verdictsJson.finish(tail);
    await fs.mkdir(path.join(staged, 'report'), { recursive: true });
    await fs.rename(path.join(side, DATASET_VERDICTS), path.join(staged, DATASET_VERDICTS));
    done('verdicts.json');
    const document: VerdictsDocument = {
      schema_version: VERDICTS_SCHEMA_VERSION,
      flows: out.report.flows(),
      ...tail,
    };
    await writeReportInputs(staged, document, analysis.topology);
    const warnings = inputWarnings(analysis);
    out.analysisJson.finish(warnings);
    await fs.rename(out.analysisJson.file, path.join(stage, ANALYSIS_JSON));
    done('analysis.json');
    out.finishJunit();
    const model = feed!.model({ ...analysisHead!, warnings }, document);
    for (const table of [VERDICTS_TABLE, VERDICT_TEXTS_TABLE])
      await fs.rename(path.join(side, table), path.join(staged, table));
    await writeViewsSql(staged);
    stopIfAborted(opts.signal);
    result = { document, exitCode: exitCodeOf(document, faults.length, opts), faults, model };
  } catch (e) {
    // the analysis stops at its next flow or slab once the sinks are gone; it writes into the stage,
    // so the stage goes only after it has stopped
    await sinks?.discard();
    await analysisRun?.catch(() => undefined);
    await tables?.discard();
    await fs.rm(stage, { recursive: true, force: true });
    throw e;
  }
  const outputs = {
    verdicts: path.join(outDir, 'verdicts.json'),
    junit: path.join(outDir, 'junit.xml'),
    dataset,
    report: path.join(dataset, 'report'),
  };
  // the old top-level files go first: a verdicts.json next to a newer dataset would not match it
  for (const f of [outputs.verdicts, outputs.junit, path.join(outDir, 'report.html')])
    await fs.rm(f, { force: true });
  await commitDir(staged, dataset);
  await fs.rename(path.join(stage, STAGED_JUNIT), outputs.junit);
  await fs.rm(stage, { recursive: true, force: true });
  // the dataset's copy and the top-level file are one file (tens of MB for a large bundle)
  await linkOrCopy(path.join(dataset, DATASET_VERDICTS), outputs.verdicts);
  done('junit.xml');
  const html = (await reportFromAnalysisDir(outDir, { model: result.model })).out;
  done('report.html');
  return {
    document: result.document,
    exitCode: result.exitCode,
    faults: result.faults,
    outputs: { ...outputs, html },
  };
}

/**
 * Nice steps the ingest's worker lanes run below the analysis: the ingest ends well before the analysis
 * (at 5 M frames, at 5-14 s of 26-38), so it can take the CPU the analysis leaves.
 */
const INGEST_NICE = 10;

/** The sinks' files until the staged dataset exists (the ingest renames its folder into place). */
const SIDE = 'side';
/** verdicts.json inside the dataset (with report/topology.json and warnings.json). */
const DATASET_VERDICTS = path.join('report', 'verdicts.json');
/** junit.xml and its suites' parts in the staging folder, until the dataset is in place */
const STAGED_JUNIT = 'junit.xml';
const STAGED_JUNIT_PARTS = 'junit-suites';

/** Where each flow's verdict goes as it is judged: nothing but the report's part of it stays in memory (exported for tests). */
export class FlowSinks {
  readonly report = new ReportVerdicts();

  private constructor(
    private readonly stage: string,
    readonly verdictsJson: VerdictsJsonWriter,
    readonly table: VerdictsTableStage,
    private readonly junit: JunitWriter<TextFile, TextFile>,
    readonly analysisJson: AnalysisJsonWriter,
  ) {}

  /** set once discarded: nothing may be added any more */
  discarded = false;

  static async open(stage: string, dataset: string): Promise<FlowSinks> {
    const table = await VerdictsTableStage.open(dataset);
    try {
      return new FlowSinks(
        stage,
        new VerdictsJsonWriter(path.join(dataset, DATASET_VERDICTS)),
        table,
        new JunitWriter(fileSuiteParts(path.join(stage, STAGED_JUNIT_PARTS))),
        new AnalysisJsonWriter(path.join(dataset, path.basename(ANALYSIS_JSON))),
      );
    } catch (e) {
      // the caller has no sinks to discard: the file would stay open (and the stage be removed under it)
      table.discard();
      throw e;
    }
  }

  add(f: FlowVerdict): void {
    this.verdictsJson.flow(f);
    this.table.add(f);
    this.junit.flow(f);
    this.report.add(f);
  }

  finishJunit(): void {
    writeTextFile(path.join(this.stage, STAGED_JUNIT), (out) => this.junit.finish(out));
  }

  /** After a failure (the staging folder, with every part, is removed by the caller). */
  async discard(): Promise<void> {
    this.discarded = true;
    this.verdictsJson.discard();
    this.junit.discard();
    this.analysisJson.discard();
    this.table.discard();
  }
}

async function linkOrCopy(from: string, to: string): Promise<void> {
  try {
    await fs.link(from, to);
  } catch {
    // a file system without hard links
    await fs.copyFile(from, to);
  }
}

function stopIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new Interrupted();
}

export interface BatchEntry {
  /** bundle label (bundle-tree.ts): its path in the tree */
  bundle: string;
  out: string;
  exit_code: number;
  flows: number;
  pass: number;
  fail: number;
  inconclusive: number;
  faults: string[];
  /** why the bundle could not be analyzed at all (an internal error), else null */
  error: string | null;
}

/** The worst exit code wins: 2 (input fault or a bundle not analyzed) > 1 (a check failed) > 0. */
export function batchExitCode(entries: readonly BatchEntry[]): number {
  return entries.reduce<number>((worst, e) => Math.max(worst, e.exit_code), ExitCode.ok);
}

/**
 * A tree of bundles: each bundle analyzed on its own (topology, clocks and flows are per capture
 * session) into `<out>/<label>/`, one after the other (each already uses the cores through --jobs), and
 * `<out>/batch.json` listing them. A bundle that cannot be analyzed is reported and the rest go on.
 */
export async function analyzeTree(
  bundles: readonly { dir: string; label: string }[],
  outDir: string,
  opts: AnalyzeOptions & { onBundle?: (label: string, i: number) => void } = {},
): Promise<{ entries: BatchEntry[]; exitCode: number; index: string }> {
  const entries: BatchEntry[] = [];
  for (const [i, b] of bundles.entries()) {
    opts.onBundle?.(b.label, i);
    const out = path.join(outDir, ...b.label.split('/'));
    try {
      const r = await analyzeBundle(b.dir, out, opts);
      const count = (s: string) => r.document.flows.filter((f) => f.status === s).length;
      entries.push({
        bundle: b.label,
        out: path.relative(outDir, out).split(path.sep).join('/'),
        exit_code: r.exitCode,
        flows: r.document.flows.length,
        pass: count('pass'),
        fail: count('fail'),
        inconclusive: count('inconclusive'),
        faults: r.faults,
        error: null,
      });
    } catch (e) {
      // rule-set errors and interrupts concern every bundle: stop the batch
      if (e instanceof UsageError || e instanceof Interrupted) throw e;
      entries.push({
        bundle: b.label,
        out: path.relative(outDir, out).split(path.sep).join('/'),
        exit_code: ExitCode.input,
        flows: 0,
        pass: 0,
        fail: 0,
        inconclusive: 0,
        faults: [],
        error: e instanceof Error ? e.message : String(e),
      });
    }
  }
  const index = path.join(outDir, 'batch.json');
  const exitCode = batchExitCode(entries);
  await fs.writeFile(
    `${index}.tmp`,
    `${JSON.stringify({ exit_code: exitCode, bundles: entries }, null, 2)}\n`,
  );
  await fs.rename(`${index}.tmp`, index);
  return { entries, exitCode, index };
}

/** The batch table printed after a tree: one line per bundle. */
export function batchText(entries: readonly BatchEntry[]): string {
  const width = Math.max(6, ...entries.map((e) => e.bundle.length));
  const head = `${'bundle'.padEnd(width)}  exit  flows  pass  fail  inconclusive  faults\n`;
  const rows = entries.map(
    (e) =>
      `${e.bundle.padEnd(width)}  ${String(e.exit_code).padStart(4)}  ${String(e.flows).padStart(5)}  ` +
      `${String(e.pass).padStart(4)}  ${String(e.fail).padStart(4)}  ${String(e.inconclusive).padStart(12)}  ` +
      `${e.error ? `not analyzed: ${e.error}` : String(e.faults.length).padStart(6)}\n`,
  );
  return head + rows.join('');
}

function kernelFlag(value: string): string {
  if (parseKernelVersion(value) === null)
    throw new InvalidArgumentError('expected a kernel version like 5.10 or 4.19.91');
  return value;
}

type AnalyzeFlags = AnalyzeOptions & { out: string; rules?: string; quiet?: boolean };

export const analyzeCommand = new Command('analyze')
  .description(
    'analyze a capture bundle, or every bundle of a tree: paths, rewrites and rule verdicts (verdicts.json, junit.xml, dataset)',
  )
  .argument(
    '<bundle>',
    'capture bundle folder (bundle.json, nodes/, pods/, k8s/), or a folder of bundles at any depth',
  )
  .requiredOption('-o, --out <dir>', 'output folder (a tree: one sub-folder per bundle, and batch.json)')
  .option('--rules <folder>', 'judge every node with this rule set folder')
  .addOption(
    new Option('--datapath <datapath>', 'judge every node as running this datapath').choices(
      Object.keys(DATAPATH_SETS),
    ),
  )
  .option('--kernel <version>', 'use this kernel for every node instead of the recorded one', kernelFlag)
  .option(
    '-j, --jobs <n>',
    'worker threads reading capture files (default: one per core for large inputs)',
    parseCount,
  )
  .option('--strict', 'exit 1 when a flow is inconclusive or unclassified')
  .option('--keep-going', 'report container faults in captures as warnings instead of exiting 2')
  .option('-q, --quiet', 'print only the output locations')
  .action(async (bundle: string, opts: AnalyzeFlags) => {
    const roots = await findBundles(bundle);
    if (roots.length === 0)
      throw new UsageError(`${bundle}: no capture bundle (bundle.json) in this folder or below`);
    const line = new ProgressLine(progressWanted(opts.quiet), 'analyze');
    const base = { ...opts, rulesDir: opts.rules, onProgress: line.update };
    try {
      await withInterrupt(async (signal) => {
        if (roots.length === 1 && roots[0] === path.resolve(bundle)) {
          const r = await analyzeBundle(bundle, opts.out, { ...base, signal });
          line.clear();
          for (const f of r.faults) process.stderr.write(`hoptrace: ${f}\n`);
          if (!opts.quiet) process.stdout.write(summaryText(r.document));
          process.stdout.write(
            `\nreport:   ${r.outputs.html}\nverdicts: ${r.outputs.verdicts}\njunit:    ${r.outputs.junit}\ndataset:  ${r.outputs.dataset}\n`,
          );
          process.exitCode = r.exitCode;
          return;
        }
        const bundles = planBundles(bundle, roots);
        const r = await analyzeTree(bundles, opts.out, {
          ...base,
          signal,
          onBundle: (label, i) => {
            line.clear();
            if (!opts.quiet) process.stderr.write(`analyze ${i + 1}/${bundles.length}: ${label}\n`);
          },
        });
        line.clear();
        for (const e of r.entries)
          for (const f of e.faults) process.stderr.write(`hoptrace: ${e.bundle}: ${f}\n`);
        process.stdout.write(`${batchText(r.entries)}\nbatch:    ${r.index}\n`);
        process.exitCode = r.exitCode;
      });
    } catch (e) {
      line.clear();
      if (!(e instanceof Interrupted)) throw e;
      process.stderr.write(`hoptrace: interrupted; ${opts.out} keeps the outputs of earlier runs\n`);
      process.exitCode = INTERRUPTED_EXIT;
    }
  });
