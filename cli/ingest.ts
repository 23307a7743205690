import { Command } from 'commander';
import { ingestToDataset } from '../ingest/dataset/write-dataset.ts';
import { ExitCode } from './exit-codes.ts';
import { parseCount } from './parse-flags.ts';

export const ingestCommand = new Command('ingest')
  .description('decode pcap/pcapng files (or bundles, or folders) into a Parquet dataset')
  .argument('<inputs...>', 'capture files, bundles or folders')
  .requiredOption('-o, --out <dataset>', 'dataset folder to write (replaced when complete)')
  .option('--keep-going', 'report container faults as warnings (exit 0) instead of exiting 2')
  .option('--memory-limit <size>', 'DuckDB memory limit, e.g. 1GB')
  .option('--threads <n>', 'DuckDB threads', parseCount)
  .option('-q, --quiet', 'print nothing but errors')
  .action(
    async (
      inputs: string[],
      opts: { out: string; keepGoing?: boolean; memoryLimit?: string; threads?: number; quiet?: boolean },
    ) => {
      const started = performance.now();
      const summary = await ingestToDataset(inputs, {
        outDir: opts.out,
        memoryLimit: opts.memoryLimit,
        threads: opts.threads,
      });
      for (const fault of summary.faults) process.stderr.write(`hoptrace: ${fault.line()}\n`);
      if (!opts.quiet) {
        const seconds = (performance.now() - started) / 1000;
        process.stdout.write(
          `${summary.files.length} file(s), ${summary.packets} packets in ${seconds.toFixed(2)} s -> ${summary.outDir}` +
            `${summary.faults.length ? `; ${summary.faults.length} file(s) with faults` : ''}\n`,
        );
      }
      if (summary.faults.length > 0 && !opts.keepGoing) process.exitCode = ExitCode.input;
    },
  );
