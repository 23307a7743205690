/**
 * One ingest lane: capture files -> Parquet part files of the `packets` table, plus each file's
 * `captures` rows. `ingestToDataset` (write-dataset.ts) runs one lane inline for small inputs and one
 * per worker thread for large ones; each lane has its own Parquet writer (bounded buffers: memory does
 * not grow with input size) and its own dictionaries, and writes into its own folder, so lanes share
 * nothing and the main thread only moves finished part files and merges the small `captures` rows.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import { parentPort, Worker, workerData } from 'node:worker_threads';
import { type FilePlace, kindOf, pointId } from '../capture-points.ts';
import { PacketColumns } from '../columns/packet-columns.ts';
import { KERNEL_BATCH_ROWS } from '../decode/kernel/kernel-memory.ts';
import { giveKernelBatch, type KernelBatch, takeKernelBatch } from '../decode/kernel/pcap-kernel.ts';
import { type IngestErrorCode, InputError } from '../errors.ts';
import { type InterfaceSummary, PacketBatchSink } from '../packets-from-capture.ts';
import { readCapture } from '../read-capture.ts';
import { type BatchMemorySource, EncodeThread } from './encode-thread.ts';
import { type FileHash, HashThread, inlineHash } from './hash-thread.ts';
import { type CapturePointEntry, PacketsDatasetWriter } from './parquet/packets-dataset.ts';
import { lowerThreadPriority } from './thread-priority.ts';

/**
 * Rows of a lane's batch: the largest a capture kernel batch holds, so that the sink decodes into it
 * in bulk (65 536 before the kernel; the dataset writer's per-batch work is small beside the rows').
 */
const LANE_BATCH_ROWS = KERNEL_BATCH_ROWS;

/** The encoder's batches in the capture kernel's memory when there is room: the sink decodes into them in bulk. */
const KERNEL_SLOTS: BatchMemorySource = { take: takeKernelBatch, give: giveKernelBatch };

export interface CaptureRow {
  capture_point: string;
  node: string | null;
  pod: string | null;
  iface: string;
  kind: string;
  link_type: number;
  ts_resolution: string;
  snaplen: number;
  packets: number;
  bytes: number;
  decode_errors: number;
  drops: number | null;
  start_ns: bigint | null;
  end_ns: bigint | null;
  file: string;
  sha256: string;
  clock_offset_ns: bigint;
  /** label of the bundle the file came from (bundle-tree.ts); null outside a bundle */
  bundle: string | null;
  /** ring-buffer sequence number from the file name (DESIGN §3), null for a single file */
  ring_index: number | null;
}

export interface LaneOptions {
  /** the folder this lane's `node=/hour=` partitions go to */
  packetsDir: string;
  rowGroupRows?: number;
  batchRows?: number;
  /** Parquet writer buffer bound of this lane */
  maxBufferedBytes?: number;
  /** encode on a thread of its own (encode-thread.ts), beside the decoding one */
  pipeline?: boolean;
  /** files at least this large are hashed on a thread of their own (hash-thread.ts) */
  hashThreadMinBytes?: number;
  /** nice steps the lane's thread (and the threads it starts) run below the process (thread-priority.ts) */
  nice?: number;
}

export interface FileTask {
  /** position in the plan: results are put back in plan order */
  index: number;
  abs: string;
  display: string;
  place: FilePlace;
  bundle: string | null;
}

/** An InputError as it crosses a thread boundary (classes do not survive structured cloning). */
export interface FaultData {
  code: IngestErrorCode;
  file: string;
  offset: number;
  detail: string;
  recordsBefore: number;
}

export interface FileDone {
  index: number;
  /** as displayed (FileTask.display) */
  file: string;
  records: number;
  error: FaultData | null;
  warnings: number;
  captures: CaptureRow[];
  /** the finished Parquet files holding this file's rows (absolute), for a resumed run to keep */
  parts: string[];
}

export interface FileProgress {
  index: number;
  /** records read from the file so far */
  records: number;
  /** byte offset (in the decompressed stream) of the last record read */
  offset: number;
}

export function faultData(e: InputError): FaultData {
  return { code: e.code, file: e.file, offset: e.offset, detail: e.detail, recordsBefore: e.recordsBefore };
}

export function faultOf(d: FaultData): InputError {
  const e = new InputError(d.code, d.file, d.offset, d.detail);
  e.recordsBefore = d.recordsBefore;
  return e;
}

/** Thrown out of a lane's sink when the run is interrupted, so a long file stops within one batch. */
export class Interrupted extends Error {
  constructor() {
    super('interrupted');
    this.name = 'Interrupted';
  }
}

/** Where a lane's full batches go: encoded here, or handed to an encoder thread. */
interface BatchOutput {
  readonly rows: number;
  /** the batch to decode into first */
  firstBatch(capacity: number): PacketColumns;
  /** takes a full batch; returns the batch to decode into next, or nothing to reuse this one */
  write(b: PacketColumns): PacketColumns | undefined;
  /** finishes the open part files; returns their paths */
  endFiles(): Promise<string[]>;
  close(): Promise<number>;
  abort(): Promise<void>;
}

class InlineOutput implements BatchOutput {
  /** the batch, when it is in the capture kernel's memory (the sink then decodes into it in bulk) */
  private kernel: KernelBatch | null = null;
  constructor(private readonly writer: PacketsDatasetWriter) {}
  get rows(): number {
    return this.writer.rows;
  }
  firstBatch(capacity: number): PacketColumns {
    this.kernel = takeKernelBatch(capacity);
    return this.kernel?.columns ?? new PacketColumns(capacity);
  }
  write(b: PacketColumns): undefined {
    this.writer.write(b);
  }
  endFiles(): Promise<string[]> {
    return this.writer.endFiles();
  }
  async close(): Promise<number> {
    try {
      await this.writer.close();
      return this.writer.rows;
    } finally {
      this.giveBatch();
    }
  }
  async abort(): Promise<void> {
    try {
      this.writer.abort();
    } finally {
      this.giveBatch();
    }
  }
  private giveBatch(): void {
    if (this.kernel !== null) giveKernelBatch(this.kernel);
    this.kernel = null;
  }
}

class ThreadOutput implements BatchOutput {
  constructor(private readonly thread: EncodeThread) {}
  get rows(): number {
    return this.thread.rows;
  }
  firstBatch(capacity: number): PacketColumns {
    return this.thread.batch(capacity);
  }
  write(b: PacketColumns): PacketColumns {
    return this.thread.send(b);
  }
  endFiles(): Promise<string[]> {
    return this.thread.endFiles();
  }
  close(): Promise<number> {
    return this.thread.close();
  }
  abort(): Promise<void> {
    return this.thread.abort();
  }
}

export class IngestLane {
  private readonly points: CapturePointEntry[] = [];
  private readonly pointIds = new Map<string, number>();
  private readonly files: string[] = [];
  private readonly output: BatchOutput;
  /** the batch being decoded into (with an encoder thread, one of several that take turns) */
  private batch: PacketColumns;
  /** hashes the lane's large files (started with the first one) */
  private hashThread: HashThread | null = null;
  private readonly hashThreadMinBytes: number;

  constructor(
    opts: LaneOptions,
    /** checked once per batch; true stops the file being read (Interrupted) */
    private readonly stopped: () => boolean = () => false,
  ) {
    const writer = {
      dir: opts.packetsDir,
      ...(opts.rowGroupRows ? { rowGroupRows: opts.rowGroupRows } : {}),
      ...(opts.maxBufferedBytes ? { maxBufferedBytes: opts.maxBufferedBytes } : {}),
    };
    this.output = opts.pipeline
      ? new ThreadOutput(new EncodeThread(writer, this.points, this.files, KERNEL_SLOTS))
      : new InlineOutput(new PacketsDatasetWriter({ ...writer, points: this.points, files: this.files }));
    this.batch = this.output.firstBatch(opts.batchRows ?? LANE_BATCH_ROWS);
    this.hashThreadMinBytes = opts.hashThreadMinBytes ?? HASH_WORKER_MIN_BYTES;
  }

  private fileHash(size: number): FileHash {
    if (size < this.hashThreadMinBytes) return inlineHash();
    this.hashThread ??= new HashThread();
    return this.hashThread;
  }

  private dropHash(hash: FileHash): void {
    try {
      hash.drop();
    } catch {
      this.lostHash(hash);
    }
  }

  /** A hash thread that has ended is replaced with the next large file. */
  private lostHash(hash: FileHash): void {
    const thread = this.hashThread;
    if (thread === null || hash !== thread) return;
    this.hashThread = null;
    thread.close().catch(() => {});
  }

  get rows(): number {
    return this.output.rows;
  }

  async ingest(task: FileTask, onProgress?: (p: FileProgress) => void): Promise<FileDone> {
    const fileId = this.files.length;
    this.files.push(task.display);
    const place = task.place;
    let records = 0;
    const sink = new PacketBatchSink(
      {
        fileId,
        pointFor: (info) => {
          const point = pointId(place, info.section > 0 && info.name ? info.name : null);
          let id = this.pointIds.get(point);
          if (id === undefined) {
            id = this.points.length;
            this.pointIds.set(point, id);
            this.points.push({ name: point, node: place.node ?? '-' });
          }
          return id;
        },
        onBatch: (b) => {
          if (this.stopped()) throw new Interrupted();
          records += b.length;
          const offset = b.fileOffset[b.length - 1] ?? 0;
          const next = this.output.write(b);
          if (next) this.batch = next;
          onProgress?.({ index: task.index, records, offset });
          return next;
        },
      },
      this.batch,
    );
    const size = await fs.stat(task.abs).then(
      (st) => st.size,
      () => -1,
    );
    // the file is hashed from the reader's chunks: reading it a second time cost 0.4-1 s of kernel CPU
    // for 1.8 GB on a machine whose cores the decoder and the Parquet encoder keep busy; a large file's
    // chunks are hashed on a thread of their own (hash-thread.ts says why)
    const hash = this.fileHash(size);
    let hashed = 0;
    // a hash thread that ends mid-file costs the file its streamed hash, never its rows
    let hashLost = false;
    let result: Awaited<ReturnType<typeof readCapture>>;
    try {
      result = await readCapture(task.abs, sink, {
        file: task.display,
        // a hash thread reads the chunks in place, until it lets go of their buffers
        ...(hash instanceof HashThread ? { chunkHolder: hash } : {}),
        onFileChunk: (bytes) => {
          if (hashLost) return;
          try {
            hash.update(bytes);
            hashed += bytes.length;
          } catch {
            hashLost = true;
          }
        },
      });
    } catch (e) {
      // the next file's hash starts clean
      this.dropHash(hash);
      throw e;
    }
    let sha256: string | null = null;
    if (!hashLost && result.error === null && hashed === size)
      sha256 = await hash.digest().catch(() => {
        hashLost = true;
        return null;
      });
    else this.dropHash(hash);
    if (hashLost) this.lostHash(hash);
    // a read stopped by a fault saw part of the file, a lost hash thread part of its bytes: the file is
    // then hashed on its own
    if (sha256 === null) sha256 = await sha256File(task.abs);
    const interfaces = sink.finish();
    // the file's rows in finished Parquet files of their own: a resumed run keeps them as they are
    const parts = await this.output.endFiles();
    return {
      index: task.index,
      file: task.display,
      records: result.records,
      error: result.error ? faultData(result.error) : null,
      warnings: result.warnings.length,
      captures: interfaces.map((s) => captureRow(s, task, sha256 ?? '')),
      parts,
    };
  }

  /** Writes the footers; returns the rows written. A lane that wrote nothing leaves no file. */
  async close(): Promise<number> {
    await this.hashThread?.close();
    if (this.output.rows === 0) {
      await this.output.abort();
      return 0;
    }
    return this.output.close();
  }

  /** Stops writing; the files open are closed without footers (the temporary dataset is discarded). */
  async abort(): Promise<void> {
    await this.hashThread?.close().catch(() => {});
    return this.output.abort();
  }
}

function captureRow(s: InterfaceSummary, task: FileTask, sha256: string): CaptureRow {
  const place = task.place;
  const iface = s.info.section > 0 && s.info.name ? s.info.name : place.iface;
  const isbDrops = s.stats ? (s.stats.ifDrop ?? 0) + (s.stats.osDrop ?? 0) : null;
  const drops = isbDrops === null && s.epbDrops === 0 ? null : (isbDrops ?? 0) + s.epbDrops;
  return {
    capture_point: pointId(place, s.info.section > 0 && s.info.name ? s.info.name : null),
    node: place.node,
    pod: place.pod,
    iface,
    kind: kindOf(place, iface),
    link_type: s.info.linkType,
    ts_resolution: s.info.tsResolution,
    snaplen: s.info.snaplen,
    packets: s.packets,
    bytes: s.bytes,
    decode_errors: s.decodeErrors,
    drops,
    start_ns: s.firstNs,
    end_ns: s.lastNs,
    file: task.display,
    sha256,
    clock_offset_ns: 0n,
    bundle: task.bundle,
    ring_index: place.ringIndex,
  };
}

/**
 * Files at least this large are hashed on a thread of their own (hash-thread.ts while they are read,
 * sha256File when a fault stopped the read); smaller ones are not worth a thread's start-up.
 */
const HASH_WORKER_MIN_BYTES = 16 << 20;

/** Hashes a file on its own thread: plain CommonJS, so it needs no TypeScript loader. */
const HASH_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const hash = createHash('sha256');
const buf = Buffer.allocUnsafe(1 << 22);
const fd = fs.openSync(workerData, 'r');
try {
  for (;;) {
    const n = fs.readSync(fd, buf, 0, buf.length, null);
    if (n === 0) break;
    hash.update(buf.subarray(0, n));
  }
} finally {
  fs.closeSync(fd);
}
parentPort.postMessage(hash.digest('hex'));
`;

/**
 * SHA-256 of a file read on its own, or null when it cannot be read: for a file whose decoding stopped
 * at a fault (a whole file is hashed from the reader's chunks). Large captures are hashed on a thread
 * of their own: hashing 1.7 GB takes ~1.4 s of CPU.
 */
async function sha256File(abs: string): Promise<string | null> {
  const size = await fs.stat(abs).then(
    (st) => st.size,
    () => -1,
  );
  if (size < 0) return null;
  if (size >= HASH_WORKER_MIN_BYTES) {
    return new Promise((resolve) => {
      const worker = new Worker(HASH_WORKER, { eval: true, workerData: abs });
      worker.once('message', (hex: string) => resolve(hex));
      worker.once('error', () => resolve(null));
      worker.once('exit', () => resolve(null));
    });
  }
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(abs, { highWaterMark: 1 << 22 })) hash.update(chunk as Buffer);
    return hash.digest('hex');
  } catch {
    return null;
  }
}

/** Messages between write-dataset.ts and a lane on a worker thread. */
export type ToLane = { type: 'file'; task: FileTask } | { type: 'close' };
export type FromLane =
  | { type: 'progress'; progress: FileProgress }
  | { type: 'done'; done: FileDone }
  | { type: 'closed'; rows: number }
  | { type: 'failed'; message: string };

export interface LaneWorkerData {
  role: 'hoptrace-ingest-lane';
  lane: LaneOptions;
}

const data = workerData as LaneWorkerData | null;
if (parentPort && data?.role === 'hoptrace-ingest-lane') {
  const port = parentPort;
  lowerThreadPriority(data.lane.nice ?? 0);
  const lane = new IngestLane(data.lane);
  // progress at most every 100 ms per lane: enough for a display redrawn 4 times a second
  let lastProgress = 0;
  const progress = (p: FileProgress) => {
    const now = performance.now();
    if (now - lastProgress < 100) return;
    lastProgress = now;
    port.postMessage({ type: 'progress', progress: p } satisfies FromLane);
  };
  // one message at a time: the main thread sends the next file only after `done`
  port.on('message', (msg: ToLane) => {
    const work =
      msg.type === 'file'
        ? lane.ingest(msg.task, progress).then((done): FromLane => ({ type: 'done', done }))
        : lane.close().then((rows): FromLane => ({ type: 'closed', rows }));
    work.then(
      (reply) => port.postMessage(reply),
      async (err: unknown) => {
        await lane.abort().catch(() => {});
        const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
        port.postMessage({ type: 'failed', message } satisfies FromLane);
      },
    );
  });
}
