/**
 * Deterministic benchmark captures: N packets of a realistic mix (small and large TCP, UDP, IPv6,
 * VLAN-tagged), written as nanosecond pcap and as pcapng with the same records.
 * The mix, per 100 packets: 55 small TCP (ACKs, short requests), 5 full-size TCP, 20 UDP,
 * 12 IPv6 TCP, 8 VLAN-tagged IPv4 TCP.
 */
import fs from 'node:fs';
import { pcapngBytes } from '../reports/pcapng-writer.ts';

/** mulberry32: a tiny seeded PRNG, so every run writes the same bytes */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Kind = 'tcp' | 'tcp-large' | 'udp' | 'tcp6' | 'vlan';

function kindOf(i: number): Kind {
  const k = i % 100;
  if (k < 55) return 'tcp';
  if (k < 60) return 'tcp-large';
  if (k < 80) return 'udp';
  if (k < 92) return 'tcp6';
  return 'vlan';
}

/** Writes one frame of the given kind at `at` in `buf`; returns its length. */
function writeFrame(buf: Buffer, at: number, kind: Kind, i: number, rnd: () => number): number {
  const payload =
    kind === 'tcp-large' ? 1448 : kind === 'udp' ? 64 + Math.floor(rnd() * 128) : Math.floor(rnd() * 40);
  let o = at;
  // Ethernet
  buf.writeUInt32BE(0x02000000 | (i & 0xff), o);
  buf.writeUInt16BE(0x0001, o + 4);
  buf.writeUInt32BE(0x02000000 | ((i >> 8) & 0xff), o + 6);
  buf.writeUInt16BE(0x0002, o + 10);
  o += 12;
  if (kind === 'vlan') {
    buf.writeUInt16BE(0x8100, o);
    buf.writeUInt16BE(100 + (i % 50), o + 2);
    o += 4;
  }
  const v6 = kind === 'tcp6';
  buf.writeUInt16BE(v6 ? 0x86dd : 0x0800, o);
  o += 2;
  const l4len = (kind === 'udp' ? 8 : 20) + payload;
  const proto = kind === 'udp' ? 17 : 6;
  if (v6) {
    buf.writeUInt32BE(0x60000000 | (i & 0xfffff), o);
    buf.writeUInt16BE(l4len, o + 4);
    buf[o + 6] = proto;
    buf[o + 7] = 64;
    buf.writeUInt32BE(0x20010db8, o + 8);
    buf.fill(0, o + 12, o + 20);
    buf.writeUInt32BE(i % 5000, o + 20);
    buf.writeUInt32BE(0x20010db8, o + 24);
    buf.fill(0, o + 28, o + 36);
    buf.writeUInt32BE(1 + (i % 7), o + 36);
    o += 40;
  } else {
    buf[o] = 0x45;
    buf[o + 1] = 0;
    buf.writeUInt16BE(20 + l4len, o + 2);
    buf.writeUInt16BE(i & 0xffff, o + 4);
    buf.writeUInt16BE(0x4000, o + 6);
    buf[o + 8] = 64;
    buf[o + 9] = proto;
    buf.writeUInt16BE(0, o + 10);
    buf.writeUInt32BE((0x0a000000 + (i % 65000)) >>> 0, o + 12);
    buf.writeUInt32BE((0xc0a80000 + (i % 31)) >>> 0, o + 16);
    o += 20;
  }
  buf.writeUInt16BE(30000 + (i % 20000), o);
  buf.writeUInt16BE(kind === 'udp' ? 53 : 443, o + 2);
  if (kind === 'udp') {
    buf.writeUInt16BE(l4len, o + 4);
    buf.writeUInt16BE(0, o + 6);
    o += 8;
  } else {
    buf.writeUInt32BE((i * 2654435761) >>> 0, o + 4);
    buf.writeUInt32BE((i * 40503) >>> 0, o + 8);
    buf.writeUInt16BE(0x5010 | (payload > 0 ? 0x08 : 0), o + 12);
    buf.writeUInt16BE(502, o + 14);
    buf.writeUInt32BE(0, o + 16);
    o += 20;
  }
  for (let k = 0; k < payload; k++) buf[o + k] = (i + k * 31) & 0xff;
  o += payload;
  // Ethernet minimum frame size: short frames carry padding the IP decoder must cut
  const len = Math.max(o - at, 60);
  buf.fill(0, o, at + len);
  return len;
}

export interface GeneratedCaptures {
  pcap: string;
  pcapng: string;
  packets: number;
  bytes: number;
}

/** Writes `<base>.pcap` and `<base>.pcapng` with `packets` records unless they already exist. */
export function generateCaptures(base: string, packets: number): GeneratedCaptures {
  const pcap = `${base}.pcap`;
  const pcapng = `${base}.pcapng`;
  // versioned: files of an older generator are written again
  const done = `${base}.done-v2`;
  if (fs.existsSync(done)) {
    return { pcap, pcapng, packets, bytes: fs.statSync(pcap).size };
  }
  const rnd = prng(42);
  const a = fs.openSync(pcap, 'w');
  const b = fs.openSync(pcapng, 'w');
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b23c4d, 0); // nanosecond pcap
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(262144, 16);
  header.writeUInt32LE(1, 20);
  fs.writeSync(a, header);
  // SHB and one IDB (Ethernet, if_name eth0, ns timestamps) from the project's pcapng writer
  fs.writeSync(b, pcapngBytes([{ name: 'eth0', linkType: 1, snaplen: 262144 }], [], 'hoptrace bench'));

  const chunk = Buffer.alloc(8 << 20);
  const ngChunk = Buffer.alloc(9 << 20);
  const frame = Buffer.alloc(2048);
  let used = 0;
  let ngUsed = 0;
  let ts = 1_764_000_000_000_000_000n;
  let bytes = 24;
  for (let i = 0; i < packets; i++) {
    const len = writeFrame(frame, 0, kindOf(i), i, rnd);
    ts += BigInt(1000 + Math.floor(rnd() * 5000));
    const sec = Number(ts / 1_000_000_000n);
    const ns = Number(ts % 1_000_000_000n);
    if (used + 16 + len > chunk.length) {
      fs.writeSync(a, chunk, 0, used);
      used = 0;
    }
    chunk.writeUInt32LE(sec, used);
    chunk.writeUInt32LE(ns, used + 4);
    chunk.writeUInt32LE(len, used + 8);
    chunk.writeUInt32LE(len, used + 12);
    frame.copy(chunk, used + 16, 0, len);
    used += 16 + len;
    bytes += 16 + len;
    const padded = (len + 3) & ~3;
    const blockLen = 32 + padded;
    if (ngUsed + blockLen > ngChunk.length) {
      fs.writeSync(b, ngChunk, 0, ngUsed);
      ngUsed = 0;
    }
    ngChunk.writeUInt32LE(6, ngUsed);
    ngChunk.writeUInt32LE(blockLen, ngUsed + 4);
    ngChunk.writeUInt32LE(0, ngUsed + 8);
    ngChunk.writeUInt32LE(Number(ts >> 32n), ngUsed + 12);
    ngChunk.writeUInt32LE(Number(ts & 0xffffffffn), ngUsed + 16);
    ngChunk.writeUInt32LE(len, ngUsed + 20);
    ngChunk.writeUInt32LE(len, ngUsed + 24);
    frame.copy(ngChunk, ngUsed + 28, 0, len);
    ngChunk.fill(0, ngUsed + 28 + len, ngUsed + 28 + padded);
    ngChunk.writeUInt32LE(blockLen, ngUsed + 28 + padded);
    ngUsed += blockLen;
  }
  fs.writeSync(a, chunk, 0, used);
  fs.writeSync(b, ngChunk, 0, ngUsed);
  fs.closeSync(a);
  fs.closeSync(b);
  fs.writeFileSync(done, `${packets}\n`);
  return { pcap, pcapng, packets, bytes };
}
