/**
 * What `hoptrace ingest` and `hoptrace analyze` were pointed at, as a plan: capture files, single
 * bundles, or a TREE of bundles (a folder holding bundle folders at any depth, each marked by its
 * `bundle.json`), with ring-buffer file sets (DESIGN §3 `<iface>_<NNNNN>_<YYYYmmddHHMMSS>.pcapng`) and
 * compressed files among them.
 *
 * Naming (decision, documented in README "Batch"):
 * - one bundle in the run: files are named relative to the bundle root, exactly as before, so capture
 *   points and evidence match bundle.json;
 * - several bundles: each bundle gets a label, its path relative to the tree it was found in (the
 *   folder's own name when a bundle was named directly; `~2`, `~3` appended when two labels are equal),
 *   and files are named `<label>/<path in the bundle>`;
 * - a node name (or a pod's `<namespace>/<pod>`) used by more than one bundle becomes
 *   `<tag>:<node>` in every bundle using it, where the tag is the label with `/` replaced by `.`: the
 *   prefix appears only when names collide, so single-bundle datasets and trees of distinct clusters read
 *   as before. The tag has no `/`, so `node/<node>/<iface>` keeps three parts.
 * Directory names become partition values only through hiveEscape, never as raw paths.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { type FilePlace, placeOf } from '../capture-points.ts';
import { type Compression, sniffCompression } from '../source/open-capture.ts';

export interface PlannedFile {
  abs: string;
  /** as shown in outputs (the `file` column, faults, evidence) */
  display: string;
  /** capture point placement, with collision prefixes applied */
  place: FilePlace;
  /** label of the bundle holding the file; null for a file outside any bundle */
  bundle: string | null;
  /** bytes on disk; 0 when the file cannot be read (its fault is reported by the reader) */
  size: number;
  compression: Compression;
}

export interface PlannedBundle {
  /** absolute path of the bundle root */
  dir: string;
  label: string;
}

export interface InputPlan {
  files: PlannedFile[];
  bundles: PlannedBundle[];
  /** node or pod names that were prefixed, original -> per bundle label -> prefixed */
  renamed: { name: string; bundle: string; as: string }[];
}

const MAGICS = [
  0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1, 0xa1b2cd34, 0x34cdb2a1, 0x0a0d0d0a, 0x28b52ffd,
];

/** Compression of a file by its first bytes, or null when they are not a capture or compressed capture. */
async function sniff(abs: string): Promise<Compression | null> {
  const fh = await fs.open(abs, 'r').catch(() => null);
  if (!fh) return null;
  try {
    const buf = Buffer.alloc(4);
    const { bytesRead } = await fh.read(buf, 0, 4, 0);
    if (bytesRead < 4) return null;
    const compression = sniffCompression(buf);
    if (compression !== 'none') return compression;
    return MAGICS.includes(buf.readUInt32BE(0)) ? 'none' : null;
  } finally {
    await fh.close();
  }
}

const exists = (p: string) =>
  fs.stat(p).then(
    () => true,
    () => false,
  );

/** A folder is a bundle root when it has bundle.json, or (named directly) a nodes/ or pods/ folder. */
async function isBundleRoot(dir: string, direct: boolean): Promise<boolean> {
  if (await exists(path.join(dir, 'bundle.json'))) return true;
  return direct && ((await exists(path.join(dir, 'nodes'))) || (await exists(path.join(dir, 'pods'))));
}

const posix = (p: string) => p.split(path.sep).join('/');

/** Inside a bundle, name a file from the bundle root so capture points and evidence match bundle.json. */
function displayOfLooseFile(abs: string, given: string): string {
  const parts = abs.split(path.sep);
  for (let i = parts.length - 1; i >= 0; i--) {
    if ((parts[i] === 'nodes' || parts[i] === 'pods') && parts.includes('captures')) {
      return parts.slice(i).join('/');
    }
  }
  return given;
}

interface Found {
  abs: string;
  /** path inside its bundle (or as displayed, for loose files) */
  rel: string;
  bundle: PlannedBundle | null;
  compression: Compression;
}

/** The bundle folders of a tree (outermost only: a bundle is never searched for nested bundles). */
export async function findBundles(root: string): Promise<string[]> {
  const abs = path.resolve(root);
  if (await isBundleRoot(abs, true)) return [abs];
  const entries = await fs.readdir(abs, { recursive: true, withFileTypes: true }).catch(() => []);
  const roots = entries
    .filter((e) => e.isFile() && e.name === 'bundle.json')
    .map((e) => e.parentPath)
    .sort();
  return roots.filter((r) => !roots.some((o) => o !== r && r.startsWith(`${o}${path.sep}`)));
}

/** The bundles of one tree with their labels (the same labels planInputs gives them). */
export function planBundles(tree: string, roots: readonly string[]): PlannedBundle[] {
  const abs = path.resolve(tree);
  return roots.map((dir) => ({ dir, label: labelIn(abs, dir) }));
}

const labelIn = (tree: string, dir: string) =>
  dir === tree ? path.basename(tree) : posix(path.relative(tree, dir));

/** Files, bundles and trees -> the files to read, with their names, places and bundles. */
export async function planInputs(inputs: readonly string[]): Promise<InputPlan> {
  const found: Found[] = [];
  const bundles: PlannedBundle[] = [];
  const labels = new Set<string>();
  const addBundle = (dir: string, label: string): PlannedBundle => {
    let unique = label;
    for (let n = 2; labels.has(unique); n++) unique = `${label}~${n}`;
    labels.add(unique);
    const b = { dir, label: unique };
    bundles.push(b);
    return b;
  };
  for (const input of inputs) {
    const abs = path.resolve(input);
    const st = await fs.stat(abs).catch(() => null);
    if (!st || st.isFile()) {
      // a missing file stays in the plan: the reader reports it as a fault like any other
      const compression = st ? ((await sniff(abs)) ?? 'none') : 'none';
      found.push({ abs, rel: st ? displayOfLooseFile(abs, input) : input, bundle: null, compression });
      continue;
    }
    const roots = await findBundles(abs);
    const inTree = roots.map((r) => addBundle(r, labelIn(abs, r)));
    const entries = await fs.readdir(abs, { recursive: true, withFileTypes: true });
    const files = entries
      .filter((e) => e.isFile())
      .map((e) => path.join(e.parentPath, e.name))
      .sort();
    for (const file of files) {
      const bundle = inTree.find((b) => file.startsWith(`${b.dir}${path.sep}`)) ?? null;
      const compression = await sniff(file);
      if (compression === null) continue;
      const rel = posix(path.relative(bundle ? bundle.dir : abs, file));
      found.push({ abs: file, rel, bundle, compression });
    }
  }
  const several = bundles.length > 1;
  const placed = found.map((f) => ({ f, place: placeOf(f.rel) }));
  // which bundles use each node name and pod name
  const users = new Map<string, Set<string>>();
  for (const { f, place } of placed) {
    if (!f.bundle) continue;
    const key = place.node !== null ? `n:${place.node}` : place.pod !== null ? `p:${place.pod}` : null;
    if (key === null) continue;
    const set = users.get(key) ?? new Set<string>();
    set.add(f.bundle.label);
    users.set(key, set);
  }
  const renamed = new Map<string, { name: string; bundle: string; as: string }>();
  const files: PlannedFile[] = [];
  for (const { f, place } of placed) {
    const p = { ...place };
    if (f.bundle) {
      const tag = f.bundle.label.replaceAll('/', '.');
      if (p.node !== null && (users.get(`n:${p.node}`)?.size ?? 0) > 1) {
        const as = `${tag}:${p.node}`;
        renamed.set(`${f.bundle.label}\0${p.node}`, { name: p.node, bundle: f.bundle.label, as });
        p.node = as;
      } else if (p.pod !== null && (users.get(`p:${p.pod}`)?.size ?? 0) > 1) {
        const as = `${tag}:${p.pod}`;
        renamed.set(`${f.bundle.label}\0${p.pod}`, { name: p.pod, bundle: f.bundle.label, as });
        p.pod = as;
      }
    }
    const display = f.bundle && several ? `${f.bundle.label}/${f.rel}` : f.rel;
    const size = await fs.stat(f.abs).then(
      (s) => s.size,
      () => 0,
    );
    files.push({
      abs: f.abs,
      display,
      place: p,
      bundle: f.bundle?.label ?? null,
      size,
      compression: f.compression,
    });
  }
  return { files, bundles, renamed: [...renamed.values()] };
}
