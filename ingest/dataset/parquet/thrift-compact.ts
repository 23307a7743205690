/**
 * Thrift compact protocol, write side only, for the few Parquet structs we emit (page headers and the
 * footer). Values are plain numbers: every integer we write (sizes, offsets, row counts) is below 2^53,
 * so no BigInt is needed. Structs are written field by field in increasing id order; the writer keeps
 * the last field id of each open struct because compact field headers store id deltas.
 */

/** Compact protocol element types. */
export const CT = {
  BOOL_TRUE: 1,
  BOOL_FALSE: 2,
  BYTE: 3,
  I16: 4,
  I32: 5,
  I64: 6,
  BINARY: 8,
  LIST: 9,
  STRUCT: 12,
} as const;

const textEncoder = new TextEncoder();

export class ThriftWriter {
  private buf = new Uint8Array(256);
  /** bytes written */
  length = 0;
  private lastId = 0;
  private readonly idStack: number[] = [];

  /** The bytes written so far (a view: copy it before reuse). */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }

  /** Forget everything written, keeping the allocation (page headers reuse one writer). */
  reset(): void {
    this.length = 0;
    this.lastId = 0;
    this.idStack.length = 0;
  }

  private ensure(extra: number): void {
    if (this.length + extra <= this.buf.length) return;
    const grown = new Uint8Array(Math.max(this.buf.length * 2, this.length + extra));
    grown.set(this.buf.subarray(0, this.length));
    this.buf = grown;
  }

  private byte(b: number): void {
    this.ensure(1);
    this.buf[this.length++] = b;
  }

  /** Unsigned varint of a non-negative integer below 2^53 (division, not shifts, past 2^31). */
  varint(v: number): void {
    this.ensure(8);
    while (v >= 0x80) {
      this.buf[this.length++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.length++] = v;
  }

  /** Zigzag varint: 2v for v >= 0, -2v-1 for v < 0 (exact while |v| < 2^52). */
  zigzag(v: number): void {
    this.varint(v >= 0 ? 2 * v : -2 * v - 1);
  }

  private fieldHeader(type: number, id: number): void {
    const delta = id - this.lastId;
    if (delta > 0 && delta <= 15) this.byte((delta << 4) | type);
    else {
      this.byte(type);
      this.zigzag(id);
    }
    this.lastId = id;
  }

  i32(id: number, v: number): void {
    this.fieldHeader(CT.I32, id);
    this.zigzag(v);
  }

  i64(id: number, v: number): void {
    this.fieldHeader(CT.I64, id);
    this.zigzag(v);
  }

  fieldI16(id: number, v: number): void {
    this.fieldHeader(CT.I16, id);
    this.zigzag(v);
  }

  i8(id: number, v: number): void {
    this.fieldHeader(CT.BYTE, id);
    this.byte(v & 0xff);
  }

  bool(id: number, v: boolean): void {
    this.fieldHeader(v ? CT.BOOL_TRUE : CT.BOOL_FALSE, id);
  }

  binary(id: number, v: Uint8Array): void {
    this.fieldHeader(CT.BINARY, id);
    this.rawBinary(v);
  }

  string(id: number, v: string): void {
    this.binary(id, textEncoder.encode(v));
  }

  /** A binary value without field header (list elements). */
  rawBinary(v: Uint8Array): void {
    this.varint(v.length);
    this.ensure(v.length);
    this.buf.set(v, this.length);
    this.length += v.length;
  }

  /** Opens a struct field; close it with `end()`. */
  struct(id: number): void {
    this.fieldHeader(CT.STRUCT, id);
    this.begin();
  }

  /** Starts a struct value (a list element or the top-level struct). */
  begin(): void {
    this.idStack.push(this.lastId);
    this.lastId = 0;
  }

  /** Writes the stop byte of the innermost open struct. */
  end(): void {
    this.byte(0);
    this.lastId = this.idStack.pop() ?? 0;
  }

  /** A list field header; the caller then writes `size` elements of `elemType`. */
  list(id: number, elemType: number, size: number): void {
    this.fieldHeader(CT.LIST, id);
    if (size < 15) this.byte((size << 4) | elemType);
    else {
      this.byte(0xf0 | elemType);
      this.varint(size);
    }
  }

  /** A list element of type I32 (or I16/I64: all zigzag varints). */
  rawZigzag(v: number): void {
    this.zigzag(v);
  }
}
