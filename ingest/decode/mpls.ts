import type { PacketColumns } from '../columns/packet-columns.ts';
import { Layer } from './layer.ts';
import { type DecodeState, ErrIndex, failOuter, setError } from './state.ts';

/**
 * MPLS label stack (EtherType 0x8847/0x8848): 4-byte entries until the bottom-of-stack bit. MPLS names
 * no payload type; like tshark, the first nibble after the stack picks IPv4 or IPv6. Anything else
 * (a pseudowire control word, Ethernet over MPLS) is not decoded.
 */
export function decodeMpls(s: DecodeState, c: PacketColumns): number {
  const v = s.view;
  let p = s.at;
  for (;;) {
    if (s.end - p < 4) return failOuter(s, c, ErrIndex.truncMpls);
    const bottom = (v.getUint8(p + 2) & 1) === 1;
    p += 4;
    if (bottom) break;
  }
  s.at = p;
  if (s.end - p < 1) return failOuter(s, c, ErrIndex.truncMpls);
  const version = v.getUint8(p) >>> 4;
  if (version === 4) return Layer.Ipv4;
  if (version === 6) return Layer.Ipv6;
  setError(s, c, ErrIndex.mplsNotIp);
  return Layer.Done;
}
