/**
 * `verdicts.json` (DESIGN §8): the verdicts document as JSON, and its JSON Schema
 * (reports/verdicts.schema.json, `schema_version` 1) as a validator the tests and `hoptrace analyze`
 * share. The document is written whole to a temporary file and renamed, so a reader never sees half.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { Ajv } from 'ajv';
import type { VerdictsDocument } from '../analyzers/verdicts.ts';
import schema from './verdicts.schema.json' with { type: 'json' };

const ajv = new Ajv({ allErrors: true, strict: false });
const validate = ajv.compile(schema);

/** Problems of a verdicts document against the schema, one line each (empty: valid). */
export function verdictsSchemaErrors(doc: unknown): string[] {
  if (validate(doc)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'}: ${e.message ?? 'invalid'}`);
}

export function verdictsJson(doc: VerdictsDocument): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}

export async function writeVerdictsJson(file: string, doc: VerdictsDocument): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  await fs.writeFile(tmp, verdictsJson(doc));
  await fs.rename(tmp, file);
}
