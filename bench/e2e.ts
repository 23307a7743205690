/**
 * End-to-end benchmark (issue 8): a synthetic bundle (bench/synthetic-bundle.ts: 2 nodes, 12 capture
 * points, Service DNAT, GSO, node2's clock ahead) analyzed from files to verdicts.json, junit.xml and
 * report.html by `analyzeBundle`, one child process per size started as the CLI starts (peak RSS is the
 * child's VmHWM), beside
 * the time `tshark -r -T fields` takes to merely read a slice of the largest capture, scaled per frame.
 * Run alone: `node --import tsx bench/e2e.ts 5000000 10000000`.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cliChildArgs, peakRssMb, runCliChild } from './cli-child.ts';
import { writeSyntheticBundle } from './synthetic-bundle.ts';
import { tsharkFieldsArgs } from './tshark-args.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const dataDir = path.join(here, 'data', 'e2e');
const SLICE_FRAMES = 200_000;

export interface StageTiming {
  stage: string;
  seconds: number;
  cpuSeconds: number;
  rssMb: number;
}

export interface E2eTrial {
  frames: number;
  flows: number;
  points: number;
  bundleMb: number;
  generateSeconds: number;
  seconds: number;
  framesPerSecond: number;
  peakRssMb: number;
  /** flows by verdict status */
  statuses: Record<string, number>;
  /** per stage of analyzeBundle: wall and CPU seconds (all threads), RSS when it ended */
  stages: StageTiming[];
  /** tshark's estimated seconds for the same frames (slice, scaled), null when tshark is missing */
  tsharkSeconds: number | null;
  /** hoptrace end to end / tshark reading only, in frames per second (> 1: hoptrace is faster) */
  tsharkRatio: number | null;
}

/** The first `n` EPBs of a one-section pcapng (SHB and IDB kept). */
function slicePcapng(file: string, out: string, n: number): number {
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.allocUnsafe(Math.min(fs.statSync(file).size, 256 << 20));
  const len = fs.readSync(fd, buf, 0, buf.length, 0);
  fs.closeSync(fd);
  let at = 0;
  let k = 0;
  while (at + 12 <= len && k < n) {
    const blen = buf.readUInt32LE(at + 4);
    if (at + blen > len) break;
    if (buf.readUInt32LE(at) === 6) k++;
    at += blen;
  }
  fs.writeFileSync(out, buf.subarray(0, at));
  return k;
}

function tsharkSecondsPerFrame(file: string): number | null {
  if (spawnSync('sh', ['-c', 'command -v tshark']).status !== 0) return null;
  const slice = path.join(dataDir, 'tshark-slice.pcapng');
  const n = slicePcapng(file, slice, SLICE_FRAMES);
  const start = performance.now();
  const r = spawnSync('tshark', tsharkFieldsArgs(slice), { stdio: ['ignore', 'ignore', 'ignore'] });
  const seconds = (performance.now() - start) / 1000;
  return r.status === 0 ? seconds / n : null;
}

/** The child's side of a trial: analyze `bundle` into `out`, print {seconds, peakRssMb, statuses, stages}. */
export async function runChild(bundle: string, out: string): Promise<void> {
  const { analyzeBundle } = await import('../cli/analyze.ts');
  const start = performance.now();
  const stages: StageTiming[] = [];
  let lap = { t: start, cpu: process.cpuUsage() };
  const onStage = (stage: string) => {
    const cpu = process.cpuUsage(lap.cpu);
    const t = performance.now();
    stages.push({
      stage,
      seconds: (t - lap.t) / 1000,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      rssMb: process.memoryUsage.rss() / 2 ** 20,
    });
    lap = { t, cpu: process.cpuUsage() };
  };
  const r = await analyzeBundle(bundle, out, { datapath: 'datapathv2', onStage });
  const seconds = (performance.now() - start) / 1000;
  const statuses: Record<string, number> = {};
  for (const f of r.document.flows) statuses[f.status] = (statuses[f.status] ?? 0) + 1;
  console.log(JSON.stringify({ seconds, peakRssMb: peakRssMb(), statuses, stages }));
}

/** Reads every file under `dir` once (into the page cache), 4 MiB at a time. */
function readThrough(dir: string): void {
  const buf = Buffer.allocUnsafe(4 << 20);
  for (const e of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const fd = fs.openSync(path.join(e.parentPath, e.name), 'r');
    try {
      while (fs.readSync(fd, buf) > 0);
    } finally {
      fs.closeSync(fd);
    }
  }
}

/** One trial per frame count; `onTrial` hears each as it ends (a 20 M trial takes many minutes). */
export async function e2eTrials(frameCounts: number[], onTrial?: (t: E2eTrial) => void): Promise<E2eTrial[]> {
  fs.mkdirSync(dataDir, { recursive: true });
  const trials: E2eTrial[] = [];
  let tsharkPerFrame: number | null | undefined;
  for (const n of frameCounts) {
    const dir = path.join(dataDir, `bundle-${n}`);
    const g0 = performance.now();
    const b = writeSyntheticBundle(dir, n);
    const generateSeconds = (performance.now() - g0) / 1000;
    if (tsharkPerFrame === undefined) tsharkPerFrame = tsharkSecondsPerFrame(b.largest);
    const out = path.join(dataDir, `out-${n}`);
    fs.rmSync(out, { recursive: true, force: true });
    // every trial starts from the page cache, as a freshly generated bundle does: one generated by an
    // earlier run may have been evicted by the trials before it (its 5 M trial once read from disk and
    // took 44 s against 26 s)
    readThrough(dir);
    // one trial (`runChild`) in a process started as the CLI starts (cli-child.ts)
    const m = runCliChild<{
      seconds: number;
      peakRssMb: number;
      statuses: Record<string, number>;
      stages: StageTiming[];
    }>(
      cliChildArgs(import.meta.url, 'await m.runChild(args[0], args[1])', [dir, out]),
      `e2e trial of ${n} frames`,
    );
    const tsharkSeconds = tsharkPerFrame === null ? null : tsharkPerFrame * b.frames;
    const trial: E2eTrial = {
      frames: b.frames,
      flows: b.flows,
      points: b.points,
      bundleMb: b.bytes / 2 ** 20,
      generateSeconds,
      seconds: m.seconds,
      framesPerSecond: b.frames / m.seconds,
      peakRssMb: m.peakRssMb,
      statuses: m.statuses,
      stages: m.stages,
      tsharkSeconds,
      tsharkRatio: tsharkSeconds === null ? null : tsharkSeconds / m.seconds,
    };
    trials.push(trial);
    onTrial?.(trial);
    fs.rmSync(out, { recursive: true, force: true });
  }
  return trials;
}

export function e2eText(t: E2eTrial): string {
  const tshark =
    t.tsharkRatio === null
      ? 'tshark n/a'
      : `tshark read-only ${t.tsharkSeconds!.toFixed(1)} s, ratio ${t.tsharkRatio.toFixed(2)}x`;
  const stages = t.stages
    .map(
      (s) =>
        `${s.stage} ${s.seconds.toFixed(2)} s (cpu ${s.cpuSeconds.toFixed(2)}, ${s.rssMb.toFixed(0)} MB)`,
    )
    .join(', ');
  return (
    `e2e ${String(t.frames).padStart(9)} frames (${t.flows} flows, ${t.points} points, ${t.bundleMb.toFixed(0)} MiB): ` +
    `${t.seconds.toFixed(1)} s, ${(t.framesPerSecond / 1e6).toFixed(3)} M frames/s, peak RSS ${t.peakRssMb.toFixed(0)} MB; ` +
    `${tshark}; verdicts ${JSON.stringify(t.statuses)}\n    stages: ${stages}`
  );
}

/**
 * Linear scaling: seconds per million frames of each trial against the smallest trial of at least 5 M
 * frames (1.00 is linear; above 1 a larger input costs more per frame).
 */
export function e2eScalingText(trials: readonly E2eTrial[]): string | null {
  const base = trials.find((t) => t.frames >= 5_000_000);
  if (!base) return null;
  const per = (t: E2eTrial) => t.seconds / t.frames;
  return `e2e scaling (s per frame vs ${base.frames / 1e6} M): ${trials
    .filter((t) => t.frames >= base.frames)
    .map((t) => `${(t.frames / 1e6).toFixed(0)} M ${(per(t) / per(base)).toFixed(2)}`)
    .join(', ')}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const sizes = process.argv.slice(2).map(Number);
  const trials = await e2eTrials(sizes.length ? sizes : [1_000_000], (t) => console.log(e2eText(t)));
  const scaling = e2eScalingText(trials);
  if (scaling) console.log(scaling);
}
