import type { PacketColumns } from '../columns/packet-columns.ts';
import { Layer } from './layer.ts';
import { type DecodeState, ErrIndex, failOuter, unsupported } from './state.ts';

/**
 * BSD loopback: a 4-byte address family. DLT_NULL writes it in the capturing host's byte order,
 * DLT_LOOP in network order, and files move between hosts, so both orders are accepted: a family
 * is a small number, so whichever reading is below 2^16 is the right one.
 * AF_INET is 2 everywhere; AF_INET6 is 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (macOS).
 */
export function decodeNullLoop(s: DecodeState, c: PacketColumns): number {
  const v = s.view;
  const at = s.at;
  if (s.end - at < 4) return failOuter(s, c, ErrIndex.truncNull);
  // some BSD stacks put PPP or Cisco HDLC framing on their loopback/tunnel devices (tshark checks too)
  const w = v.getUint16(at);
  if (w === 0xff03) return Layer.Ppp;
  if (w === 0x0f00 || w === 0x8f00) return Layer.Chdlc;
  let af = v.getUint32(at, true);
  if (af > 0xffff) af = v.getUint32(at, false);
  s.at = at + 4;
  if (af === 2) return Layer.Ipv4;
  if (af === 24 || af === 28 || af === 30) return Layer.Ipv6;
  return unsupported(s, c, 'null-af', af, false);
}
