/**
 * The frames correlation works on: the few packet columns it needs, copied out of ingest's
 * `PacketColumns` batches into growable typed arrays (about 80 bytes a frame, MACs included). Times are ns relative
 * to `baseNs` in a Float64Array (exact below 2^53 ns, 104 days), so the hot loops do no BigInt.
 * Addresses: IPv4 as the uint32 itself; IPv6 as an index into `ip6` (interned text), told apart by
 * `ipVersion`.
 */

import type { PacketColumns } from '../../ingest/columns/packet-columns.ts';
import { Interned } from '../text-dict.ts';
import { DirCode, type DirectionResolver } from '../topology/direction.ts';
import { ip4Text, ip6Text, macKeyFromLanes } from '../topology/ip-text.ts';

/** IPv4 texts a table keeps (FrameTable.addrText) before it starts over. */
const IP4_TEXTS_MAX = 1 << 16;

/** Link-layer columns: read only by the rules' gateway MAC check (evidence), never by the matcher. */
const LINK_COLUMNS = ['linkType', 'srcMac', 'dstMac'] as const;

/** Every per-frame column (for copies). */
export const FRAME_COLUMNS = [
  'point',
  'file',
  'frame',
  't',
  'fpLo',
  'fpHi',
  'fpValid',
  'dir',
  'dirInferred',
  'ipVersion',
  'proto',
  'src',
  'dst',
  'srcPort',
  'dstPort',
  'ttl',
  'tcpSeq',
  'tcpAck',
  'tcpFlags',
  'payloadLen',
  'wirelen',
  'icmpTypeCode',
  'icmpId',
  'icmpEcho',
  ...LINK_COLUMNS,
] as const;
export type FrameColumn = (typeof FRAME_COLUMNS)[number];

/** The columns correlation reads (a slab copy needs no more; evidence columns are read by row later). */
const EVIDENCE_COLUMNS: readonly string[] = [
  ...['file', 'frame', 'dirInferred', 'ttl', 'tcpFlags', 'icmpTypeCode', 'icmpId', 'icmpEcho'],
  ...LINK_COLUMNS,
];
export const CORRELATION_COLUMNS: readonly FrameColumn[] = FRAME_COLUMNS.filter(
  (c) => !EVIDENCE_COLUMNS.includes(c),
);

function gather64(
  to: Float64Array,
  at: number,
  from: Float64Array,
  rows: Int32Array,
  a: number,
  b: number,
): void {
  for (let k = a; k < b; k++) to[at + k - a] = from[rows[k]!]!;
}
function gather32(
  to: Uint32Array,
  at: number,
  from: Uint32Array,
  rows: Int32Array,
  a: number,
  b: number,
): void {
  for (let k = a; k < b; k++) to[at + k - a] = from[rows[k]!]!;
}
function gather16(
  to: Uint16Array,
  at: number,
  from: Uint16Array,
  rows: Int32Array,
  a: number,
  b: number,
): void {
  for (let k = a; k < b; k++) to[at + k - a] = from[rows[k]!]!;
}
function gather8(to: Uint8Array, at: number, from: Uint8Array, rows: Int32Array, a: number, b: number): void {
  for (let k = a; k < b; k++) to[at + k - a] = from[rows[k]!]!;
}

export class FrameTable {
  length = 0;
  capacity: number;
  baseNs: bigint | null = null;
  private baseHi = 0;
  private baseLo = 0;

  point!: Uint16Array;
  file!: Uint16Array;
  frame!: Uint32Array;
  t!: Float64Array;
  fpLo!: Uint32Array;
  fpHi!: Uint32Array;
  /** DirCode; `dirInferred` 1 when it came from the topology, not the capture */
  dir!: Uint8Array;
  dirInferred!: Uint8Array;
  ipVersion!: Uint8Array;
  proto!: Uint8Array;
  src!: Uint32Array;
  dst!: Uint32Array;
  srcPort!: Uint16Array;
  dstPort!: Uint16Array;
  ttl!: Uint8Array;
  /** 1 when the frame has a fingerprint */
  fpValid!: Uint8Array;
  tcpSeq!: Uint32Array;
  tcpAck!: Uint32Array;
  tcpFlags!: Uint16Array;
  /** TCP payload length, or the L4 payload length for other protocols */
  payloadLen!: Uint32Array;
  wirelen!: Uint32Array;
  /** ICMP type << 8 | code, and the echo id (0xffff... not echo: icmpEcho 0) */
  icmpTypeCode!: Uint16Array;
  icmpId!: Uint16Array;
  icmpEcho!: Uint8Array;
  /** the capture's link type (1 Ethernet, 276 SLL2...): says why a frame has no MAC (rules' gateway_mac) */
  linkType!: Uint16Array;
  /** MAC keys (`macKeyFromLanes`, 48 bits exact in a double); -1 when the link layer carries none (SLL2 `any`
   * captures: the evaluator then cannot judge a gateway MAC and says so instead of guessing) */
  srcMac!: Float64Array;
  dstMac!: Float64Array;

  /** IPv4 text by address, made by `addrText` as asked */
  private readonly ip4Texts = new Map<number, string>();
  private ip6Texts = new Interned<string>();

  /** columns this table does not hold (zero-length arrays): a table of evidence rows needs no fingerprint */
  private readonly omitted: ReadonlySet<FrameColumn>;

  constructor(
    capacity = 1 << 16,
    omit: readonly FrameColumn[] = [],
    /** columns in shared memory: another thread reads them where they are (slab-worker.ts) */
    private readonly shared = false,
  ) {
    this.capacity = capacity;
    this.omitted = new Set(omit);
    this.allocate(capacity);
  }

  private allocate(n: number): void {
    const grow = <T extends Uint8Array | Uint16Array | Uint32Array | Float64Array>(
      column: FrameColumn,
      old: T | undefined,
      Type: { new (n: number): T; new (b: SharedArrayBuffer): T; BYTES_PER_ELEMENT: number },
    ): T => {
      const rows = this.omitted.has(column) ? 0 : n;
      const next = this.shared
        ? new Type(new SharedArrayBuffer(rows * Type.BYTES_PER_ELEMENT))
        : new Type(rows);
      if (old && next.length > 0) next.set(old.subarray(0, this.length) as never);
      return next;
    };
    this.point = grow('point', this.point, Uint16Array);
    this.file = grow('file', this.file, Uint16Array);
    this.frame = grow('frame', this.frame, Uint32Array);
    this.t = grow('t', this.t, Float64Array);
    this.fpLo = grow('fpLo', this.fpLo, Uint32Array);
    this.fpHi = grow('fpHi', this.fpHi, Uint32Array);
    this.fpValid = grow('fpValid', this.fpValid, Uint8Array);
    this.dir = grow('dir', this.dir, Uint8Array);
    this.dirInferred = grow('dirInferred', this.dirInferred, Uint8Array);
    this.ipVersion = grow('ipVersion', this.ipVersion, Uint8Array);
    this.proto = grow('proto', this.proto, Uint8Array);
    this.src = grow('src', this.src, Uint32Array);
    this.dst = grow('dst', this.dst, Uint32Array);
    this.srcPort = grow('srcPort', this.srcPort, Uint16Array);
    this.dstPort = grow('dstPort', this.dstPort, Uint16Array);
    this.ttl = grow('ttl', this.ttl, Uint8Array);
    this.tcpSeq = grow('tcpSeq', this.tcpSeq, Uint32Array);
    this.tcpAck = grow('tcpAck', this.tcpAck, Uint32Array);
    this.tcpFlags = grow('tcpFlags', this.tcpFlags, Uint16Array);
    this.payloadLen = grow('payloadLen', this.payloadLen, Uint32Array);
    this.wirelen = grow('wirelen', this.wirelen, Uint32Array);
    this.icmpTypeCode = grow('icmpTypeCode', this.icmpTypeCode, Uint16Array);
    this.icmpId = grow('icmpId', this.icmpId, Uint16Array);
    this.icmpEcho = grow('icmpEcho', this.icmpEcho, Uint8Array);
    this.linkType = grow('linkType', this.linkType, Uint16Array);
    this.srcMac = grow('srcMac', this.srcMac, Float64Array);
    this.dstMac = grow('dstMac', this.dstMac, Float64Array);
    this.capacity = n;
  }

  reserve(extra: number): void {
    if (this.length + extra <= this.capacity) return;
    // 1.5x, not 2x: a large table's slack and its transient copy are what bound peak memory
    let n = this.capacity;
    while (n < this.length + extra) n = Math.ceil(1.5 * n) + 16;
    this.allocate(n);
  }

  /** interned IPv6 text, by id */
  get ip6(): readonly string[] {
    return this.ip6Texts.values;
  }

  intern6(text: string): number {
    return this.ip6Texts.id(text);
  }

  /** A copy holding the frames `keep` accepts (time windows, a dropped capture point). */
  filter(keep: (i: number) => boolean): FrameTable {
    const out = new FrameTable(Math.max(16, this.length));
    out.baseNs = this.baseNs;
    out.baseHi = this.baseHi;
    out.baseLo = this.baseLo;
    // in id order: the same ids
    for (const text of this.ip6) out.intern6(text);
    const columns = FRAME_COLUMNS;
    for (let i = 0; i < this.length; i++) {
      if (!keep(i)) continue;
      const j = out.length++;
      for (const c of columns) out[c][j] = this[c][i]!;
    }
    return out;
  }

  /**
   * Replaces this table's rows with `src`'s rows `rows[a..b)` (a time slab). Column by column: each
   * pass reads one source array, and rows binned by time come in a few sequential runs (one per point),
   * so this is close to a memcpy. IPv6 ids keep pointing into `src.ip6` (not copied: slab tables are
   * internal to correlation, which compares ids and never prints them).
   */
  copyRows(
    src: FrameTable,
    rows: Int32Array,
    a: number,
    b: number,
    columns: readonly FrameColumn[] = FRAME_COLUMNS,
    append = false,
  ): void {
    const at = append ? this.length : 0;
    if (!append) this.length = 0;
    this.reserve(b - a);
    this.adoptBase(src);
    // one monomorphic gather per element type: a single loop over mixed typed arrays runs 3x slower
    for (const c of columns) {
      if (this.omitted.has(c)) continue;
      const to = this[c];
      const from = src[c];
      if (to instanceof Float64Array) gather64(to, at, from as Float64Array, rows, a, b);
      else if (to instanceof Uint32Array) gather32(to, at, from as Uint32Array, rows, a, b);
      else if (to instanceof Uint16Array) gather16(to, at, from as Uint16Array, rows, a, b);
      else gather8(to, at, from as Uint8Array, rows, a, b);
    }
    this.length = at + b - a;
  }

  /** Times relative to `baseNs` (a table filled on another thread than the spool's: its base comes by message). */
  useBase(baseNs: bigint | null): void {
    this.baseNs = baseNs;
    // the lanes as appendBatch takes them from the batches' Uint32Array
    this.baseHi = baseNs === null ? 0 : Number(BigInt.asUintN(32, baseNs >> 32n));
    this.baseLo = baseNs === null ? 0 : Number(baseNs & 0xffffffffn);
  }

  /** Takes `other`'s time base (times in both are then relative to the same instant). */
  adoptBase(other: FrameTable): void {
    this.baseNs = other.baseNs;
    this.baseHi = other.baseHi;
    this.baseLo = other.baseLo;
  }

  /** Reads IPv6 ids through `other`'s interned text (tables cut out of one capture). */
  shareIp6(other: FrameTable): void {
    this.ip6Texts = other.ip6Texts;
  }

  /**
   * Address text of a frame's source or destination; null without an IP layer. IPv4 text is made once
   * per address (IPv6 text is interned): a capture has few addresses and its flows ask for them per
   * packet. The cache is cleared when full, so a capture of many addresses cannot grow it unbounded.
   */
  addrText(i: number, which: 'src' | 'dst'): string | null {
    const v = this.ipVersion[i];
    const a = (which === 'src' ? this.src : this.dst)[i] ?? 0;
    if (v === 4) {
      let text = this.ip4Texts.get(a);
      if (text === undefined) {
        text = ip4Text(a);
        if (this.ip4Texts.size >= IP4_TEXTS_MAX) this.ip4Texts.clear();
        this.ip4Texts.set(a, text);
      }
      return text;
    }
    if (v === 6) return this.ip6[a] ?? null;
    return null;
  }

  /** ns since the epoch of a relative time. */
  absNs(t: number): bigint {
    return (this.baseNs ?? 0n) + BigInt(Math.round(t));
  }

  /**
   * Appends a decoded batch. `resolverOf(pointId)` gives the direction resolver of the batch's points
   * (null: leave unknown). `pointMap` maps ingest point ids to this table's ids.
   */
  appendBatch(
    c: PacketColumns,
    pointMap: Uint16Array,
    resolverOf: (point: number) => DirectionResolver | null,
    /** for a multi-device point (`any`): the point of the device with this SLL2 ifindex, or -1 */
    devicePoint?: (point: number, ifindex: number) => number,
  ): void {
    const n = c.length;
    this.reserve(n);
    // the resolver asks for address text only when MACs do not decide: two closures per batch over the
    // current row, not two per frame
    let current = 0;
    const srcText = () => this.addrText(current, 'src');
    const dstText = () => this.addrText(current, 'dst');
    // columns as locals: reserve() ran, and a property load per column per row cost as much as the row
    const { point, file, frame, t, fpValid, fpLo, fpHi, ipVersion, proto, src, dst, srcPort, dstPort } = this;
    const { ttl, tcpSeq, tcpAck, tcpFlags, payloadLen, wirelen, icmpTypeCode, icmpEcho, icmpId } = this;
    const { srcMac, dstMac, linkType, dir, dirInferred } = this;
    const { ts, tsValid, fingerprint, fingerprintValid, srcIp4, dstIp4, srcIp6, dstIp6 } = c;
    const { ipProto, ipProtoValid, portsValid, tcpValid, icmpValid, icmpType, icmpCode } = c;
    const cIpVersion = c.ipVersion;
    const cSrcPort = c.srcPort;
    const cDstPort = c.dstPort;
    const cTtl = c.ttl;
    const cTcpSeq = c.tcpSeq;
    const cTcpAck = c.tcpAck;
    const cTcpFlags = c.tcpFlags;
    const cWirelen = c.wirelen;
    const cPoint = c.point;
    const cFile = c.file;
    const cFrame = c.frame;
    const cLinkType = c.linkType;
    const cDirection = c.direction;
    const cPayloadLen = c.payloadLen;
    const cTcpPayloadLen = c.tcpPayloadLen;
    const cIcmpEchoValid = c.icmpEchoValid;
    const cIcmpId = c.icmpId;
    const cSrcMac = c.srcMac;
    const cDstMac = c.dstMac;
    const cSrcMacValid = c.srcMacValid;
    const cDstMacValid = c.dstMacValid;
    const cIfindex = c.ifindex;
    const cIfindexValid = c.ifindexValid;
    let i = this.length;
    for (let r = 0; r < n; r++) {
      if (tsValid[r] !== 1) continue;
      const lo = ts[2 * r]!;
      const hi = ts[2 * r + 1]!;
      if (this.baseNs === null) {
        this.baseNs = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
        this.baseHi = hi;
        this.baseLo = lo;
      }
      // relative time from lanes without BigInt: exact while |t| < 2^53
      t[i] = (hi - this.baseHi) * 4294967296 + (lo - this.baseLo);
      let p = pointMap[cPoint[r]!]!;
      if (devicePoint && cIfindexValid[r] === 1) {
        const d = devicePoint(p, cIfindex[r]!);
        if (d >= 0) p = d;
      }
      point[i] = p;
      file[i] = cFile[r]!;
      frame[i] = cFrame[r]!;
      fpValid[i] = fingerprintValid[r]!;
      fpLo[i] = fingerprint[2 * r]!;
      fpHi[i] = fingerprint[2 * r + 1]!;
      const v = cIpVersion[r]!;
      ipVersion[i] = v;
      proto[i] = ipProtoValid[r] === 1 ? ipProto[r]! : 0;
      if (v === 4) {
        src[i] = srcIp4[r]!;
        dst[i] = dstIp4[r]!;
      } else if (v === 6) {
        src[i] = this.intern6(ip6Text(srcIp6, 16 * r));
        dst[i] = this.intern6(ip6Text(dstIp6, 16 * r));
      } else {
        src[i] = 0;
        dst[i] = 0;
      }
      const ports = portsValid[r] === 1;
      srcPort[i] = ports ? cSrcPort[r]! : 0;
      dstPort[i] = ports ? cDstPort[r]! : 0;
      ttl[i] = cTtl[r]!;
      const tcp = tcpValid[r] === 1;
      tcpSeq[i] = tcp ? cTcpSeq[r]! : 0;
      tcpAck[i] = tcp ? cTcpAck[r]! : 0;
      tcpFlags[i] = tcp ? cTcpFlags[r]! : 0;
      payloadLen[i] = tcp ? cTcpPayloadLen[r]! : cPayloadLen[r]!;
      wirelen[i] = cWirelen[r]!;
      const icmp = icmpValid[r] === 1;
      icmpTypeCode[i] = icmp ? (icmpType[r]! << 8) | icmpCode[r]! : 0;
      const echo = cIcmpEchoValid[r]!;
      icmpEcho[i] = echo;
      icmpId[i] = echo === 1 ? cIcmpId[r]! : 0;
      // Ethernet writes both MACs or neither (one shared validity lane)
      const sm = cSrcMacValid[r] === 1 ? macKeyFromLanes(cSrcMac[2 * r]!, cSrcMac[2 * r + 1]!) : -1;
      const dm = cDstMacValid[r] === 1 ? macKeyFromLanes(cDstMac[2 * r]!, cDstMac[2 * r + 1]!) : -1;
      srcMac[i] = sm;
      dstMac[i] = dm;
      linkType[i] = cLinkType[r]!;
      // written on every row: a reused table (the spool's) still holds an earlier chunk's rows
      let d = cDirection[r]!;
      let inferred = 0;
      if (d === DirCode.unknown) {
        const res = resolverOf(p);
        if (res) {
          current = i;
          d = res.infer(sm, dm, srcText, dstText);
          inferred = d === DirCode.unknown ? 0 : 1;
        }
      }
      dirInferred[i] = inferred;
      dir[i] = d;
      i++;
    }
    this.length = i;
  }
}
