import { type IngestErrorCode, InputError } from './errors.ts';
import type { ContainerInfo, PacketRecord, RecordSink } from './record.ts';

/**
 * What the pcapng reader adds to the shared record (pcap leaves them absent): sinks that want
 * `epb_packetid` / `epb_hash` may read them from the record they are given.
 */
export interface ReaderRecord extends PacketRecord {
  /** `epb_packetid` as two uint32 lanes; both -1 when absent. */
  packetIdLo: number;
  packetIdHi: number;
  /** `epb_hash` option value inside `bytes` (first byte is the hash algorithm); length 0 when absent. */
  hashAt: number;
  hashLen: number;
}

export function newRecord(): ReaderRecord {
  const bytes = new Uint8Array(0);
  return {
    bytes,
    view: new DataView(bytes.buffer),
    at: 0,
    caplen: 0,
    wirelen: 0,
    tsValid: false,
    tsLo: 0,
    tsHi: 0,
    linkType: 0,
    interfaceIndex: 0,
    interfaceId: -1,
    section: 0,
    flags: -1,
    dropCount: -1,
    fileOffset: 0,
    frame: 0,
    packetIdLo: -1,
    packetIdHi: -1,
    hashAt: 0,
    hashLen: 0,
  };
}

/** Warnings of one code past this many are counted, not delivered one by one. */
const WARNINGS_PER_CODE = 20;
const INITIAL_CARRY = 64 * 1024;

/**
 * A push parser over byte chunks. Subclasses parse whole units (file header, record, block) straight
 * out of the chunk they are given; only a unit that straddles two chunks is copied, into `carry`, and
 * completed from the next chunk. The carry grows with the data that actually arrived, never to a
 * declared length, so an absurd length cannot allocate more than the file holds.
 */
export abstract class PushParser {
  error: InputError | null = null;
  /** Packet records delivered. */
  records = 0;
  /** What the file header / first section said (sections keep counting as they are read). */
  container: ContainerInfo | null = null;
  /** Every warning delivered to the sink, in order. */
  readonly warnings: { fileOffset: number; code: string; detail: string }[] = [];
  protected readonly rec: ReaderRecord = newRecord();
  private carry = new Uint8Array(INITIAL_CARRY);
  private carryView = new DataView(this.carry.buffer);
  private carryLen = 0;
  private carryBase = 0;
  /** Bytes pushed so far: the stream offset of the next chunk. */
  streamPos = 0;
  private readonly warned = new Map<string, number>();

  constructor(
    protected readonly sink: RecordSink,
    protected readonly file: string,
    protected readonly compression: ContainerInfo['compression'],
  ) {}

  /**
   * Bytes the unit starting at `pos` needs in total, knowing only `avail` bytes of it (at least the
   * header size when `avail` is too short to tell). Negative after recording an error.
   */
  protected abstract need(
    bytes: Uint8Array,
    view: DataView,
    pos: number,
    avail: number,
    base: number,
  ): number;

  /** Parse whole units in `[pos, end)`; return where the first incomplete unit starts. */
  protected abstract run(bytes: Uint8Array, view: DataView, pos: number, end: number, base: number): number;

  /** The error for a stream that ends inside a unit (`avail` bytes of it present, at stream offset `at`). */
  protected abstract truncated(bytes: Uint8Array, view: DataView, avail: number, at: number): void;

  /**
   * Parse what `chunk` completes; the records' bytes are released to the sink when it returns, or
   * throws (a sink that throws has rows whose hashes are still queued).
   */
  push(chunk: Uint8Array): void {
    try {
      this.pushUnits(chunk);
    } finally {
      this.sink.release?.();
    }
  }

  private pushUnits(chunk: Uint8Array): void {
    if (this.error !== null) return;
    const chunkBase = this.streamPos;
    this.streamPos += chunk.length;
    let pos = 0;
    while (this.carryLen > 0) {
      const need = this.need(this.carry, this.carryView, 0, this.carryLen, this.carryBase);
      if (need < 0) return;
      if (need > this.carryLen) {
        const take = Math.min(need - this.carryLen, chunk.length - pos);
        if (take === 0) return;
        this.growCarry(this.carryLen + take);
        this.carry.set(chunk.subarray(pos, pos + take), this.carryLen);
        this.carryLen += take;
        pos += take;
        continue;
      }
      const used = this.run(this.carry, this.carryView, 0, this.carryLen, this.carryBase);
      if (this.error !== null) return;
      if (used !== this.carryLen)
        throw new Error(`parser left ${this.carryLen - used} bytes of a complete unit`);
      this.carryLen = 0;
    }
    if (pos === chunk.length) return;
    const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const used = this.run(chunk, view, pos, chunk.length, chunkBase);
    if (this.error !== null || used === chunk.length) return;
    const rest = chunk.length - used;
    this.growCarry(rest);
    this.carry.set(chunk.subarray(used), 0);
    this.carryLen = rest;
    this.carryBase = chunkBase + used;
  }

  end(): void {
    if (this.error === null && this.carryLen > 0) {
      this.truncated(this.carry, this.carryView, this.carryLen, this.carryBase);
    }
    this.carryLen = 0;
    for (const [code, n] of this.warned) {
      if (n > WARNINGS_PER_CODE) {
        this.warn(this.streamPos, code, `${n - WARNINGS_PER_CODE} more warnings of this kind`);
      }
    }
  }

  protected fail(code: IngestErrorCode, offset: number, detail: string): void {
    if (this.error === null) this.error = new InputError(code, this.file, offset, detail);
  }

  protected warn(fileOffset: number, code: string, detail: string): void {
    this.warnings.push({ fileOffset, code, detail });
    this.sink.warning(fileOffset, code, detail);
  }

  /** True when a warning of this code should still be delivered (counts every call). */
  protected wantWarning(code: string): boolean {
    const n = (this.warned.get(code) ?? 0) + 1;
    this.warned.set(code, n);
    return n <= WARNINGS_PER_CODE;
  }

  private growCarry(size: number): void {
    if (size <= this.carry.length) return;
    let cap = this.carry.length;
    while (cap < size) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.carry.subarray(0, this.carryLen));
    this.carry = next;
    this.carryView = new DataView(next.buffer);
  }
}
