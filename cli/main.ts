import { Command, CommanderError } from 'commander';
import { InputError } from '../ingest/errors.ts';
import { analyzeCommand } from './analyze.ts';
import { bundleCommand } from './bundle.ts';
import { collectCommand } from './collect.ts';
import { demoCommand } from './demo.ts';
import { ExitCode } from './exit-codes.ts';
import { exportCommand } from './export.ts';
import { infoCommand } from './info.ts';
import { ingestCommand } from './ingest.ts';
import { labCommand } from './lab.ts';
import { reportCommand } from './report.ts';
import { rulesCommand } from './rules.ts';
import { sqlCommand } from './sql.ts';
import { UsageError } from './usage-error.ts';

const program = new Command('hoptrace')
  .description('Which way did this packet really go? Path analysis of packet captures from Kubernetes nodes.')
  .version('0.1.0')
  .option('--debug', 'print stack traces of internal errors');

const commands: Command[] = [
  demoCommand,
  analyzeCommand,
  reportCommand,
  exportCommand,
  ingestCommand,
  sqlCommand,
  infoCommand,
  collectCommand,
  bundleCommand,
  labCommand,
  rulesCommand,
];
for (const command of commands) program.addCommand(command);
boundary(program);

/**
 * Every command, subcommands included, reports usage errors through the one boundary below (exit 2)
 * instead of exiting by itself: commander copies these settings only to commands made with .command(),
 * not to those built in their own files and added with addCommand().
 */
function boundary(command: Command): void {
  command
    .exitOverride()
    .showSuggestionAfterError()
    .configureOutput({ outputError: (text, write) => write(`hoptrace: ${text.replace(/^error: /, '')}`) });
  for (const sub of command.commands) boundary(sub);
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.exitCode = exitCodeFor(err, program.opts<{ debug?: boolean }>().debug === true);
}

/** The one error boundary: every failure ends here as one line on stderr and an exit code. */
function exitCodeFor(err: unknown, debug: boolean): number {
  if (err instanceof CommanderError) {
    if (
      err.code === 'commander.helpDisplayed' ||
      err.code === 'commander.version' ||
      err.code === 'commander.help'
    ) {
      return ExitCode.ok;
    }
    return ExitCode.input;
  }
  if (err instanceof InputError) {
    process.stderr.write(`hoptrace: ${err.line()}\n`);
    return err.exitCode;
  }
  if (err instanceof UsageError) {
    process.stderr.write(`hoptrace: ${err.message}\n`);
    return ExitCode.input;
  }
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`hoptrace: internal error: ${message}\n`);
  if (debug && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  return ExitCode.input;
}
