import type { PacketColumns } from '../columns/packet-columns.ts';
import type { PacketRecord } from '../record.ts';
import { decodeAh } from './ah.ts';
import { decodeChdlc } from './chdlc.ts';
import { decodeCommonValues } from './common-stack.ts';
import { decodeEthernet } from './ethernet.ts';
import { completeFastRow } from './fast-rows.ts';
import { writeHashes } from './fingerprint.ts';
import { decodeGeneve } from './geneve.ts';
import { decodeGre } from './gre.ts';
import { decodeIcmp } from './icmp.ts';
import { decodeIcmpv6 } from './icmpv6.ts';
import { decodeInnerIp } from './inner.ts';
import { decodeIpv4 } from './ipv4.ts';
import { decodeIpv6 } from './ipv6.ts';
import { Layer, LINK_NEXT } from './layer.ts';
import { decodeMpls } from './mpls.ts';
import { decodeNflog } from './nflog.ts';
import { decodeNullLoop } from './null-loop.ts';
import { hashMemoryOffset } from './payload-hash-wasm.ts';
import { decodePbb } from './pbb.ts';
import { decodePpp } from './ppp.ts';
import { decodeRawIp } from './raw-ip.ts';
import { decodeSll } from './sll.ts';
import { decodeSll2 } from './sll2.ts';
import { bindColumns, type DecodeState, ErrIndex, newDecodeState, setError, unsupported } from './state.ts';
import { decodeTcp } from './tcp.ts';
import { decodeUdp } from './udp.ts';
import { decodeVlan } from './vlan.ts';
import { decodeVxlan } from './vxlan.ts';

export type { DecodeState } from './state.ts';

/** One per worker; reuse it for every frame of every batch. */
export function createDecodeState(): DecodeState {
  return newDecodeState();
}

/**
 * Decode rec's frame (bytes[rec.at, rec.at+rec.caplen)) from its link layer up into row `row` of `c`.
 * Never throws; never allocates per packet on the normal path.
 *
 * The common stack (Ethernet with at most one VLAN tag, IPv4 without options or fragments or IPv6
 * without extension headers, TCP/UDP) goes through `decodeCommonValues` in one function; what that
 * declines, and every other stack, through the layered decoders (`decodeLayers`).
 */
export function decodeFrame(s: DecodeState, rec: PacketRecord, c: PacketColumns, row: number): void {
  const kind = decodeFrameDeferred(s, rec, c, row);
  if (kind !== 0) completeFastRow(c, row, kind);
}

/**
 * `decodeFrame` that leaves a common-stack row incomplete: returns its kind (fast-rows.ts), which
 * the caller must hand to `completeFastRow(s)` before the row is read, or 0 for a row written whole.
 * For batch sinks, which complete a batch's rows in one loop.
 */
export function decodeFrameDeferred(
  s: DecodeState,
  rec: PacketRecord,
  c: PacketColumns,
  row: number,
): number {
  const end = beginFrame(s, rec, c);
  // LINKTYPE_ETHERNET; the fast path needs none of the cursor state `decodeLayers` sets
  if (rec.linkType === 1) {
    try {
      const kind = decodeCommonValues(s, c, rec.view, rec.at, end, row);
      if (kind !== 0) return kind;
    } catch {
      // it reads nothing past `end` before its first write; were that wrong, the layered decoders
      // take the frame from the start and report it
    }
  }
  decodeLayers(s, rec, c, row, end);
  return 0;
}

/** `decodeFrame` without the common-stack fast path: the reference that path is tested against. */
export function decodeFrameLayered(s: DecodeState, rec: PacketRecord, c: PacketColumns, row: number): void {
  decodeLayers(s, rec, c, row, beginFrame(s, rec, c));
}

/** Binds the state to `c` and to rec's buffer; returns the end of the frame's captured bytes. */
function beginFrame(s: DecodeState, rec: PacketRecord, c: PacketColumns): number {
  bindColumns(s, c);
  const bytes = rec.bytes;
  // the buffer changes once per reader chunk: storing a new young object into the long-lived state
  // takes the write barrier's slow path, so store only when it changed
  const view = rec.view;
  if (s.bytes !== bytes || s.view !== view) {
    s.bytes = bytes;
    s.view = view;
    s.hashBase = s.hashQueue === null ? -1 : hashMemoryOffset(s.hashQueue, bytes);
  }
  // a reader never hands over more than the buffer holds, but the cursor must not trust that blindly
  return Math.min(rec.at + rec.caplen, bytes.length);
}

/**
 * Each decoder reads at `s.at`, writes its columns, moves `s.at` to its payload and returns the next
 * layer from a wire-code table (gopacket's `NextLayerType`); the loop stops at `Layer.Done`. Errors are
 * written to `decode_error` by the decoder that found them, which then returns `Layer.Done`.
 */
function decodeLayers(s: DecodeState, rec: PacketRecord, c: PacketColumns, row: number, end: number): void {
  const at = rec.at;
  s.at = at;
  s.end = end;
  s.wireEnd = at + Math.max(rec.wirelen, rec.caplen);
  s.row = row;
  s.l4Len = -1;
  // payloadAt/payloadEnd and fpN are only read once payloadLen >= 0 / fpOk = 1, which the layer that
  // sets them also sets
  s.payloadLen = -1;
  s.fpOk = 0;
  const link = rec.linkType;
  let layer: number =
    link >= 0 && link <= 0xffff ? (LINK_NEXT[link] ?? Layer.Unsupported) : Layer.Unsupported;
  if (layer === Layer.Unsupported) {
    unsupported(s, c, 'link', link, false);
    return;
  }
  try {
    // The common stack gets call sites of its own, in wire order: each is monomorphic and skips
    // `step`, whose 22-way switch is too large for V8 to inline, so going through it costs a call per
    // layer on top of the decoder's. What these leave undone (and every other stack) goes through `step`.
    if (layer === Layer.Ethernet) layer = decodeEthernet(s, c);
    while (layer === Layer.Vlan) layer = decodeVlan(s, c);
    if (layer === Layer.Ipv4) layer = decodeIpv4(s, c);
    else if (layer === Layer.Ipv6) layer = decodeIpv6(s, c);
    if (layer === Layer.Tcp) layer = decodeTcp(s, c);
    else if (layer === Layer.Udp) layer = decodeUdp(s, c);
    while (layer !== Layer.Done) layer = step(s, c, layer);
  } catch {
    // a decoder read past `s.end`: a bug, but one frame's bug must not stop the ingest
    setError(s, c, ErrIndex.internal);
    s.fpOk = 0;
    return;
  }
  writeHashes(s, c, row);
}

function step(s: DecodeState, c: PacketColumns, layer: number): number {
  switch (layer) {
    case Layer.Ethernet:
      return decodeEthernet(s, c);
    case Layer.Vlan:
      return decodeVlan(s, c);
    case Layer.Ipv4:
      return decodeIpv4(s, c);
    case Layer.Ipv6:
      return decodeIpv6(s, c);
    case Layer.Tcp:
      return decodeTcp(s, c);
    case Layer.Udp:
      return decodeUdp(s, c);
    case Layer.Icmp:
      return decodeIcmp(s, c);
    case Layer.Icmpv6:
      return decodeIcmpv6(s, c);
    case Layer.Vxlan:
      return decodeVxlan(s, c);
    case Layer.Geneve:
      return decodeGeneve(s, c);
    case Layer.Sll:
      return decodeSll(s, c);
    case Layer.Sll2:
      return decodeSll2(s, c);
    case Layer.Null:
      return decodeNullLoop(s, c);
    case Layer.RawIp:
      return decodeRawIp(s, c);
    case Layer.Nflog:
      return decodeNflog(s, c);
    case Layer.Ppp:
      return decodePpp(s, c);
    case Layer.Chdlc:
      return decodeChdlc(s, c);
    case Layer.Ah:
      return decodeAh(s, c);
    case Layer.Gre:
      return decodeGre(s, c);
    case Layer.Mpls:
      return decodeMpls(s, c);
    case Layer.Pbb:
      return decodePbb(s, c);
    case Layer.InnerIp:
      decodeInnerIp(s, c, s.at, s.end, true);
      return Layer.Done;
    default:
      // Fragment, NoNext: the IP layer already set everything there is
      return Layer.Done;
  }
}
