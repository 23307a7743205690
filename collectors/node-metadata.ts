import { access, readFile } from 'node:fs/promises';
import type { MetadataRecord } from './bundle-manifest.ts';
import type { BundleWriter } from './bundle-writer.ts';
import { findTool } from './find-tool.ts';
import { inNamespace, type NsTarget } from './netns.ts';
import { runCommand } from './run-command.ts';

/** The `ip -j` views the topology importers read (DESIGN §6), by file name under `ip/`. */
const ipViews: readonly (readonly [string, readonly string[]])[] = [
  ['link', ['ip', '-j', '-d', 'link', 'show']],
  ['addr', ['ip', '-j', 'addr', 'show']],
  ['neigh', ['ip', '-j', 'neigh', 'show']],
  ['route', ['ip', '-j', 'route', 'show', 'table', 'all']],
  ['rule', ['ip', '-j', 'rule', 'show']],
  ['route6', ['ip', '-6', '-j', 'route', 'show', 'table', 'all']],
  ['rule6', ['ip', '-6', '-j', 'rule', 'show']],
];

/** A pod needs only its own interfaces and addresses: routes live on the node. */
const podIpViews = new Set(['link', 'addr']);

async function commandToFile(
  out: BundleWriter,
  rel: string,
  argv: string[],
  timeoutMs = 15_000,
): Promise<MetadataRecord> {
  const source = argv.join(' ');
  const res = await runCommand(argv, { timeoutMs });
  if (res.failure !== null) return { path: rel, source, status: 'failed', detail: res.failure };
  await out.write(rel, res.stdout);
  return { path: rel, source, status: 'ok' };
}

async function copyFile(out: BundleWriter, rel: string, from: string): Promise<MetadataRecord> {
  try {
    await access(from);
  } catch {
    return { path: rel, source: from, status: 'absent' };
  }
  try {
    await out.write(rel, await readFile(from));
    return { path: rel, source: from, status: 'ok' };
  } catch (e) {
    return { path: rel, source: from, status: 'failed', detail: e instanceof Error ? e.message : String(e) };
  }
}

/** `ip -j` tables from inside `ns` into `<prefix>/ip/*.json` (prefix: `nodes/<node>` or `pods/<ns>/<pod>`). */
export async function collectIp(
  out: BundleWriter,
  prefix: string,
  ns: NsTarget,
  pod: boolean,
): Promise<MetadataRecord[]> {
  const views = ipViews.filter(([name]) => !pod || podIpViews.has(name));
  return Promise.all(
    views.map(([name, argv]) => commandToFile(out, `${prefix}/ip/${name}.json`, inNamespace(ns, argv))),
  );
}

/** Kernel release and distribution (the kernel decides which eBPF fast path a node can take), and Terway's
 * own view of the node when it is installed. These are host-wide, not per network namespace. */
export async function collectNodeHost(out: BundleWriter, prefix: string): Promise<MetadataRecord[]> {
  const records = await Promise.all([
    commandToFile(out, `${prefix}/os/uname`, ['uname', '-r']),
    copyFile(out, `${prefix}/os/os-release`, '/etc/os-release'),
    copyFile(out, `${prefix}/terway/node_capabilities`, '/var/run/eni/node_capabilities'),
  ]);
  const terwayCli = findTool('terway-cli');
  const mappingRel = `${prefix}/terway/mapping.txt`;
  records.push(
    terwayCli === null
      ? {
          path: mappingRel,
          source: 'terway-cli mapping',
          status: 'absent',
          detail: 'terway-cli not installed',
        }
      : await commandToFile(out, mappingRel, [terwayCli, 'mapping']),
  );
  return records;
}

const k8sKinds = ['pods', 'services', 'endpointslices', 'nodes'] as const;

/** `kubectl get <kind> -A -o json` into k8s/ (only with --kubectl: it needs cluster credentials). */
export async function collectK8s(out: BundleWriter, kubectl: string): Promise<MetadataRecord[]> {
  return Promise.all(
    k8sKinds.map((kind) =>
      commandToFile(out, `k8s/${kind}.json`, [kubectl, 'get', kind, '-A', '-o', 'json'], 60_000),
    ),
  );
}
