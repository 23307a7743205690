/**
 * A small pcapng writer (draft-ietf-opsawg-pcapng): one Section Header Block, Interface Description
 * Blocks and Enhanced Packet Blocks, little-endian. ingest/ only reads captures; this is what
 * `hoptrace export` hands to Wireshark, so it writes exactly the options Wireshark shows for a packet
 * seen on several interfaces: `if_name`, `if_tsresol` (ns), `if_fcslen`, `epb_flags` (direction),
 * `epb_packetid` (the same packet on every interface) and `opt_comment`.
 *
 * Blocks go to a sink as they are made (one `Uint8Array` per block), so a caller may stream them to a
 * file; `pcapngBytes` collects them for tests.
 */

const BT_SHB = 0x0a0d0d0a;
const BT_IDB = 0x00000001;
const BT_EPB = 0x00000006;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

const OPT_ENDOFOPT = 0;
const OPT_COMMENT = 1;
const SHB_USERAPPL = 4;
const IF_NAME = 2;
const IF_DESCRIPTION = 3;
const IF_TSRESOL = 9;
const IF_FCSLEN = 13;
const EPB_FLAGS = 2;
const EPB_PACKETID = 5;

/** An option value is at most 65535 bytes (its length field is 16 bits). */
const MAX_OPTION = 0xffff;

/** `epb_flags` bits 0-1: inbound 1, outbound 2, 0 when not known. */
export const EpbDirection = Object.freeze({ unknown: 0, inbound: 1, outbound: 2 } as const);

export interface PcapngInterface {
  /** `if_name`: for hoptrace, the capture point id */
  name: string;
  /** LINKTYPE_* value */
  linkType: number;
  description?: string;
  /** bytes of FCS at the end of every frame (`if_fcslen`), when known */
  fcsLen?: number;
  /** 0: no limit */
  snaplen?: number;
}

export interface PcapngPacket {
  /** index returned by `addInterface` */
  iface: number;
  /** ns since the Unix epoch (the IDBs say `if_tsresol` = 10^-9) */
  tsNs: bigint;
  data: Uint8Array;
  /** length on the wire; at least `data.length` */
  origLen: number;
  /** whole `epb_flags` word (direction in bits 0-1); omitted when undefined */
  flags?: number;
  /** `epb_packetid`: equal for every sighting of one packet */
  packetId?: bigint;
  comments?: string[];
}

const utf8 = new TextEncoder();

/** UTF-8 bytes of `s`, cut at a character boundary so they fit in one option. */
function optionText(s: string): Uint8Array {
  const bytes = utf8.encode(s);
  if (bytes.length <= MAX_OPTION) return bytes;
  let end = MAX_OPTION;
  // back off over continuation bytes (10xxxxxx) so no character is split
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}

const pad4 = (n: number) => (4 - (n % 4)) % 4;

/** Options as TLVs, each padded to 32 bits, closed by opt_endofopt; nothing when there are none. */
function options(list: [number, Uint8Array][]): Uint8Array {
  if (list.length === 0) return new Uint8Array(0);
  const size = list.reduce((n, [, v]) => n + 4 + v.length + pad4(v.length), 4);
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  let at = 0;
  for (const [code, value] of list) {
    dv.setUint16(at, code, true);
    dv.setUint16(at + 2, value.length, true);
    out.set(value, at + 4);
    at += 4 + value.length + pad4(value.length);
  }
  dv.setUint16(at, OPT_ENDOFOPT, true);
  dv.setUint16(at + 2, 0, true);
  return out;
}

/** type, total length, fixed body, options, total length again (the block is walkable both ways). */
function block(type: number, fixed: Uint8Array, opts: Uint8Array): Uint8Array {
  const total = 12 + fixed.length + opts.length;
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, type, true);
  dv.setUint32(4, total, true);
  out.set(fixed, 8);
  out.set(opts, 8 + fixed.length);
  dv.setUint32(total - 4, total, true);
  return out;
}

const u8 = (v: number) => Uint8Array.of(v);
function u32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  return b;
}
function u64(v: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, v), true);
  return b;
}

export class PcapngWriter {
  private interfaces = 0;
  private started = false;

  constructor(private readonly sink: (block: Uint8Array) => void) {}

  /** The Section Header Block; written by the first other call when not called explicitly. */
  section(userAppl = 'hoptrace', comment?: string): void {
    if (this.started) throw new Error('pcapng: the section header is already written');
    this.started = true;
    const fixed = new Uint8Array(16);
    const dv = new DataView(fixed.buffer);
    dv.setUint32(0, BYTE_ORDER_MAGIC, true);
    dv.setUint16(4, 1, true);
    dv.setUint16(6, 0, true);
    // section length -1: not given (the file is written in one pass)
    dv.setBigInt64(8, -1n, true);
    const opts: [number, Uint8Array][] = [[SHB_USERAPPL, optionText(userAppl)]];
    if (comment !== undefined) opts.push([OPT_COMMENT, optionText(comment)]);
    this.sink(block(BT_SHB, fixed, options(opts)));
  }

  /** Writes an IDB and returns its interface id (0, 1, ... in the order added). */
  addInterface(i: PcapngInterface): number {
    if (!this.started) this.section();
    if (!Number.isInteger(i.linkType) || i.linkType < 0 || i.linkType > 0xffff)
      throw new Error(`pcapng: link type ${i.linkType} out of range`);
    const fixed = new Uint8Array(8);
    const dv = new DataView(fixed.buffer);
    dv.setUint16(0, i.linkType, true);
    dv.setUint32(4, i.snaplen ?? 0, true);
    const opts: [number, Uint8Array][] = [
      [IF_NAME, optionText(i.name)],
      // 9: 10^-9 s, so timestamps are ns and the corrected times survive exactly
      [IF_TSRESOL, u8(9)],
    ];
    if (i.description !== undefined) opts.push([IF_DESCRIPTION, optionText(i.description)]);
    if (i.fcsLen !== undefined && i.fcsLen >= 0) opts.push([IF_FCSLEN, u8(i.fcsLen)]);
    this.sink(block(BT_IDB, fixed, options(opts)));
    return this.interfaces++;
  }

  packet(p: PcapngPacket): void {
    if (p.iface < 0 || p.iface >= this.interfaces) throw new Error(`pcapng: no interface ${p.iface}`);
    if (p.tsNs < 0n) throw new Error('pcapng: timestamp before 1970');
    const len = p.data.length;
    const fixed = new Uint8Array(20 + len + pad4(len));
    const dv = new DataView(fixed.buffer);
    dv.setUint32(0, p.iface, true);
    dv.setUint32(4, Number(p.tsNs >> 32n), true);
    dv.setUint32(8, Number(p.tsNs & 0xffffffffn), true);
    dv.setUint32(12, len, true);
    dv.setUint32(16, Math.max(p.origLen, len), true);
    fixed.set(p.data, 20);
    const opts: [number, Uint8Array][] = (p.comments ?? []).map((c) => [OPT_COMMENT, optionText(c)]);
    if (p.flags !== undefined) opts.push([EPB_FLAGS, u32(p.flags)]);
    if (p.packetId !== undefined) opts.push([EPB_PACKETID, u64(p.packetId)]);
    this.sink(block(BT_EPB, fixed, options(opts)));
  }
}

/** The whole file in memory: for tests and small exports. */
export function pcapngBytes(
  interfaces: PcapngInterface[],
  packets: PcapngPacket[],
  userAppl = 'hoptrace',
): Uint8Array {
  const parts: Uint8Array[] = [];
  const w = new PcapngWriter((b) => parts.push(b));
  w.section(userAppl);
  for (const i of interfaces) w.addInterface(i);
  for (const p of packets) w.packet(p);
  return Buffer.concat(parts);
}
