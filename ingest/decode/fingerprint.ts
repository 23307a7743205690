import type { PacketColumns } from '../columns/packet-columns.ts';
import { finish, mixHi, mixLo } from './payload-hash.ts';

/**
 * Packet fingerprint (DESIGN §5): a 64-bit hash of the fields that forwarding and NAT leave alone, so
 * the same packet has the same fingerprint at every capture point. The analyzers depend on this exact
 * list; changing it changes every fingerprint.
 *
 * Hashed, in this order, one 32-bit word each (a field that does not apply is hashed as the marker
 * 0xffffffff, so "absent" never equals a real value of a neighbouring field):
 *  1. IP version (4 or 6) and IP protocol (IPv4 protocol / IPv6 upper-layer next header): `version << 8 | proto`
 *  2. IP identification: IPv4 ID; IPv6 fragment-header identification, or the marker without one
 *  3. IP payload length from the header (IPv4 total length - IHL*4; IPv6 payload length)
 *  4. fragment offset (8-byte units) << 1 | more-fragments: non-first fragments share every other field
 *  5-7. TCP sequence, acknowledgement, `flags` (12 bits): markers if not TCP
 *  8. ICMP/ICMPv6 `type << 8 | code`; 9. echo `id << 16 | seq`: markers if absent
 *  10. UDP length field: marker if not UDP
 *  11-12. the payload hash lanes (lo, hi)
 * Never hashed: MACs, VLANs, addresses, ports, TTL/hop limit, DSCP, flow label, checksums, VNI and the
 * inner_* columns: they change along a path (NAT, routing, encapsulation, offload).
 *
 * NULL when the packet has no IP layer, when an outer header from IP up was cut or invalid, or when
 * the payload hash is NULL (the prefix was not fully captured): a partial fingerprint would differ from
 * a full one at another point and look like a different packet. ICMP errors quote the offending
 * header, addresses included, in their payload, so an ICMP error seen on both sides of a NAT has two
 * fingerprints.
 */
export const NO_FIELD = 0xffffffff;

export function writeFingerprint(c: PacketColumns, row: number, udpLen: number): void {
  const r2 = 2 * row;
  let lo = 0x2545f491;
  let hi = 0x9e3779b9;
  let k = ((c.ipVersion[row] ?? 0) << 8) | (c.ipProto[row] ?? 0);
  lo = mixLo(lo, k);
  hi = mixHi(hi, k);
  k = c.ipIdValid[row] === 1 ? (c.ipId[row] ?? 0) : NO_FIELD;
  lo = mixLo(lo, k);
  hi = mixHi(hi, k);
  k = c.ipPayloadLen[row] ?? 0;
  lo = mixLo(lo, k);
  hi = mixHi(hi, k);
  k = c.fragOffsetValid[row] === 1 ? ((c.fragOffset[row] ?? 0) << 1) | (c.moreFragments[row] ?? 0) : 0;
  lo = mixLo(lo, k);
  hi = mixHi(hi, k);
  const tcp = c.tcpValid[row] === 1;
  k = tcp ? (c.tcpSeq[row] ?? 0) : NO_FIELD;
  lo = mixLo(lo, k);
  hi = mixHi(hi, k);
  k = tcp ? (c.tcpAck[row] ?? 0) : NO_FIELD;
  lo = mixLo(lo, k);
  hi = mixHi(hi, k);
  k = tcp ? (c.tcpFlags[row] ?? 0) : NO_FIELD;
  lo = mixLo(lo, k);
  hi = mixHi(hi, k);
  k = c.icmpValid[row] === 1 ? ((c.icmpType[row] ?? 0) << 8) | (c.icmpCode[row] ?? 0) : NO_FIELD;
  lo = mixLo(lo, k);
  hi = mixHi(hi, k);
  k = c.icmpEchoValid[row] === 1 ? ((c.icmpId[row] ?? 0) << 16) | (c.icmpSeq[row] ?? 0) : NO_FIELD;
  lo = mixLo(lo, k);
  hi = mixHi(hi, k);
  k = udpLen >= 0 ? udpLen : NO_FIELD;
  lo = mixLo(lo, k);
  hi = mixHi(hi, k);
  k = c.payloadHash[r2] ?? 0;
  lo = mixLo(lo, k);
  hi = mixHi(hi, k);
  k = c.payloadHash[r2 + 1] ?? 0;
  lo = mixLo(lo, k);
  hi = mixHi(hi, k);
  finish(lo, hi, c.fingerprint, r2);
  c.fingerprintValid[row] = 1;
}
