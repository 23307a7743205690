import type { PacketColumns } from '../columns/packet-columns.ts';
import { decodeInnerEthernet, decodeInnerIp } from './inner.ts';
import { Layer } from './layer.ts';
import { type DecodeState, ErrIndex, setError } from './state.ts';

/**
 * GRE (RFC 2784/2890, IP protocol 47): 4 bytes, then optional checksum, key and sequence words as the
 * C/K/S flags say, then the payload named by an EtherType. The encapsulated IPv4/IPv6 packet, or the
 * Ethernet frame of transparent bridging (0x6558), goes to the inner_* columns like VXLAN's.
 * Version 1 (PPTP's enhanced GRE) carries PPP, which is left alone.
 */
export function decodeGre(s: DecodeState, c: PacketColumns): number {
  const v = s.view;
  const at = s.at;
  if (s.end - at < 4) {
    setError(s, c, ErrIndex.truncGre);
    return Layer.Done;
  }
  const flags = v.getUint16(at);
  if ((flags & 7) !== 0) return Layer.Done;
  let p = at + 4;
  if ((flags & 0x8000) !== 0) p += 4;
  if ((flags & 0x2000) !== 0) p += 4;
  if ((flags & 0x1000) !== 0) p += 4;
  if (p > s.end) {
    setError(s, c, ErrIndex.truncGre);
    return Layer.Done;
  }
  const type = v.getUint16(at + 2);
  if (type === 0x0800 || type === 0x86dd) decodeInnerIp(s, c, p, s.end, true);
  else if (type === 0x6558) decodeInnerEthernet(s, c, p, s.end, true);
  return Layer.Done;
}
