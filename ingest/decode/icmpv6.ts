import type { PacketColumns } from '../columns/packet-columns.ts';
import { decodeIcmpMessage } from './icmp-message.ts';
import { type DecodeState, ErrIndex } from './state.ts';

/** Echo request/reply (128/129) carry identifier and sequence. */
const ICMPV6_HAS_ID = new Uint8Array(256);
ICMPV6_HAS_ID[128] = 1;
ICMPV6_HAS_ID[129] = 1;
/** Destination unreachable, packet too big, time exceeded, parameter problem quote the offending packet. */
const ICMPV6_QUOTES = new Uint8Array(256);
for (const t of [1, 2, 3, 4]) ICMPV6_QUOTES[t] = 1;

/** ICMPv6: the shared ICMP layout with its own echo and error types. */
export function decodeIcmpv6(s: DecodeState, c: PacketColumns): number {
  return decodeIcmpMessage(s, c, ErrIndex.truncIcmpv6, ICMPV6_HAS_ID, ICMPV6_QUOTES);
}
