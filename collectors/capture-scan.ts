import { readCapture } from '../ingest/read-capture.ts';
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
 * Reads a finished capture file with the project's reader and counts it: the one place the collector and
 * `bundle check` talk to the container reader. A damaged file is not an exception: its fault comes back as
 * `error` (one line), after every packet before it was counted.
 */
export async function scanCapture(file: string, visit?: PacketVisitor, name?: string): Promise<CaptureScan> {
  const sink = new ScanSink(visit);
  const result = await readCapture(file, sink, { file: name ?? file });
  if (result.error !== null) sink.scan.error = result.error.line();
  return sink.scan;
}
