/**
 * `hoptrace analyze <bundle> --out <dir>`: ingest, correlation, flows and rules end to end (DESIGN §8).
 * Writes `<dir>/dataset/` (packets, captures, the analyzers' tables, the `verdicts` table and
 * `report/{verdicts,topology,warnings}.json`), `<dir>/verdicts.json` and `<dir>/junit.xml`, prints the
 * summary, and sets the exit code: 0 every check passed (inconclusive and unclassified flows reported;
 * `--strict` makes them 1), 1 a check failed, 2 a usage error or a container fault in a capture (records
 * before the fault are kept and analyzed; `--keep-going` turns faults into warnings).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { formatProblem, parseKernelVersion } from '../analyzers/rules/load-rules.ts';
import { writeReportInputs, writeVerdictsTable } from '../analyzers/rules/write-verdicts.ts';
import {
  analysisWithCoverage,
  DATAPATH_SETS,
  loadRuleSets,
  type RuleSelection,
  type VerdictsDocument,
  verdictsFromFlows,
  type Warning,
} from '../analyzers/verdicts.ts';
import { writeAnalysisTables } from '../analyzers/write-analysis.ts';
import { ingestToDataset } from '../ingest/dataset/write-dataset.ts';
import { reportFromAnalysisDir, writeAnalysisJson } from '../reports/analysis-dir.ts';
import { junitXml } from '../reports/junit.ts';
import { summaryText } from '../reports/summary.ts';
import { writeVerdictsJson } from '../reports/verdicts-json.ts';
import { ExitCode } from './exit-codes.ts';
import { UsageError } from './usage-error.ts';

export interface AnalyzeOptions extends RuleSelection {
  strict?: boolean;
  keepGoing?: boolean;
}

export interface AnalyzeResult {
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

/** The analyze stage over one bundle; throws UsageError for unusable rule sets. */
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
  const ingest = await ingestToDataset([bundle], { outDir: dataset });
  const input = await analysisWithCoverage(bundle);
  await writeAnalysisTables(dataset, input.analysis.tables);
  const faults = [...new Set([...ingest.faults.map((f) => f.line()), ...input.analysis.faults])];
  const extra: Warning[] = faults.map((message) => ({ code: 'input.container-fault', message }));
  const { document } = verdictsFromFlows(input, rules.rules, opts, extra);
  const outputs = {
    verdicts: path.join(outDir, 'verdicts.json'),
    junit: path.join(outDir, 'junit.xml'),
    dataset,
    report: await writeReportInputs(dataset, document, input.analysis.topology),
  };
  await writeVerdictsJson(outputs.verdicts, document);
  await fs.writeFile(outputs.junit, junitXml(document));
  await writeVerdictsTable(dataset, document);
  await writeAnalysisJson(outDir, input.analysis, bundle);
  const html = (await reportFromAnalysisDir(outDir)).out;
  return {
    document,
    exitCode: exitCodeOf(document, faults.length, opts),
    faults,
    outputs: { ...outputs, html },
  };
}

function kernelFlag(value: string): string {
  if (parseKernelVersion(value) === null)
    throw new InvalidArgumentError('expected a kernel version like 5.10 or 4.19.91');
  return value;
}

export const analyzeCommand = new Command('analyze')
  .description(
    'analyze a capture bundle: paths, rewrites and rule verdicts (verdicts.json, junit.xml, dataset)',
  )
  .argument('<bundle>', 'capture bundle folder (bundle.json, nodes/, pods/, k8s/)')
  .requiredOption('-o, --out <dir>', 'output folder')
  .option('--rules <folder>', 'judge every node with this rule set folder')
  .addOption(
    new Option('--datapath <datapath>', 'judge every node as running this datapath').choices(
      Object.keys(DATAPATH_SETS),
    ),
  )
  .option('--kernel <version>', 'use this kernel for every node instead of the recorded one', kernelFlag)
  .option('--strict', 'exit 1 when a flow is inconclusive or unclassified')
  .option('--keep-going', 'report container faults in captures as warnings instead of exiting 2')
  .option('-q, --quiet', 'print only the output locations')
  .action(async (bundle: string, opts: AnalyzeOptions & { out: string; rules?: string; quiet?: boolean }) => {
    const r = await analyzeBundle(bundle, opts.out, { ...opts, rulesDir: opts.rules });
    for (const f of r.faults) process.stderr.write(`hoptrace: ${f}\n`);
    if (!opts.quiet) process.stdout.write(summaryText(r.document));
    process.stdout.write(
      `\nreport:   ${r.outputs.html}\nverdicts: ${r.outputs.verdicts}\njunit:    ${r.outputs.junit}\ndataset:  ${r.outputs.dataset}\n`,
    );
    process.exitCode = r.exitCode;
  });
