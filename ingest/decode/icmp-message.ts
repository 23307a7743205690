import type { PacketColumns } from '../columns/packet-columns.ts';
import { decodeInnerIp } from './inner.ts';
import { Layer } from './layer.ts';
import { type DecodeState, failOuter } from './state.ts';

/**
 * The layout ICMP and ICMPv6 share: type, code, checksum, then 4 bytes that are identifier and sequence
 * for the types in `hasId` (echo and the like), and for the types in `quotes` an offending IP packet at
 * offset 8, decoded into the inner_* columns without truncation errors (quotes are cut by design).
 * Each family passes its own tables, indexed by type, and its own truncation error.
 */
export function decodeIcmpMessage(
  s: DecodeState,
  c: PacketColumns,
  truncError: number,
  hasId: Uint8Array,
  quotes: Uint8Array,
): number {
  const v = s.view;
  const at = s.at;
  const row = s.row;
  const avail = s.end - at;
  if (avail < 2) return failOuter(s, c, truncError);
  const type = v.getUint8(at);
  c.icmpType[row] = type;
  c.icmpCode[row] = v.getUint8(at + 1);
  c.icmpValid[row] = 1;
  if (avail < 8) return failOuter(s, c, truncError);
  const fp = s.fpWords;
  fp[3] = (type << 8) | v.getUint8(at + 1);
  fp[4] = 0;
  s.fpN = 5;
  if (hasId[type] === 1) {
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
  if (quotes[type] === 1) decodeInnerIp(s, c, at + 8, s.end, false);
  return Layer.Done;
}
