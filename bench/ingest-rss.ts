/** One ingest in its own process, so its peak RSS is its own: prints {seconds, maxRssKb} as JSON. */
import { ingestToDataset } from '../ingest/dataset/write-dataset.ts';

const [file, out] = process.argv.slice(2);
if (!file || !out) throw new Error('usage: ingest-rss.ts <capture> <dataset>');
const start = performance.now();
const summary = await ingestToDataset([file], { outDir: out, memoryLimit: '256MB' });
const seconds = (performance.now() - start) / 1000;
if (summary.faults.length > 0) throw new Error(summary.faults[0]!.line());
console.log(JSON.stringify({ seconds, packets: summary.packets, maxRssKb: process.resourceUsage().maxRSS }));
