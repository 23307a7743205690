import { Command, Option } from 'commander';
import { openDataset } from '../ingest/dataset/open-dataset.ts';
import { runReadOnlyQuery } from '../ingest/dataset/run-query.ts';
import { formatResult, type ResultFormat } from './format-result.ts';
import { UsageError } from './usage-error.ts';

export const sqlCommand = new Command('sql')
  .description('run read-only DuckDB SQL over a dataset (views: packets, captures)')
  .argument('<dataset>', 'dataset folder written by `hoptrace ingest` or `hoptrace analyze`')
  .argument('[query]', 'SQL; several statements separated by ";"')
  .addOption(
    new Option('--format <format>', 'output format').choices(['table', 'csv', 'json']).default('table'),
  )
  .option('--memory-limit <size>', 'DuckDB memory limit, e.g. 2GB')
  .action(
    async (
      dataset: string,
      query: string | undefined,
      opts: { format: ResultFormat; memoryLimit?: string },
    ) => {
      if (query === undefined)
        throw new UsageError('sql: give a query (the interactive prompt is not available yet)');
      const ds = await openDataset(dataset, { memoryLimit: opts.memoryLimit });
      try {
        for (const result of await runReadOnlyQuery(ds.con, query))
          process.stdout.write(formatResult(result, opts.format));
      } finally {
        ds.close();
      }
    },
  );
