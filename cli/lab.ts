import { Command, Option } from 'commander';
import { cleanLab } from '../lab/clean.ts';
import { DATAPATHS, type Fault, parseDatapath, parseFault } from '../lab/modes.ts';
import { labPlan } from '../lab/plan.ts';
import { requireRoot, runLab } from '../lab/run.ts';
import { liveOwner } from '../lab/state.ts';
import { ExitCode } from './exit-codes.ts';
import { UsageError } from './usage-error.ts';

interface RunFlags {
  datapath: string;
  out: string;
  expected?: string;
  fault?: string[];
  any?: boolean;
}

const runCommand = new Command('run')
  .description(
    'build the namespace lab, record every scenario into a capture bundle, write expected.json, tear down',
  )
  .addOption(
    new Option('--datapath <mode>', 'datapath to reproduce').choices([...DATAPATHS]).makeOptionMandatory(),
  )
  .requiredOption('--out <bundle>', 'bundle folder to create (must not exist or be empty)')
  .option('--expected <file>', 'where to write expected.json (default: <bundle>/expected.json)')
  .option(
    '--fault <fault>',
    'negative test on top of an eBPF datapath, repeatable: no-bpf:<pod> | host-dnat',
    (v: string, prev: string[] = []) => [...prev, v],
  )
  .option('--any', 'one node-wide `-i any` capture per node instead of one file per interface')
  .action(async (f: RunFlags) => {
    const plan = labPlan();
    const faults: Fault[] = (f.fault ?? []).map((x) => parseFault(x, plan));
    const { failed, disagreements } = await runLab({
      mode: { datapath: parseDatapath(f.datapath), faults },
      out: f.out,
      expected: f.expected,
      any: f.any === true,
      command: process.argv.slice(2),
      log: (line) => process.stdout.write(`${line}\n`),
    });
    if (failed.length > 0 || disagreements.length > 0) process.exitCode = ExitCode.failed;
  });

const cleanCommand = new Command('clean')
  .description('remove everything a (killed) lab run left: ht-lab-* namespaces, its processes, its bpffs')
  .action(async () => {
    requireRoot();
    const owner = liveOwner();
    if (owner !== null)
      throw new UsageError(`a lab run (pid ${owner}) is active: stop it (it tears down itself)`);
    const r = await cleanLab();
    process.stdout.write(
      `removed ${r.namespaces.length} namespace(s), stopped ${r.stopped.length} process(es)${r.unmounted ? ', unmounted the lab bpffs' : ''}\n`,
    );
  });

export const labCommand = new Command('lab')
  .description(
    'network-namespace + eBPF lab reproducing Terway DataPath V2 scenarios (root only); see docs/lab.md',
  )
  .addCommand(runCommand)
  .addCommand(cleanCommand);
