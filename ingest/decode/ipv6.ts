import type { PacketColumns } from '../columns/packet-columns.ts';
import { protoNext, writeIpPayloadLen } from './ipv4.ts';
import { IPV6_GENERIC_EXT, Layer } from './layer.ts';
import { copyAddress, type DecodeState, ErrIndex, failOuter } from './state.ts';

/**
 * IPv6 header and its extension-header chain (hop-by-hop, routing, destination options, mobility,
 * fragment, AH). `ip_proto` is the upper-layer protocol after the chain, not the first next header:
 * analyzers want "TCP", not "hop-by-hop". The payload length cuts `s.end` like IPv4's total length.
 */
export function decodeIpv6(s: DecodeState, c: PacketColumns): number {
  const v = s.view;
  const at = s.at;
  const row = s.row;
  const avail = s.end - at;
  if (avail < 1) return failOuter(s, c, ErrIndex.truncIpv6);
  const w0 = avail >= 4 ? v.getUint32(at) : v.getUint8(at) << 24;
  if (w0 >>> 28 !== 6) return failOuter(s, c, ErrIndex.ipv6BadVersion);
  if (avail < 40) return failOuter(s, c, ErrIndex.truncIpv6);
  writeIpv6Fixed(s, c, row, v, at, w0);
  let plen = v.getUint16(at + 4);
  // zero: a jumbogram or a GSO super-segment; the wire length is what we have
  if (plen === 0) plen = s.wireEnd - at - 40;
  writeIpPayloadLen(c, row, plen);
  if (at + 40 + plen < s.end) s.end = at + 40 + plen;
  let nh = v.getUint8(at + 6);
  let p = at + 40;
  let isFragment = false;
  let fragWord = 0;
  let hasFragHeader = false;
  let fragId = 0;
  for (;;) {
    if (IPV6_GENERIC_EXT[nh] === 1) {
      if (s.end - p < 2) return failOuter(s, c, ErrIndex.truncIpv6);
      const len = (v.getUint8(p + 1) + 1) << 3;
      if (s.end - p < len) return failOuter(s, c, ErrIndex.truncIpv6);
      nh = v.getUint8(p);
      p += len;
    } else if (nh === 44) {
      if (s.end - p < 8) return failOuter(s, c, ErrIndex.truncIpv6);
      const fo = v.getUint16(p + 2);
      c.fragOffset[row] = fo >>> 3;
      c.moreFragments[row] = fo & 1;
      fragId = v.getUint32(p + 4);
      c.ipId[row] = fragId;
      // also fragOffsetValid and moreFragmentsValid: the same array
      c.ipIdValid[row] = 1;
      hasFragHeader = true;
      isFragment = fo >>> 3 !== 0;
      fragWord = ((fo >>> 3) << 1) | (fo & 1);
      nh = v.getUint8(p);
      p += 8;
      if (isFragment) break;
    } else if (nh === 51) {
      // AH counts its length in 4-byte words, minus 2
      if (s.end - p < 2) return failOuter(s, c, ErrIndex.truncIpv6);
      const len = (v.getUint8(p + 1) + 2) << 2;
      if (s.end - p < len) return failOuter(s, c, ErrIndex.truncIpv6);
      nh = v.getUint8(p);
      p += len;
    } else {
      break;
    }
  }
  // a cut chain leaves ip_proto NULL: naming an extension header as the upper protocol would mislead
  const l4Len = plen - (p - at - 40);
  if (l4Len < 0) return failOuter(s, c, ErrIndex.ipv6BadExtLength);
  c.ipProto[row] = nh;
  c.ipProtoValid[row] = 1;
  s.at = p;
  s.l4Len = l4Len;
  s.payloadAt = p;
  s.payloadLen = l4Len;
  s.payloadEnd = s.end;
  s.fpOk = 1;
  ipv6FingerprintWords(s.fpWords, nh, fragWord, hasFragHeader ? fragId : 0xffffffff, plen);
  s.fpN = 3;
  if (isFragment) return Layer.Fragment;
  return protoNext(s, c, nh);
}

/** The columns of the fixed header at `at`, whose first word is `w0`. */
function writeIpv6Fixed(
  s: DecodeState,
  c: PacketColumns,
  row: number,
  v: DataView,
  at: number,
  w0: number,
): void {
  writeIpv6Values(s, c, row, v, at, w0);
  c.ipVersion[row] = 6;
  // also ttlValid: the same array (packet-columns.ts, "Shared validity")
  c.dscpValid[row] = 1;
  c.flowLabelValid[row] = 1;
}

/** The fixed header's per-packet values alone, as `writeIpv4Values` (the common-stack fast path). */
export function writeIpv6Values(
  s: DecodeState,
  c: PacketColumns,
  row: number,
  v: DataView,
  at: number,
  w0: number,
): void {
  c.dscp[row] = (w0 >>> 22) & 0x3f;
  c.flowLabel[row] = w0 & 0xfffff;
  c.ttl[row] = v.getUint8(at + 7);
  copyAddress(v, at + 8, s.srcIp6Words, row);
  copyAddress(v, at + 24, s.dstIp6Words, row);
}

/**
 * Fingerprint words 1-3 (fingerprint.ts) of an IPv6 packet: upper protocol, fragment offset and MF
 * (`fragWord`), the fragment header's id (all ones without one), payload length. Shared with
 * common-stack.ts.
 */
export function ipv6FingerprintWords(
  fp: Uint32Array,
  proto: number,
  fragWord: number,
  fragId: number,
  plen: number,
): void {
  fp[0] = ipv6FingerprintWord0(proto, fragWord);
  fp[1] = fragId;
  fp[2] = plen;
}

/** Fingerprint word 1 of an IPv6 packet (see ipv6FingerprintWords). */
export function ipv6FingerprintWord0(proto: number, fragWord: number): number {
  return (6 << 28) | (proto << 20) | fragWord;
}
