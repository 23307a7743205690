/**
 * The node and cluster metadata a real node would have and a namespace lab does not: `terway-cli mapping`
 * output (v1.17+ tree format, reference §3.2), node_capabilities, the emulated kernel of the legacy mode,
 * and `kubectl get -o json` lists for pods, services, endpointslices and nodes.
 */
import type { LabMode } from './modes.ts';
import { type LabNode, type LabPlan, podByName } from './plan.ts';

export const LEGACY_KERNEL = '4.19.91-26.al7.x86_64';

/** One ENI id per node and ENI, stable across runs. */
function eniId(node: LabNode, eni: string): string {
  return `eni-lab${node.name.replace('node', '')}${eni.replace('eth', '')}0000000000`;
}

export function mappingText(plan: LabPlan, node: LabNode): string {
  const lines: string[] = [];
  const db: string[] = [];
  for (const eni of node.enis.slice(1)) {
    const pods = plan.pods.filter((p) => p.node === node.name && p.eni === eni.name);
    lines.push(`ENI: ${eniId(node, eni.name)}`);
    lines.push(
      `├─MAC: ${eni.mac}`,
      '├─Status: InUse',
      '├─Type: secondary',
      '├─InhibitExpireAt: 0001-01-01 00:00:00 +0000 UTC',
      '└─┬IPs',
    );
    // IP lines sorted by IP string, descending, as the CLI prints them.
    const sorted = [...pods].sort((a, b) => (a.ip4 < b.ip4 ? 1 : -1));
    sorted.forEach((p, i) => {
      const glyph = i === sorted.length - 1 ? '└──' : '├──';
      lines.push(`  ${glyph}${p.ip4}  ${p.namespace}/${p.name}  Valid`);
    });
    for (const p of pods)
      db.push(`${p.namespace}/${p.name} -> ${eniId(node, eni.name)} ${p.ip4}${p.ip6 ? `,${p.ip6}` : ''}`);
  }
  db.sort();
  lines.push(`Resource DB (${db.length} entries)`);
  db.forEach((d, i) => {
    lines.push(`${i === db.length - 1 ? '└──' : '├──'}${d}`);
  });
  return `${lines.join('\n')}\n`;
}

export function nodeCapabilities(mode: LabMode): string {
  const ebpf = mode.datapath !== 'kernel';
  return [
    `datapath = ${ebpf ? 'datapathv2' : 'veth'}`,
    `has_cilium_chainer = ${ebpf}`,
    'kube_proxy_replacement = false',
    `network_policy_provider = ${ebpf ? 'ebpf' : 'iptables'}`,
    'cni_ipv6_stack = true',
    '',
  ].join('\n');
}

function list(items: unknown[]): string {
  return `${JSON.stringify({ apiVersion: 'v1', items, kind: 'List', metadata: { resourceVersion: '' } }, null, 4)}\n`;
}

export function k8sObjects(plan: LabPlan): Record<'pods' | 'services' | 'endpointslices' | 'nodes', string> {
  const created = '2026-01-01T00:00:00Z';
  const pods = plan.pods.map((p) => {
    const node = plan.nodes.find((n) => n.name === p.node)!;
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: p.name,
        namespace: p.namespace,
        labels: { app: p.name.startsWith('web-') ? 'web' : p.name },
        annotations: { 'k8s.aliyun.com/pod-ips': [p.ip4, p.ip6].filter(Boolean).join(',') },
        creationTimestamp: created,
      },
      spec: { nodeName: p.node, containers: [{ name: 'main', image: 'lab' }] },
      status: {
        phase: 'Running',
        hostIP: node.ip4,
        hostIPs: [{ ip: node.ip4 }],
        podIP: p.ip4,
        podIPs: [{ ip: p.ip4 }, ...(p.ip6 ? [{ ip: p.ip6 }] : [])],
      },
    };
  });
  const svc = plan.service;
  const lb = plan.lb;
  const self = plan.selfService;
  const np = plan.nodePortLb;
  const services = [
    clusterIpService(svc, 'web', created),
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: lb.name,
        namespace: lb.namespace,
        annotations: { 'service.beta.kubernetes.io/backend-type': 'eni' },
        creationTimestamp: created,
      },
      spec: {
        type: 'LoadBalancer',
        clusterIP: '172.21.0.20',
        clusterIPs: ['172.21.0.20'],
        externalTrafficPolicy: 'Local',
        selector: { app: lb.backend },
        ports: ['TCP', 'UDP'].map((protocol) => ({
          name: protocol.toLowerCase(),
          protocol,
          port: lb.port,
          targetPort: lb.targetPort,
          nodePort: protocol === 'TCP' ? 30080 : 30081,
        })),
      },
      status: { loadBalancer: { ingress: [{ ip: lb.ip }] } },
    },
    clusterIpService(self, 'client', created),
    {
      // ECS backend type (no backend-type annotation): the SLB sends to nodeIP:NodePort (S8b)
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: np.name, namespace: np.namespace, creationTimestamp: created },
      spec: {
        type: 'LoadBalancer',
        clusterIP: '172.21.0.21',
        clusterIPs: ['172.21.0.21'],
        externalTrafficPolicy: 'Cluster',
        selector: { app: np.backend },
        ports: (['tcp', 'udp'] as const).map((proto) => ({
          name: proto,
          protocol: proto.toUpperCase(),
          port: np.port,
          targetPort: np.targetPort,
          nodePort: np.nodePorts[proto],
        })),
      },
      status: { loadBalancer: { ingress: [{ ip: np.ip }] } },
    },
  ];
  const slice = (
    name: string,
    svcName: string,
    backends: string[],
    ports: { name: string; protocol: string; port: number }[],
  ) => ({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name,
      namespace: 'default',
      labels: { 'kubernetes.io/service-name': svcName },
      creationTimestamp: created,
    },
    addressType: 'IPv4',
    endpoints: backends.map((b) => {
      const p = podByName(plan, b);
      return {
        addresses: [p.ip4],
        conditions: { ready: true, serving: true, terminating: false },
        nodeName: p.node,
        targetRef: { kind: 'Pod', name: p.name, namespace: p.namespace },
      };
    }),
    ports,
  });
  const endpointslices = [
    slice(
      `${svc.name}-lab01`,
      svc.name,
      svc.backends,
      svc.ports.map((p) => ({ name: p.name, protocol: p.proto.toUpperCase(), port: p.targetPort })),
    ),
    slice(
      `${lb.name}-lab01`,
      lb.name,
      [lb.backend],
      ['TCP', 'UDP'].map((protocol) => ({ name: protocol.toLowerCase(), protocol, port: lb.targetPort })),
    ),
    slice(
      `${self.name}-lab01`,
      self.name,
      self.backends,
      self.ports.map((p) => ({ name: p.name, protocol: p.proto.toUpperCase(), port: p.targetPort })),
    ),
    slice(
      `${np.name}-lab01`,
      np.name,
      [np.backend],
      ['TCP', 'UDP'].map((protocol) => ({ name: protocol.toLowerCase(), protocol, port: np.targetPort })),
    ),
  ];
  const nodes = plan.nodes.map((n) => ({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: n.name, labels: { 'kubernetes.io/hostname': n.name }, creationTimestamp: created },
    spec: {},
    status: {
      addresses: [
        { type: 'InternalIP', address: n.ip4 },
        { type: 'Hostname', address: n.name },
      ],
    },
  }));
  return {
    pods: list(pods),
    services: list(services),
    endpointslices: list(endpointslices),
    nodes: list(nodes),
  };
}

/** A ClusterIP Service object as `kubectl get -o json` lists it. */
function clusterIpService(svc: LabPlan['service'], app: string, created: string) {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: svc.name, namespace: svc.namespace, creationTimestamp: created },
    spec: {
      type: 'ClusterIP',
      clusterIP: svc.clusterIp,
      clusterIPs: [svc.clusterIp],
      selector: { app },
      ports: svc.ports.map((p) => ({
        name: p.name,
        protocol: p.proto.toUpperCase(),
        port: p.port,
        targetPort: p.targetPort,
      })),
    },
  };
}
