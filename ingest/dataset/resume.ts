/**
 * Resuming an interrupted `hoptrace ingest`. Each input file's rows end up in Parquet files of their
 * own (a lane finishes its part files at every file's end), and when a file is done a line goes to
 * `progress.jsonl` in the partial folder: the file (path, size, mtime, where it sits in the plan) and
 * what reading it gave (records, fault, `captures` rows, part files). A later run over the same inputs
 * takes over a partial folder left behind, keeps the part files of every file whose line still matches
 * its input, deletes everything else written there (the unfinished files' parts), and reads only the
 * other files. A line is written after its parts are complete on disk, so a line never names a part
 * that could be cut short; a half-written last line (the run killed mid-write) is ignored.
 */
import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { PlannedFile } from './bundle-tree.ts';
import type { CaptureRow, FileDone } from './ingest-worker.ts';

const PROGRESS = 'progress.jsonl';

/** One finished input file, as progress.jsonl stores it. */
interface ProgressEntry {
  /** what must not have changed for the rows to be kept */
  key: string;
  done: Omit<FileDone, 'index' | 'captures'> & { captures: StoredCaptureRow[] };
}

type StoredCaptureRow = Omit<CaptureRow, 'start_ns' | 'end_ns' | 'clock_offset_ns'> & {
  start_ns: string | null;
  end_ns: string | null;
  clock_offset_ns: string;
};

function fileKey(f: PlannedFile): string {
  let mtime = -1;
  try {
    mtime = fsSync.statSync(f.abs).mtimeMs;
  } catch {
    // an unreadable file never matches a recorded one
  }
  return JSON.stringify([f.abs, f.display, f.bundle, f.place, f.size, mtime]);
}

function storedCaptures(rows: readonly CaptureRow[]): StoredCaptureRow[] {
  return rows.map((c) => ({
    ...c,
    start_ns: c.start_ns === null ? null : String(c.start_ns),
    end_ns: c.end_ns === null ? null : String(c.end_ns),
    clock_offset_ns: String(c.clock_offset_ns),
  }));
}

function loadedCaptures(rows: readonly StoredCaptureRow[]): CaptureRow[] {
  return rows.map((c) => ({
    ...c,
    start_ns: c.start_ns === null ? null : BigInt(c.start_ns),
    end_ns: c.end_ns === null ? null : BigInt(c.end_ns),
    clock_offset_ns: BigInt(c.clock_offset_ns),
  }));
}

/**
 * Records a finished input file in the partial folder `work` (its parts relative to `work`).
 * Synchronous: one small append per input file, in the order the files finish.
 */
export function recordProgress(work: string, f: PlannedFile, d: FileDone): void {
  const { index: _index, captures, ...rest } = d;
  const parts = d.parts.map((p) => path.relative(work, p));
  const entry: ProgressEntry = {
    key: fileKey(f),
    done: { ...rest, captures: storedCaptures(captures), parts },
  };
  fsSync.appendFileSync(path.join(work, PROGRESS), `${JSON.stringify(entry)}\n`);
}

async function readEntries(work: string): Promise<ProgressEntry[]> {
  const text = await fs.readFile(path.join(work, PROGRESS), 'utf8').catch(() => '');
  const out: ProgressEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      out.push(JSON.parse(line) as ProgressEntry);
    } catch {
      // the line the run was writing when it was killed
    }
  }
  return out;
}

/**
 * The partial folder of an earlier run of `outDir` that recorded progress and is not running any more
 * (its pid is dead, or is ours: an earlier call in this process), newest first; null when none.
 */
export async function leftoverPartial(
  outDir: string,
  alive: (pid: number) => boolean,
): Promise<string | null> {
  const parent = path.dirname(outDir);
  const base = path.basename(outDir);
  const names = await fs.readdir(parent).catch(() => []);
  let best: { dir: string; mtime: number } | null = null;
  for (const name of names) {
    if (!name.startsWith(`${base}.partial-`)) continue;
    const pid = Number(name.slice(base.length + '.partial-'.length));
    if (!Number.isInteger(pid) || (pid !== process.pid && alive(pid))) continue;
    const dir = path.join(parent, name);
    const st = await fs.stat(path.join(dir, PROGRESS)).catch(() => null);
    if (st && (!best || st.mtimeMs > best.mtime)) best = { dir, mtime: st.mtimeMs };
  }
  return best?.dir ?? null;
}

/**
 * Prepares the partial folder `work` (taken over from an earlier run) for this run: keeps the parts of
 * the files in `files` whose progress line still matches, moved into `work/packets` under names no new
 * part can take; removes every other Parquet file and the lanes' folders; rewrites progress.jsonl with
 * the kept lines. Returns the kept files' results by plan index.
 */
export async function resumeIn(work: string, files: readonly PlannedFile[]): Promise<Map<number, FileDone>> {
  const entries = await readEntries(work);
  const byKey = new Map<string, ProgressEntry>();
  for (const e of entries) byKey.set(e.key, e);
  const kept = new Map<number, FileDone>();
  const keptEntries: ProgressEntry[] = [];
  const packets = path.join(work, 'packets');
  let n = 0;
  for (const [index, f] of files.entries()) {
    const key = fileKey(f);
    const e = byKey.get(key);
    const found = e ? await located(work, e.done.parts) : null;
    if (!e || !found) continue;
    byKey.delete(key);
    const parts: string[] = [];
    for (const rel of found) {
      // `packets/node=X/hour=Y/name` or `.lanes/wK/node=X/hour=Y/name`: the last three parts
      const [node, hour, name] = rel.split(path.sep).slice(-3) as [string, string, string];
      const to = path.join(packets, node, hour, `k${process.pid}-${n++}-${name}`);
      await fs.mkdir(path.dirname(to), { recursive: true });
      await fs.rename(path.join(work, rel), to);
      parts.push(to);
    }
    kept.set(index, { ...e.done, index, captures: loadedCaptures(e.done.captures), parts });
    keptEntries.push({ key, done: { ...e.done, parts: parts.map((p) => path.relative(work, p)) } });
  }
  const keep = new Set([...kept.values()].flatMap((d) => d.parts));
  await fs.rm(path.join(work, '.lanes'), { recursive: true, force: true });
  const written = await fs.readdir(packets, { recursive: true, withFileTypes: true }).catch(() => []);
  for (const e of written) {
    const p = path.join(e.parentPath, e.name);
    if (e.isFile() && !keep.has(p)) await fs.rm(p, { force: true });
  }
  await fs.writeFile(path.join(work, PROGRESS), keptEntries.map((e) => `${JSON.stringify(e)}\n`).join(''));
  return kept;
}

/** The name a lane's part `name` gets when write-dataset.ts moves it from the lane's folder `lane` into packets/. */
export function lanePartName(lane: string, name: string): string {
  return `${lane}-${name}`;
}

/**
 * Where the recorded `parts` (relative to `work`) are now, or null when one is gone. A part recorded in
 * a lane's folder `.lanes/wK/...` may have been moved into packets/ already: a run interrupted after
 * its lanes finished (writing the small tables).
 */
async function located(work: string, parts: readonly string[]): Promise<string[] | null> {
  const exists = async (rel: string) => (await fs.stat(path.join(work, rel)).catch(() => null)) !== null;
  const out: string[] = [];
  for (const rel of parts) {
    if (await exists(rel)) {
      out.push(rel);
      continue;
    }
    const [top, lane, ...rest] = rel.split(path.sep);
    const name = rest.pop();
    if (top !== '.lanes' || !lane || !name) return null;
    const moved = path.join('packets', ...rest, lanePartName(lane, name));
    if (!(await exists(moved))) return null;
    out.push(moved);
  }
  return out;
}

/** Removes the progress log once the dataset is complete (it is not part of a dataset). */
export async function dropProgress(work: string): Promise<void> {
  await fs.rm(path.join(work, PROGRESS), { force: true });
}
