/**
 * `hoptrace ingest`: files, bundles or trees of bundles -> a dataset. Also the batch plumbing that
 * `hoptrace analyze` shares: the progress line, Ctrl-C handling and the per-file fault summary.
 */
import { Command } from 'commander';
import { type IngestProgress, Interrupted, ingestToDataset } from '../ingest/dataset/write-dataset.ts';
import type { InputError } from '../ingest/errors.ts';
import { ExitCode } from './exit-codes.ts';
import { parseCount } from './parse-flags.ts';

/** 128 + SIGINT, as shells report it (collect uses the same). */
export const INTERRUPTED_EXIT = 130;

/** A progress line only for a person watching: a terminal, not CI, not --quiet. */
export function progressWanted(
  quiet: boolean | undefined,
  isTTY: boolean | undefined = process.stderr.isTTY,
  env: NodeJS.ProcessEnv = process.env,
): boolean {
  const ci = env['CI'] !== undefined && env['CI'] !== '' && env['CI'] !== 'false' && env['CI'] !== '0';
  return quiet !== true && isTTY === true && !ci;
}

function bytesText(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  return `${(n / 1e3).toFixed(0)} kB`;
}

function durationText(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (v: number) => String(v).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

/** One progress line: files, bytes, packets/s, ETA (from the byte rate so far). */
export function progressText(p: IngestProgress, label = 'ingest'): string {
  const seconds = p.elapsedMs / 1000;
  const pps = seconds > 0 ? p.packets / seconds : 0;
  const rate = seconds > 0 ? p.bytesDone / seconds : 0;
  const eta = rate > 0 ? (p.bytesTotal - p.bytesDone) / rate : Number.NaN;
  return (
    `${label}: ${p.filesDone}/${p.filesTotal} files  ${bytesText(p.bytesDone)}/${bytesText(p.bytesTotal)}  ` +
    `${(pps / 1e6).toFixed(2)} M packets/s  ETA ${durationText(eta)}  (${p.jobs} job${p.jobs === 1 ? '' : 's'})`
  );
}

/** Redraws one stderr line at most 5 times a second; `clear()` before printing anything else. */
export class ProgressLine {
  private last = 0;
  private shown = false;

  constructor(
    private readonly enabled: boolean,
    private readonly label = 'ingest',
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {}

  readonly update = (p: IngestProgress): void => {
    if (!this.enabled) return;
    const now = performance.now();
    if (now - this.last < 200 && p.filesDone < p.filesTotal) return;
    this.last = now;
    const width = this.out.columns ? this.out.columns - 1 : 120;
    this.out.write(`\r\x1b[K${progressText(p, this.label).slice(0, width)}`);
    this.shown = true;
  };

  clear(): void {
    if (this.shown) this.out.write('\r\x1b[K');
    this.shown = false;
  }
}

/**
 * Runs `work` with Ctrl-C turned into an AbortSignal: the first SIGINT asks the run to stop (it keeps
 * the files finished so far in its `*.partial-<pid>` folder and rejects with Interrupted); a second one
 * exits at once. No reader takes a partial folder for a dataset; the next ingest of the same output
 * resumes from it (ingest/dataset/resume.ts).
 */
export async function withInterrupt<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(INTERRUPTED_EXIT);
    process.stderr.write('\nhoptrace: interrupting (Ctrl-C again to quit at once)\n');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    return await work(controller.signal);
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/**
 * The end-of-batch summary of faults: one line per damaged file (DESIGN §8: file, byte offset, cause,
 * records kept), then, in a batch of several files, one line saying the rest was read.
 */
export function faultSummary(faults: readonly InputError[], files: number): string {
  if (faults.length === 0) return '';
  const lines = faults.map((f) => `hoptrace: ${f.line()}\n`).join('');
  if (files <= 1) return lines;
  return `${lines}hoptrace: ${faults.length} of ${files} files damaged (records before each fault kept); the other ${files - faults.length} read whole\n`;
}

interface IngestFlags {
  out: string;
  keepGoing?: boolean;
  memoryLimit?: string;
  threads?: number;
  jobs?: number;
  quiet?: boolean;
}

export const ingestCommand = new Command('ingest')
  .description('decode pcap/pcapng files (or bundles, trees of bundles, or folders) into a Parquet dataset')
  .argument('<inputs...>', 'capture files, bundles, trees of bundles or folders')
  .requiredOption(
    '-o, --out <dataset>',
    'dataset folder to write (replaced when complete; an interrupted run is resumed)',
  )
  .option(
    '-j, --jobs <n>',
    'worker threads reading files in parallel (default: one per core for large inputs)',
    parseCount,
  )
  .option('--keep-going', 'report container faults as warnings (exit 0) instead of exiting 2')
  .option('--memory-limit <size>', 'DuckDB memory limit, e.g. 1GB')
  .option('--threads <n>', 'DuckDB threads', parseCount)
  .option('-q, --quiet', 'print nothing but errors')
  .action(async (inputs: string[], opts: IngestFlags) => {
    const started = performance.now();
    const line = new ProgressLine(progressWanted(opts.quiet));
    let summary: Awaited<ReturnType<typeof ingestToDataset>>;
    try {
      summary = await withInterrupt((signal) =>
        ingestToDataset(inputs, {
          outDir: opts.out,
          memoryLimit: opts.memoryLimit,
          threads: opts.threads,
          ...(opts.jobs ? { jobs: opts.jobs } : {}),
          onProgress: line.update,
          signal,
        }),
      );
    } catch (e) {
      line.clear();
      if (!(e instanceof Interrupted)) throw e;
      process.stderr.write(
        `hoptrace: interrupted; ${opts.out} was left as it was before this run (run again to resume)\n`,
      );
      process.exitCode = INTERRUPTED_EXIT;
      return;
    }
    line.clear();
    process.stderr.write(faultSummary(summary.faults, summary.files.length));
    if (!opts.quiet) {
      const seconds = (performance.now() - started) / 1000;
      for (const r of summary.renamed)
        process.stdout.write(
          `bundle ${r.bundle}: ${r.name} is named ${r.as} (several bundles use ${r.name})\n`,
        );
      process.stdout.write(
        `${summary.files.length} file(s), ${summary.packets} packets in ${seconds.toFixed(2)} s ` +
          `(${(summary.packets / seconds / 1e6).toFixed(2)} M packets/s, ${summary.jobs} job(s)) -> ${summary.outDir}` +
          `${summary.resumed ? `; ${summary.resumed} file(s) kept from the interrupted run` : ''}` +
          `${summary.faults.length ? `; ${summary.faults.length} file(s) with faults` : ''}\n`,
      );
    }
    if (summary.faults.length > 0 && !opts.keepGoing) process.exitCode = ExitCode.input;
  });
