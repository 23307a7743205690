import type { PacketColumns } from '../columns/packet-columns.ts';
import { hashPacket, PAYLOAD_HASH_BYTES } from './payload-hash.ts';
import type { DecodeState } from './state.ts';

/**
 * Packet fingerprint (DESIGN §5): a 64-bit hash of the fields that forwarding and NAT leave alone, so
 * the same packet has the same fingerprint at every capture point. The analyzers depend on this exact
 * list; changing it changes every fingerprint.
 *
 * Each layer writes its words into `DecodeState.fpWords` as it decodes (the values are in registers
 * then; reading them back from the columns cost as much as decoding IPv4). Hashed, as 32-bit words
 * in this order:
 *  1. `ip_version << 28 | ip_proto << 20 | frag_offset << 1 | more_fragments` (IPv4 protocol, or the
 *     IPv6 upper-layer next header; offset and MF 0 for an unfragmented IPv6 packet). The offset is in
 *     because non-first fragments share every other field.
 *  2. IP identification: IPv4 ID; IPv6 fragment-header identification, or 0xffffffff without one.
 *  3. IP payload length from the header (IPv4 total length - IHL*4; IPv6 payload length).
 *  4. then, by what the packet holds (the protocol in word 1 says which, so no markers are needed):
 *     TCP: sequence, acknowledgement, flags (12 bits);
 *     ICMP/ICMPv6: `type << 8 | code` (bit 16 set when it has an echo id/seq), then `id << 16 | seq`;
 *     UDP: the UDP length field;
 *     anything else (non-first fragment, other protocol): nothing.
 *  5. the payload hash, lo lane then hi lane, as the seed of the hash.
 * Never hashed: MACs, VLANs, addresses, ports, TTL/hop limit, DSCP, flow label, checksums, VNI and the
 * inner_* columns: they change along a path (NAT, routing, encapsulation, offload).
 *
 * NULL when the packet has no IP layer, when an outer header from IP up was cut or invalid, or when
 * the payload hash is NULL (the prefix was not fully captured): a partial fingerprint would differ from
 * a full one at another point and look like a different packet. ICMP errors quote the offending
 * header, addresses included, in their payload, so an ICMP error seen on both sides of a NAT has two
 * fingerprints.
 */
export function writeHashes(s: DecodeState, c: PacketColumns, row: number): void {
  const len = s.payloadLen;
  if (len < 0) return;
  const n = Math.min(len, PAYLOAD_HASH_BYTES);
  if (s.payloadAt + n > s.payloadEnd) return;
  const fp = s.fpOk === 1;
  hashPacket(s.view, s.payloadAt, n, c.payloadHash, s.fpWords, fp ? s.fpN : -1, c.fingerprint, 2 * row);
  c.payloadHashValid[row] = 1;
  if (fp) c.fingerprintValid[row] = 1;
}
