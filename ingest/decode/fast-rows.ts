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
 * Four rows of one kind at a time where it can (`completeFastWords`): a batch of one traffic mix
 * is mostly such runs, and a word store does four rows' worth of the byte stores.
 */
export function completeFastRows(
  c: PacketColumns,
  kinds: Uint8Array,
  from: number,
  to: number,
  kindsAt = from,
): void {
  const words = kindsAt === from && to - from >= 16 ? fastWords(c, kinds) : null;
  if (words === null) {
    completeRows(c, kinds, from, to, kindsAt);
    return;
  }
  const head = (from + 3) & ~3;
  const tail = to & ~3;
  completeRows(c, kinds, from, head, from);
  // every view in a local: in the loop each store is then a bounds check and a store
  const [
    kw,
    mac,
    et,
    dscp,
    proto,
    ipLen,
    ports,
    len,
    hash,
    fp,
    version,
    ethertype,
    frag,
    mf,
    id,
    flow,
    ipProto,
    tcp,
    tcpLen,
  ] = words;
  // a run of fast rows only (a whole batch, in most files): the validity every fast row has is set
  // with one fill an array, and the loop writes only what depends on the kind
  const allFast = head < tail && noZeroByte(kw, head >> 2, tail >> 2);
  if (allFast) for (const valid of alwaysValid(c)) valid.fill(1, head, tail);
  for (let row = head; row < tail; row += 4) {
    const four = kw[row >> 2]!;
    if (four === 0) continue;
    const kind = four & 0xff;
    // the four rows are of one kind when the word is that byte four times
    if (four !== Math.imul(kind, 0x01010101) >>> 0) {
      completeRows(c, kinds, row, row + 4, row, !allFast);
      continue;
    }
    const i = row >> 2;
    if (!allFast) {
      mac[i] = 0x01010101;
      et[i] = 0x01010101;
      dscp[i] = 0x01010101;
      proto[i] = 0x01010101;
      ipLen[i] = 0x01010101;
      ports[i] = 0x01010101;
      len[i] = 0x01010101;
      hash[i] = 0x01010101;
      fp[i] = 0x01010101;
    }
    // two rows a word in the 16-bit columns
    if ((kind & FastRow.ipv6) === 0) {
      version[i] = 0x04040404;
      ethertype[2 * i] = 0x08000800;
      ethertype[2 * i + 1] = 0x08000800;
      frag[2 * i] = 0;
      frag[2 * i + 1] = 0;
      mf[i] = 0;
      id[i] = 0x01010101;
    } else {
      version[i] = 0x06060606;
      ethertype[2 * i] = 0x86dd86dd;
      ethertype[2 * i + 1] = 0x86dd86dd;
      flow[i] = 0x01010101;
    }
    if ((kind & FastRow.udp) === 0) {
      ipProto[i] = 0x06060606;
      tcp[i] = 0x01010101;
      tcpLen[i] = 0x01010101;
    } else {
      ipProto[i] = 0x11111111;
    }
  }
  completeRows(c, kinds, tail, to, tail);
}

/** True when no byte of words [from, to) is 0 (no row of kind 0 among them). */
function noZeroByte(words: Uint32Array, from: number, to: number): boolean {
  for (let w = from; w < to; w++) {
    const x = words[w]!;
    // some 0x80 bit is set here exactly when some byte is 0 (the classic has-zero-byte test)
    if (((x - 0x01010101) & ~x & 0x80808080) !== 0) return false;
  }
  return true;
}

/** The validity arrays every fast row sets, whatever its kind (the first nine `fastWords`). */
function alwaysValid(c: PacketColumns): Uint8Array[] {
  return [
    c.srcMacValid,
    c.ethertypeValid,
    c.dscpValid,
    c.ipProtoValid,
    c.ipPayloadLenValid,
    c.portsValid,
    c.payloadLenValid,
    c.payloadHashValid,
    c.fingerprintValid,
  ];
}

/**
 * 32-bit views of the kinds and of the columns `completeFastRows` writes, in its order, or null when
 * one of them does not start on a 4-byte boundary.
 */
function fastWords(c: PacketColumns, kinds: Uint8Array): FastWordViews | null {
  const arrays = [
    kinds,
    ...alwaysValid(c),
    c.ipVersion,
    c.ethertype,
    c.fragOffset,
    c.moreFragments,
    c.ipIdValid,
    c.flowLabelValid,
    c.ipProto,
    c.tcpValid,
    c.tcpPayloadLenValid,
  ];
  if (arrays.some((a) => (a.byteOffset & 3) !== 0)) return null;
  return arrays.map((a) => new Uint32Array(a.buffer, a.byteOffset, a.byteLength >>> 2)) as FastWordViews;
}

type U32 = Uint32Array;
type FastWordViews = [
  U32,
  U32,
  U32,
  U32,
  U32,
  U32,
  U32,
  U32,
  U32,
  U32,
  U32,
  U32,
  U32,
  U32,
  U32,
  U32,
  U32,
  U32,
  U32,
];

/** The row-by-row completion: the columns are taken out of `c` once, each store is then a bounds check and a store. */
function completeRows(
  c: PacketColumns,
  kinds: Uint8Array,
  from: number,
  to: number,
  kindsAt: number,
  /** false when the validity every fast row has is already set (completeFastRows' fills) */
  always = true,
): void {
  // srcMacValid is also dstMacValid, dscpValid ttlValid, ipIdValid the fragment fields' validity
  // (packet-columns.ts, "Shared validity")
  const { srcMacValid, ethertypeValid, dscpValid, ipProtoValid, ipPayloadLenValid, portsValid } = c;
  const { payloadLenValid, payloadHashValid, fingerprintValid, ipVersion, ethertype, ipProto } = c;
  const { fragOffset, moreFragments, ipIdValid, flowLabelValid, tcpValid, tcpPayloadLenValid } = c;
  for (let row = from, k = kindsAt; row < to; row++, k++) {
    const kind = kinds[k]!;
    if (kind === 0) continue;
    if (always) {
      srcMacValid[row] = 1;
      ethertypeValid[row] = 1;
      dscpValid[row] = 1;
      ipProtoValid[row] = 1;
      ipPayloadLenValid[row] = 1;
      portsValid[row] = 1;
      payloadLenValid[row] = 1;
      payloadHashValid[row] = 1;
      fingerprintValid[row] = 1;
    }
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
