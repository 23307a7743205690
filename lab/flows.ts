/**
 * The traffic of a lab run, decided in advance: every flow's scenario (DESIGN §7, the article's numbering),
 * client, server and, for the ClusterIP, the backend its client port selects (plan.ts backendIndex).
 * Client ports identify flows: 3SSPx for pod-to-pod and external flows (S = scenario, P = protocol),
 * 4B0SP for Service flows (B = backend slot, the port range iptables and BPF both key on).
 * 4307P: in-cluster client to the LoadBalancer address, 4405P: hairpin (the client to its own Service).
 * Scenario 1 (same node, ENI relationship unknown) has no flow of its own: the lab always knows the ENIs,
 * so same-node flows are 2 or 3; an analyzer given the bundle without `ip rule` data would call them 1.
 */
import { backendIndex, type LabPlan, podByName } from './plan.ts';

export type Proto = 'tcp' | 'udp' | 'icmp';

export interface FlowSpec {
  id: string;
  scenario: number;
  /**
   * rule variant: '8a' (SLB to the pod IP on its ENI), '8b' (SLB to nodeIP:NodePort), 'hairpin' (a pod reaching
   * its own Service, scenario 5), 'in-cluster-lb' (a pod reaching the LoadBalancer address: load-balanced at
   * its veth like a ClusterIP, so scenario 5-7 by where the backend is)
   */
  rule: string | null;
  proto: Proto;
  family: 4 | 6;
  /** client pod name, or null for the external client */
  client: string | null;
  clientIp: string;
  /** client port; the echo identifier for ICMP */
  clientPort: number;
  /** what the client connects to (a pod IP, the ClusterIP, the LoadBalancer IP) */
  dstIp: string;
  dstPort: number;
  service: { ip: string; port: number; name: string } | null;
  /** the pod that answers */
  server: string;
  serverIp: string;
  serverPort: number;
  /** bytes the client sends (TCP) */
  bytes: number;
  /** the bulk transfer, with segmentation offload off on one hop */
  bulk: boolean;
}

const DIRECT_PORT = 7000;
// Small enough for the committed fixtures (<= 12 MB for all modes), big enough that the first flight is a
// super-segment (initial cwnd 10 x MSS > MTU) on the client side and MTU-sized segments after the ENI.
const BULK_BYTES = 64 * 1024;

export function flowCatalogue(plan: LabPlan): FlowSpec[] {
  const client = podByName(plan, 'client');
  const flows: FlowSpec[] = [];
  const direct = (scenario: number, server: string) => {
    const pod = podByName(plan, server);
    for (const [proto, p] of [
      ['tcp', 1],
      ['udp', 2],
    ] as const) {
      const port = 30000 + scenario * 10 + p;
      flows.push({
        id: `s${scenario}-${proto}`,
        scenario,
        rule: null,
        proto,
        family: 4,
        client: client.name,
        clientIp: client.ip4,
        clientPort: port,
        dstIp: pod.ip4,
        dstPort: DIRECT_PORT,
        service: null,
        server,
        serverIp: pod.ip4,
        serverPort: DIRECT_PORT,
        bytes: 64,
        bulk: false,
      });
    }
    flows.push({
      id: `s${scenario}-icmp`,
      scenario,
      rule: null,
      proto: 'icmp',
      family: 4,
      client: client.name,
      clientIp: client.ip4,
      clientPort: 0x100 + scenario,
      dstIp: pod.ip4,
      dstPort: 0,
      service: null,
      server,
      serverIp: pod.ip4,
      serverPort: 0,
      bytes: 0,
      bulk: false,
    });
  };
  direct(2, 'web-1');
  direct(3, 'web-2');
  direct(4, 'web-3');

  const svc = plan.service;
  const scenarioOfSlot = [5, 6, 7];
  for (const port of svc.ports) {
    svc.backends.forEach((_, slot) => {
      const scenario = scenarioOfSlot[slot]!;
      const clientPort = 40000 + slot * 1000 + scenario * 10 + (port.proto === 'tcp' ? 1 : 2);
      const server = svc.backends[backendIndex(clientPort, svc.backends.length)]!;
      const pod = podByName(plan, server);
      flows.push({
        id: `s${scenario}-${port.proto}`,
        scenario,
        rule: null,
        proto: port.proto,
        family: 4,
        client: client.name,
        clientIp: client.ip4,
        clientPort,
        dstIp: svc.clusterIp,
        dstPort: port.port,
        service: { ip: svc.clusterIp, port: port.port, name: `${svc.namespace}/${svc.name}` },
        server,
        serverIp: pod.ip4,
        serverPort: port.targetPort,
        bytes: 64,
        bulk: false,
      });
    });
  }

  const lb = plan.lb;
  const lbPod = podByName(plan, lb.backend);
  for (const [proto, p] of [
    ['tcp', 1],
    ['udp', 2],
  ] as const) {
    flows.push({
      id: `s8a-${proto}`,
      scenario: 8,
      rule: '8a',
      proto,
      family: 4,
      client: null,
      clientIp: lb.clientIp,
      clientPort: 30080 + p,
      dstIp: lb.ip,
      dstPort: lb.port,
      service: { ip: lb.ip, port: lb.port, name: `${lb.namespace}/${lb.name}` },
      server: lb.backend,
      serverIp: lbPod.ip4,
      serverPort: lb.targetPort,
      bytes: 64,
      bulk: false,
    });
  }

  const np = plan.nodePortLb;
  for (const [proto, p] of [
    ['tcp', 3],
    ['udp', 4],
  ] as const) {
    flows.push({
      id: `s8b-${proto}`,
      scenario: 8,
      rule: '8b',
      proto,
      family: 4,
      client: null,
      clientIp: lb.clientIp,
      clientPort: 30080 + p,
      dstIp: np.ip,
      dstPort: np.port,
      service: { ip: np.ip, port: np.port, name: `${np.namespace}/${np.name}` },
      server: np.backend,
      serverIp: podByName(plan, np.backend).ip4,
      serverPort: np.targetPort,
      bytes: 64,
      bulk: false,
    });
  }

  // A pod reaching its own Service (hairpin) and a pod reaching the LoadBalancer address from inside the
  // cluster (in-cluster load balancing: the SLB is never involved; lb-web is on the other node, so S7).
  const self = plan.selfService;
  const extras = [
    { id: 'hairpin', scenario: 5, ip: self.clusterIp, svc: self, base: 44050, server: self.backends[0]! },
    { id: 'lb', scenario: 7, ip: lb.ip, svc: null, base: 43070, server: lb.backend },
  ] as const;
  for (const x of extras) {
    for (const [proto, p] of [
      ['tcp', 1],
      ['udp', 2],
    ] as const) {
      const pod = podByName(plan, x.server);
      flows.push({
        id: `s${x.scenario}-${x.id}-${proto}`,
        scenario: x.scenario,
        rule: x.id === 'hairpin' ? 'hairpin' : 'in-cluster-lb',
        proto,
        family: 4,
        client: client.name,
        clientIp: client.ip4,
        clientPort: x.base + p,
        dstIp: x.ip,
        dstPort: 80,
        service: x.svc
          ? { ip: x.ip, port: 80, name: `${x.svc.namespace}/${x.svc.name}` }
          : { ip: x.ip, port: lb.port, name: `${lb.namespace}/${lb.name}` },
        server: x.server,
        serverIp: pod.ip4,
        serverPort: 8080,
        bytes: 64,
        bulk: false,
      });
    }
  }

  // IPv6 (no IP ID: the hard case for correlation), same node and cross node.
  for (const [scenario, server] of [
    [2, 'web-1'],
    [4, 'web-3'],
  ] as const) {
    const pod = podByName(plan, server);
    flows.push({
      id: `s${scenario}-tcp6`,
      scenario,
      rule: null,
      proto: 'tcp',
      family: 6,
      client: client.name,
      clientIp: client.ip6!,
      clientPort: 30000 + scenario * 10 + 6,
      dstIp: pod.ip6!,
      dstPort: DIRECT_PORT,
      service: null,
      server,
      serverIp: pod.ip6!,
      serverPort: DIRECT_PORT,
      bytes: 64,
      bulk: false,
    });
  }

  const web3 = podByName(plan, 'web-3');
  flows.push({
    id: 's4-bulk',
    scenario: 4,
    rule: null,
    proto: 'tcp',
    family: 4,
    client: client.name,
    clientIp: client.ip4,
    clientPort: 30049,
    dstIp: web3.ip4,
    dstPort: DIRECT_PORT,
    service: null,
    server: 'web-3',
    serverIp: web3.ip4,
    serverPort: DIRECT_PORT,
    bytes: BULK_BYTES,
    bulk: true,
  });
  return flows;
}

/** The hop where the bulk transfer is segmented: TSO/GSO off on the client node's ENI (see traffic.ts). */
export const BULK_SEGMENTING_HOP = { node: 'node1', iface: 'eth1' } as const;
export const SERVER_PORTS = { tcp: [DIRECT_PORT, 8080], udp: [DIRECT_PORT, 8080] } as const;
