/**
 * Hand-built frames for the decoder tests: each helper returns one header's bytes, and `frame()`
 * glues them. Checksums are left zero: the decoders never read them.
 */
import { PacketColumns } from '../../../ingest/columns/packet-columns.ts';
import { createDecodeState, type DecodeState, decodeFrame } from '../../../ingest/decode/decode-frame.ts';
import type { PacketRecord } from '../../../ingest/record.ts';

export function u16(n: number): number[] {
  return [(n >>> 8) & 255, n & 255];
}
export function u32(n: number): number[] {
  return [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
}

export const MAC_A = [0x02, 0x00, 0x00, 0x00, 0x00, 0x0a];
export const MAC_B = [0x02, 0x00, 0x00, 0x00, 0x00, 0x0b];

export function eth(type: number, dst = MAC_B, src = MAC_A): number[] {
  return [...dst, ...src, ...u16(type)];
}
export function vlanTag(vid: number, type: number, pcp = 0): number[] {
  return [...u16((pcp << 13) | vid), ...u16(type)];
}

export interface Ip4Opts {
  proto: number;
  payloadLen: number;
  id?: number;
  ttl?: number;
  src?: number;
  dst?: number;
  flagsFrag?: number;
  options?: number[];
  ihl?: number;
  totalLen?: number;
  version?: number;
  tos?: number;
}
export function ipv4(o: Ip4Opts): number[] {
  const opts = o.options ?? [];
  const ihl = o.ihl ?? 5 + opts.length / 4;
  const total = o.totalLen ?? 20 + opts.length + o.payloadLen;
  return [
    ((o.version ?? 4) << 4) | ihl,
    o.tos ?? 0,
    ...u16(total),
    ...u16(o.id ?? 0x1234),
    ...u16(o.flagsFrag ?? 0x4000),
    o.ttl ?? 64,
    o.proto,
    0,
    0,
    ...u32(o.src ?? 0x0a000001),
    ...u32(o.dst ?? 0x0a000002),
    ...opts,
  ];
}

export const IP6_A = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
export const IP6_B = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
export function ipv6(nextHeader: number, payloadLen: number, hopLimit = 64, flow = 0x12345): number[] {
  const head = [
    0x60,
    (flow >>> 16) & 15,
    (flow >>> 8) & 255,
    flow & 255,
    ...u16(payloadLen),
    nextHeader,
    hopLimit,
  ];
  return head.concat(IP6_A, IP6_B);
}

export function tcp(o: {
  sport?: number;
  dport?: number;
  seq?: number;
  ack?: number;
  flags?: number;
  options?: number[];
  off?: number;
}): number[] {
  const opts = o.options ?? [];
  const off = o.off ?? 5 + opts.length / 4;
  return [
    ...u16(o.sport ?? 40000),
    ...u16(o.dport ?? 80),
    ...u32(o.seq ?? 1000),
    ...u32(o.ack ?? 2000),
    ...u16((off << 12) | (o.flags ?? 0x018)),
    ...u16(65535),
    0,
    0,
    0,
    0,
    ...opts,
  ];
}
export function udp(sport: number, dport: number, payloadLen: number): number[] {
  return [...u16(sport), ...u16(dport), ...u16(8 + payloadLen), 0, 0];
}
export function bytes(n: number, seed = 1): number[] {
  return Array.from({ length: n }, (_, i) => (i * 31 + seed) & 255);
}
export function frame(...parts: number[][]): Uint8Array {
  return Uint8Array.from(parts.flat());
}

export function record(
  b: Uint8Array,
  linkType = 1,
  caplen = b.length,
  wirelen = b.length,
  at = 0,
): PacketRecord {
  return {
    bytes: b,
    view: new DataView(b.buffer, b.byteOffset, b.byteLength),
    at,
    caplen,
    wirelen,
    tsValid: true,
    tsLo: 0,
    tsHi: 0,
    linkType,
    interfaceIndex: 0,
    interfaceId: -1,
    section: 0,
    flags: -1,
    dropCount: -1,
    fileOffset: 0,
    frame: 1,
  };
}

/** Decode one frame into row 0 of a fresh batch. */
export function decodeOne(
  b: Uint8Array,
  linkType = 1,
  caplen = b.length,
  wirelen = b.length,
): { c: PacketColumns; s: DecodeState } {
  const c = new PacketColumns(8);
  c.reset();
  const s = createDecodeState();
  decodeFrame(s, record(b, linkType, caplen, wirelen), c, 0);
  c.length = 1;
  return { c, s };
}

export function errorOf(c: PacketColumns, row = 0): string {
  return c.errors[c.decodeError[row] ?? 0] ?? '?';
}
