/**
 * One ingest in its own process, so its peak RSS is its own: prints {seconds, cpuSeconds, maxRssKb} as
 * JSON. CPU seconds are over every thread (decoding, the encoder thread, hashing, I/O): on a shared
 * machine they move less than the wall time does.
 */
import { ingestToDataset } from '../ingest/dataset/write-dataset.ts';

const [file, out] = process.argv.slice(2);
if (!file || !out) throw new Error('usage: ingest-rss.ts <capture> <dataset>');
const start = performance.now();
const cpu = process.cpuUsage();
const summary = await ingestToDataset([file], { outDir: out, memoryLimit: '256MB' });
const seconds = (performance.now() - start) / 1000;
const used = process.cpuUsage(cpu);
if (summary.faults.length > 0) throw new Error(summary.faults[0]!.line());
console.log(
  JSON.stringify({
    seconds,
    cpuSeconds: (used.user + used.system) / 1e6,
    packets: summary.packets,
    maxRssKb: process.resourceUsage().maxRSS,
  }),
);
