/** Hand-built pcap and pcapng bytes for reader tests, in either byte order. */

export class Bytes {
  private readonly parts: number[] = [];
  constructor(readonly le: boolean) {}
  u8(v: number): this {
    this.parts.push(v & 0xff);
    return this;
  }
  u16(v: number): this {
    return this.le ? this.u8(v).u8(v >>> 8) : this.u8(v >>> 8).u8(v);
  }
  u32(v: number): this {
    return this.le ? this.u16(v & 0xffff).u16(v >>> 16) : this.u16(v >>> 16).u16(v & 0xffff);
  }
  u64(v: bigint): this {
    const hi = Number((v >> 32n) & 0xffffffffn);
    const lo = Number(v & 0xffffffffn);
    return this.le ? this.u32(lo).u32(hi) : this.u32(hi).u32(lo);
  }
  raw(b: ArrayLike<number>): this {
    for (let i = 0; i < b.length; i++) this.parts.push(b[i]! & 0xff);
    return this;
  }
  pad4(): this {
    while (this.parts.length % 4 !== 0) this.parts.push(0);
    return this;
  }
  get length(): number {
    return this.parts.length;
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function frame(len: number, seed = 1): Uint8Array {
  return Uint8Array.from({ length: len }, (_, i) => (i * 7 + seed) & 0xff);
}

export interface PcapRec {
  sec: number;
  frac: number;
  data: Uint8Array;
  orig?: number;
  incl?: number;
}

export function pcapHeader(
  le: boolean,
  opts: { magic?: number; major?: number; minor?: number; snaplen?: number; link?: number } = {},
): Uint8Array {
  return new Bytes(le)
    .u32(opts.magic ?? 0xa1b2c3d4)
    .u16(opts.major ?? 2)
    .u16(opts.minor ?? 4)
    .u32(0)
    .u32(0)
    .u32(opts.snaplen ?? 65535)
    .u32(opts.link ?? 1)
    .bytes();
}

export function pcapRecord(le: boolean, r: PcapRec, modified = false): Uint8Array {
  const b = new Bytes(le)
    .u32(r.sec)
    .u32(r.frac)
    .u32(r.incl ?? r.data.length)
    .u32(r.orig ?? r.data.length);
  if (modified) b.u32(7).u16(0x0800).u8(0).u8(0);
  return b.raw(r.data).bytes();
}

export function pcapFile(le: boolean, hdr: Parameters<typeof pcapHeader>[1], recs: PcapRec[]): Uint8Array {
  const modified = hdr?.magic === 0xa1b2cd34;
  return concat(pcapHeader(le, hdr), ...recs.map((r) => pcapRecord(le, r, modified)));
}

/** An option list: [code, value bytes]; opt_endofopt appended. */
export type Opt = [number, Uint8Array];

export function str(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

function options(b: Bytes, opts: Opt[]): void {
  if (opts.length === 0) return;
  for (const [code, v] of opts) b.u16(code).u16(v.length).raw(v).pad4();
  b.u16(0).u16(0);
}

export function block(le: boolean, type: number, body: (b: Bytes) => void, lenOverride?: number): Uint8Array {
  const inner = new Bytes(le);
  body(inner);
  inner.pad4();
  const total = 12 + inner.length;
  return new Bytes(le)
    .u32(type)
    .u32(lenOverride ?? total)
    .raw(inner.bytes())
    .u32(lenOverride ?? total)
    .bytes();
}

export function shb(le: boolean, opts: Opt[] = [], major = 1, minor = 0): Uint8Array {
  return block(le, 0x0a0d0d0a, (b) => {
    b.u32(0x1a2b3c4d)
      .u16(major)
      .u16(minor)
      .u64(-1n & 0xffffffffffffffffn);
    options(b, opts);
  });
}

export function idb(le: boolean, link = 1, snaplen = 65535, opts: Opt[] = []): Uint8Array {
  return block(le, 1, (b) => {
    b.u16(link).u16(0).u32(snaplen);
    options(b, opts);
  });
}

export function epb(
  le: boolean,
  id: number,
  ts: bigint,
  data: Uint8Array,
  opts: Opt[] = [],
  orig = data.length,
): Uint8Array {
  return block(le, 6, (b) => {
    b.u32(id)
      .u32(Number(ts >> 32n))
      .u32(Number(ts & 0xffffffffn))
      .u32(data.length)
      .u32(orig)
      .raw(data)
      .pad4();
    options(b, opts);
  });
}

export function spb(le: boolean, data: Uint8Array, orig = data.length): Uint8Array {
  return block(le, 3, (b) => {
    b.u32(orig).raw(data);
  });
}

export function pb(
  le: boolean,
  id: number,
  drops: number,
  ts: bigint,
  data: Uint8Array,
  opts: Opt[] = [],
): Uint8Array {
  return block(le, 2, (b) => {
    b.u16(id)
      .u16(drops)
      .u32(Number(ts >> 32n))
      .u32(Number(ts & 0xffffffffn))
      .u32(data.length)
      .u32(data.length)
      .raw(data)
      .pad4();
    options(b, opts);
  });
}

export function isb(le: boolean, id: number, ts: bigint, opts: Opt[]): Uint8Array {
  return block(le, 5, (b) => {
    b.u32(id)
      .u32(Number(ts >> 32n))
      .u32(Number(ts & 0xffffffffn));
    options(b, opts);
  });
}

export function u32opt(le: boolean, v: number): Uint8Array {
  return new Bytes(le).u32(v).bytes();
}

export function u64opt(le: boolean, v: bigint): Uint8Array {
  return new Bytes(le).u64(v).bytes();
}
