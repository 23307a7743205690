import { READ_SLOT_BYTES } from './decode/payload-hash-wasm.ts';
import { InputError } from './errors.ts';
import { PcapParser, pcapMagic } from './pcap/read-pcap.ts';
import { BT_SHB, PcapngParser } from './pcapng/read-pcapng.ts';
import type { PushParser } from './push-parser.ts';
import type { ContainerInfo, RecordSink } from './record.ts';
import {
  type ChunkHolder,
  type Compression,
  decompressBytes,
  openCapture,
  SourceError,
} from './source/open-capture.ts';

export type { ReaderRecord } from './push-parser.ts';

export interface ReadOptions {
  /** Name used in errors; default the path. */
  file?: string;
  /** Read size in bytes; default 512 KiB. */
  chunkSize?: number;
  /**
   * Sees the file's bytes as read from disk (compressed, if the file is), in order from byte 0, each
   * view valid only during the call: e.g. to hash the file without reading it twice. A read that
   * stops at a fault leaves the rest of the file unseen.
   */
  onFileChunk?: (bytes: Uint8Array) => void;
  /** keeps `onFileChunk`'s views past the call (open-capture.ts, ChunkHolder) */
  chunkHolder?: ChunkHolder;
}

export interface ReadResult {
  container: ContainerInfo | null;
  records: number;
  /** Decompressed bytes consumed. */
  bytes: number;
  error: InputError | null;
  warnings: { fileOffset: number; code: string; detail: string }[];
}

/**
 * Small enough that the chunk the kernel just copied (and the one read ahead) stay in cache while the
 * decoders and the column stores run over them: 4 MiB chunks cost ~10-20% more CPU per packet in
 * decode -> Arrow (A/B in one process, loaded machine); below 256 KiB the reads' own cost shows.
 * The payload hash's read slots are this size: a larger chunk would be read into ordinary memory,
 * where frames are hashed one by one.
 */
const DEFAULT_CHUNK = READ_SLOT_BYTES;

/**
 * Picks the container by its magic number once the first 4 bytes are in, then forwards every chunk to
 * that parser. Never by file extension: corpus files named .pcap are pcapng and the reverse.
 */
class CaptureStream {
  private parser: PushParser | null = null;
  private head = new Uint8Array(4);
  private headLen = 0;
  error: InputError | null = null;

  constructor(
    private readonly sink: RecordSink,
    private readonly file: string,
    private readonly compression: Compression,
  ) {}

  /** True once the file has failed: reading further is pointless. */
  get failed(): boolean {
    return this.error !== null || (this.parser?.error ?? null) !== null;
  }

  push(chunk: Uint8Array): void {
    if (this.error !== null) return;
    if (this.parser === null) {
      const take = Math.min(4 - this.headLen, chunk.length);
      this.head.set(chunk.subarray(0, take), this.headLen);
      this.headLen += take;
      if (this.headLen < 4) return;
      if (!this.start()) return;
      this.parser!.push(this.head);
      chunk = chunk.subarray(take);
    }
    this.parser!.push(chunk);
  }

  private start(): boolean {
    const h = this.head;
    const magic = pcapMagic(h[0]!, h[1]!, h[2]!, h[3]!);
    if (magic !== 0) {
      this.parser = new PcapParser(this.sink, this.file, this.compression);
      return true;
    }
    if (((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) >>> 0 === BT_SHB) {
      this.parser = new PcapngParser(this.sink, this.file, this.compression);
      return true;
    }
    const hex = Array.from(h, (b) => b.toString(16).padStart(2, '0')).join(' ');
    const inner = this.compression === 'none' ? '' : ` inside ${this.compression} data`;
    this.error = new InputError(
      'format.unknown-magic',
      this.file,
      0,
      `first bytes ${hex}${inner} are not a pcap or pcapng magic number`,
    );
    return false;
  }

  /** Finish; `fault` is the source failure that ended the stream early, if any. */
  end(fault: SourceError | null): ReadResult {
    const p = this.parser;
    let error = this.error ?? p?.error ?? null;
    const consumed = p !== null ? p.streamPos : this.headLen;
    if (error === null && fault !== null) {
      error = new InputError(fault.code, this.file, consumed, fault.detail);
    }
    if (p !== null && error === null) {
      p.end();
      error = p.error;
    }
    if (error === null && p === null) {
      error =
        this.headLen === 0
          ? new InputError('format.empty', this.file, 0, 'the file is empty')
          : new InputError(
              'format.unknown-magic',
              this.file,
              0,
              `file has ${this.headLen} bytes, too short for a pcap or pcapng magic number`,
            );
    }
    const records = p?.records ?? 0;
    if (error !== null) error.recordsBefore = records;
    return { container: p?.container ?? null, records, bytes: consumed, error, warnings: p?.warnings ?? [] };
  }
}

function sourceFault(err: unknown): SourceError {
  if (err instanceof SourceError) return err;
  throw err;
}

/**
 * Read one capture file into `sink`. A bad file never throws: the fault comes back as `error`, after
 * every record before it was delivered. Throws only for programming errors (including a throwing sink).
 */
export async function readCapture(
  path: string,
  sink: RecordSink,
  opts: ReadOptions = {},
): Promise<ReadResult> {
  const file = opts.file ?? path;
  const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK;
  let source: Awaited<ReturnType<typeof openCapture>>;
  try {
    source = await openCapture(path, chunkSize, opts.onFileChunk, opts.chunkHolder);
  } catch (err) {
    const f = sourceFault(err);
    const error = new InputError(f.code, file, 0, f.detail);
    return { container: null, records: 0, bytes: 0, error, warnings: [] };
  }
  const stream = new CaptureStream(sink, file, source.compression);
  let fault: SourceError | null = null;
  try {
    for await (const chunk of source.chunks) {
      stream.push(chunk);
      if (stream.failed) break;
    }
  } catch (err) {
    fault = sourceFault(err);
  }
  return stream.end(fault);
}

/** Same as readCapture over bytes in memory (gzip and zstd included), synchronously. */
export function readCaptureBytes(bytes: Uint8Array, sink: RecordSink, file: string): ReadResult {
  const { compression, chunks, error } = decompressBytes(bytes);
  const stream = new CaptureStream(sink, file, compression);
  for (const chunk of chunks) stream.push(chunk);
  return stream.end(error);
}

/** Read chunks already in memory (any split): the streaming path without a file. */
export function readCaptureChunks(chunks: Iterable<Uint8Array>, sink: RecordSink, file: string): ReadResult {
  const stream = new CaptureStream(sink, file, 'none');
  for (const chunk of chunks) stream.push(chunk);
  return stream.end(null);
}
