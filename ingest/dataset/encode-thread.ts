/**
 * A lane's Parquet encoding on a thread of its own, so that decoding (the lane's thread) and encoding
 * (this one) run on two cores. Batches go over without copies: their buffers are transferred
 * (column-transfer.ts), encoded, and transferred back for the decoder to fill again. At most `slots`
 * batches' memory exists per lane, so memory stays bounded: when all of it is in flight the decoder
 * waits (Atomics.wait; it runs inside a synchronous batch callback) until the encoder gives some back.
 *
 * Memory that comes back gets a new PacketColumns around it (a few small objects): the decoders keep
 * caches keyed by the batch instance (address views, interned error ids), which a batch whose arrays
 * were swapped underneath would leave stale. The decoder side owns the point and file dictionaries
 * (it assigns the ids); each batch message carries the entries the encoder has not seen yet, and the
 * decode_error strings of its instance that the encoder's copy of the list lacks.
 */
import {
  MessageChannel,
  type MessagePort,
  parentPort,
  receiveMessageOnPort,
  type Worker,
  workerData,
} from 'node:worker_threads';
import { PacketColumns } from '../columns/packet-columns.ts';
import { adoptBuffers, type ColumnBuffers, columnBuffers, emptyColumns } from './column-transfer.ts';
import { type CapturePointEntry, PacketsDatasetWriter } from './parquet/packets-dataset.ts';
import { tsWorker } from './ts-worker.ts';

export interface EncodeThreadOptions {
  /** the `packets` folder the writer fills */
  dir: string;
  rowGroupRows?: number;
  maxBufferedBytes?: number;
  /** batches in existence per lane, the one being decoded included (default 4) */
  slots?: number;
}

type ToEncoder =
  | {
      type: 'batch';
      slot: number;
      columns: ColumnBuffers;
      points: CapturePointEntry[];
      files: string[];
      /** the batch's decode_error strings from index `errorsFrom` on (earlier ones were sent) */
      errorsFrom: number;
      errors: string[];
    }
  | { type: 'endFiles' }
  | { type: 'close' }
  | { type: 'abort' };
type FromEncoder =
  | { type: 'ended'; parts: string[] }
  | { type: 'closed'; rows: number }
  | { type: 'aborted' }
  | { type: 'failed'; message: string };
interface Returned {
  slot: number;
  columns: ColumnBuffers;
}

interface EncoderData {
  role: 'hoptrace-parquet-encoder';
  writer: Omit<EncodeThreadOptions, 'slots'>;
  /** [0] batches given back so far, [1] 1 once the encoder failed or its thread ended */
  control: SharedArrayBuffer;
  returns: MessagePort;
}

const RETURNED = 0;
const FAILED = 1;
/** how long the decoder sleeps between checks while waiting for a batch (it is woken sooner) */
const WAIT_MS = 200;

export class EncodeThread {
  private readonly worker: Worker;
  private readonly returns: MessagePort;
  private readonly control: Int32Array;
  /** the memory slot each batch instance lives in */
  private readonly slotOf = new WeakMap<PacketColumns, number>();
  /** per slot: how many of its instance's decode_error strings the encoder has */
  private readonly errorsSent: number[] = [];
  /** batches given back, ready to decode into */
  private readonly free: PacketColumns[] = [];
  private readonly maxSlots: number;
  private pointsSent = 0;
  private filesSent = 0;
  private failure: Error | null = null;
  private settled: ((m: FromEncoder) => void) | null = null;
  private exited = false;
  /** rows handed to the encoder */
  rows = 0;

  constructor(
    opts: EncodeThreadOptions,
    private readonly points: readonly CapturePointEntry[],
    private readonly files: readonly string[],
  ) {
    this.maxSlots = Math.max(2, opts.slots ?? 4);
    const { slots: _slots, ...writer } = opts;
    const channel = new MessageChannel();
    const control = new SharedArrayBuffer(8);
    this.control = new Int32Array(control);
    this.returns = channel.port1;
    const data: EncoderData = { role: 'hoptrace-parquet-encoder', writer, control, returns: channel.port2 };
    this.worker = tsWorker(new URL(import.meta.url), data, [channel.port2]);
    this.worker.on('message', (m: FromEncoder) => this.settle(m));
    this.worker.on('error', (err) => this.settle({ type: 'failed', message: err.stack ?? err.message }));
    this.worker.on('exit', (code) => {
      this.exited = true;
      this.settle({ type: 'failed', message: `parquet encoder thread exited with code ${code}` });
    });
  }

  private settle(m: FromEncoder): void {
    if (m.type === 'failed') this.failure ??= new Error(`parquet encoder: ${m.message}`);
    const settled = this.settled;
    this.settled = null;
    settled?.(m);
  }

  /**
   * Hands a full batch to the encoder and returns an empty batch (reset) to decode into next: the
   * caller must not touch `b` again. Blocks while every batch of the lane is in flight.
   */
  send(b: PacketColumns): PacketColumns {
    if (Atomics.load(this.control, FAILED) !== 0) throw this.failure ?? new Error('parquet encoder failed');
    let slot = this.slotOf.get(b);
    if (slot === undefined) slot = this.newSlot(b);
    const errorsFrom = this.errorsSent[slot]!;
    this.errorsSent[slot] = b.errors.length;
    const columns = columnBuffers(b);
    const msg: ToEncoder = {
      type: 'batch',
      slot,
      columns,
      points: this.points.slice(this.pointsSent),
      files: this.files.slice(this.filesSent),
      errorsFrom,
      errors: b.errors.slice(errorsFrom),
    };
    this.pointsSent = this.points.length;
    this.filesSent = this.files.length;
    this.worker.postMessage(msg, columns.buffers);
    this.rows += b.length;
    return this.nextBatch(b.capacity);
  }

  private newSlot(b: PacketColumns): number {
    const slot = this.errorsSent.length;
    this.slotOf.set(b, slot);
    // every instance's list starts with the unused entry 0
    this.errorsSent.push(1);
    return slot;
  }

  private nextBatch(capacity: number): PacketColumns {
    this.takeReturned();
    let c = this.free.pop();
    if (!c && this.errorsSent.length < this.maxSlots) {
      c = new PacketColumns(capacity);
      this.newSlot(c);
      return c;
    }
    while (!c) {
      const seen = Atomics.load(this.control, RETURNED);
      this.takeReturned();
      c = this.free.pop();
      if (c) break;
      if (Atomics.load(this.control, FAILED) !== 0 || this.failure)
        throw this.failure ?? new Error('parquet encoder failed');
      Atomics.wait(this.control, RETURNED, seen, WAIT_MS);
    }
    c.reset();
    return c;
  }

  private takeReturned(): void {
    for (;;) {
      const got = receiveMessageOnPort(this.returns);
      if (!got) return;
      const r = got.message as Returned;
      const c = emptyColumns();
      adoptBuffers(c, r.columns);
      this.slotOf.set(c, r.slot);
      this.errorsSent[r.slot] = 1;
      this.free.push(c);
    }
  }

  private request(m: ToEncoder): Promise<FromEncoder> {
    if (this.exited) return Promise.resolve({ type: 'failed', message: 'parquet encoder thread is gone' });
    return new Promise((resolve) => {
      this.settled = resolve;
      this.worker.postMessage(m);
    });
  }

  /** Waits for the encoder to finish the part files open (PacketsDatasetWriter.endFiles); returns their paths. */
  async endFiles(): Promise<string[]> {
    const reply = await this.request({ type: 'endFiles' });
    if (reply.type !== 'ended') throw this.failure ?? new Error('parquet encoder did not end its files');
    return reply.parts;
  }

  /** Waits for the encoder to write everything and its footers; returns the rows written. */
  async close(): Promise<number> {
    const reply = await this.request({ type: 'close' });
    await this.worker.terminate();
    if (reply.type !== 'closed') throw this.failure ?? new Error('parquet encoder did not close');
    return reply.rows;
  }

  /** Stops the encoder; its open files are closed without footers before this resolves. */
  async abort(): Promise<void> {
    await this.request({ type: 'abort' });
    await this.worker.terminate();
  }
}

const data = workerData as EncoderData | null;
if (parentPort && data?.role === 'hoptrace-parquet-encoder') {
  const port = parentPort;
  const control = new Int32Array(data.control);
  const returns = data.returns;
  const points: CapturePointEntry[] = [];
  const files: string[] = [];
  const writer = new PacketsDatasetWriter({ ...data.writer, points, files });
  /** per slot, the decode_error list of the instance last sent from it */
  const errorLists: string[][] = [];
  // a thread that ends any other way (an uncaught error, out of memory) still wakes a waiting decoder:
  // its 'error' and 'exit' events cannot reach a lane blocked in Atomics.wait
  process.on('exit', () => {
    Atomics.store(control, FAILED, 1);
    Atomics.notify(control, RETURNED);
  });
  const fail = (err: unknown) => {
    Atomics.store(control, FAILED, 1);
    Atomics.notify(control, RETURNED);
    writer.abort();
    const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
    port.postMessage({ type: 'failed', message } satisfies FromEncoder);
  };
  const encode = (m: ToEncoder & { type: 'batch' }) => {
    for (const p of m.points) points.push(p);
    for (const f of m.files) files.push(f);
    const errors = errorLists[m.slot] ?? [];
    errorLists[m.slot] = errors;
    errors.length = m.errorsFrom;
    for (const e of m.errors) errors.push(e);
    // a new instance each time: the writer maps error ids per instance
    const c = emptyColumns();
    adoptBuffers(c, m.columns);
    for (let i = 1; i < errors.length; i++) c.errors.push(errors[i]!);
    writer.write(c);
    const back = columnBuffers(c);
    returns.postMessage({ slot: m.slot, columns: back } satisfies Returned, back.buffers);
    Atomics.add(control, RETURNED, 1);
    Atomics.notify(control, RETURNED);
  };
  // writes are synchronous (parquet-file.ts): each message is handled as it comes
  let failed = false;
  port.on('message', (m: ToEncoder) => {
    if (failed) {
      // the failure is reported already; a close or abort that follows still gets its answer
      if (m.type === 'abort') port.postMessage({ type: 'aborted' } satisfies FromEncoder);
      if (m.type === 'close' || m.type === 'endFiles')
        port.postMessage({ type: 'failed', message: 'encoding failed' } satisfies FromEncoder);
      return;
    }
    try {
      switch (m.type) {
        case 'batch':
          encode(m);
          break;
        case 'endFiles':
          writer
            .endFiles()
            .then((parts) => port.postMessage({ type: 'ended', parts } satisfies FromEncoder), fail);
          break;
        case 'close':
          writer
            .close()
            .then(() => port.postMessage({ type: 'closed', rows: writer.rows } satisfies FromEncoder), fail);
          break;
        case 'abort':
          writer.abort();
          port.postMessage({ type: 'aborted' } satisfies FromEncoder);
          break;
      }
    } catch (err) {
      failed = true;
      fail(err);
    }
  });
}
