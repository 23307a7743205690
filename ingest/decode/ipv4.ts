import type { PacketColumns } from '../columns/packet-columns.ts';
import { Layer, PROTO_NEXT } from './layer.ts';
import { type DecodeState, ErrIndex, failOuter, unsupportedProto } from './state.ts';

/**
 * IPv4 header (gopacket's `IPv4.DecodeFromBytes` order of checks): the fixed 20 bytes first, then
 * version and IHL, then the total length, which cuts `s.end` so Ethernet padding never reaches L4.
 * Fields of the fixed header are kept even when options are cut by the snaplen.
 */
export function decodeIpv4(s: DecodeState, c: PacketColumns): number {
  const v = s.view;
  const at = s.at;
  const row = s.row;
  const avail = s.end - at;
  if (avail < 1) return failOuter(s, c, ErrIndex.truncIpv4);
  const b0 = v.getUint8(at);
  if (b0 >>> 4 !== 4) return failOuter(s, c, ErrIndex.ipv4BadVersion);
  if (avail < 20) return failOuter(s, c, ErrIndex.truncIpv4);
  const ihl = (b0 & 15) << 2;
  const totalLen = v.getUint16(at + 2);
  const ff = v.getUint16(at + 6);
  const frag = ff & 0x1fff;
  const proto = v.getUint8(at + 9);
  c.ipVersion[row] = 4;
  c.dscp[row] = v.getUint8(at + 1) >>> 2;
  c.dscpValid[row] = 1;
  c.ipId[row] = v.getUint16(at + 4);
  c.ipIdValid[row] = 1;
  c.fragOffset[row] = frag;
  c.fragOffsetValid[row] = 1;
  c.moreFragments[row] = (ff >>> 13) & 1;
  c.moreFragmentsValid[row] = 1;
  c.ttl[row] = v.getUint8(at + 8);
  c.ttlValid[row] = 1;
  c.ipProto[row] = proto;
  c.ipProtoValid[row] = 1;
  c.srcIp4[row] = v.getUint32(at + 12);
  c.dstIp4[row] = v.getUint32(at + 16);
  if (ihl < 20) return failOuter(s, c, ErrIndex.ipv4BadIhl);
  let ipLen = totalLen;
  if (totalLen === 0) {
    // TSO/GSO: the kernel hands the capture a super-segment before the NIC writes the length; the
    // frame's wire length is the only length there is
    ipLen = s.wireEnd - at;
  } else if (totalLen < ihl) {
    return failOuter(s, c, ErrIndex.ipv4BadTotalLength);
  }
  if (at + ipLen < s.end) s.end = at + ipLen;
  const l4Len = ipLen - ihl;
  c.ipPayloadLen[row] = l4Len;
  c.ipPayloadLenValid[row] = 1;
  if (ihl > s.end - at) return failOuter(s, c, ErrIndex.truncIpv4);
  s.at = at + ihl;
  s.l4Len = l4Len;
  s.proto = proto;
  // until an L4 decoder says otherwise, the hashed payload is the whole IP payload
  s.payloadAt = s.at;
  s.payloadLen = l4Len;
  s.payloadEnd = s.end;
  s.fpOk = 1;
  const fp = s.fpWords;
  fp[0] = (4 << 28) | (proto << 20) | (frag << 1) | ((ff >>> 13) & 1);
  fp[1] = c.ipId[row] ?? 0;
  fp[2] = l4Len;
  s.fpN = 3;
  // only the first fragment carries the L4 header
  if (frag !== 0) return Layer.Fragment;
  return protoNext(s, c, proto);
}

/** Shared with IPv6 (after its extension headers). */
export function protoNext(s: DecodeState, c: PacketColumns, proto: number): number {
  const next = PROTO_NEXT[proto] ?? Layer.Unsupported;
  if (next === Layer.Unsupported) return unsupportedProto(s, c, proto);
  return next;
}
