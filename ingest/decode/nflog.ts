import { Direction, type PacketColumns } from '../columns/packet-columns.ts';
import { Layer } from './layer.ts';
import { type DecodeState, ErrIndex, failOuter } from './state.ts';

const NFULA_PACKET_HDR = 1;
const NFULA_IFINDEX_INDEV = 4;
const NFULA_IFINDEX_OUTDEV = 5;
const NFULA_PAYLOAD = 9;

/**
 * Linux NFLOG (DLT 239): a 4-byte header (address family, version, resource id) then TLVs, each padded
 * to 4 bytes. TLV length and type are in the capturing host's byte order (the values inside are in
 * network order); files move between hosts, so the order is picked per frame from the first TLV,
 * whose length must be at least 4 and fit the frame. Little-endian is tried first: nearly all hosts.
 * Direction comes from the netfilter hook (PRE_ROUTING/LOCAL_IN in, LOCAL_OUT/POST_ROUTING out;
 * FORWARD says nothing) and `ifindex` from the in- or out-device that matches it.
 */
export function decodeNflog(s: DecodeState, c: PacketColumns): number {
  const v = s.view;
  const at = s.at;
  const end = s.end;
  const row = s.row;
  if (end - at < 4) return failOuter(s, c, ErrIndex.truncNflog);
  const family = v.getUint8(at);
  let p = at + 4;
  let le = true;
  if (end - p >= 4) {
    const l = v.getUint16(p, true);
    if (l < 4 || p + l > end) le = false;
  }
  let hook = -1;
  let indev = -1;
  let outdev = -1;
  while (end - p >= 4) {
    const len = v.getUint16(p, le);
    const type = v.getUint16(p + 2, le) & 0x7fff;
    if (len < 4) return failOuter(s, c, ErrIndex.nflogBadTlv);
    if (type === NFULA_PAYLOAD) {
      const valEnd = p + len;
      if (valEnd < end) s.end = valEnd;
      s.at = p + 4;
      writeDirection(c, row, hook, indev, outdev);
      if (family === 2) return Layer.Ipv4;
      if (family === 10) return Layer.Ipv6;
      return Layer.RawIp;
    }
    if (p + len > end) break;
    if (type === NFULA_PACKET_HDR && len >= 7) hook = v.getUint8(p + 6);
    else if (type === NFULA_IFINDEX_INDEV && len >= 8) indev = v.getUint32(p + 4);
    else if (type === NFULA_IFINDEX_OUTDEV && len >= 8) outdev = v.getUint32(p + 4);
    p += (len + 3) & ~3;
  }
  writeDirection(c, row, hook, indev, outdev);
  return failOuter(s, c, ErrIndex.truncNflog);
}

function writeDirection(c: PacketColumns, row: number, hook: number, indev: number, outdev: number): void {
  if (hook === 0 || hook === 1) {
    c.direction[row] = Direction.in;
    if (indev >= 0) {
      c.ifindex[row] = indev;
      c.ifindexValid[row] = 1;
    }
  } else if (hook === 3 || hook === 4) {
    c.direction[row] = Direction.out;
    if (outdev >= 0) {
      c.ifindex[row] = outdev;
      c.ifindexValid[row] = 1;
    }
  }
}
