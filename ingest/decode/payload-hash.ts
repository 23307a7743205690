/**
 * Payload hash: a 64-bit non-cryptographic hash of the first `PAYLOAD_HASH_BYTES` bytes of the L4
 * payload (the whole payload if shorter), as two independent 32-bit lanes mixed with `Math.imul`
 * (multiply, rotate, xor per 4-byte word, a murmur-style avalanche at the end; written for hoptrace).
 *
 * The prefix is fixed so that every capture point hashes the same bytes whatever its snaplen: when
 * fewer than min(PAYLOAD_HASH_BYTES, payload length) bytes were captured the hash is NULL, never a
 * hash of fewer bytes (that would differ from a point with a larger snaplen). The number of hashed
 * bytes is mixed in, so an empty payload has a hash too (different from a payload of zero bytes' worth
 * of zeros).
 */
export const PAYLOAD_HASH_BYTES = 64;

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;
const C3 = 0x85ebca77;
const C4 = 0xc2b2ae3d;
const SEED_LO = 0x3c6ef372;
const SEED_HI = 0xa54ff53a;

/**
 * Hash `n` bytes at `at` and write the lanes to `out[idx]` (lo) and `out[idx + 1]` (hi).
 * The caller guarantees the bytes were captured.
 */
export function hashBytes(v: DataView, at: number, n: number, out: Uint32Array, idx: number): void {
  let h1 = SEED_LO ^ n;
  let h2 = SEED_HI ^ Math.imul(n, C3);
  const end4 = at + (n & ~3);
  let i = at;
  for (; i < end4; i += 4) {
    const k = v.getUint32(i, true);
    h1 = mixLo(h1, k);
    h2 = mixHi(h2, k);
  }
  const rest = n & 3;
  if (rest !== 0) {
    let k = 0;
    for (let j = rest - 1; j >= 0; j--) k = (k << 8) | v.getUint8(i + j);
    h1 = mixLo(h1, k);
    h2 = mixHi(h2, k);
  }
  finish(h1, h2, out, idx);
}

/** One 32-bit word into the lo lane. */
export function mixLo(h: number, k: number): number {
  k = Math.imul(k, C1);
  k = (k << 15) | (k >>> 17);
  h ^= Math.imul(k, C2);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** One 32-bit word into the hi lane, with other constants so the lanes stay independent. */
export function mixHi(h: number, k: number): number {
  k = Math.imul(k, C3);
  k = (k << 16) | (k >>> 16);
  h ^= Math.imul(k, C4);
  h = (h << 17) | (h >>> 15);
  return (Math.imul(h, 9) + 0x52dce729) | 0;
}

function avalanche(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** Cross the lanes so each output bit depends on both, then avalanche. */
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
