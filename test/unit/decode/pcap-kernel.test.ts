/**
 * The pcap kernel (ingest/decode/kernel) against the JavaScript reader and decoders it stands in
 * for. Each capture is decoded twice through the batch sink: once into a batch the sink makes itself
 * (in the kernel's memory, so the kernel takes the records it can) and once into a batch handed in
 * (JavaScript only). Every column of every row, the decode errors, the warnings, the per-interface
 * summaries and the reader's result must be the same, and the kernel must have taken rows (a kernel
 * that declined everything would pass the comparison by testing nothing).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { PacketColumns } from '../../../ingest/columns/packet-columns.ts';
import { packetsToArrow } from '../../../ingest/columns/to-arrow.ts';
import { pcapKernel, takeKernelBatch } from '../../../ingest/decode/kernel/pcap-kernel.ts';
import { PacketBatchSink } from '../../../ingest/packets-from-capture.ts';
import { readCapture } from '../../../ingest/read-capture.ts';
import { corpusOrSkip } from '../ingest/reader-helpers.ts';
import { bytes, eth, frame, ipv4, ipv6, tcp, udp, vlanTag } from './build-frames.ts';

/** An Arrow value as a comparable primitive (lists and structs as their JSON). */
function plain(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  return JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? `${x}n` : x));
}

interface Decoded {
  columns: Map<string, unknown[]>;
  errors: string[];
  warnings: string;
  interfaces: string;
  result: string;
  /** rows the kernel wrote */
  kernelRows: number;
}

/**
 * `file` through the batch sink; `kernel` false hands the sink a batch, which keeps it to JavaScript.
 * `batchRows` sizes the sink's own batch; `keep` makes onBatch keep each full batch and hand back a
 * new one of its own, as a caller that holds its batches does.
 */
async function decode(
  file: string,
  kernel: boolean,
  o: { batchRows?: number; keep?: boolean } = {},
): Promise<Decoded> {
  const k = pcapKernel();
  assert.ok(k !== null, 'the kernel instantiates here');
  const before = k.rows;
  const columns = new Map<string, unknown[]>();
  const errors: string[] = [];
  const rows = o.batchRows ?? 8192;
  const sink = new PacketBatchSink(
    {
      fileId: 0,
      pointFor: () => 0,
      batchRows: rows,
      onBatch: (b) => {
        // what users see: the Arrow columns, nulls where a value is not valid
        const rb = packetsToArrow(b, { points: ['p'], files: [file] });
        for (const f of rb.schema.fields) {
          const vec = rb.getChild(f.name)!;
          const out = columns.get(f.name) ?? [];
          for (let r = 0; r < rb.numRows; r++) out.push(plain(vec.get(r)));
          columns.set(f.name, out);
        }
        for (let r = 0; r < b.length; r++) errors.push(b.errors[b.decodeError[r]!] ?? '?');
        return o.keep ? new PacketColumns(rows) : undefined;
      },
    },
    kernel ? undefined : new PacketColumns(rows),
  );
  const result = await readCapture(file, sink);
  const interfaces = sink.finish();
  return {
    columns,
    errors,
    warnings: JSON.stringify(sink.warnings),
    interfaces: JSON.stringify(interfaces, (_, v) => (typeof v === 'bigint' ? String(v) : v)),
    result: JSON.stringify({ ...result, error: result.error?.line() ?? null }),
    kernelRows: k.rows - before,
  };
}

function assertSame(got: Decoded, want: Decoded, what: string): void {
  assert.equal(got.result, want.result, `${what}: reader result`);
  assert.equal(got.warnings, want.warnings, `${what}: warnings`);
  assert.equal(got.interfaces, want.interfaces, `${what}: interface summaries`);
  assert.deepEqual(got.errors, want.errors, `${what}: decode errors`);
  assert.deepEqual([...got.columns.keys()], [...want.columns.keys()], `${what}: columns`);
  for (const [name, values] of want.columns) {
    const mine = got.columns.get(name)!;
    assert.equal(mine.length, values.length, `${what}: ${name} length`);
    const at = mine.findIndex((v, i) => v !== values[i]);
    assert.equal(
      at,
      -1,
      `${what}: ${name}[${at}] is ${String(mine[at])}, the JavaScript path's ${String(values[at])}`,
    );
  }
}

async function compare(file: string, what: string): Promise<Decoded> {
  const want = await decode(file, false);
  assert.equal(want.kernelRows, 0, `${what}: a handed-in batch never reaches the kernel`);
  const got = await decode(file, true);
  assertSame(got, want, what);
  return got;
}

interface PcapOpts {
  bigEndian?: boolean;
  nano?: boolean;
  modified?: boolean;
  snaplen?: number;
  linkType?: number;
}

interface Rec {
  data: Uint8Array;
  /** bytes captured (default all) and on the wire (default the captured) */
  caplen?: number;
  wirelen?: number;
  sec?: number;
  frac?: number;
}

/** A classic pcap file of `recs`. */
function pcap(recs: readonly Rec[], o: PcapOpts = {}): Uint8Array {
  const le = !o.bigEndian;
  const hdr = o.modified ? 24 : 16;
  const size = 24 + recs.reduce((n, r) => n + hdr + (r.caplen ?? r.data.length), 0);
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  const magic = o.modified ? 0xa1b2cd34 : o.nano ? 0xa1b23c4d : 0xa1b2c3d4;
  v.setUint32(0, magic, le);
  v.setUint16(4, 2, le);
  v.setUint16(6, 4, le);
  v.setUint32(16, o.snaplen ?? 262144, le);
  v.setUint32(20, o.linkType ?? 1, le);
  let at = 24;
  recs.forEach((r, i) => {
    const cap = r.caplen ?? r.data.length;
    v.setUint32(at, r.sec ?? 1_700_000_000 + (i >> 10), le);
    v.setUint32(at + 4, r.frac ?? (i * 977) % (o.nano ? 1_000_000_000 : 1_000_000), le);
    v.setUint32(at + 8, cap, le);
    v.setUint32(at + 12, r.wirelen ?? cap, le);
    out.set(r.data.subarray(0, cap), at + hdr);
    at += hdr + cap;
  });
  return out;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ht-kernel-test-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
let files = 0;
function write(b: Uint8Array): string {
  const p = path.join(dir, `c${files++}.pcap`);
  fs.writeFileSync(p, b);
  return p;
}

const BASES: [string, Uint8Array][] = [
  [
    'ipv4/tcp',
    frame(
      eth(0x0800),
      ipv4({ proto: 6, payloadLen: 20 + 70, id: 0x4321, ttl: 61, tos: 0xb8 }),
      tcp({ sport: 443, dport: 51000, seq: 0xfedcba98, ack: 0x01234567, flags: 0x018 }),
      bytes(70),
    ),
  ],
  [
    'vlan/ipv4/udp',
    frame(
      eth(0x8100),
      vlanTag(300, 0x0800, 5),
      ipv4({ proto: 17, payloadLen: 8 + 21 }),
      udp(53, 33000, 21),
      bytes(21, 7),
    ),
  ],
  [
    'padded ack',
    frame(eth(0x0800), ipv4({ proto: 6, payloadLen: 20 }), tcp({ flags: 0x010 }), [0, 0, 0, 0, 0, 0]),
  ],
  ['ipv6/tcp', frame(eth(0x86dd), ipv6(6, 20 + 33, 57, 0xabcde), tcp({ flags: 0x011 }), bytes(33, 3))],
  [
    'vlan/ipv6/udp',
    frame(eth(0x8100), vlanTag(7, 0x86dd), ipv6(17, 8 + 90), udp(5353, 5353, 90), bytes(90, 5)),
  ],
  ['tso ipv4', frame(eth(0x0800), ipv4({ proto: 6, payloadLen: 20, totalLen: 0 }), tcp({}), bytes(40))],
  ['vxlan port', frame(eth(0x0800), ipv4({ proto: 17, payloadLen: 8 + 30 }), udp(1234, 4789, 30), bytes(30))],
];

/**
 * `probes` with a plain frame the kernel takes after each: the kernel is offered every probe (a long
 * run of records it declines would make the sink stop offering it the next ones).
 */
function interleaved(probes: readonly Rec[]): Rec[] {
  // the padded ACK: shorter than the smallest snaplen below
  return probes.flatMap((p) => [p, { data: BASES[2]![1] }]);
}

test('pcap kernel: every header byte of the common frames mutated, as the JavaScript path decodes them', async () => {
  const recs: Rec[] = [];
  for (const [, base] of BASES) {
    for (let at = 0; at < Math.min(base.length, 82); at++) {
      const orig = base[at]!;
      for (const value of [0x00, 0xff, orig ^ 0x01, orig ^ 0x10, orig ^ 0x40, 0x45, 0x06, 0x11, 0x12, 0xb5]) {
        const b = base.slice();
        b[at] = value & 0xff;
        recs.push({ data: b });
      }
    }
  }
  const got = await compare(write(pcap(interleaved(recs), { nano: true })), 'mutated frames');
  assert.equal(got.errors.length, 2 * recs.length);
  // most mutations leave a frame the kernel takes
  const probesTaken = got.kernelRows - recs.length;
  assert.ok(probesTaken > recs.length / 2, `kernel took ${probesTaken} of ${recs.length}`);
});

test('pcap kernel: every capture length, and lengths and times the reader warns about', async () => {
  const recs: Rec[] = [];
  for (const [, b] of BASES) {
    for (let caplen = 0; caplen <= b.length; caplen++) {
      recs.push({ data: b, caplen, wirelen: b.length });
      recs.push({ data: b, caplen, wirelen: b.length + 1000 });
    }
    recs.push({ data: b, wirelen: b.length - 1 }); // incl_len > orig_len
    recs.push({ data: b, frac: 999_999 });
    recs.push({ data: b, frac: 1_000_000 }); // out of range: carried into the seconds
    recs.push({ data: b, frac: 0xffffffff, sec: 0xffffffff });
  }
  for (const o of [
    {},
    { bigEndian: true },
    { modified: true },
    { snaplen: 80 },
    { bigEndian: true, nano: true },
  ]) {
    const got = await compare(write(pcap(interleaved(recs), o)), `lengths ${JSON.stringify(o)}`);
    const probesTaken = got.kernelRows - recs.length;
    assert.ok(probesTaken > 0, `${JSON.stringify(o)}: the kernel took no probe`);
    assert.ok(probesTaken < recs.length, 'some records are the JavaScript path');
  }
});

test('pcap kernel: more rows than a batch, more hashes than the queue, records across read chunks', async () => {
  const recs: Rec[] = [];
  for (let i = 0; i < 30_000; i++) {
    const [, b] = BASES[i % 5]!;
    // one record in 97 with IP options, which the kernel leaves to the JavaScript path
    const data =
      i % 97 === 0
        ? frame(eth(0x0800), ipv4({ proto: 6, payloadLen: 20, options: [1, 1, 1, 0] }), tcp({}))
        : b;
    recs.push({ data });
  }
  const file = write(pcap(recs));
  assert.ok(fs.statSync(file).size > 3 * 512 * 1024, 'several read chunks');
  const got = await compare(file, 'large file');
  assert.ok(got.kernelRows > 25_000, `kernel took ${got.kernelRows}`);
});

test('pcap kernel: random frames decode as in JavaScript (property)', async () => {
  const field = fc.record({
    base: fc.integer({ min: 0, max: BASES.length - 1 }),
    edits: fc.array(fc.tuple(fc.nat(90), fc.nat(255)), { maxLength: 4 }),
    cut: fc.nat(200),
  });
  await fc.assert(
    fc.asyncProperty(fc.array(field, { minLength: 1, maxLength: 60 }), async (specs) => {
      const recs = specs.map((s) => {
        const b = BASES[s.base]![1].slice();
        for (const [at, v] of s.edits) if (at < b.length) b[at] = v;
        return { data: b, caplen: Math.min(b.length, s.cut), wirelen: b.length };
      });
      const file = write(pcap(recs, { nano: true }));
      const want = await decode(file, false);
      const got = await decode(file, true);
      assertSame(got, want, 'random frames');
      fs.rmSync(file);
    }),
    { numRuns: 60 },
  );
});

/** pcapng blocks, for files the writer (reports/pcapng-writer.ts) would not make: either byte order, options anywhere. */
class Pcapng {
  readonly parts: Uint8Array[] = [];
  constructor(private le = true) {}

  private block(type: number, body: number[]): void {
    const len = 12 + body.length;
    const b = new Uint8Array(len);
    const v = new DataView(b.buffer);
    v.setUint32(0, type, this.le);
    v.setUint32(4, len, this.le);
    b.set(body, 8);
    v.setUint32(len - 4, len, this.le);
    this.parts.push(b);
  }

  private u32(n: number): number[] {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, n, this.le);
    return [...b];
  }

  private u16(n: number): number[] {
    const b = new Uint8Array(2);
    new DataView(b.buffer).setUint16(0, n, this.le);
    return [...b];
  }

  private option(code: number, value: number[]): number[] {
    const pad = (4 - (value.length % 4)) % 4;
    return [...this.u16(code), ...this.u16(value.length), ...value, ...new Array<number>(pad).fill(0)];
  }

  section(le = true): this {
    this.le = le;
    this.block(0x0a0d0d0a, [
      ...this.u32(0x1a2b3c4d),
      ...this.u16(1),
      ...this.u16(0),
      ...new Array<number>(8).fill(0xff),
    ]);
    return this;
  }

  /** `tsresol` as the if_tsresol byte (9: ns, 6: us); `tsoffset` seconds */
  iface(linkType = 1, tsresol = 9, tsoffset = 0): this {
    const opts = [...this.option(9, [tsresol])];
    if (tsoffset !== 0) opts.push(...this.option(14, [tsoffset, 0, 0, 0, 0, 0, 0, 0]));
    this.block(1, [...this.u16(linkType), 0, 0, ...this.u32(262144), ...opts, 0, 0, 0, 0]);
    return this;
  }

  epb(iface: number, data: Uint8Array, o: { caplen?: number; wirelen?: number; flags?: number } = {}): this {
    const cap = o.caplen ?? data.length;
    const ts = 1_700_000_000_123_456_789n + BigInt(this.parts.length);
    const pad = (4 - (cap % 4)) % 4;
    const opts = o.flags === undefined ? [] : [...this.option(2, this.u32(o.flags)), 0, 0, 0, 0];
    this.block(6, [
      ...this.u32(iface),
      ...this.u32(Number(ts >> 32n)),
      ...this.u32(Number(ts & 0xffffffffn)),
      ...this.u32(cap),
      ...this.u32(o.wirelen ?? cap),
      ...data.subarray(0, cap),
      ...new Array<number>(pad).fill(0),
      ...opts,
    ]);
    return this;
  }

  isb(iface: number): this {
    this.block(5, [...this.u32(iface), ...this.u32(0), ...this.u32(0), 0, 0, 0, 0]);
    return this;
  }

  bytes(): Uint8Array {
    return Buffer.concat(this.parts);
  }
}

test('pcap kernel: pcapng EPBs of any interface, options, byte order, resolution and section decode as in JavaScript', async () => {
  const frames = BASES.map(([, b]) => b);
  const g = new Pcapng().section().iface(1).iface(1).iface(1, 6).iface(113).iface(1, 9, 5);
  for (let i = 0; i < 3000; i++) {
    const data = frames[i % frames.length]!;
    // mostly interface 0; others now and then: a second Ethernet one, microseconds, SLL, an offset
    const iface = i % 11 === 0 ? 1 + (i % 4) : 0;
    g.epb(iface, data, {
      ...(i % 13 === 0 ? { flags: 1 + (i % 2) } : {}),
      ...(i % 17 === 0 ? { caplen: Math.min(data.length, 40), wirelen: data.length } : {}),
    });
    if (i % 500 === 0) g.isb(0);
  }
  // a second section in the other byte order
  g.section(false).iface(1);
  for (let i = 0; i < 2000; i++) g.epb(0, frames[i % frames.length]!);
  const got = await compare(write(g.bytes()), 'pcapng');
  // the kernel declines the tso and vxlan frames, and every block it leaves to the reader
  assert.ok(got.kernelRows > 2500, `kernel took ${got.kernelRows}`);
  assert.ok(got.kernelRows < 5000, 'some blocks are the JavaScript path');
});

test('pcap kernel: pcapng EPBs across read chunks and batches, mutated frames', async () => {
  const g = new Pcapng().section().iface(1);
  let n = 0;
  for (const [, base] of BASES) {
    for (let at = 0; at < Math.min(base.length, 82); at++) {
      for (const value of [0x00, 0xff, base[at]! ^ 0x01, 0x45, 0x11]) {
        const b = base.slice();
        b[at] = value;
        g.epb(0, b);
        n++;
      }
    }
  }
  for (let i = 0; i < 20_000; i++) g.epb(0, BASES[i % 4]![1]);
  const file = write(g.bytes());
  assert.ok(fs.statSync(file).size > 2 * 512 * 1024, 'several read chunks');
  const got = await compare(file, 'pcapng large');
  assert.ok(got.kernelRows > 20_000, `kernel took ${got.kernelRows} of ${n + 20_000}`);
});

// Records the kernel must leave to the reader, each of them a check of the C no other test reaches
// (found by breaking the C one line at a time in review).

const TCP4 = frame(
  eth(0x0800),
  ipv4({ proto: 6, payloadLen: 20 + 70 }),
  tcp({ sport: 443, dport: 51000, seq: 1, ack: 2, flags: 0x018 }),
  bytes(70),
);

/** The byte offset of block `i` of a Pcapng builder's file. */
const blockAt = (g: Pcapng, i: number): number => g.parts.slice(0, i).reduce((n, p) => n + p.length, 0);

test('pcap kernel: a pcap record longer than the link type allows, whole in one read chunk, is the reader error', async () => {
  const big = new Uint8Array(300_000);
  big.set(TCP4);
  const file = write(pcap([{ data: TCP4 }, { data: big }, { data: TCP4 }], { snaplen: 1_000_000 }));
  const got = await compare(file, 'incl_len > 262144');
  assert.equal(got.kernelRows, 1);
  assert.match(got.result, /record-too-large/);
});

test('pcap kernel: UDP from a tunnel port (VXLAN, Geneve) is the reader path', async () => {
  const f = frame(eth(0x0800), ipv4({ proto: 17, payloadLen: 8 + 30 }), udp(4789, 1234, 30), bytes(30));
  const g = frame(eth(0x0800), ipv4({ proto: 17, payloadLen: 8 + 30 }), udp(6081, 1234, 30), bytes(30));
  const got = await compare(write(pcap([{ data: TCP4 }, { data: f }, { data: g }])), 'tunnel source port');
  assert.equal(got.kernelRows, 1);
});

test('pcap kernel: a capture of records the kernel declines decodes as in JavaScript (overlay, 802.1ad)', async () => {
  // every record VXLAN or QinQ: the sink stops offering the kernel each buffer after a run of declines
  const vxlan = frame(eth(0x0800), ipv4({ proto: 17, payloadLen: 8 + 30 }), udp(1234, 4789, 30), bytes(30));
  const qinq = frame(eth(0x88a8), vlanTag(300, 0x0800), ipv4({ proto: 6, payloadLen: 20 }), tcp({}));
  const recs = Array.from({ length: 20_000 }, (_, i) => ({
    data: i % 1000 === 999 ? TCP4 : i % 2 ? vxlan : qinq,
  }));
  const got = await compare(write(pcap(recs)), 'declined throughout');
  assert.ok(got.kernelRows < 20, `kernel took ${got.kernelRows}`);
});

test('pcap kernel: EPBs the reader refuses or skips (caplen over the maximum, bad trailer, length, custom block)', async () => {
  const big = new Uint8Array(300_000);
  big.set(TCP4);
  // the first EPB is the reader's (it picks the interface); the kernel is offered the second
  const tooLong = new Pcapng().section().iface(1).epb(0, TCP4).epb(0, big).epb(0, TCP4);
  await compare(write(tooLong.bytes()), 'epb caplen > max');
  const edits: [string, (v: DataView, at: number, len: number) => void][] = [
    ['bad trailer', (v, at, len) => v.setUint32(at + len - 4, 1000, true)],
    ['length 28', (v, at) => v.setUint32(at + 4, 28, true)],
    // same length, and the PEN where the interface id was (0)
    ['custom block', (v, at) => v.setUint32(at, 0xbad, true)],
  ];
  for (const [what, edit] of edits) {
    const g = new Pcapng().section().iface(1).epb(0, TCP4).epb(0, TCP4).epb(0, TCP4);
    const b = g.bytes();
    edit(new DataView(b.buffer, b.byteOffset), blockAt(g, 3), g.parts[3]!.length);
    await compare(write(b), what);
  }
});

test('pcap kernel: onBatch keeping its batches (the kernel stops, JavaScript goes on)', async () => {
  const icmp = frame(eth(0x0800), ipv4({ proto: 1, payloadLen: 8 }), bytes(8));
  const file = write(pcap(Array.from({ length: 3000 }, (_, i) => ({ data: i % 7 === 0 ? icmp : TCP4 }))));
  const want = await decode(file, false);
  const k = pcapKernel()!;
  for (const rows of [1000, 37, 5000]) {
    const free = k.free.length;
    const got = await decode(file, true, { batchRows: rows, keep: true });
    assertSame(got, want, `onBatch keeps its batches, ${rows} rows`);
    assert.ok(got.kernelRows > 0 && got.kernelRows <= rows, `kernel rows ${got.kernelRows}`);
    // the first batch is the caller's for good: its slot stays taken
    assert.equal(k.free.length, free - 1);
  }
});

test('pcap kernel: a slot taken again at other capacities reads as a fresh batch', async () => {
  const icmp = frame(eth(0x0800), ipv4({ proto: 1, payloadLen: 8 }), [8, 0, 0, 0, 0, 1, 0, 2]);
  const mixed = write(pcap(Array.from({ length: 3000 }, (_, i) => ({ data: i % 3 === 0 ? icmp : TCP4 }))));
  const tcpOnly = write(pcap(Array.from({ length: 3000 }, () => ({ data: TCP4 }))));
  const k = pcapKernel()!;
  for (const rows of [8192, 37, 5000, 100, 32768]) {
    for (const file of [mixed, tcpOnly]) {
      const slot = k.free[k.free.length - 1];
      const want = await decode(file, false, { batchRows: rows });
      const got = await decode(file, true, { batchRows: rows });
      assert.equal(k.free[k.free.length - 1], slot, 'the same slot');
      assertSame(got, want, `slot at ${rows} rows`);
    }
  }
});

test('pcap kernel: two sinks reading at once on one thread', async () => {
  const mk = (seed: number) =>
    write(
      pcap(
        Array.from({ length: 20_000 }, (_, i) => ({
          data:
            (i + seed) % 5 === 0
              ? frame(eth(0x86dd), ipv6(17, 8 + 40), udp(5353, 5353, 40), bytes(40, seed))
              : frame(
                  eth(0x0800),
                  ipv4({ proto: 6, payloadLen: 20 + 60 }),
                  tcp({ seq: i }),
                  bytes(60, seed + i),
                ),
        })),
      ),
    );
  const a = mk(1);
  const b = mk(2);
  const wantA = await decode(a, false);
  const wantB = await decode(b, false);
  const [gotA, gotB] = await Promise.all([decode(a, true), decode(b, true)]);
  assertSame(gotA, wantA, 'sink A');
  assertSame(gotB, wantB, 'sink B');
  assert.ok(gotA.kernelRows > 10_000 && gotB.kernelRows > 10_000);
});

test('pcap kernel: a sink read again after finish gives the same rows, in JavaScript', async () => {
  const file = write(pcap(Array.from({ length: 100 }, (_, i) => ({ data: BASES[i % 5]![1] }))));
  const want = await decode(file, false);
  const k = pcapKernel()!;
  const free = k.free.length;
  const frames: number[] = [];
  const fingerprints: number[] = [];
  const sink = new PacketBatchSink({
    fileId: 0,
    pointFor: () => 0,
    onBatch: (b) => {
      for (let r = 0; r < b.length; r++) {
        frames.push(b.frame[r]!);
        fingerprints.push(b.fingerprintValid[r] ? b.fingerprint[2 * r]! : -1);
      }
    },
  });
  await readCapture(file, sink);
  sink.finish();
  assert.equal(k.free.length, free, 'finish gave the kernel batch back');
  const before = k.rows;
  await readCapture(file, sink);
  sink.finish();
  assert.equal(k.rows, before, 'the second read is JavaScript only');
  assert.equal(frames.length, 200);
  assert.deepEqual(frames.slice(100), frames.slice(0, 100));
  assert.deepEqual(fingerprints.slice(100), fingerprints.slice(0, 100));
  // the same fingerprints as the JavaScript path's (as Arrow shows them: null where not valid)
  const arrow = want.columns
    .get('fingerprint')!
    .map((v) => (v === null ? -1 : Number(BigInt.asUintN(32, BigInt(v as bigint)))));
  assert.deepEqual(fingerprints.slice(0, 100), arrow);
});

test('pcap kernel: a sink of no rows ends, and a sink abandoned before finish gives its batch back', async () => {
  const file = write(pcap(Array.from({ length: 50 }, () => ({ data: TCP4 }))));
  const k = pcapKernel()!;
  const free = k.free.length;
  // a kernel batch of no rows once made the bulk loop spin: there is none
  assert.equal(takeKernelBatch(0), null);
  assert.equal(k.free.length, free);
  const sink = new PacketBatchSink({
    fileId: 0,
    pointFor: () => 0,
    batchRows: 16,
    onBatch: () => {
      throw new Error('stop');
    },
  });
  assert.equal(k.free.length, free - 1, 'the sink took a kernel batch');
  await assert.rejects(readCapture(file, sink), /stop/);
  sink.dispose();
  assert.equal(k.free.length, free, 'dispose gave it back');
});

const corpus = corpusOrSkip();

test('pcap kernel: every pcap and pcapng of the corpus decodes as in JavaScript', {
  skip: corpus === null,
}, async () => {
  const found: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else found.push(p);
    }
  };
  walk(corpus!);
  let taken = 0;
  let compared = 0;
  for (const file of found.sort()) {
    const head = fs.readFileSync(file).subarray(0, 4);
    if (head.length < 4) continue;
    // classic pcap in either byte order, pcapng, and compressed files (which may hold either)
    const magic = head.readUInt32LE(0);
    const pcapMagic = [0xa1b2c3d4, 0xa1b23c4d, 0xa1b2cd34].some(
      (m) => m === magic || m === head.readUInt32BE(0),
    );
    const compressed = (head[0] === 0x1f && head[1] === 0x8b) || magic === 0xfd2fb528;
    if (!pcapMagic && !compressed && magic !== 0x0a0d0d0a) continue;
    const got = await compare(file, path.relative(corpus!, file));
    taken += got.kernelRows;
    compared++;
  }
  assert.ok(compared > 50, `${compared} files compared`);
  // the corpus is mostly odd captures of a few records each: 97 of its rows are the kernel's
  assert.ok(taken > 50, `the kernel took ${taken} rows of the corpus`);
});
