/**
 * The shape of `verdicts.json` (DESIGN §8), as the report reads it. The evaluator (issue 6) writes
 * it; until it exists the report is built without one and says "not evaluated". Everything here is
 * read from a file, so `normalizeVerdicts` checks shapes instead of trusting them: a field of the
 * wrong type is dropped (and the flow shown as not evaluated), never a crash or a guess.
 */

// the shapes the evaluator writes, where the report reads them unchanged
import type * as V from '../analyzers/rules/verdict-types.ts';
import type { VerdictNode, Warning } from '../analyzers/verdicts.ts';

export type {
  Datapath,
  Evidence,
  Leg,
  PointRef,
  RewriteLeg,
  RewriteStatus,
  ServiceRewrite,
  VerdictEndpoint,
} from '../analyzers/rules/verdict-types.ts';
export type { Warning } from '../analyzers/verdicts.ts';
export type FlowStatus = V.Status;

/**
 * A check as read: `reason` stays any string (a newer evaluator may add reasons this report does not
 * know; it shows them as written).
 */
export type Check = Omit<V.CheckResult, 'reason'> & { reason: string | null };

/**
 * A flow as read. Differs from the evaluator's `FlowVerdict` where a file may hold less: `flow_id` may
 * be absent (then the flow is matched by its addresses), `proto` may be a number, `reason` any string,
 * and `handled_by` is not read.
 */
export interface VerdictFlow {
  /** not in DESIGN §8; used to match the analysis flow when present */
  flow_id?: number;
  /** `tcp|udp|icmp|icmpv6` or the IP protocol number */
  proto: string | number;
  client: V.VerdictEndpoint;
  service: { ip: string; port: number; name: string | null } | null;
  server: V.VerdictEndpoint;
  scenario: { id: number; rule: string | null } | null;
  /** the rule that judged the flow (`terway-v2/svc-hairpin`); null when none did or the file predates it */
  rule_id: string | null;
  datapath: V.Datapath;
  request_path: string[];
  reply_path: string[];
  skipped: V.PointRef[];
  unexpected: V.PointRef[];
  not_captured: V.PointRef[];
  service_rewrite: V.ServiceRewrite | null;
  status: FlowStatus;
  reason?: string | null;
  checks: Check[];
}

/** A node as read: datapath names stay strings (node_capabilities' own names may appear). */
export type VerdictNodeRow = Pick<VerdictNode, 'node' | 'kernel'> & {
  claimed: string;
  observed: string;
  rule_set: string | null;
};

export interface Verdicts {
  schema_version: number;
  flows: VerdictFlow[];
  nodes: VerdictNodeRow[];
  clock_offsets: { node: string; offset_ns: number; error_ns: number | null }[];
  captures: unknown[];
  warnings: Warning[];
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

function endpoint(v: unknown): V.VerdictEndpoint {
  const o = isObj(v) ? v : {};
  return { ip: s(o['ip']) ?? '?', port: n(o['port']) ?? 0, pod: s(o['pod']), node: s(o['node']) };
}

function pointRefs(v: unknown): V.PointRef[] {
  return arr(v)
    .filter(isObj)
    .filter((r) => typeof r['point'] === 'string')
    .map((r) => ({
      point: r['point'] as string,
      dir: oneOf(r['dir'], ['in', 'out', 'unknown'] as const, 'unknown'),
      leg: oneOf(r['leg'], ['request', 'reply'] as const, 'request'),
    }));
}

function rewriteLeg(v: unknown): V.RewriteLeg {
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
    rule_id: s(v['rule_id']),
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

/** `{code, message}` as the evaluator writes it; a bare string (older files) is a message. */
function warning(v: unknown): Warning {
  if (typeof v === 'string') return { code: 'verdicts', message: v };
  const o = isObj(v) ? v : {};
  return {
    code: s(o['code']) ?? 'verdicts',
    message: s(o['message']) ?? (isObj(v) ? JSON.stringify(v) : String(v)),
  };
}

/** One parsed flow of verdicts.json, read as `normalizeVerdicts` reads each (null: not an object). */
export function normalizeVerdictFlow(data: unknown): VerdictFlow | null {
  return isObj(data) ? flow(data) : null;
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
        rule_set: s(x['rule_set']),
      })),
    clock_offsets: arr(o['clock_offsets'])
      .filter(isObj)
      .map((x) => ({
        node: s(x['node']) ?? '?',
        offset_ns: n(x['offset_ns']) ?? 0,
        error_ns: n(x['error_ns']),
      })),
    captures: arr(o['captures']),
    warnings: arr(o['warnings']).map(warning),
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
