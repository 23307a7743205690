import type { PacketColumns } from '../columns/packet-columns.ts';
import { etherNext } from './ethernet.ts';
import { type DecodeState, ErrIndex, failOuter } from './state.ts';

/**
 * 802.1ah provider backbone bridging (EtherType 0x88e7): a 4-byte I-TAG, then the customer frame's
 * MACs and EtherType. The MAC columns keep the backbone (outermost) MACs, as tshark's first value does;
 * the customer frame's VLAN tags are appended to the stack.
 */
export function decodePbb(s: DecodeState, c: PacketColumns): number {
  const at = s.at;
  if (s.end - at < 18) return failOuter(s, c, ErrIndex.truncPbb);
  s.at = at + 18;
  return etherNext(s, c, s.view.getUint16(at + 16));
}
