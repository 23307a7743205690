/**
 * Netfilter rules of the lab, each loaded with one `iptables-restore` inside its namespace (atomic, and
 * the rules are data on stdin, never a shell line):
 * - kube-proxy-style Service rules on every node in every mode, as on real DataPath V2 nodes where the
 *   eBPF path bypasses them (they only act in `kernel` mode, for `no-bpf` pods and with `host-dnat`);
 * - the VPC's TTL compensation (Alibaba Cloud's VPC does not decrement the TTL, a Linux router does);
 * - the SLB's DNAT of the LoadBalancer address to the ENI backend pod, keeping the client IP.
 */
import { createHash } from 'node:crypto';
import { runIn } from './exec.ts';
import { BACKEND_PORT_BASE, BACKEND_PORT_SPAN, type LabPlan, podByName, SLB_NS, VPC_NS } from './plan.ts';

/** kube-proxy names chains by a hash of the service port (and endpoint); 16 upper-case characters. */
function chainHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16).toUpperCase();
}

export function kubeProxyRules(plan: LabPlan): string {
  const svc = plan.service;
  const chains = new Set<string>(['KUBE-SERVICES', 'KUBE-MARK-MASQ', 'KUBE-POSTROUTING']);
  const rules: string[] = [
    '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
    '-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000',
    '-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN',
    '-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0',
    '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
  ];
  for (const port of svc.ports) {
    const portName = `${svc.namespace}/${svc.name}:${port.name}`;
    const svcChain = `KUBE-SVC-${chainHash(`${portName}${port.proto}`)}`;
    chains.add(svcChain);
    rules.push(
      `-A KUBE-SERVICES -d ${svc.clusterIp}/32 -p ${port.proto} -m comment --comment "${portName} cluster IP" -m ${port.proto} --dport ${port.port} -j ${svcChain}`,
    );
    const seps = svc.backends.map((name) => {
      const pod = podByName(plan, name);
      const chain = `KUBE-SEP-${chainHash(`${portName}${port.proto}${pod.ip4}:${port.targetPort}`)}`;
      chains.add(chain);
      rules.push(`-A ${chain} -s ${pod.ip4}/32 -m comment --comment "${portName}" -j KUBE-MARK-MASQ`);
      rules.push(
        `-A ${chain} -p ${port.proto} -m comment --comment "${portName}" -m ${port.proto} -j DNAT --to-destination ${pod.ip4}:${port.targetPort}`,
      );
      return { chain, pod: name };
    });
    // Lab addition so every flow's backend is known in advance (see plan.ts backendIndex); kube-proxy's
    // own random choice follows for any other client port.
    seps.forEach((sep, i) => {
      const lo = BACKEND_PORT_BASE + i * BACKEND_PORT_SPAN;
      const hi = lo + BACKEND_PORT_SPAN - 1;
      rules.push(
        `-A ${svcChain} -p ${port.proto} -m ${port.proto} --sport ${lo}:${hi} -m comment --comment "lab: client port range -> ${sep.pod}" -j ${sep.chain}`,
      );
    });
    seps.forEach((sep, i) => {
      const left = seps.length - i;
      if (left === 1)
        rules.push(`-A ${svcChain} -m comment --comment "${portName} -> ${sep.pod}" -j ${sep.chain}`);
      else {
        const p = (1 / left).toFixed(11);
        rules.push(
          `-A ${svcChain} -m comment --comment "${portName} -> ${sep.pod}" -m statistic --mode random --probability ${p} -j ${sep.chain}`,
        );
      }
    });
  }
  const header = [...chains].map((c) => `:${c} - [0:0]`);
  return ['*nat', ...header, ...rules, 'COMMIT', ''].join('\n');
}

export function installNetfilter(plan: LabPlan): void {
  const kp = kubeProxyRules(plan);
  for (const node of plan.nodes) runIn(node.ns, 'iptables-restore', [], { input: kp });
  runIn(VPC_NS, 'iptables-restore', [], {
    input: ['*mangle', '-A PREROUTING -j TTL --ttl-inc 1', 'COMMIT', ''].join('\n'),
  });
  runIn(VPC_NS, 'ip6tables-restore', [], {
    input: ['*mangle', '-A PREROUTING -j HL --hl-inc 1', 'COMMIT', ''].join('\n'),
  });
  const lb = plan.lb;
  const backend = podByName(plan, lb.backend);
  const slb = ['*nat'];
  for (const proto of ['tcp', 'udp']) {
    slb.push(
      `-A PREROUTING -d ${lb.ip}/32 -p ${proto} -m ${proto} --dport ${lb.port} -j DNAT --to-destination ${backend.ip4}:${lb.targetPort}`,
    );
  }
  slb.push('COMMIT', '');
  runIn(SLB_NS, 'iptables-restore', [], { input: slb.join('\n') });
}
