/**
 * Payload hash: a 64-bit non-cryptographic hash of the first `PAYLOAD_HASH_BYTES` bytes of the L4
 * payload (the whole payload if shorter), kept as two 32-bit lanes mixed with `Math.imul` (written for
 * hoptrace: xor-multiply per word, lanes cross-fed every 8 bytes, a murmur-style avalanche at the end).
 * It finds the same packet again, it does not resist an adversary.
 *
 * The prefix length is fixed so that every capture point hashes the same bytes whatever its snaplen:
 * when fewer than min(PAYLOAD_HASH_BYTES, payload length) bytes were captured the caller leaves the
 * hash NULL, never a hash of fewer bytes (that would differ from a point with a larger snaplen).
 * The number of hashed bytes is mixed in, so an empty payload has a hash of its own.
 */
export const PAYLOAD_HASH_BYTES = 64;

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;
const C3 = 0x85ebca6b;
const C4 = 0xc2b2ae35;
const SEED_LO = 0x3c6ef372;
const SEED_HI = 0xa54ff53a;

/**
 * Hash `n` bytes at `at` and write the lanes to `out[idx]` (lo) and `out[idx + 1]` (hi).
 * The caller guarantees the bytes were captured. Eight bytes per round, one word per lane, then each
 * lane folds in the other: half the multiplies of a per-word two-lane hash, which is what a 64-byte
 * prefix can afford at 12 M frames/s.
 */
export function hashBytes(v: DataView, at: number, n: number, out: Uint32Array, idx: number): void {
  let h1 = SEED_LO ^ n;
  let h2 = SEED_HI ^ Math.imul(n, C3);
  const end8 = at + (n & ~7);
  let i = at;
  for (; i < end8; i += 8) {
    h1 = Math.imul(h1 ^ v.getUint32(i, true), C1);
    h2 = Math.imul(h2 ^ v.getUint32(i + 4, true), C2);
    h1 ^= h2 >>> 15;
    h2 ^= h1 >>> 13;
  }
  const end = at + n;
  if (end - i >= 4) {
    h1 = Math.imul(h1 ^ v.getUint32(i, true), C1);
    h2 ^= h1 >>> 13;
    i += 4;
  }
  if (i < end) {
    let k = 0;
    for (let j = end - 1; j >= i; j--) k = (k << 8) | v.getUint8(j);
    h2 = Math.imul(h2 ^ k, C2);
    h1 ^= h2 >>> 15;
  }
  finish(h1, h2, out, idx);
}

/**
 * Hash `n` 32-bit words (the fingerprint's header fields) seeded with a finished hash's lanes: the same
 * two-lane round as `hashBytes`, each word going to both lanes.
 */
export function hashWords(
  words: Uint32Array,
  n: number,
  lo: number,
  hi: number,
  out: Uint32Array,
  idx: number,
): void {
  let h1 = lo ^ SEED_HI;
  let h2 = hi ^ SEED_LO;
  for (let i = 0; i < n; i++) {
    const k = words[i] ?? 0;
    h1 = Math.imul(h1 ^ k, C1);
    h2 = Math.imul(h2 ^ ((k << 16) | (k >>> 16)), C2);
    h1 ^= h2 >>> 15;
    h2 ^= h1 >>> 13;
  }
  finish(h1, h2, out, idx);
}

function avalanche(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, C3);
  h ^= h >>> 13;
  h = Math.imul(h, C4);
  return h ^ (h >>> 16);
}

/** Cross the lanes so each output bit depends on both, then avalanche each. */
export function finish(h1: number, h2: number, out: Uint32Array, idx: number): void {
  h1 = (h1 + h2) | 0;
  h2 = (h2 + h1) | 0;
  h1 = avalanche(h1);
  h2 = avalanche(h2);
  h1 = (h1 + h2) | 0;
  h2 = (h2 + h1) | 0;
  out[idx] = h1 >>> 0;
  out[idx + 1] = h2 >>> 0;
}
