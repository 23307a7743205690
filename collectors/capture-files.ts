import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { CaptureRecord } from './bundle-manifest.ts';
import type { CaptureExit } from './capture-engine.ts';
import { type CaptureScan, scanCapture } from './capture-scan.ts';
import type { PointKind } from './iface-match.ts';

/** What the collector knows about one capture once its engine has exited. */
export interface FinishedCapture {
  point: string;
  node: string;
  pod: { namespace: string; name: string } | null;
  iface: string;
  kind: PointKind;
  /** Bundle-relative path given to the engine (the ring's stem for ring captures). */
  relPath: string;
  absPath: string;
  ring: boolean;
  lateStart: boolean;
  readyNs: bigint;
  exit: CaptureExit;
  filter: string | null;
  snaplen: number | null;
}

export interface FileResult {
  record: CaptureRecord;
  scan: CaptureScan;
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** dumpcap names ring files `<stem>_<NNNNN>_<YYYYmmddHHMMSS>.<ext>`; returns them in ring order. */
export async function ringFiles(absStemPath: string): Promise<{ file: string; index: number }[]> {
  const dir = path.dirname(absStemPath);
  const ext = path.extname(absStemPath);
  const stem = path.basename(absStemPath, ext);
  const re = new RegExp(`^${escapeRe(stem)}_([0-9]{5,})_[0-9]{14}${escapeRe(ext)}$`);
  const names = await readdir(dir);
  return names
    .map((name) => ({ name, m: re.exec(name) }))
    .filter((x): x is { name: string; m: RegExpExecArray } => x.m !== null)
    .map(({ name, m }) => ({ file: path.join(dir, name), index: Number(m[1]) }))
    .sort((a, b) => a.index - b.index);
}

const maxBig = (a: bigint, b: bigint) => (a > b ? a : b);
const minBig = (a: bigint, b: bigint) => (a < b ? a : b);

/**
 * Turns one finished capture into bundle.json entries: counts each file with the reader, and sets each
 * file's coverage window and drops. The window is what the analyzers trust to say "not seen means not
 * there", so it is conservative: it starts when the engine reported the capture running (or at the first
 * packet if one came earlier) and ends when the stop was requested; a packet-limited capture ends at its
 * last packet; a rotated ring file covers only its own packets (ISB times when dumpcap wrote them).
 */
export async function filesFromCapture(c: FinishedCapture, stopNs: bigint): Promise<FileResult[]> {
  const files = c.ring ? await ringFiles(c.absPath) : [{ file: c.absPath, index: 0 }];
  const relDir = path.posix.dirname(c.relPath);
  const engineDrops = c.exit.stats?.dropped ?? null;
  const results: FileResult[] = [];
  let isbDropSum = 0;
  for (const [i, f] of files.entries()) {
    const rel = c.ring ? `${relDir}/${path.basename(f.file)}` : c.relPath;
    const scan = await scanCapture(f.file, undefined, rel);
    const first = i === 0 && (!c.ring || f.index === 1);
    const last = i === files.length - 1;
    const ended =
      c.exit.reason === 'limit' && scan.lastNs !== null ? scan.lastNs : minBig(stopNs, c.exit.endedNs);
    let start = first ? c.readyNs : (scan.isbStartNs ?? scan.firstNs ?? c.readyNs);
    let end = last ? ended : (scan.isbEndNs ?? scan.lastNs ?? start);
    if (scan.firstNs !== null) start = minBig(start, scan.firstNs);
    if (scan.lastNs !== null) end = maxBig(end, scan.lastNs);
    isbDropSum += scan.isbDrops ?? 0;
    let drops: number | null = scan.isbDrops;
    // The engine's exit summary covers the whole interface; whatever the earlier files' ISBs do not
    // account for belongs to the last file.
    if (last && engineDrops !== null)
      drops = Math.max(drops ?? 0, engineDrops - (isbDropSum - (scan.isbDrops ?? 0)));
    if (c.exit.killed) drops = null;
    const format = f.file.endsWith('.pcapng') ? 'pcapng' : 'pcap';
    const record: CaptureRecord = {
      point: c.point,
      node: c.node,
      pod: c.pod,
      iface: c.iface,
      kind: c.kind,
      path: rel,
      format,
      ring_index: c.ring ? f.index : null,
      start_ns: String(start),
      end_ns: String(end),
      late_start: c.lateStart && first,
      end_reason: last
        ? c.exit.reason === 'error' && scan.error === null && c.exit.code === 0
          ? 'stopped'
          : c.exit.reason
        : 'rotated',
      packets: scan.packets,
      engine_received: c.exit.stats?.received ?? null,
      drops,
      loss: drops === null ? 'unknown' : drops > 0 ? 'dropped' : 'none',
      filter: c.filter,
      snaplen: c.snaplen,
    };
    results.push({ record, scan });
  }
  return results;
}
