import type { PacketColumns } from '../columns/packet-columns.ts';
import { writeMacValues } from './ethernet.ts';
import { FastRow } from './fast-rows.ts';
import { ipv4FingerprintWord0, writeIpv4Values } from './ipv4.ts';
import { ipv6FingerprintWord0, writeIpv6Values } from './ipv6.ts';
import { UDP_PORT_NEXT } from './layer.ts';
import { hashPacket, PAYLOAD_HASH_BYTES } from './payload-hash.ts';
import { queueHash } from './payload-hash-wasm.ts';
import type { DecodeState } from './state.ts';
import { writePortValues, writeTcpValues } from './tcp.ts';

/**
 * The stack most frames are: Ethernet, at most one 802.1Q tag, IPv4 with a 20-byte header, not
 * fragmented, or IPv6 without extension headers, then a whole TCP header or a UDP header on a port
 * that names no tunnel. Decoded here in
 * one function, with the cursor in locals, instead of one call per layer through `DecodeState`: the
 * IPv4, TCP and UDP decoders are each over V8's inlining budget, so the layered path costs a call and
 * a round trip of the cursor through memory per layer.
 *
 * Every check comes before the first write: anything else (options, fragments, TSO lengths, errors,
 * truncation, tunnels, hashes over uncaptured bytes) returns 0 with the row untouched, and the
 * layered decoders take the frame from the start. Else it returns the row's kind (fast-rows.ts),
 * which the caller completes (`completeFastRow(s)`), at once or with its batch. The columns written
 * are exactly the layered decoders' (the value writers are shared, `completeFastRow` writes the
 * rest), which test/unit/decode/common-stack.test.ts checks frame by frame against them.
 */
export function decodeCommonValues(
  s: DecodeState,
  c: PacketColumns,
  v: DataView,
  at: number,
  end: number,
  row: number,
): number {
  if (end - at < 42) return 0;
  let type = v.getUint16(at + 12);
  let ip = at + 14;
  if (type === 0x8100) {
    type = v.getUint16(at + 16);
    ip = at + 18;
  }
  let w0: number;
  let w1 = 0;
  let w2 = 0;
  let proto: number;
  let l4Len: number;
  let ipEnd: number;
  if (type === 0x0800) {
    if (end - ip < 28) return 0;
    w0 = v.getUint32(ip);
    // version 4, IHL 5
    if (w0 >>> 24 !== 0x45) return 0;
    const totalLen = w0 & 0xffff;
    w1 = v.getUint32(ip + 4);
    // 20 <= total length (0 is TSO's), neither MF nor an offset
    if (totalLen < 20 || (w1 & 0x3fff) !== 0) return 0;
    w2 = v.getUint32(ip + 8);
    proto = (w2 >>> 16) & 0xff;
    // the IP total length cuts off Ethernet padding
    ipEnd = min32(end, ip + totalLen);
    l4Len = totalLen - 20;
  } else if (type === 0x86dd) {
    if (end - ip < 48) return 0;
    w0 = v.getUint32(ip);
    l4Len = v.getUint16(ip + 4);
    proto = v.getUint8(ip + 6);
    // no extension headers; a zero payload length is a jumbogram's or GSO's
    if (w0 >>> 28 !== 6 || l4Len === 0 || (proto !== 6 && proto !== 17)) return 0;
    ipEnd = min32(end, ip + 40 + l4Len);
  } else {
    return 0;
  }
  const l4 = type === 0x0800 ? ip + 20 : ip + 40;
  const ports = v.getUint32(l4);
  let payloadAt: number;
  let payloadLen: number;
  let payloadEnd = ipEnd;
  let seq = 0;
  let ack = 0;
  let w3 = 0;
  if (proto === 6) {
    if (ipEnd - l4 < 20) return 0;
    w3 = v.getUint32(l4 + 12);
    const hdrLen = (w3 >>> 28) << 2;
    payloadLen = l4Len - hdrLen;
    if (hdrLen < 20 || payloadLen < 0 || hdrLen > ipEnd - l4) return 0;
    seq = v.getUint32(l4 + 4);
    ack = v.getUint32(l4 + 8);
    payloadAt = l4 + hdrLen;
  } else if (proto === 17) {
    if (ipEnd - l4 < 8) return 0;
    let len = v.getUint16(l4 + 4);
    if (len === 0) len = l4Len;
    if (len < 8 || UDP_PORT_NEXT[ports & 0xffff] !== 0 || UDP_PORT_NEXT[ports >>> 16] !== 0) return 0;
    payloadAt = l4 + 8;
    payloadLen = len - 8;
    if (l4 + len < ipEnd) payloadEnd = l4 + len;
  } else {
    return 0;
  }
  const n = min32(payloadLen, PAYLOAD_HASH_BYTES);
  if (payloadAt + n > payloadEnd) return 0;

  writeMacValues(c, row, v, at);
  if (ip !== at + 14) {
    c.vlan[4 * row] = v.getUint16(at + 14) & 0x0fff;
    c.vlanCount[row] = 1;
  }
  // the fingerprint words (fingerprint.ts) in locals: the hash queue takes them as arguments
  let f0: number;
  let f1: number;
  let kind: number = FastRow.fast;
  if (type === 0x0800) {
    writeIpv4Values(c, row, w0, w1, w2, v.getUint32(ip + 12), v.getUint32(ip + 16));
    f0 = ipv4FingerprintWord0(w1, proto);
    f1 = w1 >>> 16;
  } else {
    writeIpv6Values(s, c, row, v, ip, w0);
    // no fragment header: offset and MF 0, identification all ones
    f0 = ipv6FingerprintWord0(proto, 0);
    f1 = 0xffffffff;
    kind |= FastRow.ipv6;
  }
  c.ipPayloadLen[row] = l4Len;
  writePortValues(c, row, ports);
  c.payloadLen[row] = payloadLen;
  let fpN = 4;
  let f3: number;
  let f4 = 0;
  let f5 = 0;
  if (proto === 6) {
    writeTcpValues(c, row, seq, ack, w3);
    c.tcpPayloadLen[row] = payloadLen;
    f3 = seq;
    f4 = ack;
    f5 = (w3 >>> 16) & 0x0fff;
    fpN = 6;
  } else {
    f3 = payloadLen + 8;
    kind |= FastRow.udp;
  }
  const q = s.hashQueue;
  if (q !== null && s.hashBase >= 0) {
    queueHash(q, c, s.hashBase + payloadAt, n, fpN, row, f0, f1, l4Len, f3, f4, f5);
    return kind;
  }
  const fp = s.fpWords;
  fp[0] = f0;
  fp[1] = f1;
  fp[2] = l4Len;
  fp[3] = f3;
  fp[4] = f4;
  fp[5] = f5;
  hashPacket(v, payloadAt, n, c.payloadHash, fp, fpN, c.fingerprint, 2 * row);
  return kind;
}

/**
 * The smaller of two offsets, as an int32: V8 compiles `Math.min` of values it does not know to be
 * int32 (a parameter) to a float64 min, and every later use of the result converts it back with a
 * check that it is still an integer (~7% of this function's samples). Offsets past 2^31 (a frame
 * more than 2 GiB into one buffer, readCaptureBytes of a larger one) come out negative, and the
 * length checks after each use then decline the frame to the layered decoders.
 */
function min32(a: number, b: number): number {
  return a < b ? a | 0 : b | 0;
}
