/**
 * What a lab run reproduces: one datapath per run, optionally with faults for negative tests.
 * - `datapathv2`: eBPF on every cali and ENI (kernel >= 5.10 semantics: redirect_peer, redirect_neigh);
 * - `datapathv2-legacy-kernel`: Terway <= 1.13 on 4.19 (plain bpf_redirect, no TTL change to the ENI);
 * - `kernel`: no programs; policy routing and the kube-proxy iptables rules do everything.
 * Faults (on top of a datapathv2 mode): `no-bpf:<pod>` leaves that pod's veth without programs;
 * `host-dnat` leaves Service DNAT to iptables in the node's stack instead of the source veth.
 */
import { UsageError } from '../cli/usage-error.ts';
import type { LabPlan } from './plan.ts';

export const DATAPATHS = ['datapathv2', 'datapathv2-legacy-kernel', 'kernel'] as const;
export type Datapath = (typeof DATAPATHS)[number];

export type Fault = { kind: 'no-bpf'; pod: string } | { kind: 'host-dnat' };

export interface LabMode {
  datapath: Datapath;
  faults: Fault[];
}

export function parseDatapath(text: string): Datapath {
  const found = DATAPATHS.find((d) => d === text);
  if (!found) throw new UsageError(`unknown datapath '${text}' (one of ${DATAPATHS.join(', ')})`);
  return found;
}

export function parseFault(text: string, plan: LabPlan): Fault {
  if (text === 'host-dnat') return { kind: 'host-dnat' };
  const m = /^no-bpf:(.+)$/.exec(text);
  if (m?.[1]) {
    const pod = m[1];
    if (!plan.pods.some((p) => p.name === pod)) {
      throw new UsageError(
        `fault no-bpf: unknown pod '${pod}' (one of ${plan.pods.map((p) => p.name).join(', ')})`,
      );
    }
    return { kind: 'no-bpf', pod };
  }
  throw new UsageError(`unknown fault '${text}' (no-bpf:<pod> or host-dnat)`);
}

export function checkMode(mode: LabMode): void {
  if (mode.datapath === 'kernel' && mode.faults.length > 0) {
    throw new UsageError('faults apply to the eBPF datapaths only (kernel mode has no programs to remove)');
  }
}

/** A directory-safe name for the mode: fixtures/<modeName>/. */
export function modeName(mode: LabMode): string {
  const faults = mode.faults.map((f) => (f.kind === 'host-dnat' ? 'host-dnat' : `no-bpf-${f.pod}`));
  return [mode.datapath, ...faults].join('+');
}

export function noBpfPods(mode: LabMode): Set<string> {
  return new Set(mode.faults.flatMap((f) => (f.kind === 'no-bpf' ? [f.pod] : [])));
}

export function hasHostDnat(mode: LabMode): boolean {
  return mode.faults.some((f) => f.kind === 'host-dnat');
}
