/** Query results as an aligned text table, CSV (RFC 4180) or JSON lines of objects. */
import type { QueryResult } from '../ingest/dataset/run-query.ts';

export type ResultFormat = 'table' | 'csv' | 'json';

export function formatResult(result: QueryResult, format: ResultFormat): string {
  const cells = result.rows.map((row) => row.map(cellText));
  if (format === 'csv') {
    return [result.columns, ...cells]
      .map((row) => row.map(csvField).join(','))
      .join('\n')
      .concat('\n');
  }
  if (format === 'json') {
    return result.rows
      .map((row) => JSON.stringify(Object.fromEntries(result.columns.map((c, i) => [c, jsonValue(row[i])]))))
      .join('\n')
      .concat(result.rows.length > 0 ? '\n' : '');
  }
  const widths = result.columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]!.length)));
  const line = (row: string[]) =>
    row
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  const out = [line(result.columns), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)];
  out.push(`(${result.rows.length} row${result.rows.length === 1 ? '' : 's'})`);
  return `${out.join('\n')}\n`;
}

function cellText(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (value instanceof Uint8Array) return `\\x${Buffer.from(value).toString('hex')}`;
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return `[${value.map(cellText).join(', ')}]`;
  if (typeof value === 'object') return JSON.stringify(value, (_k, v: unknown) => jsonValue(v));
  return String(value);
}

function jsonValue(value: unknown): unknown {
  if (typeof value === 'bigint') {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : value.toString();
  }
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  if (Array.isArray(value)) return value.map(jsonValue);
  return value;
}

function csvField(v: string): string {
  // control characters from packets are kept but quoted; a field never breaks the row structure
  return /[",\n\r]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v;
}
