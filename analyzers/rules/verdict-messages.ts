/**
 * Check messages, written for a person reading a failed CI job: what was seen (or not), where, what the
 * rule expected, and why that matters for the datapath. One sentence per finding; the checks join them.
 */
import type { Scenario, ScenarioKey, Unclassified } from '../classify.ts';
import { cachedIn, newMap, within } from './cached.ts';
import type { FlowFacts, MacSeen, PointCoverage, Sighting } from './flow-facts.ts';
import { hopKeys, PointDirTexts } from './flow-facts.ts';
import type { EffectiveHop, RuleHop, RuleRewrite, RuleSkip } from './load-rules.ts';
import type { Endpoint, Role, RoleFlow } from './roles.ts';
import { endpointNode, resolveRole } from './roles.ts';
import type { Leg } from './verdict-types.ts';

/** The parts of the evaluator's context messages read (kept structural to avoid an import cycle). */
interface MessageContext {
  topology: Parameters<typeof resolveRole>[2];
  kernelText: (node: string | null) => string | null;
  setOfNode: (node: string | null) => string | null;
}

interface Choice {
  rule: { id: string; set: string };
  label: string;
}

// A bundle has a few dozen points and every flow's messages name them: their texts are made once per point
// (and direction), and a path's text once per distinct path, instead of once per message; dropped once the
// bundle is judged (`forgetPointTexts`).
const shortPoints = new Map<string, string>();

/** `node/node1/cali3f2a` -> `node1/cali3f2a`; `pod/default/web-1/eth0` -> `default/web-1 eth0`. */
export function shortPoint(id: string): string {
  let short = shortPoints.get(id);
  if (short === undefined) {
    if (id.startsWith('node/')) short = id.slice(5);
    else {
      const m = /^pod\/(.+)\/([^/]+)$/.exec(id);
      short = m ? `${m[1]} ${m[2]}` : id;
    }
    shortPoints.set(id, short);
  }
  return short;
}

/** `<short point>:<dir>` */
const hopTexts = new PointDirTexts((point, dir) => `${shortPoint(point)}:${dir}`);

function hop(point: string, dir: string): string {
  return hopTexts.get(point, dir);
}

/** A trie over hop texts: the joined text of a path, and each leg's pass message for it, made once. */
interface PathText {
  text: string;
  next: Map<string, PathText>;
  ok: Partial<Record<Leg, string>>;
}
const PATHS: PathText = { text: '', next: new Map(), ok: {} };

function pathOf(hops: readonly Sighting[]): PathText {
  let node = PATHS;
  for (const h of hops) {
    const t = hop(h.point, h.dir);
    let next = node.next.get(t);
    if (next === undefined) {
      next = { text: node === PATHS ? t : `${node.text} > ${t}`, next: new Map(), ok: {} };
      node.next.set(t, next);
    }
    node = next;
  }
  return node;
}

/**
 * Drops the texts made per point and per path (and the hop keys): they name one bundle's points, and a
 * batch judges bundle after bundle in one process.
 */
export function forgetPointTexts(): void {
  shortPoints.clear();
  hopTexts.clear();
  PATHS.next.clear();
  hopKeys.clear();
  addresses.clear();
  addressCount = 0;
  rewriteOkTexts.clear();
  rewriteOkCount = 0;
}

/** A rule set's datapath in words. */
const setWordsCache = new Map<string, string>();

export function setWords(set: string): string {
  let words = setWordsCache.get(set);
  if (words === undefined) {
    words = setWordsOf(set);
    setWordsCache.set(set, words);
  }
  return words;
}

function setWordsOf(set: string): string {
  return set
    .split('+')
    .map((s) =>
      s === 'terway-v2' ? 'DataPath V2' : s === 'kernel-routing' ? 'kernel routing' : `rule set ${s}`,
    )
    .join(' + ');
}

function addr(ip: string | null, port: number): string {
  return ip === null ? '?' : address(ip, port);
}

/** `ip:port` texts by address, then port: a bundle's Services and pods repeat in every flow's messages. */
const addresses = new Map<string, Map<number, string>>();
let addressCount = 0;
/** kept before the texts start over (clients' ports rarely repeat) */
const MAX_ADDRESSES = 1 << 16;

/** `ip:port`, `[ip]:port` for IPv6; one string per address and port while it is kept. */
export function address(ip: string, port: number): string {
  const byPort = cachedIn(addresses, ip, newMap);
  let text = byPort.get(port);
  if (text === undefined) {
    if (addressCount >= MAX_ADDRESSES) {
      addresses.clear();
      addressCount = 0;
      return address(ip, port);
    }
    addressCount++;
    text = `${ip.includes(':') ? `[${ip}]` : ip}:${port}`;
    byPort.set(port, text);
  }
  return text;
}

/** The address in the field a rewrite changes. */
function fieldAddr(rw: RuleRewrite, s: Sighting): string {
  return rw.field === 'dst' ? addr(s.dst, s.dstPort) : addr(s.src, s.srcPort);
}

function at(s: Sighting): string {
  return `(${s.file} frame ${s.frame})`;
}

function towards(leg: Leg, facts: FlowFacts): string {
  const to = leg === 'request' ? facts.flow.server : facts.flow.client;
  return to.pod !== null ? `pod ${to.pod}` : to.ip;
}

function ns(t: bigint): string {
  return `${t}`;
}

export function coverageGap(c: PointCoverage, window: [bigint, bigint], gap: [bigint, bigint]): string {
  if (c.windows.length === 0) return 'its capture has no coverage window';
  if (gap[0] === window[0] && gap[1] === window[1])
    return `none of its capture files (${ns(c.startNs ?? 0n)}..${ns(c.endNs ?? 0n)} ns) covers the flow's time (${ns(window[0])}..${ns(window[1])} ns)`;
  if (gap[0] === window[0])
    return `its capture started at ${ns(gap[1])} ns, after the flow (${ns(window[0])} ns)`;
  if (gap[1] === window[1])
    return `its capture ended at ${ns(gap[0])} ns, before the flow did (${ns(window[1])} ns)`;
  return `its capture files leave a gap from ${ns(gap[0])} to ${ns(gap[1])} ns during the flow`;
}

export function outsideWindow(s: Sighting, c: PointCoverage): string {
  return `${hop(s.point, s.dir)} saw the packet at ${ns(s.tNs)} ns ${at(s)}, outside its capture files' windows (${c.startNs ?? '?'}..${c.endNs ?? '?'} ns, ${c.windows.length} file(s)): the capture's metadata and its packets disagree`;
}

export function noPackets(leg: Leg, facts: FlowFacts): string {
  return leg === 'reply'
    ? `no reply packet of ${facts.classify.proto} ${facts.flow.client.ip} -> ${facts.flow.server.ip} was captured anywhere: the reply path cannot be judged`
    : 'no request packet was captured: the request path cannot be judged';
}

export function viaAny(role: Role, s: Sighting): string {
  return `${role.text} was seen only on ${shortPoint(s.point)}, a node-wide capture that does not name the device ${at(s)}`;
}

export function unresolved(role: Role, reason: string | null): string {
  return `${role.text} has no capture point for this flow (${reason ?? 'unknown'})`;
}

export function hopUnknown(leg: Leg, role: Role, point: string, why: string): string {
  return `the ${leg} was not seen at ${hop(point, role.dir)} (${role.text}), but ${why}: that proves nothing`;
}

export function hopMissing(leg: Leg, role: Role, point: string, hops: readonly Sighting[]): string {
  const seen = pathOf(hops).text || 'nowhere';
  return `the ${leg} never reached ${hop(point, role.dir)} (${role.text}), which captured without loss; it was seen at ${seen}`;
}

export function kernelUnknown(u: RuleHop | RuleSkip, node: string | null): string {
  return `${u.role.text} is expected only for kernel ${u.kernel?.text ?? '?'}, and the kernel of ${node ?? 'its node'} is unknown (pass --kernel to decide)`;
}

export function outOfOrder(a: Role, b: Role, wide: boolean): string {
  return wide
    ? `${b.text} appears before ${a.text}, but the clocks of their nodes are too uncertain to order them`
    : `${b.text} was seen before ${a.text}: the packet did not follow the rule's order`;
}

/** Hops a node's kernel cannot skip (conditional hops kept by a `kernel:` range), for legacy kernels. */
export function kernelNotes(hops: readonly EffectiveHop[], ctx: MessageContext, flow: RoleFlow): string[] {
  const out: string[] = [];
  for (const h of hops) {
    if (h.hop.kernel === null) continue;
    const node = endpointNode(h.role.endpoint, flow, ctx.topology);
    const r = resolveRole(h.role, flow, ctx.topology);
    const point = r.status === 'resolved' ? hop(r.point, h.role.dir) : h.role.text;
    out.push(
      `on ${node ?? '?'} (kernel ${ctx.kernelText(node) ?? 'unknown'}, ${h.hop.kernel.text}) ${setWords(ctx.setOfNode(node) ?? '?')} cannot skip ${point}: bpf_redirect delivers through the veth, not bpf_redirect_peer`,
    );
  }
  return out;
}

export function pathOk(leg: Leg, hops: readonly Sighting[], notes: readonly string[]): string {
  const path = pathOf(hops);
  let ok = path.ok[leg];
  if (ok === undefined) {
    ok = `${leg} followed the rule's path: ${path.text}`;
    path.ok[leg] = ok;
  }
  return notes.length === 0 ? ok : [ok, ...notes].join('; ');
}

export function seenOnSkipped(
  leg: Leg,
  s: RuleSkip,
  point: string,
  sighting: Sighting | null,
  facts: FlowFacts,
  choice: Choice,
  kernel: string | null,
): string {
  const verb = s.role.dir === 'out' ? 'leaving' : 'entering';
  const where = sighting ? ` ${at(sighting)}` : ' (by some of its packets)';
  const how =
    s.role.kind === 'veth' && s.role.dir === 'out'
      ? 'this hop is bypassed with bpf_redirect_peer'
      : 'this hop is bypassed';
  const range = s.kernel ? ` on kernel ${s.kernel.text.replace('>=', '')}+` : '';
  return `${leg} was seen ${verb} ${shortPoint(point)} towards ${towards(leg, facts)}${where}: the kernel path was taken; under ${setWords(choice.rule.set)}${range} ${how}${kernel ? ` (this node runs ${kernel})` : ''}`;
}

export function bypassUnknown(role: Role, point: string, why: string): string {
  return `${hop(point, role.dir)} (${role.text}) saw nothing, but ${why}: the bypass is not proven`;
}

export function bypassed(role: Role, point: string): string {
  return `${hop(point, role.dir)} (${role.text}) captured without loss and saw nothing: bypassed as the datapath promises`;
}

export function unexpectedHop(leg: Leg, h: Sighting, facts: FlowFacts, choice: Choice): string {
  return `${leg} was seen at ${hop(h.point, h.dir)} ${at(h)} towards ${towards(leg, facts)} (${addr(h.src, h.srcPort)} -> ${addr(h.dst, h.dstPort)}, TTL ${h.ttl}), which is not on the path of rule ${choice.label}`;
}

export function undecidedSeen(h: Sighting): string {
  return `${hop(h.point, h.dir)} ${at(h)} is on the path only for some kernels, and this node's kernel is unknown`;
}

const noUnexpectedCache = new Map<string, Partial<Record<Leg, string>>>();

export function noUnexpected(leg: Leg, choice: Choice): string {
  let byLeg = noUnexpectedCache.get(choice.label);
  if (byLeg === undefined) {
    byLeg = {};
    noUnexpectedCache.set(choice.label, byLeg);
  }
  let text = byLeg[leg];
  if (text === undefined) {
    text = noUnexpectedText(leg, choice);
    byLeg[leg] = text;
  }
  return text;
}

function noUnexpectedText(leg: Leg, choice: Choice): string {
  return `every ${leg} sighting is on the path of rule ${choice.label}`;
}

export function ttlMismatch(a: Sighting, b: Sighting, expected: number): string {
  return `TTL went ${a.ttl} at ${hop(a.point, a.dir)} -> ${b.ttl} at ${hop(b.point, b.dir)} (lost ${a.ttl - b.ttl}, the rule says ${expected}) ${at(b)}`;
}

/** per leg, by hop pairs: every passing flow of a path says the same */
const ttlOkTexts: Record<Leg, string[]> = { request: [], reply: [] };

export function ttlOk(leg: Leg, n: number): string {
  const texts = ttlOkTexts[leg];
  let text = texts[n];
  if (text === undefined) {
    text = `${leg} TTL changes match the rule at ${n} hop pair(s)`;
    texts[n] = text;
  }
  return text;
}

/** pcap link types a reader meets on these captures, by name (the rest by number). */
function linkTypeWords(t: number): string {
  return t === 1
    ? 'Ethernet'
    : t === 276
      ? 'Linux SLL2 (`any`)'
      : t === 113
        ? 'Linux SLL (`any`)'
        : `link type ${t}`;
}

function gatewaySide(dir: string): string {
  return dir === 'out' ? 'destination' : 'source';
}

export function gatewayMacWrong(
  point: string,
  dir: string,
  m: MacSeen,
  expected: readonly string[],
  source: string,
): string {
  const seen = dir === 'out' ? m.dst : m.src;
  return `${hop(point, dir)}: ${m.packets} packet(s) carried ${gatewaySide(dir)} MAC ${seen}, not the gateway's ${expected.join(' or ')} (${source}) (${m.file} frame ${m.frame})`;
}

export function gatewayMacUnknown(point: string, dir: string, m: MacSeen): string {
  return `${hop(point, dir)}: a ${linkTypeWords(m.linkType)} capture keeps no ${gatewaySide(dir)} MAC, so the gateway MAC cannot be checked there (${m.file} frame ${m.frame})`;
}

export function gatewayMacOk(leg: Leg, points: readonly string[], expected: readonly string[]): string {
  return `${leg} frames at ${points.map((p) => shortPoint(p)).join(', ')} carry the gateway MAC ${expected.join(' or ')}`;
}

export function gatewayMacKernelUnknown(point: string, dir: string): string {
  return `${hop(point, dir)}: whether the gateway MAC applies depends on the node's kernel, which is unknown`;
}

function rewriteWords(rw: RuleRewrite): string {
  const field = rw.field === 'dst' ? 'destination' : 'source';
  return `${rw.kind} of the ${field} (${rw.from} -> ${rw.to})`;
}

interface Addr {
  text: string;
}

export function rewriteOutside(rw: RuleRewrite, from: Addr | null, to: Addr | null): string {
  return `${rewriteWords(rw)} ${from?.text ?? '?'} -> ${to?.text ?? '?'} happens outside every capture point: ${rw.outside ?? 'outside'}`;
}

export function rewriteNoAddress(rw: RuleRewrite): string {
  return `${rewriteWords(rw)}: the flow does not name the ${rw.from}/${rw.to} address, so it cannot be checked`;
}

export function rewriteUnseen(rw: RuleRewrite, from: Addr, to: Addr): string {
  return `${rewriteWords(rw)}: neither ${from.text} nor ${to.text} was seen in that field`;
}

export function rewriteMissing(
  leg: Leg,
  rw: RuleRewrite,
  last: Sighting,
  from: Addr,
  to: Addr,
  blind: boolean,
): string {
  const field = rw.field === 'dst' ? 'destination' : 'source';
  return blind
    ? `the ${leg}'s ${field} was still ${from.text} at ${hop(last.point, last.dir)} ${at(last)}, and the points after it were not captured: whether it became ${to.text} cannot be told`
    : `${rewriteWords(rw)} is missing: the ${leg}'s ${field} was still ${from.text} at ${hop(last.point, last.dir)} ${at(last)} and never became ${to.text}`;
}

export function rewriteBeforeFirst(
  leg: Leg,
  rw: RuleRewrite,
  first: Sighting,
  from: Addr,
  aPoint: string | null,
  aSeen: boolean,
): string {
  const field = rw.field === 'dst' ? 'destination' : 'source';
  return aSeen
    ? `the ${leg}'s ${field} was already ${addr(...(rw.field === 'dst' ? ([first.dst, first.dstPort] as const) : ([first.src, first.srcPort] as const)))} at ${hop(first.point, first.dir)} ${at(first)}: ${rewriteWords(rw)} happened before ${aPoint ? shortPoint(aPoint) : 'the point the rule names'}, which should still show ${from.text}`
    : `${rewriteWords(rw)} happened before the first capture that saw the ${leg} (${hop(first.point, first.dir)}); ${aPoint ? shortPoint(aPoint) : 'the point before it'} was not captured`;
}

export function rewriteReverted(leg: Leg, rw: RuleRewrite, b: Sighting, again: Sighting): string {
  return `${rewriteWords(rw)} was seen at ${hop(b.point, b.dir)}, but ${hop(again.point, again.dir)} ${at(again)} shows the ${leg}'s old address again`;
}

/**
 * rewriteOk's texts by rewrite, leg, then each side's hop and address (texts made once each): every
 * flow of a Service and backend says the same.
 */
type ByText<T> = Map<string, T>;
const rewriteOkTexts = new Map<RuleRewrite, Record<Leg, ByText<ByText<ByText<ByText<string>>>>>>();
let rewriteOkCount = 0;

export function rewriteOk(leg: Leg, rw: RuleRewrite, a: Sighting, b: Sighting): string {
  let byLeg = rewriteOkTexts.get(rw);
  if (byLeg === undefined) {
    byLeg = { request: new Map(), reply: new Map() };
    rewriteOkTexts.set(rw, byLeg);
  }
  const hopA = hop(a.point, a.dir);
  const addrA = fieldAddr(rw, a);
  const hopB = hop(b.point, b.dir);
  const addrB = fieldAddr(rw, b);
  const texts = within(within(within(byLeg[leg], hopA), addrA), hopB);
  let text = texts.get(addrB);
  if (text === undefined) {
    // texts naming clients' addresses (a source rewrite) may never repeat
    if (rewriteOkCount >= MAX_ADDRESSES) {
      rewriteOkTexts.clear();
      rewriteOkCount = 0;
    }
    rewriteOkCount++;
    text = `${rewriteWords(rw)} of the ${leg}: ${addrA} at ${hopA} -> ${addrB} at ${hopB}, where the rule puts it`;
    texts.set(addrB, text);
  }
  return text;
}

export function rewriteBlind(
  leg: Leg,
  rw: RuleRewrite,
  a: Sighting,
  b: Sighting,
  aPoint: string | null,
): string {
  return `${rewriteWords(rw)} of the ${leg} happened between ${hop(a.point, a.dir)} and ${hop(b.point, b.dir)}; ${aPoint ? shortPoint(aPoint) : 'the point the rule names'} was not captured, so it cannot be placed more exactly`;
}

export function rewriteElsewhere(
  leg: Leg,
  rw: RuleRewrite,
  a: Sighting,
  b: Sighting,
  aPoint: string | null,
  bPoint: string | null,
  bUnexpected: boolean,
  choice: Choice,
): string {
  const expected = `${rw.between?.[0].text ?? '?'}${aPoint ? ` (${shortPoint(aPoint)})` : ''} and ${rw.between?.[1].text ?? '?'}${bPoint ? ` (${shortPoint(bPoint)})` : ''}`;
  const instead = bUnexpected
    ? `: ${hop(b.point, b.dir)} is a hop ${setWords(choice.rule.set)} bypasses, so the host stack (iptables/conntrack) translated it, not the eBPF program`
    : '';
  return `${rewriteWords(rw)} of the ${leg} was seen between ${hop(a.point, a.dir)} (${fieldAddr(rw, a)}) and ${hop(b.point, b.dir)} (${fieldAddr(rw, b)}) ${at(b)} instead of between ${expected}${instead}`;
}

export function unclassified(reason: Unclassified, why: string): string {
  return `not classified (${reason}): ${why}`;
}

export function noRule(
  key: ScenarioKey,
  nodes: Record<Endpoint, string | null>,
  ctx: MessageContext,
): string {
  const sets = [...new Set(Object.values(nodes).map((n) => ctx.setOfNode(n)))].filter((s) => s !== null);
  return sets.length === 0
    ? `scenario ${key}: no rule set is known for the flow's nodes (no node_capabilities; pass --datapath or --rules)`
    : `scenario ${key}: rule set ${sets.join(', ')} has no rule for this flow`;
}

export function classified(key: ScenarioKey, scenario: Scenario | null, choice: Choice): string {
  const s = scenario ? `scenario ${scenario.id}${scenario.rule ? ` (${scenario.rule})` : ''}` : key;
  return `${s}, judged by rule ${choice.label} (${setWords(choice.rule.set)})`;
}
