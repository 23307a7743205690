/**
 * Batch ingest benchmark (issue 8): a tree of several bundles holding many capture files (pcap,
 * pcapng, and ring-buffer sets of them), ingested with 1 and 2 worker lanes. Each trial runs in its own
 * process so that its peak RSS (lanes included: worker threads share the process) is its own.
 *
 *   node --import tsx bench/batch.ts            # standalone: prints the trials
 *   batchTrials() from bench/run.ts             # the same, returned for results.json
 * BENCH_BATCH_PACKETS (default 500 000) sets the packets per generated capture.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ingestToDataset } from '../ingest/dataset/write-dataset.ts';
import { generateCaptures } from './generate-capture.ts';

const here = path.dirname(fileURLToPath(import.meta.url));

export interface BatchTrial {
  jobs: number;
  files: number;
  bundles: number;
  packets: number;
  bytes: number;
  seconds: number;
  pps: number;
  peakRssMb: number;
}

export interface BatchOptions {
  /** bundles in the tree (each with two nodes) */
  bundles?: number;
  /** packets per generated capture; every file is a hard link to one of two generated captures */
  packetsPerFile?: number;
  jobs?: number[];
  /** where the tree and datasets go; default bench/data/batch */
  dir?: string;
}

/**
 * A tree `<dir>/tree/site-<k>/bundle/` of `bundles` bundles, each with two nodes named node1 and node2
 * (so names collide across bundles, as from one cluster collected several times): per node eth0 as a
 * pcap, eth1 as pcapng, and a ring set of three `cali0_<NNNNN>_<stamp>.pcap` files.
 */
export function batchTree(
  dir: string,
  bundles: number,
  packetsPerFile: number,
): { root: string; files: number } {
  fs.mkdirSync(dir, { recursive: true });
  const gen = generateCaptures(path.join(dir, `gen-${packetsPerFile}`), packetsPerFile);
  const root = path.join(dir, `tree-${bundles}x${packetsPerFile}`);
  let files = 0;
  if (fs.existsSync(path.join(root, '.done'))) {
    return { root, files: Number(fs.readFileSync(path.join(root, '.done'), 'utf8')) };
  }
  fs.rmSync(root, { recursive: true, force: true });
  for (let b = 0; b < bundles; b++) {
    const bundle = path.join(root, `site-${b}`, 'bundle');
    fs.mkdirSync(bundle, { recursive: true });
    fs.writeFileSync(path.join(bundle, 'bundle.json'), '{}\n');
    for (const node of ['node1', 'node2']) {
      const caps = path.join(bundle, 'nodes', node, 'captures');
      fs.mkdirSync(caps, { recursive: true });
      const link = (from: string, name: string) => {
        fs.linkSync(from, path.join(caps, name));
        files++;
      };
      link(gen.pcap, 'eth0.pcap');
      link(gen.pcapng, 'eth1.pcapng');
      for (let r = 1; r <= 3; r++)
        link(gen.pcap, `cali0_${String(r).padStart(5, '0')}_2026010100000${r}.pcap`);
    }
  }
  fs.writeFileSync(path.join(root, '.done'), String(files));
  return { root, files };
}

/** Ingest of the tree with 1 and 2 lanes (by default), each in a child process. */
export function batchTrials(opts: BatchOptions = {}): BatchTrial[] {
  const bundles = opts.bundles ?? 3;
  const packetsPerFile = opts.packetsPerFile ?? Number(process.env['BENCH_BATCH_PACKETS'] ?? 500_000);
  const dir = opts.dir ?? path.join(here, 'data', 'batch');
  const { root, files } = batchTree(dir, bundles, packetsPerFile);
  const trials: BatchTrial[] = [];
  for (const jobs of opts.jobs ?? [1, 2]) {
    const out = path.join(dir, `ds-${jobs}`);
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(import.meta.url), 'child', String(jobs), out, root],
      { encoding: 'utf8', maxBuffer: 1 << 20 },
    );
    if (r.status !== 0) throw new Error(`batch trial with ${jobs} jobs failed: ${r.stderr}`);
    const m = JSON.parse(r.stdout.trim().split('\n').pop()!) as Omit<BatchTrial, 'pps' | 'bundles' | 'files'>;
    trials.push({ ...m, files, bundles, pps: m.packets / m.seconds });
    fs.rmSync(out, { recursive: true, force: true });
  }
  return trials;
}

export function batchText(t: BatchTrial): string {
  return (
    `batch ingest ${t.files} files / ${t.bundles} bundles, ${t.jobs} job(s)`.padEnd(44) +
    ` ${(t.pps / 1e6).toFixed(3).padStart(8)} M pkt/s  (${t.seconds.toFixed(2)} s, ` +
    `${(t.bytes / 1e9).toFixed(2)} GB)  peak RSS ${t.peakRssMb.toFixed(0)} MB`
  );
}

async function child(jobs: number, out: string, root: string): Promise<void> {
  const start = performance.now();
  const s = await ingestToDataset([root], { outDir: out, jobs, memoryLimit: '256MB' });
  const seconds = (performance.now() - start) / 1000;
  if (s.faults.length > 0) throw new Error(s.faults[0]!.line());
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(
    `${JSON.stringify({ jobs: s.jobs, packets: s.packets, bytes: s.bytes, seconds, peakRssMb })}\n`,
  );
}

const [mode, ...rest] = process.argv.slice(2);
if (import.meta.url === `file://${process.argv[1]}`) {
  if (mode === 'child') await child(Number(rest[0]), rest[1]!, rest[2]!);
  else {
    console.log(`${os.availableParallelism()} cores`);
    for (const t of batchTrials()) console.log(batchText(t));
  }
}
