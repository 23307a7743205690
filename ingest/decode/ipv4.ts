import type { PacketColumns } from '../columns/packet-columns.ts';
import { Layer, PROTO_NEXT } from './layer.ts';
import { type DecodeState, ErrIndex, failOuter, unsupportedProto } from './state.ts';

/**
 * IPv4 header (gopacket's `IPv4.DecodeFromBytes` order of checks): the fixed 20 bytes first, then
 * version and IHL, then the total length, which cuts `s.end` so Ethernet padding never reaches L4.
 * Fields of the fixed header are kept even when options are cut by the snaplen.
 *
 * The fixed header is read as three big-endian words (version..total length, id..fragment,
 * TTL..checksum) rather than field by field: each DataView read is a bounds check and a load, and this
 * is the hottest decoder there is.
 */
export function decodeIpv4(s: DecodeState, c: PacketColumns): number {
  const v = s.view;
  const at = s.at;
  const row = s.row;
  const avail = s.end - at;
  if (avail < 20) return shortIpv4(s, c, avail);
  const w0 = v.getUint32(at);
  if (w0 >>> 28 !== 4) return failOuter(s, c, ErrIndex.ipv4BadVersion);
  const w1 = v.getUint32(at + 4);
  const w2 = v.getUint32(at + 8);
  const ihl = (w0 >>> 22) & 0x3c;
  const totalLen = w0 & 0xffff;
  const frag = w1 & 0x1fff;
  const proto = (w2 >>> 16) & 0xff;
  writeIpv4Fixed(c, row, w0, w1, w2, v.getUint32(at + 12), v.getUint32(at + 16));
  if (ihl < 20) return failOuter(s, c, ErrIndex.ipv4BadIhl);
  let ipLen = totalLen;
  if (totalLen === 0) {
    // TSO/GSO: the kernel hands the capture a super-segment before the NIC writes the length; the
    // frame's wire length is the only length there is
    ipLen = s.wireEnd - at;
  } else if (totalLen < ihl) {
    return failOuter(s, c, ErrIndex.ipv4BadTotalLength);
  }
  let end = s.end;
  if (at + ipLen < end) {
    end = at + ipLen;
    s.end = end;
  }
  const l4Len = ipLen - ihl;
  writeIpPayloadLen(c, row, l4Len);
  if (ihl > end - at) return failOuter(s, c, ErrIndex.truncIpv4);
  const next = at + ihl;
  s.at = next;
  s.l4Len = l4Len;
  // until an L4 decoder says otherwise, the hashed payload is the whole IP payload
  s.payloadAt = next;
  s.payloadLen = l4Len;
  s.payloadEnd = end;
  s.fpOk = 1;
  ipv4FingerprintWords(s.fpWords, w1, proto, l4Len);
  s.fpN = 3;
  // only the first fragment carries the L4 header
  if (frag !== 0) return Layer.Fragment;
  return protoNext(s, c, proto);
}

/** Fewer than 20 bytes: truncated, unless the one byte there is already names another version. */
function shortIpv4(s: DecodeState, c: PacketColumns, avail: number): number {
  if (avail >= 1 && s.view.getUint8(s.at) >>> 4 !== 4) return failOuter(s, c, ErrIndex.ipv4BadVersion);
  return failOuter(s, c, ErrIndex.truncIpv4);
}

/** Shared with IPv6 (after its extension headers). */
export function protoNext(s: DecodeState, c: PacketColumns, proto: number): number {
  const next = PROTO_NEXT[proto] ?? Layer.Unsupported;
  if (next === Layer.Unsupported) return unsupportedProto(s, c, proto);
  return next;
}

/** The columns of the fixed header, from its three first words and the addresses. */
function writeIpv4Fixed(
  c: PacketColumns,
  row: number,
  w0: number,
  w1: number,
  w2: number,
  src: number,
  dst: number,
): void {
  writeIpv4Values(c, row, w0, w1, w2, src, dst);
  c.ipVersion[row] = 4;
  // also ttlValid: the same array (packet-columns.ts, "Shared validity")
  c.dscpValid[row] = 1;
  c.fragOffset[row] = w1 & 0x1fff;
  c.moreFragments[row] = (w1 >>> 13) & 1;
  // also fragOffsetValid and moreFragmentsValid: the same array
  c.ipIdValid[row] = 1;
  c.ipProto[row] = (w2 >>> 16) & 0xff;
  c.ipProtoValid[row] = 1;
}

/**
 * The fixed header's columns that differ from packet to packet even on the common stack; the
 * common-stack fast path writes only these and leaves the rest to `completeFastRow`.
 */
export function writeIpv4Values(
  c: PacketColumns,
  row: number,
  w0: number,
  w1: number,
  w2: number,
  src: number,
  dst: number,
): void {
  c.dscp[row] = (w0 >>> 18) & 0x3f;
  c.ttl[row] = w2 >>> 24;
  c.ipId[row] = w1 >>> 16;
  c.srcIp4[row] = src;
  c.dstIp4[row] = dst;
}

export function writeIpPayloadLen(c: PacketColumns, row: number, l4Len: number): void {
  c.ipPayloadLen[row] = l4Len;
  c.ipPayloadLenValid[row] = 1;
}

/** Fingerprint words 1-3 (fingerprint.ts) of an IPv4 packet; `w1` is the header's second word. */
export function ipv4FingerprintWords(fp: Uint32Array, w1: number, proto: number, l4Len: number): void {
  fp[0] = ipv4FingerprintWord0(w1, proto);
  fp[1] = w1 >>> 16;
  fp[2] = l4Len;
}

/** Fingerprint word 1 of an IPv4 packet (word 2 is `w1 >>> 16`, word 3 the payload length). */
export function ipv4FingerprintWord0(w1: number, proto: number): number {
  return (4 << 28) | (proto << 20) | ((w1 & 0x1fff) << 1) | ((w1 >>> 13) & 1);
}
