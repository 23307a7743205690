import type { PacketColumns } from '../columns/packet-columns.ts';

/**
 * What a row decoded by the common-stack fast path (common-stack.ts) still lacks, by its kind: the
 * columns that are the same on every such row of a kind (validity flags, IP version, EtherType, the
 * IPv4 fragment fields, the protocol). The fast path writes the kind instead of these ~17 stores;
 * a batch sink completes its rows once per batch (`completeFastRows`), in one tight loop where each
 * store is a fraction of its cost in the decoder, and `decodeFrame` completes its one row at once.
 *
 * A kind is 0 for a row the layered decoders wrote whole, else `FAST | IPV6? | UDP?`.
 */
export const FastRow = {
  /** set on every kind: the row came from the fast path */
  fast: 1,
  ipv6: 2,
  udp: 4,
} as const;

/** Writes what the fast path left out of row `row` of kind `kind` (not 0). */
export function completeFastRow(c: PacketColumns, row: number, kind: number): void {
  // also dstMacValid, ttlValid: the same arrays (packet-columns.ts, "Shared validity")
  c.srcMacValid[row] = 1;
  c.ethertypeValid[row] = 1;
  c.dscpValid[row] = 1;
  c.ipProtoValid[row] = 1;
  c.ipPayloadLenValid[row] = 1;
  c.portsValid[row] = 1;
  c.payloadLenValid[row] = 1;
  c.payloadHashValid[row] = 1;
  c.fingerprintValid[row] = 1;
  if ((kind & FastRow.ipv6) === 0) {
    c.ipVersion[row] = 4;
    c.ethertype[row] = 0x0800;
    // neither MF nor an offset: the fast path takes no fragment
    c.fragOffset[row] = 0;
    c.moreFragments[row] = 0;
    // also fragOffsetValid and moreFragmentsValid
    c.ipIdValid[row] = 1;
  } else {
    c.ipVersion[row] = 6;
    c.ethertype[row] = 0x86dd;
    c.flowLabelValid[row] = 1;
  }
  if ((kind & FastRow.udp) === 0) {
    c.ipProto[row] = 6;
    c.tcpValid[row] = 1;
    c.tcpPayloadLenValid[row] = 1;
  } else {
    c.ipProto[row] = 17;
  }
}

/** `completeFastRow` for every row in [from, to) whose kind in `kinds` is not 0. */
export function completeFastRows(c: PacketColumns, kinds: Uint8Array, from: number, to: number): void {
  for (let row = from; row < to; row++) {
    const kind = kinds[row]!;
    if (kind !== 0) completeFastRow(c, row, kind);
  }
}
