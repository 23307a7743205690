/**
 * `verdicts.json` (DESIGN §8): the verdicts document as JSON, and its JSON Schema
 * (reports/verdicts.schema.json, `schema_version` 1) as a validator the tests and `hoptrace analyze`
 * share. `VerdictsJsonWriter` writes the document flow by flow as the rules judge them (a flow is
 * dropped once written), then the fields after `flows`, to a temporary file that is renamed when
 * complete; the bytes are `JSON.stringify(doc, null, 2)`.
 */
import { Ajv } from 'ajv';
import { ByCheckFields } from '../analyzers/rules/shared-checks.ts';
import type { CheckResult, Evidence, FlowVerdict } from '../analyzers/rules/verdict-types.ts';
import { VERDICTS_SCHEMA_VERSION, type VerdictsDocument, type VerdictsTail } from '../analyzers/verdicts.ts';
import { atDepth1, atDepth2, atDepth4, TextFile } from './text-file.ts';
import schema from './verdicts.schema.json' with { type: 'json' };

const ajv = new Ajv({ allErrors: true, strict: false });
const validate = ajv.compile(schema);

/** Problems of a verdicts document against the schema, one line each (empty: valid). */
export function verdictsSchemaErrors(doc: unknown): string[] {
  if (validate(doc)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'}: ${e.message ?? 'invalid'}`);
}

const NO_CHECKS: CheckResult[] = [];
const NO_EVIDENCE: CheckResult['evidence'] = [];
/** A flow's checks when it has none, as the flow stringified at depth 2 (flows[i]) shows them. */
const EMPTY_CHECKS = '\n      "checks": []';
/** Evidence when there is none, and what closes a check, at the check's depth (flows[i].checks[j]). */
const EMPTY_EVIDENCE_END = '[]\n        }';

/** `K` when it names every key of `T` (else `never`: a field added to `T` must be written here too). */
type EveryKey<T, K extends readonly (keyof T)[]> = [Exclude<keyof T, K[number]>] extends [never] ? K : never;
/** An evidence object's keys in the order the evaluator makes them, which JSON.stringify keeps. */
const EVIDENCE_KEYS: EveryKey<Evidence, readonly ['point', 'file', 'frame']> = ['point', 'file', 'frame'];
// an evidence object at depth 6 (flows[i].checks[j].evidence[k]): its keys at depth 7
const [POINT_KEY, FILE_KEY, FRAME_KEY] = EVIDENCE_KEYS.map((k) => `\n              "${k}": `);
const EVIDENCE_SEP = '\n            ';
const EVIDENCE_END = '\n            }';
const EVIDENCE_LIST_END = '\n          ]\n        }';

/** Check texts made once and kept up to a bound (past it they start over: some never repeat). */
const MAX_KEPT = 1 << 14;

/**
 * verdicts.json written as the flows come: `flow` for each in order, then `finish` with the tail. The
 * bytes are JSON.stringify's, but not all made by it: a flow is stringified without its checks, which
 * are written in their place, a frozen check (one object many flows share,
 * analyzers/rules/shared-checks.ts) from its text made once, another from the text of its fields but
 * evidence (made once per distinct name, status, reason and message) and its evidence entries (the
 * text before the frame made once per point and file).
 */
export class VerdictsJsonWriter {
  private readonly out: TextFile;
  private flows = 0;
  private readonly sharedTexts = new WeakMap<CheckResult, string>();
  /** a check's text up to its evidence */
  private readonly heads = new ByCheckFields<string>(MAX_KEPT);
  /** by point, then file: an evidence entry's text up to its frame */
  private readonly evidenceHeads = new Map<string, Map<string, string>>();

  constructor(file: string, schemaVersion = VERDICTS_SCHEMA_VERSION) {
    this.out = new TextFile(file);
    this.out.write(`{\n  "schema_version": ${JSON.stringify(schemaVersion)},\n  "flows": [`);
  }

  flow(f: FlowVerdict): void {
    const out = this.out;
    out.write(this.flows > 0 ? ',\n    ' : '\n    ');
    this.flows++;
    if (f.checks.length === 0) {
      out.write(atDepth2(f));
      return;
    }
    const text = atDepth2({ ...f, checks: NO_CHECKS });
    // no string holds a raw newline: only the flow's own `checks` starts a line with this indent
    const at = text.indexOf(EMPTY_CHECKS) + EMPTY_CHECKS.length - 2;
    out.write(text.slice(0, at));
    for (let i = 0; i < f.checks.length; i++) {
      out.write(i > 0 ? ',\n        ' : '[\n        ');
      this.check(f.checks[i]!);
    }
    out.write('\n      ]');
    out.write(text.slice(at + 2));
  }

  private check(c: CheckResult): void {
    const out = this.out;
    let text = this.sharedTexts.get(c);
    if (text !== undefined) {
      out.write(text);
      return;
    }
    if (Object.isFrozen(c)) {
      text = atDepth4(c);
      this.sharedTexts.set(c, text);
      out.write(text);
      return;
    }
    out.write(this.head(c));
    const evidence = c.evidence;
    if (evidence.length === 0) {
      out.write(EMPTY_EVIDENCE_END);
      return;
    }
    for (let i = 0; i < evidence.length; i++) {
      const e = evidence[i]!;
      out.write(i > 0 ? `,${EVIDENCE_SEP}` : `[${EVIDENCE_SEP}`);
      out.write(this.evidenceHead(e.point, e.file));
      out.write(Number.isFinite(e.frame) ? `${e.frame}` : 'null');
      out.write(EVIDENCE_END);
    }
    out.write(EVIDENCE_LIST_END);
  }

  /** A check's text up to its evidence (`... "evidence": `). */
  private head(c: CheckResult): string {
    let text = this.heads.find(c.name, c.status, c.reason, c.message);
    if (text === undefined) {
      text = atDepth4({ ...c, evidence: NO_EVIDENCE }).slice(0, -EMPTY_EVIDENCE_END.length);
      this.heads.add(c.name, c.status, c.reason, c.message, text);
    }
    return text;
  }

  /** An evidence entry's text up to its frame (`{ "point": ..., "file": ..., "frame": `). */
  private evidenceHead(point: string, file: string): string {
    let byFile = this.evidenceHeads.get(point);
    if (byFile === undefined) {
      byFile = new Map();
      this.evidenceHeads.set(point, byFile);
    }
    let text = byFile.get(file);
    if (text === undefined) {
      text = `{${POINT_KEY}${JSON.stringify(point)},${FILE_KEY}${JSON.stringify(file)},${FRAME_KEY}`;
      byFile.set(file, text);
    }
    return text;
  }

  finish(tail: VerdictsTail): void {
    this.out.write(this.flows > 0 ? '\n  ]' : ']');
    // the keys in the document's order (DESIGN §8)
    const rest: VerdictsTail = {
      nodes: tail.nodes,
      clock_offsets: tail.clock_offsets,
      captures: tail.captures,
      warnings: tail.warnings,
    };
    for (const [key, value] of Object.entries(rest))
      this.out.write(`,\n  ${JSON.stringify(key)}: ${atDepth1(value)}`);
    this.out.write('\n}\n');
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
