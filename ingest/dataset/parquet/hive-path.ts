/**
 * Hive partition folder values, escaped as DuckDB's writer does it and its reader undoes it: every
 * UTF-8 byte except `A-Z a-z 0-9 - . _ ~` becomes `%XX` (uppercase hex). Measured with DuckDB's
 * COPY ... PARTITION_BY over all printable ASCII and some non-ASCII: "n/1" -> `n%2F1`, "a b" -> `a%20b`.
 */
const UNRESERVED = /[A-Za-z0-9\-._~]/;

export function hiveEscape(value: string): string {
  let out = '';
  for (const ch of value) {
    if (UNRESERVED.test(ch)) {
      out += ch;
      continue;
    }
    for (const b of new TextEncoder().encode(ch)) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Nanoseconds per hour = 2^13 * 439453125: dividing in two exact steps keeps lanes out of BigInt. */
export const HOUR_ODD = 439_453_125;

/** `ts >> 13` of an int64 ns timestamp given as lanes: below 2^51 in magnitude, exact in a double. */
export function shiftedNs(lo: number, hi: number): number {
  return (hi | 0) * 524288 + (lo >>> 13);
}

/** UTC hour number (hours since the epoch, floored) of an int64 ns timestamp given as lanes. */
export function hourOfLanes(lo: number, hi: number): number {
  return Math.floor(shiftedNs(lo, hi) / HOUR_ODD);
}

/** `YYYY-MM-DDTHH` of an hour number, as `strftime(..., '%Y-%m-%dT%H')` prints it. */
export function hourLabel(hour: number): string {
  return new Date(hour * 3_600_000).toISOString().slice(0, 13);
}
