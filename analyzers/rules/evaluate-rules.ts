/**
 * The rule evaluator (issue 6, DESIGN §7-§8): one flow's facts + the rule that matches its scenario ->
 * a verdict with separate checks (path, bypass, unexpected hops, TTL, rewrites), each `pass`, `fail` or
 * `inconclusive` with a reason, a message a person understands, and evidence (point, file, frame).
 *
 * Principles, in the order they bite:
 * - Seeing a packet proves it was there, whatever the coverage: a sighting on a bypassed point fails.
 * - Not seeing it proves something only where the point was captured over the leg's whole time without
 *   drops; elsewhere the check is inconclusive, never pass (DESIGN §3).
 * - Expectations are per hop's node (DESIGN §7): each hop reads the kernel of its own endpoint's node, and
 *   when the flow's nodes claim different datapaths each endpoint's hops come from its own node's rule set.
 */
import {
  type Classification,
  type ClassifyFacts,
  type ClassifyTopology,
  classifyFlow,
  type Scenario,
  type ScenarioKey,
  serviceNodeOf,
} from '../classify.ts';
import type { Topology } from '../topology/model.ts';
import { cachedIn, newMap, newWeakMap, within } from './cached.ts';
import type { FlowFacts, LegFacts, PointCoverage, Sighting } from './flow-facts.ts';
import { coverageOver, hopKey, insideWindows } from './flow-facts.ts';
import {
  type EffectiveHop,
  type EffectiveLeg,
  effectiveLeg,
  type KernelVersion,
  type Rule,
  type RuleLeg,
  type RuleRewrite,
  ruleMatches,
} from './load-rules.ts';
import { Endpoint, endpointNode, type Role, type RoleFlow, resolveRole } from './roles.ts';
import { checkName, SharedChecks } from './shared-checks.ts';
import * as msg from './verdict-messages.ts';
import { shortPoint as shortPointId } from './verdict-messages.ts';
import {
  type CheckResult,
  Datapath,
  type Evidence,
  type FlowVerdict,
  type Leg,
  type NodeHandling,
  type PointRef,
  Reason,
  type RewriteLeg,
  RewriteStatus,
  Status,
  worse,
} from './verdict-types.ts';

/** Cilium's ipv4-service-loopback-address default (reference §4, C-loop): hairpin sources become it. */
export const SERVICE_LOOPBACK4 = '169.254.42.1';

export interface EvaluateContext {
  topology: Topology;
  coverage: ReadonlyMap<string, PointCoverage>;
  /** rule sets by name (`terway-v2`, `kernel-routing`, or a `--rules` folder's name) */
  sets: ReadonlyMap<string, readonly Rule[]>;
  /** the set that judges hops on this node; null when none is known (the flow is then not judged) */
  setOfNode: (node: string | null) => string | null;
  /** the kernel of a node, with any `--kernel` override applied; null when unknown */
  kernelOf: (node: string | null) => KernelVersion | null;
  /** the kernel text shown in messages */
  kernelText: (node: string | null) => string | null;
  /** clock error bound of a node (ns); null when unbounded */
  clockErrorNs: (node: string | null) => number | null;
}

/**
 * Alibaba Cloud VPC's gateway answers ARP with this MAC on every ENI (reference: Terway ENI routing); it is
 * the expected next hop when the node's ip neigh does not name one.
 */
export const VPC_GATEWAY_MAC = 'ee:ff:ff:ff:ff:ff';

/** No evidence: handed to `check` only to be read (a check without evidence is a shared one). */
const NO_EVIDENCE: Evidence[] = [];

/** Clock uncertainty beyond which hops on two nodes are not ordered by time (the narrow window). */
const CLOCK_BOUND_NS = 50e6;

// ---------------------------------------------------------------------------------------------------
// Rule choice

export interface RuleChoice {
  rule: Rule;
  /** `<set>/<id>`, or `<setA>+<setB>/<id>` for a per-endpoint composite */
  label: string;
}

/** The first rule of a set that matches the flow's scenario. */
function pickRule(
  ctx: EvaluateContext,
  set: string | null,
  key: ScenarioKey,
  facts: ClassifyFacts,
): Rule | null {
  if (set === null) return null;
  for (const r of ctx.sets.get(set) ?? []) if (ruleMatches(r, key, facts)) return r;
  return null;
}

const ENDPOINT_ORDER: Readonly<Record<Leg, readonly Endpoint[]>> = {
  request: [Endpoint.client, Endpoint.service, Endpoint.backend],
  reply: [Endpoint.backend, Endpoint.service, Endpoint.client],
};

/** One leg of a per-endpoint composite: each endpoint's hops, skips and rewrites from its own node's rule. */
function mergedLeg(leg: Leg, base: Rule, byEndpoint: Record<Endpoint, Rule>): RuleLeg {
  const order = ENDPOINT_ORDER[leg];
  return {
    path: order.flatMap((e) => byEndpoint[e][leg].path.filter((h) => h.role.endpoint === e)),
    skipped: order.flatMap((e) => byEndpoint[e][leg].skipped.filter((s) => s.role.endpoint === e)),
    // a rewrite belongs to the node where it happens: the endpoint of its `between` start
    rewrites: [
      ...base[leg].rewrites.filter((w) => w.between === null),
      ...order.flatMap((e) =>
        byEndpoint[e][leg].rewrites.filter((w) => w.between !== null && w.between[0].endpoint === e),
      ),
    ],
  };
}

/**
 * The one rule that judges a flow. When the flow's nodes are judged by one set, its matching rule. When
 * they claim different datapaths (a DataPath V2 node talking to a kernel-routing node), each endpoint's
 * hops, skips and rewrites come from the rule with the same id in its own node's set (DESIGN §7: expectations
 * are per hop's node). Both shipped sets use the same rule ids for the same situations, so this is a
 * per-endpoint merge, not a guess; when the other set lacks the id, the client side's rule judges alone.
 */
export function chooseRule(
  key: ScenarioKey,
  facts: ClassifyFacts,
  nodes: Record<Endpoint, string | null>,
  ctx: EvaluateContext,
): RuleChoice | null {
  const client = ctx.setOfNode(nodes.client);
  const backend = ctx.setOfNode(nodes.backend);
  const service = nodes.service !== null ? ctx.setOfNode(nodes.service) : null;
  // the side that starts the datapath decides when the sets differ and the other set has no such rule
  const primary = client ?? service ?? backend;
  if (primary === null) return null;
  const base = pickRule(ctx, primary, key, facts);
  if (base === null) return null;
  if (sameOrNone(client, primary) && sameOrNone(backend, primary) && sameOrNone(service, primary))
    return singleChoice(base);
  const setOf: Record<Endpoint, string | null> = { client, backend, service };
  const used: string[] = [];
  for (const s of [client, backend, service]) if (s !== null && !used.includes(s)) used.push(s);
  const byEndpoint = {} as Record<Endpoint, Rule>;
  for (const e of Object.values(Endpoint)) {
    const r = pickRule(ctx, setOf[e], key, facts);
    byEndpoint[e] = r !== null && r.id === base.id ? r : base;
  }
  // made once per combination: its legs key the leg plans, which a new object every flow would miss
  const composites = within(
    within(within(compositeCache(ctx, base), byEndpoint.client.set), byEndpoint.backend.set),
    byEndpoint.service.set,
  );
  const set = used.join('+');
  let choice = composites.get(set);
  if (choice === undefined) {
    choice = {
      rule: {
        ...base,
        set,
        request: mergedLeg('request', base, byEndpoint),
        reply: mergedLeg('reply', base, byEndpoint),
      },
      label: `${set}/${base.id}`,
    };
    composites.set(set, choice);
  }
  return choice;
}

const sameOrNone = (set: string | null, primary: string): boolean => set === null || set === primary;

/** per context and base rule: by the client's, backend's and Service node's rule set, then the sets used */
const composites = new WeakMap<EvaluateContext, WeakMap<Rule, ByName<ByName<ByName<ByName<RuleChoice>>>>>>();

function compositeCache(ctx: EvaluateContext, base: Rule): ByName<ByName<ByName<ByName<RuleChoice>>>> {
  return cachedIn(cachedIn(composites, ctx, newWeakMap), base, newMap);
}

const singleChoices = new WeakMap<Rule, RuleChoice>();

/** A rule judging alone, labelled `<set>/<id>`: one choice per rule (every flow it judges is labelled with it). */
function singleChoice(rule: Rule): RuleChoice {
  return cachedIn(singleChoices, rule, choiceOf);
}

const choiceOf = (rule: Rule): RuleChoice => ({ rule, label: `${rule.set}/${rule.id}` });

// ---------------------------------------------------------------------------------------------------
// Per-leg evaluation

interface ExpectedHop {
  readonly eff: EffectiveHop;
  readonly point: string | null;
  readonly unresolved: string | null;
  readonly node: string | null;
  /** the node's `any` capture point (null: no node) */
  readonly any: string | null;
  /** index into the leg's observed hops; -1 when not seen (set for each flow the plan judges) */
  seenAt: number;
  /** seen only on an SLL v1 `any` capture (device unknown) */
  viaAny: boolean;
}

interface Visibility {
  /** whether the point's silence is proof: captured over the leg's time, without drops */
  status: Status;
  reason: Reason | null;
  why: string;
}

interface LegResult {
  checks: CheckResult[];
  skipped: PointRef[];
  unexpected: PointRef[];
  notCaptured: PointRef[];
  rewrites: { rw: RuleRewrite; result: RewriteLeg }[];
}

/** The six references to a point (leg x direction), frozen and shared by every flow that names them. */
const pointRefs = new Map<string, readonly PointRef[]>();
/** points kept before the references start over (a batch judges bundle after bundle) */
const MAX_POINT_REFS = 1 << 12;
const REF_LEGS: readonly Leg[] = ['request', 'reply'];
const REF_DIRS: readonly PointRef['dir'][] = ['in', 'out', 'unknown'];

function pointRef(point: string, dir: PointRef['dir'], leg: Leg): PointRef {
  let refs = pointRefs.get(point);
  if (refs === undefined) {
    if (pointRefs.size >= MAX_POINT_REFS) pointRefs.clear();
    refs = REF_LEGS.flatMap((l) => REF_DIRS.map((d) => Object.freeze({ point, dir: d, leg: l })));
    pointRefs.set(point, refs);
  }
  return refs[(leg === 'request' ? 0 : 3) + (dir === 'in' ? 0 : dir === 'out' ? 1 : 2)]!;
}

const evidenceOf = (s: Sighting): Evidence => ({ point: s.point, file: s.file, frame: s.frame });

function legWindow(leg: LegFacts, facts: FlowFacts): [bigint, bigint] {
  return [leg.firstNs ?? facts.flow.firstNs, leg.lastNs ?? facts.flow.lastNs];
}

/**
 * Whether a point could have seen the leg: each of its files' windows (corrected clock) together cover the
 * leg's time, and no file overlapping it reported drops (DESIGN §3; the same judgement as Flow.coverage).
 */
export function visibility(
  point: string | null,
  window: [bigint, bigint],
  coverage: ReadonlyMap<string, PointCoverage>,
): Visibility {
  if (point === null)
    return { status: Status.inconclusive, reason: Reason.roleUnresolved, why: 'no capture point' };
  const c = coverage.get(point);
  if (!c) return { status: Status.inconclusive, reason: Reason.pointNotCaptured, why: 'not captured' };
  const over = coverageOver(c, window[0], window[1]);
  if (over.status === 'gap')
    return {
      status: Status.inconclusive,
      reason: Reason.pointNotCaptured,
      why: msg.coverageGap(c, window, [over.fromNs, over.toNs]),
    };
  if (over.status === 'lossy')
    return {
      status: Status.inconclusive,
      reason: Reason.captureLoss,
      why: `its capture dropped ${over.drops} packet(s) (${over.files.join(', ')})`,
    };
  return CAPTURED;
}

/** The common answer, one object for every point and leg that could see. */
const CAPTURED: Visibility = Object.freeze({
  status: Status.pass,
  reason: null,
  why: 'captured without loss',
});

function addressText(ip: string | null, port: number | null): string | null {
  if (ip === null) return null;
  return port === null ? `${ip.includes(':') ? `[${ip}]` : ip}:*` : msg.address(ip, port);
}

/**
 * An address a rewrite goes from/to, resolved for this flow: `ip` with `port` (null: the IP only), or any
 * node address (`ip` null). Plain data tested by `shows`, not a closure: one is made per rewrite
 * of every flow.
 */
interface AddressMatcher {
  text: string;
  ip: string | null;
  port: number | null;
}

const NODE_ADDRESS: AddressMatcher = { text: 'a node address', ip: null, port: null };
const LOOPBACK_ADDRESS: AddressMatcher = {
  text: `${SERVICE_LOOPBACK4}:*`,
  ip: SERVICE_LOOPBACK4,
  port: null,
};

function exactAddress(ip: string, port: number, icmp: boolean): AddressMatcher {
  const p = icmp ? null : port;
  return { text: addressText(ip, p) ?? ip, ip, port: p };
}

function rewriteAddress(name: RuleRewrite['from'], facts: FlowFacts, icmp: boolean): AddressMatcher | null {
  const f = facts.flow;
  switch (name) {
    case 'client':
      return exactAddress(f.client.ip, f.client.port, icmp);
    case 'backend':
      return exactAddress(f.server.ip, f.server.port, icmp);
    case 'service':
      return f.service ? exactAddress(f.service.ip, f.service.port, icmp) : null;
    case 'node-port':
      return facts.classify.entry
        ? exactAddress(facts.classify.entry.ip, facts.classify.entry.port, icmp)
        : null;
    case 'node-ip':
      // kube-proxy MASQUERADE may change the port (--random-fully): any address of any node, IP only
      return NODE_ADDRESS;
    case 'service-loopback':
      return LOOPBACK_ADDRESS;
  }
}

/** Whether a sighting shows the address in the rewritten field. */
function shows(s: Sighting, field: 'src' | 'dst', a: AddressMatcher, topo: ClassifyTopology): boolean {
  const ip = field === 'src' ? s.src : s.dst;
  if (a.ip === null) return ip !== null && topo.nodeByIp.has(ip);
  return ip === a.ip && (a.port === null || (field === 'src' ? s.srcPort : s.dstPort) === a.port);
}

/** A rewrite's field as the hops on each side of the change show it. */
function changedBetween(status: RewriteStatus, a: Sighting, b: Sighting, field: 'src' | 'dst'): RewriteLeg {
  return { status, before: fieldText(a, field), after: fieldText(b, field), between: [a.point, b.point] };
}

function fieldText(s: Sighting | undefined, field: 'src' | 'dst'): string | null {
  if (s === undefined) return null;
  return field === 'src' ? addressText(s.src, s.srcPort) : addressText(s.dst, s.dstPort);
}

/**
 * What a leg of a rule expects for one set of endpoints (pods and nodes): the hops in effect on their
 * kernels, each role resolved to its point, and the texts that depend on nothing else. Many flows share
 * their endpoints, so this is made once per (context, rule leg, endpoints), not per flow.
 */
interface LegPlan {
  eff: EffectiveLeg;
  /** per `eff.path` hop */
  /**
   * per `eff.path` hop, reused by every flow of the plan (one leg is judged at a time): the evaluator
   * sets each hop's `seenAt` and `viaAny` for the flow it judges
   */
  expected: readonly ExpectedHop[];
  /** observed hop index -> expected index, for the flow being judged (grown to its hops) */
  matched: Int32Array;
  /** per `eff.skipped` entry; `bypassed`: the bypass check's line when the point is silent and captured */
  skips: readonly { point: string | null; why: string | null; bypassed: string | null }[];
  /** the bypass check's message when every skipped point is silent and captured (null: a role unresolved) */
  allBypassed: string | null;
  /** `point:dir` of each resolved undecided hop */
  undecided: ReadonlySet<string>;
  /** the path check's line for each undecided hop */
  undecidedLines: readonly string[];
  /** msg.kernelNotes of the path */
  notes: readonly string[];
}

/** Values by a name or null at each level (pods, nodes), through nested maps: no key text made per flow. */
type ByName<T> = Map<string | null, T>;

/** by client pod, client node, server pod, server node, then Service node */
type PlansByEndpoints = ByName<ByName<ByName<ByName<ByName<LegPlan>>>>>;

const planCache = new WeakMap<EvaluateContext, WeakMap<RuleLeg, PlansByEndpoints>>();

function legPlan(ruleLeg: RuleLeg, roleFlow: RoleFlow, ctx: EvaluateContext): LegPlan {
  const byEndpoints: PlansByEndpoints = cachedIn(cachedIn(planCache, ctx, newWeakMap), ruleLeg, newMap);
  const plans = within(
    within(within(within(byEndpoints, roleFlow.client.pod), roleFlow.client.node), roleFlow.server.pod),
    roleFlow.server.node,
  );
  let plan = plans.get(roleFlow.serviceNode);
  if (plan === undefined) {
    plan = makeLegPlan(ruleLeg, roleFlow, ctx);
    plans.set(roleFlow.serviceNode, plan);
  }
  return plan;
}

function makeLegPlan(ruleLeg: RuleLeg, roleFlow: RoleFlow, ctx: EvaluateContext): LegPlan {
  const topo = ctx.topology;
  const eff = effectiveLeg(ruleLeg, (e) => ctx.kernelOf(endpointNode(e, roleFlow, topo)));
  const expected = eff.path.map((h): ExpectedHop => {
    const r = resolveRole(h.role, roleFlow, topo);
    const any = r.node !== null ? `node/${r.node}/any` : null;
    return r.status === 'resolved'
      ? { eff: h, point: r.point, unresolved: null, node: r.node, any, seenAt: -1, viaAny: false }
      : { eff: h, point: null, unresolved: r.reason, node: r.node, any, seenAt: -1, viaAny: false };
  });
  const skips = eff.skipped.map((sk) => {
    const r = resolveRole(sk.role, roleFlow, topo);
    return r.status === 'resolved'
      ? { point: r.point, why: null, bypassed: msg.bypassed(sk.role, r.point) }
      : { point: null, why: r.reason, bypassed: null };
  });
  const undecided = new Set<string>();
  const undecidedLines: string[] = [];
  for (const u of eff.undecided) {
    const r = resolveRole(u.role, roleFlow, topo);
    if (r.status === 'resolved') undecided.add(hopKey(r.point, u.role.dir));
    undecidedLines.push(msg.kernelUnknown(u, endpointNode(u.role.endpoint, roleFlow, topo)));
  }
  const notes = msg.kernelNotes(eff.path, ctx, roleFlow);
  const allBypassed = skips.every((sk) => sk.bypassed !== null)
    ? skips.map((sk) => sk.bypassed).join('; ')
    : null;
  return { eff, expected, matched: new Int32Array(16), skips, allBypassed, undecided, undecidedLines, notes };
}

interface GatewayMacs {
  macs: readonly string[];
  source: string;
}

/** Per topology and point: asked for every marked hop of every flow, and the same for all of them. */
const gatewayMacCache = new WeakMap<Topology, Map<string, GatewayMacs>>();

/**
 * The gateway MACs a frame at this point may go to (out) or come from (in), and where they come from:
 * the ENI's own table's gateway neighbour, else the node's default gateways' neighbours, else the VPC's.
 */
function gatewayMacsOf(topo: Topology, point: string): GatewayMacs {
  const byPoint = cachedIn(gatewayMacCache, topo, newMap);
  let g = byPoint.get(point);
  if (g === undefined) {
    g = gatewayMacsFromTopology(topo, point);
    byPoint.set(point, g);
  }
  return g;
}

function gatewayMacsFromTopology(topo: Topology, point: string): GatewayMacs {
  const p = topo.points.get(point);
  if (p?.peerMac) return { macs: [p.peerMac], source: `ip neigh of ${shortPointId(point)}'s gateway` };
  const node = p?.node ? topo.nodes.get(p.node) : undefined;
  if (node && node.gatewayMacs.length > 0)
    return { macs: node.gatewayMacs, source: `ip neigh of ${node.name}'s default gateway` };
  return { macs: [VPC_GATEWAY_MAC], source: 'the VPC gateway' };
}

/**
 * The gateway MAC check's pass texts: a tree by the points that passed, in order; each node holds its
 * points and their gateway MACs (made once), and its text per leg.
 */
interface GatewayMacOk {
  next: Map<string, GatewayMacOk>;
  points: readonly string[];
  macs: readonly string[];
  byLeg: Partial<Record<Leg, string>>;
}

const gatewayMacOkCache = new WeakMap<Topology, GatewayMacOk>();
const gatewayMacOkTree = (): GatewayMacOk => ({ next: new Map(), points: [], macs: [], byLeg: {} });

function gatewayMacOkRoot(topo: Topology): GatewayMacOk {
  return cachedIn(gatewayMacOkCache, topo, gatewayMacOkTree);
}

/** The node after `node` for one more point passed, whose gateway MACs are `macs` (gatewayMacsOf). */
function gatewayMacOkNext(node: GatewayMacOk, point: string, macs: readonly string[]): GatewayMacOk {
  let next = node.next.get(point);
  if (next === undefined) {
    next = {
      next: new Map(),
      points: [...node.points, point],
      macs: [...node.macs, ...macs.filter((m, i) => !node.macs.includes(m) && macs.indexOf(m) === i)],
      byLeg: {},
    };
    node.next.set(point, next);
  }
  return next;
}

function gatewayMacOkText(node: GatewayMacOk, leg: Leg): string {
  let text = node.byLeg[leg];
  if (text === undefined) {
    text = msg.gatewayMacOk(leg, node.points, node.macs);
    node.byLeg[leg] = text;
  }
  return text;
}

/** A rewrite's check name, made once per rule rewrite (every flow of the rule names it). */
const rewriteCheckNames = new WeakMap<RuleRewrite, string>();

function rewriteCheck(rw: RuleRewrite): string {
  return cachedIn(rewriteCheckNames, rw, rewriteCheckName);
}

const rewriteCheckName = (rw: RuleRewrite): string => `rewrite.${rw.kind}-${rw.field}`;

const sharedChecks = new WeakMap<EvaluateContext, SharedChecks>();

/** The checks without evidence of one context's flows, shared between them. */
function sharedChecksOf(ctx: EvaluateContext): SharedChecks {
  return cachedIn(sharedChecks, ctx, newSharedChecks);
}

const newSharedChecks = (): SharedChecks => new SharedChecks();

/** The lines of the first `n` skips, every one bypassed (the plan's lines). */
function bypassedLines(planned: LegPlan['skips'], n: number): string[] {
  const lines: string[] = [];
  for (let k = 0; k < n; k++) lines.push(planned[k]!.bypassed ?? '');
  return lines;
}

class LegEvaluator {
  /** where this leg's entries of `out.unexpected` start (the request leg's come before) */
  readonly unexpectedFrom: number;
  readonly shared: SharedChecks;
  readonly expected: readonly ExpectedHop[];
  readonly plan: LegPlan;
  readonly eff: EffectiveLeg;
  readonly window: [bigint, bigint];
  readonly hops: Sighting[];
  /** observed hop index -> expected index (-1: none) */
  readonly matchedTo: Int32Array;

  constructor(
    readonly leg: Leg,
    readonly ruleLeg: RuleLeg,
    readonly facts: FlowFacts,
    readonly roleFlow: RoleFlow,
    readonly ctx: EvaluateContext,
    readonly choice: RuleChoice,
    /** the verdict's lists, appended to in check order, and this leg's own rewrites */
    readonly out: LegResult,
  ) {
    this.unexpectedFrom = out.unexpected.length;
    this.shared = sharedChecksOf(ctx);
    this.plan = legPlan(ruleLeg, roleFlow, ctx);
    this.eff = this.plan.eff;
    const legFacts = facts[leg];
    this.window = legWindow(legFacts, facts);
    this.hops = legFacts.hops;
    const plan = this.plan;
    if (plan.matched.length < this.hops.length) plan.matched = new Int32Array(2 * this.hops.length);
    this.matchedTo = plan.matched;
    this.matchedTo.fill(-1, 0, this.hops.length);
    this.expected = plan.expected;
    for (const e of this.expected) {
      e.seenAt = -1;
      e.viaAny = false;
    }
    // match in path order; an observed hop serves one expected hop (a hairpin crosses one veth twice)
    for (let i = 0; i < this.expected.length; i++) {
      const e = this.expected[i]!;
      if (e.point === null) continue;
      const at = this.findHop(e.point, e.eff.role.dir);
      if (at >= 0) {
        e.seenAt = at;
        this.matchedTo[at] = i;
        continue;
      }
      const any = e.any;
      if (any !== null && ctx.coverage.has(any)) {
        const a = this.findHop(any, e.eff.role.dir);
        if (a >= 0) {
          e.seenAt = a;
          e.viaAny = true;
          this.matchedTo[a] = i;
        }
      }
    }
  }

  private findHop(point: string, dir: string): number {
    const exact = this.unmatchedHop(point, dir);
    // a capture that does not record direction (and nothing allowed inferring it): the point still counts
    return exact >= 0 ? exact : this.unmatchedHop(point, 'unknown');
  }

  private unmatchedHop(point: string, dir: string): number {
    const hops = this.hops;
    for (let i = 0; i < hops.length; i++)
      if (this.matchedTo[i] === -1 && hops[i]!.point === point && hops[i]!.dir === dir) return i;
    return -1;
  }

  private ref(point: string, dir: string): PointRef {
    return pointRef(point, dir === 'in' || dir === 'out' ? dir : 'unknown', this.leg);
  }

  private check(
    name: string,
    status: Status,
    reason: Reason | null,
    message: string,
    evidence: Evidence[],
  ): void {
    const full = checkName(name, this.leg);
    const why = status === Status.pass ? null : reason;
    this.out.checks.push(
      evidence.length === 0
        ? this.shared.get(full, status, why, message)
        : { name: full, status, reason: why, message, evidence },
    );
  }

  run(): LegResult {
    const legFacts = this.facts[this.leg];
    if (legFacts.packets === 0) {
      this.check('path', Status.inconclusive, Reason.noPackets, msg.noPackets(this.leg, this.facts), []);
      return this.out;
    }
    this.pathCheck();
    this.bypassCheck();
    this.unexpectedCheck();
    this.ttlCheck();
    this.gatewayMacCheck();
    this.rewriteChecks();
    return this.out;
  }

  private pathCheck(): void {
    const results: { status: Status; reason: Reason | null; line: string }[] = [];
    const evidence: Evidence[] = [];
    for (const e of this.expected) {
      const role = e.eff.role;
      if (e.seenAt >= 0) {
        const s = this.hops[e.seenAt]!;
        evidence.push(evidenceOf(s));
        // a sighting outside its point's window means the capture metadata and the packets disagree:
        // the hop was seen, but nothing about that capture can be trusted to pass (DESIGN §3)
        const c = this.ctx.coverage.get(s.point);
        if (c && !insideWindows(c, s.tNs)) {
          results.push({
            status: Status.inconclusive,
            reason: Reason.pointNotCaptured,
            line: msg.outsideWindow(s, c),
          });
          continue;
        }
        if (e.viaAny)
          results.push({
            status: Status.inconclusive,
            reason: Reason.deviceUnknown,
            line: msg.viaAny(role, s),
          });
        continue;
      }
      if (e.point === null) {
        results.push({
          status: Status.inconclusive,
          reason: Reason.roleUnresolved,
          line: msg.unresolved(role, e.unresolved),
        });
        continue;
      }
      const v = visibility(e.point, this.window, this.ctx.coverage);
      if (v.reason === Reason.pointNotCaptured) this.out.notCaptured.push(this.ref(e.point, role.dir));
      if (v.status !== Status.pass) {
        results.push({
          status: v.status,
          reason: v.reason,
          line: msg.hopUnknown(this.leg, role, e.point, v.why),
        });
        continue;
      }
      results.push({
        status: Status.fail,
        reason: Reason.hopNotSeen,
        line: msg.hopMissing(this.leg, role, e.point, this.hops),
      });
    }
    // undecided hops (kernel unknown): neither expected nor forbidden
    for (const line of this.plan.undecidedLines)
      results.push({ status: Status.inconclusive, reason: Reason.kernelUnknown, line });
    // order: the seen expected hops must appear in rule order
    let a: ExpectedHop | null = null;
    for (const b of this.expected) {
      if (b.seenAt < 0) continue;
      const prev = a;
      a = b;
      if (prev === null || b.seenAt > prev.seenAt) continue;
      const cross = prev.node !== b.node;
      const errA = this.ctx.clockErrorNs(prev.node);
      const errB = this.ctx.clockErrorNs(b.node);
      const wide = cross && (errA === null || errB === null || errA + errB > CLOCK_BOUND_NS);
      results.push({
        status: wide ? Status.inconclusive : Status.fail,
        reason: wide ? Reason.clockBoundTooWide : Reason.outOfOrder,
        line: msg.outOfOrder(prev.eff.role, b.eff.role, wide),
      });
    }
    let status: Status = Status.pass;
    for (const r of results) status = worse(status, r.status);
    let first: (typeof results)[number] | undefined;
    for (const r of results)
      if (r.status === status) {
        first = r;
        break;
      }
    const notes = this.plan.notes;
    const message =
      status === Status.pass
        ? msg.pathOk(this.leg, this.hops, notes)
        : [...results.filter((r) => r.status !== Status.pass).map((r) => r.line), ...notes].join('; ');
    this.check('path', status, first?.reason ?? null, message, evidence);
  }

  /** Points this datapath bypasses: seen -> the slow path was taken; silent on a lossless capture -> skipped. */
  private bypassCheck(): void {
    if (this.eff.skipped.length === 0) return;
    // the lines are made from the first point not bypassed on (before it, every line is the plan's)
    let lines: string[] | null = null;
    let status: Status = Status.pass;
    let reason: Reason | null = null;
    let evidence = NO_EVIDENCE;
    const skips = this.eff.skipped;
    const planned = this.plan.skips;
    for (let i = 0; i < skips.length; i++) {
      const s = skips[i]!;
      const { point, why, bypassed } = planned[i]!;
      if (point === null) {
        status = worse(status, Status.inconclusive);
        reason ??= Reason.roleUnresolved;
        lines = lines ?? bypassedLines(planned, i);
        lines.push(msg.unresolved(s.role, why));
        continue;
      }
      let at = -1;
      for (let k = 0; k < this.hops.length; k++) {
        const h = this.hops[k]!;
        if (h.point === point && (h.dir === s.role.dir || h.dir === 'unknown')) {
          at = k;
          break;
        }
      }
      const seenByAny = this.facts[this.leg].seenAnywhere.has(hopKey(point, s.role.dir));
      if (at >= 0 || seenByAny) {
        status = Status.fail;
        reason = Reason.seenOnSkippedPoint;
        this.out.unexpected.push(this.ref(point, s.role.dir));
        const sighting = at >= 0 ? this.hops[at]! : null;
        if (sighting) {
          if (evidence === NO_EVIDENCE) evidence = [];
          evidence.push(evidenceOf(sighting));
        }
        const node = endpointNode(s.role.endpoint, this.roleFlow, this.ctx.topology);
        lines = lines ?? bypassedLines(planned, i);
        lines.push(
          msg.seenOnSkipped(this.leg, s, point, sighting, this.facts, this.choice, this.ctx.kernelText(node)),
        );
        continue;
      }
      const v = visibility(point, this.window, this.ctx.coverage);
      if (v.status !== Status.pass) {
        status = worse(status, v.status);
        if (reason === null || reason === Reason.roleUnresolved) reason = v.reason;
        if (v.reason === Reason.pointNotCaptured) this.out.notCaptured.push(this.ref(point, s.role.dir));
        lines = lines ?? bypassedLines(planned, i);
        lines.push(msg.bypassUnknown(s.role, point, v.why));
        continue;
      }
      this.out.skipped.push(this.ref(point, s.role.dir));
      lines?.push(bypassed ?? msg.bypassed(s.role, point));
    }
    // every point bypassed: the lines are the plan's, joined once for every flow of the plan
    this.check(
      'bypass',
      status,
      reason,
      lines === null ? this.plan.allBypassed! : lines.join('; '),
      evidence,
    );
  }

  /** Whether the bypass check of this leg already reported the point as seen. */
  private failedAsSkipped(point: string, dir: string): boolean {
    const u = this.out.unexpected;
    for (let i = this.unexpectedFrom; i < u.length; i++)
      if (u[i]!.point === point && u[i]!.dir === dir) return true;
    return false;
  }

  private unexpectedCheck(): void {
    const undecided = this.plan.undecided;
    const extra: Sighting[] = [];
    const undecidedSeen: Sighting[] = [];
    for (let i = 0; i < this.hops.length; i++) {
      const h = this.hops[i]!;
      if (this.matchedTo[i]! >= 0) continue;
      if (this.failedAsSkipped(h.point, h.dir)) continue; // already failed by the bypass check
      const k = hopKey(h.point, h.dir);
      if (undecided.has(k)) {
        undecidedSeen.push(h);
        continue;
      }
      extra.push(h);
      this.out.unexpected.push(this.ref(h.point, h.dir));
    }
    if (extra.length > 0)
      this.check(
        'unexpected',
        Status.fail,
        Reason.unexpectedHop,
        extra.map((h) => msg.unexpectedHop(this.leg, h, this.facts, this.choice)).join('; '),
        extra.map(evidenceOf),
      );
    else if (undecidedSeen.length > 0)
      this.check(
        'unexpected',
        Status.inconclusive,
        Reason.kernelUnknown,
        undecidedSeen.map((h) => msg.undecidedSeen(h)).join('; '),
        undecidedSeen.map(evidenceOf),
      );
    else this.check('unexpected', Status.pass, null, msg.noUnexpected(this.leg, this.choice), []);
  }

  /** TTL loss between consecutive seen hops of the resolved path, summed over unseen hops in between. */
  private ttlCheck(): void {
    // a hop whose presence depends on an unknown kernel sits somewhere between two seen hops: no sum holds
    if (this.eff.undecided.length > 0) return;
    const lines: string[] = [];
    const evidence: Evidence[] = [];
    let bad = false;
    let checked = 0;
    let prev: ExpectedHop | null = null;
    let sum: number | null = 0;
    for (const e of this.expected) {
      if (prev !== null) sum = sum === null || e.eff.ttlDecrement === null ? null : sum + e.eff.ttlDecrement;
      if (e.seenAt < 0) continue;
      if (prev !== null && sum !== null) {
        const a = this.hops[prev.seenAt]!;
        const b = this.hops[e.seenAt]!;
        const lost = a.ttl - b.ttl;
        checked++;
        if (lost !== sum) {
          bad = true;
          evidence.push(evidenceOf(a), evidenceOf(b));
          lines.push(msg.ttlMismatch(a, b, sum));
        }
      }
      prev = e;
      sum = 0;
    }
    if (checked === 0) return;
    this.check(
      'ttl',
      bad ? Status.fail : Status.pass,
      bad ? Reason.ttlMismatch : null,
      bad ? lines.join('; ') : msg.ttlOk(this.leg, checked),
      evidence,
    );
  }

  /**
   * The gateway MACs a frame at this point may go to (out) or come from (in), and where they come from:
   * the ENI's own table's gateway neighbour, else the node's default gateways' neighbours, else the VPC's.
   */

  /**
   * Optional header invariant (issue 6): frames leaving through an ENI/primary hop the rule marks go to the
   * gateway MAC, frames arriving there come from it. Every packet of the leg is judged (`LegFacts.macs`), so
   * one misaddressed frame fails and is named. A capture without that MAC (SLL2 `any` has no destination
   * MAC) is inconclusive, never pass. Omitted when no marked hop was seen (the path check covers absence).
   */
  private gatewayMacCheck(): void {
    // built only when a hop does not pass
    let lines: string[] | null = null;
    let evidence = NO_EVIDENCE;
    let status: Status | null = null;
    let reason: Reason | null = null;
    // the hops that passed, as a node of the pass texts' tree
    let ok = gatewayMacOkRoot(this.ctx.topology);
    for (const e of this.expected) {
      if (e.eff.gatewayMac === false || e.seenAt < 0) continue;
      const s = this.hops[e.seenAt]!;
      if (e.eff.gatewayMac === null) {
        status = worse(status ?? Status.pass, Status.inconclusive);
        reason ??= Reason.kernelUnknown;
        lines = lines ?? [];
        lines.push(msg.gatewayMacKernelUnknown(s.point, e.eff.role.dir));
        continue;
      }
      const dir = e.eff.role.dir;
      const seen = this.facts[this.leg].macs.get(hopKey(s.point, s.dir));
      if (seen === undefined || seen.length === 0) continue;
      const { macs, source } = gatewayMacsOf(this.ctx.topology, s.point);
      let hopOk = true;
      for (const m of seen) {
        const mac = dir === 'out' ? m.dst : m.src;
        if (mac !== null && macs.includes(mac)) continue;
        hopOk = false;
        if (evidence === NO_EVIDENCE) evidence = [];
        evidence.push({ point: s.point, file: m.file, frame: m.frame });
        if (mac === null) {
          status = worse(status ?? Status.pass, Status.inconclusive);
          if (reason === null || reason === Reason.kernelUnknown) reason = Reason.macNotCaptured;
          lines = lines ?? [];
          lines.push(msg.gatewayMacUnknown(s.point, dir, m));
        } else {
          status = Status.fail;
          reason = Reason.gatewayMacMismatch;
          lines = lines ?? [];
          lines.push(msg.gatewayMacWrong(s.point, dir, m, macs, source));
        }
      }
      if (hopOk) {
        status ??= Status.pass;
        ok = gatewayMacOkNext(ok, s.point, macs);
      }
    }
    if (status === null) return;
    this.check(
      'gateway-mac',
      status,
      reason,
      status === Status.pass ? gatewayMacOkText(ok, this.leg) : (lines ?? []).join('; '),
      evidence,
    );
  }

  private rewriteChecks(): void {
    const icmp = this.facts.flow.proto === 1 || this.facts.flow.proto === 58;
    for (const rw of this.ruleLeg.rewrites) {
      const name = rewriteCheck(rw);
      const from = rewriteAddress(rw.from, this.facts, icmp);
      const to = rewriteAddress(rw.to, this.facts, icmp);
      if (rw.outside !== null || rw.between === null) {
        const result: RewriteLeg = {
          status: RewriteStatus.notObservable,
          before: from?.text ?? null,
          after: to?.text ?? null,
          between: null,
        };
        this.out.rewrites.push({ rw, result });
        this.check(name, Status.pass, null, msg.rewriteOutside(rw, from, to), []);
        continue;
      }
      if (from === null || to === null) {
        this.out.rewrites.push({
          rw,
          result: {
            status: RewriteStatus.notObservable,
            before: from?.text ?? null,
            after: to?.text ?? null,
            between: null,
          },
        });
        this.check(name, Status.inconclusive, Reason.rewriteNotObserved, msg.rewriteNoAddress(rw), []);
        continue;
      }
      this.rewriteBetween(name, rw, rw.between, from, to);
    }
  }

  private expectedIndex(role: Role): number {
    for (let i = 0; i < this.expected.length; i++)
      if (this.expected[i]!.eff.role.text === role.text) return i;
    return -1;
  }

  private record(
    name: string,
    rw: RuleRewrite,
    result: RewriteLeg,
    status: Status,
    reason: Reason | null,
    message: string,
    ev: readonly Sighting[],
  ): void {
    this.out.rewrites.push({ rw, result });
    this.check(name, status, reason, message, ev.map(evidenceOf));
  }

  private rewriteBetween(
    name: string,
    rw: RuleRewrite,
    between: readonly [Role, Role],
    from: AddressMatcher,
    to: AddressMatcher,
  ): void {
    const topo = this.ctx.topology;
    const field = rw.field;
    const hops = this.hops;
    let last = -1;
    for (let i = 0; i < hops.length; i++) if (shows(hops[i]!, field, from, topo)) last = i;
    let first = -1;
    for (let i = last + 1; i < hops.length; i++)
      if (shows(hops[i]!, field, to, topo)) {
        first = i;
        break;
      }
    const ia = this.expectedIndex(between[0]);
    const ib = this.expectedIndex(between[1]);
    const ea = ia >= 0 ? this.expected[ia]! : null;
    const eb = ib >= 0 ? this.expected[ib]! : null;
    if (last < 0 && first < 0) {
      this.record(
        name,
        rw,
        { status: RewriteStatus.notObservable, before: from.text, after: to.text, between: null },
        Status.inconclusive,
        Reason.rewriteNotObserved,
        msg.rewriteUnseen(rw, from, to),
        [],
      );
      return;
    }
    if (first < 0) {
      // `from` up to the end: missing, unless the points after the last sighting could not see it
      const lastHop = this.hops[last]!;
      const after = this.expected.filter((e) => e.seenAt < 0 && (ib < 0 || this.expected.indexOf(e) <= ib));
      const blind = after.some(
        (e) => visibility(e.point, this.window, this.ctx.coverage).status !== Status.pass,
      );
      this.record(
        name,
        rw,
        {
          status: blind ? RewriteStatus.notObservable : RewriteStatus.missing,
          before: fieldText(lastHop, field),
          after: null,
          between: null,
        },
        blind ? Status.inconclusive : Status.fail,
        blind ? Reason.pointNotCaptured : Reason.rewriteMissing,
        msg.rewriteMissing(this.leg, rw, lastHop, from, to, blind),
        [lastHop],
      );
      return;
    }
    if (last < 0) {
      // every sighting already shows `to`: the rewrite happened before the first one
      const firstHop = this.hops[first]!;
      const aSeen = ea !== null && ea.seenAt >= 0;
      this.record(
        name,
        rw,
        {
          status: aSeen ? RewriteStatus.elsewhere : RewriteStatus.notObservable,
          before: from.text,
          after: fieldText(firstHop, field),
          between: null,
        },
        aSeen ? Status.fail : Status.inconclusive,
        aSeen ? Reason.rewriteAtWrongPoint : Reason.pointNotCaptured,
        msg.rewriteBeforeFirst(this.leg, rw, firstHop, from, ea?.point ?? null, aSeen),
        [firstHop],
      );
      return;
    }
    const a = this.hops[last]!;
    const b = this.hops[first]!;
    let reverted: Sighting | undefined;
    for (let i = first + 1; i < hops.length; i++)
      if (shows(hops[i]!, field, from, topo)) {
        reverted = hops[i];
        break;
      }
    if (reverted) {
      this.record(
        name,
        rw,
        changedBetween(RewriteStatus.elsewhere, a, b, field),
        Status.fail,
        Reason.rewriteReverted,
        msg.rewriteReverted(this.leg, rw, b, reverted),
        [a, b, reverted],
      );
      return;
    }
    const aIdx = this.matchedTo[last]!;
    const bIdx = this.matchedTo[first]!;
    const atA = aIdx >= 0 && aIdx === ia;
    const byB = bIdx >= 0 && ib >= 0 && bIdx <= ib && bIdx > ia;
    if (atA && byB) {
      this.record(
        name,
        rw,
        changedBetween(RewriteStatus.atSource, a, b, field),
        Status.pass,
        null,
        msg.rewriteOk(this.leg, rw, a, b),
        [a, b],
      );
      return;
    }
    // A not captured, and the change is seen between the hops around it: cannot be placed more exactly
    if (
      !atA &&
      ea !== null &&
      ea.seenAt < 0 &&
      visibility(ea.point, this.window, this.ctx.coverage).status !== Status.pass
    ) {
      this.record(
        name,
        rw,
        changedBetween(RewriteStatus.notObservable, a, b, field),
        Status.inconclusive,
        Reason.pointNotCaptured,
        msg.rewriteBlind(this.leg, rw, a, b, ea.point),
        [a, b],
      );
      return;
    }
    this.record(
      name,
      rw,
      changedBetween(RewriteStatus.elsewhere, a, b, field),
      Status.fail,
      Reason.rewriteAtWrongPoint,
      msg.rewriteElsewhere(this.leg, rw, a, b, ea?.point ?? null, eb?.point ?? null, bIdx < 0, this.choice),
      [a, b],
    );
  }
}

// ---------------------------------------------------------------------------------------------------
// Datapath seen (rule-independent)

/**
 * Who forwarded each leg on each node, from what the captures alone can show:
 * - delivery into a pod: its host veth's egress seen -> the kernel path (or bpf_redirect below 5.10, which
 *   shows the same hop: unknown there); silent on a lossless capture -> bpf_redirect_peer (eBPF);
 * - ENI egress after the pod's veth on a < 5.10 node: TTL kept -> eBPF (ctx_redirect), decremented -> kernel;
 * - a hairpin's source rewritten to 169.254.42.1 -> eBPF (Cilium's service loopback); to a node address ->
 *   kube-proxy's MASQUERADE (kernel).
 * Everything else (a source node's egress on >= 5.10: both paths decrement the TTL) proves nothing.
 */
/** Below 5.10: DataPath V2 delivers with bpf_redirect, not bpf_redirect_peer. */
function olderThan510(k: KernelVersion | null): boolean {
  return k !== null && (k[0] < 5 || (k[0] === 5 && k[1] < 10));
}

interface VethTexts {
  node: string;
  iface: string;
  veth: string;
  outKey: string;
  bypassed: string;
  /** the host veth's egress seen: on a kernel < 5.10, an unknown one, and another */
  seenLegacy: string;
  seenKernelUnknown: string;
  seenKernel: string;
}

/** A pod's host veth point and the texts about it, made once per pod (every flow into it asks). */
const vethTextCache = new WeakMap<object, VethTexts>();

function vethTexts(pod: object, node: string, iface: string): VethTexts {
  let t = vethTextCache.get(pod);
  if (t === undefined || t.node !== node || t.iface !== iface) {
    const veth = `node/${node}/${iface}`;
    t = {
      node,
      iface,
      veth,
      outKey: hopKey(veth, 'out'),
      bypassed: `${veth}:out bypassed (bpf_redirect_peer)`,
      seenLegacy: `${veth}:out seen; kernel < 5.10 crosses it under eBPF too (bpf_redirect)`,
      seenKernelUnknown: `${veth}:out seen; kernel unknown`,
      seenKernel: `${veth}:out seen: delivered by the kernel path`,
    };
    vethTextCache.set(pod, t);
  }
  return t;
}

export function nodeHandling(facts: FlowFacts, ctx: EvaluateContext): NodeHandling[] {
  const out: NodeHandling[] = [];
  const topo = ctx.topology;
  for (const leg of LEGS) {
    const lf = facts[leg];
    const window = legWindow(lf, facts);
    for (let i = 0; i < lf.hops.length; i++) {
      const h = lf.hops[i]!;
      const point = topo.points.get(h.point);
      if (!point || h.node === null) continue;
      if (point.kind === 'pod-eth0' && h.dir === 'in' && point.pod !== null) {
        const pod = topo.pods.get(point.pod);
        if (!pod?.veth || pod.node === null) continue;
        const t = vethTexts(pod, pod.node, pod.veth);
        const seen = lf.seenAnywhere.has(t.outKey);
        const k = ctx.kernelOf(pod.node);
        if (seen)
          out.push({
            node: pod.node,
            leg,
            by: olderThan510(k) || k === null ? Datapath.unknown : Datapath.kernel,
            why: olderThan510(k) ? t.seenLegacy : k === null ? t.seenKernelUnknown : t.seenKernel,
          });
        else if (visibility(t.veth, window, ctx.coverage).status === Status.pass)
          out.push({
            node: pod.node,
            leg,
            by: Datapath.ebpf,
            why: t.bypassed,
          });
      }
      if (point.kind === 'eni' && h.dir === 'out' && olderThan510(ctx.kernelOf(h.node))) {
        // the nearest veth of the same node before it
        let before: Sighting | undefined;
        for (let j = i - 1; j >= 0 && before === undefined; j--) {
          const x = lf.hops[j]!;
          if (x.node === h.node && topo.points.get(x.point)?.kind === 'veth') before = x;
        }
        if (before)
          out.push({
            node: h.node,
            leg,
            by: before.ttl === h.ttl ? Datapath.ebpf : Datapath.kernel,
            why:
              before.ttl === h.ttl
                ? `${h.point}:out kept TTL ${h.ttl} from ${before.point}: ctx_redirect (eBPF, < 5.10)`
                : `${h.point}:out TTL ${before.ttl} -> ${h.ttl}: forwarded by the kernel`,
          });
      }
    }
    // hairpin: the client's own address comes back as the source of its request
    const client = facts.flow.client;
    if (leg === 'request' && client.pod !== null && client.pod === facts.flow.server.pod) {
      const last = lf.hops[lf.hops.length - 1];
      if (last?.src === SERVICE_LOOPBACK4 && client.node)
        out.push({
          node: client.node,
          leg,
          by: Datapath.ebpf,
          why: `source ${SERVICE_LOOPBACK4}: Cilium service loopback`,
        });
      else if (last?.src && topo.nodeByIp.has(last.src) && client.node)
        out.push({
          node: client.node,
          leg,
          by: Datapath.kernel,
          why: `source ${last.src}: kube-proxy MASQUERADE`,
        });
    }
  }
  return out;
}

/** combineDatapath of what each node showed, without a list made for it. */
function datapathOf(handled: readonly NodeHandling[]): Datapath {
  let e = false;
  let k = false;
  for (const h of handled) {
    if (h.by === Datapath.ebpf) e = true;
    else if (h.by === Datapath.kernel) k = true;
  }
  return datapathSeen(e, k);
}

export function combineDatapath(values: readonly Datapath[]): Datapath {
  return datapathSeen(values.includes(Datapath.ebpf), values.includes(Datapath.kernel));
}

function datapathSeen(ebpf: boolean, kernel: boolean): Datapath {
  return ebpf && kernel ? Datapath.mixed : ebpf ? Datapath.ebpf : kernel ? Datapath.kernel : Datapath.unknown;
}

// ---------------------------------------------------------------------------------------------------
// One flow

export interface EvaluatedFlow {
  verdict: FlowVerdict;
  classification: Classification;
  key: ScenarioKey | null;
}

/** A leg's results go straight into the verdict's lists (request leg first); its rewrites stay its own. */
function legOut(v: FlowVerdict): LegResult {
  return {
    checks: v.checks,
    skipped: v.skipped,
    unexpected: v.unexpected,
    notCaptured: v.not_captured,
    rewrites: [],
  };
}

/** per choice, scenario key and scenario variant (the scenario's id follows from its key) */
const classifiedChecks = new WeakMap<RuleChoice, Map<ScenarioKey, ByName<CheckResult>>>();

/** The passing classification check, made once per choice and scenario (every flow they judge has it). */
function classifiedCheck(
  ctx: EvaluateContext,
  choice: RuleChoice,
  key: ScenarioKey,
  scenario: Scenario | null,
): CheckResult {
  const byVariant: ByName<CheckResult> = cachedIn(cachedIn(classifiedChecks, choice, newMap), key, newMap);
  // a host-network client has no scenario; any variant's text is `rule` or null
  const variant = scenario === null ? '\u0001' : scenario.rule;
  let check = byVariant.get(variant);
  if (check === undefined) {
    check = sharedChecksOf(ctx).get(
      'classification',
      Status.pass,
      null,
      msg.classified(key, scenario, choice),
    );
    byVariant.set(variant, check);
  }
  return check;
}

const LEGS: readonly Leg[] = ['request', 'reply'];

function pointsOf(hops: readonly Sighting[]): string[] {
  const points = new Array<string>(hops.length);
  for (let i = 0; i < hops.length; i++) points[i] = hops[i]!.point;
  return points;
}

/** The leg's rewrite of `kind` whose `side` is the backend (the Service's translation). */
function rewriteOf(
  rewrites: LegResult['rewrites'],
  kind: RuleRewrite['kind'],
  side: 'from' | 'to',
): LegResult['rewrites'][number] | undefined {
  for (const r of rewrites) if (r.rw.kind === kind && r.rw[side] === 'backend') return r;
  return undefined;
}

/**
 * An optional header invariant the capture format cannot carry (SLL2 `any`: no destination MAC) stays an
 * inconclusive check, shown in verdicts.json and JUnit, but does not hold the flow back: otherwise every
 * cross-node flow of an `any`-only bundle would be inconclusive (and `--strict` fail) over a field no such
 * capture has, while its path, bypass and rewrite evidence is complete. A gateway MAC that is seen and wrong
 * still fails the flow.
 */
function countsForFlow(c: CheckResult): boolean {
  return !(c.status === Status.inconclusive && c.reason === Reason.macNotCaptured);
}

export function evaluateFlow(facts: FlowFacts, ctx: EvaluateContext): EvaluatedFlow {
  const topo = ctx.topology;
  const flow = facts.flow;
  const classification = classifyFlow(facts.classify, topo);
  const handled = nodeHandling(facts, ctx);
  const base: FlowVerdict = {
    flow_id: flow.id,
    proto: facts.classify.proto,
    // field by field: the verdict's shape is its own, whatever else the analyzers' endpoints carry
    client: { ip: flow.client.ip, port: flow.client.port, pod: flow.client.pod, node: flow.client.node },
    service: flow.service ? { ip: flow.service.ip, port: flow.service.port, name: flow.service.name } : null,
    server: { ip: flow.server.ip, port: flow.server.port, pod: flow.server.pod, node: flow.server.node },
    scenario: classification.status === 'classified' ? classification.scenario : null,
    rule_id: null,
    datapath: datapathOf(handled),
    request_path: pointsOf(facts.request.hops),
    reply_path: pointsOf(facts.reply.hops),
    skipped: [],
    unexpected: [],
    not_captured: [],
    service_rewrite: null,
    status: Status.inconclusive,
    reason: null,
    checks: [],
    handled_by: handled,
  };
  if (classification.status !== 'classified') {
    base.reason = Reason.unclassified;
    base.checks.push(
      sharedChecksOf(ctx).get(
        'classification',
        Status.inconclusive,
        Reason.unclassified,
        msg.unclassified(classification.reason, classification.message),
      ),
    );
    return { verdict: base, classification, key: null };
  }
  const key = classification.key;
  const roleFlow: RoleFlow = {
    client: { pod: flow.client.pod, node: flow.client.node },
    server: { pod: flow.server.pod, node: flow.server.node },
    serviceNode: serviceNodeOf(facts.classify, classification.facts, topo),
  };
  const nodes: Record<Endpoint, string | null> = {
    client: endpointNode(Endpoint.client, roleFlow, topo),
    backend: endpointNode(Endpoint.backend, roleFlow, topo),
    service: roleFlow.serviceNode,
  };
  const choice = chooseRule(key, classification.facts, nodes, ctx);
  if (choice === null) {
    base.reason = Reason.noRule;
    base.checks.push(
      sharedChecksOf(ctx).get(
        'classification',
        Status.inconclusive,
        Reason.noRule,
        msg.noRule(key, nodes, ctx),
      ),
    );
    return { verdict: base, classification, key };
  }
  base.rule_id = choice.label;
  base.checks.push(classifiedCheck(ctx, choice, key, classification.scenario));
  const req = new LegEvaluator(
    'request',
    choice.rule.request,
    facts,
    roleFlow,
    ctx,
    choice,
    legOut(base),
  ).run();
  const rep = new LegEvaluator('reply', choice.rule.reply, facts, roleFlow, ctx, choice, legOut(base)).run();
  const dnat = rewriteOf(req.rewrites, 'dnat', 'to');
  const rdnat = rewriteOf(rep.rewrites, 'reverse-dnat', 'from');
  const na: RewriteLeg = { status: RewriteStatus.na, before: null, after: null, between: null };
  base.service_rewrite =
    dnat || rdnat || flow.service ? { ...(dnat?.result ?? na), reverse: rdnat?.result ?? na } : null;
  let status: Status = Status.pass;
  for (const c of base.checks) if (countsForFlow(c)) status = worse(status, c.status);
  base.status = status;
  base.reason = null;
  if (status !== Status.pass)
    for (const c of base.checks)
      if (c.status === status && countsForFlow(c)) {
        base.reason = c.reason;
        break;
      }
  return { verdict: base, classification, key };
}
