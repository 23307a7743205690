/**
 * Worker bundles kept on disk between processes (ts-worker.ts says why). A bundle is stored as one JSON
 * file with the size and modification time of every file it was made from, plus the files that change
 * how it is made (esbuild's package.json, the nearest tsconfig.json and package.json), and is used only
 * while all of them still match and its code still has the digest stored with it: an edited source, a
 * checkout or an upgrade makes it stale. The file is written whole under a temporary name and renamed,
 * so processes bundling at once (a batch's jobs) never read half of one. Any failure to read or write
 * the cache only means bundling again.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BundleInputs {
  /** absolute paths of the files the bundle was made from */
  files: string[];
}

interface Stamp {
  file: string;
  size: number;
  mtimeMs: number;
}

interface CachedBundle {
  stamps: Stamp[];
  code: string;
  /** sha256 of `code`: a file cut short or altered on disk is bundled again, not run */
  sha256: string;
}

const digest = (code: string): string => createHash('sha256').update(code).digest('hex');

/** where bundles are kept: computed when used, as this module is also bundled into workers (data: URLs) */
function defaultDir(): string {
  return fileURLToPath(new URL('../../node_modules/.cache/hoptrace/', import.meta.url));
}

function cacheFile(module: URL, dir: string): string {
  const key = createHash('sha256').update(module.href).digest('hex').slice(0, 16);
  return path.join(dir, `${path.basename(module.pathname)}-${key}.json`);
}

/** Files outside the module graph that change its bundle. */
async function settings(module: URL): Promise<string[]> {
  const found: string[] = [];
  try {
    found.push(createRequire(import.meta.url).resolve('esbuild/package.json'));
  } catch {
    // no esbuild: nothing is bundled anyway
  }
  for (const name of ['tsconfig.json', 'package.json']) {
    let dir = path.dirname(fileURLToPath(module));
    for (;;) {
      const candidate = path.join(dir, name);
      if (await stamp(candidate)) {
        found.push(candidate);
        break;
      }
      const up = path.dirname(dir);
      if (up === dir) break;
      dir = up;
    }
  }
  return found;
}

async function stamp(file: string): Promise<Stamp | null> {
  try {
    const s = await fs.stat(file);
    return s.isFile() ? { file, size: s.size, mtimeMs: s.mtimeMs } : null;
  } catch {
    return null;
  }
}

function isCachedBundle(v: unknown): v is CachedBundle {
  if (typeof v !== 'object' || v === null) return false;
  const { stamps, code, sha256 } = v as Record<string, unknown>;
  return (
    typeof code === 'string' &&
    typeof sha256 === 'string' &&
    Array.isArray(stamps) &&
    stamps.every(
      (s: unknown) =>
        typeof s === 'object' &&
        s !== null &&
        typeof (s as Stamp).file === 'string' &&
        typeof (s as Stamp).size === 'number' &&
        typeof (s as Stamp).mtimeMs === 'number',
    )
  );
}

/** The cached bundle of `module`, or null when there is none or any file it was made from changed. */
export async function readCachedBundle(module: URL, dir = defaultDir()): Promise<string | null> {
  let cached: unknown;
  try {
    cached = JSON.parse(await fs.readFile(cacheFile(module, dir), 'utf8'));
  } catch {
    return null;
  }
  if (!isCachedBundle(cached) || cached.stamps.length === 0) return null;
  const now = await Promise.all(cached.stamps.map((s) => stamp(s.file)));
  const fresh = cached.stamps.every((s, i) => now[i]?.size === s.size && now[i]?.mtimeMs === s.mtimeMs);
  return fresh && digest(cached.code) === cached.sha256 ? cached.code : null;
}

/**
 * Stores `code` as the bundle of `module` made from `inputs` by a build that started at `startedAt`
 * (Date.now()). A file modified since shortly before the build may have been read before its last
 * edit, and its stamp would then vouch for a stale bundle: such a bundle is not stored.
 */
export async function writeCachedBundle(
  module: URL,
  code: string,
  inputs: BundleInputs,
  startedAt: number,
  dir = defaultDir(),
): Promise<void> {
  const files = [...new Set([...inputs.files, ...(await settings(module))])];
  const stamps = await Promise.all(files.map(stamp));
  // file times may be coarser than the clock and lag it a little: two seconds of margin
  if (stamps.some((s) => s === null || s.mtimeMs > startedAt - 2000)) return;
  const entry: CachedBundle = { stamps: stamps as Stamp[], code, sha256: digest(code) };
  const target = cacheFile(module, dir);
  const temp = `${target}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  try {
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(temp, JSON.stringify(entry));
    await fs.rename(temp, target);
  } catch {
    await fs.rm(temp, { force: true }).catch(() => {});
  }
}
