/** Validity bitmaps (Arrow/DuckDB bit order: row r is bit r & 7 of byte r >> 3) from the 0/1 bytes of PacketColumns. */

/**
 * Four 0/1 bytes of a little-endian word to four bits: multiplying by 0x01020408 moves byte i's bit
 * (bit 8i) to bit 24 + i, and no two partial products share a bit, so nothing carries into bits 24-27.
 */
const GATHER = 0x01020408;

const NONE = 0;
const ALL = 1;
const SOME = 2;
/** What `validityKind` finds in a 0/1 validity array. */
export const Validity = { none: NONE, all: ALL, some: SOME } as const;

/** Eight 1 bytes read as one float64 (a normal number, 0x0101010101010101). */
const EIGHT_SET = new Float64Array(new Uint8Array(8).fill(1).buffer)[0]!;

/**
 * Whether rows [0, n) of a 0/1 validity array are all unset, all set or mixed. Most columns of a
 * batch are never or always present and need no bitmap of their own, and this says so after one
 * look at each row, eight rows a step: eight 0/1 bytes read as a float64 are +0 exactly when all
 * are 0 (-0 would need a 0x80 byte) and EIGHT_SET exactly when all are 1, so one compare per step
 * (the 32-bit words of before took four rows and two accumulators a step). Stops at the first
 * step that differs from the first.
 */
export function validityKind(valid: Uint8Array, n: number): number {
  if (n === 0) return ALL;
  const first = valid[0]!;
  const word = first === 0 ? 0 : EIGHT_SET;
  let r = 0;
  if ((valid.byteOffset & 7) === 0) {
    const words = new Float64Array(valid.buffer, valid.byteOffset, n >> 3);
    const len = words.length;
    let w = 0;
    for (; w + 4 <= len; w += 4) {
      if (words[w] !== word || words[w + 1] !== word || words[w + 2] !== word || words[w + 3] !== word)
        return SOME;
    }
    for (; w < len; w++) if (words[w] !== word) return SOME;
    r = len << 3;
  }
  for (; r < n; r++) if (valid[r] !== first) return SOME;
  return first === 0 ? NONE : ALL;
}

/**
 * True when elements [0, n) of `values` are all zero, four 32-bit words a step, stopping at the
 * first step with a set bit (columns that are not all zero, the IP version's, show it at once).
 */
export function allZero(values: Uint8Array | Uint16Array, n: number): boolean {
  const bytes = n * values.BYTES_PER_ELEMENT;
  let i = 0;
  if ((values.byteOffset & 3) === 0) {
    const words = new Uint32Array(values.buffer, values.byteOffset, bytes >> 2);
    const len = words.length;
    let w = 0;
    for (; w + 4 <= len; w += 4)
      if ((words[w]! | words[w + 1]! | words[w + 2]! | words[w + 3]!) !== 0) return false;
    for (; w < len; w++) if (words[w] !== 0) return false;
    i = (len << 2) / values.BYTES_PER_ELEMENT;
  }
  for (; i < n; i++) if (values[i] !== 0) return false;
  return true;
}

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

/** 0x80 in every byte of `w` whose byte is not zero, nothing else (no carry crosses a byte). */
function nonZeroBytes(w: number): number {
  return (((w & 0x7f7f7f7f) + 0x7f7f7f7f) | w) & 0x80808080;
}

/**
 * Packs "byte r of `values` is `expected`" (`nonZero` false) or "byte r is not zero" (`nonZero`
 * true) for rows [0, n) into `bits`, four rows a word; returns true when every row is set.
 */
function packBytesBy(
  values: Uint8Array,
  n: number,
  bits: Uint8Array,
  expected: number,
  nonZero: boolean,
): boolean {
  const whole = n & ~7;
  let all = 0xff;
  let o = 0;
  const flip = nonZero ? 0 : 0x80808080;
  const pattern = Math.imul(expected, 0x01010101);
  if ((values.byteOffset & 3) === 0) {
    const words = new Uint32Array(values.buffer, values.byteOffset, whole >> 2);
    for (let w = 0; w < words.length; w += 2, o++) {
      const a = (nonZeroBytes(words[w]! ^ pattern) ^ flip) >>> 7;
      const b = (nonZeroBytes(words[w + 1]! ^ pattern) ^ flip) >>> 7;
      const byte = (Math.imul(a, GATHER) >>> 24) | ((Math.imul(b, GATHER) >>> 24) << 4);
      bits[o] = byte;
      all &= byte;
    }
  } else {
    for (let r = 0; r < whole; r += 8, o++) {
      let byte = 0;
      for (let k = 0; k < 8; k++) if ((values[r + k]! === expected) !== nonZero) byte |= 1 << k;
      bits[o] = byte;
      all &= byte;
    }
  }
  let tail = 0;
  for (let r = whole; r < n; r++) if ((values[r]! === expected) !== nonZero) tail |= 1 << (r - whole);
  if (whole < n) {
    bits[o] = tail;
    if (tail !== (1 << (n - whole)) - 1) all = 0;
  }
  return all === 0xff;
}

/** Like packBits, for "valid where values[row] === expected" over rows [start, start + n). */
export function packEquals(
  values: Uint8Array,
  expected: number,
  start: number,
  n: number,
  bits: Uint8Array,
): boolean {
  return packBytesBy(values.subarray(start, start + n), n, bits, expected & 0xff, false);
}

/** Like packBits, for "valid where values[row] !== 0" over rows [0, n). */
export function packNonZero(values: Uint8Array, n: number, bits: Uint8Array): boolean {
  return packBytesBy(values, n, bits, 0, true);
}

/** packNonZero over 16-bit values, two rows a word. */
export function packNonZero16(values: Uint16Array, n: number, bits: Uint8Array): boolean {
  const whole = n & ~7;
  let all = 0xff;
  let o = 0;
  if ((values.byteOffset & 3) === 0) {
    const words = new Uint32Array(values.buffer, values.byteOffset, whole >> 1);
    for (let w = 0; w < words.length; w += 4, o++) {
      let byte = 0;
      for (let k = 0; k < 4; k++) {
        const x = words[w + k]!;
        // bit 15 / bit 31: the low / high half is not zero
        const t = ((x & 0x7fff7fff) + 0x7fff7fff) | x;
        byte |= (((t >>> 15) & 1) | ((t >>> 30) & 2)) << (2 * k);
      }
      bits[o] = byte;
      all &= byte;
    }
  } else {
    for (let r = 0; r < whole; r += 8, o++) {
      let byte = 0;
      for (let k = 0; k < 8; k++) if (values[r + k] !== 0) byte |= 1 << k;
      bits[o] = byte;
      all &= byte;
    }
  }
  if (whole < n) {
    let tail = 0;
    for (let r = whole; r < n; r++) if (values[r] !== 0) tail |= 1 << (r - whole);
    bits[o] = tail;
    if (tail !== (1 << (n - whole)) - 1) all = 0;
  }
  return all === 0xff;
}

/**
 * Runs every path of the packers once on small inputs, at load. Each packer is called a few times
 * per batch with a loop of thousands of iterations, so V8 compiles it mid-loop (on-stack replacement)
 * before the code after the loop (the tail, the final compare) has ever run; that code then has no
 * type feedback, the compiled loop bails out on reaching it, and V8 re-enters the same compiled loop
 * on the next call: measured, tens of bail-outs per second of decoding, each call finishing in the
 * interpreter (about 5 ns a row of decode -> Arrow). With feedback for every path from the start
 * the compiled code covers them.
 */
function warmUp(): void {
  const bytes = new Uint8Array(24);
  const halves = new Uint16Array(12);
  const bits = new Uint8Array(8);
  for (let round = 0; round < 12; round++) {
    // all clear, all set, mixed
    bytes.fill(round % 3 === 0 ? 0 : 1);
    if (round % 3 === 2) bytes[3] = 0;
    halves[5] = round;
    for (const n of [0, 5, 16, 19]) {
      validityKind(bytes, n);
      validityKind(bytes.subarray(1), n);
      allZero(bytes, n);
      allZero(bytes.subarray(1), n);
      allZero(halves, n >> 1);
      allZero(halves.subarray(1), n >> 1);
      packBits(bytes, 0, n, bits);
      packBits(bytes, 1, n, bits);
      packEquals(bytes, 1, 0, n, bits);
      packEquals(bytes, 1, 1, n, bits);
      packNonZero(bytes, n, bits);
      packNonZero(bytes.subarray(1), n, bits);
      packNonZero16(halves, n >> 1, bits);
      packNonZero16(halves.subarray(1), n >> 1, bits);
    }
  }
}

warmUp();
