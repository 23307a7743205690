/**
 * `reportModel`: the data the HTML page is made from, computed once from the analysis (`ReportInput`)
 * and, when the evaluator has run, its verdicts (`Verdicts`, DESIGN §8). Nothing here is markup and
 * nothing is escaped: strings stay as read, and reports/html/ escapes them where they land.
 * Without verdicts every flow is `not-evaluated`, scenarios are unknown, and lanes show only what was
 * seen (bypassed and unexpected hops need the rules).
 */

import { fits, keepLowest } from './lowest-ids.ts';
import {
  type Check,
  type Datapath,
  type FlowStatus,
  flowKey,
  type Leg,
  type PointRef,
  protoNumber,
  type VerdictFlow,
  type Verdicts,
  type Warning,
} from './read-verdicts.ts';
import type { InputFlow, InputPoint, InputSighting, ReportInput } from './report-input.ts';

export type { VerdictFlow, Verdicts } from './read-verdicts.ts';

export type RowStatus = FlowStatus | 'not-evaluated';

export const SCENARIO_TITLES: Readonly<Record<number, string>> = Object.freeze({
  1: 'same node, pod to pod, ENI relationship unknown',
  2: 'same node, same ENI',
  3: 'same node, different ENIs',
  4: 'pod to pod across nodes',
  5: 'Service, backend on the same ENI',
  6: 'Service, backend on another ENI of the node',
  7: 'Service, backend on another node',
  8: 'external client to a LoadBalancer / ExternalIP',
});

export interface FlowRow {
  id: number;
  status: RowStatus;
  reason: string | null;
  /** `1`..`8`, `unclassified` or `not-evaluated`: the filter's value */
  scenario: string;
  /** the classifier's variant of the scenario (`hairpin`, `8a`, `in-cluster-lb`), when it has one */
  variant: string | null;
  /** the rule that judged the flow, `terway-v2/svc-hairpin` */
  rule: string | null;
  proto: string;
  client: string;
  service: string | null;
  server: string;
  datapath: Datapath | 'not-evaluated';
  packets: number;
  durationNs: number;
  /** points in request order, `point:dir` */
  requestPath: string[];
  /** lower-case text the search box matches: pods, IPs, ports, nodes, points, service name */
  search: string;
  hasDetail: boolean;
}

export type LaneState = 'seen' | 'bypassed' | 'not-captured';

export interface Lane {
  point: string;
  /** short name on the lane header: the interface, with the pod or node above it */
  iface: string;
  owner: string;
  kind: string;
  state: LaneState;
  /** per leg and direction, what the verdicts say about this lane */
  notes: { kind: 'bypassed' | 'not-captured' | 'unexpected'; leg: Leg; dir: string; text: string }[];
}

export interface LadderSighting extends InputSighting {
  lane: number;
  /** this sighting is a hop the matched rule does not contain for this leg */
  unexpected: boolean;
  /** ns since the previous sighting of the packet (null for the first) */
  latency: number | null;
  /** `before -> after` when the addresses changed since the previous sighting */
  rewriteText: string | null;
}

export interface LadderPacket {
  leg: Leg;
  summary: string;
  /** ns after the flow's first packet */
  t: number;
  sightings: LadderSighting[];
}

export interface FlowDetail {
  row: FlowRow;
  lanes: Lane[];
  packets: LadderPacket[];
  /** packets of the flow (the ladder shows `packets.length` of them) */
  totalPackets: number;
  hops: InputFlow['hops'];
  checks: Check[];
  rewrite: VerdictFlow['service_rewrite'];
  exportCommand: string;
  sqlCommand: string;
  /** per failing check, the `hoptrace sql` command that lists its evidence */
  evidenceCommands: (string | null)[];
}

export interface ScenarioRow {
  key: string;
  title: string;
  flows: number;
  pass: number;
  fail: number;
  inconclusive: number;
  notEvaluated: number;
  rules: string[];
  /** first flows, for links */
  flowIds: number[];
}

export interface LatencyGroup {
  /** `veth → ENI`, `ENI → ENI (VPC)`, ... */
  hopKind: string;
  series: { datapath: string; samples: number[]; flows: number }[];
}

export interface NodeRow {
  node: string;
  kernel: string | null;
  claimed: string;
  observed: string | null;
  offsetNs: number | null;
  errorNs: number | null;
  reference: boolean;
  via: string | null;
  matchedFrames: number | null;
}

export interface ReportModel {
  title: string;
  evaluated: boolean;
  bundle: ReportInput['bundle'];
  analysisDir: string;
  span: { startNs: string | null; endNs: string | null; durationNs: number | null };
  nodes: NodeRow[];
  captures: ReportInput['captures'];
  missing: ReportInput['missing'];
  /** capture points missing or cut short, and what that cost */
  coverageGaps: CoverageGap[];
  warnings: Warning[];
  statusCounts: Record<RowStatus, number>;
  scenarios: ScenarioRow[];
  flows: FlowRow[];
  details: FlowDetail[];
  sampling: {
    /** flows of the analysis */
    total: number;
    /** flows in the table (`flows`): every failing or inconclusive one and a sample of the others */
    listed: number;
    detailed: number;
    failing: number;
    passingShown: number;
    passingTotal: number;
  };
  latency: LatencyGroup[];
  ladderPackets: number;
}

export interface CoverageGap {
  point: string;
  text: string;
}

export interface ReportModelOptions {
  /** passing (or not evaluated) flows embedded with full detail, at most; default 200 */
  passingDetail?: number;
  /**
   * passing (or not evaluated) flows listed in the table, at most; default 1000. A production bundle
   * has hundreds of thousands: the page lists what a person reads (every failing or inconclusive flow,
   * a sample of the others) and says where the rest are (verdicts.json, `hoptrace sql`).
   */
  passingRows?: number;
  /** the analysis folder as the user names it, for the commands printed on the page */
  analysisDir?: string;
  title?: string;
}

const PROTO_NAMES: Record<number, string> = { 1: 'ICMP', 6: 'TCP', 17: 'UDP', 58: 'ICMPv6', 132: 'SCTP' };

const endpointText = (e: { ip: string; port: number }, proto: number) =>
  proto === 1 || proto === 58 ? e.ip : e.ip.includes(':') ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`;

/** POSIX shell word: bare when harmless, double quotes when nothing in it expands, else single quotes. */
export function shellWord(s: string): string {
  if (/^[\w./:@%+=,-]+$/.test(s)) return s;
  if (/^[^"$`\\!]*$/.test(s)) return `"${s}"`;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

const sqlText = (s: string) => `'${s.replace(/'/g, "''")}'`;

const SIGHTING_COLUMNS =
  'packet_id, hop, capture_point, direction, ts_ns, src_ip, src_port, dst_ip, dst_port, ttl, rewrite, file, frame';

function evidenceCommand(dataset: string, check: Check): string | null {
  if (check.evidence.length === 0) return null;
  const byFile = new Map<string, number[]>();
  for (const e of check.evidence.slice(0, 50)) byFile.set(e.file, [...(byFile.get(e.file) ?? []), e.frame]);
  const where = [...byFile]
    .map(([file, frames]) => `(file = ${sqlText(file)} AND frame IN (${frames.join(', ')}))`)
    .join(' OR ');
  return `hoptrace sql ${shellWord(dataset)} ${shellWord(`SELECT ${SIGHTING_COLUMNS} FROM sightings WHERE ${where} ORDER BY ts_ns`)}`;
}

/** Which kind of hop a pair of consecutive capture points is, for the latency charts. */
const pointKind = (p: InputPoint | undefined) =>
  p === undefined
    ? 'other'
    : p.kind === 'pod-eth0'
      ? 'pod'
      : p.kind === 'eni' || p.kind === 'primary'
        ? 'ENI'
        : p.kind;

export function hopKind(from: InputPoint | undefined, to: InputPoint | undefined): string {
  const a = pointKind(from);
  const b = pointKind(to);
  if (a === 'ENI' && b === 'ENI')
    return from?.node !== to?.node ? 'ENI → ENI (VPC)' : 'ENI → ENI (same node)';
  return `${a} → ${b}`;
}

/** The order hop kinds appear along a path, so the charts read like the ladders. */
const HOP_KIND_ORDER = [
  'pod → veth',
  'veth → ENI',
  'ENI → ENI (VPC)',
  'ENI → veth',
  'ENI → pod',
  'veth → pod',
];

function bypassText(p: InputPoint | undefined, ref: PointRef): string {
  if (p?.kind === 'veth' && ref.dir === 'out') return 'bypassed (bpf_redirect_peer)';
  if (p?.kind === 'veth') return 'bypassed (eBPF)';
  return 'bypassed (eBPF fast path)';
}

/**
 * Lanes in path order: the request path, then the points only replies (or other packets) crossed,
 * each placed after its neighbour on the reversed reply path; then points the verdicts name but no
 * packet crossed (bypassed, not captured), placed by their kind: a pod's veth beside its eth0 (after
 * it for the client, before it for the server), an ENI between its node's pod side and the next node.
 */
function laneOrder(f: InputFlow, v: VerdictFlow | null, points: Map<string, InputPoint>): string[] {
  const lanes: string[] = [];
  // a point not yet placed goes just before the next point of its sequence that is placed (a server's
  // veth lands beside the server's eth0, not beside the client's), else just after the previous one
  const addSequence = (seq: string[]) => {
    seq.forEach((p, i) => {
      if (lanes.includes(p)) return;
      // (a point the sequence already passed, as a hairpin's return to the pod, is not a neighbour)
      const next = seq.slice(i + 1).find((q) => lanes.includes(q) && !seq.slice(0, i).includes(q));
      const prev = seq
        .slice(0, i)
        .reverse()
        .find((q) => lanes.includes(q));
      const at =
        next !== undefined
          ? lanes.indexOf(next)
          : prev !== undefined
            ? lanes.indexOf(prev) + 1
            : lanes.length;
      lanes.splice(at, 0, p);
    });
  };
  addSequence(f.requestPath.map((h) => h.point));
  addSequence(f.replyPath.map((h) => h.point).reverse());
  for (const pkt of f.ladder) {
    const seq = pkt.sightings.map((s) => s.point);
    addSequence(pkt.leg === 'request' ? seq : seq.reverse());
  }
  const extra = v ? [...v.skipped, ...v.not_captured, ...v.unexpected].map((r) => r.point) : [];
  for (const id of extra) {
    if (lanes.includes(id)) continue;
    const p = points.get(id);
    const clientPod = f.client.pod;
    let at = lanes.length;
    if (p?.pod) {
      const podLane = lanes.findIndex(
        (l) => points.get(l)?.pod === p.pod && points.get(l)?.kind === 'pod-eth0',
      );
      if (podLane >= 0) at = p.pod === clientPod && podLane === 0 ? podLane + 1 : podLane;
    } else if (p?.node) {
      const onNode = lanes.map((l, i) => (points.get(l)?.node === p.node ? i : -1)).filter((i) => i >= 0);
      if (onNode.length > 0) {
        const firstServerSide = onNode.find((i) => {
          const lp = points.get(lanes[i]!);
          return lp?.pod !== undefined && lp.pod !== null && lp.pod !== clientPod;
        });
        at = firstServerSide ?? onNode[onNode.length - 1]! + 1;
        if (p.node === f.client.node && firstServerSide === undefined) {
          // the client's node: after its pod side, before the next node
          const firstElsewhere = lanes.findIndex((l, i) => i > onNode[0]! && points.get(l)?.node !== p.node);
          at = firstElsewhere >= 0 ? firstElsewhere : at;
        }
      }
    }
    lanes.splice(at, 0, id);
  }
  return lanes;
}

function laneOwner(p: InputPoint | undefined, id: string): { owner: string; iface: string; kind: string } {
  if (!p) return { owner: '', iface: id, kind: 'other' };
  const owner = p.kind === 'veth' && p.pod ? `${p.node ?? '?'} · ${p.pod}` : (p.pod ?? p.node ?? '');
  return { owner, iface: p.iface, kind: p.kind };
}

function rewriteText(prev: InputSighting, cur: InputSighting): string | null {
  const parts: string[] = [];
  // Rewrite bits: srcIp 1, srcPort 2, dstIp 4, dstPort 8 (analyzers/correlate/sightings.ts)
  if (cur.rewrite & 12) parts.push(`${prev.dst} -> ${cur.dst}`);
  if (cur.rewrite & 3) parts.push(`src ${prev.src} -> ${cur.src}`);
  return parts.length > 0 ? parts.join('; ') : null;
}

function flowSearch(f: InputFlow, v: VerdictFlow | null): string {
  const parts = [
    f.client.ip,
    `${f.client.ip}:${f.client.port}`,
    f.client.pod,
    f.client.node,
    f.server.ip,
    `${f.server.ip}:${f.server.port}`,
    f.server.pod,
    f.server.node,
    f.service?.ip,
    f.service ? `${f.service.ip}:${f.service.port}` : null,
    f.service?.name,
    PROTO_NAMES[f.proto],
    ...f.requestPath.map((h) => h.point),
    ...f.replyPath.map((h) => h.point),
    v?.scenario?.rule,
    v?.rule_id,
    v?.reason,
    `flow ${f.id}`,
  ];
  return parts
    .filter((p): p is string => typeof p === 'string' && p !== '')
    .join(' ')
    .toLowerCase();
}

/** What matches an analysis flow to its verdict. */
type FlowIdentity = Pick<InputFlow, 'id' | 'proto' | 'client' | 'server'>;

function matchVerdicts(flows: readonly FlowIdentity[], verdicts: Verdicts | null): (VerdictFlow | null)[] {
  if (!verdicts) return flows.map(() => null);
  const byId = new Map<number, VerdictFlow>();
  for (const v of verdicts.flows) if (v.flow_id !== undefined) byId.set(v.flow_id, v);
  // the address key only for flows the ids do not match (files without flow_id): one string per flow otherwise
  let byKey: Map<string, VerdictFlow> | undefined;
  const keyed = () => {
    if (byKey === undefined) {
      // built once, even when it comes out empty (else every unmatched flow would scan all verdicts)
      byKey = new Map();
      for (const v of verdicts.flows) {
        const proto = protoNumber(v.proto);
        if (proto !== null) byKey.set(flowKey(proto, v.client, v.server), v);
      }
    }
    return byKey;
  };
  return flows.map((f) => byId.get(f.id) ?? keyed().get(flowKey(f.proto, f.client, f.server)) ?? null);
}

/** Passing flows the page details at most, by default. */
export const DEFAULT_PASSING_DETAIL = 200;

export const scenarioKey = (v: Pick<VerdictFlow, 'scenario'> | null): string =>
  v ? (v.scenario ? String(v.scenario.id) : 'unclassified') : 'not-evaluated';

function flowRow(f: InputFlow, v: VerdictFlow | null): Omit<FlowRow, 'hasDetail'> {
  const svc = f.service
    ? `${endpointText(f.service, f.proto)}${f.service.name ? ` (${f.service.name})` : ''}`
    : null;
  const who = (e: InputFlow['client']) => `${e.pod ?? e.node ?? 'external'} ${endpointText(e, f.proto)}`;
  return {
    id: f.id,
    status: v ? v.status : 'not-evaluated',
    reason: v?.reason ?? null,
    scenario: scenarioKey(v),
    variant: v?.scenario?.rule ?? null,
    rule: v?.rule_id ?? null,
    proto: `${PROTO_NAMES[f.proto] ?? `proto ${f.proto}`}${f.family === 6 ? ' (IPv6)' : ''}`,
    client: who(f.client),
    service: svc,
    server: who(f.server),
    datapath: v ? v.datapath : 'not-evaluated',
    packets: f.packets,
    durationNs: Number(BigInt(f.lastNs) - BigInt(f.firstNs)),
    requestPath: f.requestPath.map((h) => `${h.point}:${h.dir}`),
    search: flowSearch(f, v),
  };
}

function flowDetail(
  f: InputFlow,
  v: VerdictFlow | null,
  row: FlowRow,
  points: Map<string, InputPoint>,
  dataset: string,
  analysisDir: string,
): FlowDetail {
  const order = laneOrder(f, v, points);
  const seen = new Set<string>([
    ...f.requestPath.map((h) => h.point),
    ...f.replyPath.map((h) => h.point),
    ...f.ladder.flatMap((p) => p.sightings.map((s) => s.point)),
  ]);
  const refKey = (r: { point: string; dir: string; leg: string }) => `${r.leg}|${r.point}|${r.dir}`;
  const unexpected = new Set((v?.unexpected ?? []).map(refKey));
  const lanes: Lane[] = order.map((id) => {
    const p = points.get(id);
    const notes: Lane['notes'] = [
      ...(v?.skipped ?? [])
        .filter((r) => r.point === id)
        .map((r) => ({ kind: 'bypassed' as const, leg: r.leg, dir: r.dir, text: bypassText(p, r) })),
      ...(v?.not_captured ?? [])
        .filter((r) => r.point === id)
        .map((r) => ({ kind: 'not-captured' as const, leg: r.leg, dir: r.dir, text: 'not captured' })),
      ...(v?.unexpected ?? [])
        .filter((r) => r.point === id)
        .map((r) => ({ kind: 'unexpected' as const, leg: r.leg, dir: r.dir, text: 'unexpected hop' })),
    ];
    const state: LaneState = seen.has(id)
      ? 'seen'
      : notes.some((n) => n.kind === 'bypassed')
        ? 'bypassed'
        : 'not-captured';
    return { point: id, ...laneOwner(p, id), state, notes };
  });
  const laneIndex = new Map(order.map((id, i) => [id, i]));
  const packets: LadderPacket[] = f.ladder.map((pkt) => ({
    leg: pkt.leg,
    summary: pkt.summary,
    t: pkt.sightings[0]?.t ?? 0,
    sightings: pkt.sightings.map((s, i) => {
      const prev = i > 0 ? pkt.sightings[i - 1]! : null;
      return {
        ...s,
        lane: laneIndex.get(s.point) ?? 0,
        unexpected: unexpected.has(refKey({ leg: pkt.leg, point: s.point, dir: s.dir })),
        latency: prev ? s.t - prev.t : null,
        rewriteText: prev ? rewriteText(prev, s) : null,
      };
    }),
  }));
  const checks = v?.checks ?? [];
  return {
    row,
    lanes,
    packets,
    totalPackets: f.packets,
    hops: f.hops,
    checks,
    rewrite: v?.service_rewrite ?? null,
    exportCommand: `hoptrace export ${shellWord(analysisDir)} --flow ${f.id} --out flow-${f.id}.pcapng`,
    sqlCommand: `hoptrace sql ${shellWord(dataset)} ${shellWord(`SELECT ${SIGHTING_COLUMNS} FROM sightings WHERE flow_id = ${f.id} ORDER BY packet_id, hop`)}`,
    evidenceCommands: checks.map((c) => (c.status === 'pass' ? null : evidenceCommand(dataset, c))),
  };
}

interface Judged {
  status: RowStatus;
  scenario: string;
}

const failing = (j: Judged) => j.status === 'fail' || j.status === 'inconclusive';

/**
 * Of the flows `among` (indices into `judged`, ascending), every failing or inconclusive one and at
 * most `limit` of the others, taken round-robin across scenarios so each scenario keeps examples;
 * ascending. Sampling a sample with a smaller limit picks what sampling all of them would.
 */
function sample(judged: readonly Judged[], among: readonly number[], limit: number): number[] {
  const chosen: number[] = [];
  const byScenario = new Map<string, number[]>();
  for (const i of among) {
    const j = judged[i]!;
    if (failing(j)) chosen.push(i);
    else {
      const q = byScenario.get(j.scenario);
      if (q) q.push(i);
      else byScenario.set(j.scenario, [i]);
    }
  }
  const queues = [...byScenario.values()];
  let taken = 0;
  for (let round = 0; taken < limit && queues.some((q) => q.length > round); round++)
    for (const q of queues)
      if (round < q.length && taken < limit) {
        chosen.push(q[round]!);
        taken++;
      }
  return chosen.sort((a, b) => a - b);
}

/** Hop latency samples by hop kind and datapath, gathered flow by flow. */
class LatencySamples {
  private readonly groups = new Map<string, Map<string, { samples: number[]; flows: number }>>();
  // a bundle has few (from, to) pairs and every flow's hops name them: each one's kind is found once
  private readonly kinds = new Map<string, Map<string, string>>();

  constructor(private readonly points: ReadonlyMap<string, InputPoint>) {}

  add(f: InputFlow, v: VerdictFlow | null): void {
    const datapath = v?.datapath ?? 'not evaluated';
    for (const h of f.hops) {
      if (h.from === h.to) continue;
      let byTo = this.kinds.get(h.from);
      if (byTo === undefined) {
        byTo = new Map();
        this.kinds.set(h.from, byTo);
      }
      let kind = byTo.get(h.to);
      if (kind === undefined) {
        kind = hopKind(this.point(h.from), this.point(h.to));
        byTo.set(h.to, kind);
      }
      let series = this.groups.get(kind);
      if (series === undefined) {
        series = new Map();
        this.groups.set(kind, series);
      }
      let s = series.get(datapath);
      if (s === undefined) {
        s = { samples: [], flows: 0 };
        series.set(datapath, s);
      }
      s.samples.push(h.medianNs);
      s.flows += 1;
    }
  }

  /** a point of no capture (a verdict names it, or nothing describes it) is made from its id */
  private point(id: string): InputPoint {
    return this.points.get(id) ?? pointFromId(id);
  }

  groupsOut(): LatencyGroup[] {
    const rank = (k: string) => {
      const i = HOP_KIND_ORDER.indexOf(k);
      return i < 0 ? HOP_KIND_ORDER.length : i;
    };
    return [...this.groups]
      .sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b))
      .map(([hopKind, series]) => ({
        hopKind,
        series: [...series]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([datapath, s]) => ({
            datapath,
            samples: s.samples.slice().sort((x, y) => x - y),
            flows: s.flows,
          })),
      }));
  }
}

/** Counts over every flow; the links go to the first flows of each scenario the table lists. */
function scenarioRows(
  judged: readonly Judged[],
  rulesOf: ReadonlyMap<string, ReadonlySet<string>>,
  rows: readonly FlowRow[],
): ScenarioRow[] {
  const keys = ['1', '2', '3', '4', '5', '6', '7', '8', 'unclassified', 'not-evaluated'];
  const byKey = new Map(
    keys.map((key) => [
      key,
      {
        key,
        title:
          SCENARIO_TITLES[Number(key)] ??
          (key === 'unclassified' ? 'no scenario applies (reason per flow)' : 'flows without verdicts'),
        flows: 0,
        pass: 0,
        fail: 0,
        inconclusive: 0,
        notEvaluated: 0,
        rules: new Set<string>(),
        flowIds: [] as number[],
      },
    ]),
  );
  const field = {
    pass: 'pass',
    fail: 'fail',
    inconclusive: 'inconclusive',
    'not-evaluated': 'notEvaluated',
  } as const;
  for (const j of judged) {
    const s = byKey.get(j.scenario);
    if (!s) continue;
    s.flows++;
    s[field[j.status]]++;
  }
  for (const [key, rules] of rulesOf) {
    const s = byKey.get(key);
    if (s) for (const r of rules) s.rules.add(r);
  }
  for (const r of rows) {
    const s = byKey.get(r.scenario);
    if (s && s.flowIds.length < 12) s.flowIds.push(r.id);
  }
  return [...byKey.values()]
    .map((s) => ({ ...s, rules: [...s.rules].sort() }))
    .filter((r) => r.flows > 0 || /^\d$/.test(r.key));
}

/** `node/<node>/<iface>` or `pod/<ns>/<name>/<iface>` (topology ids) as a point of unknown kind. */
export function pointFromId(id: string): InputPoint {
  const parts = id.split('/');
  if (parts[0] === 'node' && parts.length === 3)
    return { id, node: parts[1]!, pod: null, iface: parts[2]!, kind: 'no capture' };
  if (parts[0] === 'pod' && parts.length === 4)
    return { id, node: null, pod: `${parts[1]}/${parts[2]}`, iface: parts[3]!, kind: 'no capture' };
  return { id, node: null, pod: null, iface: id, kind: 'no capture' };
}

/**
 * Capture points whose absence or shortness cost the analysis: named by a verdict as not captured but
 * without a capture in the bundle, or captured for a much shorter time than the others (stopped early).
 */
function coverageGaps(
  input: Pick<ReportInput, 'captures'>,
  flowsNaming: ReadonlyMap<string, number>,
  endNs: string | null,
): CoverageGap[] {
  const captured = new Set(input.captures.map((c) => c.point));
  const gaps: CoverageGap[] = [...flowsNaming]
    .filter(([point]) => !captured.has(point))
    .map(([point, flows]) => ({
      point,
      text: `no capture in the bundle: checks of ${flows} flow${flows === 1 ? '' : 's'} that need it are inconclusive`,
    }));
  if (endNs === null) return gaps;
  const lengths = input.captures
    .filter((c) => c.startNs !== null && c.endNs !== null)
    .map((c) => Number(BigInt(c.endNs!) - BigInt(c.startNs!)));
  const longest = Math.max(0, ...lengths);
  for (const c of input.captures) {
    if (c.startNs === null || c.endNs === null) continue;
    const length = Number(BigInt(c.endNs) - BigInt(c.startNs));
    // a tenth of the longest capture: rotation and start-up skew stay well above it
    if (length < longest / 10) {
      const n = flowsNaming.get(c.point) ?? 0;
      gaps.push({
        point: c.point,
        text: `captured for ${length / 1e6 < 1 ? `${Math.round(length / 1e3)} µs` : `${Math.round(length / 1e6)} ms`} only, stopped early: ${n} flow${n === 1 ? '' : 's'} outside its window are inconclusive there`,
      });
    }
  }
  return gaps;
}

/** The analysis and the evaluator may both report one problem: show it once. */
function uniqueWarnings(list: Warning[]): Warning[] {
  const seen = new Set<string>();
  return list.filter((w) => {
    const key = `${w.code}\n${w.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Which flows the page lists and which it details (indices), from the flows' verdicts. */
const judgedOf = (v: VerdictFlow | null): Judged => ({
  status: v ? v.status : 'not-evaluated',
  scenario: scenarioKey(v),
});

function selection(judged: readonly Judged[], opts: ReportModelOptions) {
  // rows and details only for the flows the page lists: aggregates cover all of them
  const listed = sample(
    judged,
    judged.map((_, i) => i),
    opts.passingRows ?? 1000,
  );
  return {
    listed,
    detailed: new Set(sample(judged, listed, opts.passingDetail ?? DEFAULT_PASSING_DETAIL)),
  };
}

/**
 * Ids of the flows a report made with `opts` details (analyze keeps ladders for the flows that
 * `ReportFeed.wantsDetail` when they end: these and the flows they displaced).
 */
export function detailedFlowIds(
  flows: readonly FlowIdentity[],
  verdicts: Verdicts | null,
  opts: ReportModelOptions = {},
): Set<number> {
  const judged = matchVerdicts(flows, verdicts).map(judgedOf);
  return new Set([...selection(judged, opts).detailed].map((i) => flows[i]!.id));
}

export function reportModel(
  input: ReportInput,
  verdicts: Verdicts | null,
  opts: ReportModelOptions = {},
): ReportModel {
  const feed = new ReportFeed(input.points, opts);
  const matched = matchVerdicts(input.flows, verdicts);
  for (const [i, f] of input.flows.entries()) feed.add(f, matched[i]!);
  // verdicts of no flow here still name points and count towards the coverage gaps
  const used = new Set(matched);
  for (const v of verdicts?.flows ?? []) if (!used.has(v)) feed.note(v);
  const { flows, ...head } = input;
  return feed.model(head, verdicts);
}

/**
 * What the page is made from, gathered flow by flow in whatever order flows come (`hoptrace analyze`
 * adds each as it ends): counts, hop latencies and coverage of every flow, but whole only the flows the
 * page may list (every failing or inconclusive one, and of each scenario the `passingRows` others with
 * the lowest ids so far, which the sample draws from since it takes them in id order). So the page of a
 * bundle of a million flows holds thousands of them, and `reportModel` is this over every flow of an
 * analysis.json.
 */
export class ReportFeed {
  /** per flow added: id, status and scenario */
  private readonly ids: number[] = [];
  private readonly judged: Judged[] = [];
  private readonly judgedKinds = new Map<string, Judged>();
  /** the flows the page may list, by id */
  private readonly kept = new Map<number, { flow: InputFlow; verdict: VerdictFlow | null }>();
  /** per scenario: ids of the passing flows kept (max-heaps: the highest goes first) for the table, and for details */
  private readonly rowIds = new Map<string, number[]>();
  private readonly detailIds = new Map<string, number[]>();
  private readonly rulesOf = new Map<string, Set<string>>();
  private readonly latency: LatencySamples;
  private readonly points: Map<string, InputPoint>;
  private readonly flowsNaming = new Map<string, number>();
  private firstNs: bigint | null = null;
  private lastNs: bigint | null = null;
  private readonly passingRows: number;
  private readonly passingDetail: number;

  constructor(
    points: readonly InputPoint[],
    private readonly opts: ReportModelOptions = {},
  ) {
    this.points = new Map(points.map((p) => [p.id, p]));
    this.latency = new LatencySamples(this.points);
    this.passingRows = opts.passingRows ?? 1000;
    this.passingDetail = opts.passingDetail ?? DEFAULT_PASSING_DETAIL;
  }

  /** Whether the page may detail a flow with this id and verdict, as things stand: its ladder is wanted. */
  wantsDetail(id: number, v: VerdictFlow | null): boolean {
    const j = judgedOf(v);
    return failing(j) || fits(this.detailIds.get(j.scenario), id, this.passingDetail);
  }

  add(f: InputFlow, v: VerdictFlow | null): void {
    const j = this.interned(judgedOf(v));
    this.ids.push(f.id);
    this.judged.push(j);
    if (v?.rule_id) {
      let rules = this.rulesOf.get(j.scenario);
      if (rules === undefined) {
        rules = new Set();
        this.rulesOf.set(j.scenario, rules);
      }
      rules.add(v.rule_id);
    }
    if (v) this.note(v);
    this.latency.add(f, v);
    // parsed once a flow (the span needs them only when the captures give none; kept as numbers meanwhile)
    const first = BigInt(f.firstNs);
    const last = BigInt(f.lastNs);
    if (this.firstNs === null || first < this.firstNs) this.firstNs = first;
    if (this.lastNs === null || last > this.lastNs) this.lastNs = last;
    if (failing(j)) {
      this.kept.set(f.id, { flow: f, verdict: v });
      return;
    }
    keepLowest(this.detailIds, j.scenario, f.id, this.passingDetail);
    const out = keepLowest(this.rowIds, j.scenario, f.id, this.passingRows);
    if (out === f.id) return;
    if (out !== null) this.kept.delete(out);
    this.kept.set(f.id, { flow: f, verdict: v });
  }

  /** one object per status and scenario, not one per flow (a million of them would be promoted and kept) */
  private interned(j: Judged): Judged {
    const key = `${j.status} ${j.scenario}`;
    let same = this.judgedKinds.get(key);
    if (same === undefined) {
      same = j;
      this.judgedKinds.set(key, j);
    }
    return same;
  }

  /** A verdict's points (its lanes) and the points it says were not captured. */
  note(v: VerdictFlow): void {
    // points the verdicts name that no capture in the bundle describes (a capture file removed): made
    // from the id, so their lane is placed beside its node or pod and named by its interface
    for (const r of [...v.not_captured, ...v.skipped, ...v.unexpected])
      if (!this.points.has(r.point)) this.points.set(r.point, pointFromId(r.point));
    for (const point of new Set(v.not_captured.map((r) => r.point)))
      this.flowsNaming.set(point, (this.flowsNaming.get(point) ?? 0) + 1);
  }

  model(
    input: Omit<ReportInput, 'flows'>,
    verdicts: Pick<Verdicts, 'nodes' | 'warnings'> | null,
  ): ReportModel {
    const opts = this.opts;
    const analysisDir = opts.analysisDir ?? '<analysis-dir>';
    const dataset = `${analysisDir.replace(/\/+$/, '')}/dataset`;
    const points = this.points;
    // the flows in id order (analysis.json's order before flows were streamed), as the sample wants
    const order = Array.from(this.ids.keys()).sort((a, b) => this.ids[a]! - this.ids[b]!);
    const judged = order.map((k) => this.judged[k]!);
    const { listed, detailed } = selection(judged, opts);
    const at = (i: number) => this.kept.get(this.ids[order[i]!]!)!;
    const rows: FlowRow[] = listed.map((i) => ({
      ...flowRow(at(i).flow, at(i).verdict),
      hasDetail: detailed.has(i),
    }));
    const details = listed
      .map((i, k) =>
        detailed.has(i)
          ? flowDetail(at(i).flow, at(i).verdict, rows[k]!, points, dataset, analysisDir)
          : null,
      )
      .filter((d): d is FlowDetail => d !== null);
    const statusCounts: Record<RowStatus, number> = { pass: 0, fail: 0, inconclusive: 0, 'not-evaluated': 0 };
    for (const j of judged) statusCounts[j.status] += 1;
    const failingCount = judged.filter(failing).length;
    const starts = input.captures.map((c) => c.startNs).filter((s): s is string => s !== null);
    const ends = input.captures.map((c) => c.endNs).filter((s): s is string => s !== null);
    const minBig = (xs: string[]) => xs.reduce((a, b) => (BigInt(b) < BigInt(a) ? b : a));
    const maxBig = (xs: string[]) => xs.reduce((a, b) => (BigInt(b) > BigInt(a) ? b : a));
    const startNs = starts.length > 0 ? minBig(starts) : (this.firstNs?.toString() ?? null);
    const endNs = ends.length > 0 ? maxBig(ends) : (this.lastNs?.toString() ?? null);
    const offsets = new Map(input.clockOffsets.map((o) => [o.node, o]));
    const observed = new Map((verdicts?.nodes ?? []).map((n) => [n.node, n]));
    return {
      title: opts.title ?? 'hoptrace report',
      evaluated: verdicts !== null,
      bundle: input.bundle,
      analysisDir,
      span: {
        startNs,
        endNs,
        durationNs: startNs !== null && endNs !== null ? Number(BigInt(endNs) - BigInt(startNs)) : null,
      },
      nodes: input.nodes.map((n) => {
        const o = offsets.get(n.name);
        const v = observed.get(n.name);
        return {
          node: n.name,
          kernel: n.kernel ?? v?.kernel ?? null,
          claimed: v?.claimed ?? n.claimed,
          observed: v?.observed ?? null,
          offsetNs: o?.offsetNs ?? null,
          errorNs: o?.errorNs ?? null,
          reference: o?.reference ?? false,
          via: o?.via ?? null,
          matchedFrames: o?.matchedFrames ?? null,
        };
      }),
      captures: input.captures,
      missing: input.missing,
      coverageGaps: coverageGaps(input, this.flowsNaming, endNs),
      warnings: uniqueWarnings([...input.warnings, ...(verdicts?.warnings ?? [])]),
      statusCounts,
      scenarios: scenarioRows(judged, this.rulesOf, rows),
      flows: rows,
      details,
      sampling: {
        total: judged.length,
        listed: rows.length,
        detailed: details.length,
        failing: failingCount,
        passingShown: details.length - failingCount,
        passingTotal: judged.length - failingCount,
      },
      latency: this.latency.groupsOut(),
      ladderPackets: input.ladderPackets,
    };
  }
}
