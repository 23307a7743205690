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
import fsp from 'node:fs/promises';
import path from 'node:path';
import { analysisFromBundle } from '../analyzers/analysis-from-bundle.ts';
import { writeAnalysisTables } from '../analyzers/write-analysis.ts';
import { UsageError } from '../cli/usage-error.ts';
import { ingestToDataset } from '../ingest/dataset/write-dataset.ts';
import { ByteFile, utf8 } from './byte-file.ts';
import { renderReportHtml } from './html/page.ts';
import { InputFlowBytes } from './input-flow-bytes.ts';
import { JsonFlows } from './json-flows.ts';
import { normalizeVerdictFlow, normalizeVerdicts, type VerdictFlow, type Verdicts } from './read-verdicts.ts';
import {
  type InputFlow,
  REPORT_INPUT_VERSION,
  type ReportInput,
  type ReportInputOptions,
  reportInputFromAnalysis,
} from './report-input.ts';
import { ReportFeed, type ReportModel, type ReportModelOptions, reportModel } from './report-model.ts';
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
async function writeAnalysisJson(
  outDir: string,
  analysis: Parameters<typeof reportInputFromAnalysis>[0],
  bundleDir: string,
  opts: ReportInputOptions = {},
): Promise<ReportInput> {
  const input = reportInputFromAnalysis(analysis, bundleDir, opts);
  const { flows, warnings, ...head } = input;
  const json = new AnalysisJsonWriter(path.join(outDir, ANALYSIS_JSON));
  try {
    json.head(head);
    for (const f of flows) json.flow(f);
    json.finish(warnings);
  } catch (e) {
    json.discard();
    throw e;
  }
  return input;
}

/** What analysis.json holds ahead of its flows: all but the warnings, which an analysis knows last. */
export type AnalysisJsonHead = Omit<ReportInput, 'flows' | 'warnings'>;

/**
 * analysis.json written flow by flow as the flows end (the whole text of a large analysis is never one
 * string, nor are its flows held): the head, known once the clocks are (before the first flow), then
 * the flows, then the warnings, into one file that gets its name when complete. (The head was written
 * last, in front of a part file holding the flows: at 20 M frames that copy of 1 GB took 2.5 s after
 * the analysis.)
 */
export class AnalysisJsonWriter {
  private readonly out: ByteFile;
  private readonly bytes = new InputFlowBytes();
  private flows = 0;
  private headed = false;

  constructor(readonly file: string) {
    this.out = new ByteFile(file);
  }

  /** The members ahead of the flows; once, before the first flow. */
  head(head: AnalysisJsonHead): void {
    if (this.headed) throw new Error(`${this.file}: the head written twice`);
    this.headed = true;
    const text = JSON.stringify(head);
    this.out.text(`${text.slice(0, -1)}${text.length > 2 ? ',' : ''}"flows":[`);
  }

  /** The flow as `JSON.stringify(f)` writes it. */
  flow(f: InputFlow): void {
    if (!this.headed) throw new Error(`${this.file}: a flow before the head`);
    if (this.flows++ > 0) this.out.bytes(COMMA);
    this.bytes.write(this.out, f);
  }

  /** The members after the flows, and the file gets its name. */
  finish(warnings: ReportInput['warnings']): void {
    if (!this.headed) throw new Error(`${this.file}: finished without a head`);
    this.out.text(`],"warnings":${JSON.stringify(warnings)}}`);
    this.out.commit();
  }

  /** After a failure: nothing is left behind. */
  discard(): void {
    this.out.discard();
  }
}

const COMMA = utf8(',');

/** The parsed file, or null when it does not exist. */
async function readJson(file: string): Promise<unknown | null> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    // (a file past V8's longest string among them: never read as "no verdicts")
    throw new UsageError(`${file}: cannot be read whole (${(err as Error).message})`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${file}: not JSON (${(err as Error).message})`);
  }
}

/** The analysis folder's files held whole: only for one whose verdicts do not follow its flows' order. */
export async function readAnalysisDir(
  dir: string,
): Promise<{ input: ReportInput; verdicts: Verdicts | null }> {
  const file = path.join(dir, ANALYSIS_JSON);
  const data = await readJson(file);
  if (data === null) throw new UsageError(`${dir}: not an analysis folder (no ${ANALYSIS_JSON})`);
  const input = data as ReportInput;
  checkInputVersion(file, input);
  const verdicts = await readJson(path.join(dir, VERDICTS_JSON));
  return { input, verdicts: verdicts === null ? null : normalizeVerdicts(verdicts) };
}

function checkInputVersion(file: string, head: Partial<ReportInput>): void {
  if (head.schema_version !== REPORT_INPUT_VERSION || !Array.isArray(head.flows))
    throw new UsageError(
      `${file}: schema_version ${String(head.schema_version)}, expected ${REPORT_INPUT_VERSION}`,
    );
}

/** `JsonFlows` of the file, or null when it does not exist. */
async function openFlows(file: string): Promise<JsonFlows | null> {
  try {
    return await JsonFlows.open(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** What `eachFlowOfAnalysisDir` hands on as it reads. */
interface FlowReader {
  /** the head of analysis.json (its members ahead of the flows), before the first flow */
  head(input: AnalysisJsonHead): void;
  /** each flow with its verdict; false stops the reading there */
  flow(flow: InputFlow, verdict: VerdictFlow | null): boolean;
  /** each verdict after the last flow (of no flow of analysis.json) */
  extra(verdict: VerdictFlow): void;
}

/**
 * An analysis folder's analysis.json and verdicts.json read side by side, flow by flow: either can be
 * larger than one string can hold (verdicts.json of 5 M frames is 1 GB). `hoptrace analyze` writes a
 * flow's verdict and its input together, so the two list flows in one order. Resolves to every member
 * of analysis.json but its flows (its warnings follow the flows) and verdicts.json's tail (both null when
 * the reader stopped), or null when the verdicts
 * follow another order (a verdicts.json written elsewhere): the caller then matches them whole.
 */
async function eachFlowOfAnalysisDir(
  dir: string,
  read: FlowReader,
): Promise<{ input: Omit<ReportInput, 'flows'> | null; verdicts: Verdicts | null } | null> {
  const file = path.join(dir, ANALYSIS_JSON);
  const input = await openFlows(file);
  if (input === null) throw new UsageError(`${dir}: not an analysis folder (no ${ANALYSIS_JSON})`);
  let verdicts: JsonFlows | null = null;
  try {
    checkInputVersion(file, input.before);
    const { flows: _, ...head } = input.before as unknown as ReportInput;
    read.head(head);
    verdicts = await openFlows(path.join(dir, VERDICTS_JSON));
    for (
      let f = (await input.next()) as InputFlow | null;
      f !== null;
      f = (await input.next()) as InputFlow | null
    ) {
      const v = verdicts ? normalizeVerdictFlow(await verdicts.next()) : null;
      if (verdicts && v?.flow_id !== f.id) return null;
      // stopped: the rest of either file is not read (nor analysis.json's warnings, which follow its flows)
      if (!read.flow(f, v)) return { input: null, verdicts: null };
    }
    const { flows: __, ...rest } = (await input.rest()) as unknown as ReportInput;
    let tail: Verdicts | null = null;
    if (verdicts) {
      for (let v = await verdicts.next(); v !== null; v = await verdicts.next()) {
        const n = normalizeVerdictFlow(v);
        if (n) read.extra(n);
      }
      tail = normalizeVerdicts(await verdicts.rest());
    }
    return { input: rest, verdicts: tail };
  } finally {
    await input.close();
    await verdicts?.close();
  }
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
  const model = opts.model ?? (await modelOfAnalysisDir(dir, opts));
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

/** The page's model, the flows read one by one (see `eachFlowOfAnalysisDir`). */
async function modelOfAnalysisDir(dir: string, opts: ReportModelOptions): Promise<ReportModel> {
  let feed: ReportFeed | undefined;
  const read = await eachFlowOfAnalysisDir(dir, {
    head: (head) => {
      feed = new ReportFeed(head.points, { analysisDir: dir, ...opts });
    },
    flow: (flow, verdict) => {
      feed!.add(flow, verdict);
      return true;
    },
    // verdicts of no flow here still name points and count towards the coverage gaps
    extra: (verdict) => feed!.note(verdict),
  });
  if (read === null) {
    const { input, verdicts } = await readAnalysisDir(dir);
    return reportModel(input, verdicts, { analysisDir: dir, ...opts });
  }
  // (this reader never stops: every member was read)
  return feed!.model(read.input!, read.verdicts);
}

/**
 * One flow of an analysis folder and its verdict (`hoptrace export`), the files read flow by flow up to
 * it; else the number of flows and their id range.
 */
export async function flowOfAnalysisDir(
  dir: string,
  id: number,
): Promise<{
  input: AnalysisJsonHead | null;
  flow: InputFlow | null;
  verdict: VerdictFlow | null;
  flows: number;
  low: number;
  high: number;
}> {
  const out = {
    input: null as AnalysisJsonHead | null,
    flow: null as InputFlow | null,
    verdict: null as VerdictFlow | null,
    flows: 0,
    low: Number.POSITIVE_INFINITY,
    high: Number.NEGATIVE_INFINITY,
  };
  const take = (f: InputFlow): boolean => {
    out.flows++;
    out.low = Math.min(out.low, f.id);
    out.high = Math.max(out.high, f.id);
    if (f.id !== id) return true;
    out.flow = f;
    return false;
  };
  const read = await eachFlowOfAnalysisDir(dir, {
    head: (head) => {
      out.input = head;
    },
    flow: (f, v) => {
      out.verdict = v;
      return take(f);
    },
    extra: () => undefined,
  });
  if (read === null) {
    // verdicts in another order: matched whole, the flow's looked up once
    const { input, verdicts } = await readAnalysisDir(dir);
    Object.assign(out, { input, flows: 0, low: Number.POSITIVE_INFINITY, high: Number.NEGATIVE_INFINITY });
    for (const f of input.flows) if (!take(f)) break;
    out.verdict = out.flow === null ? null : (verdicts?.flows.find((v) => v.flow_id === id) ?? null);
  }
  if (out.flow === null) out.verdict = null;
  return out;
}
