/** Validity bitmaps (Arrow/DuckDB bit order: row r is bit r & 7 of byte r >> 3) from the 0/1 bytes of PacketColumns. */

/** Packs `valid[start..start+n)` (0/1 bytes) into `bits`; returns true when every row is valid. */
export function packBits(valid: Uint8Array, start: number, n: number, bits: Uint8Array): boolean {
  let all = 0xff;
  const whole = n & ~7;
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
    all &= b;
  }
  if (whole < n) {
    let b = 0;
    for (let r = whole; r < n; r++) b |= valid[start + r]! << (r - whole);
    bits[o] = b;
    if (b !== (1 << (n - whole)) - 1) all = 0;
  }
  return all === 0xff;
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
