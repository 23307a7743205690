/**
 * `verdicts.json` (DESIGN §8): the verdicts document as JSON, and its JSON Schema
 * (reports/verdicts.schema.json, `schema_version` 1) as a validator the tests and `hoptrace analyze`
 * share. The document is written flow by flow to a temporary file and renamed, so a reader never sees
 * half and memory never holds the whole text (4-7 KB a flow); the bytes are `JSON.stringify(doc, null, 2)`.
 */
import { Ajv } from 'ajv';
import type { VerdictsDocument } from '../analyzers/verdicts.ts';
import { writeIndentedJson, writeTextFile } from './text-file.ts';
import schema from './verdicts.schema.json' with { type: 'json' };

const ajv = new Ajv({ allErrors: true, strict: false });
const validate = ajv.compile(schema);

/** Problems of a verdicts document against the schema, one line each (empty: valid). */
export function verdictsSchemaErrors(doc: unknown): string[] {
  if (validate(doc)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'}: ${e.message ?? 'invalid'}`);
}

export function writeVerdictsJson(file: string, doc: VerdictsDocument): void {
  writeTextFile(file, (out) => {
    writeIndentedJson(out, doc, 'flows');
    out.write('\n');
  });
}
