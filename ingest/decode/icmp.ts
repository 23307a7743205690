import type { PacketColumns } from '../columns/packet-columns.ts';
import { decodeInnerIp } from './inner.ts';
import { Layer } from './layer.ts';
import { type DecodeState, ErrIndex, failOuter } from './state.ts';

/** ICMP types whose bytes 4..7 are identifier and sequence (echo, timestamp, information, address mask). */
const ICMP_HAS_ID = new Uint8Array(256);
for (const t of [0, 8, 13, 14, 15, 16, 17, 18]) ICMP_HAS_ID[t] = 1;
/** ICMP error types that quote the offending IP header at offset 8. */
const ICMP_QUOTES = new Uint8Array(256);
for (const t of [3, 4, 5, 11, 12]) ICMP_QUOTES[t] = 1;

/**
 * ICMP (IPv4). For errors, the quoted datagram's addresses, protocol and ports go to the inner_* columns
 * (tshark's second values); the quote is usually cut after 8 L4 bytes, so its truncation is not an error.
 */
export function decodeIcmp(s: DecodeState, c: PacketColumns): number {
  const v = s.view;
  const at = s.at;
  const row = s.row;
  const avail = s.end - at;
  if (avail < 2) return failOuter(s, c, ErrIndex.truncIcmp);
  const type = v.getUint8(at);
  c.icmpType[row] = type;
  c.icmpCode[row] = v.getUint8(at + 1);
  c.icmpValid[row] = 1;
  if (avail < 8) return failOuter(s, c, ErrIndex.truncIcmp);
  const fp = s.fpWords;
  fp[3] = (type << 8) | v.getUint8(at + 1);
  fp[4] = 0;
  s.fpN = 5;
  if (ICMP_HAS_ID[type] === 1) {
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
  if (ICMP_QUOTES[type] === 1) decodeInnerIp(s, c, at + 8, s.end, false);
  return Layer.Done;
}
