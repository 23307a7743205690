import type { PacketColumns } from '../columns/packet-columns.ts';
import { decodeInnerIp } from './inner.ts';
import { Layer } from './layer.ts';
import { type DecodeState, ErrIndex, failOuter } from './state.ts';

/**
 * ICMPv6. Echo request/reply (128/129) carry identifier and sequence; errors 1-4 (destination
 * unreachable, packet too big, time exceeded, parameter problem) quote the offending IPv6 packet at
 * offset 8, decoded into the inner_* columns without truncation errors (quotes are cut by design).
 */
export function decodeIcmpv6(s: DecodeState, c: PacketColumns): number {
  const v = s.view;
  const at = s.at;
  const row = s.row;
  const avail = s.end - at;
  if (avail < 2) return failOuter(s, c, ErrIndex.truncIcmpv6);
  const type = v.getUint8(at);
  c.icmpType[row] = type;
  c.icmpCode[row] = v.getUint8(at + 1);
  c.icmpValid[row] = 1;
  if (avail < 8) return failOuter(s, c, ErrIndex.truncIcmpv6);
  const fp = s.fpWords;
  fp[3] = (type << 8) | v.getUint8(at + 1);
  fp[4] = 0;
  s.fpN = 5;
  if (type === 128 || type === 129) {
    c.icmpId[row] = v.getUint16(at + 4);
    c.icmpSeq[row] = v.getUint16(at + 6);
    c.icmpEchoValid[row] = 1;
    fp[3] |= 1 << 16;
    fp[4] = v.getUint32(at + 4);
  }
  const dataLen = s.l4Len - 8;
  if (dataLen >= 0) {
    c.payloadLen[row] = dataLen;
    c.payloadLenValid[row] = 1;
  }
  s.at = at + 8;
  s.payloadAt = s.at;
  s.payloadLen = Math.max(dataLen, 0);
  s.payloadEnd = s.end;
  if (type >= 1 && type <= 4) decodeInnerIp(s, c, at + 8, s.end, false);
  return Layer.Done;
}
