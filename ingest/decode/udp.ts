import type { PacketColumns } from '../columns/packet-columns.ts';
import { Layer, UDP_PORT_NEXT } from './layer.ts';
import { type DecodeState, ErrIndex, failOuter } from './state.ts';
import { writePorts } from './tcp.ts';

/**
 * UDP header. The length field cuts the payload like IP's total length does. A zero length is only
 * legal for IPv6 jumbograms and GSO super-segments, where the IP layer's length stands in for it.
 * The port table names VXLAN/Geneve; the destination port is tried first, as encapsulation picks it.
 */
export function decodeUdp(s: DecodeState, c: PacketColumns): number {
  const v = s.view;
  const at = s.at;
  const row = s.row;
  const avail = s.end - at;
  if (avail < 4) return failOuter(s, c, ErrIndex.truncUdp);
  // both ports in one read, as in TCP
  const ports = v.getUint32(at);
  const sport = ports >>> 16;
  const dport = ports & 0xffff;
  writePorts(c, row, ports);
  if (avail < 8) return failOuter(s, c, ErrIndex.truncUdp);
  let len = v.getUint16(at + 4);
  if (len === 0) len = s.l4Len;
  if (len < 8) return failOuter(s, c, ErrIndex.udpBadLength);
  s.fpWords[3] = len;
  s.fpN = 4;
  c.payloadLen[row] = len - 8;
  c.payloadLenValid[row] = 1;
  if (at + len < s.end) s.end = at + len;
  s.at = at + 8;
  s.payloadAt = s.at;
  s.payloadLen = len - 8;
  s.payloadEnd = s.end;
  const next = UDP_PORT_NEXT[dport] ?? 0;
  if (next !== 0) return next;
  return UDP_PORT_NEXT[sport] ?? Layer.Done;
}
