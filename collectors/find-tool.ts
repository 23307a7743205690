import { accessSync, constants } from 'node:fs';
import path from 'node:path';

/**
 * Used only when PATH is unset or empty (a bare `env -i`, some init systems). A PATH that is set is the user's
 * choice and is followed exactly, as `which` and the shell do: otherwise a user (or a test) who hides dumpcap
 * from PATH to force tcpdump would still get dumpcap, and a fake `kubectl` first on PATH would be bypassed.
 * sudo's secure_path already carries the sbin folders.
 */
const defaultDirs = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** Absolute path of an executable found on PATH, or null. */
export function findTool(name: string, envPath: string | undefined = process.env['PATH']): string | null {
  const given = (envPath ?? '').split(':').filter((d) => d.length > 0);
  for (const dir of given.length > 0 ? given : defaultDirs) {
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this folder
    }
  }
  return null;
}
