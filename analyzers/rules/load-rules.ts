/**
 * Rule loader (STYLE "rules/: Falco's flat items"): YAML with positions, then the JSON Schema
 * (rules/schema.json, additionalProperties false), then meaning. Every problem is collected, never thrown,
 * and printed as one line: `file:line:col: rule '<id>' > <json path>: <cause> (rules.<code>)`.
 *
 * A rule file holds one rule item per YAML document (`---` separates several). A rule set is a folder
 * (`rules/terway-v2/`): rule ids are unique within it, and no two of its rules may match the same flow.
 *
 * Kernel-dependent expectations are per hop (DESIGN §7: "judged by each node's kernel"): a hop's `kernel`
 * puts it on the path only when the kernel of that hop's node (the node of the role's endpoint) is in the
 * range, and `variants` override a hop's TTL decrement or gateway-MAC check for a kernel range. So a flow
 * between a 4.19 node and a 5.10 node needs no combined variant: each hop reads its own node's kernel.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import {
  type Document,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  parseAllDocuments,
  type Node as YamlNode,
} from 'yaml';
import schema from '../../rules/schema.json' with { type: 'json' };
import {
  allFacts,
  type ClassifyFacts,
  ClientKind,
  classifyFacts,
  EniRelation,
  NodeRelation,
  ScenarioKey,
  Via,
} from '../classify.ts';
import { type RulesErrorCode, RulesErrors, type Severity } from './errors.ts';
import { Endpoint, parseRole, ROLE_SPELLINGS, type Role, RoleKind } from './roles.ts';

/** The hoptrace version rule files are checked against (`requires.hoptrace`). */
export const ENGINE_VERSION = '0.1.0';
/** The only rule schema version this loader reads. */
export const RULE_SCHEMA_VERSION = 1;

// ---------------------------------------------------------------------------------------------------
// Problems

export interface Problem {
  code: RulesErrorCode;
  severity: Severity;
  file: string;
  /** 1-based; 0 when the problem has no position (a folder, an unreadable file) */
  line: number;
  col: number;
  /** the rule id, when the item has a readable one */
  rule: string | null;
  /** JSON path inside the item (`expect.request.path[2]`), empty for the item itself */
  path: string;
  message: string;
}

/** The one line a person reads (STYLE's example, exactly). */
export function formatProblem(p: Problem): string {
  const where = p.line > 0 ? `${p.file}:${p.line}:${p.col}` : p.file;
  const chain = [p.rule !== null ? `rule '${p.rule}'` : null, p.path !== '' ? p.path : null]
    .filter((x) => x !== null)
    .join(' > ');
  const cause = p.severity === 'warning' ? `warning: ${p.message}` : p.message;
  return `${where}: ${chain !== '' ? `${chain}: ` : ''}${cause} (${p.code})`;
}

// ---------------------------------------------------------------------------------------------------
// Kernel versions and ranges

export type KernelVersion = readonly [number, number, number];

/** `4.19.91-26.al7.x86_64` -> [4, 19, 91]; null when it does not start with a version. */
export function parseKernelVersion(release: string | null): KernelVersion | null {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(release ?? '');
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : null;
}

type Op = '<' | '<=' | '>' | '>=' | '=';

export interface KernelRange {
  text: string;
  /** comparators that must all hold */
  bounds: readonly { op: Op; v: KernelVersion }[];
}

/** `<5.10`, `>=5.10`, `>=4.19 <5.10` (comparators AND together). */
export function parseKernelRange(text: string): KernelRange | null {
  const parts = text.trim().split(/\s+/);
  const bounds: { op: Op; v: KernelVersion }[] = [];
  for (const part of parts) {
    const m = /^(<=|>=|<|>|=)(\d+)\.(\d+)(?:\.(\d+))?$/.exec(part);
    if (!m) return null;
    bounds.push({ op: m[1] as Op, v: [Number(m[2]), Number(m[3]), Number(m[4] ?? 0)] });
  }
  return bounds.length > 0 ? { text, bounds } : null;
}

function cmp(a: KernelVersion, b: KernelVersion): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

export function kernelInRange(v: KernelVersion, r: KernelRange): boolean {
  return r.bounds.every(({ op, v: b }) => {
    const c = cmp(v, b);
    return op === '<' ? c < 0 : op === '<=' ? c <= 0 : op === '>' ? c > 0 : op === '>=' ? c >= 0 : c === 0;
  });
}

/** Versions that land in every region the ranges cut: enough to decide overlaps and per-kernel paths. */
function sampleVersions(ranges: readonly KernelRange[]): KernelVersion[] {
  const out: KernelVersion[] = [[0, 0, 0]];
  for (const r of ranges)
    for (const { v } of r.bounds) out.push(v, [v[0], v[1], v[2] + 1], [v[0], v[1] + 1, 0], [v[0] + 1, 0, 0]);
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Loaded rules (what the evaluator reads)

export interface Loc {
  file: string;
  line: number;
  col: number;
}

export interface RuleHop {
  role: Role;
  /** TTL (hop limit) decrement from the previous hop on the resolved path; null: not checked */
  ttlDecrement: number | null;
  /** :out frames must go to the gateway MAC, :in frames come from it (`any`/SLL2: dst MAC not captured) */
  gatewayMac: boolean;
  /** on the path only when this hop's node kernel is in the range */
  kernel: KernelRange | null;
  variants: readonly { range: KernelRange; ttlDecrement?: number; gatewayMac?: boolean }[];
  loc: Loc;
}

export interface RuleSkip {
  role: Role;
  kernel: KernelRange | null;
  loc: Loc;
}

export const RewriteKind = Object.freeze({
  /** destination translated on the request (Service VIP -> backend) */
  dnat: 'dnat',
  /** source translated back on the reply (backend -> Service VIP) */
  reverseDnat: 'reverse-dnat',
  /** source translated on the request (masquerade, service loopback) */
  snat: 'snat',
  /** destination translated back on the reply */
  reverseSnat: 'reverse-snat',
} as const);
export type RewriteKind = (typeof RewriteKind)[keyof typeof RewriteKind];

/** Names of addresses a rewrite goes from/to, resolved per flow by the evaluator. */
export const RewriteAddress = Object.freeze({
  client: 'client',
  /** the Service address the client targeted (ClusterIP, LoadBalancer address, ExternalIP) */
  service: 'service',
  backend: 'backend',
  /** nodeIP:NodePort the client targeted (8b) */
  nodePort: 'node-port',
  /** an address of the node doing the rewrite (kube-proxy MASQUERADE; compare IPs: the port may change) */
  nodeIp: 'node-ip',
  /** Cilium's ipv4-service-loopback-address, 169.254.42.1 by default (hairpin) */
  serviceLoopback: 'service-loopback',
} as const);
export type RewriteAddress = (typeof RewriteAddress)[keyof typeof RewriteAddress];

export interface RuleRewrite {
  kind: RewriteKind;
  field: 'src' | 'dst';
  from: RewriteAddress;
  to: RewriteAddress;
  /** last path point that must still show `from`, and the path point by which `to` shows; null if `outside` */
  between: readonly [Role, Role] | null;
  /** where the rewrite happens when no tap can see it (service_rewrite status `not-observable`) */
  outside: string | null;
  loc: Loc;
}

export interface RuleLeg {
  path: readonly RuleHop[];
  skipped: readonly RuleSkip[];
  rewrites: readonly RuleRewrite[];
}

export interface RuleWhen {
  client: readonly string[] | null;
  via: readonly string[] | null;
  node: readonly string[] | null;
  eni: readonly string[] | null;
}

export interface Rule {
  id: string;
  /** the rule set: the folder the file is in (`terway-v2`) */
  set: string;
  file: string;
  loc: Loc;
  scenarios: readonly ScenarioKey[];
  desc: string;
  when: RuleWhen;
  request: RuleLeg;
  reply: RuleLeg;
  output: string;
  tags: readonly string[];
}

export interface LoadResult {
  rules: Rule[];
  errors: Problem[];
  warnings: Problem[];
}

// ---------------------------------------------------------------------------------------------------
// Matching rules to classified flows, and a leg's expectations for given kernels

export function ruleMatches(rule: Rule, key: ScenarioKey, facts: ClassifyFacts): boolean {
  const w = rule.when;
  return (
    rule.scenarios.includes(key) &&
    (w.client === null || w.client.includes(facts.client)) &&
    (w.via === null || w.via.includes(facts.via)) &&
    (w.node === null || w.node.includes(facts.node)) &&
    (w.eni === null || w.eni.includes(facts.eni))
  );
}

export interface EffectiveHop {
  role: Role;
  /** null: not checked, or the kernel needed to decide it is unknown */
  ttlDecrement: number | null;
  /** null: the kernel needed to decide it is unknown */
  gatewayMac: boolean | null;
  hop: RuleHop;
}

export interface EffectiveLeg {
  path: EffectiveHop[];
  skipped: RuleSkip[];
  /** kernel-conditional entries whose node kernel is unknown: neither expected nor forbidden */
  undecided: (RuleHop | RuleSkip)[];
}

/**
 * A leg as it applies to one flow: `kernelOf(endpoint)` is the kernel of that endpoint's node (null when
 * unknown; the `--kernel` override is the caller's business).
 */
export function effectiveLeg(leg: RuleLeg, kernelOf: (e: Endpoint) => KernelVersion | null): EffectiveLeg {
  const out: EffectiveLeg = { path: [], skipped: [], undecided: [] };
  for (const hop of leg.path) {
    const k = kernelOf(hop.role.endpoint);
    if (hop.kernel !== null) {
      if (k === null) {
        out.undecided.push(hop);
        continue;
      }
      if (!kernelInRange(k, hop.kernel)) continue;
    }
    let ttl: number | null = hop.ttlDecrement;
    let gw: boolean | null = hop.gatewayMac;
    if (hop.variants.length > 0 && k === null) {
      if (hop.variants.some((v) => v.ttlDecrement !== undefined)) ttl = null;
      if (hop.variants.some((v) => v.gatewayMac !== undefined)) gw = null;
    }
    const variant = k !== null ? hop.variants.find((v) => kernelInRange(k, v.range)) : undefined;
    if (variant?.ttlDecrement !== undefined) ttl = variant.ttlDecrement;
    if (variant?.gatewayMac !== undefined) gw = variant.gatewayMac;
    out.path.push({ role: hop.role, ttlDecrement: ttl, gatewayMac: gw, hop });
  }
  for (const skip of leg.skipped) {
    const k = kernelOf(skip.role.endpoint);
    if (skip.kernel === null) out.skipped.push(skip);
    else if (k === null) out.undecided.push(skip);
    else if (kernelInRange(k, skip.kernel)) out.skipped.push(skip);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Did-you-mean

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

export function suggest(value: string, candidates: readonly string[]): string | null {
  let best: string | null = null;
  let bestD = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    const d = c.toLowerCase() === value.toLowerCase() ? 0 : distance(value, c);
    if (d < bestD) {
      best = c;
      bestD = d;
    }
  }
  return best !== null && bestD <= Math.max(2, Math.floor(value.length / 3)) ? best : null;
}

function didYouMean(value: string, candidates: readonly string[]): string {
  const s = suggest(value, candidates);
  return s !== null ? `, did you mean '${s}'?` : '';
}

// ---------------------------------------------------------------------------------------------------
// Positions

type Seg = string | number;

function jsonPath(segs: readonly Seg[]): string {
  let out = '';
  for (const s of segs) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (/^[A-Za-z_][\w-]*$/.test(s)) out += out === '' ? s : `.${s}`;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}

interface Located {
  line: number;
  col: number;
}

class DocLocator {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  private pos(offset: number): Located {
    const { line, col } = this.lines.linePos(offset);
    return { line, col };
  }

  /** The value at `segs` (or the deepest ancestor that exists); `key: true` points at the key instead. */
  at(segs: readonly Seg[], key = false): Located {
    let node: unknown = this.doc.contents;
    let keyNode: YamlNode | null = null;
    for (const seg of segs) {
      if (isMap(node)) {
        const pair = node.items.find(
          (p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg),
        );
        if (!pair) break;
        keyNode = pair.key as YamlNode;
        node = pair.value;
      } else if (isSeq(node) && typeof seg === 'number' && seg < node.items.length) {
        keyNode = null;
        node = node.items[seg];
      } else break;
    }
    const target = key && keyNode !== null ? keyNode : (node as YamlNode | null);
    const range = target && typeof target === 'object' && 'range' in target ? target.range : undefined;
    return this.pos(range ? range[0] : 0);
  }
}

// ---------------------------------------------------------------------------------------------------
// One file

const ajv = new Ajv({ allErrors: true, verbose: true, strict: false });
const validateItem = ajv.compile(schema);

const SCENARIOS: readonly string[] = Object.values(ScenarioKey);
const PLACEHOLDERS = Object.freeze([
  'client',
  'service',
  'backend',
  'server',
  'scenario',
  'rule',
  'request_path',
  'reply_path',
  'skipped',
  'unexpected',
  'not_captured',
]);

type Json = unknown;
type JsonObj = { readonly [k: string]: Json };

function isObj(v: Json): v is JsonObj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function typeName(v: Json): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v === 'number' && Number.isInteger(v) ? 'integer' : typeof v;
}

/** Collects the problems of one document, located inside it. */
class ItemContext {
  readonly problems: Problem[] = [];
  rule: string | null = null;
  constructor(
    readonly file: string,
    readonly loc: DocLocator,
  ) {}
  add(code: RulesErrorCode, segs: readonly Seg[], message: string, onKey = false): void {
    const { line, col } = this.loc.at(segs, onKey);
    this.problems.push({
      code,
      severity: RulesErrors[code].severity,
      file: this.file,
      line,
      col,
      rule: this.rule,
      path: jsonPath(segs),
      message,
    });
  }
  locOf(segs: readonly Seg[]): Loc {
    const { line, col } = this.loc.at(segs);
    return { file: this.file, line, col };
  }
}

function segsOf(instancePath: string, data: Json): Seg[] {
  const segs: Seg[] = [];
  let cur: Json = data;
  for (const raw of instancePath.split('/').slice(1)) {
    const s = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur)) {
      segs.push(Number(s));
      cur = cur[Number(s)];
    } else {
      segs.push(s);
      cur = isObj(cur) ? cur[s] : undefined;
    }
  }
  return segs;
}

function schemaProblem(ctx: ItemContext, e: ErrorObject, data: Json): void {
  const segs = segsOf(e.instancePath, data);
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String((e.params as { additionalProperty: string }).additionalProperty);
      const props =
        isObj(e.parentSchema) && isObj(e.parentSchema['properties']) ? e.parentSchema['properties'] : {};
      ctx.add(
        'rules.unknown-key',
        [...segs, key],
        `unknown key '${key}'${didYouMean(key, Object.keys(props))}`,
        true,
      );
      return;
    }
    case 'required':
      ctx.add(
        'rules.missing-key',
        segs,
        `missing required key '${(e.params as { missingProperty: string }).missingProperty}'`,
      );
      return;
    case 'type': {
      const want = String((e.params as { type: string | string[] }).type)
        .split(',')
        .join(' or ');
      ctx.add('rules.wrong-type', segs, `expected ${want}, got ${typeName(e.data)}`);
      return;
    }
    case 'enum': {
      const allowed = (e.params as { allowedValues: unknown[] }).allowedValues.map(String);
      const got = String(e.data);
      const hint = didYouMean(got, allowed);
      ctx.add(
        'rules.bad-value',
        segs,
        hint !== '' ? `'${got}' is not allowed${hint}` : `'${got}' is not one of ${allowed.join(', ')}`,
      );
      return;
    }
    case 'if':
      return; // the failing branch reports its own errors
    default:
      ctx.add('rules.bad-value', segs, e.message ?? e.keyword);
  }
}

function asList(v: Json): Json[] | null {
  if (Array.isArray(v)) return v;
  return v === undefined ? null : [v];
}

function strList(v: Json): string[] | null {
  const list = asList(v);
  return list?.every((x) => typeof x === 'string') ? (list as string[]) : null;
}

function parseRoleAt(ctx: ItemContext, v: Json, segs: readonly Seg[]): Role | null {
  if (typeof v !== 'string') return null;
  const role = parseRole(v);
  if (!role) ctx.add('rules.unknown-role', segs, `unknown role '${v}'${didYouMean(v, ROLE_SPELLINGS)}`);
  return role;
}

function rangeAt(ctx: ItemContext, v: Json, segs: readonly Seg[], onKey = false): KernelRange | null | 'bad' {
  if (v === undefined) return null;
  if (typeof v !== 'string') return 'bad';
  const r = parseKernelRange(v);
  if (!r) {
    ctx.add(
      'rules.bad-kernel-range',
      segs,
      `kernel range '${v}' does not parse (comparators like '<5.10', '>=4.19 <5.10')`,
      onKey,
    );
    return 'bad';
  }
  return r;
}

/** A leg from whatever is readable; `complete` false when a hop was dropped (then path checks would cascade). */
function readLeg(
  ctx: ItemContext,
  v: Json,
  base: readonly Seg[],
): { leg: RuleLeg; complete: boolean } | null {
  if (!isObj(v) || !Array.isArray(v['path'])) return null;
  let ok = true;
  const path: RuleHop[] = [];
  v['path'].forEach((h: Json, i: number) => {
    const segs = [...base, 'path', i];
    const atSegs = isObj(h) ? [...segs, 'at'] : segs;
    const role = parseRoleAt(ctx, isObj(h) ? h['at'] : h, atSegs);
    if (!role) {
      ok = false;
      return;
    }
    const o: JsonObj = isObj(h) ? h : {};
    const kernel = rangeAt(ctx, o['kernel'], [...segs, 'kernel']);
    const variants: { range: KernelRange; ttlDecrement?: number; gatewayMac?: boolean }[] = [];
    if (isObj(o['variants'])) {
      for (const [key, val] of Object.entries(o['variants'])) {
        const r = rangeAt(ctx, key, [...segs, 'variants', key], true);
        if (r === 'bad' || r === null || !isObj(val)) continue;
        const clash = variants.find((x) =>
          sampleVersions([x.range, r]).some((s) => kernelInRange(s, x.range) && kernelInRange(s, r)),
        );
        if (clash)
          ctx.add(
            'rules.overlapping-kernel-ranges',
            [...segs, 'variants', key],
            `kernel range '${key}' overlaps '${clash.range.text}': a kernel would match both`,
            true,
          );
        variants.push({
          range: r,
          ...(typeof val['ttl_decrement'] === 'number' ? { ttlDecrement: val['ttl_decrement'] } : {}),
          ...(typeof val['gateway_mac'] === 'boolean' ? { gatewayMac: val['gateway_mac'] } : {}),
        });
      }
    }
    if (kernel === 'bad') {
      ok = false;
      return;
    }
    const hop: RuleHop = {
      role,
      ttlDecrement: typeof o['ttl_decrement'] === 'number' ? o['ttl_decrement'] : null,
      gatewayMac: o['gateway_mac'] === true,
      kernel,
      variants,
      loc: ctx.locOf(segs),
    };
    SEGS.set(hop, segs);
    path.push(hop);
  });
  const skipped: RuleSkip[] = [];
  (Array.isArray(v['skipped']) ? v['skipped'] : []).forEach((s: Json, i: number) => {
    const segs = [...base, 'skipped', i];
    const role = parseRoleAt(ctx, isObj(s) ? s['at'] : s, isObj(s) ? [...segs, 'at'] : segs);
    const kernel = rangeAt(ctx, isObj(s) ? s['kernel'] : undefined, [...segs, 'kernel']);
    if (!role || kernel === 'bad') {
      ok = false;
      return;
    }
    const skip: RuleSkip = { role, kernel, loc: ctx.locOf(segs) };
    SEGS.set(skip, segs);
    skipped.push(skip);
  });
  const rewrites: RuleRewrite[] = [];
  const rw = v['rewrite'];
  const rwList = Array.isArray(rw) ? rw : rw === undefined ? [] : [rw];
  rwList.forEach((r: Json, i: number) => {
    const segs = Array.isArray(rw) ? [...base, 'rewrite', i] : [...base, 'rewrite'];
    if (!isObj(r)) return;
    const kind = r['kind'];
    const field = r['field'];
    if (typeof kind === 'string' && typeof field === 'string') {
      const want = kind === 'dnat' || kind === 'reverse-snat' ? 'dst' : 'src';
      if (Object.values(RewriteKind).includes(kind as RewriteKind) && field !== want)
        ctx.add(
          'rules.rewrite-field-mismatch',
          [...segs, 'field'],
          `a ${kind} rewrites '${want}', not '${field}'`,
        );
    }
    const hasBetween = r['between'] !== undefined;
    const hasOutside = r['outside'] !== undefined;
    if (hasBetween === hasOutside)
      ctx.add(
        'rules.rewrite-location',
        segs,
        hasBetween
          ? "give either 'between' (where the change shows) or 'outside' (not observable), not both"
          : "missing 'between' (where the change shows) or 'outside' (where it happens, not observable)",
      );
    let between: [Role, Role] | null = null;
    if (Array.isArray(r['between']) && r['between'].length === 2) {
      const a = parseRoleAt(ctx, r['between'][0], [...segs, 'between', 0]);
      const b = parseRoleAt(ctx, r['between'][1], [...segs, 'between', 1]);
      if (a && b) between = [a, b];
      else ok = false;
    }
    const rewrite: RuleRewrite = {
      kind: kind as RewriteKind,
      field: field as 'src' | 'dst',
      from: r['from'] as RewriteAddress,
      to: r['to'] as RewriteAddress,
      between,
      outside: typeof r['outside'] === 'string' ? r['outside'] : null,
      loc: ctx.locOf(segs),
    };
    SEGS.set(rewrite, segs);
    rewrites.push(rewrite);
  });
  return { leg: { path, skipped, rewrites }, complete: ok };
}

function versionAtLeast(have: string, range: string): boolean | null {
  const m = /^>=\s*(\d+)\.(\d+)(?:\.(\d+))?$/.exec(range.trim());
  const h = parseKernelVersion(have);
  if (!m || !h) return null;
  return cmp(h, [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)]) >= 0;
}

/** Facts of every flow the classifier can produce that this rule matches. */
function matchedFacts(rule: Rule): { key: ScenarioKey; facts: ClassifyFacts }[] {
  const out: { key: ScenarioKey; facts: ClassifyFacts }[] = [];
  for (const f of ALL_FACTS) {
    const c = CLASSIFIED.get(f);
    if (c && ruleMatches(rule, c, f)) out.push({ key: c, facts: f });
  }
  return out;
}

const ALL_FACTS = allFacts();
const CLASSIFIED = new Map<ClassifyFacts, ScenarioKey>();
for (const f of ALL_FACTS) {
  const c = classifyFacts(f);
  if (c.status === 'classified') CLASSIFIED.set(f, c.key);
}

function checkApplicable(ctx: ItemContext, rule: Rule, roles: { role: Role; segs: Seg[] }[]): void {
  const matched = matchedFacts(rule);
  if (matched.length === 0) {
    const where = Object.values(rule.when).some((w) => w !== null) ? ['when'] : ['scenario'];
    ctx.add(
      'rules.never-matches',
      where,
      `no flow classified ${rule.scenarios.join(' or ')} has these facts, so the rule never applies`,
    );
    return;
  }
  const clients = new Set(matched.map((m) => m.facts.client));
  const vias = new Set(matched.map((m) => m.facts.via));
  for (const { role, segs } of roles) {
    let why: string | null = null;
    if (role.endpoint === Endpoint.client) {
      const podOnly =
        role.kind === RoleKind.podEth0 || role.kind === RoleKind.veth || role.kind === RoleKind.eni;
      if (podOnly && !clients.has(ClientKind.pod))
        why = `the rule's clients are ${[...clients].join(', ')}, which have no ${role.kind}`;
      else if (!podOnly && !clients.has(ClientKind.pod) && !clients.has(ClientKind.host))
        why = `the rule's clients are ${[...clients].join(', ')}, which have no node`;
    } else if (role.endpoint === Endpoint.service && !vias.has(Via.nodePort))
      why = "service.* names the node that took nodeIP:NodePort, and the rule's flows do not use a NodePort";
    if (why !== null)
      ctx.add('rules.role-not-applicable', segs, `role '${role.text}' never resolves: ${why}`);
  }
}

/** Path, skipped and between, checked for every combination of kernel regions the rule distinguishes. */
function checkKernelCombinations(
  ctx: ItemContext,
  rule: Rule,
  legSegs: Record<'request' | 'reply', Seg[]>,
): void {
  const ranges: Record<Endpoint, KernelRange[]> = { client: [], backend: [], service: [] };
  for (const leg of [rule.request, rule.reply]) {
    for (const h of leg.path) {
      if (h.kernel) ranges[h.role.endpoint].push(h.kernel);
      for (const v of h.variants) ranges[h.role.endpoint].push(v.range);
    }
    for (const s of leg.skipped) if (s.kernel) ranges[s.role.endpoint].push(s.kernel);
  }
  const samples = (e: Endpoint) =>
    ranges[e].length > 0 ? sampleVersions(ranges[e]) : [[0, 0, 0] as KernelVersion];
  const seen = new Set<string>();
  const once = (code: RulesErrorCode, segs: Seg[], message: string) => {
    const k = `${code}|${jsonPath(segs)}`;
    if (seen.has(k)) return;
    seen.add(k);
    ctx.add(code, segs, message);
  };
  for (const kc of samples('client'))
    for (const kb of samples('backend'))
      for (const ks of samples('service')) {
        const kernels: Record<Endpoint, KernelVersion> = { client: kc, backend: kb, service: ks };
        for (const name of ['request', 'reply'] as const) {
          const leg = rule[name];
          const eff = effectiveLeg(leg, (e) => kernels[e]);
          const order = eff.path.map((h) => h.role.text);
          const base = legSegs[name];
          eff.path.forEach((h, i) => {
            if (order.indexOf(h.role.text) !== i)
              once(
                'rules.duplicate-hop',
                [...(SEGS.get(h.hop) ?? base)],
                `role '${h.role.text}' is already on this leg's path for the same kernels`,
              );
          });
          for (const s of eff.skipped)
            if (order.includes(s.role.text))
              once(
                'rules.skipped-on-path',
                [...(SEGS.get(s) ?? base)],
                `'${s.role.text}' is skipped but also on the path${s.kernel ? ` (kernel ${s.kernel.text})` : ''}`,
              );
          leg.rewrites.forEach((rw, ri) => {
            if (!rw.between) return;
            const rwSegs = [...(SEGS.get(rw) ?? [...base, 'rewrite', ri])];
            const idx = rw.between.map((r) => order.indexOf(r.text));
            rw.between.forEach((r, bi) => {
              if (idx[bi] === -1)
                once(
                  'rules.between-off-path',
                  [...rwSegs, 'between', bi],
                  `'${r.text}' is not on the ${name} path${ranges[r.endpoint].length > 0 ? ' for every kernel' : ''}`,
                );
            });
            if (idx[0]! >= 0 && idx[1]! >= 0 && idx[0]! >= idx[1]!)
              once(
                'rules.between-order',
                [...rwSegs, 'between', 1],
                `'${rw.between[1].text}' must come after '${rw.between[0].text}' on the path`,
              );
          });
        }
      }
}

/** Where each loaded hop, skip and rewrite sits in its item, for the semantic checks' locations. */
const SEGS = new WeakMap<object, readonly Seg[]>();

function readItem(ctx: ItemContext, data: Json, set: string): Rule | null {
  if (!isObj(data)) return null;
  if (typeof data['rule'] === 'string') ctx.rule = data['rule'];
  const ok = validateItem(data);
  const errors = ok ? [] : (validateItem.errors ?? []);
  // A value of the wrong type also fails the branches picked by `if`; its type error says it all.
  const mistyped = new Set(errors.filter((e) => e.keyword === 'type').map((e) => e.instancePath));
  for (const e of errors)
    if (e.keyword === 'type' || !mistyped.has(e.instancePath)) schemaProblem(ctx, e, data);

  const requires = data['requires'];
  if (isObj(requires)) {
    if (typeof requires['schema'] === 'number' && requires['schema'] !== RULE_SCHEMA_VERSION)
      ctx.add(
        'rules.unsupported-version',
        ['requires', 'schema'],
        `rule schema ${requires['schema']} is not supported (this hoptrace reads schema ${RULE_SCHEMA_VERSION})`,
      );
    if (typeof requires['hoptrace'] === 'string') {
      const at = versionAtLeast(ENGINE_VERSION, requires['hoptrace']);
      if (at === null)
        ctx.add(
          'rules.bad-value',
          ['requires', 'hoptrace'],
          `'${requires['hoptrace']}' is not a version range like '>=0.1'`,
        );
      else if (!at)
        ctx.add(
          'rules.unsupported-version',
          ['requires', 'hoptrace'],
          `needs hoptrace ${requires['hoptrace']}, this is ${ENGINE_VERSION}`,
        );
    }
  }

  const scenarios: ScenarioKey[] = [];
  (Array.isArray(data['scenario']) ? data['scenario'] : []).forEach((s: Json, i: number) => {
    if (typeof s !== 'string') return;
    if (SCENARIOS.includes(s)) scenarios.push(s as ScenarioKey);
    else
      ctx.add(
        'rules.unknown-scenario',
        ['scenario', i],
        `unknown scenario '${s}'${didYouMean(s, SCENARIOS)}`,
      );
  });

  if (typeof data['output'] === 'string')
    for (const m of data['output'].matchAll(/\{([^}]*)\}/g))
      if (!PLACEHOLDERS.includes(m[1]!))
        ctx.add(
          'rules.unknown-placeholder',
          ['output'],
          `unknown placeholder '{${m[1]}}'${didYouMean(m[1]!, PLACEHOLDERS)}`,
        );

  const expect = isObj(data['expect']) ? data['expect'] : {};
  const req = readLeg(ctx, expect['request'], ['expect', 'request']);
  const rep = readLeg(ctx, expect['reply'], ['expect', 'reply']);

  const w = isObj(data['when']) ? data['when'] : {};
  const when: RuleWhen = {
    client: strList(w['client']),
    via: strList(w['via']),
    node: strList(w['node']),
    eni: strList(w['eni']),
  };
  // Meaning is checked on whatever parts are readable, so one bad key does not hide the other problems.
  if (!req || !rep) return null;
  const request = req.leg;
  const reply = rep.leg;
  const rule: Rule = {
    id: typeof data['rule'] === 'string' ? data['rule'] : '',
    set,
    file: ctx.file,
    loc: ctx.locOf(['rule']),
    scenarios,
    desc: typeof data['desc'] === 'string' ? data['desc'] : '',
    when,
    request,
    reply,
    output: typeof data['output'] === 'string' ? data['output'] : '',
    tags: strList(data['tags']) ?? [],
  };
  const roles: { role: Role; segs: Seg[] }[] = [];
  for (const name of ['request', 'reply'] as const) {
    const leg = rule[name];
    leg.path.forEach((h, i) => {
      roles.push({ role: h.role, segs: ['expect', name, 'path', i] });
    });
    leg.skipped.forEach((s, i) => {
      roles.push({ role: s.role, segs: ['expect', name, 'skipped', i] });
    });
  }
  if (scenarios.length > 0) checkApplicable(ctx, rule, roles);
  if (req.complete && rep.complete)
    checkKernelCombinations(ctx, rule, { request: ['expect', 'request'], reply: ['expect', 'reply'] });
  return rule;
}

/** Load the rule items of one file's text. `set` is the rule set the file belongs to. */
export function loadRuleText(
  text: string,
  file: string,
  set: string,
): { rules: Rule[]; problems: Problem[]; broken: Rule[] } {
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const rules: Rule[] = [];
  const broken: Rule[] = [];
  const problems: Problem[] = [];
  const list = Array.isArray(docs) ? docs : [];
  for (const doc of list) {
    if (doc.errors.length > 0) {
      // the first error only: later ones are usually the parser losing its way after it
      for (const e of doc.errors.slice(0, 1)) {
        const { line, col } = lines.linePos(e.pos[0]);
        problems.push({
          code: 'rules.yaml-parse',
          severity: 'error',
          file,
          line,
          col,
          rule: null,
          path: '',
          message: e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, ''),
        });
      }
      continue;
    }
    if (doc.contents === null) continue; // an empty document (trailing `---`)
    const ctx = new ItemContext(file, new DocLocator(doc, lines));
    const data: Json = doc.toJS();
    if (!isObj(data)) {
      ctx.add('rules.wrong-type', [], `a rule item must be a mapping, got ${typeName(data)}`);
      problems.push(...ctx.problems);
      continue;
    }
    const rule = readItem(ctx, data, set);
    problems.push(...ctx.problems);
    if (rule && rule.id !== '')
      (ctx.problems.some((p) => p.severity === 'error') ? broken : rules).push(rule);
  }
  return { rules, problems, broken };
}

// ---------------------------------------------------------------------------------------------------
// Files, folders, rule sets

function describeFacts(f: ClassifyFacts): string {
  return `{client: ${f.client}, via: ${f.via}, node: ${f.node}, eni: ${f.eni}}`;
}

function problemAt(code: RulesErrorCode, loc: Loc, rule: string | null, p: string, message: string): Problem {
  return {
    code,
    severity: RulesErrors[code].severity,
    file: loc.file,
    line: loc.line,
    col: loc.col,
    rule,
    path: p,
    message,
  };
}

/** Duplicate ids and overlapping rules inside each set; coverage only for sets given as whole folders. */
function checkSets(rules: readonly Rule[], completeSets: ReadonlyMap<string, string>): Problem[] {
  const out: Problem[] = [];
  const bySet = new Map<string, Rule[]>();
  for (const r of rules) bySet.set(r.set, [...(bySet.get(r.set) ?? []), r]);
  for (const [set, list] of bySet) {
    const first = new Map<string, Rule>();
    const kept: Rule[] = [];
    for (const r of list) {
      const prev = first.get(r.id);
      if (prev) {
        out.push(
          problemAt(
            'rules.duplicate-id',
            r.loc,
            r.id,
            'rule',
            `duplicate rule id '${r.id}' in rule set '${set}', first defined at ${prev.loc.file}:${prev.loc.line}:${prev.loc.col}`,
          ),
        );
        continue;
      }
      first.set(r.id, r);
      kept.push(r);
    }
    const reported = new Set<string>();
    const uncovered = new Map<ScenarioKey, ClassifyFacts>();
    for (const f of ALL_FACTS) {
      const key = CLASSIFIED.get(f);
      if (!key) continue;
      const hits = kept.filter((r) => ruleMatches(r, key, f));
      if (hits.length === 0 && !uncovered.has(key)) uncovered.set(key, f);
      for (let i = 1; i < hits.length; i++) {
        const a = hits[0]!;
        const b = hits[i]!;
        if (reported.has(`${a.id}|${b.id}`)) continue;
        reported.add(`${a.id}|${b.id}`);
        out.push(
          problemAt(
            'rules.ambiguous-match',
            b.loc,
            b.id,
            'rule',
            `matches the same ${key} flows as rule '${a.id}' (${a.loc.file}:${a.loc.line}:${a.loc.col}), e.g. ${describeFacts(f)}; narrow 'when'`,
          ),
        );
      }
    }
    const folder = completeSets.get(set);
    if (folder !== undefined)
      for (const [key, f] of uncovered)
        out.push(
          problemAt(
            'rules.uncovered-scenario',
            { file: folder, line: 0, col: 0 },
            null,
            '',
            `rule set '${set}' has no rule for ${key} flows with ${describeFacts(f)}`,
          ),
        );
  }
  return out;
}

function yamlFilesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs
    .readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...yamlFilesUnder(p));
    else if (/\.ya?ml$/.test(entry.name)) out.push(p);
  }
  return out;
}

/**
 * Load rule files and folders (folders recursively). A file's rule set is the name of the folder it is in;
 * a folder given whole is a complete set, so it is also checked for coverage (warnings).
 */
export function loadRulePaths(paths: readonly string[]): LoadResult {
  const problems: Problem[] = [];
  const rules: Rule[] = [];
  const all: Rule[] = [];
  const files: string[] = [];
  const completeSets = new Map<string, string>();
  for (const p of paths) {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(p);
    } catch {
      problems.push(problemAt('rules.io', { file: p, line: 0, col: 0 }, null, '', 'no such file or folder'));
      continue;
    }
    if (!stat.isDirectory()) {
      files.push(p);
      continue;
    }
    const found = yamlFilesUnder(p);
    if (found.length === 0)
      problems.push(
        problemAt('rules.no-files', { file: p, line: 0, col: 0 }, null, '', 'no .yaml rule files here'),
      );
    files.push(...found);
    const dirs = new Set(found.map((f) => path.dirname(f)));
    for (const d of dirs) completeSets.set(path.basename(path.resolve(d)), d);
  }
  for (const file of [...new Set(files)]) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      problems.push(problemAt('rules.io', { file, line: 0, col: 0 }, null, '', `cannot read: ${why}`));
      continue;
    }
    const r = loadRuleText(text, file, path.basename(path.dirname(path.resolve(file))));
    rules.push(...r.rules);
    all.push(...r.rules, ...r.broken);
    problems.push(...r.problems);
  }
  // in file order, so "first defined at" names the earlier file
  all.sort((a, b) => a.file.localeCompare(b.file) || a.loc.line - b.loc.line);
  problems.push(...checkSets(all, completeSets));
  const sorted = problems.sort(
    (a, b) =>
      a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col || a.code.localeCompare(b.code),
  );
  const lines = new Set<string>();
  const unique = sorted.filter((p) => {
    const l = formatProblem(p);
    if (lines.has(l)) return false;
    lines.add(l);
    return true;
  });
  const dupIds = new Set(
    unique.filter((p) => p.code === 'rules.duplicate-id').map((p) => `${p.file}:${p.line}:${p.col}`),
  );
  return {
    rules: rules.filter((r) => !dupIds.has(`${r.loc.file}:${r.loc.line}:${r.loc.col}`)),
    errors: unique.filter((p) => p.severity === 'error'),
    warnings: unique.filter((p) => p.severity === 'warning'),
  };
}

// Values the classifier can give for `when` (kept here so tests can check the schema enums against them).
export const WHEN_VALUES = Object.freeze({
  client: Object.values(ClientKind).filter((v) => v !== ClientKind.unknown),
  via: Object.values(Via).filter((v) => v !== Via.unknown),
  node: Object.values(NodeRelation).filter((v) => v !== NodeRelation.unknown),
  eni: Object.values(EniRelation),
});
