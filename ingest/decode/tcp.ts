import type { PacketColumns } from '../columns/packet-columns.ts';
import { Layer } from './layer.ts';
import { type DecodeState, ErrIndex, failOuter } from './state.ts';

/**
 * TCP header. Ports are kept from the first four captured bytes (tshark shows them too when the rest is
 * cut). `tcp_flags` is the 12-bit field after the data offset, reserved bits and AE (ex-NS) included,
 * exactly as tshark's `tcp.flags`. Payload length = IP payload length - header length, from the headers,
 * not from what was captured.
 */
export function decodeTcp(s: DecodeState, c: PacketColumns): number {
  const v = s.view;
  const at = s.at;
  const row = s.row;
  const avail = s.end - at;
  if (avail < 4) return failOuter(s, c, ErrIndex.truncTcp);
  c.srcPort[row] = v.getUint16(at);
  c.dstPort[row] = v.getUint16(at + 2);
  c.portsValid[row] = 1;
  if (avail < 20) return failOuter(s, c, ErrIndex.truncTcp);
  const w12 = v.getUint16(at + 12);
  const hdrLen = (w12 >>> 12) << 2;
  c.tcpSeq[row] = v.getUint32(at + 4);
  c.tcpAck[row] = v.getUint32(at + 8);
  c.tcpFlags[row] = w12 & 0x0fff;
  c.tcpHdrLen[row] = hdrLen;
  c.tcpWindow[row] = v.getUint16(at + 14);
  c.tcpValid[row] = 1;
  const segLen = s.l4Len - hdrLen;
  if (hdrLen < 20 || segLen < 0) return failOuter(s, c, ErrIndex.tcpBadDataOffset);
  c.tcpPayloadLen[row] = segLen;
  c.tcpPayloadLenValid[row] = 1;
  c.payloadLen[row] = segLen;
  c.payloadLenValid[row] = 1;
  if (hdrLen > avail) return failOuter(s, c, ErrIndex.truncTcp);
  s.at = at + hdrLen;
  s.payloadAt = s.at;
  s.payloadLen = segLen;
  s.payloadEnd = s.end;
  const fp = s.fpWords;
  fp[3] = c.tcpSeq[row] ?? 0;
  fp[4] = c.tcpAck[row] ?? 0;
  fp[5] = w12 & 0x0fff;
  s.fpN = 6;
  return Layer.Done;
}
