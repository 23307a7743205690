import { maxRecordSize } from '../pcap/read-pcap.ts';
import { PushParser, type ReaderRecord } from '../push-parser.ts';
import { type BulkCursor, type BulkFormat, BulkKind, bulkFormat, type InterfaceStats } from '../record.ts';
import {
  lanesToBigInt,
  type NsLanes,
  type Resolution,
  resolution,
  resolutionFromTsresol,
  setLanes,
  unitsToNs,
  unitsToNsExact,
} from '../timestamp.ts';
import { type OptionWalk, walkOptions } from './options.ts';

export const BT_SHB = 0x0a0d0d0a;
const BT_IDB = 1;
const BT_PB = 2;
const BT_SPB = 3;
const BT_NRB = 4;
const BT_ISB = 5;
const BT_EPB = 6;
const BT_DSB = 0x0a;
const BT_CB = 0xbad;
const BT_DCB = 0x40000bad;
const BOM = 0x1a2b3c4d;

const MIN_BLOCK = 12;
/** Smallest legal total length per block type (header, fixed part, trailer), as wiretap checks them. */
const MIN_SIZE: Record<number, number> = {
  [BT_SHB]: 28,
  [BT_IDB]: 20,
  [BT_PB]: 32,
  [BT_SPB]: 16,
  [BT_ISB]: 24,
  [BT_EPB]: 32,
};
const BLOCK_NAME: Record<number, string> = {
  [BT_SHB]: 'SHB',
  [BT_IDB]: 'IDB',
  [BT_PB]: 'PB',
  [BT_SPB]: 'SPB',
  [BT_NRB]: 'NRB',
  [BT_ISB]: 'ISB',
  [BT_EPB]: 'EPB',
  [BT_DSB]: 'DSB',
  [BT_CB]: 'CB',
  [BT_DCB]: 'DCB',
};
/**
 * Largest block accepted: an EPB holding the largest packet any link type allows (D-Bus, 128 MiB) plus
 * 128 KiB of options, wiretap's own bound. A larger declared length is corrupt, never allocated.
 */
export const MAX_BLOCK_SIZE = 32 + 128 * 1024 * 1024 + 131072;

function blockName(type: number): string {
  return BLOCK_NAME[type] ?? `block type 0x${(type >>> 0).toString(16).padStart(8, '0')}`;
}

/** Per-interface state of the current section, in parallel arrays (indexed by interface id). */
interface SectionInterfaces {
  index: number[];
  linkType: number[];
  snaplen: number[];
  res: Resolution[];
  nsPerUnit: number[];
  offLo: number[];
  offHi: number[];
  offSec: bigint[];
  maxRecord: number[];
}

function noInterfaces(): SectionInterfaces {
  return {
    index: [],
    linkType: [],
    snaplen: [],
    res: [],
    nsPerUnit: [],
    offLo: [],
    offHi: [],
    offSec: [],
    maxRecord: [],
  };
}

const MICRO = resolution(10, 6);

/** pcapng: blocks of any type, sections of either byte order, packets from EPB, SPB and the obsolete PB. */
export class PcapngParser extends PushParser {
  private le = true;
  private section = 0;
  private ifaces: SectionInterfaces = noInterfaces();
  private interfaceCount = 0;
  private readonly opts: OptionWalk = { code: 0, at: 0, len: 0 };
  private readonly scratch: NsLanes = { tsLo: 0, tsHi: 0 };
  /**
   * The interface whose facts the record holds now (its id in the section, -1 for none): an EPB of
   * the same interface as the one before (nearly every EPB) skips the per-interface lookups and
   * record stores. What the EPB fast path needs of that interface, as plain fields.
   */
  private recId = -1;
  private recMaxRecord = 0;
  private recNsPerUnit = 0;
  private recOffLo = 0;
  private recOffHi = 0;
  /** True while the record may hold option values of an earlier block (they are cleared before the next). */
  private recOptions = true;
  /** the current interface's EPBs, for a sink that takes them in bulk (`bulkInterface`) */
  private readonly format: BulkFormat = { ...bulkFormat(BulkKind.epb), maxBlock: MAX_BLOCK_SIZE };
  private readonly cursor: BulkCursor = { pos: 0, frame: 0 };

  protected need(_bytes: Uint8Array, view: DataView, pos: number, avail: number, base: number): number {
    if (avail < MIN_BLOCK) return MIN_BLOCK;
    return this.blockLength(view, pos, base);
  }

  protected truncated(_bytes: Uint8Array, view: DataView, avail: number, at: number): void {
    if (avail < MIN_BLOCK) {
      this.fail(
        'pcapng.truncated-block',
        at,
        `block header needs ${MIN_BLOCK} bytes, ${avail} left in the file`,
      );
      return;
    }
    const type = view.getUint32(0, this.le);
    const len = this.blockLength(view, 0, at);
    if (len < 0) return;
    this.fail(
      'pcapng.truncated-block',
      at,
      `${blockName(type)} of length ${len} is cut short: ${avail} bytes left in the file`,
    );
  }

  /** The validated total length of the block at `pos` (needs 12 bytes), or -1 after recording an error. */
  private blockLength(view: DataView, pos: number, base: number): number {
    let le = this.le;
    const type = view.getUint32(pos, le);
    if (type === BT_SHB) {
      const bom = view.getUint32(pos + 8, true);
      if (bom === BOM) le = true;
      else if (bom === 0x4d3c2b1a) le = false;
      else {
        const got = [0, 1, 2, 3].map((i) => hex2(view.getUint8(pos + 8 + i))).join(' ');
        this.fail(
          'pcapng.bad-byte-order-magic',
          base + pos + 8,
          `section header byte-order magic bytes are ${got}, expected 4d 3c 2b 1a or 1a 2b 3c 4d`,
        );
        return -1;
      }
    } else if (this.section === 0) {
      this.fail('pcapng.no-section', base + pos, `${blockName(type)} before any section header block`);
      return -1;
    }
    const len = view.getUint32(pos + 4, le);
    const min = MIN_SIZE[type] ?? MIN_BLOCK;
    if (len < min || len % 4 !== 0) {
      const why = len < min ? `is less than the minimum ${min}` : 'is not a multiple of 4';
      this.fail('pcapng.bad-block-length', base + pos + 4, `${blockName(type)} block length ${len} ${why}`);
      return -1;
    }
    if (len > MAX_BLOCK_SIZE) {
      this.fail(
        'pcapng.block-too-large',
        base + pos + 4,
        `${blockName(type)} block length ${len} is larger than the maximum ${MAX_BLOCK_SIZE}`,
      );
      return -1;
    }
    return len;
  }

  protected run(bytes: Uint8Array, view: DataView, pos: number, end: number, base: number): number {
    const rec = this.rec;
    rec.bytes = bytes;
    rec.view = view;
    const sink = this.sink;
    let bulk = sink.bulkRecords !== undefined;
    while (end - pos >= MIN_BLOCK) {
      // once an EPB has chosen an Ethernet interface with plain ns timestamps, its blocks go to a
      // sink that takes them in bulk first; it hands back what it leaves (another block, an EPB with
      // options or of another interface, a block cut by the buffer's end), one block at a time
      if (bulk && this.recId >= 0 && this.bulkInterface()) {
        const cursor = this.cursor;
        cursor.pos = pos;
        cursor.frame = this.records;
        bulk = sink.bulkRecords!(bytes, end, base, this.format, cursor);
        pos = cursor.pos;
        this.records = cursor.frame;
        if (end - pos < MIN_BLOCK) break;
      }
      let le = this.le;
      const type = view.getUint32(pos, le);
      // EPB first and inline: it is nearly every block of a real capture.
      if (type === BT_EPB && this.section !== 0) {
        const len = view.getUint32(pos + 4, le);
        if (len < 32 || len > MAX_BLOCK_SIZE || (len & 3) !== 0) {
          this.blockLength(view, pos, base);
          return pos;
        }
        if (end - pos < len) return pos;
        if (!this.enhancedPacket(view, pos, len, base)) return pos;
        pos += len;
        continue;
      }
      const len = this.blockLength(view, pos, base);
      if (len < 0) return pos;
      if (end - pos < len) return pos;
      if (type === BT_SHB) le = view.getUint32(pos + 8, true) === BOM;
      let ok = true;
      switch (type) {
        case BT_SHB:
          ok = this.sectionHeader(view, pos, len, base, le);
          break;
        case BT_IDB:
          ok = this.interfaceBlock(bytes, view, pos, len, base);
          break;
        case BT_PB:
        case BT_SPB:
          ok = this.packet(view, pos, len, base, type);
          break;
        case BT_ISB:
          ok = this.statsBlock(view, pos, len, base);
          break;
        case BT_NRB:
        case BT_DSB:
        case BT_CB:
        case BT_DCB:
          ok = this.trailerOk(view, pos, len, base, le);
          break;
        default:
          ok = this.trailerOk(view, pos, len, base, le);
          if (ok && this.wantWarning('pcapng.unknown-block')) {
            this.warn(base + pos, 'pcapng.unknown-block', `skipped ${blockName(type)} of length ${len}`);
          }
      }
      if (!ok) return pos;
      pos += len;
    }
    return pos;
  }

  /**
   * Checked after the block body, before anything of the block reaches the sink: wiretap reads the
   * body first, so a bad option inside is reported before a bad trailer.
   */
  private trailerOk(view: DataView, pos: number, len: number, base: number, le = this.le): boolean {
    const trailer = view.getUint32(pos + len - 4, le);
    if (trailer === len) return true;
    this.fail(
      'pcapng.bad-trailer-length',
      base + pos + len - 4,
      `${blockName(view.getUint32(pos, le))} trailer length ${trailer} differs from its header length ${len}`,
    );
    return false;
  }

  private sectionHeader(view: DataView, pos: number, len: number, base: number, le: boolean): boolean {
    const major = view.getUint16(pos + 12, le);
    const minor = view.getUint16(pos + 14, le);
    // 1.2 was written by some tools and is read as 1.0 (pcapng spec, wiretap).
    if (major !== 1 || (minor !== 0 && minor !== 2)) {
      this.fail(
        'pcapng.bad-version',
        base + pos + 12,
        `section ${this.section + 1}: pcapng version ${major}.${minor} is not supported (1.0 expected)`,
      );
      return false;
    }
    if (!this.checkOptions(view, pos, pos + 24, len, base, le)) return false;
    if (!this.trailerOk(view, pos, len, base, le)) return false;
    this.le = le;
    this.section++;
    this.ifaces = noInterfaces();
    this.recId = -1;
    this.rec.section = this.section;
    if (this.container === null) {
      this.container = {
        format: 'pcapng',
        compression: this.compression,
        bigEndian: !le,
        versionMajor: major,
        versionMinor: minor,
        sections: 1,
      };
      this.sink.container(this.container);
    } else {
      this.container.sections = this.section;
    }
    return true;
  }

  private interfaceBlock(bytes: Uint8Array, view: DataView, pos: number, len: number, base: number): boolean {
    const le = this.le;
    const linkType = view.getUint16(pos + 8, le);
    const snaplen = view.getUint32(pos + 12, le);
    let res = MICRO;
    let offSec = 0n;
    let name: string | null = null;
    let description: string | null = null;
    let filter: string | null = null;
    let fcsLen = -1;
    const o = this.opts;
    let p = pos + 16;
    const optEnd = pos + len - 4;
    for (;;) {
      p = walkOptions(view, le, p, optEnd, o);
      if (p < 0) return this.badOption(pos, base, o);
      if (p === 0) break;
      if (o.code === 2) name = utf8(bytes, o.at, o.len);
      else if (o.code === 3) description = utf8(bytes, o.at, o.len);
      else if (o.code === 9 && o.len >= 1) res = resolutionFromTsresol(bytes[o.at]!);
      else if (o.code === 11 && o.len >= 1) filter = utf8(bytes, o.at + 1, o.len - 1);
      else if (o.code === 13 && o.len >= 1) fcsLen = bytes[o.at]!;
      else if (o.code === 14 && o.len >= 8) offSec = view.getBigInt64(o.at, le);
    }
    if (!this.trailerOk(view, pos, len, base)) return false;
    const f = this.ifaces;
    const index = this.interfaceCount++;
    setLanes(this.scratch, offSec * 1_000_000_000n);
    f.index.push(index);
    f.linkType.push(linkType);
    f.snaplen.push(snaplen);
    f.res.push(res);
    f.nsPerUnit.push(res.nsPerUnit);
    f.offLo.push(this.scratch.tsLo);
    f.offHi.push(this.scratch.tsHi);
    f.offSec.push(offSec);
    f.maxRecord.push(maxRecordSize(linkType));
    this.sink.interface({
      interfaceIndex: index,
      interfaceId: f.index.length - 1,
      section: this.section,
      linkType,
      fcsLen,
      snaplen,
      tsResolution: res.label,
      name,
      description,
      filter,
      tsOffsetSec: Number(offSec),
      bigEndian: !le,
      fileOffset: base + pos,
    });
    return true;
  }

  /**
   * EPB at `pos`, already length-checked: `packet` for the one block type of nearly every record,
   * with the interface's facts kept from the EPB before while the interface stays the same, the
   * option fields cleared only after a block that had options, and nanosecond timestamps without an
   * offset taken as they are.
   */
  private enhancedPacket(view: DataView, pos: number, len: number, base: number): boolean {
    const le = this.le;
    const rec = this.rec;
    const id = view.getUint32(pos + 8, le);
    if (id !== this.recId && !this.selectInterface(id, pos, base, BT_EPB)) return false;
    const caplen = view.getUint32(pos + 20, le);
    if (caplen > len - 32 || caplen > this.recMaxRecord) return this.packet(view, pos, len, base, BT_EPB);
    if (this.recOptions) {
      clearOptions(rec);
      this.recOptions = false;
    }
    const hi = view.getUint32(pos + 12, le);
    const lo = view.getUint32(pos + 16, le);
    const mult = this.recNsPerUnit;
    if (mult === 1 && this.recOffLo === 0 && this.recOffHi === 0) {
      rec.tsLo = lo;
      rec.tsHi = hi;
    } else if (mult !== 0) {
      unitsToNs(rec, hi, lo, mult, this.recOffLo, this.recOffHi);
    } else {
      unitsToNsExact(rec, hi, lo, this.ifaces.res[id]!, this.ifaces.offSec[id]!);
    }
    const optAt = pos + 28 + ((caplen + 3) & ~3);
    const optEnd = pos + len - 4;
    if (optAt < optEnd) {
      this.recOptions = true;
      if (!this.packetOptions(view, optAt, optEnd, pos, base)) return false;
    }
    if (view.getUint32(optEnd, le) !== len) return this.trailerOk(view, pos, len, base);
    rec.tsValid = true;
    rec.at = pos + 28;
    rec.caplen = caplen;
    rec.wirelen = view.getUint32(pos + 24, le);
    rec.fileOffset = base + pos;
    rec.frame = ++this.records;
    this.sink.packet(rec);
    return true;
  }

  /** Whether the current interface's EPBs can go in bulk; if so, `format` describes them. */
  private bulkInterface(): boolean {
    if (this.rec.linkType !== 1 || this.recNsPerUnit !== 1 || this.recOffLo !== 0 || this.recOffHi !== 0)
      return false;
    const f = this.format;
    f.bigEndian = !this.le;
    f.interfaceId = this.recId;
    f.interfaceIndex = this.rec.interfaceIndex;
    f.maxRecord = this.recMaxRecord;
    return true;
  }

  /**
   * Makes interface `id` of the section the record's (a `type` block names it); false (after the error)
   * when there is none.
   */
  private selectInterface(id: number, pos: number, base: number, type: number): boolean {
    const f = this.ifaces;
    if (id >= f.index.length) {
      this.fail(
        'pcapng.unknown-interface',
        base + pos + 8,
        `${blockName(type)} names interface ${id}, but section ${this.section} describes ${f.index.length}`,
      );
      return false;
    }
    const rec = this.rec;
    rec.linkType = f.linkType[id]!;
    rec.interfaceIndex = f.index[id]!;
    rec.interfaceId = id;
    this.recId = id;
    this.recMaxRecord = f.maxRecord[id]!;
    this.recNsPerUnit = f.nsPerUnit[id]!;
    this.recOffLo = f.offLo[id]!;
    this.recOffHi = f.offHi[id]!;
    return true;
  }

  /** EPB, PB or SPB at `pos`, already length-checked. */
  private packet(view: DataView, pos: number, len: number, base: number, type: number): boolean {
    const le = this.le;
    const rec = this.rec;
    const f = this.ifaces;
    let id: number;
    let dataAt: number;
    let caplen: number;
    let wirelen: number;
    if (type === BT_SPB) {
      id = 0;
      dataAt = pos + 12;
      wirelen = view.getUint32(pos + 8, le);
    } else {
      id = type === BT_EPB ? view.getUint32(pos + 8, le) : view.getUint16(pos + 8, le);
      dataAt = pos + 28;
      caplen = view.getUint32(pos + 20, le);
      wirelen = view.getUint32(pos + 24, le);
    }
    if (id !== this.recId && !this.selectInterface(id, pos, base, type)) return false;
    const room = len - (dataAt - pos) - 4;
    if (type === BT_SPB) {
      // SPB has no captured length: the smaller of the wire length and the snaplen (0 = unlimited).
      const snap = f.snaplen[id]!;
      caplen = snap !== 0 && snap < wirelen ? snap : wirelen;
      if (caplen > room) caplen = room;
    } else {
      caplen = view.getUint32(pos + 20, le);
      if (caplen > room) {
        this.fail(
          'pcapng.bad-block-length',
          base + pos + 20,
          `${blockName(type)} captured length ${caplen} does not fit in a block of length ${len}`,
        );
        return false;
      }
    }
    if (caplen > f.maxRecord[id]!) {
      this.fail(
        'pcapng.block-too-large',
        base + pos + 20,
        `${blockName(type)} captured length ${caplen} is larger than the maximum ${f.maxRecord[id]} for link type ${f.linkType[id]}`,
      );
      return false;
    }
    clearOptions(rec);
    // the PB's drop count and any block's options land in the record: the EPB fast path clears them
    this.recOptions = true;
    if (type === BT_SPB) {
      rec.tsValid = false;
      rec.tsLo = 0;
      rec.tsHi = 0;
    } else {
      rec.tsValid = true;
      const hi = view.getUint32(pos + 12, le);
      const lo = view.getUint32(pos + 16, le);
      const mult = f.nsPerUnit[id]!;
      if (mult !== 0) unitsToNs(rec, hi, lo, mult, f.offLo[id]!, f.offHi[id]!);
      else unitsToNsExact(rec, hi, lo, f.res[id]!, f.offSec[id]!);
      if (type === BT_PB) {
        const drops = view.getUint16(pos + 10, le);
        rec.dropCount = drops === 0xffff ? -1 : drops;
      }
      const optAt = dataAt + ((caplen + 3) & ~3);
      const optEnd = pos + len - 4;
      if (optAt < optEnd && !this.packetOptions(view, optAt, optEnd, pos, base)) return false;
    }
    if (view.getUint32(pos + len - 4, le) !== len) return this.trailerOk(view, pos, len, base);
    rec.at = dataAt;
    rec.caplen = caplen;
    rec.wirelen = wirelen;
    rec.fileOffset = base + pos;
    rec.frame = ++this.records;
    this.sink.packet(rec);
    return true;
  }

  private packetOptions(view: DataView, p: number, optEnd: number, pos: number, base: number): boolean {
    const le = this.le;
    const rec = this.rec;
    const o = this.opts;
    for (;;) {
      p = walkOptions(view, le, p, optEnd, o);
      if (p < 0) return this.badOption(pos, base, o);
      if (p === 0) return true;
      if (o.code === 2 && o.len >= 4) rec.flags = view.getUint32(o.at, le);
      else if (o.code === 3 && o.len >= 1) {
        rec.hashAt = o.at;
        rec.hashLen = o.len;
      } else if (o.code === 4 && o.len >= 8) rec.dropCount = u64(view, o.at, le);
      else if (o.code === 5 && o.len >= 8) {
        rec.packetIdLo = view.getUint32(o.at + (le ? 0 : 4), le);
        rec.packetIdHi = view.getUint32(o.at + (le ? 4 : 0), le);
      }
    }
  }

  private statsBlock(view: DataView, pos: number, len: number, base: number): boolean {
    const le = this.le;
    const id = view.getUint32(pos + 8, le);
    const f = this.ifaces;
    const known = id < f.index.length;
    const res = known ? f.res[id]! : MICRO;
    const offSec = known ? f.offSec[id]! : 0n;
    const s: InterfaceStats = {
      interfaceIndex: known ? f.index[id]! : -1,
      tsValid: true,
      tsLo: 0,
      tsHi: 0,
      ifRecv: null,
      ifDrop: null,
      filterAccept: null,
      osDrop: null,
      usrDeliv: null,
      startNs: null,
      endNs: null,
      fileOffset: base + pos,
    };
    unitsToNsExact(s, view.getUint32(pos + 12, le), view.getUint32(pos + 16, le), res, offSec);
    const o = this.opts;
    let p = pos + 20;
    const optEnd = pos + len - 4;
    const lanes = this.scratch;
    for (;;) {
      p = walkOptions(view, le, p, optEnd, o);
      if (p < 0) return this.badOption(pos, base, o);
      if (p === 0) break;
      if (o.len < 8) continue;
      if (o.code === 2 || o.code === 3) {
        unitsToNsExact(lanes, view.getUint32(o.at, le), view.getUint32(o.at + 4, le), res, offSec);
        const ns = lanesToBigInt(lanes.tsLo, lanes.tsHi).toString();
        if (o.code === 2) s.startNs = ns;
        else s.endNs = ns;
      } else if (o.code === 4) s.ifRecv = u64(view, o.at, le);
      else if (o.code === 5) s.ifDrop = u64(view, o.at, le);
      else if (o.code === 6) s.filterAccept = u64(view, o.at, le);
      else if (o.code === 7) s.osDrop = u64(view, o.at, le);
      else if (o.code === 8) s.usrDeliv = u64(view, o.at, le);
    }
    if (!this.trailerOk(view, pos, len, base)) return false;
    if (!known) {
      if (this.wantWarning('pcapng.isb-unknown-interface')) {
        this.warn(
          base + pos,
          'pcapng.isb-unknown-interface',
          `ISB names interface ${id}, but section ${this.section} describes ${f.index.length}; skipped`,
        );
      }
      return true;
    }
    this.sink.stats(s);
    return true;
  }

  private checkOptions(
    view: DataView,
    pos: number,
    p: number,
    len: number,
    base: number,
    le: boolean,
  ): boolean {
    const o = this.opts;
    const optEnd = pos + len - 4;
    for (;;) {
      p = walkOptions(view, le, p, optEnd, o);
      if (p < 0) return this.badOption(pos, base, o);
      if (p === 0) return true;
    }
  }

  private badOption(pos: number, base: number, o: OptionWalk): boolean {
    this.fail(
      'pcapng.bad-option',
      base + o.at,
      o.code < 0
        ? `option header needs 4 bytes, ${o.len} left in the block at byte ${base + pos}`
        : `option ${o.code} of length ${o.len} runs past the end of the block at byte ${base + pos}`,
    );
    return false;
  }
}

/** The record's option-borne fields as for a block without options. */
function clearOptions(rec: ReaderRecord): void {
  rec.flags = -1;
  rec.dropCount = -1;
  rec.packetIdLo = -1;
  rec.packetIdHi = -1;
  rec.hashAt = 0;
  rec.hashLen = 0;
}

function hex2(b: number): string {
  return b.toString(16).padStart(2, '0');
}

function u64(view: DataView, at: number, le: boolean): number {
  const a = view.getUint32(at, le);
  const b = view.getUint32(at + 4, le);
  return le ? b * 4294967296 + a : a * 4294967296 + b;
}

const decoder = new TextDecoder('utf-8', { fatal: false });

function utf8(bytes: Uint8Array, at: number, len: number): string {
  let end = at + len;
  // Strings in options may carry a trailing NUL (older writers).
  while (end > at && bytes[end - 1] === 0) end--;
  return decoder.decode(bytes.subarray(at, end));
}
