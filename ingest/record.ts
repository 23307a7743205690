/**
 * The contract between container readers (pcap, pcapng) and everything downstream.
 *
 * A reader owns ONE `PacketRecord` and overwrites it for every record (gopacket's zero-copy read):
 * a sink must copy what it keeps before returning. `bytes`/`view` cover the reader's current buffer;
 * the frame is `bytes[at .. at + caplen)`.
 */
export interface PacketRecord {
  bytes: Uint8Array;
  view: DataView;
  /** Offset of the first captured byte of the frame inside `bytes`. */
  at: number;
  caplen: number;
  wirelen: number;
  /** False for records without a timestamp (pcapng Simple Packet Block). */
  tsValid: boolean;
  /** Nanoseconds since the Unix epoch as a signed 64-bit value split in two uint32 lanes. */
  tsLo: number;
  tsHi: number;
  /** Link type of the interface the record belongs to (full 16-bit value, FCS bits removed). */
  linkType: number;
  /** Index into the reader's interface list across all sections (0-based); the capture point key. */
  interfaceIndex: number;
  /** pcapng interface id within its section (0-based); -1 for pcap. */
  interfaceId: number;
  /** pcapng section number (1-based); 0 for pcap. */
  section: number;
  /** pcapng `epb_flags` word, or -1 when the record has none. */
  flags: number;
  /** pcapng `epb_dropcount`, or -1 when absent. */
  dropCount: number;
  /** Byte offset of the record (pcap record header / pcapng block) in the decompressed stream. */
  fileOffset: number;
  /** 1-based number of this packet record in the file (custom/other blocks are not counted). */
  frame: number;
}

/** One capture interface: the pcap file header, or a pcapng IDB. */
export interface InterfaceInfo {
  interfaceIndex: number;
  /** -1 for pcap */
  interfaceId: number;
  /** 0 for pcap */
  section: number;
  linkType: number;
  /** FCS length in bytes announced by the pcap link-type field or `if_fcslen`, else -1. */
  fcsLen: number;
  snaplen: number;
  /** Timestamp resolution as written in the file, e.g. `1e-6`, `1e-9`, `2^-8`. */
  tsResolution: string;
  /** `if_name`, `if_description`, `if_filter` when present. */
  name: string | null;
  description: string | null;
  filter: string | null;
  /** `if_tsoffset` in seconds (pcapng), 0 otherwise. */
  tsOffsetSec: number;
  /** Byte order of the section/file. */
  bigEndian: boolean;
  fileOffset: number;
}

/** pcapng Interface Statistics Block. Counters are null when the option is absent. */
export interface InterfaceStats {
  interfaceIndex: number;
  tsValid: boolean;
  tsLo: number;
  tsHi: number;
  ifRecv: number | null;
  ifDrop: number | null;
  filterAccept: number | null;
  osDrop: number | null;
  usrDeliv: number | null;
  /** isb_starttime / isb_endtime in ns as decimal strings (exact), null when absent. */
  startNs: string | null;
  endNs: string | null;
  fileOffset: number;
}

/** What a container reader reports about the file itself (for `hoptrace info` and the captures table). */
export interface ContainerInfo {
  format: 'pcap' | 'pcap-modified' | 'pcapng';
  /** Compression that wrapped the file, detected by magic. */
  compression: 'none' | 'gzip' | 'zstd';
  bigEndian: boolean;
  versionMajor: number;
  versionMinor: number;
  sections: number;
}

export interface RecordSink {
  container(info: ContainerInfo): void;
  interface(info: InterfaceInfo): void;
  packet(rec: PacketRecord): void;
  stats(stats: InterfaceStats): void;
  /** Non-fatal oddities (incl_len > snaplen, unknown block types skipped, ...). */
  warning(fileOffset: number, code: string, detail: string): void;
  /**
   * The bytes of the records delivered so far are about to be reused (the reader is done with its
   * chunk): a sink that kept offsets into them finishes with them now.
   */
  release?(): void;
  /**
   * Records in bulk (pcap-kernel.ts): the sink takes the records of `bytes` from `cursor.pos` up to
   * `end` (classic pcap records, or a pcapng section's EPBs, as `format` says; an Ethernet
   * interface's) as `packet` would, as far as it can, and moves `cursor` past them; the reader
   * delivers the record it stopped at, if whole, its own way and asks again. `base` is the file offset
   * of `bytes[0]`. Returns false when it can take no record of this buffer, so the reader stops
   * asking until the next one.
   */
  bulkRecords?(bytes: Uint8Array, end: number, base: number, format: BulkFormat, cursor: BulkCursor): boolean;
}

export const BulkKind = {
  /** classic pcap records */
  pcap: 0,
  /**
   * pcapng Enhanced Packet Blocks of one interface, nanosecond timestamps without an offset; blocks
   * with options are the reader's
   */
  epb: 1,
} as const;

/** How the records are laid out (read-pcap.ts, read-pcapng.ts), for `RecordSink.bulkRecords`. */
export interface BulkFormat {
  kind: number;
  bigEndian: boolean;
  maxRecord: number;
  /** pcap: record header bytes, 16 or 24 in the modified format */
  header: number;
  /** pcap: ns per unit of the sub-second field */
  fracMult: number;
  /** pcap: the first sub-second value that is out of range */
  fracLimit: number;
  /** pcap */
  snaplen: number;
  /** pcapng: the interface id every block taken names, its index across sections, the largest block */
  interfaceId: number;
  interfaceIndex: number;
  maxBlock: number;
}

/** Where records in bulk stopped: the next record's offset in the buffer, and the records read before it. */
export interface BulkCursor {
  pos: number;
  frame: number;
}

/** A BulkFormat of `kind`, for a reader to fill in from its headers. */
export function bulkFormat(kind: number): BulkFormat {
  return {
    kind,
    bigEndian: false,
    maxRecord: 262144,
    header: 16,
    fracMult: 1000,
    fracLimit: 1_000_000,
    snaplen: 0,
    interfaceId: 0,
    interfaceIndex: 0,
    maxBlock: 0,
  };
}
