import { Direction, type PacketColumns } from '../columns/packet-columns.ts';
import { etherNext } from './ethernet.ts';
import { type DecodeState, ErrIndex, failOuter } from './state.ts';

/**
 * Linux packet types: 0 host, 1 broadcast, 2 multicast, 3 other host (all received), 4 outgoing.
 * Anything else (loopback echo, fast route, user, kernel) says nothing reliable about direction.
 */
export const PKTTYPE_DIRECTION = new Uint8Array(65536);
PKTTYPE_DIRECTION[0] = Direction.in;
PKTTYPE_DIRECTION[1] = Direction.in;
PKTTYPE_DIRECTION[2] = Direction.in;
PKTTYPE_DIRECTION[3] = Direction.in;
PKTTYPE_DIRECTION[4] = Direction.out;

/**
 * Linux cooked capture v1 (16 bytes): packet type, ARPHRD type, address length, 8 address bytes,
 * protocol (an EtherType). The packet type overrides any pcapng epb_flags direction: the kernel's
 * own word on it is better. The link-layer address is not written to src_mac: tshark shows it as
 * `sll.src.*`, not `eth.src`, and for non-Ethernet devices it is not a MAC.
 */
export function decodeSll(s: DecodeState, c: PacketColumns): number {
  const v = s.view;
  const at = s.at;
  if (s.end - at < 16) return failOuter(s, c, ErrIndex.truncSll);
  c.direction[s.row] = PKTTYPE_DIRECTION[v.getUint16(at)] ?? Direction.none;
  s.at = at + 16;
  return etherNext(s, c, v.getUint16(at + 14));
}
