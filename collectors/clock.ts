/**
 * Wall-clock time in nanoseconds since the Unix epoch. `Date.now()` has millisecond steps; the
 * performance clock gives microseconds, which is what a coverage window needs next to packet timestamps.
 * Kept as bigint: epoch nanoseconds exceed 2^53 and bundle.json stores them as decimal strings.
 */
export function wallNs(): bigint {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n;
}

/** "30s", "2m", "1h", "500ms", or a bare number of seconds -> milliseconds; null when malformed. */
export function parseDurationMs(text: string): number | null {
  const m = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (m === null) return null;
  const value = Number(m[1]);
  const unit = m[2] ?? 's';
  const factor = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000;
  const ms = Math.round(value * factor);
  return Number.isFinite(ms) && ms > 0 ? ms : null;
}
