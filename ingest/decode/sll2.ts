import { Direction, type PacketColumns } from '../columns/packet-columns.ts';
import { etherNext } from './ethernet.ts';
import { PKTTYPE_DIRECTION } from './sll.ts';
import { type DecodeState, ErrIndex, failOuter } from './state.ts';

/**
 * Linux cooked capture v2 (20 bytes): protocol, reserved, ifindex, ARPHRD type, packet type, address
 * length, 8 address bytes. The ifindex is what names the capture point in an `any` capture (DESIGN §3).
 */
export function decodeSll2(s: DecodeState, c: PacketColumns): number {
  const v = s.view;
  const at = s.at;
  const row = s.row;
  if (s.end - at < 20) return failOuter(s, c, ErrIndex.truncSll2);
  c.ifindex[row] = v.getUint32(at + 4);
  c.ifindexValid[row] = 1;
  c.direction[row] = PKTTYPE_DIRECTION[v.getUint8(at + 10)] ?? Direction.none;
  s.at = at + 20;
  return etherNext(s, c, v.getUint16(at));
}
