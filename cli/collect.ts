import { hostname } from 'node:os';
import { Command, Option } from 'commander';
import type { RingSpec } from '../collectors/capture-engine.ts';
import { collectBundle } from '../collectors/collect.ts';
import {
  collectRepeat,
  defaultBundleName,
  type PodFlag,
  parseDuration,
  parseNetnsName,
  parsePod,
  parsePositiveInt,
  parseRescan,
  parseRing,
} from '../collectors/collect-flags.ts';
import { placementFromFlags } from '../collectors/placement.ts';
import { toolVersion } from '../collectors/tool-version.ts';

interface CollectFlags {
  out?: string;
  node?: string;
  iface?: string[];
  any?: boolean;
  netns?: string;
  pid?: number;
  pod?: PodFlag[];
  podIface?: string[];
  filter?: string;
  snaplen?: number;
  bufferSize?: number;
  duration?: number;
  packets?: number;
  ring?: RingSpec;
  rescan: number;
  kubectl?: boolean;
  engine?: 'dumpcap' | 'tcpdump';
}

export const collectCommand = new Command('collect')
  .description(
    'capture many interfaces of a node (and its pods) at once into a capture bundle; see docs/collect.md',
  )
  .option('--out <dir>', 'bundle folder to create (default: bundle-<node>-<UTC time>)')
  .option('--node <name>', 'node name recorded in the bundle (default: hostname)')
  .option('--iface <pattern>', "interface glob, repeatable (default: 'cali*' and 'eth*')", collectRepeat)
  .addOption(
    new Option(
      '--any',
      'one node-wide `-i any` capture (LINUX_SLL2) instead of one file per interface',
    ).conflicts('iface'),
  )
  .addOption(
    new Option('--netns <name>', 'capture the node inside this named network namespace')
      .argParser(parseNetnsName)
      .conflicts('pid'),
  )
  .addOption(
    new Option('--pid <pid>', 'capture the node inside the network namespace of this process').argParser(
      parsePositiveInt,
    ),
  )
  .option('--pod <ns/name[=netns:NAME|=pid:PID]>', 'also capture inside a pod, repeatable', parsePod)
  .option('--pod-iface <pattern>', "interface glob inside pods, repeatable (default: 'eth0')", collectRepeat)
  .option('--filter <bpf>', 'capture filter, libpcap syntax')
  .option('--snaplen <bytes>', 'bytes kept per packet', parsePositiveInt)
  .option('--buffer-size <MiB>', 'kernel capture buffer per interface', parsePositiveInt)
  .option('--duration <time>', 'stop after this long (30s, 5m, 1h)', parseDuration)
  .option('--packets <n>', 'stop each interface after n packets', parsePositiveInt)
  .option('--ring <spec>', 'ring buffer per interface: filesize:MB,files:N,duration:S', parseRing)
  .option('--rescan <time>', 'look for new matching interfaces this often; 0 turns it off', parseRescan, 2000)
  .option('--kubectl', 'also save kubectl get pods,services,endpointslices,nodes -A -o json into k8s/')
  .addOption(new Option('--engine <name>', 'force the capture engine').choices(['dumpcap', 'tcpdump']))
  .action(async (f: CollectFlags) => {
    const node = f.node ?? hostname();
    const stop = new AbortController();
    const force = new AbortController();
    let forcedBy: NodeJS.Signals | null = null;
    // The first SIGINT/SIGTERM stops cleanly (drain, flush, count); a second one, while that runs, forces it.
    const onSignal = (sig: NodeJS.Signals) => {
      if (!stop.signal.aborted) stop.abort();
      else if (!force.signal.aborted) {
        forcedBy = sig;
        force.abort();
      }
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    let interrupted = false;
    try {
      ({ interrupted } = await collectBundle({
        ...placementFromFlags(f),
        out: f.out ?? defaultBundleName(node, new Date()),
        node,
        ifacePatterns: f.iface,
        any: f.any,
        podPatterns: f.podIface,
        filter: f.filter,
        snaplen: f.snaplen,
        bufferMiB: f.bufferSize,
        packets: f.packets,
        durationMs: f.duration,
        ring: f.ring,
        rescanMs: f.rescan,
        kubectl: f.kubectl,
        engine: f.engine,
        command: process.argv.slice(2),
        toolVersion: toolVersion(),
        signal: stop.signal,
        force: force.signal,
        log: (line) => process.stdout.write(`${line}\n`),
        progress: process.stderr.isTTY ? (line) => process.stderr.write(`\r\u001b[K${line}`) : undefined,
      }));
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    if (interrupted) {
      // Exit now, as the shell's convention for death by that signal: the abandoned graceful stop may still
      // hold timers (a metadata command's timeout) that would otherwise keep the process alive.
      process.exit(forcedBy === 'SIGTERM' ? 143 : 130);
    }
  });
