import { UsageError } from '../cli/usage-error.ts';
import type { PodFlag } from './collect-flags.ts';
import type { NsTarget } from './netns.ts';

/** A pod captured in its own network namespace. */
export interface PodTarget {
  namespace: string;
  name: string;
  ns: NsTarget;
}

/** The flags that decide where captures run. */
export interface PlacementFlags {
  netns?: string;
  pid?: number;
  pod?: readonly PodFlag[];
  /** Only whether they were given matters: both capture the node, which the single-pod form does not. */
  iface?: readonly string[];
  any?: boolean;
}

export interface Placement {
  /** Where the node's interfaces are captured and its `ip -j` tables read. */
  nodeNs: NsTarget;
  /** False in the single-pod form: only the pod is captured. */
  captureNode: boolean;
  pods: PodTarget[];
}

/**
 * Where each capture runs. `--netns`/`--pid` name the node's namespace, and each `--pod ns/name=netns:X|=pid:N`
 * adds a pod in its own. The single-pod form, `--pod ns/name --netns X` (the one `--pod` without `=`),
 * instead names that pod's namespace, and then only the pod is captured: mixing it with node captures or other
 * pods would leave no way to say which namespace `--netns` meant.
 */
export function placementFromFlags(f: PlacementFlags): Placement {
  const given: NsTarget | null =
    f.netns !== undefined
      ? { kind: 'netns', name: f.netns }
      : f.pid !== undefined
        ? { kind: 'pid', pid: f.pid }
        : null;
  const pods = f.pod ?? [];
  const seen = new Set<string>();
  for (const p of pods) {
    // Two namespaces under one pod folder would mix their captures under one capture point.
    const key = `${p.namespace}/${p.name}`;
    if (seen.has(key)) throw new UsageError(`--pod ${key} given twice`);
    seen.add(key);
  }
  const targets: PodTarget[] = [];
  const bare: PodFlag[] = [];
  for (const p of pods) {
    if (p.ns === null) bare.push(p);
    else targets.push({ namespace: p.namespace, name: p.name, ns: p.ns });
  }
  const [single] = bare;
  if (single === undefined) return { nodeNs: given ?? { kind: 'own' }, captureNode: true, pods: targets };
  if (bare.length > 1 || pods.length > 1 || given === null || f.iface !== undefined || f.any === true) {
    throw new UsageError(
      '--pod <ns>/<name> without =netns:<name> or =pid:<pid> needs --netns or --pid, and is then the only capture',
    );
  }
  return {
    nodeNs: { kind: 'own' },
    captureNode: false,
    pods: [{ namespace: single.namespace, name: single.name, ns: given }],
  };
}
