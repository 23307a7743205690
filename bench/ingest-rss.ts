/**
 * One ingest in its own process, so its peak RSS is its own: prints {seconds, cpuSeconds, packets,
 * maxRssKb} as JSON. CPU seconds are over every thread (decoding, the encoder thread, hashing, I/O): on
 * a shared machine they move less than the wall time does.
 *
 * Run as a script (`node --import tsx bench/ingest-rss.ts <capture> <dataset>`, as bench/run.ts does),
 * it measures in a child started the way bin/hoptrace.js starts (cli-child.ts), as the decode -> Arrow
 * trial does: under `--import tsx` every typed-array access of the decoding thread pays a detached-buffer
 * check that `hoptrace ingest` does not (bench/decode-arrow.ts says why).
 */
import { pathToFileURL } from 'node:url';
import { ingestToDataset } from '../ingest/dataset/write-dataset.ts';
import { cliChildArgs, peakRssMb, runCliChild } from './cli-child.ts';

export interface IngestTrial {
  seconds: number;
  cpuSeconds: number;
  packets: number;
  maxRssKb: number;
}

/** Ingests `file` into the dataset folder `out` and prints an IngestTrial as one JSON line. */
export async function printTrial(file: string, out: string): Promise<void> {
  const start = performance.now();
  const cpu = process.cpuUsage();
  const summary = await ingestToDataset([file], { outDir: out, memoryLimit: '256MB' });
  const seconds = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpu);
  if (summary.faults.length > 0) throw new Error(summary.faults[0]!.line());
  const trial: IngestTrial = {
    seconds,
    cpuSeconds: (used.user + used.system) / 1e6,
    packets: summary.packets,
    maxRssKb: Math.round(peakRssMb() * 1024),
  };
  console.log(JSON.stringify(trial));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [file, out] = process.argv.slice(2);
  if (!file || !out) throw new Error('usage: ingest-rss.ts <capture> <dataset>');
  const args = cliChildArgs(import.meta.url, 'await m.printTrial(args[0], args[1])', [file, out]);
  console.log(JSON.stringify(runCliChild<IngestTrial>(args, `ingest trial on ${file}`)));
}
