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
 *
 * Why 64 and not 32 (which would save up to four rounds, ~10 ns, on frames with 64+ payload bytes):
 * in overlay traffic the outer UDP payload is the VXLAN/Geneve header (8), the inner Ethernet header
 * (14) and the inner packet. 64 bytes cover an inner IPv4/TCP packet's addresses, ports, sequence and
 * acknowledgement numbers (22 + 20 + 12 = 54); 32 bytes stop inside the inner IPv4 header, leaving
 * the inner IP id as the only per-packet field, which RFC 6864 lets senders keep constant on
 * unfragmentable (DF) packets.
 */
export const PAYLOAD_HASH_BYTES = 64;

/** The multipliers and seeds, shared with the WebAssembly version (payload-hash-wasm.ts). */
export const HASH_C1 = 0xcc9e2d51;
export const HASH_C2 = 0x1b873593;
export const HASH_C3 = 0x85ebca6b;
export const HASH_C4 = 0xc2b2ae35;
export const HASH_SEED_LO = 0x3c6ef372;
export const HASH_SEED_HI = 0xa54ff53a;
const C1 = HASH_C1;
const C2 = HASH_C2;
const C3 = HASH_C3;
const C4 = HASH_C4;
const SEED_LO = HASH_SEED_LO;
const SEED_HI = HASH_SEED_HI;

/**
 * The payload hash of `n` bytes at `at` into `hashOut[idx]` (lo) and `hashOut[idx + 1]` (hi), then,
 * when `nWords` >= 0, the fingerprint: `words[0 .. nWords)` hashed with the payload hash's lanes as
 * the seed, into `fpOut[idx]`, `fpOut[idx + 1]`. The caller guarantees the bytes were captured.
 *
 * One function for both because the payload lanes are then int32 locals: handing them to a second
 * function as uint32 values above 2^31 boxed two heap numbers per packet, and with the calls that
 * cost more than the arithmetic (hash + fingerprint went from ~45 to ~25 ns a frame).
 * Payload rounds: eight bytes per round, one word per lane, then each lane folds in the other: half
 * the multiplies of a per-word two-lane hash, which is what a 64-byte prefix can afford at 12 M
 * frames/s. Fingerprint rounds: the same shape over the header words, two per round (word count
 * mixed in first); each round is a bijection of the word it takes, so no field can cancel another.
 */
export function hashPacket(
  v: DataView,
  at: number,
  n: number,
  hashOut: Uint32Array,
  words: Uint32Array,
  nWords: number,
  fpOut: Uint32Array,
  idx: number,
): void {
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
  finish(h1, h2, hashOut, idx);
  if (nWords < 0) return;
  // read back as int32: the same bits the fingerprint has always been seeded with
  h1 = (hashOut[idx] ?? 0) ^ SEED_HI;
  h2 = (hashOut[idx + 1] ?? 0) ^ SEED_LO;
  // two words per round, one per lane, as the payload rounds do: half the rounds of feeding each
  // word to both lanes. `words` has room for a pair past the last word, whose value is then ignored.
  h2 ^= nWords;
  for (let w = 0; w < nWords; w += 2) {
    h1 = Math.imul(h1 ^ (words[w] ?? 0), C1);
    if (w + 1 < nWords) h2 = Math.imul(h2 ^ (words[w + 1] ?? 0), C2);
    h1 ^= h2 >>> 15;
    h2 ^= h1 >>> 13;
  }
  finish(h1, h2, fpOut, idx);
}

function avalanche(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, C3);
  h ^= h >>> 13;
  h = Math.imul(h, C4);
  return h ^ (h >>> 16);
}

/** Cross the lanes so each output bit depends on both, then avalanche each. */
function finish(h1: number, h2: number, out: Uint32Array, idx: number): void {
  h1 = (h1 + h2) | 0;
  h2 = (h2 + h1) | 0;
  h1 = avalanche(h1);
  h2 = avalanche(h2);
  h1 = (h1 + h2) | 0;
  h2 = (h2 + h1) | 0;
  // a Uint32Array store takes the low 32 bits: no `>>> 0` (it would make the value a uint32)
  out[idx] = h1;
  out[idx + 1] = h2;
}
