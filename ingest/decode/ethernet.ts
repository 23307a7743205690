import type { PacketColumns } from '../columns/packet-columns.ts';
import { ETHERTYPE_NEXT, Layer } from './layer.ts';
import { type DecodeState, ErrIndex, failOuter, setError, unsupportedEthertype } from './state.ts';

/**
 * Ethernet II header: MACs and the EtherType. MACs go in two uint32 lanes (hi = first two bytes).
 * A type field below 0x600 is an 802.3 length (LLC follows): tshark then shows `eth.len`, no `eth.type`,
 * so `ethertype` stays NULL and no IP is decoded.
 */
export function decodeEthernet(s: DecodeState, c: PacketColumns): number {
  const v = s.view;
  const at = s.at;
  const row = s.row;
  if (s.end - at < 14) return failOuter(s, c, ErrIndex.truncEthernet);
  writeMacs(c, row, v, at);
  const type = v.getUint16(at + 12);
  s.at = at + 14;
  return etherNext(s, c, type);
}

/**
 * 802.3 length field: LLC follows. Only SNAP with a zero OUI (RFC 1042) carries an EtherType, which
 * tshark follows (`eth:llc:ip`); other LLC (STP, NetBIOS, ...) stops with `unsupported:llc`, and the
 * ethertype column is cleared so it cannot keep a VLAN tag's type from before.
 */
function llcNext(s: DecodeState, c: PacketColumns): number {
  const v = s.view;
  const at = s.at;
  if (s.end - at < 3) return failOuter(s, c, ErrIndex.truncLlc);
  if (v.getUint16(at) === 0xaaaa && v.getUint8(at + 2) === 0x03) {
    if (s.end - at < 8) return failOuter(s, c, ErrIndex.truncLlc);
    if (v.getUint8(at + 3) === 0 && v.getUint16(at + 4) === 0) {
      s.at = at + 8;
      return etherNext(s, c, v.getUint16(at + 6));
    }
  }
  c.ethertypeValid[s.row] = 0;
  setError(s, c, ErrIndex.ethernetLlc);
  return Layer.Done;
}

/** Shared by Ethernet, VLAN, SLL, SLL2 and Cisco HDLC: the type names the next layer. */
export function etherNext(s: DecodeState, c: PacketColumns, type: number): number {
  if (type < 0x600) return llcNext(s, c);
  // the last type written is the network layer's (VLAN tags overwrite it as they are peeled)
  c.ethertype[s.row] = type;
  c.ethertypeValid[s.row] = 1;
  const next = ETHERTYPE_NEXT[type] ?? Layer.Unsupported;
  if (next === Layer.Unsupported) return unsupportedEthertype(s, c, type);
  return next;
}

/** Both MACs of the header at `at`, and their validity. */
function writeMacs(c: PacketColumns, row: number, v: DataView, at: number): void {
  writeMacValues(c, row, v, at);
  // also dstMacValid: the same array (packet-columns.ts, "Shared validity")
  c.srcMacValid[row] = 1;
}

/** The MAC lanes alone: the common-stack fast path leaves the validity to `completeFastRow`. */
export function writeMacValues(c: PacketColumns, row: number, v: DataView, at: number): void {
  c.dstMac[2 * row + 1] = v.getUint16(at);
  c.dstMac[2 * row] = v.getUint32(at + 2);
  c.srcMac[2 * row + 1] = v.getUint16(at + 6);
  c.srcMac[2 * row] = v.getUint32(at + 8);
}
