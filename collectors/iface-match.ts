import { inNamespace, type NsTarget } from './netns.ts';
import { runCommand } from './run-command.ts';

/**
 * Default node patterns: the pods' host-side veths (`cali*`, Terway), and `eth*`, which on an ECS node is the
 * primary NIC `eth0` plus every secondary ENI (`eth1`, `eth2`... Terway never renames them, reference §1.1).
 */
export const defaultNodePatterns: readonly string[] = ['cali*', 'eth*'];
/** Inside a pod, the pod's side of its veth. */
export const defaultPodPatterns: readonly string[] = ['eth0'];

/** Shell-style glob (`*`, `?`, `[...]`) over a whole interface name. */
export function globToRegExp(pattern: string): RegExp {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] as string;
    if (ch === '*') re += '.*';
    else if (ch === '?') re += '.';
    else if (ch === '[') {
      const close = pattern.indexOf(']', i + 2);
      if (close < 0) re += '\\[';
      else {
        let body = pattern.slice(i + 1, close).replace(/\\/g, '\\\\');
        if (body.startsWith('!')) body = `^${body.slice(1)}`;
        re += `[${body}]`;
        i = close;
      }
    } else re += ch.replace(/[.+^${}()|\\\]]/g, '\\$&');
  }
  return new RegExp(`${re}$`);
}

export function matchInterfaces(names: readonly string[], patterns: readonly string[]): string[] {
  const res = patterns.map(globToRegExp);
  return names.filter((n) => res.some((r) => r.test(n))).sort();
}

export interface LinkInfo {
  ifindex: number;
  ifname: string;
  operstate: string;
  linkType: string;
  /** Administratively up (IFF_UP). libpcap refuses to capture on a device that is not ("That device is not up"). */
  up: boolean;
}

/** `ip -j link` in the target namespace. Throws a one-line message when it cannot be listed. */
export async function listLinks(target: NsTarget): Promise<LinkInfo[]> {
  const res = await runCommand(inNamespace(target, ['ip', '-j', 'link', 'show']), { timeoutMs: 10_000 });
  if (res.failure !== null) throw new Error(`cannot list interfaces (${res.argv.join(' ')}): ${res.failure}`);
  const parsed: unknown = JSON.parse(res.stdout.toString('utf8'));
  if (!Array.isArray(parsed)) throw new Error('ip -j link: expected a JSON array');
  const links: LinkInfo[] = [];
  for (const item of parsed as unknown[]) {
    if (typeof item !== 'object' || item === null) continue;
    const o = item as Record<string, unknown>;
    if (typeof o['ifname'] !== 'string' || typeof o['ifindex'] !== 'number') continue;
    links.push({
      ifindex: o['ifindex'],
      ifname: o['ifname'],
      operstate: typeof o['operstate'] === 'string' ? o['operstate'] : 'UNKNOWN',
      linkType: typeof o['link_type'] === 'string' ? o['link_type'] : 'unknown',
      up: Array.isArray(o['flags']) && o['flags'].includes('UP'),
    });
  }
  return links;
}

/** DESIGN §4 capture-point kinds, guessed from the name; the analyzers refine them from the topology. */
export type PointKind = 'pod-eth0' | 'veth' | 'eni' | 'primary' | 'any' | 'other';

export function pointKind(scope: 'node' | 'pod', iface: string): PointKind {
  if (iface === 'any') return 'any';
  if (scope === 'pod') return iface === 'eth0' ? 'pod-eth0' : 'other';
  if (iface === 'eth0') return 'primary';
  if (/^eth[1-9][0-9]*$/.test(iface)) return 'eni';
  if (/^(cali|veth|lxc)/.test(iface)) return 'veth';
  return 'other';
}
