/**
 * The lab's topology as plain data: every name, address and MAC is computed here, once, so that
 * setup, the BPF maps, the traffic generators and expected.json all read the same facts.
 *
 * Address plan (only ever configured inside ht-lab-* namespaces):
 * - VPC 10.0.0.0/16; vSwitch of node1 10.0.1.0/24 (gateway .253), of node2 10.0.2.0/24.
 * - Node primary IP .10 on eth0; secondary ENIs eth1, eth2 carry the node IP as /32 (Terway's HostIPSet).
 * - Pod IPs are ENI secondary IPs: .10x on eth1, .11x on eth2. IPv6 mirrors this in fd00:10:N::/64.
 * - ClusterIP 172.21.0.10 (TCP and UDP port 80 -> targetPort 8080); LoadBalancer 192.168.100.10:80
 *   served by the SLB namespace (10.0.255.2) for the external client 192.168.200.2.
 */
import { createHash } from 'node:crypto';

export const NS_PREFIX = 'ht-lab-';
export const VPC_NS = `${NS_PREFIX}vpc`;
export const SLB_NS = `${NS_PREFIX}slb`;
export const EXT_NS = `${NS_PREFIX}ext`;
/** Every VPC-side port answers as the vSwitch gateway with this MAC, as Alibaba Cloud's VPC does. */
export const VPC_GW_MAC = 'ee:ff:ff:ff:ff:ff';
/** Pod default gateway (Terway): a link-local address whose neighbour entry is the host veth's MAC. */
export const POD_GW4 = '169.254.1.1';
export const POD_GW6 = 'fe80::1';

export interface Eni {
  name: 'eth0' | 'eth1' | 'eth2';
  mac: string;
  /** The VPC namespace's end of this ENI's link. */
  vpcPeer: string;
}

export interface LabNode {
  name: string;
  ns: string;
  ip4: string;
  ip6: string;
  gw4: string;
  gw6: string;
  cidr4: string;
  cidr6: string;
  enis: Eni[];
}

export interface Pod {
  namespace: string;
  name: string;
  ns: string;
  node: string;
  eni: 'eth1' | 'eth2';
  ip4: string;
  ip6: string | null;
  mac: string;
  cali: string;
  caliMac: string;
}

export interface ServicePort {
  name: string;
  proto: 'tcp' | 'udp';
  port: number;
  targetPort: number;
}

export interface Service {
  namespace: string;
  name: string;
  clusterIp: string;
  ports: ServicePort[];
  /** Backend pods in selection order (see backendIndex). */
  backends: string[];
}

export interface LoadBalancer {
  namespace: string;
  name: string;
  ip: string;
  port: number;
  targetPort: number;
  /** ENI backend type: the SLB sends to podIP:targetPort and keeps the client IP (reference S8a). */
  backend: string;
  slbIp: string;
  slbVpcPeerIp: string;
  clientIp: string;
  clientGw: string;
  clientCidr: string;
}

/**
 * A LoadBalancer with the ECS backend type (reference S8b): the SLB sends to nodeIP:NodePort and kube-proxy
 * on that node DNATs to the backend; externalTrafficPolicy Cluster, so the source is masqueraded to the node.
 */
export interface NodePortLb {
  namespace: string;
  name: string;
  ip: string;
  port: number;
  targetPort: number;
  /** the node the SLB sends to (its eth0 address) */
  node: string;
  nodePorts: { tcp: number; udp: number };
  backend: string;
}

export interface LabPlan {
  nodes: LabNode[];
  pods: Pod[];
  service: Service;
  /** a Service whose only backend is the client itself: the hairpin case (reference S5/S6 "Hairpin") */
  selfService: Service;
  lb: LoadBalancer;
  nodePortLb: NodePortLb;
}

/** Cilium's ipv4-service-loopback-address: the source a hairpin connection is SNATed to by the eBPF path. */
export const SERVICE_LOOPBACK4 = '169.254.42.1';

/** Terway's host veth name: `cali` + 11 hex chars of sha1("<namespace>.<pod>") (reference §1.1). */
export function caliName(namespace: string, pod: string): string {
  return `cali${createHash('sha1').update(`${namespace}.${pod}`).digest('hex').slice(0, 11)}`;
}

/**
 * Backend choice for a ClusterIP connection, shared by the BPF program and the iptables rules:
 * client ports 40000-40999 pick backend 0, 41000-41999 backend 1, 42000-42999 backend 2; any other
 * client port picks `port % count` in BPF and a random backend in iptables (like kube-proxy), so
 * only the ranged ports are deterministic in every mode. The traffic generator uses ranged ports only.
 */
export const BACKEND_PORT_BASE = 40000;
export const BACKEND_PORT_SPAN = 1000;
export function backendIndex(clientPort: number, count: number): number {
  const slot = Math.floor((clientPort - BACKEND_PORT_BASE) / BACKEND_PORT_SPAN);
  if (slot >= 0 && slot < count) return slot;
  return clientPort % count;
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

function makeNode(n: 1 | 2): LabNode {
  return {
    name: `node${n}`,
    ns: `${NS_PREFIX}node${n}`,
    ip4: `10.0.${n}.10`,
    ip6: `fd00:10:${n}::10`,
    gw4: `10.0.${n}.253`,
    gw6: `fd00:10:${n}::fffd`,
    cidr4: `10.0.${n}.0/24`,
    cidr6: `fd00:10:${n}::/64`,
    // ECS NIC MACs use the 00:16:3e OUI; the last octets encode node and ENI for readability.
    enis: (['eth0', 'eth1', 'eth2'] as const).map((name, i) => ({
      name,
      mac: `00:16:3e:0${n}:00:${hex2(i)}`,
      vpcPeer: `n${n}e${i}`,
    })),
  };
}

interface PodSpec {
  name: string;
  node: 1 | 2;
  eni: 'eth1' | 'eth2';
  host: number;
  v6: boolean;
}

const POD_SPECS: PodSpec[] = [
  { name: 'client', node: 1, eni: 'eth1', host: 101, v6: true },
  { name: 'web-1', node: 1, eni: 'eth1', host: 102, v6: true },
  { name: 'web-2', node: 1, eni: 'eth2', host: 111, v6: false },
  { name: 'web-3', node: 2, eni: 'eth1', host: 101, v6: true },
  { name: 'lb-web', node: 2, eni: 'eth2', host: 111, v6: false },
];

function makePod(spec: PodSpec, index: number): Pod {
  const namespace = 'default';
  return {
    namespace,
    name: spec.name,
    ns: `${NS_PREFIX}p-${spec.name}`,
    node: `node${spec.node}`,
    eni: spec.eni,
    ip4: `10.0.${spec.node}.${spec.host}`,
    ip6: spec.v6 ? `fd00:10:${spec.node}::${spec.host}` : null,
    mac: `02:00:00:00:${hex2(spec.node)}:${hex2(index + 1)}`,
    cali: caliName(namespace, spec.name),
    caliMac: `02:ca:11:00:${hex2(spec.node)}:${hex2(index + 1)}`,
  };
}

export function labPlan(): LabPlan {
  const pods = POD_SPECS.map(makePod);
  return {
    nodes: [makeNode(1), makeNode(2)],
    pods,
    service: {
      namespace: 'default',
      name: 'web',
      clusterIp: '172.21.0.10',
      ports: [
        { name: 'http', proto: 'tcp', port: 80, targetPort: 8080 },
        { name: 'http-udp', proto: 'udp', port: 80, targetPort: 8080 },
      ],
      // same ENI as the client (S5), other ENI of its node (S6), other node (S7)
      backends: ['web-1', 'web-2', 'web-3'],
    },
    selfService: {
      namespace: 'default',
      name: 'self',
      clusterIp: '172.21.0.11',
      ports: [
        { name: 'http', proto: 'tcp', port: 80, targetPort: 8080 },
        { name: 'http-udp', proto: 'udp', port: 80, targetPort: 8080 },
      ],
      backends: ['client'],
    },
    nodePortLb: {
      namespace: 'default',
      name: 'web-lb-ecs',
      ip: '192.168.100.11',
      port: 80,
      targetPort: 8080,
      node: 'node2',
      nodePorts: { tcp: 30090, udp: 30091 },
      backend: 'lb-web',
    },
    lb: {
      namespace: 'default',
      name: 'web-lb',
      ip: '192.168.100.10',
      port: 80,
      targetPort: 8080,
      backend: 'lb-web',
      slbIp: '10.0.255.2',
      slbVpcPeerIp: '10.0.255.1',
      clientIp: '192.168.200.2',
      clientGw: '192.168.200.1',
      clientCidr: '192.168.200.0/24',
    },
  };
}

export function podByName(plan: LabPlan, name: string): Pod {
  const pod = plan.pods.find((p) => p.name === name);
  if (!pod) throw new Error(`lab plan has no pod ${name}`);
  return pod;
}

export function nodeByName(plan: LabPlan, name: string): LabNode {
  const node = plan.nodes.find((n) => n.name === name);
  if (!node) throw new Error(`lab plan has no node ${name}`);
  return node;
}
