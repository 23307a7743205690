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
import {
  BACKEND_PORT_BASE,
  BACKEND_PORT_SPAN,
  type LabPlan,
  nodeByName,
  podByName,
  SLB_NS,
  VPC_NS,
} from './plan.ts';

/** kube-proxy names chains by a hash of the service port (and endpoint); 16 upper-case characters. */
function chainHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16).toUpperCase();
}

interface KubeProxyService {
  portName: string;
  ip: string;
  proto: 'tcp' | 'udp';
  port: number;
  targetPort: number;
  backends: string[];
  /** kube-proxy's comment for the KUBE-SERVICES rule: "cluster IP" or "loadbalancer IP" */
  kind: string;
}

/**
 * kube-proxy (iptables mode) for the lab's Services: the ClusterIP `web` (3 backends), `self` (the client is
 * its only backend: hairpin, masqueraded by the KUBE-SEP `-s <pod>` rule), the in-cluster path to the ENI
 * LoadBalancer's address (kube-proxy short-circuits pods to the Service's endpoints), and the NodePorts of the
 * ECS-backend LoadBalancer (externalTrafficPolicy Cluster: masqueraded to a node address).
 */
export function kubeProxyRules(plan: LabPlan): string {
  const chains = new Set<string>(['KUBE-SERVICES', 'KUBE-NODEPORTS', 'KUBE-MARK-MASQ', 'KUBE-POSTROUTING']);
  const rules: string[] = [
    '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
    '-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000',
    '-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN',
    '-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0',
    '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
  ];
  const services: KubeProxyService[] = [];
  for (const svc of [plan.service, plan.selfService]) {
    for (const port of svc.ports) {
      services.push({
        portName: `${svc.namespace}/${svc.name}:${port.name}`,
        ip: svc.clusterIp,
        proto: port.proto,
        port: port.port,
        targetPort: port.targetPort,
        backends: svc.backends,
        kind: 'cluster IP',
      });
    }
  }
  const lb = plan.lb;
  for (const proto of ['tcp', 'udp'] as const) {
    services.push({
      portName: `${lb.namespace}/${lb.name}:${proto}`,
      ip: lb.ip,
      proto,
      port: lb.port,
      targetPort: lb.targetPort,
      backends: [lb.backend],
      kind: 'loadbalancer IP',
    });
  }
  const svcChainOf = new Map<string, string>();
  for (const s of services) {
    const svcChain = `KUBE-SVC-${chainHash(`${s.portName}${s.proto}${s.ip}`)}`;
    svcChainOf.set(`${s.ip}/${s.proto}`, svcChain);
    chains.add(svcChain);
    rules.push(
      `-A KUBE-SERVICES -d ${s.ip}/32 -p ${s.proto} -m comment --comment "${s.portName} ${s.kind}" -m ${s.proto} --dport ${s.port} -j ${svcChain}`,
    );
    const seps = s.backends.map((name) => {
      const pod = podByName(plan, name);
      const chain = `KUBE-SEP-${chainHash(`${s.portName}${s.proto}${s.ip}${pod.ip4}:${s.targetPort}`)}`;
      chains.add(chain);
      // a backend reaching its own Service (hairpin) is masqueraded, as kube-proxy does
      rules.push(`-A ${chain} -s ${pod.ip4}/32 -m comment --comment "${s.portName}" -j KUBE-MARK-MASQ`);
      rules.push(
        `-A ${chain} -p ${s.proto} -m comment --comment "${s.portName}" -m ${s.proto} -j DNAT --to-destination ${pod.ip4}:${s.targetPort}`,
      );
      return { chain, pod: name };
    });
    // Lab addition so every flow's backend is known in advance (see plan.ts backendIndex); kube-proxy's
    // own random choice follows for any other client port.
    if (seps.length > 1) {
      seps.forEach((sep, i) => {
        const lo = BACKEND_PORT_BASE + i * BACKEND_PORT_SPAN;
        const hi = lo + BACKEND_PORT_SPAN - 1;
        rules.push(
          `-A ${svcChain} -p ${s.proto} -m ${s.proto} --sport ${lo}:${hi} -m comment --comment "lab: client port range -> ${sep.pod}" -j ${sep.chain}`,
        );
      });
    }
    seps.forEach((sep, i) => {
      const left = seps.length - i;
      if (left === 1)
        rules.push(`-A ${svcChain} -m comment --comment "${s.portName} -> ${sep.pod}" -j ${sep.chain}`);
      else {
        const p = (1 / left).toFixed(11);
        rules.push(
          `-A ${svcChain} -m comment --comment "${s.portName} -> ${sep.pod}" -m statistic --mode random --probability ${p} -j ${sep.chain}`,
        );
      }
    });
  }
  // NodePorts of the ECS-backend LoadBalancer (S8b), on every node as kube-proxy installs them.
  const np = plan.nodePortLb;
  const npBackend = podByName(plan, np.backend);
  for (const proto of ['tcp', 'udp'] as const) {
    const portName = `${np.namespace}/${np.name}:${proto}`;
    const ext = `KUBE-EXT-${chainHash(`${portName}ext`)}`;
    const svcChain = `KUBE-SVC-${chainHash(`${portName}svc`)}`;
    const sep = `KUBE-SEP-${chainHash(`${portName}${npBackend.ip4}:${np.targetPort}`)}`;
    for (const c of [ext, svcChain, sep]) chains.add(c);
    rules.push(
      `-A KUBE-NODEPORTS -p ${proto} -m comment --comment "${portName}" -m ${proto} --dport ${np.nodePorts[proto]} -j ${ext}`,
      `-A ${ext} -m comment --comment "masquerade traffic for ${portName} external destinations" -j KUBE-MARK-MASQ`,
      `-A ${ext} -j ${svcChain}`,
      `-A ${svcChain} -m comment --comment "${portName} -> ${np.backend}" -j ${sep}`,
      `-A ${sep} -s ${npBackend.ip4}/32 -m comment --comment "${portName}" -j KUBE-MARK-MASQ`,
      `-A ${sep} -p ${proto} -m comment --comment "${portName}" -m ${proto} -j DNAT --to-destination ${npBackend.ip4}:${np.targetPort}`,
    );
  }
  rules.push(
    '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS',
  );
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
  // The ECS-backend LoadBalancer (S8b): the SLB sends to nodeIP:NodePort and keeps the client IP.
  const np = plan.nodePortLb;
  const npNode = nodeByName(plan, np.node);
  for (const proto of ['tcp', 'udp'] as const) {
    slb.push(
      `-A PREROUTING -d ${np.ip}/32 -p ${proto} -m ${proto} --dport ${np.port} -j DNAT --to-destination ${npNode.ip4}:${np.nodePorts[proto]}`,
    );
  }
  slb.push('COMMIT', '');
  runIn(SLB_NS, 'iptables-restore', [], { input: slb.join('\n') });
}
