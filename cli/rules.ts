import { Command } from 'commander';
import { formatProblem, loadRulePaths } from '../analyzers/rules/load-rules.ts';
import { ExitCode } from './exit-codes.ts';

/**
 * `hoptrace rules validate <paths...>`: our `falco -V`. Every problem is one line on stderr
 * (file:line:col: rule '<id>' > <path>: <cause> (rules.<code>)); exit 2 when any is an error.
 * Warnings (a folder's rule set not covering a classifier outcome) are printed and keep exit 0.
 */
const validateCommand = new Command('validate')
  .description('check rule files against the schema and their meaning; folders are read recursively')
  .argument('<paths...>', 'rule files (.yaml) or folders of them (each folder is a rule set)')
  .action((paths: string[]) => {
    const result = loadRulePaths(paths);
    for (const p of [...result.errors, ...result.warnings]) process.stderr.write(`${formatProblem(p)}\n`);
    const sets = new Set(result.rules.map((r) => r.set));
    if (result.errors.length === 0)
      process.stdout.write(`${result.rules.length} rules in ${sets.size} rule sets: valid\n`);
    process.exitCode = result.errors.length > 0 ? ExitCode.input : ExitCode.ok;
  });

/** `hoptrace rules ...`: rule-set tools (validation now; listing and explaining later). */
export const rulesCommand = new Command('rules')
  .description('work with rule sets (rules/terway-v2, rules/kernel-routing)')
  .addCommand(validateCommand);
