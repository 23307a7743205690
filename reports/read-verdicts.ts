/**
 * The shape of `verdicts.json` (DESIGN §8), as the report reads it. The evaluator (issue 6) writes
 * it; until it exists the report is built without one and says "not evaluated". Everything here is
 * read from a file, so `normalizeVerdicts` checks shapes instead of trusting them: a field of the
 * wrong type is dropped (and the flow shown as not evaluated), never a crash or a guess.
 */

export type FlowStatus = 'pass' | 'fail' | 'inconclusive';
export type Leg = 'request' | 'reply';
export type RewriteStatus = 'at-source' | 'elsewhere' | 'missing' | 'not-observable' | 'n/a';
export type Datapath = 'ebpf' | 'kernel' | 'mixed' | 'unknown';

export interface PointRef {
  point: string;
  dir: 'in' | 'out' | 'unknown';
  leg: Leg;
}

export interface VerdictEndpoint {
  ip: string;
  port: number;
  pod: string | null;
  node: string | null;
}

export interface RewriteLeg {
  status: RewriteStatus;
  /** `ip:port` */
  before: string | null;
  after: string | null;
  /** the two sightings (capture point ids) between which the change appears */
  between: [string, string] | null;
}

export interface ServiceRewrite extends RewriteLeg {
  reverse: RewriteLeg;
}

export interface Evidence {
  point: string;
  file: string;
  frame: number;
}

export interface Check {
  name: string;
  status: FlowStatus;
  reason: string | null;
  message: string;
  evidence: Evidence[];
}

export interface VerdictFlow {
  /** not in DESIGN §8; used to match the analysis flow when present */
  flow_id?: number;
  /** `tcp|udp|icmp|icmpv6` or the IP protocol number */
  proto: string | number;
  client: VerdictEndpoint;
  service: { ip: string; port: number; name: string | null } | null;
  server: VerdictEndpoint;
  scenario: { id: number; rule: string | null } | null;
  datapath: Datapath;
  request_path: string[];
  reply_path: string[];
  skipped: PointRef[];
  unexpected: PointRef[];
  not_captured: PointRef[];
  service_rewrite: ServiceRewrite | null;
  status: FlowStatus;
  reason?: string | null;
  checks: Check[];
}

export interface Verdicts {
  schema_version: number;
  flows: VerdictFlow[];
  nodes: { node: string; kernel: string | null; claimed: string; observed: string }[];
  clock_offsets: { node: string; offset_ns: number; error_ns: number | null }[];
  captures: unknown[];
  warnings: unknown[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const s = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const n = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const oneOf = <T extends string>(v: unknown, values: readonly T[], fallback: T): T =>
  values.includes(v as T) ? (v as T) : fallback;

const STATUSES = ['pass', 'fail', 'inconclusive'] as const;
const DATAPATHS = ['ebpf', 'kernel', 'mixed', 'unknown'] as const;
const REWRITES = ['at-source', 'elsewhere', 'missing', 'not-observable', 'n/a'] as const;

function endpoint(v: unknown): VerdictEndpoint {
  const o = isObj(v) ? v : {};
  return { ip: s(o['ip']) ?? '?', port: n(o['port']) ?? 0, pod: s(o['pod']), node: s(o['node']) };
}

function pointRefs(v: unknown): PointRef[] {
  return arr(v)
    .filter(isObj)
    .filter((r) => typeof r['point'] === 'string')
    .map((r) => ({
      point: r['point'] as string,
      dir: oneOf(r['dir'], ['in', 'out', 'unknown'] as const, 'unknown'),
      leg: oneOf(r['leg'], ['request', 'reply'] as const, 'request'),
    }));
}

function rewriteLeg(v: unknown): RewriteLeg {
  const o = isObj(v) ? v : {};
  const between = arr(o['between']).map(s);
  return {
    status: oneOf(o['status'], REWRITES, 'n/a'),
    before: s(o['before']),
    after: s(o['after']),
    between: between.length === 2 && between[0] && between[1] ? [between[0], between[1]] : null,
  };
}

/** A path entry may be a point id or `{point, dir}`; the report wants `point:dir` or the id. */
function pathIds(v: unknown): string[] {
  return arr(v)
    .map((e) => (isObj(e) && typeof e['point'] === 'string' ? `${e['point']}:${s(e['dir']) ?? '?'}` : s(e)))
    .filter((e): e is string => e !== null);
}

function flow(v: Obj): VerdictFlow {
  const scenario = isObj(v['scenario']) ? v['scenario'] : null;
  const service = isObj(v['service']) ? v['service'] : null;
  const rewrite = isObj(v['service_rewrite']) ? v['service_rewrite'] : null;
  const flowId = n(v['flow_id']);
  return {
    ...(flowId === null ? {} : { flow_id: flowId }),
    proto: s(v['proto']) ?? n(v['proto']) ?? '?',
    client: endpoint(v['client']),
    service: service
      ? { ip: s(service['ip']) ?? '?', port: n(service['port']) ?? 0, name: s(service['name']) }
      : null,
    server: endpoint(v['server']),
    scenario:
      scenario && n(scenario['id']) !== null ? { id: n(scenario['id'])!, rule: s(scenario['rule']) } : null,
    datapath: oneOf(v['datapath'], DATAPATHS, 'unknown'),
    request_path: pathIds(v['request_path']),
    reply_path: pathIds(v['reply_path']),
    skipped: pointRefs(v['skipped']),
    unexpected: pointRefs(v['unexpected']),
    not_captured: pointRefs(v['not_captured']),
    service_rewrite: rewrite ? { ...rewriteLeg(rewrite), reverse: rewriteLeg(rewrite['reverse']) } : null,
    status: oneOf(v['status'], STATUSES, 'inconclusive'),
    reason: s(v['reason']),
    checks: arr(v['checks'])
      .filter(isObj)
      .map((c) => ({
        name: s(c['name']) ?? '?',
        status: oneOf(c['status'], STATUSES, 'inconclusive'),
        reason: s(c['reason']),
        message: s(c['message']) ?? '',
        evidence: arr(c['evidence'])
          .filter(isObj)
          .map((e) => ({
            point: s(e['point']) ?? '?',
            file: s(e['file']) ?? '?',
            frame: n(e['frame']) ?? 0,
          })),
      })),
  };
}

/** Reads a parsed verdicts.json defensively (see the module comment). */
export function normalizeVerdicts(data: unknown): Verdicts {
  const o = isObj(data) ? data : {};
  return {
    schema_version: n(o['schema_version']) ?? 0,
    flows: arr(o['flows']).filter(isObj).map(flow),
    nodes: arr(o['nodes'])
      .filter(isObj)
      .map((x) => ({
        node: s(x['node']) ?? '?',
        kernel: s(x['kernel']),
        claimed: s(x['claimed']) ?? 'unknown',
        observed: s(x['observed']) ?? 'unknown',
      })),
    clock_offsets: arr(o['clock_offsets'])
      .filter(isObj)
      .map((x) => ({
        node: s(x['node']) ?? '?',
        offset_ns: n(x['offset_ns']) ?? 0,
        error_ns: n(x['error_ns']),
      })),
    captures: arr(o['captures']),
    warnings: arr(o['warnings']),
  };
}

const PROTO_NUMBERS: Record<string, number> = {
  tcp: 6,
  udp: 17,
  icmp: 1,
  icmpv6: 58,
  'ipv6-icmp': 58,
  sctp: 132,
};

export function protoNumber(proto: string | number): number | null {
  if (typeof proto === 'number') return proto;
  return PROTO_NUMBERS[proto.toLowerCase()] ?? null;
}

/** The key a verdict flow and an analysis flow share when the verdict carries no flow id. */
export function flowKey(
  proto: number,
  client: { ip: string; port: number },
  server: { ip: string; port: number },
) {
  return `${proto}|${client.ip}|${client.port}|${server.ip}|${server.port}`;
}
