import { PushParser } from '../push-parser.ts';
import { type BulkCursor, BulkKind, bulkFormat } from '../record.ts';
import { type NsLanes, secFracToNs } from '../timestamp.ts';

const TWO32 = 4294967296;

/** Magic numbers as read little-endian from the first 4 bytes. */
export const PCAP_MAGIC_US = 0xa1b2c3d4;
export const PCAP_MAGIC_NS = 0xa1b23c4d;
export const PCAP_MAGIC_MODIFIED = 0xa1b2cd34;

const FILE_HEADER = 24;
/** Link-type field (pcap spec): bits 16-25 reserved, bit 26 "FCS length present", bits 28-31 FCS length in 16-bit words. */
const LT_RESERVED = 0x03ff0000;
const LT_FCS_PRESENT = 0x04000000;

/**
 * Largest record we accept, per link type, as wiretap does (WTAP_MAX_PACKET_SIZE_*): a longer incl_len
 * is a corrupt file, and refusing it keeps a bogus length from allocating.
 */
export function maxRecordSize(linkType: number): number {
  switch (linkType) {
    case 231: // D-Bus
    case 249: // USBPcap
      return 128 * 1024 * 1024;
    case 279: // EBHSCR
      return 8 * 1024 * 1024;
    default:
      return 262144;
  }
}

/** Is this a pcap magic in either byte order? Returns the magic normalised, or 0. */
export function pcapMagic(b0: number, b1: number, b2: number, b3: number): number {
  const le = (b0 | (b1 << 8) | (b2 << 16) | (b3 << 24)) >>> 0;
  const be = ((b0 << 24) | (b1 << 16) | (b2 << 8) | b3) >>> 0;
  for (const m of [PCAP_MAGIC_US, PCAP_MAGIC_NS, PCAP_MAGIC_MODIFIED]) {
    if (le === m || be === m) return m;
  }
  return 0;
}

/**
 * Classic libpcap files: a 24-byte file header, then records with a 16-byte header (24 bytes in
 * Kuznetzov's "modified" format: ifindex, protocol, pkt_type and padding follow).
 */
export class PcapParser extends PushParser {
  private headerDone = false;
  private le = true;
  private recHeader = 16;
  /** ns per unit of the sub-second field */
  private fracMult = 1000;
  private snaplen = 0;
  private maxRecord = 262144;
  /**
   * The seconds field of the last record and `seconds * 1e9` as ns lanes: records of one second
   * share it, so a record costs one add instead of `secFracToNs`'s chain of float multiplies and
   * floors (measured on the reader alone: ~1 ns a record). -1 matches no uint32.
   */
  private lastSec = -1;
  private readonly secNs: NsLanes = { tsLo: 0, tsHi: 0 };
  /** set with the file header, for a sink that takes records in bulk */
  private readonly format = bulkFormat(BulkKind.pcap);
  private readonly cursor: BulkCursor = { pos: 0, frame: 0 };

  protected need(_bytes: Uint8Array, view: DataView, pos: number, avail: number, base: number): number {
    if (!this.headerDone) return FILE_HEADER;
    if (avail < this.recHeader) return this.recHeader;
    const incl = view.getUint32(pos + 8, this.le);
    if (incl > this.maxRecord) {
      this.tooLarge(incl, base + pos);
      return -1;
    }
    return this.recHeader + incl;
  }

  protected truncated(_bytes: Uint8Array, view: DataView, avail: number, at: number): void {
    if (!this.headerDone) {
      this.fail(
        'pcap.truncated-file-header',
        at,
        `file header needs ${FILE_HEADER} bytes, the file has ${avail}`,
      );
    } else if (avail < this.recHeader) {
      this.fail(
        'pcap.truncated-record-header',
        at,
        `record ${this.records + 1}: header needs ${this.recHeader} bytes, ${avail} left in the file`,
      );
    } else {
      const incl = view.getUint32(8, this.le);
      this.fail(
        'pcap.truncated-record',
        at,
        `record ${this.records + 1}: incl_len ${incl} but only ${avail - this.recHeader} bytes left in the file`,
      );
    }
  }

  protected run(bytes: Uint8Array, view: DataView, pos: number, end: number, base: number): number {
    if (!this.headerDone) {
      if (end - pos < FILE_HEADER) return pos;
      if (!this.fileHeader(bytes, view, pos, base)) return pos;
      pos += FILE_HEADER;
    }
    const rec = this.rec;
    rec.bytes = bytes;
    rec.view = view;
    const le = this.le;
    const hdr = this.recHeader;
    const mult = this.fracMult;
    const maxRecord = this.maxRecord;
    const snaplen = this.snaplen;
    const sink = this.sink;
    const secNs = this.secNs;
    let lastSec = this.lastSec;
    let secLo = secNs.tsLo;
    let secHi = secNs.tsHi;
    let frame = this.records;
    // an Ethernet file's records go to a sink that takes them in bulk first; it hands back the ones
    // it leaves (another stack, a warning, a record cut by the buffer's end), one at a time
    let bulk = rec.linkType === 1 && sink.bulkRecords !== undefined;
    const format = this.format;
    const fracLimit = format.fracLimit;
    const cursor = this.cursor;
    while (end - pos >= hdr) {
      if (bulk) {
        cursor.pos = pos;
        cursor.frame = frame;
        bulk = sink.bulkRecords!(bytes, end, base, format, cursor);
        pos = cursor.pos;
        frame = cursor.frame;
        if (end - pos < hdr) break;
      }
      const incl = view.getUint32(pos + 8, le);
      if (incl > maxRecord) {
        this.records = frame;
        this.lastSec = lastSec;
        this.tooLarge(incl, base + pos);
        return pos;
      }
      if (end - pos - hdr < incl) break;
      const orig = view.getUint32(pos + 12, le);
      if (incl > orig || incl > snaplen) this.oddLength(incl, orig, base + pos, frame + 1);
      const frac = view.getUint32(pos + 4, le);
      if (frac >= fracLimit) this.badFraction(frac, base + pos, frame + 1);
      const sec = view.getUint32(pos, le);
      if (sec !== lastSec) {
        secFracToNs(secNs, sec, 0);
        lastSec = sec;
        secLo = secNs.tsLo;
        secHi = secNs.tsHi;
      }
      // Scaled in 32 bits, as wiretap does: an out-of-range microsecond field wraps exactly as in
      // tshark, and carries into the seconds (below 2^32, so at most once)
      const lo = secLo + (Math.imul(frac, mult) >>> 0);
      // computed on every record, not in a branch taken only now and then: a branch first taken
      // after the loop was compiled has no type feedback, and V8 throws the compiled loop away
      const carry = lo >= TWO32 ? 1 : 0;
      rec.tsLo = lo - carry * TWO32;
      rec.tsHi = secHi + carry;
      rec.at = pos + hdr;
      rec.caplen = incl;
      rec.wirelen = orig;
      rec.fileOffset = base + pos;
      rec.frame = ++frame;
      sink.packet(rec);
      pos += hdr + incl;
    }
    this.records = frame;
    this.lastSec = lastSec;
    return pos;
  }

  private fileHeader(bytes: Uint8Array, view: DataView, pos: number, base: number): boolean {
    const magicLe = view.getUint32(pos, true);
    const magic = pcapMagic(bytes[pos]!, bytes[pos + 1]!, bytes[pos + 2]!, bytes[pos + 3]!);
    const le = magicLe === magic;
    this.le = le;
    const major = view.getUint16(pos + 4, le);
    const minor = view.getUint16(pos + 6, le);
    // wiretap accepts any major version from 2 on (2.5 files exist); libpcap 1.x wrote nothing else.
    if (major < 2) {
      this.fail(
        'pcap.bad-version',
        base + pos + 4,
        `pcap version ${major}.${minor} is not supported (major must be 2)`,
      );
      return false;
    }
    this.snaplen = view.getUint32(pos + 16, le);
    const field = view.getUint32(pos + 20, le);
    if (field & LT_RESERVED) {
      const reserved = (field & LT_RESERVED) >>> 0;
      this.fail(
        'pcap.bad-linktype-field',
        base + pos + 20,
        `link-type field 0x${hex8(field)} has reserved bits 0x${hex8(reserved)} set`,
      );
      return false;
    }
    const linkType = field & 0xffff;
    this.maxRecord = maxRecordSize(linkType);
    this.recHeader = magic === PCAP_MAGIC_MODIFIED ? 24 : 16;
    this.fracMult = magic === PCAP_MAGIC_NS ? 1 : 1000;
    const f = this.format;
    f.bigEndian = !le;
    f.header = this.recHeader;
    f.fracMult = this.fracMult;
    f.fracLimit = this.fracMult === 1 ? 1_000_000_000 : 1_000_000;
    f.maxRecord = this.maxRecord;
    f.snaplen = this.snaplen;
    // one interface, the file's: index 0, as `rec.interfaceIndex` below
    f.interfaceIndex = 0;
    this.headerDone = true;
    this.rec.linkType = linkType;
    this.rec.tsValid = true;
    this.rec.interfaceIndex = 0;
    this.rec.interfaceId = -1;
    this.rec.section = 0;
    this.container = {
      format: magic === PCAP_MAGIC_MODIFIED ? 'pcap-modified' : 'pcap',
      compression: this.compression,
      bigEndian: !le,
      versionMajor: major,
      versionMinor: minor,
      sections: 1,
    };
    this.sink.container(this.container);
    this.sink.interface({
      interfaceIndex: 0,
      interfaceId: -1,
      section: 0,
      linkType,
      fcsLen: field & LT_FCS_PRESENT ? (field >>> 28) * 2 : -1,
      snaplen: this.snaplen,
      tsResolution: magic === PCAP_MAGIC_NS ? '1e-9' : '1e-6',
      name: null,
      description: null,
      filter: null,
      tsOffsetSec: 0,
      bigEndian: !le,
      fileOffset: base + pos,
    });
    return true;
  }

  private tooLarge(incl: number, at: number): void {
    this.fail(
      'pcap.record-too-large',
      at,
      `record ${this.records + 1}: incl_len ${incl} is larger than the maximum ${this.maxRecord} for link type ${this.rec.linkType}`,
    );
  }

  private badFraction(frac: number, at: number, frame: number): void {
    if (this.wantWarning('pcap.fraction-out-of-range')) {
      const unit = this.fracMult === 1 ? 'ns' : 'us';
      this.warn(
        at,
        'pcap.fraction-out-of-range',
        `record ${frame}: sub-second field ${frac} ${unit} is not below one second; carried into the seconds`,
      );
    }
  }

  private oddLength(incl: number, orig: number, at: number, frame: number): void {
    // Kept as stored (tshark does the same); the decoder sees what was captured.
    if (incl > orig && this.wantWarning('pcap.incl-gt-orig')) {
      this.warn(at, 'pcap.incl-gt-orig', `record ${frame}: incl_len ${incl} > orig_len ${orig}`);
    }
    if (incl > this.snaplen && this.wantWarning('pcap.incl-gt-snaplen')) {
      this.warn(at, 'pcap.incl-gt-snaplen', `record ${frame}: incl_len ${incl} > snaplen ${this.snaplen}`);
    }
  }
}

export function hex8(v: number): string {
  return (v >>> 0).toString(16).padStart(8, '0');
}
