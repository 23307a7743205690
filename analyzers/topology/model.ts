/**
 * The topology model: what the bundle's metadata says about nodes, pods, interfaces and Services,
 * merged from every importer. Capture points are resolved against it; correlation, flows and rules
 * read it. Addresses are canonical text (ip-text.ts), MACs lowercase.
 */

/** What a capture point is, as in the `captures` table (DESIGN §4). */
export const PointKind = Object.freeze({
  /** a pod's own interface, inside its network namespace */
  podEth0: 'pod-eth0',
  /** the host side of a pod's veth pair (`cali*`) */
  veth: 'veth',
  /** a secondary ENI, owning pod IPs */
  eni: 'eni',
  /** the node's primary interface (`eth0` on the node) */
  primary: 'primary',
  /** a node-wide `any` capture (several devices in one file) */
  any: 'any',
  /** none of the above, or not known: never guessed */
  other: 'other',
} as const);
export type PointKind = (typeof PointKind)[keyof typeof PointKind];

/** Packet direction at a capture point, from the point's device's view. */
export const Direction = Object.freeze({
  /** received by the device */
  in: 'in',
  /** sent by the device */
  out: 'out',
  /** the capture did not say and the topology did not allow inferring it */
  unknown: 'unknown',
} as const);
export type Direction = (typeof Direction)[keyof typeof Direction];

/** The datapath a node claims (node_capabilities `datapath`). */
export const ClaimedDatapath = Object.freeze({
  datapathv2: 'datapathv2',
  veth: 'veth',
  ipvlan: 'ipvlan',
  /** no node_capabilities, or a value this version does not know */
  unknown: 'unknown',
} as const);
export type ClaimedDatapath = (typeof ClaimedDatapath)[keyof typeof ClaimedDatapath];

/** Which source said something: warnings name both sides of a conflict. */
export const Source = Object.freeze({
  ip: 'ip -j',
  k8s: 'kubectl',
  terway: 'terway-cli mapping',
  capabilities: 'node_capabilities',
  uname: 'os/uname',
  bundle: 'bundle.json',
} as const);
export type Source = (typeof Source)[keyof typeof Source];

export interface TopologyWarning {
  /** stable code, e.g. `topology.pod-ip-on-two-enis` */
  code: string;
  message: string;
  /** bundle-relative files involved */
  files: string[];
}

export interface Interface {
  node: string;
  ifindex: number | null;
  name: string;
  mac: string | null;
  /** `ip -d link` linkinfo.info_kind (veth, vlan, ...) */
  linkKind: string | null;
  /** addresses configured on it */
  addresses: string[];
}

export interface Eni {
  node: string;
  iface: string;
  mac: string | null;
  /** terway ENI id when the mapping names it */
  eniId: string | null;
  /** policy-routing table whose default route leaves through it (1000 + ifindex) */
  table: string | null;
  /** pod IPs whose `ip rule from <ip>` selects this ENI's table */
  podIps: string[];
  gatewayIp: string | null;
  gatewayMac: string | null;
}

export interface Pod {
  namespace: string;
  name: string;
  /** `<namespace>/<name>` */
  key: string;
  node: string | null;
  ips: string[];
  /** MAC of the pod's eth0 */
  mac: string | null;
  /** host-side veth name */
  veth: string | null;
  /** MAC of the host-side veth */
  vethMac: string | null;
  /** ENI interface owning the pod IP on its node */
  eni: string | null;
  hostNetwork: boolean;
}

export interface ServicePort {
  name: string | null;
  protocol: string;
  port: number;
  /** a number, or a named port resolved through the endpoints (null when unresolved) */
  targetPort: number | null;
  nodePort: number | null;
}

export interface Backend {
  ip: string;
  port: number;
  protocol: string;
  /** the EndpointSlice port name it serves */
  portName: string | null;
  pod: string | null;
  node: string | null;
  ready: boolean;
}

export interface Service {
  namespace: string;
  name: string;
  key: string;
  type: string;
  clusterIps: string[];
  externalIps: string[];
  loadBalancerIps: string[];
  ports: ServicePort[];
  backends: Backend[];
}

export interface Node {
  name: string;
  /** `uname -r` */
  kernel: string | null;
  claimedDatapath: ClaimedDatapath;
  /** every node_capabilities key, as written */
  capabilities: Record<string, string>;
  /** node addresses (primary IPv4/IPv6, InternalIP) */
  ips: string[];
  /** the device of the main table's default route (the primary ENI, `eth0`) */
  primary: string | null;
  interfaces: Interface[];
  enis: Eni[];
  /** default gateway MACs seen in the neighbour table (VPC gateway: ee:ff:ff:ff:ff:ff) */
  gatewayMacs: string[];
}

export interface Point {
  id: string;
  node: string | null;
  /** `<namespace>/<pod>` when the point is a pod's eth0 or its veth */
  pod: string | null;
  iface: string;
  kind: PointKind;
  /** MAC of the captured device, when known */
  mac: string | null;
  /** MAC of the other end (pod eth0 for a veth, veth for a pod eth0) */
  peerMac: string | null;
  /** IPs the point's device owns (pod IPs for pod-eth0/veth/eni, node IPs for primary) */
  ips: string[];
}

export interface Topology {
  nodes: Map<string, Node>;
  pods: Map<string, Pod>;
  /** pod IP -> pod key */
  podByIp: Map<string, string>;
  /** node IP -> node name */
  nodeByIp: Map<string, string>;
  services: Service[];
  /** ClusterIP / ExternalIP / LoadBalancer address -> service key */
  serviceByIp: Map<string, string>;
  points: Map<string, Point>;
  warnings: TopologyWarning[];
}

export function emptyTopology(): Topology {
  return {
    nodes: new Map(),
    pods: new Map(),
    podByIp: new Map(),
    nodeByIp: new Map(),
    services: [],
    serviceByIp: new Map(),
    points: new Map(),
    warnings: [],
  };
}
