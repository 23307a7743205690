import { checkSegment } from './path-names.ts';

/**
 * Where a command runs: the collector's own network namespace, a named one (`ip netns exec`, as the lab
 * creates them), or the one of a process (`nsenter -t PID -n`, as for a pod's pause container). Only the
 * network namespace changes: paths and the mount namespace stay the collector's, so files are written
 * where the collector expects them.
 */
export type NsTarget = { kind: 'own' } | { kind: 'netns'; name: string } | { kind: 'pid'; pid: number };

export const ownNamespace: NsTarget = { kind: 'own' };

/** Prefixes an argument vector so it runs inside the target's network namespace. Both tools exec, so the
 * child PID we hold is the PID of the command itself (we signal it directly to stop a capture). */
export function inNamespace(target: NsTarget, argv: readonly string[]): string[] {
  switch (target.kind) {
    case 'own':
      return [...argv];
    case 'netns':
      return ['ip', 'netns', 'exec', target.name, ...argv];
    case 'pid':
      return ['nsenter', '-t', String(target.pid), '-n', '--', ...argv];
  }
}

/** A namespace name is a file under /run/netns: the same rules as a path segment. */
export function checkNetnsName(name: string): string | null {
  return checkSegment('network namespace', name);
}

export function describeNamespace(target: NsTarget): string {
  switch (target.kind) {
    case 'own':
      return "the collector's own network namespace";
    case 'netns':
      return `network namespace '${target.name}'`;
    case 'pid':
      return `the network namespace of pid ${target.pid}`;
  }
}
