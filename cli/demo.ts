import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { openDataset } from '../ingest/dataset/open-dataset.ts';
import { runReadOnlyQuery } from '../ingest/dataset/run-query.ts';
import { ingestToDataset } from '../ingest/dataset/write-dataset.ts';
import { summaryText } from '../reports/summary.ts';
import { analyzeBundle } from './analyze.ts';
import { formatResult } from './format-result.ts';

const fixture = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  'fixtures',
  'datapathv2',
  'bundle',
);

/**
 * `npm start`: the main job on a bundled fixture (the lab's DataPath V2 recording): ingest it and show,
 * with SQL, the capture points and the same packets found at several of them; then `hoptrace analyze`
 * on it (rules, verdicts) and where its outputs are.
 */
export const demoCommand = new Command('demo')
  .description('ingest the bundled DataPath V2 fixture and query it (what `npm start` runs)')
  .option('--bundle <dir>', 'bundle to use', fixture)
  .option('-o, --out <dir>', 'where to write the dataset', path.join(os.tmpdir(), 'hoptrace-demo'))
  .action(async (opts: { bundle: string; out: string }) => {
    fs.mkdirSync(opts.out, { recursive: true });
    const dataset = path.join(opts.out, 'dataset');
    const summary = await ingestToDataset([opts.bundle], { outDir: dataset });
    process.stdout.write(
      `ingested ${summary.packets} packets from ${summary.files.length} capture files of ${opts.bundle}\ninto ${dataset}\n\n`,
    );
    const ds = await openDataset(dataset);
    try {
      const queries = [
        'SELECT capture_point, kind, packets, drops FROM captures ORDER BY capture_point',
        `-- one UDP request to the Service, found by its fingerprint at every capture point it crossed
         SELECT capture_point, ts_ns, src_ip, dst_ip, src_port, dst_port, ttl
         FROM packets WHERE fingerprint = (
           SELECT fingerprint FROM packets WHERE ip_proto = 17 AND dst_port IN (80, 8080)
           GROUP BY fingerprint ORDER BY count(DISTINCT capture_point) DESC, fingerprint LIMIT 1)
         ORDER BY ts_ns`,
      ];
      for (const sql of queries) {
        process.stdout.write(
          `hoptrace sql ${dataset} "${sql
            .replace(/--[^\n]*\n/, '')
            .replace(/\s+/g, ' ')
            .trim()}"\n`,
        );
        for (const result of await runReadOnlyQuery(ds.con, sql))
          process.stdout.write(`${formatResult(result, 'table')}\n`);
      }
    } finally {
      ds.close();
    }
    const analysis = path.join(opts.out, 'analysis');
    const r = await analyzeBundle(opts.bundle, analysis);
    process.stdout.write(`\nhoptrace analyze ${opts.bundle} --out ${analysis}\n${summaryText(r.document)}`);
    process.stdout.write(
      `\nreport:   ${r.outputs.html}   (open it in a browser)\nverdicts: ${r.outputs.verdicts}\njunit:    ${r.outputs.junit}\ndataset:  ${r.outputs.dataset}\n`,
    );
  });
