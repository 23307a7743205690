/**
 * Builds the lab's namespaces and links from the plan. Every command names its namespace (`ip -n`,
 * `ip netns exec`, or `... netns <ns>` when creating a veth), so nothing is ever created in the root
 * namespace: both ends of every veth are created directly inside ht-lab-* namespaces.
 */
import { ipIn, ipJson, run, runIn } from './exec.ts';
import {
  EXT_NS,
  type LabNode,
  type LabPlan,
  NS_PREFIX,
  POD_GW4,
  POD_GW6,
  type Pod,
  SLB_NS,
  VPC_GW_MAC,
  VPC_NS,
} from './plan.ts';

/** What only exists once the links do: ifindexes and the per-ENI routing tables derived from them. */
export interface NodeFacts {
  node: string;
  /** ENI name -> ifindex inside the node namespace */
  eniIfindex: Record<string, number>;
  /** ENI name -> Terway table id (1000 + ifindex) */
  eniTable: Record<string, number>;
  /** cali name -> ifindex inside the node namespace */
  caliIfindex: Record<string, number>;
}

export interface TopologyFacts {
  nodes: NodeFacts[];
}

export function allNamespaces(plan: LabPlan): string[] {
  return [VPC_NS, ...plan.nodes.map((n) => n.ns), ...plan.pods.map((p) => p.ns), SLB_NS, EXT_NS];
}

function sysctl(ns: string, settings: Record<string, string>): void {
  const args = Object.entries(settings).map(([k, v]) => `${k}=${v}`);
  runIn(ns, 'sysctl', ['-q', '-w', ...args]);
}

function ifindex(ns: string, dev: string): number {
  const links = ipJson<Array<{ ifindex: number }>>(ns, ['link', 'show', 'dev', dev]);
  const idx = links[0]?.ifindex;
  if (idx === undefined) throw new Error(`no ifindex for ${dev} in ${ns}`);
  return idx;
}

/**
 * Interfaces get no automatic IPv6 link-local address: it would only add DAD, router solicitations and
 * MLD chatter to the captures; all IPv6 next hops in the lab are explicit with permanent neighbours.
 */
function quietUp(ns: string, dev: string): void {
  ipIn(ns, ['link', 'set', 'dev', dev, 'addrgenmode', 'none']);
  ipIn(ns, ['link', 'set', 'dev', dev, 'up']);
}

function createNamespaces(plan: LabPlan): void {
  for (const ns of allNamespaces(plan)) {
    if (!ns.startsWith(NS_PREFIX)) throw new Error(`refusing to create namespace ${ns}`);
    run('ip', ['netns', 'add', ns]);
    ipIn(ns, ['link', 'set', 'dev', 'lo', 'up']);
  }
  const router = {
    'net.ipv4.ip_forward': '1',
    'net.ipv4.conf.all.rp_filter': '0',
    'net.ipv4.conf.default.rp_filter': '0',
    'net.ipv6.conf.all.forwarding': '1',
  };
  for (const ns of [VPC_NS, SLB_NS, ...plan.nodes.map((n) => n.ns)]) sysctl(ns, router);
}

function wireNode(node: LabNode): void {
  for (const eni of node.enis) {
    ipIn(node.ns, [
      'link',
      'add',
      eni.name,
      'address',
      eni.mac,
      'type',
      'veth',
      'peer',
      'name',
      eni.vpcPeer,
      'address',
      VPC_GW_MAC,
      'netns',
      VPC_NS,
    ]);
    quietUp(node.ns, eni.name);
    quietUp(VPC_NS, eni.vpcPeer);
    // The VPC knows every ENI address: the node IP on eth0 (and v6), the pod IPs on their ENI (below).
    // The gateway neighbour is permanent: the VPC would answer ARP/ND with the same MAC anyway.
    ipIn(node.ns, ['neigh', 'replace', node.gw4, 'lladdr', VPC_GW_MAC, 'dev', eni.name, 'nud', 'permanent']);
    ipIn(node.ns, ['neigh', 'replace', node.gw6, 'lladdr', VPC_GW_MAC, 'dev', eni.name, 'nud', 'permanent']);
  }
  const eth0 = node.enis[0]!;
  ipIn(node.ns, ['addr', 'add', `${node.ip4}/24`, 'dev', 'eth0']);
  // /128, not /64: a connected /64 in main would make the kernel refuse the per-ENI onlink v6 gateway
  // ("device mismatch"); every v6 next hop is the gateway anyway.
  ipIn(node.ns, ['addr', 'add', `${node.ip6}/128`, 'dev', 'eth0', 'nodad']);
  ipIn(node.ns, ['route', 'add', 'default', 'via', node.gw4, 'dev', 'eth0', 'onlink']);
  ipIn(node.ns, ['-6', 'route', 'add', 'default', 'via', node.gw6, 'dev', 'eth0', 'onlink']);
  vpcRoute(node.ip4, eth0.vpcPeer, eth0.mac);
  vpcRoute(node.ip6, eth0.vpcPeer, eth0.mac);
  for (const eni of node.enis.slice(1)) {
    // Terway gives secondary ENIs the node's primary IP as /32 (HostIPSet), not their own primary IP.
    ipIn(node.ns, ['addr', 'add', `${node.ip4}/32`, 'dev', eni.name]);
    ipIn(node.ns, ['addr', 'add', `${node.ip6}/128`, 'dev', eni.name, 'nodad']);
    const table = String(1000 + ifindex(node.ns, eni.name));
    ipIn(node.ns, ['route', 'add', 'default', 'via', node.gw4, 'dev', eni.name, 'onlink', 'table', table]);
    ipIn(node.ns, [
      '-6',
      'route',
      'add',
      'default',
      'via',
      node.gw6,
      'dev',
      eni.name,
      'onlink',
      'table',
      table,
    ]);
  }
}

function vpcRoute(ip: string, dev: string, mac: string): void {
  const family = ip.includes(':') ? ['-6'] : [];
  ipIn(VPC_NS, [...family, 'route', 'add', ip, 'dev', dev]);
  ipIn(VPC_NS, [...family, 'neigh', 'replace', ip, 'lladdr', mac, 'dev', dev, 'nud', 'permanent']);
}

function wirePod(plan: LabPlan, pod: Pod): void {
  const node = plan.nodes.find((n) => n.name === pod.node)!;
  const eni = node.enis.find((e) => e.name === pod.eni)!;
  ipIn(node.ns, [
    'link',
    'add',
    pod.cali,
    'address',
    pod.caliMac,
    'type',
    'veth',
    'peer',
    'name',
    'eth0',
    'address',
    pod.mac,
    'netns',
    pod.ns,
  ]);
  quietUp(node.ns, pod.cali);
  quietUp(pod.ns, 'eth0');
  // Pod side, as Terway's generateContCfgForPolicy: podIP/32, default via 169.254.1.1 onlink, permanent
  // neighbour to the host veth MAC (and fe80::1 for IPv6).
  ipIn(pod.ns, ['addr', 'add', `${pod.ip4}/32`, 'dev', 'eth0']);
  ipIn(pod.ns, ['route', 'add', 'default', 'via', POD_GW4, 'dev', 'eth0', 'onlink']);
  ipIn(pod.ns, ['neigh', 'replace', POD_GW4, 'lladdr', pod.caliMac, 'dev', 'eth0', 'nud', 'permanent']);
  // Host side, as GenerateHostPeerCfgForPolicy: route to the pod, rule 512 to it, rule 2048 from it.
  const table = String(1000 + ifindex(node.ns, pod.eni));
  const families: Array<{ ip: string; flag: string[] }> = [{ ip: pod.ip4, flag: [] }];
  if (pod.ip6) {
    ipIn(pod.ns, ['addr', 'add', `${pod.ip6}/128`, 'dev', 'eth0', 'nodad']);
    ipIn(pod.ns, ['-6', 'route', 'add', 'default', 'via', POD_GW6, 'dev', 'eth0', 'onlink']);
    ipIn(pod.ns, [
      '-6',
      'neigh',
      'replace',
      POD_GW6,
      'lladdr',
      pod.caliMac,
      'dev',
      'eth0',
      'nud',
      'permanent',
    ]);
    families.push({ ip: pod.ip6, flag: ['-6'] });
  }
  for (const { ip, flag } of families) {
    ipIn(node.ns, [...flag, 'route', 'add', ip, 'dev', pod.cali, 'scope', 'link']);
    // Permanent so the kernel path never ARPs for the pod: captures stay deterministic across runs.
    ipIn(node.ns, [...flag, 'neigh', 'replace', ip, 'lladdr', pod.mac, 'dev', pod.cali, 'nud', 'permanent']);
    ipIn(node.ns, [...flag, 'rule', 'add', 'priority', '512', 'to', ip, 'lookup', 'main']);
    ipIn(node.ns, [...flag, 'rule', 'add', 'priority', '2048', 'from', ip, 'lookup', table]);
    vpcRoute(ip, eni.vpcPeer, eni.mac);
  }
}

function wireSlbAndClient(plan: LabPlan): void {
  const lb = plan.lb;
  ipIn(VPC_NS, ['link', 'add', 'vslb', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', SLB_NS]);
  quietUp(VPC_NS, 'vslb');
  quietUp(SLB_NS, 'eth0');
  ipIn(VPC_NS, ['addr', 'add', `${lb.slbVpcPeerIp}/30`, 'dev', 'vslb']);
  ipIn(SLB_NS, ['addr', 'add', `${lb.slbIp}/30`, 'dev', 'eth0']);
  ipIn(SLB_NS, ['route', 'add', 'default', 'via', lb.slbVpcPeerIp]);
  // The VPC routes the LoadBalancer range and the "internet" side to the SLB.
  ipIn(VPC_NS, ['route', 'add', `${lb.ip}/32`, 'via', lb.slbIp]);
  ipIn(VPC_NS, ['route', 'add', `${plan.nodePortLb.ip}/32`, 'via', lb.slbIp]);
  ipIn(VPC_NS, ['route', 'add', lb.clientCidr, 'via', lb.slbIp]);
  ipIn(SLB_NS, ['link', 'add', 'ext0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', EXT_NS]);
  quietUp(SLB_NS, 'ext0');
  quietUp(EXT_NS, 'eth0');
  ipIn(SLB_NS, ['addr', 'add', `${lb.clientGw}/24`, 'dev', 'ext0']);
  ipIn(EXT_NS, ['addr', 'add', `${lb.clientIp}/24`, 'dev', 'eth0']);
  ipIn(EXT_NS, ['route', 'add', 'default', 'via', lb.clientGw]);
}

function collectFacts(plan: LabPlan): TopologyFacts {
  return {
    nodes: plan.nodes.map((node) => {
      const eniIfindex: Record<string, number> = {};
      const eniTable: Record<string, number> = {};
      for (const eni of node.enis) {
        const idx = ifindex(node.ns, eni.name);
        eniIfindex[eni.name] = idx;
        eniTable[eni.name] = 1000 + idx;
      }
      const caliIfindex: Record<string, number> = {};
      for (const pod of plan.pods.filter((p) => p.node === node.name)) {
        caliIfindex[pod.cali] = ifindex(node.ns, pod.cali);
      }
      return { node: node.name, eniIfindex, eniTable, caliIfindex };
    }),
  };
}

/** Creates every namespace, link, address, route, rule and neighbour of the plan. */
export function setupTopology(plan: LabPlan): TopologyFacts {
  createNamespaces(plan);
  for (const node of plan.nodes) wireNode(node);
  for (const pod of plan.pods) wirePod(plan, pod);
  wireSlbAndClient(plan);
  return collectFacts(plan);
}
