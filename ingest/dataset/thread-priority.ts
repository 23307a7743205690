/**
 * Lowers the calling thread's scheduling priority (Linux: a thread's nice value is its own, and the
 * threads it starts inherit it). `hoptrace analyze` runs its ingest lanes this way: the analysis thread
 * is the run's critical path, and the ingest, which has slack, takes what CPU the analysis leaves.
 * Elsewhere (no /proc/thread-self), or without the right, the priority stays as it is.
 */
import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

export function lowerThreadPriority(steps: number): void {
  if (steps <= 0) return;
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    setPriority(tid, Math.min(19, getPriority(tid) + steps));
  } catch {
    // the priority stays as it is
  }
}
