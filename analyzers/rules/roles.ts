/**
 * The role vocabulary rules are written in, `<endpoint>.<kind>:<in|out>` (STYLE "Identities and roles"),
 * and how a role resolves to a capture point id for one flow given the topology.
 *
 * Rules never name interfaces: `backend.veth:out` is "the host side of the backend pod's veth, packets
 * the host sends to the pod", whatever the cali name on that node. Point ids follow DESIGN §3:
 * `node/<node>/<iface>` and `pod/<namespace>/<pod>/<iface>`.
 */

/** Who a role belongs to in a flow. */
export const Endpoint = Object.freeze({
  /** the side that opened the connection (sent the first request packet) */
  client: 'client',
  /** the pod that answers (after any Service translation); `server` is accepted as an alias */
  backend: 'backend',
  /** the node whose address the client targeted with nodeIP:NodePort (rule 8b); nothing otherwise */
  service: 'service',
} as const);
export type Endpoint = (typeof Endpoint)[keyof typeof Endpoint];

/** Endpoint spellings accepted in rule files; `server` reads better for pod-to-pod rules. */
export const ENDPOINT_ALIASES: Readonly<Record<string, Endpoint>> = Object.freeze({
  client: Endpoint.client,
  backend: Endpoint.backend,
  server: Endpoint.backend,
  service: Endpoint.service,
});

/** Which of the endpoint's devices; the same values as the topology's PointKind (minus `other`). */
export const RoleKind = Object.freeze({
  /** the pod's own eth0, in its network namespace */
  podEth0: 'pod-eth0',
  /** the host side of the pod's veth (`cali*`) */
  veth: 'veth',
  /** the secondary ENI that owns the pod's IP (its `ip rule from <podIP>` table's device) */
  eni: 'eni',
  /** the node's primary interface (main table default route, `eth0`) */
  primary: 'primary',
  /** the node-wide `any` capture (SLL v1, no ifindex): what a rule names when only that exists */
  any: 'any',
} as const);
export type RoleKind = (typeof RoleKind)[keyof typeof RoleKind];

/** Direction from the device's point of view (the tap's view, reference §1.3). */
export const RoleDir = Object.freeze({
  /** received by the device */
  in: 'in',
  /** sent by the device */
  out: 'out',
} as const);
export type RoleDir = (typeof RoleDir)[keyof typeof RoleDir];

export interface Role {
  endpoint: Endpoint;
  kind: RoleKind;
  dir: RoleDir;
  /** canonical spelling (`server` written as `backend`): equal roles have equal text */
  text: string;
}

const KINDS = new Set<string>(Object.values(RoleKind));
const DIRS = new Set<string>(Object.values(RoleDir));

/** Parse `<endpoint>.<kind>:<dir>`; null when any part is outside the vocabulary. */
export function parseRole(text: string): Role | null {
  const m = /^([a-z]+)\.([a-z0-9-]+):([a-z]+)$/.exec(text);
  if (!m) return null;
  const endpoint = ENDPOINT_ALIASES[m[1]!];
  if (endpoint === undefined || !KINDS.has(m[2]!) || !DIRS.has(m[3]!)) return null;
  const kind = m[2] as RoleKind;
  const dir = m[3] as RoleDir;
  return { endpoint, kind, dir, text: `${endpoint}.${kind}:${dir}` };
}

/** Every spelling a rule may use, for did-you-mean suggestions. */
export const ROLE_SPELLINGS: readonly string[] = Object.freeze(
  Object.keys(ENDPOINT_ALIASES).flatMap((e) =>
    Object.values(RoleKind).flatMap((k) => Object.values(RoleDir).map((d) => `${e}.${k}:${d}`)),
  ),
);

// ---------------------------------------------------------------------------------------------------
// Resolution. The interfaces below are the part of analyzers/topology (model.ts `Topology`) and of a flow
// (DESIGN §8 `client`/`server`/`service`) that roles need: the topology model satisfies them as is.

export interface RolePod {
  /** `<namespace>/<name>` */
  key: string;
  node: string | null;
  /** host-side veth name */
  veth: string | null;
  /** ENI interface owning the pod IP on its node */
  eni: string | null;
  hostNetwork: boolean;
}

export interface RoleNode {
  name: string;
  /** `uname -r` */
  kernel: string | null;
  /** the main table default route's device */
  primary: string | null;
}

export interface RolePoint {
  id: string;
  /** PointKind: `pod-eth0|veth|eni|primary|any|other` */
  kind: string;
}

export interface RoleTopology {
  pods: ReadonlyMap<string, RolePod>;
  nodes: ReadonlyMap<string, RoleNode>;
  /** captured points by id */
  points: ReadonlyMap<string, RolePoint>;
}

export interface RoleFlow {
  client: { pod: string | null; node: string | null };
  /** DESIGN §8 `server`: the answering pod */
  server: { pod: string | null; node: string | null };
  /** node that owns the nodeIP the client targeted (NodePort); null for any other flow */
  serviceNode: string | null;
}

/** Why a role has no capture point for a flow (explicit, never a silent null). */
export const Unresolved = Object.freeze({
  /** the endpoint is not a pod (external client, host-network client) but the kind needs one */
  notAPod: 'not-a-pod',
  /** the flow does not go through a NodePort, so `service.*` names nothing */
  noServiceNode: 'no-service-node',
  /** the endpoint's node is not known */
  nodeUnknown: 'node-unknown',
  /** the topology has no such pod */
  podUnknown: 'pod-unknown',
  /** the pod's host veth name is not known */
  vethUnknown: 'veth-unknown',
  /** the ENI owning the pod's IP is not known */
  eniUnknown: 'eni-unknown',
  /** the node's primary interface is not known */
  primaryUnknown: 'primary-unknown',
} as const);
export type Unresolved = (typeof Unresolved)[keyof typeof Unresolved];

export type RoleResolution =
  | {
      status: 'resolved';
      point: string;
      node: string;
      /** the point has a capture; when false the evaluator looks at `anyPoint` or reports not_captured */
      captured: boolean;
      /** the node's `any` capture, when it has one (SLL v1: direction and device partly unknown) */
      anyPoint: string | null;
    }
  | { status: 'unresolved'; reason: Unresolved; node: string | null };

/** The node whose kernel decides a hop of this endpoint (DESIGN §7: expectations per hop's node). */
export function endpointNode(endpoint: Endpoint, flow: RoleFlow, topo: RoleTopology): string | null {
  if (endpoint === Endpoint.service) return flow.serviceNode;
  const side = endpoint === Endpoint.client ? flow.client : flow.server;
  if (side.node !== null) return side.node;
  return side.pod !== null ? (topo.pods.get(side.pod)?.node ?? null) : null;
}

// a declaration, not a closure in resolveRole: roles resolve for every hop of every flow, and tsx's
// keepNames would rename a fresh closure each call
function resolvedPoint(id: string, n: string, topo: RoleTopology): RoleResolution {
  const any = `node/${n}/any`;
  return {
    status: 'resolved',
    point: id,
    node: n,
    captured: topo.points.has(id),
    anyPoint: topo.points.has(any) ? any : null,
  };
}

export function resolveRole(role: Role, flow: RoleFlow, topo: RoleTopology): RoleResolution {
  const node = endpointNode(role.endpoint, flow, topo);
  if (role.endpoint === Endpoint.service && node === null)
    return { status: 'unresolved', reason: Unresolved.noServiceNode, node };
  if (role.kind === RoleKind.primary || role.kind === RoleKind.any) {
    if (node === null) return { status: 'unresolved', reason: Unresolved.nodeUnknown, node };
    if (role.kind === RoleKind.any) return resolvedPoint(`node/${node}/any`, node, topo);
    const primary = topo.nodes.get(node)?.primary ?? null;
    return primary === null
      ? { status: 'unresolved', reason: Unresolved.primaryUnknown, node }
      : resolvedPoint(`node/${node}/${primary}`, node, topo);
  }
  // pod-eth0, veth, eni: the endpoint must be a pod with its own network namespace
  const side = role.endpoint === Endpoint.client ? flow.client : flow.server;
  if (role.endpoint === Endpoint.service || side.pod === null)
    return { status: 'unresolved', reason: Unresolved.notAPod, node };
  const pod = topo.pods.get(side.pod);
  if (!pod) return { status: 'unresolved', reason: Unresolved.podUnknown, node };
  if (pod.hostNetwork) return { status: 'unresolved', reason: Unresolved.notAPod, node };
  if (role.kind === RoleKind.podEth0) {
    if (node === null) return { status: 'unresolved', reason: Unresolved.nodeUnknown, node };
    return resolvedPoint(`pod/${pod.key}/eth0`, node, topo);
  }
  if (node === null) return { status: 'unresolved', reason: Unresolved.nodeUnknown, node };
  const iface = role.kind === RoleKind.veth ? pod.veth : pod.eni;
  if (iface === null)
    return {
      status: 'unresolved',
      reason: role.kind === RoleKind.veth ? Unresolved.vethUnknown : Unresolved.eniUnknown,
      node,
    };
  return resolvedPoint(`node/${node}/${iface}`, node, topo);
}
