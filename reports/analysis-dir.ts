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
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { analysisFromBundle } from '../analyzers/analysis-from-bundle.ts';
import { writeAnalysisTables } from '../analyzers/write-analysis.ts';
import { UsageError } from '../cli/usage-error.ts';
import { ingestToDataset } from '../ingest/dataset/write-dataset.ts';
import { renderReportHtml } from './html/page.ts';
import { normalizeVerdicts, type Verdicts } from './read-verdicts.ts';
import {
  type InputFlow,
  REPORT_INPUT_VERSION,
  type ReportInput,
  type ReportInputOptions,
  reportInputFromAnalysis,
} from './report-input.ts';
import { type ReportModel, type ReportModelOptions, reportModel } from './report-model.ts';
import { TextFile, writeTextFile } from './text-file.ts';

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
async function writeAnalysisJson(
  outDir: string,
  analysis: Parameters<typeof reportInputFromAnalysis>[0],
  bundleDir: string,
  opts: ReportInputOptions = {},
): Promise<ReportInput> {
  const input = reportInputFromAnalysis(analysis, bundleDir, opts);
  const { flows, ...head } = input;
  const json = new AnalysisJsonWriter(path.join(outDir, `${ANALYSIS_JSON}.flows`));
  for (const f of flows) json.flow(f);
  json.finish(path.join(outDir, ANALYSIS_JSON), head);
  return input;
}

/**
 * analysis.json written flow by flow as the flows end (the whole text of a large analysis is never one
 * string, nor are its flows held): the flows go into a part file beside it, and `finish` writes the
 * head, known last (clock offsets, warnings), then the part.
 */
export class AnalysisJsonWriter {
  private readonly part: TextFile;
  private flows = 0;

  constructor(private readonly partFile: string) {
    this.part = new TextFile(partFile);
  }

  flow(f: InputFlow): void {
    this.part.write(`${this.flows++ > 0 ? ',' : ''}${JSON.stringify(f)}`);
  }

  /** Writes `file` whole (moved into place once complete) and removes the part. */
  finish(file: string, head: Omit<ReportInput, 'flows'>): void {
    this.part.commit();
    try {
      writeTextFile(file, (out) => {
        const text = JSON.stringify(head);
        out.write(`${text.slice(0, -1)}${text.length > 2 ? ',' : ''}"flows":[`);
        out.append(this.partFile);
        out.write(']}');
      });
    } finally {
      fs.rmSync(this.partFile, { force: true });
    }
  }

  /** After a failure: nothing is left behind. */
  discard(): void {
    this.part.discard();
    fs.rmSync(this.partFile, { force: true });
  }
}

async function readJson(file: string): Promise<unknown | null> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
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
  opts: ReportModelOptions & { out?: string; model?: ReportModel } = {},
): Promise<ReportSummary> {
  // analyze hands over the model it gathered as flows ended: parsing what it wrote again costs seconds
  // on large bundles and holds every flow
  let model = opts.model;
  if (model === undefined) {
    const { input, verdicts } = await readAnalysisDir(dir);
    model = reportModel(input, verdicts, { analysisDir: dir, ...opts });
  }
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
