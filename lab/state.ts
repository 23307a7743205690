/**
 * The lab's on-disk state outside the namespaces, all under one directory it owns, so that
 * `hoptrace lab clean` can undo a run that was killed: the bpffs mount (pinned maps), built BPF
 * objects, and the PIDs of every process the lab started.
 */
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

export const LAB_DIR = process.env['HT_LAB_DIR'] ?? '/run/ht-lab';
export const BPFFS_DIR = join(LAB_DIR, 'bpffs');
export const BUILD_DIR = join(LAB_DIR, 'build');
const PIDS_FILE = join(LAB_DIR, 'pids');

export function ensureLabDir(): void {
  mkdirSync(LAB_DIR, { recursive: true, mode: 0o700 });
}

/** Remembers a PID with its start time (field 22 of /proc/<pid>/stat) so a reused PID is never killed. */
export function recordPid(pid: number): void {
  if (pid <= 0) return;
  ensureLabDir();
  const start = procStartTime(pid);
  if (start === null) return;
  appendFileSync(PIDS_FILE, `${pid} ${start}\n`);
}

export function procStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces; fields after the last ')' are fixed.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19] ?? null;
  } catch {
    return null;
  }
}

/** PIDs recorded by this or an earlier (killed) run that still run the same process. */
export function recordedLivePids(): number[] {
  if (!existsSync(PIDS_FILE)) return [];
  const live: number[] = [];
  for (const line of readFileSync(PIDS_FILE, 'utf8').split('\n')) {
    const [pidText, start] = line.trim().split(' ');
    const pid = Number(pidText);
    if (!Number.isInteger(pid) || pid <= 0 || !start) continue;
    if (procStartTime(pid) === start) live.push(pid);
  }
  return live;
}

export function pidsFile(): string {
  return PIDS_FILE;
}

/** The network namespace inode a process lives in, as `net:[N]`, or null when it is gone. */
export function netnsOfPid(pid: number): string | null {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`);
  } catch {
    return null;
  }
}

/** `net:[N]` of a named namespace (`/run/netns/<name>` is a bind mount of its nsfs inode). */
export function netnsId(name: string): string | null {
  try {
    return `net:[${statSync(`/run/netns/${name}`).ino}]`;
  } catch {
    return null;
  }
}

const OWNER_FILE = join(LAB_DIR, 'owner');

/** The PID of a lab run that is still alive (namespace names are fixed: two runs at once would collide). */
export function liveOwner(): number | null {
  if (!existsSync(OWNER_FILE)) return null;
  const [pidText, start] = readFileSync(OWNER_FILE, 'utf8').trim().split(' ');
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return null;
  return procStartTime(pid) === start ? pid : null;
}

/**
 * Makes this process the lab's owner, atomically: the owner file is created exclusively, so of two runs
 * starting at the same moment exactly one wins (the other gets the live owner's PID and must not touch
 * anything). A file left by a dead run is replaced by a rename, never by removing a live run's claim.
 * Returns null on success, or the PID of the live owner.
 */
export function claimOwner(): number | null {
  ensureLabDir();
  const line = `${process.pid} ${procStartTime(process.pid) ?? ''}\n`;
  try {
    writeFileSync(OWNER_FILE, line, { flag: 'wx', mode: 0o600 });
    return null;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const owner = liveOwner();
  if (owner !== null) return owner;
  const tmp = `${OWNER_FILE}.${process.pid}`;
  writeFileSync(tmp, line, { mode: 0o600 });
  renameSync(tmp, OWNER_FILE);
  return null;
}

export function ownerFile(): string {
  return OWNER_FILE;
}
