/**
 * `verdicts.json` (DESIGN §8): the verdicts document as JSON, and its JSON Schema
 * (reports/verdicts.schema.json, `schema_version` 1) as a validator the tests and `hoptrace analyze`
 * share. `VerdictsJsonWriter` writes the document flow by flow as the rules judge them (a flow is
 * dropped once written), then the fields after `flows`, to a temporary file that is renamed when
 * complete; the bytes are `JSON.stringify(doc)` and a line break (compact: at 20 M frames the indented
 * document was 3.96 GB, a third of it indentation).
 */
import { Ajv } from 'ajv';
import { ByCheckFields } from '../analyzers/rules/shared-checks.ts';
import type {
  CheckResult,
  Evidence,
  FlowVerdict,
  NodeHandling,
  PointRef,
  RewriteLeg,
  ServiceRewrite,
  VerdictEndpoint,
} from '../analyzers/rules/verdict-types.ts';
import { VERDICTS_SCHEMA_VERSION, type VerdictsDocument, type VerdictsTail } from '../analyzers/verdicts.ts';
import { ByteFile, utf8 } from './byte-file.ts';
import {
  EndpointBytes,
  type EndpointFields,
  Field,
  keyAt,
  MAX_KEPT,
  ServiceBytes,
  type ServiceFields,
} from './json-fragments.ts';
import schema from './verdicts.schema.json' with { type: 'json' };

const ajv = new Ajv({ allErrors: true, strict: false });
const validate = ajv.compile(schema);

/** Problems of a verdicts document against the schema, one line each (empty: valid). */
export function verdictsSchemaErrors(doc: unknown): string[] {
  if (validate(doc)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'}: ${e.message ?? 'invalid'}`);
}

/**
 * `keys`, when they name every key of `T` (else the call does not compile: a field added to `T` must be
 * written here too).
 */
const everyKey =
  <T>() =>
  <const K extends readonly (keyof T)[]>(
    keys: K & ([Exclude<keyof T, K[number]>] extends [never] ? unknown : never),
  ): K =>
    keys;
// The keys in the order the evaluator makes them (analyzers/rules/evaluate-rules.ts), which is the order
// JSON.stringify writes them in and the order the writer below writes them in
const FLOW_KEYS = everyKey<FlowVerdict>()([
  'flow_id',
  'proto',
  'client',
  'service',
  'server',
  'scenario',
  'rule_id',
  'datapath',
  'request_path',
  'reply_path',
  'skipped',
  'unexpected',
  'not_captured',
  'service_rewrite',
  'status',
  'reason',
  'checks',
  'handled_by',
]);
// the endpoint writer (json-fragments.ts EndpointBytes) writes these: VerdictEndpoint must have them all
everyKey<VerdictEndpoint>()([
  'ip',
  'port',
  'pod',
  'node',
] as const satisfies readonly (keyof EndpointFields)[]);
// the Service writer (json-fragments.ts ServiceBytes) writes these: a verdict's Service has them all
everyKey<NonNullable<FlowVerdict['service']>>()([
  'ip',
  'port',
  'name',
] as const satisfies readonly (keyof ServiceFields)[]);
const SCENARIO_KEYS = everyKey<NonNullable<FlowVerdict['scenario']>>()(['id', 'rule']);
const REF_KEYS = everyKey<PointRef>()(['point', 'dir', 'leg']);
const REWRITE_KEYS = everyKey<ServiceRewrite>()(['status', 'before', 'after', 'between', 'reverse']);
const HANDLING_KEYS = everyKey<NodeHandling>()(['node', 'leg', 'by', 'why']);
const EVIDENCE_KEYS = everyKey<Evidence>()(['point', 'file', 'frame']);

/** A list of strings (a path, a rewrite's `between`). */
class StringList {
  private readonly first: Field;
  private readonly next: Field;
  private readonly end: Uint8Array;
  private readonly empty = utf8('[]');

  constructor() {
    this.first = new Field(`[`);
    this.next = new Field(`,`);
    this.end = utf8(']');
  }

  write(out: ByteFile, items: readonly string[] | null): void {
    if (items === null) {
      out.bytes(NULL);
      return;
    }
    if (items.length === 0) {
      out.bytes(this.empty);
      return;
    }
    for (let i = 0; i < items.length; i++) (i === 0 ? this.first : this.next).write(out, items[i]!);
    out.bytes(this.end);
  }
}

const NULL = utf8('null');
const EMPTY_LIST = utf8('[]');

/** A list of objects whose fields are all strings (or null), in the order of `keys`. */
class TextObjectList<K extends string> {
  /** the first field, opening the first item (`[{`) or a later one (`,{`) */
  private readonly first: readonly [Field, Field];
  private readonly rest: readonly Field[];
  private readonly close: Uint8Array;
  private readonly end: Uint8Array;

  constructor(private readonly keys: readonly K[]) {
    const [key, ...more] = keys;
    const open = (first: boolean) => new Field(`${itemOpen(first)}${keyAt('{', key!)}`);
    this.first = [open(true), open(false)];
    this.rest = more.map((k) => new Field(keyAt(',', k)));
    this.close = utf8('}');
    this.end = utf8(']');
  }

  write(out: ByteFile, items: readonly Readonly<Record<K, string | null>>[]): void {
    if (items.length === 0) {
      out.bytes(EMPTY_LIST);
      return;
    }
    const keys = this.keys;
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      this.first[i === 0 ? 0 : 1].write(out, item[keys[0]!]);
      for (let k = 1; k < keys.length; k++) this.rest[k - 1]!.write(out, item[keys[k]!]);
      out.bytes(this.close);
    }
    out.bytes(this.end);
  }
}

/** `[` before the first item, `,` before a later one. */
const itemOpen = (first: boolean): string => (first ? '[' : ',');

/** A rewrite leg (without `reverse`): its fields, from `{`. */
class RewriteFields {
  private readonly status: Field;
  private readonly before: Uint8Array;
  private readonly after: Uint8Array;
  private readonly between: Uint8Array;
  private readonly list: StringList;

  constructor() {
    const [status, before, after, between] = REWRITE_KEYS;
    this.status = new Field(keyAt('{', status));
    this.before = utf8(keyAt(',', before));
    this.after = utf8(keyAt(',', after));
    this.between = utf8(keyAt(',', between));
    this.list = new StringList();
  }

  write(out: ByteFile, r: RewriteLeg): void {
    this.status.write(out, r.status);
    // `ip:port` texts with a client's port: rarely the same twice, so written as they come
    out.bytes(this.before);
    out.text(JSON.stringify(r.before));
    out.bytes(this.after);
    out.text(JSON.stringify(r.after));
    out.bytes(this.between);
    this.list.write(out, r.between);
  }
}

/** The bytes of a flow (`flows[i]`), written field by field from fragments made once. */
class FlowBytes {
  private readonly k = FLOW_KEYS;
  private readonly flowId = utf8(keyAt('{', this.k[0]));
  private readonly proto = new Field(keyAt(',', this.k[1]));
  private readonly clientKey = utf8(keyAt(',', this.k[2]));
  private readonly serverKey = utf8(keyAt(',', this.k[4]));
  private readonly endpoint = new EndpointBytes();
  private readonly noService = utf8(`${keyAt(',', this.k[3])}null`);
  private readonly serviceKey = utf8(keyAt(',', this.k[3]));
  private readonly service = new ServiceBytes();
  private readonly noScenario = utf8(`${keyAt(',', this.k[5])}null`);
  private readonly scenarioId = utf8(`${keyAt(',', this.k[5])}{${JSON.stringify(SCENARIO_KEYS[0])}:`);
  private readonly scenarioRule = new Field(keyAt(',', SCENARIO_KEYS[1]), `}`);
  private readonly ruleId = new Field(keyAt(',', this.k[6]));
  private readonly datapath = new Field(keyAt(',', this.k[7]));
  private readonly requestPath = utf8(keyAt(',', this.k[8]));
  private readonly replyPath = utf8(keyAt(',', this.k[9]));
  private readonly path = new StringList();
  private readonly skipped = utf8(keyAt(',', this.k[10]));
  private readonly unexpected = utf8(keyAt(',', this.k[11]));
  private readonly notCaptured = utf8(keyAt(',', this.k[12]));
  private readonly refs = new TextObjectList(REF_KEYS);
  private readonly noRewrite = utf8(`${keyAt(',', this.k[13])}null`);
  private readonly rewriteKey = utf8(keyAt(',', this.k[13]));
  private readonly rewrite = new RewriteFields();
  private readonly reverseKey = utf8(keyAt(',', REWRITE_KEYS[4]));
  private readonly reverse = new RewriteFields();
  private readonly rewriteEnd = utf8('}}');
  private readonly status = new Field(keyAt(',', this.k[14]));
  private readonly reason = new Field(keyAt(',', this.k[15]));
  private readonly checksKey = utf8(keyAt(',', this.k[16]));
  private readonly checkOpen = [utf8(itemOpen(true)), utf8(itemOpen(false))] as const;
  private readonly checksEnd = utf8(']');
  private readonly handledKey = utf8(keyAt(',', this.k[17]));
  private readonly handled = new TextObjectList(HANDLING_KEYS);
  private readonly end = utf8('}');

  constructor(private readonly checks: CheckBytes) {}

  write(out: ByteFile, f: FlowVerdict): void {
    out.bytes(this.flowId);
    out.number(f.flow_id);
    this.proto.write(out, f.proto);
    out.bytes(this.clientKey);
    this.endpoint.write(out, f.client);
    const service = f.service;
    if (service === null) out.bytes(this.noService);
    else {
      out.bytes(this.serviceKey);
      this.service.write(out, service);
    }
    out.bytes(this.serverKey);
    this.endpoint.write(out, f.server);
    const scenario = f.scenario;
    if (scenario === null) out.bytes(this.noScenario);
    else {
      out.bytes(this.scenarioId);
      out.number(scenario.id);
      this.scenarioRule.write(out, scenario.rule);
    }
    this.ruleId.write(out, f.rule_id);
    this.datapath.write(out, f.datapath);
    out.bytes(this.requestPath);
    this.path.write(out, f.request_path);
    out.bytes(this.replyPath);
    this.path.write(out, f.reply_path);
    out.bytes(this.skipped);
    this.refs.write(out, f.skipped);
    out.bytes(this.unexpected);
    this.refs.write(out, f.unexpected);
    out.bytes(this.notCaptured);
    this.refs.write(out, f.not_captured);
    const rw = f.service_rewrite;
    if (rw === null) out.bytes(this.noRewrite);
    else {
      out.bytes(this.rewriteKey);
      this.rewrite.write(out, rw);
      out.bytes(this.reverseKey);
      this.reverse.write(out, rw.reverse);
      out.bytes(this.rewriteEnd);
    }
    this.status.write(out, f.status);
    this.reason.write(out, f.reason);
    out.bytes(this.checksKey);
    const checks = f.checks;
    if (checks.length === 0) out.bytes(EMPTY_LIST);
    else {
      for (let i = 0; i < checks.length; i++) {
        out.bytes(this.checkOpen[i === 0 ? 0 : 1]);
        this.checks.write(out, checks[i]!);
      }
      out.bytes(this.checksEnd);
    }
    out.bytes(this.handledKey);
    this.handled.write(out, f.handled_by);
    out.bytes(this.end);
  }
}

/** What closes a check without evidence. */
const EMPTY_EVIDENCE_END = '[]}';

/**
 * A check: a frozen check (one object many flows share, analyzers/rules/shared-checks.ts)
 * from its bytes made once, another from the bytes of its fields but evidence (made once per distinct
 * name, status, reason and message) and its evidence entries (the bytes before the frame made once
 * per point and file).
 */
class CheckBytes {
  private readonly shared = new WeakMap<CheckResult, Uint8Array>();
  /** a check's text up to its evidence */
  private readonly heads = new ByCheckFields<Uint8Array>(MAX_KEPT);
  /**
   * by point, then file: an evidence entry's bytes up to its frame, as the first entry and as a later
   * one (which closes the entry before it)
   */
  private readonly evidenceHeads = new Map<string, Map<string, readonly [Uint8Array, Uint8Array]>>();
  /** what closes the last entry, the list and the check */
  private readonly evidenceListEnd = utf8('}]}');
  private readonly noEvidenceEnd = utf8(EMPTY_EVIDENCE_END);

  write(out: ByteFile, c: CheckResult): void {
    let bytes = this.shared.get(c);
    if (bytes !== undefined) {
      out.bytes(bytes);
      return;
    }
    if (Object.isFrozen(c)) {
      bytes = utf8(JSON.stringify(c));
      this.shared.set(c, bytes);
      out.bytes(bytes);
      return;
    }
    out.bytes(this.head(c));
    const evidence = c.evidence;
    if (evidence.length === 0) {
      out.bytes(this.noEvidenceEnd);
      return;
    }
    for (let i = 0; i < evidence.length; i++) {
      const e = evidence[i]!;
      out.bytes(this.evidenceHead(e.point, e.file)[i === 0 ? 0 : 1]);
      out.number(e.frame);
    }
    out.bytes(this.evidenceListEnd);
  }

  /** A check's bytes up to its evidence (`... "evidence": `). */
  private head(c: CheckResult): Uint8Array {
    let bytes = this.heads.find(c.name, c.status, c.reason, c.message);
    if (bytes === undefined) {
      bytes = utf8(JSON.stringify({ ...c, evidence: NO_EVIDENCE }).slice(0, -EMPTY_EVIDENCE_END.length));
      this.heads.add(c.name, c.status, c.reason, c.message, bytes);
    }
    return bytes;
  }

  /** An evidence entry's bytes up to its frame (`[{ "point": ..., "file": ..., "frame": `). */
  private evidenceHead(point: string, file: string): readonly [Uint8Array, Uint8Array] {
    let byFile = this.evidenceHeads.get(point);
    if (byFile === undefined) {
      byFile = new Map();
      this.evidenceHeads.set(point, byFile);
    }
    let bytes = byFile.get(file);
    if (bytes === undefined) {
      const [p, f, n] = EVIDENCE_KEYS;
      const rest = `${keyAt('{', p)}${JSON.stringify(point)}${keyAt(',', f)}${JSON.stringify(file)}${keyAt(',', n)}`;
      // a later entry's bytes close the entry before it
      bytes = [utf8(`${itemOpen(true)}${rest}`), utf8(`}${itemOpen(false)}${rest}`)];
      byFile.set(file, bytes);
    }
    return bytes;
  }
}

const NO_EVIDENCE: CheckResult['evidence'] = [];

/**
 * verdicts.json written as the flows come: `flow` for each in order, then `finish` with the tail. The
 * bytes are JSON.stringify's for verdicts made as the evaluator makes them (keys in FlowVerdict's
 * order), but a flow is not stringified: it is written field by field from fragments encoded once
 * (keys, and each value that repeats from flow to flow), into one buffer (byte-file.ts).
 */
export class VerdictsJsonWriter {
  private readonly out: ByteFile;
  private flows = 0;
  private readonly flowBytes = new FlowBytes(new CheckBytes());
  private readonly nextSep = utf8(',');

  constructor(file: string, schemaVersion = VERDICTS_SCHEMA_VERSION) {
    this.out = new ByteFile(file);
    this.out.text(`{"schema_version":${JSON.stringify(schemaVersion)},"flows":[`);
  }

  flow(f: FlowVerdict): void {
    if (this.flows > 0) this.out.bytes(this.nextSep);
    this.flows++;
    this.flowBytes.write(this.out, f);
  }

  finish(tail: VerdictsTail): void {
    this.out.text(']');
    // the keys in the document's order (DESIGN §8)
    const rest: VerdictsTail = {
      nodes: tail.nodes,
      clock_offsets: tail.clock_offsets,
      captures: tail.captures,
      warnings: tail.warnings,
    };
    for (const [key, value] of Object.entries(rest))
      this.out.text(`,${JSON.stringify(key)}:${JSON.stringify(value)}`);
    this.out.text('}\n');
    this.out.commit();
  }

  discard(): void {
    this.out.discard();
  }
}

/** A document already in memory, as the streamed writer writes it. */
export function writeVerdictsJson(file: string, doc: VerdictsDocument): void {
  const w = new VerdictsJsonWriter(file, doc.schema_version);
  try {
    for (const f of doc.flows) w.flow(f);
    w.finish(doc);
  } catch (e) {
    w.discard();
    throw e;
  }
}
