/**
 * Community ID v1 (corelight/community-id-spec), written for hoptrace: base64(SHA-1(seed . a_ip . b_ip .
 * proto . 0 . a_port . b_port)) prefixed with `1:`, all fields in network byte order, the endpoints
 * ordered so the smaller (ip, port) comes first and both directions get one id. ICMP and ICMPv6 use type
 * and code as ports; a type with a request/reply counterpart maps to (type, counterpart) and is ordered
 * like TCP, any other type is one-way (type, code) and never reordered. Protocols without ports hash
 * the addresses and protocol only. Lets our flows join Zeek, Suricata and Arkime records.
 */
import crypto from 'node:crypto';
import { parseIp4, parseIp6 } from './topology/ip-text.ts';

/** ICMPv4 request <-> reply pairs of the spec (echo, router, timestamp, info, address mask). */
const ICMP4 = new Map<number, number>([
  [8, 0],
  [0, 8],
  [10, 9],
  [9, 10],
  [13, 14],
  [14, 13],
  [15, 16],
  [16, 15],
  [17, 18],
  [18, 17],
]);
/** ICMPv6: echo, router, neighbour, who-are-you, MLD, home agent discovery. */
const ICMP6 = new Map<number, number>([
  [128, 129],
  [129, 128],
  [133, 134],
  [134, 133],
  [135, 136],
  [136, 135],
  [139, 140],
  [140, 139],
  [130, 131],
  [131, 130],
  [144, 145],
  [145, 144],
]);

/**
 * Address bytes by text: the flows of one capture share a few clients and servers, and parsing the text
 * cost more than hashing it. Cleared when full, so a capture of many addresses cannot grow it unbounded.
 */
const addrCache = new Map<string, Uint8Array | null>();
const ADDR_CACHE_MAX = 1 << 16;

function addrBytes(ip: string): Uint8Array | null {
  let bytes = addrCache.get(ip);
  if (bytes !== undefined) return bytes;
  const v4 = parseIp4(ip);
  bytes =
    v4 !== null ? new Uint8Array([v4 >>> 24, (v4 >>> 16) & 255, (v4 >>> 8) & 255, v4 & 255]) : parseIp6(ip);
  if (addrCache.size >= ADDR_CACHE_MAX) addrCache.clear();
  addrCache.set(ip, bytes);
  return bytes;
}

/**
 * The one-shot digest: a Hash object per flow cost 2.7x as much (1.6 against 0.6 µs). `crypto.hash`
 * came in Node 20.12 and 21.7; engines allow 20.6, where only `createHash` is there.
 */
const sha1Base64: (data: Buffer) => string =
  typeof crypto.hash === 'function'
    ? (data) => crypto.hash('sha1', data, 'base64')
    : (data) => crypto.createHash('sha1').update(data).digest('base64');

function compare(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/**
 * `srcPort`/`dstPort` are ports for TCP/UDP/SCTP; for ICMP(v6) pass `type` and `code`. Null when an
 * address is not one.
 */
export function communityIdV1(
  srcIp: string,
  dstIp: string,
  proto: number,
  srcPort: number | null,
  dstPort: number | null,
  seed = 0,
): string | null {
  let a = addrBytes(srcIp);
  let b = addrBytes(dstIp);
  if (!a || !b || a.length !== b.length) return null;
  let sp = srcPort;
  let dp = dstPort;
  let oneWay = false;
  if ((proto === 1 || proto === 58) && sp !== null) {
    const pair = (proto === 1 ? ICMP4 : ICMP6).get(sp);
    if (pair === undefined) oneWay = true;
    else dp = pair;
  }
  const cmp = compare(a, b);
  if (!oneWay && (cmp > 0 || (cmp === 0 && (sp ?? 0) > (dp ?? 0)))) {
    [a, b] = [b, a];
    [sp, dp] = [dp, sp];
  }
  const withPorts = sp !== null && dp !== null && [1, 6, 17, 58, 132].includes(proto);
  const buf = Buffer.allocUnsafe(2 + 2 * a.length + 2 + (withPorts ? 4 : 0));
  let o = buf.writeUInt16BE(seed & 0xffff, 0);
  buf.set(a, o);
  o += a.length;
  buf.set(b, o);
  o += b.length;
  o = buf.writeUInt8(proto, o);
  o = buf.writeUInt8(0, o);
  if (withPorts) {
    o = buf.writeUInt16BE(sp ?? 0, o);
    buf.writeUInt16BE(dp ?? 0, o);
  }
  return `1:${sha1Base64(buf)}`;
}
