import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { generateCaptures } from '../bench/generate-capture.ts';
import { openDataset } from '../ingest/dataset/open-dataset.ts';
import { runReadOnlyQuery } from '../ingest/dataset/run-query.ts';
import { ingestToDataset } from '../ingest/dataset/write-dataset.ts';
import { formatResult } from './format-result.ts';

/**
 * `npm start`: the main job on bundled data. Until the lab's fixture bundles exist this ingests a
 * small generated capture, then answers a few questions about it with SQL.
 */
export const demoCommand = new Command('demo')
  .description('ingest a small generated capture and query it (what `npm start` runs)')
  .option('-o, --out <dir>', 'where to write the dataset', path.join(os.tmpdir(), 'hoptrace-demo'))
  .action(async (opts: { out: string }) => {
    fs.mkdirSync(opts.out, { recursive: true });
    const capture = generateCaptures(path.join(opts.out, 'demo'), 20_000);
    const dataset = path.join(opts.out, 'dataset');
    const summary = await ingestToDataset([capture.pcap, capture.pcapng], { outDir: dataset });
    process.stdout.write(
      `ingested ${summary.packets} packets from ${summary.files.length} files into ${dataset}\n\n`,
    );
    const ds = await openDataset(dataset);
    try {
      const queries = [
        'SELECT capture_point, kind, packets, bytes, decode_errors, start_ns, end_ns FROM captures',
        `SELECT ip_version, ip_proto, count(*) AS packets, sum(wirelen) AS bytes
           FROM packets GROUP BY ALL ORDER BY packets DESC`,
        `SELECT src_ip, dst_ip, dst_port, count(*) AS packets FROM packets WHERE ip_proto = 6
           GROUP BY ALL ORDER BY packets DESC, src_ip LIMIT 5`,
      ];
      for (const sql of queries) {
        process.stdout.write(`hoptrace sql ${dataset} "${sql.replace(/\s+/g, ' ')}"\n`);
        for (const result of await runReadOnlyQuery(ds.con, sql))
          process.stdout.write(`${formatResult(result, 'table')}\n`);
      }
    } finally {
      ds.close();
    }
  });
