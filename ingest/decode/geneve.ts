import type { PacketColumns } from '../columns/packet-columns.ts';
import { decodeInnerEthernet, decodeInnerIp } from './inner.ts';
import { Layer } from './layer.ts';
import { type DecodeState, ErrIndex, setError } from './state.ts';

/**
 * Geneve (RFC 8926) on UDP 6081: 8-byte base header, `opt_len` 4-byte words of options, then the
 * payload named by an EtherType (0x6558 = Ethernet, or IPv4/IPv6 directly), decoded into inner_*.
 */
export function decodeGeneve(s: DecodeState, c: PacketColumns): number {
  const v = s.view;
  const at = s.at;
  const row = s.row;
  if (s.end - at < 8) {
    setError(s, c, ErrIndex.truncGeneve);
    return Layer.Done;
  }
  const b0 = v.getUint8(at);
  if (b0 >>> 6 !== 0) {
    setError(s, c, ErrIndex.geneveBadVersion);
    return Layer.Done;
  }
  c.vni[row] = v.getUint32(at + 4) >>> 8;
  c.vniValid[row] = 1;
  const p = at + 8 + ((b0 & 0x3f) << 2);
  if (p > s.end) {
    setError(s, c, ErrIndex.truncGeneve);
    return Layer.Done;
  }
  const type = v.getUint16(at + 2);
  if (type === 0x6558) decodeInnerEthernet(s, c, p, s.end, true);
  else if (type === 0x0800 || type === 0x86dd) decodeInnerIp(s, c, p, s.end, true);
  return Layer.Done;
}
