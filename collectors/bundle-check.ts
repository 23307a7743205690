import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { BundleManifest } from './bundle-manifest.ts';
import { validateManifest } from './bundle-manifest.ts';
import { scanCapture } from './capture-scan.ts';
import { checkSegment, insideBundle } from './path-names.ts';

/** One optional part of a bundle and what its absence costs the analysis (DESIGN §3: say what is missing). */
interface Part {
  /** Path relative to the node's folder (`nodes/<node>/`), the pod's (`pods/<ns>/<pod>/`) or the bundle. */
  rel: string;
  scope: 'node' | 'pod' | 'bundle';
  cost: string;
}

const parts: readonly Part[] = [
  {
    rel: 'ip/link.json',
    scope: 'node',
    cost: 'interface indexes unknown: an `any` capture cannot name its interfaces, veths cannot be paired with pods',
  },
  {
    rel: 'ip/addr.json',
    scope: 'node',
    cost: 'node and ENI addresses unknown: same-node vs cross-node (scenarios 1-3 vs 4) relies on k8s/ alone',
  },
  {
    rel: 'ip/route.json',
    scope: 'node',
    cost: 'pod routes (`<podIP> dev cali*`) unknown: veth capture points cannot be tied to pod IPs',
  },
  {
    rel: 'ip/rule.json',
    scope: 'node',
    cost: 'pod-to-ENI rules (`from <podIP> lookup 1000+ifindex`) unknown: scenarios 2/3 and 5/6 cannot be told apart',
  },
  {
    rel: 'ip/neigh.json',
    scope: 'node',
    cost: 'neighbour table unknown: gateway-MAC invariants are not checked',
  },
  {
    rel: 'ip/route6.json',
    scope: 'node',
    cost: 'IPv6 routes unknown: IPv6 flows are classified from k8s/ alone',
  },
  { rel: 'ip/rule6.json', scope: 'node', cost: 'IPv6 rules unknown: IPv6 ENI ownership unknown' },
  {
    rel: 'os/uname',
    scope: 'node',
    cost: 'kernel unknown: the expected fast path (4.19 vs 5.10+) cannot be chosen, datapath checks are inconclusive',
  },
  {
    rel: 'os/os-release',
    scope: 'node',
    cost: 'distribution unknown (Alibaba Cloud Linux 2 vs 3): reported as unknown',
  },
  {
    rel: 'terway/mapping.txt',
    scope: 'node',
    cost: "Terway's pod/ENI mapping unavailable: ENI ownership comes from ip rules alone",
  },
  {
    rel: 'terway/node_capabilities',
    scope: 'node',
    cost: 'claimed datapath unknown: the observed datapath is reported without a claim to compare',
  },
  {
    rel: 'ip/link.json',
    scope: 'pod',
    cost: "the pod's interface indexes unknown: its eth0 cannot be paired with its host-side veth",
  },
  {
    rel: 'ip/addr.json',
    scope: 'pod',
    cost: "the pod's addresses unknown: its capture point is tied to the pod by k8s/pods.json alone",
  },
  { rel: 'k8s/pods.json', scope: 'bundle', cost: 'pod names unknown: flows are named by IP only' },
  {
    rel: 'k8s/services.json',
    scope: 'bundle',
    cost: 'Service VIPs unknown: scenarios 5-8 cannot be classified',
  },
  {
    rel: 'k8s/endpointslices.json',
    scope: 'bundle',
    cost: 'Service backends unknown: the VIP-to-backend rewrite cannot be checked',
  },
  {
    rel: 'k8s/nodes.json',
    scope: 'bundle',
    cost: 'node IPs and roles unknown: NodePort (8b) and cross-node scenarios rely on ip/ alone',
  },
];

export interface CheckResult {
  /** One line per fault that makes the bundle unusable as it is (exit 2). */
  problems: string[];
  /** Oddities that do not break it. */
  warnings: string[];
  present: string[];
  missing: { path: string; cost: string }[];
  captures: { point: string; path: string; packets: number; drops: number | null; loss: string }[];
}

async function isFile(full: string): Promise<boolean> {
  try {
    return (await stat(full)).isFile();
  } catch {
    return false;
  }
}

async function listCaptureFiles(root: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (rel: string, depth: number): Promise<void> => {
    if (depth > 6) return;
    let entries: import('node:fs').Dirent[];
    try {
      entries = await readdir(path.join(root, rel), { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const child = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) await walk(child, depth + 1);
      else if (e.isFile() && /\/captures\/[^/]+\.pcap(ng)?$/.test(child)) found.push(child);
    }
  };
  await walk('nodes', 0);
  await walk('pods', 0);
  return found;
}

type CaptureEntry = BundleManifest['captures'][number];

/** Entries of a manifest that failed the schema but still name a path: checked anyway, so one bad field does not
 * hide every missing or truncated file (all problems at once, as Falco's loader reports them). */
function usableCaptures(data: unknown): CaptureEntry[] {
  const list = (data as { captures?: unknown } | null)?.captures;
  if (!Array.isArray(list)) return [];
  return list.filter(
    (c): c is CaptureEntry =>
      typeof c === 'object' &&
      c !== null &&
      typeof (c as { path?: unknown }).path === 'string' &&
      typeof (c as { point?: unknown }).point === 'string',
  );
}

/** Names listed under `key` (`nodes`, `pods`) that are safe path segments; others are the schema's problem. */
function listedNames(data: unknown, key: 'nodes' | 'pods'): string[] {
  const list = (data as Record<string, unknown> | null)?.[key];
  if (!Array.isArray(list)) return [];
  const names: string[] = [];
  for (const item of list as unknown[]) {
    const o = (item ?? {}) as { name?: unknown; namespace?: unknown };
    if (typeof o.name !== 'string' || checkSegment('name', o.name) !== null) continue;
    if (key === 'nodes') names.push(o.name);
    else if (typeof o.namespace === 'string' && checkSegment('name', o.namespace) === null)
      names.push(`${o.namespace}/${o.name}`);
  }
  return names;
}

/**
 * `hoptrace bundle check`: validates bundle.json against its schema, reads every listed capture with the
 * project's reader, and lists which optional parts are present or missing and what each missing one costs.
 */
export async function checkBundle(dir: string): Promise<CheckResult> {
  const r: CheckResult = { problems: [], warnings: [], present: [], missing: [], captures: [] };
  const root = path.resolve(dir);
  // no folder at all: one line, not a list of every part it lacks
  const st = await stat(root).catch(() => null);
  if (!st?.isDirectory()) {
    r.problems.push(`${dir}: no such bundle folder`);
    return r;
  }
  let data: unknown = null;
  try {
    data = JSON.parse(await readFile(path.join(root, 'bundle.json'), 'utf8'));
    r.problems.push(...validateManifest(data));
  } catch (e) {
    const why = e instanceof SyntaxError ? `not valid JSON: ${e.message}` : 'missing or unreadable';
    r.problems.push(`bundle.json: ${why}`);
  }

  const listed = new Set<string>();
  const captures = usableCaptures(data);
  for (const c of captures) {
    listed.add(c.path);
    const full = insideBundle(root, c.path);
    if (full === null) {
      r.problems.push(`${c.path}: path leaves the bundle`);
      continue;
    }
    if (!(await isFile(full))) {
      r.problems.push(`${c.path}: listed for ${c.point} but missing`);
      continue;
    }
    const scan = await scanCapture(full, undefined, c.path);
    if (scan.error !== null) r.problems.push(`${c.path}: ${scan.error}`);
    else if (typeof c.packets === 'number' && scan.packets !== c.packets)
      r.problems.push(`${c.path}: bundle.json says ${c.packets} packets, the file has ${scan.packets}`);
    if (!scan.tsNonDecreasing) r.warnings.push(`${c.path}: timestamps go backwards`);
    const window = [c.start_ns, c.end_ns].map((v) =>
      typeof v === 'string' && /^[0-9]{1,20}$/.test(v) ? BigInt(v) : null,
    );
    const [from, to] = window;
    if (from != null && to != null && from > to)
      r.problems.push(`${c.path}: coverage window starts after it ends`);
    r.captures.push({ point: c.point, path: c.path, packets: scan.packets, drops: c.drops, loss: c.loss });
  }
  for (const f of await listCaptureFiles(root)) {
    if (!listed.has(f))
      r.warnings.push(`${f}: capture file not listed in bundle.json (ignored by the analyzers)`);
  }
  if (data !== null && captures.length === 0) r.problems.push('bundle.json lists no capture files');

  const nodes = listedNames(data, 'nodes');
  const pods = listedNames(data, 'pods');
  for (const part of parts) {
    const rels =
      part.scope === 'bundle'
        ? [part.rel]
        : part.scope === 'node'
          ? nodes.map((n) => `nodes/${n}/${part.rel}`)
          : pods.map((p) => `pods/${p}/${part.rel}`);
    for (const rel of rels) {
      const full = insideBundle(root, rel);
      if (full === null || !(await isFile(full))) {
        r.missing.push({ path: rel, cost: part.cost });
        continue;
      }
      r.present.push(rel);
      // The importers parse these files; one that is present but unreadable would fail the analysis later.
      if (rel.endsWith('.json')) {
        const problem = await jsonProblem(full);
        if (problem !== null) r.problems.push(`${rel}: ${problem}`);
      }
    }
  }
  return r;
}

/** Why a metadata JSON file cannot be used (`ip -j` and `kubectl -o json` write an array or an object), or null. */
async function jsonProblem(full: string): Promise<string | null> {
  try {
    const value: unknown = JSON.parse(await readFile(full, 'utf8'));
    return typeof value === 'object' && value !== null ? null : 'expected a JSON array or object';
  } catch (e) {
    return e instanceof SyntaxError ? `not valid JSON: ${e.message}` : 'unreadable';
  }
}

/** The report `bundle check` prints on stdout (problems go to stderr, one line each). */
export function formatCheck(r: CheckResult): string[] {
  const lines: string[] = [];
  for (const c of r.captures) {
    const loss =
      c.loss === 'none' ? 'no drops' : c.loss === 'dropped' ? `DROPPED ${c.drops}` : 'drops UNKNOWN';
    lines.push(`capture  ${c.point}  ${c.path}  ${c.packets} packets, ${loss}`);
  }
  for (const p of r.present) lines.push(`present  ${p}`);
  for (const m of r.missing) lines.push(`missing  ${m.path}: ${m.cost}`);
  for (const w of r.warnings) lines.push(`warning  ${w}`);
  lines.push(
    r.problems.length === 0
      ? 'bundle ok'
      : `bundle broken: ${r.problems.length} problem${r.problems.length === 1 ? '' : 's'}`,
  );
  return lines;
}
