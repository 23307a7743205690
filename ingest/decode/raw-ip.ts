import type { PacketColumns } from '../columns/packet-columns.ts';
import { Layer } from './layer.ts';
import { type DecodeState, ErrIndex, failOuter } from './state.ts';

/** Raw IP (DLT 12/14/101, and NFLOG payloads of unknown family): the version nibble names the header. */
export function decodeRawIp(s: DecodeState, c: PacketColumns): number {
  if (s.end - s.at < 1) return failOuter(s, c, ErrIndex.truncIp);
  const version = s.view.getUint8(s.at) >>> 4;
  if (version === 4) return Layer.Ipv4;
  if (version === 6) return Layer.Ipv6;
  return failOuter(s, c, ErrIndex.ipBadVersion);
}
