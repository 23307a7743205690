/**
 * The verdict vocabulary (DESIGN §8, STYLE "analyzers/ and verdicts: Cilium's vocabulary"): closed sets,
 * each with an explicit unknown where one can happen, and reasons kept apart from statuses (a reason is set
 * only when the status is not `pass`, as Cilium's DropReason only goes with DROPPED).
 */

export const Status = Object.freeze({
  /** every expectation was checked against captures that could have shown otherwise */
  pass: 'pass',
  /** a capture shows something the rule excludes, or lacks what a lossless capture would have shown */
  fail: 'fail',
  /** the captures cannot tell (not captured, lossy, unknown kernel, unclassified...) */
  inconclusive: 'inconclusive',
} as const);
export type Status = (typeof Status)[keyof typeof Status];

/** Why a check is not `pass`. */
export const Reason = Object.freeze({
  /** a point the rule needs has no capture, or none covering the flow's time */
  pointNotCaptured: 'point-not-captured',
  /** the point dropped packets during its capture: its silence proves nothing */
  captureLoss: 'capture-loss',
  /** a point the datapath bypasses was seen: the slow path was taken */
  seenOnSkippedPoint: 'seen-on-skipped-point',
  /** a point outside the rule's path was seen */
  unexpectedHop: 'unexpected-hop',
  /** a point on the rule's path, captured without loss, did not see the packet */
  hopNotSeen: 'hop-not-seen',
  /** hops seen in another order than the rule's path */
  outOfOrder: 'out-of-order',
  /** clocks between nodes are too uncertain to order hops across them */
  clockBoundTooWide: 'clock-bound-too-wide',
  /** TTL / hop limit changed by another amount than the rule says */
  ttlMismatch: 'ttl-mismatch',
  /** the address the rule says is rewritten reached the end unchanged */
  rewriteMissing: 'rewrite-missing',
  /** the rewrite happened, but not between the points the rule names */
  rewriteAtWrongPoint: 'rewrite-at-wrong-point',
  /** after the rewrite, a later point shows the old address again */
  rewriteReverted: 'rewrite-reverted',
  /** neither the old nor the new address was seen: the rewrite cannot be placed */
  rewriteNotObserved: 'rewrite-not-observed',
  /** a role of the rule has no capture point for this flow (pod, veth or ENI unknown) */
  roleUnresolved: 'role-unresolved',
  /** a kernel-conditional hop on a node whose kernel is unknown: neither expected nor forbidden */
  kernelUnknown: 'kernel-unknown',
  /** the leg has no packets at all (no reply was captured) */
  noPackets: 'no-packets',
  /** the classifier gave no scenario */
  unclassified: 'unclassified',
  /** the rule set has no rule for the flow's scenario */
  noRule: 'no-rule',
  /** the only sighting is on an SLL v1 `any` capture, which does not name the device */
  deviceUnknown: 'device-unknown',
  /** a frame on an ENI/primary hop went to (or came from) another MAC than the gateway's */
  gatewayMacMismatch: 'gateway-mac-mismatch',
  /** the capture keeps no MAC for that side (SLL2 `any`: no destination MAC), so the gateway MAC cannot be told */
  macNotCaptured: 'mac-not-captured',
} as const);
export type Reason = (typeof Reason)[keyof typeof Reason];

/** What a flow's packets show about who forwarded them (DESIGN §8 `datapath`). */
export const Datapath = Object.freeze({
  /** every forwarding decision the captures can see bypassed the kernel path */
  ebpf: 'ebpf',
  /** every one that can be seen took the kernel path */
  kernel: 'kernel',
  /** some of each */
  mixed: 'mixed',
  /** the captures cannot tell (e.g. kernel < 5.10 same-node: bpf_redirect and the kernel show the same hops) */
  unknown: 'unknown',
} as const);
export type Datapath = (typeof Datapath)[keyof typeof Datapath];

export const RewriteStatus = Object.freeze({
  /** between the points the rule names */
  atSource: 'at-source',
  /** observed, but between other points */
  elsewhere: 'elsewhere',
  /** never happened within the captures */
  missing: 'missing',
  /** outside every capture point (SLB, the client's own stack) or between points not captured */
  notObservable: 'not-observable',
  /** the flow's rule has no such rewrite */
  na: 'n/a',
} as const);
export type RewriteStatus = (typeof RewriteStatus)[keyof typeof RewriteStatus];

export type Leg = 'request' | 'reply';

export interface PointRef {
  point: string;
  dir: 'in' | 'out' | 'unknown';
  leg: Leg;
}

export interface Evidence {
  point: string;
  file: string;
  frame: number;
}

export interface CheckResult {
  name: string;
  status: Status;
  /** null exactly when status is pass */
  reason: Reason | null;
  message: string;
  evidence: Evidence[];
}

export interface RewriteLeg {
  status: RewriteStatus;
  /** `ip:port` (IPv6 as `[addr]:port`) */
  before: string | null;
  after: string | null;
  /** the last point showing `before` and the first showing `after` */
  between: [string, string] | null;
}

export interface ServiceRewrite extends RewriteLeg {
  reverse: RewriteLeg;
}

export interface VerdictEndpoint {
  ip: string;
  port: number;
  pod: string | null;
  node: string | null;
}

/** How one node handled one leg, from what the captures show (rule-independent). */
export interface NodeHandling {
  node: string;
  leg: Leg;
  by: Datapath;
  why: string;
}

export interface FlowVerdict {
  flow_id: number;
  proto: string;
  client: VerdictEndpoint;
  service: { ip: string; port: number; name: string | null } | null;
  server: VerdictEndpoint;
  scenario: { id: number; rule: string | null } | null;
  /** the rule that judged the flow, `<set>/<id>` (sets joined by `+` when the flow's nodes claim different datapaths) */
  rule_id: string | null;
  datapath: Datapath;
  request_path: string[];
  reply_path: string[];
  skipped: PointRef[];
  unexpected: PointRef[];
  not_captured: PointRef[];
  service_rewrite: ServiceRewrite | null;
  status: Status;
  reason: Reason | null;
  checks: CheckResult[];
  /** not in DESIGN §8's list: per node and leg, what the captures show (feeds `nodes[].observed`) */
  handled_by: NodeHandling[];
}

const RANK: Record<Status, number> = { pass: 0, inconclusive: 1, fail: 2 };

/** The worse of two statuses: fail > inconclusive > pass. */
export function worse(a: Status, b: Status): Status {
  return RANK[b] > RANK[a] ? b : a;
}
