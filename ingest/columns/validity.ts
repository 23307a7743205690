/** Validity bitmaps (Arrow/DuckDB bit order: row r is bit r & 7 of byte r >> 3) from the 0/1 bytes of PacketColumns. */

/**
 * Four 0/1 bytes of a little-endian word to four bits: multiplying by 0x01020408 moves byte i's bit
 * (bit 8i) to bit 24 + i, and no two partial products share a bit, so nothing carries into bits 24-27.
 */
const GATHER = 0x01020408;

/** Packs `valid[start..start+n)` (0/1 bytes) into `bits`; returns true when every row is valid. */
export function packBits(valid: Uint8Array, start: number, n: number, bits: Uint8Array): boolean {
  let all = 0xff;
  const whole = n & ~7;
  let o = 0;
  const at = valid.byteOffset + start;
  if ((at & 3) === 0) {
    // aligned: read the bytes four at a time (the common case: columns start on their own buffer)
    const words = new Uint32Array(valid.buffer, at, whole >> 2);
    for (let w = 0; w < words.length; w += 2, o++) {
      const b = (Math.imul(words[w]!, GATHER) >>> 24) | ((Math.imul(words[w + 1]!, GATHER) >>> 24) << 4);
      bits[o] = b;
      all &= b;
    }
  } else {
    o = packBytes(valid, start, whole, bits);
    for (let k = 0; k < o; k++) all &= bits[k]!;
  }
  if (whole < n) {
    let b = 0;
    for (let r = whole; r < n; r++) b |= valid[start + r]! << (r - whole);
    bits[o] = b;
    if (b !== (1 << (n - whole)) - 1) all = 0;
  }
  return all === 0xff;
}

/** The byte-by-byte path of packBits for `whole` (a multiple of 8) rows; returns the bytes written. */
function packBytes(valid: Uint8Array, start: number, whole: number, bits: Uint8Array): number {
  let o = 0;
  for (let r = 0; r < whole; r += 8, o++) {
    const i = start + r;
    const b =
      valid[i]! |
      (valid[i + 1]! << 1) |
      (valid[i + 2]! << 2) |
      (valid[i + 3]! << 3) |
      (valid[i + 4]! << 4) |
      (valid[i + 5]! << 5) |
      (valid[i + 6]! << 6) |
      (valid[i + 7]! << 7);
    bits[o] = b;
  }
  return o;
}

/** Like packBits, for "valid where values[row] === expected". */
export function packEquals(
  values: Uint8Array,
  expected: number,
  start: number,
  n: number,
  bits: Uint8Array,
): boolean {
  bits.fill(0, 0, Math.ceil(n / 8));
  let all = true;
  for (let r = 0; r < n; r++) {
    if (values[start + r] === expected) bits[r >> 3]! |= 1 << (r & 7);
    else all = false;
  }
  return all;
}
