import type { PacketColumns } from '../columns/packet-columns.ts';
import { etherNext } from './ethernet.ts';
import { type DecodeState, ErrIndex, failOuter } from './state.ts';

/**
 * One 802.1Q / 802.1ad / QinQ tag (TPID 0x8100, 0x88a8, 0x9100 all route here). Any number of tags
 * are counted; the first four VLAN ids are kept, outermost first, because stacks deeper than QinQ
 * plus one are rare and a fixed width keeps the column a plain typed array.
 */
export function decodeVlan(s: DecodeState, c: PacketColumns): number {
  const at = s.at;
  const row = s.row;
  if (s.end - at < 4) return failOuter(s, c, ErrIndex.truncVlan);
  const n = c.vlanCount[row] ?? 0;
  if (n < 4) c.vlan[4 * row + n] = s.view.getUint16(at) & 0x0fff;
  if (n < 255) c.vlanCount[row] = n + 1;
  s.at = at + 4;
  return etherNext(s, c, s.view.getUint16(at + 2));
}
