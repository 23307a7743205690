import { Command } from 'commander';
import { captureInfo, formatInfo, infoJson } from '../ingest/capture-info.ts';

/** `hoptrace info <file...>`: capinfos-like summary of capture files; a bad file exits 2 via main's boundary. */
export const infoCommand = new Command('info')
  .description('show format, interfaces, packet count, time span and drops of capture files')
  .argument('<files...>', 'pcap or pcapng files (gzip/zstd compressed too)')
  .option('--json', 'print JSON (one array over all files)')
  .action(async (files: string[], opts: { json?: boolean }) => {
    const infos = [];
    for (const file of files) infos.push(await captureInfo(file));
    process.stdout.write(
      opts.json === true
        ? `${JSON.stringify(infos.map(infoJson), null, 2)}\n`
        : infos.map(formatInfo).join('\n'),
    );
  });
