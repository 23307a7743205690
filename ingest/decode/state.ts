import type { PacketColumns } from '../columns/packet-columns.ts';
import type { HashQueue } from './payload-hash-wasm.ts';

/**
 * Fixed decode_error codes. `truncated:<layer>` means the capture stopped inside that header (normal
 * under a snaplen); `<layer>.<problem>` means the header cannot be right whatever the snaplen.
 * The `inner-` forms are for the frame inside VXLAN/Geneve/IP-in-IP, decoded into the inner_* columns.
 */
export const Err = {
  truncEthernet: 'truncated:ethernet',
  truncVlan: 'truncated:vlan',
  truncSll: 'truncated:sll',
  truncSll2: 'truncated:sll2',
  truncNull: 'truncated:null',
  truncNflog: 'truncated:nflog',
  truncPpp: 'truncated:ppp',
  truncChdlc: 'truncated:chdlc',
  truncIp: 'truncated:ip',
  truncIpv4: 'truncated:ipv4',
  truncIpv6: 'truncated:ipv6',
  truncTcp: 'truncated:tcp',
  truncUdp: 'truncated:udp',
  truncIcmp: 'truncated:icmp',
  truncIcmpv6: 'truncated:icmpv6',
  truncVxlan: 'truncated:vxlan',
  truncGeneve: 'truncated:geneve',
  truncGre: 'truncated:gre',
  truncAh: 'truncated:ah',
  truncMpls: 'truncated:mpls',
  truncPbb: 'truncated:pbb',
  truncLlc: 'truncated:llc',
  mplsNotIp: 'unsupported:mpls-payload',
  truncInnerEthernet: 'truncated:inner-ethernet',
  truncInnerIpv4: 'truncated:inner-ipv4',
  truncInnerIpv6: 'truncated:inner-ipv6',
  truncInnerL4: 'truncated:inner-l4',
  ipBadVersion: 'ip.bad-version',
  ipv4BadVersion: 'ipv4.bad-version',
  ipv4BadIhl: 'ipv4.bad-ihl',
  ipv4BadTotalLength: 'ipv4.bad-total-length',
  ipv6BadVersion: 'ipv6.bad-version',
  ipv6BadExtLength: 'ipv6.bad-ext-length',
  tcpBadDataOffset: 'tcp.bad-data-offset',
  udpBadLength: 'udp.bad-length',
  nflogBadTlv: 'nflog.bad-tlv',
  geneveBadVersion: 'geneve.bad-version',
  innerIpBadVersion: 'inner-ip.bad-version',
  innerIpv4BadIhl: 'inner-ipv4.bad-ihl',
  ethernetLlc: 'unsupported:llc',
  internal: 'decode.internal',
} as const;

export type ErrName = keyof typeof Err;

const ERR_NAMES = Object.keys(Err) as ErrName[];
/** Small integer per fixed error, index into the per-columns id cache. */
export const ErrIndex = Object.fromEntries(ERR_NAMES.map((k, i) => [k, i])) as Record<ErrName, number>;
const ERR_TEXT: string[] = ERR_NAMES.map((k) => Err[k]);

/**
 * One per worker, reused for every frame: the cursor over the current frame plus what later layers need
 * from earlier ones. Plain numbers only, all initialised up front so V8 keeps one hidden class.
 */
export interface DecodeState {
  bytes: Uint8Array;
  view: DataView;
  /** start of the layer being decoded */
  at: number;
  /** one past the last usable captured byte; IP narrows it to the IP total length (drops Ethernet padding) */
  end: number;
  /** one past the frame's last byte on the wire (offsets beyond `end` were not captured) */
  wireEnd: number;
  row: number;
  /** L4 length announced by the IP layer (IP payload minus extension headers), -1 before IP */
  l4Len: number;
  /** start, announced length and captured end of the bytes the payload hash covers; payloadLen -1 = none */
  payloadAt: number;
  payloadLen: number;
  payloadEnd: number;
  /** 1 while every outer layer from IP up decoded without truncation or error (the fingerprint needs it) */
  fpOk: number;
  /** the fingerprint's header words, written by the layers as they decode (see fingerprint.ts), and their count */
  fpWords: Uint32Array;
  fpN: number;
  /** the columns instance the id caches belong to (error ids are interned per instance) */
  errCols: PacketColumns | null;
  /** 32-bit views of errCols' 16-byte address columns, for `copyAddress` */
  srcIp6Words: Uint32Array;
  dstIp6Words: Uint32Array;
  innerSrcIp6Words: Uint32Array;
  innerDstIp6Words: Uint32Array;
  errIds: Uint16Array;
  ethertypeErrIds: Uint16Array;
  protoErrIds: Uint16Array;
  /**
   * When set (batch sinks, which drain it before a read buffer is reused), the common stack queues
   * frames whose bytes are in the queue's memory instead of hashing them one by one.
   */
  hashQueue: HashQueue | null;
  /** where `bytes` starts in the hash queue's memory; -1 when it is elsewhere or there is no queue */
  hashBase: number;
}

export function newDecodeState(): DecodeState {
  const empty = new Uint8Array(0);
  return {
    bytes: empty,
    view: new DataView(empty.buffer),
    at: 0,
    end: 0,
    wireEnd: 0,
    row: 0,
    l4Len: -1,
    payloadAt: 0,
    payloadLen: -1,
    payloadEnd: 0,
    fpOk: 0,
    fpWords: new Uint32Array(8),
    fpN: 0,
    errCols: null,
    srcIp6Words: new Uint32Array(0),
    dstIp6Words: new Uint32Array(0),
    innerSrcIp6Words: new Uint32Array(0),
    innerDstIp6Words: new Uint32Array(0),
    errIds: new Uint16Array(ERR_NAMES.length),
    ethertypeErrIds: new Uint16Array(65536),
    protoErrIds: new Uint16Array(256),
    hashQueue: null,
    hashBase: -1,
  };
}

/**
 * Point the id caches and address views at `c` (ids differ between PacketColumns instances).
 * Called once per frame: cheap unless `c` changed.
 */
export function bindColumns(s: DecodeState, c: PacketColumns): void {
  if (s.errCols === c) return;
  s.errCols = c;
  s.srcIp6Words = words(c.srcIp6);
  s.dstIp6Words = words(c.dstIp6);
  s.innerSrcIp6Words = words(c.innerSrcIp6);
  s.innerDstIp6Words = words(c.innerDstIp6);
  s.errIds.fill(0);
  s.ethertypeErrIds.fill(0);
  s.protoErrIds.fill(0);
}

/** Write a fixed error to the current row; interns its text the first time per columns instance. */
export function setError(s: DecodeState, c: PacketColumns, index: number): void {
  let id = s.errIds[index] ?? 0;
  if (id === 0) {
    id = c.errorId(ERR_TEXT[index] ?? 'decode.internal');
    s.errIds[index] = id;
  }
  c.decodeError[s.row] = id;
}

/** An outer-layer error: also marks the packet as not fingerprintable. */
export function failOuter(s: DecodeState, c: PacketColumns, index: number): number {
  setError(s, c, index);
  s.fpOk = 0;
  return 0;
}

function hex4(n: number): string {
  return `0x${n.toString(16).padStart(4, '0')}`;
}

export function unsupportedEthertype(s: DecodeState, c: PacketColumns, type: number): number {
  let id = s.ethertypeErrIds[type] ?? 0;
  if (id === 0) {
    id = c.errorId(`unsupported:ethertype=${hex4(type)}`);
    s.ethertypeErrIds[type] = id;
  }
  c.decodeError[s.row] = id;
  return 0;
}

export function unsupportedProto(s: DecodeState, c: PacketColumns, proto: number): number {
  let id = s.protoErrIds[proto] ?? 0;
  if (id === 0) {
    id = c.errorId(`unsupported:ip-proto=${proto}`);
    s.protoErrIds[proto] = id;
  }
  c.decodeError[s.row] = id;
  return 0;
}

/** Rare codes (a link type, a PPP protocol, a loopback AF): interned on the spot. */
export function unsupported(
  s: DecodeState,
  c: PacketColumns,
  what: string,
  code: number,
  hex: boolean,
): number {
  c.decodeError[s.row] = c.errorId(`unsupported:${what}=${hex ? hex4(code) : String(code)}`);
  return 0;
}

function words(bytes: Uint8Array): Uint32Array {
  return new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 2);
}

/** True where a Uint32Array stores its values little-endian (every platform Node ships for, in practice). */
const HOST_LE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Copy the 16 address bytes at `from` into row `row` of an address column, given as its 32-bit view
 * (`DecodeState.srcIp6Words` ...): four word loads and stores instead of sixteen byte ones. Each word
 * is read in host order, so the bytes land in the column unchanged (network order).
 */
export function copyAddress(v: DataView, from: number, dst: Uint32Array, row: number): void {
  const to = row << 2;
  dst[to] = v.getUint32(from, HOST_LE);
  dst[to + 1] = v.getUint32(from + 4, HOST_LE);
  dst[to + 2] = v.getUint32(from + 8, HOST_LE);
  dst[to + 3] = v.getUint32(from + 12, HOST_LE);
}
