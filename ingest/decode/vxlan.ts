import type { PacketColumns } from '../columns/packet-columns.ts';
import { decodeInnerEthernet } from './inner.ts';
import { Layer } from './layer.ts';
import { type DecodeState, ErrIndex, setError } from './state.ts';

/**
 * VXLAN (RFC 7348) on UDP 4789 and 8472: 8-byte header, 24-bit VNI, then an Ethernet frame decoded into
 * the inner_* columns. The outer packet stays fingerprintable whatever the inner frame holds, so errors
 * here do not clear `fpOk`.
 */
export function decodeVxlan(s: DecodeState, c: PacketColumns): number {
  const at = s.at;
  const row = s.row;
  if (s.end - at < 8) {
    setError(s, c, ErrIndex.truncVxlan);
    return Layer.Done;
  }
  c.vni[row] = s.view.getUint32(at + 4) >>> 8;
  c.vniValid[row] = 1;
  decodeInnerEthernet(s, c, at + 8, s.end, true);
  return Layer.Done;
}
