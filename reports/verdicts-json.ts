/**
 * `verdicts.json` (DESIGN §8): the verdicts document as JSON, and its JSON Schema
 * (reports/verdicts.schema.json, `schema_version` 1) as a validator the tests and `hoptrace analyze`
 * share. `VerdictsJsonWriter` writes the document flow by flow as the rules judge them (a flow is
 * dropped once written), then the fields after `flows`, to a temporary file that is renamed when
 * complete; the bytes are `JSON.stringify(doc, null, 2)`.
 */
import { Ajv } from 'ajv';
import type { CheckResult, FlowVerdict } from '../analyzers/rules/verdict-types.ts';
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

/** Stands for a shared check in a flow's checks while the flow is stringified: `"\u0000"` there. */
const SHARED = '\u0000';
/** A shared check's place in a flow stringified at depth 2 (flows[i]): an element of its checks. */
const SHARED_AT = `\n        ${JSON.stringify(SHARED)}`;
/** the newline and indent before the placeholder, kept */
const SHARED_INDENT = SHARED_AT.length - JSON.stringify(SHARED).length;
const CHECKS_AT = '\n      "checks": [';

/**
 * verdicts.json written as the flows come: `flow` for each in order, then `finish` with the tail. A
 * frozen check (one object many flows share, analyzers/rules/shared-checks.ts) is stringified once:
 * in each flow it is a placeholder, replaced by that text.
 */
export class VerdictsJsonWriter {
  private readonly out: TextFile;
  private flows = 0;
  private readonly checkTexts = new WeakMap<CheckResult, string>();

  constructor(file: string, schemaVersion = VERDICTS_SCHEMA_VERSION) {
    this.out = new TextFile(file);
    this.out.write(`{\n  "schema_version": ${JSON.stringify(schemaVersion)},\n  "flows": [`);
  }

  flow(f: FlowVerdict): void {
    const out = this.out;
    out.write(this.flows > 0 ? ',\n    ' : '\n    ');
    this.flows++;
    const checks = f.checks.map((c) => (this.sharedText(c) === undefined ? c : SHARED));
    if (!checks.includes(SHARED)) {
      out.write(atDepth2(f));
      return;
    }
    const text = atDepth2({ ...f, checks });
    // no string holds a raw newline, so only the flow's own checks start a line with these indents
    let from = 0;
    let at = text.indexOf(CHECKS_AT);
    for (let i = 0; i < checks.length; i++) {
      if (checks[i] !== SHARED) continue;
      at = text.indexOf(SHARED_AT, at);
      out.write(text.slice(from, at + SHARED_INDENT));
      out.write(this.sharedText(f.checks[i]!)!);
      at += SHARED_AT.length;
      from = at;
    }
    out.write(text.slice(from));
  }

  /** A frozen check's text at its depth (flows[i].checks[j]), made once; undefined for another check. */
  private sharedText(c: CheckResult): string | undefined {
    let text = this.checkTexts.get(c);
    if (text === undefined && Object.isFrozen(c)) {
      text = atDepth4(c);
      this.checkTexts.set(c, text);
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
