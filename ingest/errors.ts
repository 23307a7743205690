/**
 * Ingest error codes: one record per code (title for people, exit code for the CLI).
 * A container fault stops reading that file; records read before it are kept and counted.
 * Packet-level problems are never errors: they are `decode_error` values in the packets table.
 */
export const IngestErrors = {
  'io.read-failed': { title: 'the file could not be read', exit: 2 },
  'io.not-found': { title: 'no such file or folder', exit: 2 },
  'format.empty': { title: 'the file is empty', exit: 2 },
  'format.unknown-magic': { title: 'not a pcap or pcapng capture (unknown magic number)', exit: 2 },
  'gzip.corrupt': { title: 'gzip stream is corrupt or cut short', exit: 2 },
  'zstd.corrupt': { title: 'zstd stream is corrupt or cut short', exit: 2 },
  'pcap.truncated-file-header': { title: 'pcap file header is cut short', exit: 2 },
  'pcap.bad-version': { title: 'unsupported pcap version', exit: 2 },
  'pcap.bad-linktype-field': { title: 'pcap link-type field has reserved bits set', exit: 2 },
  'pcap.truncated-record-header': { title: 'pcap record header is cut short', exit: 2 },
  'pcap.truncated-record': { title: 'pcap record data is cut short', exit: 2 },
  'pcap.record-too-large': { title: 'pcap record length is larger than any capture allows', exit: 2 },
  'pcapng.truncated-block': { title: 'pcapng block is cut short', exit: 2 },
  'pcapng.bad-block-length': { title: 'pcapng block length is invalid', exit: 2 },
  'pcapng.block-too-large': { title: 'pcapng block length is larger than any capture allows', exit: 2 },
  'pcapng.bad-byte-order-magic': { title: 'pcapng section header has a bad byte-order magic', exit: 2 },
  'pcapng.bad-version': { title: 'unsupported pcapng version', exit: 2 },
  'pcapng.no-section': { title: 'pcapng block before any section header', exit: 2 },
  'pcapng.unknown-interface': { title: 'pcapng packet names an interface that was not described', exit: 2 },
  'pcapng.bad-trailer-length': {
    title: 'pcapng block trailer length differs from its header length',
    exit: 2,
  },
  'pcapng.bad-option': { title: 'pcapng option runs past the end of its block', exit: 2 },
} as const satisfies Record<string, { title: string; exit: number }>;

export type IngestErrorCode = keyof typeof IngestErrors;

/**
 * A fault in one input file. `file` is the path as the user named it (or relative to the bundle),
 * `offset` the byte offset in the (decompressed) stream where the fault was found.
 */
export class InputError extends Error {
  readonly code: IngestErrorCode;
  readonly file: string;
  readonly offset: number;
  readonly detail: string;
  /** Records read and kept before the fault. */
  recordsBefore = 0;

  constructor(code: IngestErrorCode, file: string, offset: number, detail: string) {
    super(`${file}: byte ${offset}: ${detail} (${code})`);
    this.name = 'InputError';
    this.code = code;
    this.file = file;
    this.offset = offset;
    this.detail = detail;
  }

  get exitCode(): number {
    return IngestErrors[this.code].exit;
  }

  /** The one line the CLI prints. */
  line(): string {
    const kept = this.recordsBefore === 1 ? '1 packet' : `${this.recordsBefore} packets`;
    return `${this.message}; ${kept} before it kept`;
  }
}
