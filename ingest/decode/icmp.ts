import type { PacketColumns } from '../columns/packet-columns.ts';
import { decodeIcmpMessage } from './icmp-message.ts';
import { type DecodeState, ErrIndex } from './state.ts';

/** ICMP types whose bytes 4..7 are identifier and sequence (echo, timestamp, information, address mask). */
const ICMP_HAS_ID = new Uint8Array(256);
for (const t of [0, 8, 13, 14, 15, 16, 17, 18]) ICMP_HAS_ID[t] = 1;
/** ICMP error types that quote the offending IP header at offset 8. */
const ICMP_QUOTES = new Uint8Array(256);
for (const t of [3, 4, 5, 11, 12]) ICMP_QUOTES[t] = 1;

/**
 * ICMP (IPv4). For errors, the quoted datagram's addresses, protocol and ports go to the inner_* columns
 * (tshark's second values); the quote is usually cut after 8 L4 bytes, so its truncation is not an error.
 */
export function decodeIcmp(s: DecodeState, c: PacketColumns): number {
  return decodeIcmpMessage(s, c, ErrIndex.truncIcmp, ICMP_HAS_ID, ICMP_QUOTES);
}
