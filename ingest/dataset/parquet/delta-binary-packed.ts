/**
 * Parquet's DELTA_BINARY_PACKED encoding, for the columns whose neighbouring values are close: frame
 * numbers (+1 a row), file offsets (+ a record's size) and capture times. A page is a header
 * (`<block size> <miniblocks per block> <value count> <first value, zigzag>`, varints), then per block
 * of 128 deltas the smallest delta (zigzag varint), one bit width per miniblock of 32, and each
 * miniblock's deltas minus the smallest, bit-packed LSB first at its width. A frame column packs to
 * nothing but headers, offsets to ~11 bits and times to ~16-24 bits a row instead of 32 or 64.
 *
 * Deltas come in as int32 (the usual case: integer arithmetic throughout) or as doubles exact below
 * 2^53 (pages with gaps of seconds between capture times); a page whose deltas do not fit either stays
 * PLAIN (the caller checks with `exactDeltas`). A 32-value miniblock at width w is exactly w 32-bit words, so the packer emits whole
 * words and never carries bits from one miniblock to the next.
 */
import { putVarint } from './rle-hybrid.ts';

const BLOCK = 128;
const MINIBLOCK = 32;
const MINIBLOCKS = BLOCK / MINIBLOCK;
const TWO_32 = 4294967296;
/** deltas beyond this are not exact as doubles (and could not be told from their neighbours) */
const MAX_DELTA = 2 ** 52;

/** Upper bound of the encoded size of `count` values. */
export function deltaPackedBound(count: number): number {
  const blocks = Math.ceil(count / BLOCK);
  // header <= 27 bytes; a block: min delta <= 10 bytes, 4 widths, 128 values of at most 54 bits
  return 32 + blocks * (14 + (BLOCK * 54) / 8);
}

/** True when every delta is exact as a double (so the page can be DELTA_BINARY_PACKED). */
export function exactDeltas(d: Float64Array, count: number): boolean {
  for (let i = 0; i < count; i++) {
    const x = d[i]!;
    if (x > MAX_DELTA || x < -MAX_DELTA) return false;
  }
  return true;
}

/** Writes the zigzag varint of the signed 64-bit value `hi:lo` (hi as int32) at `at`; returns the end. */
export function putZigzag64(out: Uint8Array, at: number, hi: number, lo: number): number {
  const sign = hi >> 31;
  let zhi = (((hi << 1) | (lo >>> 31)) ^ sign) >>> 0;
  let zlo = ((lo << 1) ^ sign) >>> 0;
  while (zhi !== 0 || zlo >= 0x80) {
    out[at++] = (zlo & 0x7f) | 0x80;
    zlo = ((zlo >>> 7) | ((zhi & 0x7f) << 25)) >>> 0;
    zhi >>>= 7;
  }
  out[at++] = zlo;
  return at;
}

/** zigzag varint of an integral double below 2^53 in magnitude */
function putZigzagDouble(out: Uint8Array, at: number, x: number): number {
  const hi = Math.floor(x / TWO_32);
  return putZigzag64(out, at, hi | 0, (x - hi * TWO_32) >>> 0);
}

function bitWidth(max: number): number {
  if (max < TWO_32) return 32 - Math.clz32(max);
  return 64 - Math.clz32(Math.floor(max / TWO_32));
}

function putHeader(out: Uint8Array, at: number, count: number, firstHi: number, firstLo: number): number {
  at = putVarint(out, at, BLOCK);
  at = putVarint(out, at, MINIBLOCKS);
  at = putVarint(out, at, count);
  return putZigzag64(out, at, firstHi, firstLo);
}

/** The m - 1 deltas of a page's m values: int32 (the usual case), or exact doubles. */
export type Deltas = { kind: 'int32'; d: Int32Array } | { kind: 'double'; d: Float64Array };

/**
 * Encodes `count` values: the first as `firstHi:firstLo` (signed 64-bit lanes), the others by their
 * deltas (d[i] = value[i+1] - value[i]). Returns the end offset in `out` (at least
 * deltaPackedBound(count) bytes from `at`).
 */
export function deltaBinaryPacked(
  firstHi: number,
  firstLo: number,
  deltas: Deltas,
  count: number,
  out: Uint8Array,
  at: number,
): number {
  at = putHeader(out, at, count, firstHi, firstLo);
  for (let b = 0; b < count - 1; b += BLOCK) {
    const end = Math.min(count - 1, b + BLOCK);
    at =
      deltas.kind === 'int32'
        ? int32Block(deltas.d, b, end, out, at)
        : doubleBlock(deltas.d, b, end, out, at);
  }
  return at;
}

/**
 * One block of int32 deltas. Every miniblock gets the block's width rounded up to whole bytes (0, 8,
 * 16, 24 or 32 bits): values are then stored byte by byte with no bit shuffling (~1.5 ns a value
 * against ~4 for exact widths), for at most 7 bits a value more.
 */
function int32Block(d: Int32Array, b: number, end: number, out: Uint8Array, at: number): number {
  let min = d[b]!;
  let max = min;
  for (let i = b + 1; i < end; i++) {
    const x = d[i]!;
    if (x < min) min = x;
    else if (x > max) max = x;
  }
  at = putZigzag64(out, at, min >> 31, min >>> 0);
  // max - min is below 2^32; its bytes, as int32 bits
  const span = (max - min) | 0;
  const bytes = span === 0 ? 0 : (39 - Math.clz32(span)) >>> 3;
  // miniblocks past the last value have width 0 and no bytes
  const used = (end - b + MINIBLOCK - 1) >>> 5;
  for (let q = 0; q < MINIBLOCKS; q++) out[at + q] = q < used ? 8 * bytes : 0;
  at += MINIBLOCKS;
  if (bytes === 0) return at;
  at = packBytes(d, b, end, min, bytes, out, at);
  // the last miniblock is padded to 32 values
  const pad = bytes * (b + used * MINIBLOCK - end);
  out.fill(0, at, at + pad);
  return at + pad;
}

/** `d[from..to) - min` as little-endian values of `bytes` bytes. */
function packBytes(
  d: Int32Array,
  from: number,
  to: number,
  min: number,
  bytes: number,
  out: Uint8Array,
  at: number,
): number {
  // wrapping int32 subtraction: the low 32 bits of the difference are the value
  switch (bytes) {
    case 1:
      for (let i = from; i < to; i++) out[at++] = d[i]! - min;
      break;
    case 2:
      for (let i = from; i < to; i++) {
        const v = (d[i]! - min) | 0;
        out[at] = v;
        out[at + 1] = v >>> 8;
        at += 2;
      }
      break;
    case 3:
      for (let i = from; i < to; i++) {
        const v = (d[i]! - min) | 0;
        out[at] = v;
        out[at + 1] = v >>> 8;
        out[at + 2] = v >>> 16;
        at += 3;
      }
      break;
    default:
      for (let i = from; i < to; i++) {
        const v = (d[i]! - min) | 0;
        out[at] = v;
        out[at + 1] = v >>> 8;
        out[at + 2] = v >>> 16;
        out[at + 3] = v >>> 24;
        at += 4;
      }
  }
  return at;
}

/** One block of exact double deltas, each miniblock at its own width (up to 54 bits). */
function doubleBlock(d: Float64Array, b: number, end: number, out: Uint8Array, at: number): number {
  let min = d[b]!;
  for (let i = b + 1; i < end; i++) if (d[i]! < min) min = d[i]!;
  at = putZigzagDouble(out, at, min);
  const widths = at;
  at += MINIBLOCKS;
  for (let q = 0; q < MINIBLOCKS; q++) {
    const from = b + q * MINIBLOCK;
    if (from >= end) {
      out[widths + q] = 0;
      continue;
    }
    const to = Math.min(end, from + MINIBLOCK);
    let max = 0;
    for (let i = from; i < to; i++) {
      const u = d[i]! - min;
      if (u > max) max = u;
    }
    const w = bitWidth(max);
    out[widths + q] = w;
    if (w > 0) at = packMiniblock(d, from, to, min, w, out, at);
  }
  return at;
}

/**
 * 32 values `d[i] - min` (0 past `to`) at width w <= 54, LSB first: w little-endian words (32 values
 * of w bits end on a word boundary). A value wider than 32 bits goes as its low word, then the rest.
 */
function packMiniblock(
  d: Float64Array,
  from: number,
  to: number,
  min: number,
  w: number,
  out: Uint8Array,
  at: number,
): number {
  const bits = new BitWriter(out, at);
  for (let i = from; i < from + MINIBLOCK; i++) {
    const u = i < to ? d[i]! - min : 0;
    if (w <= 32) bits.put(u >>> 0, w);
    else {
      const hi = Math.floor(u / TWO_32);
      bits.put((u - hi * TWO_32) >>> 0, 32);
      bits.put(hi, w - 32);
    }
  }
  return bits.at;
}

/** Appends values of up to 32 bits to `out`, LSB first, a 32-bit word at a time. */
class BitWriter {
  private acc = 0;
  private bits = 0;

  constructor(
    private readonly out: Uint8Array,
    public at: number,
  ) {}

  put(v: number, w: number): void {
    this.acc |= v << this.bits;
    this.bits += w;
    if (this.bits < 32) return;
    const out = this.out;
    const acc = this.acc;
    out[this.at] = acc;
    out[this.at + 1] = acc >>> 8;
    out[this.at + 2] = acc >>> 16;
    out[this.at + 3] = acc >>> 24;
    this.at += 4;
    this.bits -= 32;
    // the bits of v that did not fit start the next word
    this.acc = this.bits === 0 ? 0 : v >>> (w - this.bits);
  }
}
