/**
 * Timestamps as signed 64-bit nanoseconds held in two uint32 lanes (`tsLo`, `tsHi`).
 *
 * Doubles are exact only below 2^53, and ns since 1970 are already ~2^61, so every product is split into
 * 16-bit parts whose partial products stay far below 2^53. BigInt would be simpler but allocates per call;
 * it is used only on the slow paths (uncommon resolutions, ISB options, formatting).
 */

export interface NsLanes {
  tsLo: number;
  tsHi: number;
}

const TWO16 = 65536;
const TWO32 = 4294967296;
/** 1e9 = NS_HI * 2^16 + NS_LO */
const NS_HI = 15258;
const NS_LO = 51712;

/**
 * `out = sec * 1e9 + fracNs` for an unsigned 32-bit `sec` and `0 <= fracNs < 2^43`.
 * An out-of-range fraction (>= 1e9) carries into the seconds: the documented policy for pcap files
 * with invalid sub-second fields (the same instant tshark computes, which only prints it unnormalised).
 */
export function secFracToNs(out: NsLanes, sec: number, fracNs: number): void {
  const a = sec * NS_HI; // < 2^46
  const b = sec * NS_LO + fracNs; // < 2^49
  const aHi = Math.floor(a / TWO16);
  const low = (a - aHi * TWO16) * TWO16 + b; // < 2^50
  const carry = Math.floor(low / TWO32);
  out.tsLo = low - carry * TWO32;
  out.tsHi = (aHi + carry) >>> 0;
}

/**
 * `out = (hi * 2^32 + lo) * mult + (offHi * 2^32 + offLo)` modulo 2^64, for `mult <= 1e9`: timestamps in
 * units of 10^-k s with k <= 9 (pcapng `if_tsresol`) plus `if_tsoffset` already in ns.
 */
export function unitsToNs(
  out: NsLanes,
  hi: number,
  lo: number,
  mult: number,
  offLo: number,
  offHi: number,
): void {
  const p0 = (lo & 0xffff) * mult;
  const p1 = (lo >>> 16) * mult;
  const p2 = (hi & 0xffff) * mult;
  const p3 = (hi >>> 16) * mult;
  const p1Hi = Math.floor(p1 / TWO16);
  const t = p0 + (p1 - p1Hi * TWO16) * TWO16 + offLo; // < 2^48
  const carry = Math.floor(t / TWO32);
  const p3Lo = p3 - Math.floor(p3 / TWO16) * TWO16;
  out.tsLo = t - carry * TWO32;
  out.tsHi = (carry + p1Hi + p2 + p3Lo * TWO16 + offHi) >>> 0;
}

/** A timestamp resolution: 10^-exp or 2^-exp seconds per unit. */
export interface Resolution {
  base: 10 | 2;
  exp: number;
  /** ns per unit when that is an integer (10^-k, k <= 9): the fast path; 0 otherwise. */
  nsPerUnit: number;
  /** units per second for the exact slow path */
  unitsPerSec: bigint;
  label: string;
}

export function resolution(base: 10 | 2, exp: number): Resolution {
  const unitsPerSec = BigInt(base) ** BigInt(exp);
  const nsPerUnit = base === 10 && exp <= 9 ? 10 ** (9 - exp) : 0;
  return { base, exp, nsPerUnit, unitsPerSec, label: base === 10 ? `1e-${exp}` : `2^-${exp}` };
}

/** pcapng `if_tsresol` byte: MSB set means a power of two. */
export function resolutionFromTsresol(v: number): Resolution {
  return v & 0x80 ? resolution(2, v & 0x7f) : resolution(10, v);
}

const NS = 1_000_000_000n;
const MASK64 = (1n << 64n) - 1n;

/**
 * Exact conversion for any resolution, as wiretap does it: whole seconds by integer division, the
 * remainder scaled to ns and truncated, the offset (whole seconds) added to the seconds.
 */
export function unitsToNsExact(
  out: NsLanes,
  hi: number,
  lo: number,
  res: Resolution,
  offsetSec: bigint,
): void {
  const units = (BigInt(hi) << 32n) | BigInt(lo);
  const secs = units / res.unitsPerSec + offsetSec;
  const frac = ((units % res.unitsPerSec) * NS) / res.unitsPerSec;
  setLanes(out, secs * NS + frac);
}

export function setLanes(out: NsLanes, ns: bigint): void {
  const v = ns & MASK64;
  out.tsLo = Number(v & 0xffffffffn);
  out.tsHi = Number(v >> 32n);
}

export function lanesToBigInt(lo: number, hi: number): bigint {
  return BigInt.asIntN(64, (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0));
}

/** `seconds.nnnnnnnnn`, the way tshark prints frame.time_epoch for valid timestamps. */
export function formatEpochNs(ns: bigint): string {
  const neg = ns < 0n;
  const abs = neg ? -ns : ns;
  return `${neg ? '-' : ''}${abs / NS}.${(abs % NS).toString().padStart(9, '0')}`;
}

/** ISO 8601 UTC with 9 fractional digits, e.g. `2020-10-20T19:21:02.654984000Z`. */
export function formatIsoNs(ns: bigint): string {
  const ms = ns / 1_000_000n - (ns % 1_000_000n < 0n ? 1n : 0n);
  const fracNs = ns - ms * 1_000_000n; // 0 .. 999999
  const msNum = Number(ms);
  if (!Number.isSafeInteger(msNum) || Math.abs(msNum) > 8.64e15) return `${formatEpochNs(ns)}s`;
  const iso = new Date(msNum).toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  return `${iso.slice(0, -1)}${fracNs.toString().padStart(6, '0')}Z`;
}

/**
 * Parse tshark's `seconds.nnnnnnnnn` into exact ns (no floats). Returns null for an empty cell (no
 * timestamp) and throws when the fraction is not 9 digits (tshark's raw print of an invalid fraction).
 */
export function parseEpochNs(text: string): bigint | null {
  if (text === '') return null;
  const m = /^(-?)(\d+)\.(\d{9})$/.exec(text);
  if (!m) throw new Error(`not a 9-digit epoch time: ${text}`);
  const v = BigInt(m[2]!) * NS + BigInt(m[3]!);
  return m[1] === '-' ? -v : v;
}
