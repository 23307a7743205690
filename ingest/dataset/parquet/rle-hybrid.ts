/**
 * Parquet's RLE/bit-packed hybrid, for definition/repetition levels and dictionary indices.
 * A run is either RLE (`varint(count << 1)`, then the value in ceil(width/8) bytes) or bit-packed
 * (`varint(groups << 1 | 1)`, then `groups` groups of 8 values, LSB first). We emit one run per page:
 * RLE when every value is the same (an all-valid or all-null column costs a few bytes), bit-packed
 * otherwise. Bit width 1 packs straight from the 0/1 validity bytes; widths 8 and 16 are the bytes of
 * the little-endian values themselves, so they are copies.
 */

/** Writes an unsigned varint (count < 2^31) at `at`; returns the new offset. */
export function putVarint(out: Uint8Array, at: number, v: number): number {
  while (v >= 0x80) {
    out[at++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  out[at++] = v;
  return at;
}

/** Result of packing 0/1 validity bytes into definition levels. */
export interface PackedLevels {
  /** `[u32 length][runs]`, as data page v1 expects levels */
  bytes: Uint8Array;
  /** number of 1s (non-null values) */
  count: number;
}

/**
 * Definition levels of bit width 1 from validity bytes (each 0 or 1) `valid[0..n)`, prefixed with the
 * 4-byte length of data page v1. Reads the bytes four at a time: `valid` must start on a 4-byte boundary.
 */
export function bitLevels(valid: Uint8Array, n: number): PackedLevels {
  const groups = (n + 7) >>> 3;
  const out = new Uint8Array(4 + 5 + groups);
  const words = new Uint32Array(valid.buffer, valid.byteOffset, n >>> 2);
  let count = 0;
  let at = 9;
  const wholeGroups = n >>> 3;
  for (let g = 0; g < wholeGroups; g++) {
    const a = words[2 * g]!;
    const b = words[2 * g + 1]!;
    out[at++] = fold4(a) | (fold4(b) << 4);
    count += (Math.imul(a, 0x01010101) >>> 24) + (Math.imul(b, 0x01010101) >>> 24);
  }
  if (wholeGroups < groups) {
    let last = 0;
    for (let r = wholeGroups << 3; r < n; r++) {
      const v = valid[r]!;
      last |= v << (r & 7);
      count += v;
    }
    out[at++] = last;
  }
  if (count === n || count === 0) return { bytes: rleLevels(count === 0 ? 0 : 1, n, 1), count };
  // header goes just before the packed groups: shift start so the prefix is contiguous
  const headerLen = varintLength((groups << 1) | 1);
  const start = 9 - headerLen - 4;
  putVarint(out, 9 - headerLen, (groups << 1) | 1);
  new DataView(out.buffer, out.byteOffset + start, 4).setUint32(0, headerLen + groups, true);
  return { bytes: out.subarray(start, at), count };
}

/** Byte k of `a` holds a 0/1: the four bytes' low bits folded into bits 0..3. */
function fold4(a: number): number {
  return (a | (a >>> 7) | (a >>> 14) | (a >>> 21)) & 0xf;
}

/**
 * 0 when the 0/1 bytes `valid[0..n)` are all 0, 1 when all 1, -1 when mixed. Four bytes a load:
 * `valid` must start on a 4-byte boundary.
 */
export function uniformBits(valid: Uint8Array, n: number): number {
  const first = valid[0] ?? 0;
  if (first > 1) return -1;
  return uniformBytes(valid, n, first) ? first : -1;
}

/** True when `a[0..n)` is all zero; reads 32-bit words (`a` starts on a 4-byte boundary). */
export function allZero(a: Uint8Array | Uint16Array, n: number): boolean {
  const bytes = a.BYTES_PER_ELEMENT * n;
  const words = new Uint32Array(a.buffer, a.byteOffset, bytes >>> 2);
  let any = 0;
  for (let i = 0; i < words.length; i++) any |= words[i]!;
  for (let i = (words.length << 2) / a.BYTES_PER_ELEMENT; i < n; i++) any |= a[i]!;
  return any === 0;
}

export function varintLength(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v >>>= 7;
    n++;
  }
  return n;
}

/** Levels that are all `value`: one RLE run, with the 4-byte length prefix. */
export function rleLevels(value: number, n: number, bitWidth: number): Uint8Array {
  const width = (bitWidth + 7) >>> 3;
  const out = new Uint8Array(4 + 5 + width);
  let at = putVarint(out, 4, n << 1);
  for (let k = 0; k < width; k++) out[at++] = (value >>> (8 * k)) & 0xff;
  new DataView(out.buffer).setUint32(0, at - 4, true);
  return out.subarray(0, at);
}

/**
 * Levels of width 1 or 2 from one byte per level (list columns), with the 4-byte length prefix.
 * One RLE run when all levels are equal. Reads four levels a load: `levels` starts on a 4-byte
 * boundary and has room to be read up to the next multiple of 8 past n.
 */
export function packLevels(levels: Uint8Array, n: number, bitWidth: 1 | 2): Uint8Array {
  const first = levels[0] ?? 0;
  if (uniformBytes(levels, n, first)) return rleLevels(first, n, bitWidth);
  const groups = (n + 7) >>> 3;
  const out = new Uint8Array(4 + 5 + groups * bitWidth);
  let at = putVarint(out, 4, (groups << 1) | 1);
  // levels past n are read as they are: padding, which readers ignore (the page says how many there are)
  const words = new Uint32Array(levels.buffer, levels.byteOffset, 2 * groups);
  if (bitWidth === 1) {
    for (let g = 0; g < groups; g++) {
      const a = words[2 * g]!;
      const b = words[2 * g + 1]!;
      out[at++] = fold4(a) | (fold4(b) << 4);
    }
  } else {
    // byte k of a word holds a level of 0..3: it moves from bit 8k to bit 2k
    for (let q = 0; q < 2 * groups; q++) {
      const w = words[q]!;
      out[at++] = (w & 3) | ((w >>> 6) & 0xc) | ((w >>> 12) & 0x30) | ((w >>> 18) & 0xc0);
    }
  }
  new DataView(out.buffer).setUint32(0, at - 4, true);
  return out.subarray(0, at);
}

/** True when bytes[0..n) are all `value`; four bytes a load (`bytes` starts on a 4-byte boundary). */
function uniformBytes(bytes: Uint8Array, n: number, value: number): boolean {
  const word = value * 0x01010101;
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset, n >>> 2);
  for (let i = 0; i < words.length; i++) if (words[i] !== word) return false;
  for (let r = words.length << 2; r < n; r++) if (bytes[r] !== value) return false;
  return true;
}

/**
 * Dictionary indices `ids[0..m)` of a RLE_DICTIONARY data page: the bit-width byte, then one run.
 * Width 8 when every id fits a byte (u16 ids are narrowed by a typed-array copy), else 16.
 * Integer columns of u8/u16 storage use their values as ids (the dictionary is 0..max), so their
 * indices are a plain copy of the column.
 */
export function dictionaryIndices(
  ids: Uint8Array | Uint16Array,
  m: number,
  maxId: number,
  /** where to build a bit-packed section (valid until the next call), else a new array */
  scratch?: Uint8Array,
  /** whether every id is the same, when the caller knows (its min and max): saves a pass */
  constant?: boolean,
): Uint8Array {
  const width = maxId < 256 ? 8 : 16;
  const first = ids[0] ?? 0;
  let same = constant ?? true;
  if (constant === undefined) for (let i = 1; i < m && same; i++) same = ids[i] === first;
  if (same) {
    const out = new Uint8Array(1 + 5 + 2);
    out[0] = width;
    let at = putVarint(out, 1, m << 1);
    out[at++] = first & 0xff;
    if (width === 16) out[at++] = first >>> 8;
    return out.subarray(0, at);
  }
  const groups = (m + 7) >>> 3;
  const bytes = (groups * 8 * width) >>> 3;
  const headerLen = 1 + varintLength((groups << 1) | 1);
  const size = headerLen + bytes + 1;
  const out = scratch && scratch.length >= size ? scratch : new Uint8Array(size);
  out[0] = width;
  putVarint(out, 1, (groups << 1) | 1);
  if (width === 8 || ids instanceof Uint8Array) out.set(ids.subarray(0, m), headerLen);
  else {
    // a 16-bit bit-packed value is its little-endian bytes
    out.set(new Uint8Array(ids.buffer, ids.byteOffset, 2 * m), headerLen);
  }
  // the last group's values past m are padding; a reused scratch must not leave old bytes there
  out.fill(0, headerLen + ((m * width) >>> 3), headerLen + bytes);
  return out.subarray(0, headerLen + bytes);
}

/** Runs of at least this many equal ids are written as RLE runs (shorter ones are bit-packed). */
const MIN_RUN = 8;

/**
 * Dictionary indices `ids[0..m)` of a RLE_DICTIONARY data page at the least bit width `maxId` needs,
 * with RLE runs where an id repeats and bit-packed groups of 8 between them: the bit-width byte, then
 * the runs, into `out` (which needs `hybridBound(m)` bytes); returns its end. Costs a few ns an id more
 * than `dictionaryIndices`, for columns whose ids repeat in runs (a flow's rows) or need few bits.
 */
export function hybridIndices(ids: ArrayLike<number>, m: number, maxId: number, out: Uint8Array): number {
  if (maxId > 0xffff) throw new Error(`dictionary id ${maxId} past 16 bits`);
  // width 1 for a one-entry dictionary: readers differ on width 0
  const width = Math.max(1, 32 - Math.clz32(maxId));
  out[0] = width;
  let at = 1;
  // the bit-packed section being gathered: ids [packFrom, packTo)
  let packFrom = 0;
  let packTo = 0;
  let i = 0;
  while (i < m) {
    const v = ids[i]!;
    let end = i + 1;
    while (end < m && ids[end] === v) end++;
    if (end - i < MIN_RUN) {
      packTo = end;
      i = end;
      continue;
    }
    // a run: the packed section before it is filled to whole groups from the run's first ids
    let from = i;
    const partial = (packTo - packFrom) & 7;
    if (partial !== 0) from += 8 - partial;
    packTo = from;
    if (end - from < MIN_RUN) {
      packTo = end;
      i = end;
      continue;
    }
    at = putPacked(ids, packFrom, packTo, width, out, at);
    at = putVarint(out, at, (end - from) << 1);
    for (let b = 0; b < width; b += 8) out[at++] = (v >>> b) & 0xff;
    packFrom = packTo = i = end;
  }
  return putPacked(ids, packFrom, packTo, width, out, at);
}

/** Bytes `hybridIndices` may write for m ids (at most 16 bits an id, with run headers). */
export function hybridBound(m: number): number {
  return 16 + 2 * m + 6 * Math.ceil(m / MIN_RUN);
}

/** ids [from, to) as one bit-packed run of groups of 8 (the last group padded with 0s). */
function putPacked(
  ids: ArrayLike<number>,
  from: number,
  to: number,
  width: number,
  out: Uint8Array,
  at: number,
): number {
  if (to <= from) return at;
  const groups = (to - from + 7) >>> 3;
  at = putVarint(out, at, (groups << 1) | 1);
  const end = from + 8 * groups;
  // at most 7 bits waiting and 16 coming: the accumulator never passes 23 bits
  let acc = 0;
  let bits = 0;
  for (let k = from; k < end; k++) {
    acc |= (k < to ? ids[k]! : 0) << bits;
    bits += width;
    while (bits >= 8) {
      out[at++] = acc & 0xff;
      acc >>>= 8;
      bits -= 8;
    }
  }
  return at;
}
