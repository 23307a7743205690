import { Command } from 'commander';
import { checkBundle, formatCheck } from '../collectors/bundle-check.ts';
import { ExitCode } from './exit-codes.ts';

const checkCommand = new Command('check')
  .description('validate a capture bundle and say what is present, missing, and what that costs the analysis')
  .argument('<bundle>', 'bundle folder')
  .action(async (bundle: string) => {
    const result = await checkBundle(bundle);
    process.stdout.write(`${formatCheck(result).join('\n')}\n`);
    for (const p of result.problems) process.stderr.write(`hoptrace: ${p}\n`);
    process.exitCode = result.problems.length > 0 ? ExitCode.input : ExitCode.ok;
  });

export const bundleCommand = new Command('bundle')
  .description('inspect capture bundles')
  .addCommand(checkCommand);
