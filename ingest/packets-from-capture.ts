/**
 * The sink between a container reader and the packets batch: writes the container columns of each
 * record, has the layered decoders fill the rest, hands full batches on, and keeps the per-interface
 * facts the `captures` table needs (counts, coverage window, drops).
 */
import { PacketColumns } from './columns/packet-columns.ts';
import { createDecodeState, type DecodeState, decodeFrameDeferred } from './decode/decode-frame.ts';
import { completeFastRows } from './decode/fast-rows.ts';
import {
  giveKernelBatch,
  type KernelBatch,
  kernelBatchOf,
  type PcapKernel,
  pcapKernel,
  RunWord,
  Stop,
  takeKernelBatch,
} from './decode/kernel/pcap-kernel.ts';
import { drainHashes, type HashQueue, hashQueue } from './decode/payload-hash-wasm.ts';
import type {
  BulkCursor,
  BulkFormat,
  ContainerInfo,
  InterfaceInfo,
  InterfaceStats,
  PacketRecord,
  RecordSink,
} from './record.ts';
import { BulkKind } from './record.ts';
import { lanesToBigInt } from './timestamp.ts';

/** What one interface of one file contributed. Times (earliest, latest) are ns since the epoch as exact bigints. */
export interface InterfaceSummary {
  info: InterfaceInfo;
  /** dictionary id of the capture point this interface was mapped to */
  pointId: number;
  packets: number;
  bytes: number;
  firstNs: bigint | null;
  lastNs: bigint | null;
  /** frames with a decode_error */
  decodeErrors: number;
  /** last ISB seen for the interface */
  stats: InterfaceStats | null;
  /** sum of epb_dropcount values */
  epbDrops: number;
}

export interface BatchSinkOptions {
  fileId: number;
  /** capture point dictionary id for an interface (called once per interface) */
  pointFor(info: InterfaceInfo): number;
  /**
   * Called with a full batch. Return a fresh PacketColumns to continue in it (the caller keeps the
   * full one, e.g. as zero-copy Arrow); return nothing and the batch is reset and reused. A caller
   * that keeps batches should hand the sink its first one too (`new PacketBatchSink(opts, batch)`): a
   * batch the sink made itself is in the capture kernel's memory (pcap-kernel.ts), and a kept one
   * would stay taken from the thread's few for good.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: a callback that only consumes the batch returns nothing
  onBatch(batch: PacketColumns): PacketColumns | undefined | void;
  /** rows of the batch the sink makes when none is handed in; default DEFAULT_BATCH_ROWS */
  batchRows?: number;
}

/**
 * A batch small enough to stay in cache between its passes: the decoders write ~80 columns of a row
 * (~330 bytes), and the batch is read again when it is completed, tallied and made into Arrow. At
 * 65 536 rows (21 MB) every pass went to memory; at 8 192 (2.7 MB) decode -> Arrow of the bench
 * capture took 6-9% less main-thread CPU (A/B in one process; 4 096 no better, the per-batch costs
 * grow).
 */
const DEFAULT_BATCH_ROWS = 8192;

/** rows of the batch a sink decodes into if used after `dispose` (or `finish`) */
const AFTER_DISPOSE_ROWS = 16;

/** records in a row the kernel declines before a sink leaves the next ones to the reader unasked */
const DECLINED_RUN = 16;
const MAX_SKIP = 1024;

/** The run block's inputs for records laid out as `format` says, from `pos` to `end` (addresses). */
function setRun(w: Uint32Array, format: BulkFormat, pos: number, end: number, frame: number): void {
  w[RunWord.pos] = pos;
  w[RunWord.end] = end;
  w[RunWord.frame] = frame;
  w[RunWord.bigEndian] = format.bigEndian ? 1 : 0;
  w[RunWord.maxRecord] = format.maxRecord;
  if (format.kind === BulkKind.epb) {
    w[RunWord.iface] = format.interfaceId;
    w[RunWord.maxBlock] = format.maxBlock;
  } else {
    w[RunWord.hdr] = format.header;
    w[RunWord.mult] = format.fracMult;
    w[RunWord.fracLimit] = format.fracLimit;
    w[RunWord.snaplen] = format.snaplen;
  }
}

/**
 * Fields set in the constructor are `declare`d: a plain declaration compiles (ES2022 class fields) to
 * a field that starts as `undefined`, which costs V8 the field's type, and then every per-packet
 * `this.batch` load is followed by a map check.
 */
export class PacketBatchSink implements RecordSink {
  declare batch: PacketColumns;
  readonly interfaces: InterfaceSummary[] = [];
  readonly warnings: { fileOffset: number; code: string; detail: string }[] = [];
  containerInfo: ContainerInfo | null = null;
  private readonly state: DecodeState = createDecodeState();
  /**
   * interfaceIndex -> the columns that are the same for every record of an interface (capture point,
   * link type, pcapng section and interface id; section 0 = pcap, both NULL): written per batch in
   * `tally` from `rowInterface`, not per record.
   */
  private pointOf = new Uint16Array(16);
  private linkTypeOf = new Uint16Array(16);
  private sectionOf = new Uint32Array(16);
  private interfaceIdOf = new Uint32Array(16);
  declare private readonly fileId: number;
  declare private readonly opts: BatchSinkOptions;
  // per interfaceIndex; grown in interface(), read out in finish()
  private packets = new Float64Array(16);
  private bytes = new Float64Array(16);
  private errorsSeen = new Float64Array(16);
  private epbDrops = new Float64Array(16);
  private hasFirst = new Uint8Array(16);
  private firstLo = new Uint32Array(16);
  private firstHi = new Uint32Array(16);
  private lastLo = new Uint32Array(16);
  private lastHi = new Uint32Array(16);
  /** interfaceIndex of each row of the batch, for the tallies taken when the batch is handed on */
  declare private rowInterface: Uint32Array;
  /** fast-path kind of each row of the batch (decode/fast-rows.ts), completed when it is handed on */
  declare private rowKind: Uint8Array;
  /** first row of the batch that this sink wrote (a batch handed in may hold rows already) */
  declare private start: number;
  /**
   * The batch when it is in the pcap kernel's memory (one the sink made itself, or one handed in
   * from there): only then can `bulkRecords` take records.
   */
  private kernelBatch: KernelBatch | null = null;
  /** true when the kernel batch is the sink's own, to give back at `finish` or `dispose` */
  private ownsKernelBatch = false;
  /** records in a row the kernel left to the reader (`bulkRecords`) */
  private declined = 0;
  /** records to leave to the reader before the kernel is offered one again, and the next such run */
  private skip = 0;
  private skipNext = 0;

  constructor(opts: BatchSinkOptions, batch?: PacketColumns) {
    this.opts = opts;
    this.fileId = opts.fileId;
    if (batch === undefined) {
      const rows = opts.batchRows ?? DEFAULT_BATCH_ROWS;
      this.kernelBatch = takeKernelBatch(rows);
      this.ownsKernelBatch = this.kernelBatch !== null;
      this.batch = this.kernelBatch?.columns ?? new PacketColumns(rows);
    } else {
      this.batch = batch;
      this.kernelBatch = kernelBatchOf(batch);
    }
    this.rowInterface = new Uint32Array(this.batch.capacity);
    this.rowKind = new Uint8Array(this.batch.capacity);
    this.start = this.batch.length;
    // hashes are queued and drained in `release` and `flush`, before a chunk or a batch moves on
    this.state.hashQueue = hashQueue();
  }

  release(): void {
    const q = this.state.hashQueue;
    if (q !== null) drainHashes(q);
  }

  container(info: ContainerInfo): void {
    this.containerInfo = info;
  }

  interface(info: InterfaceInfo): void {
    const pointId = this.opts.pointFor(info);
    if (info.interfaceIndex >= this.pointOf.length) {
      const n = Math.max(this.pointOf.length * 2, info.interfaceIndex + 1);
      this.pointOf = grow(this.pointOf, new Uint16Array(n));
      this.linkTypeOf = grow(this.linkTypeOf, new Uint16Array(n));
      this.sectionOf = grow(this.sectionOf, new Uint32Array(n));
      this.interfaceIdOf = grow(this.interfaceIdOf, new Uint32Array(n));
      this.packets = grow(this.packets, new Float64Array(n));
      this.bytes = grow(this.bytes, new Float64Array(n));
      this.errorsSeen = grow(this.errorsSeen, new Float64Array(n));
      this.epbDrops = grow(this.epbDrops, new Float64Array(n));
      this.hasFirst = grow(this.hasFirst, new Uint8Array(n));
      this.firstLo = grow(this.firstLo, new Uint32Array(n));
      this.firstHi = grow(this.firstHi, new Uint32Array(n));
      this.lastLo = grow(this.lastLo, new Uint32Array(n));
      this.lastHi = grow(this.lastHi, new Uint32Array(n));
    }
    this.pointOf[info.interfaceIndex] = pointId;
    this.linkTypeOf[info.interfaceIndex] = info.linkType;
    this.sectionOf[info.interfaceIndex] = info.section;
    this.interfaceIdOf[info.interfaceIndex] = info.section > 0 ? info.interfaceId : 0;
    this.interfaces[info.interfaceIndex] = {
      info,
      pointId,
      packets: 0,
      bytes: 0,
      firstNs: null,
      lastNs: null,
      decodeErrors: 0,
      stats: null,
      epbDrops: 0,
    };
  }

  /**
   * One record: the container columns, then the decoders. Only what differs per record is written
   * here; the file column, the columns that follow from the interface and the per-interface tallies
   * are done once per batch in `tally` (a tight loop over the columns costs a fraction of the same
   * work done here, where every typed-array access reloads and rechecks its array).
   */
  packet(rec: PacketRecord): void {
    const c = this.batch;
    const row = c.length;
    this.rowInterface[row] = rec.interfaceIndex;
    c.frame[row] = rec.frame;
    c.fileOffset[row] = rec.fileOffset;
    if (rec.tsValid) {
      c.ts[2 * row] = rec.tsLo;
      c.ts[2 * row + 1] = rec.tsHi;
      c.tsValid[row] = 1;
    }
    c.caplen[row] = rec.caplen;
    c.wirelen[row] = rec.wirelen;
    if (rec.flags >= 0) {
      // epb_flags bits 0-1: 1 inbound, 2 outbound, 0 not recorded
      const dir = rec.flags & 3;
      if (dir === 1 || dir === 2) c.direction[row] = dir;
    }
    this.rowKind[row] = decodeFrameDeferred(this.state, rec, c, row);
    if (rec.dropCount > 0) this.epbDrops[rec.interfaceIndex]! += rec.dropCount;
    c.length = row + 1;
    if (c.length >= c.capacity) this.flush();
  }

  bulkRecords(bytes: Uint8Array, end: number, base: number, format: BulkFormat, cursor: BulkCursor): boolean {
    const k = this.kernelBatch === null ? null : pcapKernel();
    const q = this.state.hashQueue;
    if (k === null || q === null || bytes.buffer !== k.memory) return false;
    if (this.skip > 0) {
      // this record is the reader's (see the declines below)
      this.skip--;
      return true;
    }
    const at = bytes.byteOffset;
    const w = k.words;
    let pos = at + cursor.pos;
    let frame = cursor.frame;
    const epb = format.kind === BulkKind.epb;
    let stop: number;
    for (;;) {
      const c = this.batch;
      this.bindKernel(k, q, c);
      // the whole run block each time round: a batch handed on in between may have run the kernel
      setRun(w, format, pos, at + end, frame);
      k.setBase(base - at);
      const row = c.length;
      w[RunWord.row] = row;
      w[RunWord.qn] = q.n;
      if (epb) k.runEpb();
      else k.run();
      const rows = w[RunWord.row]!;
      pos = w[RunWord.pos]!;
      frame = w[RunWord.frame]!;
      stop = w[RunWord.stop]!;
      q.n = w[RunWord.qn]!;
      k.rows += rows - row;
      this.rowInterface.fill(format.interfaceIndex, row, rows);
      // written whole: nothing for completeFastRows
      this.rowKind.fill(0, row, rows);
      c.length = rows;
      if (stop !== Stop.full) break;
      if (rows >= c.capacity) {
        this.flush();
        // a batch no flush can empty (of no rows) would come back full: the records go the JavaScript way
        if (this.batch.length >= this.batch.capacity) break;
      } else drainHashes(q);
      // a batch handed back by onBatch is not the kernel's: the records go the JavaScript way
      if (this.kernelBatch === null) break;
    }
    const taken = frame - cursor.frame;
    cursor.pos = pos - at;
    cursor.frame = frame;
    // A run of records the kernel leaves (an overlay capture's VXLAN, IP options throughout) costs a
    // round trip each: after DECLINED_RUN of them in a row, the next records go straight to the reader,
    // twice as many each time the kernel still declines after them (up to MAX_SKIP).
    if (stop === Stop.record && taken === 0) {
      if (++this.declined >= DECLINED_RUN) {
        this.declined = 0;
        this.skipNext = Math.min(MAX_SKIP, Math.max(DECLINED_RUN, 2 * this.skipNext));
        this.skip = this.skipNext;
      }
    } else {
      this.declined = 0;
      this.skipNext = 0;
    }
    return this.kernelBatch !== null;
  }

  /** Points the kernel at `c` (the kernel batch) and the hash queue at its rows. */
  private bindKernel(k: PcapKernel, q: HashQueue, c: PacketColumns): void {
    const kb = this.kernelBatch!;
    if (k.current !== kb) {
      k.words.set(kb.addresses, 0);
      k.words[RunWord.cap] = c.capacity;
      k.current = kb;
    }
    if (q.cols !== c) {
      drainHashes(q);
      q.cols = c;
    }
  }

  /**
   * Rows [start, length): the file column, the columns that follow from the interface, and the
   * per-interface tallies (packets, bytes, decode errors, coverage window), a run of rows of the
   * same interface at a time (a whole batch, in most files).
   */
  private tally(c: PacketColumns): void {
    const end = c.length;
    const rowInterface = this.rowInterface;
    completeFastRows(c, this.rowKind, this.start, end);
    c.file.fill(this.fileId, this.start, end);
    let row = this.start;
    while (row < end) {
      const i = rowInterface[row]!;
      let runEnd = row + 1;
      while (runEnd < end && rowInterface[runEnd] === i) runEnd++;
      this.interfaceColumns(c, i, row, runEnd);
      this.tallyRun(c, i, row, runEnd);
      row = runEnd;
    }
  }

  /**
   * Rows [from, to) of interface `i` added to its tallies. Sums and the window are kept in locals
   * and stored once: updating the per-interface arrays row by row chained every row's loads to the
   * previous row's stores (~17 ns a row).
   */
  private tallyRun(c: PacketColumns, i: number, from: number, to: number): void {
    const { wirelen, decodeError, tsValid, ts } = c;
    let nBytes = 0;
    let nErrors = 0;
    let has = this.hasFirst[i] === 1;
    let firstLo = this.firstLo[i]!;
    let firstHi = this.firstHi[i]! | 0;
    let lastLo = this.lastLo[i]!;
    let lastHi = this.lastHi[i]! | 0;
    for (let row = from; row < to; row++) {
      nBytes += wirelen[row]!;
      if (decodeError[row] !== 0) nErrors++;
      if (tsValid[row] === 0) continue;
      // the coverage window is the earliest and latest time, records need not be in order
      const lo = ts[2 * row]!;
      const hi = ts[2 * row + 1]! | 0;
      if (!has) {
        has = true;
        firstLo = lo;
        firstHi = hi;
        lastLo = lo;
        lastHi = hi;
        continue;
      }
      if (hi < firstHi || (hi === firstHi && lo < firstLo)) {
        firstLo = lo;
        firstHi = hi;
      }
      if (hi > lastHi || (hi === lastHi && lo > lastLo)) {
        lastLo = lo;
        lastHi = hi;
      }
    }
    this.packets[i]! += to - from;
    this.bytes[i]! += nBytes;
    this.errorsSeen[i]! += nErrors;
    if (!has) return;
    this.hasFirst[i] = 1;
    this.firstLo[i] = firstLo;
    this.firstHi[i] = firstHi;
    this.lastLo[i] = lastLo;
    this.lastHi[i] = lastHi;
  }

  /** Capture point, link type and (pcapng) section and interface id of rows [from, to) of interface `i`. */
  private interfaceColumns(c: PacketColumns, i: number, from: number, to: number): void {
    c.point.fill(this.pointOf[i]!, from, to);
    c.linkType.fill(this.linkTypeOf[i]!, from, to);
    const sec = this.sectionOf[i]!;
    if (sec === 0) return;
    c.section.fill(sec, from, to);
    c.sectionValid.fill(1, from, to);
    c.interfaceId.fill(this.interfaceIdOf[i]!, from, to);
    c.interfaceIdValid.fill(1, from, to);
  }

  stats(stats: InterfaceStats): void {
    const s = this.interfaces[stats.interfaceIndex];
    if (s) s.stats = stats;
  }

  warning(fileOffset: number, code: string, detail: string): void {
    // a file full of odd records must not grow memory without bound
    if (this.warnings.length < 1000) this.warnings.push({ fileOffset, code, detail });
  }

  /** Hands on what is in the batch (also the partial last batch of a file). */
  flush(): void {
    this.release();
    if (this.batch.length === 0) return;
    this.tally(this.batch);
    const next = this.opts.onBatch(this.batch);
    if (next) {
      // the full batch is the caller's now, kernel memory or not: the sink never gives it back
      this.ownsKernelBatch = false;
      this.kernelBatch = kernelBatchOf(next);
      this.batch = next;
      if (next.capacity > this.rowInterface.length) {
        this.rowInterface = new Uint32Array(next.capacity);
        this.rowKind = new Uint8Array(next.capacity);
      }
    } else {
      this.batch.reset();
    }
    this.start = this.batch.length;
  }

  /**
   * Gives the sink's own kernel batch back (`finish` does, after its flush); for a sink abandoned
   * before `finish` (an error, an interrupt), so the thread does not lose the batch. Any rows not yet
   * handed on are dropped. A sink used again decodes in JavaScript into a batch of AFTER_DISPOSE_ROWS:
   * one of its full size, made at every finish of every file for a use no caller makes, was 2.7 MB of
   * garbage a file.
   */
  dispose(): void {
    if (!this.ownsKernelBatch || this.kernelBatch === null) return;
    giveKernelBatch(this.kernelBatch);
    this.kernelBatch = null;
    this.ownsKernelBatch = false;
    this.batch = new PacketColumns(AFTER_DISPOSE_ROWS);
    this.start = 0;
  }

  /** Ends the file: flushes and fills the last timestamps. */
  finish(): InterfaceSummary[] {
    this.flush();
    this.dispose();
    for (let i = 0; i < this.interfaces.length; i++) {
      const s = this.interfaces[i];
      if (!s) continue;
      s.packets = this.packets[i]!;
      s.bytes = this.bytes[i]!;
      s.decodeErrors = this.errorsSeen[i]!;
      s.epbDrops = this.epbDrops[i]!;
      if (this.hasFirst[i]) {
        s.firstNs = lanesToBigInt(this.firstLo[i]!, this.firstHi[i]!);
        s.lastNs = lanesToBigInt(this.lastLo[i]!, this.lastHi[i]!);
      }
    }
    return this.interfaces.filter((s): s is InterfaceSummary => s !== undefined);
  }
}

function grow<T extends Uint8Array | Uint16Array | Uint32Array | Float64Array>(old: T, next: T): T {
  next.set(old as never);
  return next;
}
