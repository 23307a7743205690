/**
 * The analysis folder the report is rebuilt from (DESIGN §8: `hoptrace analyze <bundle> --out <dir>`):
 *
 *   <dir>/dataset/               ingest's packets + captures, the analyzers' tables (Parquet)
 *   <dir>/dataset/analysis.json  what the report needs beyond the tables (report-input.ts)
 *   <dir>/verdicts.json          the evaluator's verdicts (DESIGN §8), when the rules have run
 *   <dir>/report.html            the page
 *
 * `analysisDirFromBundle` is the stage that writes the first two until `hoptrace analyze` exists (it
 * runs no rules); `reportFromAnalysisDir` is what `hoptrace report` runs. The page is written
 * atomically (temporary file, then rename) so a browser never opens half a report.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { analysisFromBundle } from '../analyzers/analysis-from-bundle.ts';
import { writeAnalysisTables } from '../analyzers/write-analysis.ts';
import { UsageError } from '../cli/usage-error.ts';
import { ingestToDataset } from '../ingest/dataset/write-dataset.ts';
import { renderReportHtml } from './html/page.ts';
import { normalizeVerdicts, type Verdicts } from './read-verdicts.ts';
import {
  REPORT_INPUT_VERSION,
  type ReportInput,
  type ReportInputOptions,
  reportInputFromAnalysis,
} from './report-input.ts';
import { type ReportModelOptions, reportModel } from './report-model.ts';
import { writeTextFile } from './text-file.ts';

export const ANALYSIS_JSON = path.join('dataset', 'analysis.json');
export const VERDICTS_JSON = 'verdicts.json';
export const REPORT_HTML = 'report.html';

export interface AnalysisDirSummary {
  outDir: string;
  flows: number;
  packets: number;
}

/** bundle -> `<outDir>/dataset/` (packets, captures, sightings, flows, flow_hops, clock_offsets, analysis.json). */
export async function analysisDirFromBundle(
  bundleDir: string,
  outDir: string,
  opts: ReportInputOptions = {},
): Promise<AnalysisDirSummary> {
  const dataset = path.join(outDir, 'dataset');
  const ingest = await ingestToDataset([bundleDir], { outDir: dataset });
  const analysis = await analysisFromBundle(bundleDir);
  await writeAnalysisTables(dataset, analysis.tables);
  const flows = (await writeAnalysisJson(outDir, analysis, bundleDir, opts)).flows.length;
  return { outDir, flows, packets: ingest.packets };
}

/** What `hoptrace report` rebuilds the page from; returns the number of flows. */
export async function writeAnalysisJson(
  outDir: string,
  analysis: Parameters<typeof reportInputFromAnalysis>[0],
  bundleDir: string,
  opts: ReportInputOptions = {},
): Promise<ReportInput> {
  const input = reportInputFromAnalysis(analysis, bundleDir, opts);
  // flow by flow: the whole text of a large analysis is never one string
  const { flows, ...head } = input;
  writeTextFile(path.join(outDir, ANALYSIS_JSON), (out) => {
    const text = JSON.stringify(head);
    out.write(`${text.slice(0, -1)}${text.length > 2 ? ',' : ''}"flows":[`);
    for (let i = 0; i < flows.length; i++) out.write(`${i > 0 ? ',' : ''}${JSON.stringify(flows[i])}`);
    out.write(']}');
  });
  return input;
}

async function readJson(file: string): Promise<unknown | null> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch {
    return null;
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${file}: not JSON (${(err as Error).message})`);
  }
}

export async function readAnalysisDir(
  dir: string,
): Promise<{ input: ReportInput; verdicts: Verdicts | null }> {
  const file = path.join(dir, ANALYSIS_JSON);
  const data = await readJson(file);
  if (data === null) throw new UsageError(`${dir}: not an analysis folder (no ${ANALYSIS_JSON})`);
  const input = data as ReportInput;
  if (input.schema_version !== REPORT_INPUT_VERSION || !Array.isArray(input.flows))
    throw new UsageError(
      `${file}: schema_version ${String(input.schema_version)}, expected ${REPORT_INPUT_VERSION}`,
    );
  return { input, verdicts: await readVerdictsFile(dir) };
}

async function readVerdictsFile(dir: string): Promise<Verdicts | null> {
  const verdicts = await readJson(path.join(dir, VERDICTS_JSON));
  return verdicts === null ? null : normalizeVerdicts(verdicts);
}

export interface ReportSummary {
  out: string;
  flows: number;
  detailed: number;
  evaluated: boolean;
  failing: number;
  bytes: number;
}

/** `hoptrace report`: analysis folder -> one HTML file (default `<dir>/report.html`). */
export async function reportFromAnalysisDir(
  dir: string,
  opts: ReportModelOptions & { out?: string; input?: ReportInput; verdicts?: Verdicts } = {},
): Promise<ReportSummary> {
  // analyze hands over the input and the verdicts it just wrote: parsing those files again costs
  // seconds on large bundles (and what it wrote needs no defensive reading)
  const { input, verdicts } = opts.input
    ? { input: opts.input, verdicts: opts.verdicts ?? (await readVerdictsFile(dir)) }
    : await readAnalysisDir(dir);
  const model = reportModel(input, verdicts, { analysisDir: dir, ...opts });
  const page = renderReportHtml(model);
  const out = opts.out ?? path.join(dir, REPORT_HTML);
  writeTextFile(out, (o) => o.write(page));
  return {
    out,
    flows: model.flows.length,
    detailed: model.details.length,
    evaluated: model.evaluated,
    failing: model.sampling.failing,
    bytes: Buffer.byteLength(page),
  };
}
