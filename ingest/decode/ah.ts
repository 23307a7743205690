import type { PacketColumns } from '../columns/packet-columns.ts';
import { protoNext } from './ipv4.ts';
import { type DecodeState, ErrIndex, failOuter } from './state.ts';

/**
 * IPsec AH (RFC 4302) after IPv4: authenticated, not encrypted, so the next header is readable.
 * `ip_proto` keeps 51 (the IPv4 header's value, as tshark's ip.proto); the L4 length shrinks by AH's
 * length, counted in 4-byte words minus 2. The hashed payload moves past AH with the cursor.
 */
export function decodeAh(s: DecodeState, c: PacketColumns): number {
  const v = s.view;
  const at = s.at;
  if (s.end - at < 12) return failOuter(s, c, ErrIndex.truncAh);
  const len = (v.getUint8(at + 1) + 2) << 2;
  if (s.end - at < len) return failOuter(s, c, ErrIndex.truncAh);
  s.at = at + len;
  s.l4Len -= len;
  s.payloadAt = s.at;
  s.payloadLen = s.l4Len;
  return protoNext(s, c, v.getUint8(at));
}
