import type { PacketColumns } from '../columns/packet-columns.ts';
import { Layer } from './layer.ts';
import { type DecodeState, ErrIndex, failOuter, unsupported } from './state.ts';

/**
 * PPP (DLT 9) and PPP in HDLC-like framing (DLT 50). The `ff 03` address/control pair is optional in
 * DLT 9 and present in DLT 50; a protocol with an odd first byte is the 1-byte compressed form (RFC 1661
 * §6.5). 0x0281/0x0283 carry MPLS. DLT 50 files from Cisco gear carry Cisco HDLC framing instead (address 0x0f/0x8f).
 */
export function decodePpp(s: DecodeState, c: PacketColumns): number {
  const v = s.view;
  let at = s.at;
  if (s.end - at < 2) return failOuter(s, c, ErrIndex.truncPpp);
  const b0 = v.getUint8(at);
  if (b0 === 0x0f || b0 === 0x8f) return Layer.Chdlc;
  if (b0 === 0xff && v.getUint8(at + 1) === 0x03) at += 2;
  if (s.end - at < 1) return failOuter(s, c, ErrIndex.truncPpp);
  let proto = v.getUint8(at);
  if ((proto & 1) === 1) {
    at += 1;
  } else {
    if (s.end - at < 2) return failOuter(s, c, ErrIndex.truncPpp);
    proto = v.getUint16(at);
    at += 2;
  }
  s.at = at;
  if (proto === 0x21) return Layer.Ipv4;
  if (proto === 0x57) return Layer.Ipv6;
  if (proto === 0x0281 || proto === 0x0283) return Layer.Mpls;
  return unsupported(s, c, 'ppp', proto, true);
}
