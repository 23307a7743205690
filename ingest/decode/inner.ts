import type { PacketColumns } from '../columns/packet-columns.ts';
import { IPV6_GENERIC_EXT } from './layer.ts';
import { copyAddress, type DecodeState, ErrIndex, setError } from './state.ts';

/**
 * The reduced decoder for a second, inner header: the frame inside VXLAN/Geneve/IP-in-IP, or the
 * datagram an ICMP error quotes. It fills only the inner_* columns (IP version, addresses, protocol,
 * ports); the main columns keep the outer values, as tshark's first value does. It never moves the
 * outer cursor. `report` is false for ICMP quotes: they are cut short by design, so no error is written.
 */
export function decodeInnerEthernet(
  s: DecodeState,
  c: PacketColumns,
  at: number,
  end: number,
  report: boolean,
): void {
  const v = s.view;
  if (end - at < 14) {
    if (report) setError(s, c, ErrIndex.truncInnerEthernet);
    return;
  }
  let type = v.getUint16(at + 12);
  let p = at + 14;
  while (type === 0x8100 || type === 0x88a8 || type === 0x9100) {
    if (end - p < 4) {
      if (report) setError(s, c, ErrIndex.truncInnerEthernet);
      return;
    }
    type = v.getUint16(p + 2);
    p += 4;
  }
  // an inner ARP or LLC frame has no IP header to report: not an error
  if (type === 0x0800 || type === 0x86dd) decodeInnerIp(s, c, p, end, report);
}

/** Inner IPv4 or IPv6 by its version nibble, then the first four bytes of TCP/UDP/SCTP for the ports. */
export function decodeInnerIp(
  s: DecodeState,
  c: PacketColumns,
  at: number,
  end: number,
  report: boolean,
): void {
  const v = s.view;
  const row = s.row;
  if (end - at < 1) {
    if (report) setError(s, c, ErrIndex.truncInnerIpv4);
    return;
  }
  const version = v.getUint8(at) >>> 4;
  let proto: number;
  let p: number;
  let isFragment = false;
  if (version === 4) {
    if (end - at < 20) {
      if (report) setError(s, c, ErrIndex.truncInnerIpv4);
      return;
    }
    const ihl = (v.getUint8(at) & 15) << 2;
    c.innerIpVersion[row] = 4;
    c.innerSrcIp4[row] = v.getUint32(at + 12);
    c.innerDstIp4[row] = v.getUint32(at + 16);
    proto = v.getUint8(at + 9);
    c.innerIpProto[row] = proto;
    c.innerIpProtoValid[row] = 1;
    if (ihl < 20) {
      if (report) setError(s, c, ErrIndex.innerIpv4BadIhl);
      return;
    }
    isFragment = (v.getUint16(at + 6) & 0x1fff) !== 0;
    // cut inner padding the same way the outer IPv4 decoder does
    const total = v.getUint16(at + 2);
    if (total >= ihl && at + total < end) end = at + total;
    p = at + ihl;
  } else if (version === 6) {
    if (end - at < 40) {
      if (report) setError(s, c, ErrIndex.truncInnerIpv6);
      return;
    }
    c.innerIpVersion[row] = 6;
    copyAddress(v, at + 8, s.innerSrcIp6Words, row);
    copyAddress(v, at + 24, s.innerDstIp6Words, row);
    proto = v.getUint8(at + 6);
    p = at + 40;
    for (;;) {
      if (IPV6_GENERIC_EXT[proto] === 1 || proto === 51) {
        if (end - p < 2) return;
        const len = proto === 51 ? (v.getUint8(p + 1) + 2) << 2 : (v.getUint8(p + 1) + 1) << 3;
        proto = v.getUint8(p);
        p += len;
      } else if (proto === 44) {
        if (end - p < 8) return;
        isFragment = v.getUint16(p + 2) >>> 3 !== 0;
        proto = v.getUint8(p);
        p += 8;
      } else {
        break;
      }
    }
    c.innerIpProto[row] = proto;
    c.innerIpProtoValid[row] = 1;
  } else {
    if (report) setError(s, c, ErrIndex.innerIpBadVersion);
    return;
  }
  if (isFragment || (proto !== 6 && proto !== 17 && proto !== 132)) return;
  if (end - p < 4) {
    if (report) setError(s, c, ErrIndex.truncInnerL4);
    return;
  }
  c.innerSrcPort[row] = v.getUint16(p);
  c.innerDstPort[row] = v.getUint16(p + 2);
  c.innerPortsValid[row] = 1;
}
