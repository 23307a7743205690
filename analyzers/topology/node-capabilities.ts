/**
 * Importers for the two small node files: `/var/run/eni/node_capabilities` (INI `key = value`, reference
 * §3.3: `datapath` says which datapath the node claims) and `os/uname` (`uname -r`: the kernel decides
 * which fast path is possible, reference §1.4).
 */
import { ClaimedDatapath } from './model.ts';

export interface NodeCapabilities {
  values: Record<string, string>;
  datapath: ClaimedDatapath;
}

const known = new Set<string>(Object.values(ClaimedDatapath));

export function capabilitiesFromText(text: string): NodeCapabilities {
  const values: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';') || line.startsWith('[')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    values[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  const claimed = values['datapath'] ?? '';
  const datapath = known.has(claimed) ? (claimed as ClaimedDatapath) : ClaimedDatapath.unknown;
  return { values, datapath };
}

/** `uname -r` output: the first non-empty line, or null. */
export function kernelFromUname(text: string): string | null {
  return (
    text
      .split(/\r?\n/)
      .find((l) => l.trim() !== '')
      ?.trim() ?? null
  );
}

/** [major, minor] of a kernel release (`5.10.134-16.al8.x86_64` -> [5, 10]), or null. */
export function kernelVersion(release: string | null): [number, number] | null {
  const m = /^(\d+)\.(\d+)/.exec(release ?? '');
  return m ? [Number(m[1]), Number(m[2])] : null;
}
