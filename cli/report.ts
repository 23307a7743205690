import { Command } from 'commander';
import { reportFromAnalysisDir } from '../reports/analysis-dir.ts';
import { parseCount } from './parse-flags.ts';

/** `hoptrace report <analysis-dir> [--out file.html]`: rebuilds the HTML report from an analysis folder. */
export const reportCommand = new Command('report')
  .description('write the self-contained HTML report of an analysis folder (written by `hoptrace analyze`)')
  .argument('<analysis-dir>', 'folder with dataset/analysis.json and, once evaluated, verdicts.json')
  .option('-o, --out <file>', 'HTML file to write (default <analysis-dir>/report.html)')
  .option('--passing-detail <n>', 'passing flows embedded with full detail, at most', parseCount, 200)
  .action(async (dir: string, opts: { out?: string; passingDetail: number }) => {
    const r = await reportFromAnalysisDir(dir, { out: opts.out, passingDetail: opts.passingDetail });
    process.stdout.write(
      `wrote ${r.out} (${r.flows} flows, ${r.detailed} in detail, ${r.evaluated ? `${r.failing} failing or inconclusive` : 'not evaluated'}, ${Math.round(r.bytes / 1024)} KiB)\n`,
    );
  });
