/** Number and time formatting shared by the page, the ladder and the charts. */

/** A duration in ns as a person reads it: `850 ns`, `12.3 µs`, `4.56 ms`, `1.23 s`. */
// 3 significant digits, trailing zeros of the fraction dropped (never those of the integer part)
const sig = (v: number, digits = 3) =>
  v
    .toPrecision(digits)
    .replace(/(\.\d*?)0+$/, '$1')
    .replace(/\.$/, '');

export function formatNs(ns: number): string {
  const a = Math.abs(ns);
  if (a < 1e3) return `${Math.round(ns)} ns`;
  if (a < 999.5e3) return `${sig(ns / 1e3)} µs`;
  if (a < 999.5e6) return `${sig(ns / 1e6)} ms`;
  return `${sig(ns / 1e9, 4)} s`;
}

/** A signed offset, `+3.7 ms` / `-100 ns`. */
export const formatOffset = (ns: number): string => (ns >= 0 ? `+${formatNs(ns)}` : `-${formatNs(-ns)}`);

/** ns since the epoch (decimal string) as UTC with microseconds: `2026-11-26 07:31:19.632384`. */
export function formatEpochNs(ns: string | null): string {
  if (ns === null || !/^-?\d+$/.test(ns)) return '?';
  const big = BigInt(ns);
  const ms = Number(big / 1_000_000n);
  const micros = Number((big % 1_000_000_000n) / 1000n);
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return '?';
  return `${d.toISOString().slice(0, 19).replace('T', ' ')}.${String(micros).padStart(6, '0')} UTC`;
}

/** Keeps both ends of a long name (`calia7a3…9b` style) so lane headers stay inside their lane. */
export function truncateMiddle(s: string, max: number): string {
  if (s.length <= max) return s;
  const head = Math.ceil((max - 1) / 2);
  return `${s.slice(0, head)}…${s.slice(s.length - (max - 1 - head))}`;
}

export const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;
