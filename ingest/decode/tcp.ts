import type { PacketColumns } from '../columns/packet-columns.ts';
import { Layer } from './layer.ts';
import { type DecodeState, ErrIndex, failOuter } from './state.ts';

/**
 * TCP header. Ports are kept from the first four captured bytes (tshark shows them too when the rest is
 * cut). `tcp_flags` is the 12-bit field after the data offset, reserved bits and AE (ex-NS) included,
 * exactly as tshark's `tcp.flags`. Payload length = IP payload length - header length, from the headers,
 * not from what was captured. Fields are read a 32-bit word at a time (ports, offset/flags/window):
 * fewer bounds-checked DataView reads on the second-hottest decoder.
 */
export function decodeTcp(s: DecodeState, c: PacketColumns): number {
  const v = s.view;
  const at = s.at;
  const row = s.row;
  const avail = s.end - at;
  if (avail < 4) return failOuter(s, c, ErrIndex.truncTcp);
  const ports = v.getUint32(at);
  writePorts(c, row, ports);
  if (avail < 20) return failOuter(s, c, ErrIndex.truncTcp);
  const seq = v.getUint32(at + 4);
  const ack = v.getUint32(at + 8);
  const w3 = v.getUint32(at + 12);
  const hdrLen = (w3 >>> 28) << 2;
  writeTcpFixed(c, row, seq, ack, w3);
  const segLen = s.l4Len - hdrLen;
  if (hdrLen < 20 || segLen < 0) return failOuter(s, c, ErrIndex.tcpBadDataOffset);
  writeTcpPayloadLen(c, row, segLen);
  if (hdrLen > avail) return failOuter(s, c, ErrIndex.truncTcp);
  s.at = at + hdrLen;
  s.payloadAt = at + hdrLen;
  s.payloadLen = segLen;
  s.payloadEnd = s.end;
  const fp = s.fpWords;
  fp[3] = seq;
  fp[4] = ack;
  fp[5] = (w3 >>> 16) & 0x0fff;
  s.fpN = 6;
  return Layer.Done;
}

/** Both ports from the first word of a TCP or UDP header. */
export function writePorts(c: PacketColumns, row: number, ports: number): void {
  writePortValues(c, row, ports);
  c.portsValid[row] = 1;
}

/** The ports alone: the common-stack fast path leaves the validity to `completeFastRow`, as below. */
export function writePortValues(c: PacketColumns, row: number, ports: number): void {
  c.srcPort[row] = ports >>> 16;
  c.dstPort[row] = ports & 0xffff;
}

/** The fixed header's columns; `w3` is its fourth word (data offset, flags, window). */
function writeTcpFixed(c: PacketColumns, row: number, seq: number, ack: number, w3: number): void {
  writeTcpValues(c, row, seq, ack, w3);
  c.tcpValid[row] = 1;
}

export function writeTcpValues(c: PacketColumns, row: number, seq: number, ack: number, w3: number): void {
  c.tcpSeq[row] = seq;
  c.tcpAck[row] = ack;
  c.tcpFlags[row] = (w3 >>> 16) & 0x0fff;
  c.tcpHdrLen[row] = (w3 >>> 28) << 2;
  c.tcpWindow[row] = w3 & 0xffff;
}

function writeTcpPayloadLen(c: PacketColumns, row: number, segLen: number): void {
  c.tcpPayloadLen[row] = segLen;
  c.tcpPayloadLenValid[row] = 1;
  c.payloadLen[row] = segLen;
  c.payloadLenValid[row] = 1;
}
