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

const one = new Uint8Array(1);

/** Writes what the fast path left out of row `row` of kind `kind` (not 0). */
export function completeFastRow(c: PacketColumns, row: number, kind: number): void {
  one[0] = kind;
  completeFastRows(c, one, row, row + 1, 0);
}

/**
 * Completes every row in [from, to) whose kind is not 0; row r's kind is `kinds[r - from + kindsAt]`.
 * The columns are taken out of `c` once: in the loop each store is then a bounds check and a store.
 */
export function completeFastRows(
  c: PacketColumns,
  kinds: Uint8Array,
  from: number,
  to: number,
  kindsAt = from,
): void {
  // srcMacValid is also dstMacValid, dscpValid ttlValid, ipIdValid the fragment fields' validity
  // (packet-columns.ts, "Shared validity")
  const { srcMacValid, ethertypeValid, dscpValid, ipProtoValid, ipPayloadLenValid, portsValid } = c;
  const { payloadLenValid, payloadHashValid, fingerprintValid, ipVersion, ethertype, ipProto } = c;
  const { fragOffset, moreFragments, ipIdValid, flowLabelValid, tcpValid, tcpPayloadLenValid } = c;
  for (let row = from, k = kindsAt; row < to; row++, k++) {
    const kind = kinds[k]!;
    if (kind === 0) continue;
    srcMacValid[row] = 1;
    ethertypeValid[row] = 1;
    dscpValid[row] = 1;
    ipProtoValid[row] = 1;
    ipPayloadLenValid[row] = 1;
    portsValid[row] = 1;
    payloadLenValid[row] = 1;
    payloadHashValid[row] = 1;
    fingerprintValid[row] = 1;
    if ((kind & FastRow.ipv6) === 0) {
      ipVersion[row] = 4;
      ethertype[row] = 0x0800;
      // neither MF nor an offset: the fast path takes no fragment
      fragOffset[row] = 0;
      moreFragments[row] = 0;
      ipIdValid[row] = 1;
    } else {
      ipVersion[row] = 6;
      ethertype[row] = 0x86dd;
      flowLabelValid[row] = 1;
    }
    if ((kind & FastRow.udp) === 0) {
      ipProto[row] = 6;
      tcpValid[row] = 1;
      tcpPayloadLenValid[row] = 1;
    } else {
      ipProto[row] = 17;
    }
  }
}
