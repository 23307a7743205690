import { InvalidArgumentError } from 'commander';
import type { RingSpec } from './capture-engine.ts';
import { parseDurationMs } from './clock.ts';
import type { NsTarget } from './netns.ts';
import { checkSegment } from './path-names.ts';

/** Flag value parsers for `hoptrace collect`: each throws commander's InvalidArgumentError (exit 2, one line). */

export function parsePositiveInt(text: string): number {
  if (!/^[0-9]+$/.test(text) || Number(text) < 1 || !Number.isSafeInteger(Number(text))) {
    throw new InvalidArgumentError('expected a positive integer');
  }
  return Number(text);
}

export function parseDuration(text: string): number {
  const ms = parseDurationMs(text);
  if (ms === null) throw new InvalidArgumentError('expected a duration such as 30s, 5m, 1h or 500ms');
  return ms;
}

/** `--rescan`: a duration, or 0 to turn the rescan off. */
export function parseRescan(text: string): number {
  return text === '0' ? 0 : parseDuration(text);
}

export function parseNetnsName(text: string): string {
  const problem = checkSegment('network namespace', text);
  if (problem !== null) throw new InvalidArgumentError(problem);
  return text;
}

/** `--ring filesize:MB,files:N,duration:S` (the units: MB, converted to dumpcap's kB). */
export function parseRing(text: string): RingSpec {
  const ring: RingSpec = {};
  for (const part of text.split(',')) {
    const m = /^(filesize|files|duration):([0-9]+)$/.exec(part.trim());
    const n = Number(m?.[2]);
    if (m === null || !(n >= 1)) {
      throw new InvalidArgumentError(
        `'${part}': expected filesize:MB, files:N or duration:S, comma-separated`,
      );
    }
    if (m[1] === 'filesize') ring.filesizeKB = n * 1000;
    else if (m[1] === 'files') ring.files = n;
    else ring.durationS = n;
  }
  if (ring.filesizeKB === undefined && ring.durationS === undefined) {
    throw new InvalidArgumentError('a ring needs filesize:MB or duration:S to know when to switch files');
  }
  return ring;
}

export interface PodFlag {
  namespace: string;
  name: string;
  /** Null in the single-pod form, where --netns/--pid name the pod's namespace. */
  ns: NsTarget | null;
}

/** `--pod <namespace>/<name>[=netns:<name>|=pid:<pid>]`. */
export function parsePod(text: string, previous: PodFlag[] = []): PodFlag[] {
  const m = /^([^/=]+)\/([^/=]+)(?:=(netns|pid):(.+))?$/.exec(text);
  if (m === null)
    throw new InvalidArgumentError('expected <namespace>/<pod>, optionally =netns:<name> or =pid:<pid>');
  const [, namespace = '', name = '', kind, where = ''] = m;
  const problem = checkSegment('pod namespace', namespace) ?? checkSegment('pod', name);
  if (problem !== null) throw new InvalidArgumentError(problem);
  let ns: NsTarget | null = null;
  if (kind === 'netns') ns = { kind: 'netns', name: parseNetnsName(where) };
  if (kind === 'pid') ns = { kind: 'pid', pid: parsePositiveInt(where) };
  return [...previous, { namespace, name, ns }];
}

export function collectRepeat(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** `--out` default: `bundle-<node>-<YYYYmmdd-HHMMSS>` in UTC, so collections on one node never collide. */
export function defaultBundleName(node: string, at: Date): string {
  return `bundle-${node}-${at.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)}`;
}
