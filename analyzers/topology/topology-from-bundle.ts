/**
 * Reads a bundle's metadata files (DESIGN §3) and builds the topology. The only fs code of
 * analyzers/topology: importers work on parsed documents and text. Every file is optional; a file that
 * is present but unreadable or not JSON becomes a warning. Names inside the bundle are untrusted: they
 * are only used as path segments below the bundle root after a check.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { IpDocs } from './ip-json.ts';
import { isObject, objects, str } from './json-input.ts';
import type { Topology, TopologyWarning } from './model.ts';
import {
  type NodeSources,
  type PodSources,
  type PointDecl,
  type TopologySources,
  topologyFromSources,
} from './topology-from-sources.ts';

const SAFE = /^[A-Za-z0-9._@:+-][A-Za-z0-9._@:+-]*$/;
const safeSegment = (s: string): boolean => SAFE.test(s) && s !== '.' && s !== '..';

async function readText(file: string): Promise<string | null> {
  return fs.readFile(file, 'utf8').catch(() => null);
}

async function readJson(root: string, rel: string, warnings: TopologyWarning[]): Promise<unknown> {
  const text = await readText(path.join(root, rel));
  if (text === null) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    warnings.push({
      code: 'topology.bad-json',
      message: `${rel}: not JSON (${err instanceof Error ? err.message : String(err)})`,
      files: [rel],
    });
    return undefined;
  }
}

async function readIpDocs(root: string, dir: string, warnings: TopologyWarning[]): Promise<IpDocs> {
  const docs: IpDocs = {};
  for (const name of ['link', 'addr', 'route', 'route6', 'rule', 'rule6', 'neigh'] as const) {
    docs[name] = await readJson(root, `${dir}/ip/${name}.json`, warnings);
  }
  return docs;
}

async function listDirs(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isDirectory() && safeSegment(e.name))
    .map((e) => e.name)
    .sort();
}

/** Capture points from bundle.json `captures[]` (one per point; ring files share one). */
export function pointDeclsFromManifest(manifest: unknown): PointDecl[] {
  const seen = new Map<string, PointDecl>();
  if (!isObject(manifest)) return [];
  for (const c of objects(manifest['captures'])) {
    const id = str(c, 'point');
    if (id === null || seen.has(id)) continue;
    const pod = isObject(c['pod']) ? `${str(c['pod'], 'namespace')}/${str(c['pod'], 'name')}` : null;
    seen.set(id, {
      id,
      node: str(c, 'node'),
      pod,
      iface: str(c, 'iface') ?? id.split('/').pop() ?? '',
      kind: str(c, 'kind'),
    });
  }
  return [...seen.values()];
}

export async function topologyFromBundle(
  bundleDir: string,
  extraPoints: PointDecl[] = [],
): Promise<Topology> {
  const root = path.resolve(bundleDir);
  const warnings: TopologyWarning[] = [];
  const manifest = await readJson(root, 'bundle.json', warnings);
  const nodes = new Map<string, NodeSources>();
  for (const name of await listDirs(path.join(root, 'nodes'))) {
    const dir = `nodes/${name}`;
    nodes.set(name, {
      ip: await readIpDocs(root, dir, warnings),
      uname: await readText(path.join(root, dir, 'os', 'uname')),
      capabilities: await readText(path.join(root, dir, 'terway', 'node_capabilities')),
      mapping: await readText(path.join(root, dir, 'terway', 'mapping.txt')),
    });
  }
  const podNode = new Map<string, string>();
  if (isObject(manifest))
    for (const p of objects(manifest['pods'])) {
      const node = str(p, 'node');
      if (node !== null) podNode.set(`${str(p, 'namespace')}/${str(p, 'name')}`, node);
    }
  const pods = new Map<string, PodSources>();
  for (const ns of await listDirs(path.join(root, 'pods'))) {
    for (const name of await listDirs(path.join(root, 'pods', ns))) {
      const key = `${ns}/${name}`;
      pods.set(key, { node: podNode.get(key) ?? null, ip: await readIpDocs(root, `pods/${key}`, warnings) });
    }
  }
  for (const [key, node] of podNode) if (!pods.has(key)) pods.set(key, { node, ip: {} });
  const points = pointDeclsFromManifest(manifest);
  for (const p of extraPoints) if (!points.some((q) => q.id === p.id)) points.push(p);
  const sources: TopologySources = {
    nodes,
    pods,
    k8s: {
      pods: await readJson(root, 'k8s/pods.json', warnings),
      services: await readJson(root, 'k8s/services.json', warnings),
      endpointslices: await readJson(root, 'k8s/endpointslices.json', warnings),
      nodes: await readJson(root, 'k8s/nodes.json', warnings),
    },
    points,
  };
  const topology = topologyFromSources(sources);
  topology.warnings.unshift(...warnings);
  return topology;
}
