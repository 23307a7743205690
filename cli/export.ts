/**
 * `hoptrace export <analysis-dir> --flow N [--out flow-N.pcapng] [--bundle <dir>]`: one flow's evidence
 * (every sighting of its packets at every capture point) as a pcapng for Wireshark; the report prints
 * this command for each flow. An unknown flow, a missing bundle or a capture changed since the
 * analysis is a usage error: one line, exit 2.
 */
import { Command, InvalidArgumentError } from 'commander';
import { exportFlow } from '../reports/export-flow.ts';
import { shellWord } from '../reports/report-model.ts';

/** Flow ids start at 0, so parseCount (>= 1) does not fit. */
function flowId(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('expected a flow number (see the report)');
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError('flow number too large');
  return n;
}

export const exportCommand = new Command('export')
  .description("write one flow's packets from every capture point as a pcapng for Wireshark")
  .argument('<analysis-dir>', 'folder written by `hoptrace analyze`')
  .requiredOption('--flow <id>', 'flow number (as shown in the report and in verdicts.json flow_id)', flowId)
  .option('-o, --out <file>', 'pcapng file to write (default flow-<id>.pcapng)')
  .option('--bundle <dir>', 'the capture bundle, if it moved since the analysis')
  .action(async (dir: string, opts: { flow: number; out?: string; bundle?: string }) => {
    const r = await exportFlow(dir, opts.flow, { out: opts.out, bundle: opts.bundle });
    process.stdout.write(
      `wrote ${r.out}: flow ${r.flow}, ${r.frames} frames (${r.packets} packets seen at ${r.interfaces.length} capture points), clock-corrected times\n` +
        `open with: wireshark ${shellWord(r.out)}   (frame.packet_id == N shows one packet at every point)\n`,
    );
  });
