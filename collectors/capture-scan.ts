import { readFile } from 'node:fs/promises';
import type { InterfaceInfo, InterfaceStats, PacketRecord } from '../ingest/record.ts';

/** What the collector and `bundle check` need to know about one finished capture file. */
export interface CaptureScan {
  packets: number;
  /** First and last packet timestamps (ns since the epoch), null without packets. */
  firstNs: bigint | null;
  lastNs: bigint | null;
  /** False if a packet's timestamp was lower than the one before it. */
  tsNonDecreasing: boolean;
  /** Interface names (pcapng `if_name`) and link types, in file order. */
  interfaces: { name: string | null; linkType: number; tsResolution: string }[];
  /** Drops from the last ISB of each interface (`isb_ifdrop` + `isb_osdrop`), null when no ISB says. */
  isbDrops: number | null;
  isbStartNs: bigint | null;
  isbEndNs: bigint | null;
  /** The reader's one-line fault (truncated or corrupt file), null when the whole file read cleanly. */
  error: string | null;
}

export type PacketVisitor = (rec: PacketRecord) => void;

export function recordNs(rec: { tsLo: number; tsHi: number }): bigint {
  return (BigInt(rec.tsHi) << 32n) | BigInt(rec.tsLo >>> 0);
}

/** Folds reader callbacks into a CaptureScan; `visit` sees every packet (tests check payloads with it). */
export class ScanSink {
  readonly scan: CaptureScan = {
    packets: 0,
    firstNs: null,
    lastNs: null,
    tsNonDecreasing: true,
    interfaces: [],
    isbDrops: null,
    isbStartNs: null,
    isbEndNs: null,
    error: null,
  };
  private lastStats = new Map<number, InterfaceStats>();
  constructor(private readonly visit?: PacketVisitor) {}

  container(): void {}
  warning(): void {}
  interface(info: InterfaceInfo): void {
    this.scan.interfaces.push({ name: info.name, linkType: info.linkType, tsResolution: info.tsResolution });
  }
  packet(rec: PacketRecord): void {
    const s = this.scan;
    s.packets++;
    if (rec.tsValid) {
      const ns = recordNs(rec);
      if (s.firstNs === null) s.firstNs = ns;
      if (s.lastNs !== null && ns < s.lastNs) s.tsNonDecreasing = false;
      s.lastNs = ns;
    }
    this.visit?.(rec);
  }
  stats(st: InterfaceStats): void {
    // ISB counters are cumulative since the capture started: the last one per interface is the total.
    this.lastStats.set(st.interfaceIndex, { ...st });
    let drops: number | null = null;
    for (const x of this.lastStats.values()) {
      if (x.ifDrop !== null || x.osDrop !== null) drops = (drops ?? 0) + (x.ifDrop ?? 0) + (x.osDrop ?? 0);
      if (x.startNs !== null && (this.scan.isbStartNs === null || BigInt(x.startNs) < this.scan.isbStartNs)) {
        this.scan.isbStartNs = BigInt(x.startNs);
      }
      if (x.endNs !== null && (this.scan.isbEndNs === null || BigInt(x.endNs) > this.scan.isbEndNs)) {
        this.scan.isbEndNs = BigInt(x.endNs);
      }
    }
    this.scan.isbDrops = drops;
  }
}

/**
 * Reads a finished capture file and counts it. This is the single place that talks to the container reader.
 *
 * INTERIM: the project reader (ingest/read-capture.ts, `readCapture(path, sink)`) has not landed yet; until it
 * does, `readCaptureInterim` below walks little-endian pcapng and pcap, which is all dumpcap and tcpdump write
 * here. Replace its call with `readCapture` and delete it when the reader lands.
 */
export async function scanCapture(file: string, visit?: PacketVisitor): Promise<CaptureScan> {
  const sink = new ScanSink(visit);
  try {
    sink.scan.error = readCaptureInterim(await readFile(file), sink);
  } catch (e) {
    sink.scan.error = e instanceof Error ? e.message : String(e);
  }
  return sink.scan;
}

function readCaptureInterim(bytes: Buffer, sink: ScanSink): string | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const rec: PacketRecord = {
    bytes,
    view,
    at: 0,
    caplen: 0,
    wirelen: 0,
    tsValid: true,
    tsLo: 0,
    tsHi: 0,
    linkType: 0,
    interfaceIndex: 0,
    interfaceId: 0,
    section: 1,
    flags: -1,
    dropCount: -1,
    fileOffset: 0,
    frame: 0,
  };
  if (bytes.length < 24) return 'file shorter than a capture header';
  const magic = view.getUint32(0, true);
  if (magic === 0xa1b23c4d || magic === 0xa1b2c3d4) {
    const nano = magic === 0xa1b23c4d;
    const linkType = view.getUint32(20, true) & 0xffff;
    sink.interface({
      interfaceIndex: 0,
      interfaceId: -1,
      section: 0,
      linkType,
      fcsLen: -1,
      snaplen: view.getUint32(16, true),
      tsResolution: nano ? '1e-9' : '1e-6',
      name: null,
      description: null,
      filter: null,
      tsOffsetSec: 0,
      bigEndian: false,
      fileOffset: 0,
    });
    let off = 24;
    while (off < bytes.length) {
      if (off + 16 > bytes.length) return `byte ${off}: pcap record header is cut short`;
      const caplen = view.getUint32(off + 8, true);
      if (off + 16 + caplen > bytes.length) return `byte ${off}: pcap record data is cut short`;
      const ns =
        BigInt(view.getUint32(off, true)) * 1_000_000_000n +
        BigInt(view.getUint32(off + 4, true)) * (nano ? 1n : 1000n);
      Object.assign(rec, {
        at: off + 16,
        caplen,
        wirelen: view.getUint32(off + 12, true),
        tsLo: Number(ns & 0xffffffffn),
        tsHi: Number(ns >> 32n),
        linkType,
        fileOffset: off,
        frame: rec.frame + 1,
      });
      sink.packet(rec);
      off += 16 + caplen;
    }
    return null;
  }
  if (magic !== 0x0a0d0d0a) return 'not a pcap or pcapng capture';
  const ifaces: { linkType: number; unitsPerSec: bigint }[] = [];
  let off = 0;
  while (off < bytes.length) {
    if (off + 12 > bytes.length) return `byte ${off}: pcapng block is cut short`;
    const type = view.getUint32(off, true);
    const len = view.getUint32(off + 4, true);
    if (len < 12 || len % 4 !== 0 || off + len > bytes.length)
      return `byte ${off}: pcapng block is cut short`;
    const options = (start: number, fn: (code: number, at: number, l: number) => void) => {
      let p = start;
      while (p + 4 <= off + len - 4) {
        const code = view.getUint16(p, true);
        const l = view.getUint16(p + 2, true);
        if (code === 0) break;
        fn(code, p + 4, l);
        p += 4 + ((l + 3) & ~3);
      }
    };
    if (type === 1) {
      const linkType = view.getUint16(off + 8, true);
      let name: string | null = null;
      let unitsPerSec = 1_000_000n;
      let res = '1e-6';
      options(off + 16, (code, at, l) => {
        if (code === 2) name = bytes.subarray(at, at + l).toString('utf8');
        if (code === 9) {
          const v = view.getUint8(at);
          unitsPerSec = v & 0x80 ? 2n ** BigInt(v & 0x7f) : 10n ** BigInt(v);
          res = v & 0x80 ? `2^-${v & 0x7f}` : `1e-${v}`;
        }
      });
      ifaces.push({ linkType, unitsPerSec });
      sink.interface({
        interfaceIndex: ifaces.length - 1,
        interfaceId: ifaces.length - 1,
        section: 1,
        linkType,
        fcsLen: -1,
        snaplen: view.getUint32(off + 12, true),
        tsResolution: res,
        name,
        description: null,
        filter: null,
        tsOffsetSec: 0,
        bigEndian: false,
        fileOffset: off,
      });
    } else if (type === 6) {
      const id = view.getUint32(off + 8, true);
      const iface = ifaces[id];
      if (iface === undefined) return `byte ${off}: packet names an undescribed interface`;
      const units = (BigInt(view.getUint32(off + 12, true)) << 32n) | BigInt(view.getUint32(off + 16, true));
      const ns = (units * 1_000_000_000n) / iface.unitsPerSec;
      Object.assign(rec, {
        at: off + 28,
        caplen: view.getUint32(off + 20, true),
        wirelen: view.getUint32(off + 24, true),
        tsLo: Number(ns & 0xffffffffn),
        tsHi: Number(ns >> 32n),
        linkType: iface.linkType,
        interfaceIndex: id,
        interfaceId: id,
        fileOffset: off,
        frame: rec.frame + 1,
      });
      sink.packet(rec);
    } else if (type === 5) {
      const id = view.getUint32(off + 8, true);
      const unitsPerSec = ifaces[id]?.unitsPerSec ?? 1_000_000n;
      const st: InterfaceStats = {
        interfaceIndex: id,
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
        fileOffset: off,
      };
      const u64 = (at: number) =>
        (BigInt(view.getUint32(at, true)) << 32n) | BigInt(view.getUint32(at + 4, true));
      const u64le = (at: number) => view.getBigUint64(at, true);
      options(off + 20, (code, at) => {
        if (code === 2) st.startNs = String((u64(at) * 1_000_000_000n) / unitsPerSec);
        if (code === 3) st.endNs = String((u64(at) * 1_000_000_000n) / unitsPerSec);
        if (code === 4) st.ifRecv = Number(u64le(at));
        if (code === 5) st.ifDrop = Number(u64le(at));
        if (code === 6) st.filterAccept = Number(u64le(at));
        if (code === 7) st.osDrop = Number(u64le(at));
        if (code === 8) st.usrDeliv = Number(u64le(at));
      });
      sink.stats(st);
    }
    off += len;
  }
  return null;
}
