/**
 * Teardown, also for a run that was killed: stop the lab's processes (by PID), delete the ht-lab-*
 * namespaces (which removes every interface, route, rule, iptables rule and tc program inside them),
 * unmount the lab's bpffs (which drops the pinned maps) and remove the lab directory.
 * Never touches another ht- prefix (other tests use ht-col-*).
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './exec.ts';
import { NS_PREFIX } from './plan.ts';
import { BPFFS_DIR, LAB_DIR, netnsId, netnsOfPid, ownerFile, recordedLivePids } from './state.ts';

export function labNamespaces(): string[] {
  const res = run('ip', ['-j', 'netns', 'list'], { allowFail: true });
  if (res.status !== 0 || res.stdout.trim() === '') return [];
  const list = JSON.parse(res.stdout) as Array<{ name: string }>;
  return list.map((n) => n.name).filter((name) => name.startsWith(NS_PREFIX));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Processes to stop: the ones the lab recorded, and any living inside an ht-lab-* namespace (only the lab
 * puts processes there). Our own PID is never among them. */
function labPids(namespaces: string[]): number[] {
  const recorded = recordedLivePids();
  const pids = new Set<number>(recorded);
  const ids = new Set(namespaces.map(netnsId).filter((id): id is string => id !== null));
  for (const ns of namespaces) {
    const res = run('ip', ['netns', 'pids', ns], { allowFail: true });
    for (const line of res.stdout.split('\n')) {
      const pid = Number(line.trim());
      if (Number.isInteger(pid) && pid > 0) pids.add(pid);
    }
  }
  pids.delete(process.pid);
  // A recorded PID is stopped only if it still runs the recorded process (checked by start time) and, when
  // it lives in some namespace of ours, that one is ours: nothing else is ever signalled.
  return [...pids].filter((pid) => {
    const net = netnsOfPid(pid);
    return net !== null && (ids.has(net) || recorded.includes(pid));
  });
}

async function stopPids(pids: number[]): Promise<void> {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  for (let i = 0; i < 20 && pids.some(alive); i++) await sleep(100);
  for (const pid of pids.filter(alive)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

function bpffsMounted(): boolean {
  try {
    return readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .some((line) => line.split(' ')[1] === BPFFS_DIR);
  } catch {
    return false;
  }
}

export interface CleanReport {
  namespaces: string[];
  stopped: number[];
  unmounted: boolean;
}

/** Removes the lab directory; with keepOwner, everything in it but the owner claim of the current run. */
function removeLabDir(keepOwner: boolean): void {
  if (!keepOwner) {
    rmSync(LAB_DIR, { recursive: true, force: true });
    return;
  }
  if (!existsSync(LAB_DIR)) return;
  const owner = ownerFile();
  for (const e of readdirSync(LAB_DIR)) {
    const full = join(LAB_DIR, e);
    if (full !== owner) rmSync(full, { recursive: true, force: true });
  }
}

export async function cleanLab(opts: { keepOwner?: boolean } = {}): Promise<CleanReport> {
  const namespaces = labNamespaces();
  const stopped = labPids(namespaces);
  await stopPids(stopped);
  for (const ns of namespaces) run('ip', ['netns', 'del', ns], { allowFail: true });
  let unmounted = false;
  if (bpffsMounted()) {
    run('umount', [BPFFS_DIR]);
    unmounted = true;
  }
  // Only remove the directory once nothing is mounted inside it.
  if (!bpffsMounted()) removeLabDir(opts.keepOwner === true);
  return { namespaces, stopped, unmounted };
}

/** Synchronous last-resort teardown for process exit (no awaiting possible there). */
export function cleanLabSync(): void {
  const namespaces = labNamespaces();
  for (const pid of labPids(namespaces)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const ns of namespaces) run('ip', ['netns', 'del', ns], { allowFail: true });
  if (bpffsMounted()) run('umount', [BPFFS_DIR], { allowFail: true });
  if (!bpffsMounted()) rmSync(LAB_DIR, { recursive: true, force: true });
}
