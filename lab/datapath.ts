/** Installs the selected datapath on every node: nothing for `kernel`, the tc programs otherwise. */
import { attach, buildBpf, CFG_HOST_DNAT, CFG_LEGACY, fillMaps, mountBpffs } from './bpf.ts';
import { hasHostDnat, type LabMode, noBpfPods } from './modes.ts';
import type { LabPlan } from './plan.ts';
import type { TopologyFacts } from './topology.ts';

export function installDatapath(plan: LabPlan, facts: TopologyFacts, mode: LabMode): void {
  if (mode.datapath === 'kernel') return;
  const obj = buildBpf();
  mountBpffs();
  const noBpf = noBpfPods(mode);
  const cfg =
    (mode.datapath === 'datapathv2-legacy-kernel' ? CFG_LEGACY : 0) | (hasHostDnat(mode) ? CFG_HOST_DNAT : 0);
  for (const node of plan.nodes) {
    const nodeFacts = facts.nodes.find((f) => f.node === node.name)!;
    // Terway patches Cilium to attach bpf_host on every NIC ("attach bpf on multi nic").
    for (const eni of node.enis) attach(node, eni.name, 'from_netdev', obj);
    for (const pod of plan.pods.filter((p) => p.node === node.name && !noBpf.has(p.name))) {
      attach(node, pod.cali, 'from_container', obj);
    }
    fillMaps(plan, node, nodeFacts, { cfg, noBpf });
  }
}
