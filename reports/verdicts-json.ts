/**
 * `verdicts.json` (DESIGN §8): the verdicts document as JSON, and its JSON Schema
 * (reports/verdicts.schema.json, `schema_version` 1) as a validator the tests and `hoptrace analyze`
 * share. `VerdictsJsonWriter` writes the document flow by flow as the rules judge them (a flow is
 * dropped once written), then the fields after `flows`, to a temporary file that is renamed when
 * complete; the bytes are `JSON.stringify(doc, null, 2)`.
 */
import { Ajv } from 'ajv';
import type { FlowVerdict } from '../analyzers/rules/verdict-types.ts';
import { VERDICTS_SCHEMA_VERSION, type VerdictsDocument, type VerdictsTail } from '../analyzers/verdicts.ts';
import { atDepth1, atDepth2, TextFile } from './text-file.ts';
import schema from './verdicts.schema.json' with { type: 'json' };

const ajv = new Ajv({ allErrors: true, strict: false });
const validate = ajv.compile(schema);

/** Problems of a verdicts document against the schema, one line each (empty: valid). */
export function verdictsSchemaErrors(doc: unknown): string[] {
  if (validate(doc)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'}: ${e.message ?? 'invalid'}`);
}

/** verdicts.json written as the flows come: `flow` for each in order, then `finish` with the tail. */
export class VerdictsJsonWriter {
  private readonly out: TextFile;
  private flows = 0;

  constructor(file: string, schemaVersion = VERDICTS_SCHEMA_VERSION) {
    this.out = new TextFile(file);
    this.out.write(`{\n  "schema_version": ${JSON.stringify(schemaVersion)},\n  "flows": [`);
  }

  flow(f: FlowVerdict): void {
    this.out.write(`${this.flows > 0 ? ',' : ''}\n    ${atDepth2(f)}`);
    this.flows++;
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
