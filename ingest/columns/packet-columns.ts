/**
 * One batch of decoded packets as typed arrays: the storage behind the `packets` table.
 *
 * Decoders write `c.<column>[row]` directly. Nullable columns have a `...Valid` byte array
 * (1 = value present) that `reset()` clears with one fill per batch, so a decoder only writes
 * what it decoded and nothing carries over from a previous frame or batch.
 * 64-bit values are two uint32 lanes (lo at 2*row, hi at 2*row+1) so that a `BigInt64Array`
 * over the same buffer reads them without copies and without BigInts in the hot loop.
 *
 * Shared validity: validity arrays that every decoder sets together, to the same value, are one
 * array under several names, so a decoder writes the group with one store (each typed-array store
 * in the hot path costs a field load, a map check, two pointer loads and a bounds check: about a
 * nanosecond, and a TCP/IPv4 frame makes ~45 of them). Readers go by name and see no difference;
 * writers must not give the names different values. The groups:
 *  - `srcMacValid` = `dstMacValid` (Ethernet writes both MACs or neither);
 *  - `dscpValid` = `ttlValid` (IPv4 and IPv6 take both from the fixed header);
 *  - `ipIdValid` = `fragOffsetValid` = `moreFragmentsValid` (IPv4's fixed header, or IPv6's fragment
 *    header: all three or none).
 */
export const Direction = {
  /** unknown / not recorded */
  none: 0,
  in: 1,
  out: 2,
} as const;

/**
 * Columns are `declare`d and assigned in the constructor: a plain `readonly x: Uint8Array;` compiles
 * (ES2022 class fields) to a field first set to `undefined`, which makes V8 forget that the field
 * always holds one kind of typed array, so every `c.x[row] = v` in the decoders paid a map check on
 * top of its bounds check (about 45 stores a frame; measured ~3% of the decode).
 */
export class PacketColumns {
  declare readonly capacity: number;
  /** rows written so far in this batch */
  length = 0;

  /** capture point id (index into the ingest's point dictionary) */
  declare readonly point: Uint16Array;
  /** file id (index into the ingest's file dictionary) */
  declare readonly file: Uint16Array;
  /** 1-based record number within its file */
  declare readonly frame: Uint32Array;
  /** byte offset of the record in the decompressed file (exact below 2^53) */
  declare readonly fileOffset: Float64Array;
  /** ns since epoch, int64 lanes */
  declare readonly ts: Uint32Array;
  declare readonly tsValid: Uint8Array;
  declare readonly caplen: Uint32Array;
  declare readonly wirelen: Uint32Array;
  /** Direction.* */
  declare readonly direction: Uint8Array;
  declare readonly interfaceId: Uint32Array;
  declare readonly interfaceIdValid: Uint8Array;
  declare readonly section: Uint32Array;
  declare readonly sectionValid: Uint8Array;
  /** link type of the record's interface */
  declare readonly linkType: Uint16Array;

  /** 48-bit MACs as uint64 lanes (lo = last four bytes, hi = first two), valid together */
  declare readonly srcMac: Uint32Array;
  declare readonly dstMac: Uint32Array;
  declare readonly srcMacValid: Uint8Array;
  /** the same array as `srcMacValid` (see "Shared validity" above) */
  declare readonly dstMacValid: Uint8Array;
  /** number of 802.1Q/802.1ad tags, and the first four, outermost first */
  declare readonly vlanCount: Uint8Array;
  declare readonly vlan: Uint16Array;
  /** EtherType (or SLL protocol) of the outermost network layer */
  declare readonly ethertype: Uint16Array;
  declare readonly ethertypeValid: Uint8Array;
  /** SLL/SLL2 ifindex */
  declare readonly ifindex: Uint32Array;
  declare readonly ifindexValid: Uint8Array;

  /** 0 = no IP layer, 4 or 6 */
  declare readonly ipVersion: Uint8Array;
  declare readonly srcIp4: Uint32Array;
  declare readonly dstIp4: Uint32Array;
  /** 16 bytes per row, network order */
  declare readonly srcIp6: Uint8Array;
  declare readonly dstIp6: Uint8Array;
  /** IPv4 protocol, or the IPv6 upper-layer next header after extension headers */
  declare readonly ipProto: Uint8Array;
  declare readonly ipProtoValid: Uint8Array;
  /** IPv4 identification; IPv6 fragment-header identification when present */
  declare readonly ipId: Uint32Array;
  declare readonly ipIdValid: Uint8Array;
  /** TTL or hop limit */
  declare readonly ttl: Uint8Array;
  /** the same array as `dscpValid` */
  declare readonly ttlValid: Uint8Array;
  /** in 8-byte units */
  declare readonly fragOffset: Uint16Array;
  /** the same array as `ipIdValid` */
  declare readonly fragOffsetValid: Uint8Array;
  declare readonly moreFragments: Uint8Array;
  /** the same array as `ipIdValid` */
  declare readonly moreFragmentsValid: Uint8Array;
  /** IP payload length from the header (IPv4 total length - IHL*4; IPv6 payload length) */
  declare readonly ipPayloadLen: Uint32Array;
  declare readonly ipPayloadLenValid: Uint8Array;
  declare readonly flowLabel: Uint32Array;
  declare readonly flowLabelValid: Uint8Array;
  declare readonly dscp: Uint8Array;
  declare readonly dscpValid: Uint8Array;

  declare readonly srcPort: Uint16Array;
  declare readonly dstPort: Uint16Array;
  declare readonly portsValid: Uint8Array;
  declare readonly tcpSeq: Uint32Array;
  declare readonly tcpAck: Uint32Array;
  declare readonly tcpFlags: Uint16Array;
  declare readonly tcpHdrLen: Uint8Array;
  declare readonly tcpWindow: Uint16Array;
  /** seq/ack/flags/hdr_len/window valid together */
  declare readonly tcpValid: Uint8Array;
  declare readonly tcpPayloadLen: Uint32Array;
  declare readonly tcpPayloadLenValid: Uint8Array;
  /** L4 payload length on the wire (TCP, UDP, ICMP data) */
  declare readonly payloadLen: Uint32Array;
  declare readonly payloadLenValid: Uint8Array;
  declare readonly icmpType: Uint8Array;
  declare readonly icmpCode: Uint8Array;
  declare readonly icmpValid: Uint8Array;
  /** echo identifier/sequence */
  declare readonly icmpId: Uint16Array;
  declare readonly icmpSeq: Uint16Array;
  declare readonly icmpEchoValid: Uint8Array;

  /** VXLAN/Geneve VNI */
  declare readonly vni: Uint32Array;
  declare readonly vniValid: Uint8Array;
  /** inner headers: of the encapsulated frame (VXLAN/Geneve) or quoted by an ICMP error */
  declare readonly innerIpVersion: Uint8Array;
  declare readonly innerSrcIp4: Uint32Array;
  declare readonly innerDstIp4: Uint32Array;
  declare readonly innerSrcIp6: Uint8Array;
  declare readonly innerDstIp6: Uint8Array;
  declare readonly innerIpProto: Uint8Array;
  declare readonly innerIpProtoValid: Uint8Array;
  declare readonly innerSrcPort: Uint16Array;
  declare readonly innerDstPort: Uint16Array;
  declare readonly innerPortsValid: Uint8Array;

  /** 64-bit hash of a bounded L4 payload prefix, uint64 lanes */
  declare readonly payloadHash: Uint32Array;
  declare readonly payloadHashValid: Uint8Array;
  /** DESIGN §5 fingerprint, uint64 lanes */
  declare readonly fingerprint: Uint32Array;
  declare readonly fingerprintValid: Uint8Array;

  /** 0 = none, else index into `errors` */
  declare readonly decodeError: Uint16Array;

  /** decode_error strings, interned; index 0 is unused (means "no error") */
  readonly errors: string[] = [''];
  private readonly errorIds = new Map<string, number>();

  constructor(capacity = 65536) {
    this.capacity = capacity;
    const n = capacity;
    this.point = new Uint16Array(n);
    this.file = new Uint16Array(n);
    this.frame = new Uint32Array(n);
    this.fileOffset = new Float64Array(n);
    this.ts = new Uint32Array(2 * n);
    this.tsValid = new Uint8Array(n);
    this.caplen = new Uint32Array(n);
    this.wirelen = new Uint32Array(n);
    this.direction = new Uint8Array(n);
    this.interfaceId = new Uint32Array(n);
    this.interfaceIdValid = new Uint8Array(n);
    this.section = new Uint32Array(n);
    this.sectionValid = new Uint8Array(n);
    this.linkType = new Uint16Array(n);
    this.srcMac = new Uint32Array(2 * n);
    this.dstMac = new Uint32Array(2 * n);
    this.srcMacValid = new Uint8Array(n);
    this.dstMacValid = this.srcMacValid;
    this.vlanCount = new Uint8Array(n);
    this.vlan = new Uint16Array(4 * n);
    this.ethertype = new Uint16Array(n);
    this.ethertypeValid = new Uint8Array(n);
    this.ifindex = new Uint32Array(n);
    this.ifindexValid = new Uint8Array(n);
    this.ipVersion = new Uint8Array(n);
    this.srcIp4 = new Uint32Array(n);
    this.dstIp4 = new Uint32Array(n);
    this.srcIp6 = new Uint8Array(16 * n);
    this.dstIp6 = new Uint8Array(16 * n);
    this.ipProto = new Uint8Array(n);
    this.ipProtoValid = new Uint8Array(n);
    this.ipId = new Uint32Array(n);
    this.ipIdValid = new Uint8Array(n);
    this.ttl = new Uint8Array(n);
    this.fragOffset = new Uint16Array(n);
    this.fragOffsetValid = this.ipIdValid;
    this.moreFragments = new Uint8Array(n);
    this.moreFragmentsValid = this.ipIdValid;
    this.ipPayloadLen = new Uint32Array(n);
    this.ipPayloadLenValid = new Uint8Array(n);
    this.flowLabel = new Uint32Array(n);
    this.flowLabelValid = new Uint8Array(n);
    this.dscp = new Uint8Array(n);
    this.dscpValid = new Uint8Array(n);
    this.ttlValid = this.dscpValid;
    this.srcPort = new Uint16Array(n);
    this.dstPort = new Uint16Array(n);
    this.portsValid = new Uint8Array(n);
    this.tcpSeq = new Uint32Array(n);
    this.tcpAck = new Uint32Array(n);
    this.tcpFlags = new Uint16Array(n);
    this.tcpHdrLen = new Uint8Array(n);
    this.tcpWindow = new Uint16Array(n);
    this.tcpValid = new Uint8Array(n);
    this.tcpPayloadLen = new Uint32Array(n);
    this.tcpPayloadLenValid = new Uint8Array(n);
    this.payloadLen = new Uint32Array(n);
    this.payloadLenValid = new Uint8Array(n);
    this.icmpType = new Uint8Array(n);
    this.icmpCode = new Uint8Array(n);
    this.icmpValid = new Uint8Array(n);
    this.icmpId = new Uint16Array(n);
    this.icmpSeq = new Uint16Array(n);
    this.icmpEchoValid = new Uint8Array(n);
    this.vni = new Uint32Array(n);
    this.vniValid = new Uint8Array(n);
    this.innerIpVersion = new Uint8Array(n);
    this.innerSrcIp4 = new Uint32Array(n);
    this.innerDstIp4 = new Uint32Array(n);
    this.innerSrcIp6 = new Uint8Array(16 * n);
    this.innerDstIp6 = new Uint8Array(16 * n);
    this.innerIpProto = new Uint8Array(n);
    this.innerIpProtoValid = new Uint8Array(n);
    this.innerSrcPort = new Uint16Array(n);
    this.innerDstPort = new Uint16Array(n);
    this.innerPortsValid = new Uint8Array(n);
    this.payloadHash = new Uint32Array(2 * n);
    this.payloadHashValid = new Uint8Array(n);
    this.fingerprint = new Uint32Array(2 * n);
    this.fingerprintValid = new Uint8Array(n);
    this.decodeError = new Uint16Array(n);
  }

  get full(): boolean {
    return this.length >= this.capacity;
  }

  /**
   * Start a new batch: clears every validity array and every column whose zero means "absent",
   * so decoders never see (or leave) values of an earlier batch. Wherever the arrays live: a batch
   * over shared memory (shared-batch.ts) is reset the same way.
   */
  reset(): void {
    this.length = 0;
    clear(this.tsValid);
    clear(this.direction);
    clear(this.interfaceIdValid);
    clear(this.sectionValid);
    clear(this.srcMacValid);
    clear(this.vlanCount);
    clear(this.ethertypeValid);
    clear(this.ifindexValid);
    clear(this.ipVersion);
    clear(this.ipProtoValid);
    clear(this.ipIdValid);
    clear(this.ipPayloadLenValid);
    clear(this.flowLabelValid);
    clear(this.dscpValid);
    clear(this.portsValid);
    clear(this.tcpValid);
    clear(this.tcpPayloadLenValid);
    clear(this.payloadLenValid);
    clear(this.icmpValid);
    clear(this.icmpEchoValid);
    clear(this.vniValid);
    clear(this.innerIpVersion);
    clear(this.innerIpProtoValid);
    clear(this.innerPortsValid);
    clear(this.payloadHashValid);
    clear(this.fingerprintValid);
    clear(this.decodeError);
  }

  /** Interned id of a decode_error string (rare path: only frames that failed to decode). */
  errorId(message: string): number {
    let id = this.errorIds.get(message);
    if (id === undefined) {
      id = this.errors.length;
      if (id > 0xffff) return 0xffff;
      this.errors.push(message);
      this.errorIds.set(message, id);
    }
    return id;
  }
}

/** Zeros to copy from: see `clear`. */
const ZEROS = new Uint8Array(64 << 10);

/**
 * `a` all zeros. In shared memory (a batch another thread reads, shared-batch.ts) `fill` goes a word
 * at a time (V8 avoids plain memset on memory other threads may touch: 0.3-0.7 ms a reset of 32768
 * rows, against 0.03 for `set` from ordinary memory, which copies at full speed).
 */
export function clear(a: Uint8Array | Uint16Array | Uint32Array | Float64Array): void {
  if (!(a.buffer instanceof SharedArrayBuffer)) {
    a.fill(0);
    return;
  }
  const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  for (let at = 0; at < bytes.length; at += ZEROS.length)
    bytes.set(ZEROS.subarray(0, Math.min(ZEROS.length, bytes.length - at)), at);
}
