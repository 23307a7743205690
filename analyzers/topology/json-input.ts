/**
 * Narrowing helpers for JSON read from a bundle. Bundle files are untrusted input: every field is
 * checked for its type where it is read, and a wrong type reads as absent (the importer then says
 * what is missing) instead of throwing halfway through a file.
 */

export type JsonObject = { readonly [key: string]: unknown };

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function objects(v: unknown): JsonObject[] {
  return Array.isArray(v) ? v.filter(isObject) : [];
}

export function str(o: JsonObject | undefined, key: string): string | null {
  const v = o?.[key];
  return typeof v === 'string' ? v : null;
}

export function num(o: JsonObject | undefined, key: string): number | null {
  const v = o?.[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

export function obj(o: JsonObject | undefined, key: string): JsonObject | undefined {
  const v = o?.[key];
  return isObject(v) ? v : undefined;
}

export function strings(o: JsonObject | undefined, key: string): string[] {
  const v = o?.[key];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/** `items` of a `kubectl get -o json` List (or a bare array, as some tools write). */
export function listItems(doc: unknown): JsonObject[] {
  if (Array.isArray(doc)) return objects(doc);
  return isObject(doc) ? objects(doc['items']) : [];
}
