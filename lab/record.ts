/**
 * Recording through `hoptrace collect`: one collector per node (its namespace, its pods), each into its own
 * temporary bundle, stopped with SIGINT after the traffic; then one bundle for the lab with both nodes,
 * the merged bundle.json, and the metadata only the lab knows (metadata.ts).
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BundleManifest, MetadataRecord } from '../collectors/bundle-manifest.ts';
import { k8sObjects, LEGACY_KERNEL, mappingText, nodeCapabilities } from './metadata.ts';
import type { LabMode } from './modes.ts';
import type { LabPlan } from './plan.ts';
import { recordPid } from './state.ts';

const HOPTRACE = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'hoptrace.js');
const READY_MS = 30_000;
const STOP_MS = 30_000;

export interface Recorder {
  node: string;
  out: string;
  pid: number;
  stop(): Promise<void>;
}

/** Starts `hoptrace collect` for one node and resolves once it printed "ready". */
export function startRecorder(
  plan: LabPlan,
  node: string,
  out: string,
  opts: { any: boolean },
): Promise<Recorder> {
  const n = plan.nodes.find((x) => x.name === node)!;
  const args = [HOPTRACE, 'collect', '--netns', n.ns, '--node', n.name, '--out', out, '--rescan', '0'];
  if (opts.any) args.push('--any');
  for (const pod of plan.pods.filter((p) => p.node === node))
    args.push('--pod', `${pod.namespace}/${pod.name}=netns:${pod.ns}`);
  // Hard bound: a collector never outlives the run by more than a few minutes even if never signalled.
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const pid = child.pid ?? -1;
  recordPid(pid);
  const killer = setTimeout(() => child.kill('SIGKILL'), 5 * 60_000);
  let stdout = '';
  let stderr = '';
  const exited = new Promise<number>((resolve) =>
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve(code ?? -1);
    }),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`hoptrace collect for ${node} not ready after ${READY_MS / 1000} s: ${stderr.trim()}`),
      );
    }, READY_MS);
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
    });
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
      if (/^ready/m.test(stdout)) {
        clearTimeout(timer);
        resolve({
          node,
          out,
          pid,
          stop: async () => {
            child.kill('SIGINT');
            const t = setTimeout(() => child.kill('SIGKILL'), STOP_MS);
            const code = await exited;
            clearTimeout(t);
            if (code !== 0) throw new Error(`hoptrace collect for ${node} exited ${code}: ${stderr.trim()}`);
          },
        });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`hoptrace collect for ${node} exited ${code} before ready: ${stderr.trim()}`));
    });
  });
}

function writeRel(out: string, rel: string, text: string): MetadataRecord {
  const full = join(out, rel);
  mkdirSync(dirname(full), { recursive: true });
  writeFileSync(full, text);
  return { path: rel, source: 'hoptrace lab', status: 'ok' };
}

/** Merges the per-node bundles into `out` and adds the lab's own metadata. */
export function mergeBundles(
  plan: LabPlan,
  mode: LabMode,
  parts: Recorder[],
  out: string,
  command: string[],
): BundleManifest {
  mkdirSync(out, { recursive: true });
  const manifests = parts.map(
    (p) => JSON.parse(readFileSync(join(p.out, 'bundle.json'), 'utf8')) as BundleManifest,
  );
  for (const p of parts) {
    for (const sub of ['nodes', 'pods', 'k8s']) {
      if (existsSync(join(p.out, sub))) cpSync(join(p.out, sub), join(out, sub), { recursive: true });
    }
  }
  const base = manifests[0]!;
  const lab: MetadataRecord[] = [];
  for (const node of plan.nodes) {
    const prefix = `nodes/${node.name}`;
    lab.push(writeRel(out, `${prefix}/terway/mapping.txt`, mappingText(plan, node)));
    lab.push(writeRel(out, `${prefix}/terway/node_capabilities`, nodeCapabilities(mode)));
    // The legacy mode emulates Terway <= 1.13 on Alibaba Cloud Linux 2: the kernel decides the fast path.
    if (mode.datapath === 'datapathv2-legacy-kernel')
      lab.push(writeRel(out, `${prefix}/os/uname`, `${LEGACY_KERNEL}\n`));
  }
  for (const [kind, text] of Object.entries(k8sObjects(plan)))
    lab.push(writeRel(out, `k8s/${kind}.json`, text));
  const replaced = new Set(lab.map((m) => m.path));
  const minNs = (xs: string[]) => xs.reduce((a, b) => (BigInt(a) < BigInt(b) ? a : b));
  const maxNs = (xs: string[]) => xs.reduce((a, b) => (BigInt(a) > BigInt(b) ? a : b));
  const merged: BundleManifest = {
    ...base,
    command,
    start_ns: minNs(manifests.map((m) => m.start_ns)),
    end_ns: maxNs(manifests.map((m) => m.end_ns)),
    nodes: manifests.flatMap((m) => m.nodes),
    pods: manifests.flatMap((m) => m.pods),
    captures: manifests.flatMap((m) => m.captures),
    metadata: [...manifests.flatMap((m) => m.metadata).filter((m) => !replaced.has(m.path)), ...lab],
    warnings: manifests.flatMap((m) => m.warnings),
  };
  writeFileSync(join(out, 'bundle.json'), `${JSON.stringify(merged, null, 2)}\n`);
  for (const p of parts) rmSync(p.out, { recursive: true, force: true });
  return merged;
}
