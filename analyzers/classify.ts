/**
 * Scenario classification (DESIGN §7): every flow gets exactly one outcome from one decision table,
 * either a scenario of Alibaba's eight-scenario article (reference §2; 8 split into rules 8a/8b), a
 * hairpin or host-network class that has its own rules, or `unclassified` with a reason.
 *
 * Two steps, kept apart so the table can be tested row by row and printed in the README:
 * 1. `factsFromFlow`: what the topology says about the flow's two ends (client kind, server kind, the
 *    kind of address the client targeted, same node, same ENI). Every fact has an explicit unknown.
 * 2. `classifyFacts`: the first row of `DECISION_TABLE` whose conditions all hold.
 */
import type { RoleTopology } from './rules/roles.ts';

/** What opened the connection. */
export const ClientKind = Object.freeze({
  /** a pod with its own network namespace (and veth) */
  pod: 'pod',
  /** the node's network namespace: a node IP or a hostNetwork pod */
  host: 'host',
  /** an address the topology does not own (outside the cluster, through the VPC/SLB) */
  external: 'external',
  /** the topology holds no pods, so external and in-cluster cannot be told apart */
  unknown: 'unknown',
} as const);
export type ClientKind = (typeof ClientKind)[keyof typeof ClientKind];

/** What answered. */
export const ServerKind = Object.freeze({
  pod: 'pod',
  /** a node IP or a hostNetwork pod */
  host: 'host',
  /** an address the topology does not own (egress out of the cluster) */
  outside: 'outside',
  unknown: 'unknown',
} as const);
export type ServerKind = (typeof ServerKind)[keyof typeof ServerKind];

/** The kind of address the client sent its first packet to. */
export const Via = Object.freeze({
  /** the server's own address */
  none: 'none',
  /** a Service ClusterIP */
  clusterIp: 'cluster-ip',
  /** a LoadBalancer ingress address (SLB), or a pod backing one when the SLB's DNAT is outside the bundle */
  loadBalancer: 'load-balancer',
  /** a Service ExternalIP */
  externalIp: 'external-ip',
  /** nodeIP:NodePort */
  nodePort: 'node-port',
  /** a Service was named but its address is in no Service of the topology */
  unknown: 'unknown',
} as const);
export type Via = (typeof Via)[keyof typeof Via];

/** Client node against server node (8b: the node that took the NodePort against the backend's node). */
export const NodeRelation = Object.freeze({
  same: 'same',
  other: 'other',
  /** an external client through the SLB to the pod IP: the SLB picks the pod's own node, no relation */
  na: 'n/a',
  unknown: 'unknown',
} as const);
export type NodeRelation = (typeof NodeRelation)[keyof typeof NodeRelation];

/** ENI owning the client pod IP against the one owning the server pod IP; only for two pods on one node. */
export const EniRelation = Object.freeze({
  same: 'same',
  other: 'other',
  /** one of the two pods' ENI is not known (no `ip rule`, no terway mapping): scenario 1 */
  unknown: 'unknown',
  /** not two pods on one node */
  na: 'n/a',
} as const);
export type EniRelation = (typeof EniRelation)[keyof typeof EniRelation];

export interface ClassifyFacts {
  client: ClientKind;
  server: ServerKind;
  via: Via;
  node: NodeRelation;
  eni: EniRelation;
  /** client and server are the same pod (hairpin through a Service, or a pod talking to itself) */
  samePod: boolean;
}

/** Outcome classes rules are written for (`scenario:` in a rule file). */
export const ScenarioKey = Object.freeze({
  s1: 'S1',
  s2: 'S2',
  s3: 'S3',
  s4: 'S4',
  s5: 'S5',
  s6: 'S6',
  s7: 'S7',
  s8a: 'S8a',
  s8b: 'S8b',
  /** a pod reaching itself through a Service address */
  hairpin: 'hairpin',
  /** a client in a node's network namespace */
  hostNetwork: 'host-network',
} as const);
export type ScenarioKey = (typeof ScenarioKey)[keyof typeof ScenarioKey];

/**
 * Variant labels in DESIGN §8 `scenario.rule`, the lab's expected.json vocabulary: which variant of the
 * article's scenario a flow is. null for the plain scenario.
 */
export const ScenarioVariant = Object.freeze({
  /** S8 through the SLB to the pod IP on its ENI */
  s8a: '8a',
  /** S8 through the SLB to nodeIP:NodePort */
  s8b: '8b',
  /** S5 where the backend is the client itself */
  hairpin: 'hairpin',
  /** S1/S5/S6/S7 where a pod targets a LoadBalancer address or ExternalIP (Terway T-p2: like a ClusterIP) */
  inClusterLb: 'in-cluster-lb',
} as const);
export type ScenarioVariant = (typeof ScenarioVariant)[keyof typeof ScenarioVariant];

export interface Scenario {
  /** the article's scenario, 1-8 */
  id: number;
  rule: ScenarioVariant | null;
}

/** The article's number for each key; host-network clients are none of the eight (null). */
const SCENARIO_ID: Readonly<Record<ScenarioKey, number | null>> = Object.freeze({
  S1: 1,
  S2: 2,
  S3: 3,
  S4: 4,
  S5: 5,
  S6: 6,
  S7: 7,
  S8a: 8,
  S8b: 8,
  // the client is its own backend: same node, same ENI
  hairpin: 5,
  'host-network': null,
});

export function scenarioOf(key: ScenarioKey, facts: ClassifyFacts): Scenario | null {
  const id = SCENARIO_ID[key];
  if (id === null) return null;
  if (key === ScenarioKey.s8a) return { id, rule: ScenarioVariant.s8a };
  if (key === ScenarioKey.s8b) return { id, rule: ScenarioVariant.s8b };
  if (key === ScenarioKey.hairpin) return { id, rule: ScenarioVariant.hairpin };
  const lb = facts.via === Via.loadBalancer || facts.via === Via.externalIp;
  return { id, rule: lb ? ScenarioVariant.inClusterLb : null };
}

export const Unclassified = Object.freeze({
  clientUnknown: 'client-unknown',
  serverUnknown: 'server-unknown',
  destinationUnknown: 'destination-unknown',
  nodeUnknown: 'node-unknown',
  samePod: 'same-pod',
  serverOutside: 'server-outside-cluster',
  podToHost: 'pod-to-host',
  podToNodePort: 'pod-to-node-port',
  hostToHost: 'host-to-host',
  hostToNodePort: 'host-to-node-port',
  externalToPod: 'external-to-pod',
  externalToClusterIp: 'external-to-cluster-ip',
  externalToHost: 'external-to-host',
  /** no row matched: the facts are inconsistent (e.g. two pods on one node with ENI `n/a`) */
  noRow: 'no-row',
} as const);
export type Unclassified = (typeof Unclassified)[keyof typeof Unclassified];

type Cond<T> = readonly T[] | '*';

export interface DecisionRow {
  client: Cond<ClientKind>;
  server: Cond<ServerKind>;
  via: Cond<Via>;
  node: Cond<NodeRelation>;
  eni: Cond<EniRelation>;
  samePod: boolean | '*';
  outcome: { key: ScenarioKey } | { unclassified: Unclassified };
  /** why, with the reference section it rests on: printed in the README and in unclassified messages */
  why: string;
}

const SERVICE_ADDR = [Via.clusterIp, Via.loadBalancer, Via.externalIp] as const;

/**
 * First match wins. The "unknown" rows come first so that a missing fact never lands on a scenario by
 * accident; then the article's scenarios; then what no rule describes, each with its reason.
 */
export const DECISION_TABLE: readonly DecisionRow[] = Object.freeze([
  {
    client: [ClientKind.unknown],
    server: '*',
    via: '*',
    node: '*',
    eni: '*',
    samePod: '*',
    outcome: { unclassified: Unclassified.clientUnknown },
    why: 'the topology owns no pods, so the client cannot be called pod, host or external',
  },
  {
    client: '*',
    server: [ServerKind.unknown],
    via: '*',
    node: '*',
    eni: '*',
    samePod: '*',
    outcome: { unclassified: Unclassified.serverUnknown },
    why: 'the answering address is in no pod or node of the topology and the topology owns no pods',
  },
  {
    client: '*',
    server: [ServerKind.outside],
    via: '*',
    node: '*',
    eni: '*',
    samePod: '*',
    outcome: { unclassified: Unclassified.serverOutside },
    why: 'egress to an address outside the cluster (SNAT, egress gateways) is not modelled',
  },
  {
    client: '*',
    server: '*',
    via: [Via.unknown],
    node: '*',
    eni: '*',
    samePod: '*',
    outcome: { unclassified: Unclassified.destinationUnknown },
    why: 'the client targeted a translated address that is in no Service of the topology',
  },
  {
    client: '*',
    server: '*',
    via: '*',
    node: [NodeRelation.unknown],
    eni: '*',
    samePod: '*',
    outcome: { unclassified: Unclassified.nodeUnknown },
    why: 'the node of the client or of the server is not known',
  },
  {
    client: [ClientKind.pod],
    server: [ServerKind.pod],
    via: [Via.none],
    node: '*',
    eni: '*',
    samePod: true,
    outcome: { unclassified: Unclassified.samePod },
    why: "a pod talking to its own IP stays on the pod's loopback: no capture point sees it",
  },
  {
    client: [ClientKind.pod],
    server: [ServerKind.pod],
    via: SERVICE_ADDR,
    node: '*',
    eni: '*',
    samePod: true,
    outcome: { key: ScenarioKey.hairpin },
    why: 'pod to a Service whose chosen backend is itself (reference §2 S5/S6 hairpin)',
  },
  {
    client: [ClientKind.pod],
    server: [ServerKind.pod],
    via: [Via.none],
    node: [NodeRelation.same],
    eni: [EniRelation.same],
    samePod: false,
    outcome: { key: ScenarioKey.s2 },
    why: 'same node, same ENI (reference §2 S2/S3)',
  },
  {
    client: [ClientKind.pod],
    server: [ServerKind.pod],
    via: [Via.none],
    node: [NodeRelation.same],
    eni: [EniRelation.other],
    samePod: false,
    outcome: { key: ScenarioKey.s3 },
    why: 'same node, different ENIs (reference §2 S2/S3)',
  },
  {
    client: [ClientKind.pod],
    server: [ServerKind.pod],
    via: [Via.none],
    node: [NodeRelation.same],
    eni: [EniRelation.unknown],
    samePod: false,
    outcome: { key: ScenarioKey.s1 },
    why: 'same node, ENI relationship unknown (DESIGN §7; reference "decisions")',
  },
  {
    client: [ClientKind.pod],
    server: [ServerKind.pod],
    via: [Via.none],
    node: [NodeRelation.other],
    eni: '*',
    samePod: false,
    outcome: { key: ScenarioKey.s4 },
    why: 'cross-node pod to pod (reference §2 S4)',
  },
  {
    client: [ClientKind.pod],
    server: [ServerKind.pod],
    via: SERVICE_ADDR,
    node: [NodeRelation.same],
    eni: [EniRelation.same],
    samePod: false,
    outcome: { key: ScenarioKey.s5 },
    why: 'Service, backend on the same ENI; in-cluster LoadBalancer/ExternalIP count as ClusterIP (reference §2 S5/S6, §1.2 T-p2)',
  },
  {
    client: [ClientKind.pod],
    server: [ServerKind.pod],
    via: SERVICE_ADDR,
    node: [NodeRelation.same],
    eni: [EniRelation.other],
    samePod: false,
    outcome: { key: ScenarioKey.s6 },
    why: 'Service, backend on another ENI of the same node (reference §2 S5/S6)',
  },
  {
    client: [ClientKind.pod],
    server: [ServerKind.pod],
    via: SERVICE_ADDR,
    node: [NodeRelation.same],
    eni: [EniRelation.unknown],
    samePod: false,
    outcome: { key: ScenarioKey.s1 },
    why: "Service, backend on the same node, ENI relationship unknown: the article's scenario 1 includes same-node Service traffic",
  },
  {
    client: [ClientKind.pod],
    server: [ServerKind.pod],
    via: SERVICE_ADDR,
    node: [NodeRelation.other],
    eni: '*',
    samePod: false,
    outcome: { key: ScenarioKey.s7 },
    why: 'Service, backend on another node (reference §2 S7)',
  },
  {
    client: [ClientKind.pod],
    server: '*',
    via: [Via.nodePort],
    node: '*',
    eni: '*',
    samePod: '*',
    outcome: { unclassified: Unclassified.podToNodePort },
    why: 'pod to nodeIP:NodePort goes to kube-proxy in the host stack; no rule describes it yet',
  },
  {
    client: [ClientKind.pod],
    server: [ServerKind.host],
    via: '*',
    node: '*',
    eni: '*',
    samePod: '*',
    outcome: { unclassified: Unclassified.podToHost },
    why: 'traffic to node IPs and hostNetwork pods is passed to the host stack even under DataPath V2 (reference §4, T-p5); no rule describes it yet',
  },
  {
    client: [ClientKind.host],
    server: [ServerKind.pod],
    via: [Via.none, ...SERVICE_ADDR],
    node: [NodeRelation.same, NodeRelation.other],
    eni: '*',
    samePod: '*',
    outcome: { key: ScenarioKey.hostNetwork },
    why: 'a node or hostNetwork process to a pod, directly or through a Service translated before any tap (reference §2 S7 "Host-netns clients")',
  },
  {
    client: [ClientKind.host],
    server: '*',
    via: [Via.nodePort],
    node: '*',
    eni: '*',
    samePod: '*',
    outcome: { unclassified: Unclassified.hostToNodePort },
    why: 'a host process to nodeIP:NodePort is kube-proxy in the host stack; no rule describes it yet',
  },
  {
    client: [ClientKind.host],
    server: [ServerKind.host],
    via: '*',
    node: '*',
    eni: '*',
    samePod: '*',
    outcome: { unclassified: Unclassified.hostToHost },
    why: 'no pod datapath is involved between two host network namespaces',
  },
  {
    client: [ClientKind.external],
    server: [ServerKind.pod],
    via: [Via.loadBalancer, Via.externalIp],
    node: '*',
    eni: '*',
    samePod: '*',
    outcome: { key: ScenarioKey.s8a },
    why: 'external client through the SLB to podIP:targetPort on its ENI (reference §2 S8a, ENI backend)',
  },
  {
    client: [ClientKind.external],
    server: [ServerKind.pod],
    via: [Via.nodePort],
    node: [NodeRelation.same, NodeRelation.other],
    eni: '*',
    samePod: '*',
    outcome: { key: ScenarioKey.s8b },
    why: 'external client through the SLB to nodeIP:NodePort, kube-proxy on that node (reference §2 S8b, ECS backend)',
  },
  {
    client: [ClientKind.external],
    server: [ServerKind.pod],
    via: [Via.none],
    node: '*',
    eni: '*',
    samePod: '*',
    outcome: { unclassified: Unclassified.externalToPod },
    why: "an external client reached a pod IP that backs no LoadBalancer or ExternalIP Service: not one of the article's scenarios",
  },
  {
    client: [ClientKind.external],
    server: '*',
    via: [Via.clusterIp],
    node: '*',
    eni: '*',
    samePod: '*',
    outcome: { unclassified: Unclassified.externalToClusterIp },
    why: 'a ClusterIP is not reachable from outside the cluster',
  },
  {
    client: [ClientKind.external],
    server: [ServerKind.host],
    via: '*',
    node: '*',
    eni: '*',
    samePod: '*',
    outcome: { unclassified: Unclassified.externalToHost },
    why: 'an external client to a node or hostNetwork pod crosses no pod datapath',
  },
  {
    client: '*',
    server: '*',
    via: '*',
    node: '*',
    eni: '*',
    samePod: '*',
    outcome: { unclassified: Unclassified.noRow },
    why: 'the facts contradict each other (for example two pods on one node with no ENI relation)',
  },
] satisfies DecisionRow[]);

export type Classification =
  | {
      status: 'classified';
      key: ScenarioKey;
      /** DESIGN §8 `scenario`; null for host-network clients */
      scenario: Scenario | null;
      /** index into DECISION_TABLE */
      row: number;
      facts: ClassifyFacts;
    }
  | { status: 'unclassified'; reason: Unclassified; message: string; row: number; facts: ClassifyFacts };

function holds<T>(cond: Cond<T>, value: T): boolean {
  return cond === '*' || cond.includes(value);
}

export function rowMatches(row: DecisionRow, f: ClassifyFacts): boolean {
  return (
    holds(row.client, f.client) &&
    holds(row.server, f.server) &&
    holds(row.via, f.via) &&
    holds(row.node, f.node) &&
    holds(row.eni, f.eni) &&
    (row.samePod === '*' || row.samePod === f.samePod)
  );
}

export function classifyFacts(facts: ClassifyFacts): Classification {
  const row = DECISION_TABLE.findIndex((r) => rowMatches(r, facts));
  // the last row matches everything, so row >= 0
  const r = DECISION_TABLE[row]!;
  if ('key' in r.outcome)
    return {
      status: 'classified',
      key: r.outcome.key,
      scenario: scenarioOf(r.outcome.key, facts),
      row,
      facts,
    };
  return { status: 'unclassified', reason: r.outcome.unclassified, message: r.why, row, facts };
}

// ---------------------------------------------------------------------------------------------------
// Facts from a flow and the topology. The interfaces are the parts of analyzers/topology's model and of a
// DESIGN §8 flow that classification reads; the topology model satisfies ClassifyTopology as is.

export interface ClassifyService {
  key: string;
  clusterIps: readonly string[];
  externalIps: readonly string[];
  loadBalancerIps: readonly string[];
  ports: readonly { protocol: string; port: number; nodePort: number | null }[];
  backends: readonly { ip: string; port: number; protocol: string }[];
}

export interface ClassifyTopology extends RoleTopology {
  /** pod IP -> pod key */
  podByIp: ReadonlyMap<string, string>;
  /** node IP -> node name */
  nodeByIp: ReadonlyMap<string, string>;
  services: readonly ClassifyService[];
}

export interface ClassifyFlow {
  /** `tcp|udp|icmp|...` */
  proto: string;
  client: { ip: string; pod: string | null; node: string | null };
  server: { ip: string; port: number; pod: string | null; node: string | null };
  /**
   * The request's destination at its first sighting (DESIGN §8 `request_path[0]`), null when unknown. It is
   * what the bundle shows the client targeted: a ClusterIP, or nodeIP:NodePort behind an SLB (8b).
   */
  entry: { ip: string; port: number } | null;
  /**
   * A Service address the flow is known to have targeted even if no capture shows it (a host process's
   * connect() to a ClusterIP is translated before any tap; an SLB's address is outside the bundle).
   */
  service: { ip: string; port: number } | null;
}

type Side = { kind: 'pod' | 'host' | 'none'; pod: string | null; node: string | null };

function sideOf(
  ip: string,
  pod: string | null,
  node: string | null,
  topo: ClassifyTopology,
): Side & { eni: string | null } {
  const key = pod ?? topo.podByIp.get(ip) ?? null;
  const p = key !== null ? topo.pods.get(key) : undefined;
  if (p) return { kind: p.hostNetwork ? 'host' : 'pod', pod: p.key, node: node ?? p.node, eni: p.eni };
  const hostNode = topo.nodeByIp.get(ip);
  if (hostNode !== undefined) return { kind: 'host', pod: null, node: node ?? hostNode, eni: null };
  return { kind: 'none', pod: null, node, eni: null };
}

/**
 * What the client targeted, by precedence: the first sighting's destination when it is not the server's own
 * address (the bundle shows a translation), else the Service address known from elsewhere, else nothing.
 */
function targetOf(flow: ClassifyFlow): { ip: string; port: number } | null {
  const e = flow.entry;
  if (e !== null && !(e.ip === flow.server.ip && e.port === flow.server.port)) return e;
  return flow.service;
}

function viaOf(flow: ClassifyFlow, topo: ClassifyTopology, external: boolean, serverPod: boolean): Via {
  const target = targetOf(flow);
  const proto = flow.proto.toLowerCase();
  if (target === null) {
    // The SLB's DNAT to podIP:targetPort happens outside every capture (reference §2 S8a), so an external
    // client reaching a pod that backs a LoadBalancer/ExternalIP port came through it.
    if (!external || !serverPod) return Via.none;
    const backs = topo.services.filter((s) =>
      s.backends.some(
        (b) => b.ip === flow.server.ip && b.port === flow.server.port && b.protocol.toLowerCase() === proto,
      ),
    );
    if (backs.some((s) => s.loadBalancerIps.length > 0)) return Via.loadBalancer;
    if (backs.some((s) => s.externalIps.length > 0)) return Via.externalIp;
    return Via.none;
  }
  for (const s of topo.services) {
    if (s.clusterIps.includes(target.ip)) return Via.clusterIp;
    if (s.loadBalancerIps.includes(target.ip)) return Via.loadBalancer;
    if (s.externalIps.includes(target.ip)) return Via.externalIp;
  }
  if (
    topo.nodeByIp.has(target.ip) &&
    topo.services.some((s) =>
      s.ports.some((p) => p.nodePort === target.port && p.protocol.toLowerCase() === proto),
    )
  )
    return Via.nodePort;
  return Via.unknown;
}

// a declaration, not a closure in factsFromFlow: it runs once per flow, and tsx's keepNames would rename a
// fresh closure each time
function nodeRelation(a: string | null, b: string | null): NodeRelation {
  return a === null || b === null ? NodeRelation.unknown : a === b ? NodeRelation.same : NodeRelation.other;
}

export function factsFromFlow(flow: ClassifyFlow, topo: ClassifyTopology): ClassifyFacts {
  const noPods = topo.pods.size === 0;
  const c = sideOf(flow.client.ip, flow.client.pod, flow.client.node, topo);
  const s = sideOf(flow.server.ip, flow.server.pod, flow.server.node, topo);
  const client: ClientKind =
    c.kind === 'pod'
      ? ClientKind.pod
      : c.kind === 'host'
        ? ClientKind.host
        : noPods
          ? ClientKind.unknown
          : ClientKind.external;
  const server: ServerKind =
    s.kind === 'pod'
      ? ServerKind.pod
      : s.kind === 'host'
        ? ServerKind.host
        : noPods
          ? ServerKind.unknown
          : ServerKind.outside;
  const via = viaOf(flow, topo, client === ClientKind.external, server === ServerKind.pod);
  let node: NodeRelation;
  if (client !== ClientKind.external) node = nodeRelation(c.node, s.node);
  else if (via === Via.nodePort)
    node = nodeRelation(topo.nodeByIp.get(targetOf(flow)?.ip ?? '') ?? null, s.node);
  else node = NodeRelation.na;
  let eni: EniRelation = EniRelation.na;
  if (client === ClientKind.pod && server === ServerKind.pod && node === NodeRelation.same)
    eni =
      c.eni === null || s.eni === null
        ? EniRelation.unknown
        : c.eni === s.eni
          ? EniRelation.same
          : EniRelation.other;
  const samePod = c.pod !== null && c.pod === s.pod;
  return { client, server, via, node, eni, samePod };
}

/** The node that took nodeIP:NodePort, for role resolution (`service.*`); null for other flows. */
export function serviceNodeOf(
  flow: ClassifyFlow,
  facts: ClassifyFacts,
  topo: ClassifyTopology,
): string | null {
  return facts.via === Via.nodePort ? (topo.nodeByIp.get(targetOf(flow)?.ip ?? '') ?? null) : null;
}

export function classifyFlow(flow: ClassifyFlow, topo: ClassifyTopology): Classification {
  const facts = factsFromFlow(flow, topo);
  const key = factsKey(facts);
  // (a value no code names: classified as is, never cached under another's key)
  if (!Number.isInteger(key)) return classifyFacts(facts);
  let c = classified[key];
  if (c === undefined) {
    c = classifyFacts(facts);
    classified[key] = c;
  }
  return c;
}

/**
 * A classification per distinct facts, made once: every flow is classified, from six fields of a few
 * values each, against the whole decision table (a tenth of the rules' time per flow). Shared, so
 * never changed by whoever reads it; its `facts` are equal to, not the same object as, a later flow's.
 */
const classified: Classification[] = [];

/** values per field, at most (the key's radix) */
const FACT_RADIX = 8;

function codesOf(values: object): ReadonlyMap<unknown, number> {
  const codes = new Map(Object.values(values).map((v, i) => [v, i]));
  if (codes.size > FACT_RADIX) throw new RangeError(`more than ${FACT_RADIX} values: ${[...codes.keys()]}`);
  return codes;
}
const CLIENT_CODE = codesOf(ClientKind);
const SERVER_CODE = codesOf(ServerKind);
const VIA_CODE = codesOf(Via);
const NODE_CODE = codesOf(NodeRelation);
const ENI_CODE = codesOf(EniRelation);

/** A number per distinct facts (each field's code, base FACT_RADIX, then samePod). */
function factsKey(f: ClassifyFacts): number {
  let key = CLIENT_CODE.get(f.client)!;
  key = key * FACT_RADIX + SERVER_CODE.get(f.server)!;
  key = key * FACT_RADIX + VIA_CODE.get(f.via)!;
  key = key * FACT_RADIX + NODE_CODE.get(f.node)!;
  key = key * FACT_RADIX + ENI_CODE.get(f.eni)!;
  return key * 2 + (f.samePod ? 1 : 0);
}

// ---------------------------------------------------------------------------------------------------

/** Whether `factsFromFlow` can produce these facts together (it never yields, e.g., an ENI relation across nodes). */
export function factsConsistent(f: ClassifyFacts): boolean {
  const twoPodsOneNode =
    f.client === ClientKind.pod && f.server === ServerKind.pod && f.node === NodeRelation.same;
  if ((f.eni !== EniRelation.na) !== twoPodsOneNode) return false;
  const external = f.client === ClientKind.external;
  if ((f.node === NodeRelation.na) !== (external && f.via !== Via.nodePort)) return false;
  if (f.samePod && !(twoPodsOneNode && f.eni !== EniRelation.other)) return false;
  return true;
}

/** Every consistent combination of fact values: the rule loader checks coverage and ambiguity over it. */
export function allFacts(): ClassifyFacts[] {
  const out: ClassifyFacts[] = [];
  for (const client of Object.values(ClientKind))
    for (const server of Object.values(ServerKind))
      for (const via of Object.values(Via))
        for (const node of Object.values(NodeRelation))
          for (const eni of Object.values(EniRelation))
            for (const samePod of [false, true]) {
              const f = { client, server, via, node, eni, samePod };
              if (factsConsistent(f)) out.push(f);
            }
  return out;
}

function cell<T extends string>(cond: Cond<T>): string {
  return cond === '*' ? 'any' : cond.join(', ');
}

/** The decision table as Markdown, for the README (docs/rules.md holds a copy a test keeps in step). */
export function decisionTableMarkdown(): string {
  const lines = [
    '| # | client | server | via | node | ENI | same pod | outcome | why |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  DECISION_TABLE.forEach((r, i) => {
    const outcome =
      'key' in r.outcome
        ? `**${r.outcome.key}**${SCENARIO_ID[r.outcome.key] === null ? ' (scenario null, own rules)' : ''}`
        : `unclassified: \`${r.outcome.unclassified}\``;
    const same = r.samePod === '*' ? 'any' : r.samePod ? 'yes' : 'no';
    lines.push(
      `| ${i + 1} | ${cell(r.client)} | ${cell(r.server)} | ${cell(r.via)} | ${cell(r.node)} | ${cell(r.eni)} | ${same} | ${outcome} | ${r.why} |`,
    );
  });
  return `${lines.join('\n')}\n`;
}
