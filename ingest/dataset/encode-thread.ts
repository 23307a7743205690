/**
 * A lane's Parquet encoding on a thread of its own, so that decoding (the lane's thread) and encoding
 * (this one) run on two cores. Batches live in shared memory (shared-batch.ts): a batch message names
 * its slot, the encoder writes it and marks the slot free again, and the decoder fills it anew. At most
 * `slots` batches exist per lane, so memory stays bounded: when all of them are in flight the decoder
 * waits (Atomics.wait; it runs inside a synchronous batch callback) until the encoder frees one.
 *
 * Each side keeps one PacketColumns per slot, so the decoders' caches keyed by the batch instance
 * (address views, interned error ids) stay valid. The decoder side owns the point and file
 * dictionaries (it assigns the ids); each batch message carries the entries the encoder has not seen
 * yet, and the decode_error strings of its slot's instance that the encoder's copy of the list lacks.
 */
import { parentPort, type Worker, workerData } from 'node:worker_threads';
import type { PacketColumns } from '../columns/packet-columns.ts';
import { columnsOver, copyRows, type SharedBatchMemory, sharedBatchMemory } from '../columns/shared-batch.ts';
import { type CapturePointEntry, PacketsDatasetWriter } from './parquet/packets-dataset.ts';
import { bundleForWorker, tsWorker } from './ts-worker.ts';

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
      /** the slot's memory, on its first batch */
      memory: SharedBatchMemory | null;
      length: number;
      points: CapturePointEntry[];
      files: string[];
      /** the slot's decode_error strings from index `errorsFrom` on (earlier ones were sent) */
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

interface EncoderData {
  role: 'hoptrace-parquet-encoder';
  writer: Omit<EncodeThreadOptions, 'slots'>;
  /** CONTROL_WORDS + one word per slot: see RETURNED, FAILED, BUSY */
  control: SharedArrayBuffer;
}

/** batches freed so far: the word the decoder waits on */
const RETURNED = 0;
/** 1 once the encoder failed or its thread ended */
const FAILED = 1;
const CONTROL_WORDS = 2;
/** per slot, from CONTROL_WORDS on: 1 while the encoder has the slot's batch */
const BUSY = CONTROL_WORDS;
/** how long the decoder sleeps between checks while waiting for a batch (it is woken sooner) */
const WAIT_MS = 200;

/**
 * Where the slots' memory may come from instead of a SharedArrayBuffer of their own: the decoding
 * thread's capture kernel (pcap-kernel.ts), whose batches a batch sink decodes into in bulk. Handed in
 * by the decoding side, so that this module (which the encoder thread runs too) does not load the
 * kernel.
 */
export interface BatchMemorySource {
  take(capacity: number): SlotMemory | null;
  /** (a method: a source may take back only the batches it made, a narrower type) */
  give(batch: SlotMemory): void;
}

/** A batch's memory and the columns over it. */
export interface SlotMemory {
  memory: SharedBatchMemory;
  columns: PacketColumns;
}

interface Slot {
  memory: SharedBatchMemory;
  columns: PacketColumns;
  /** the slot's memory when it came from the source, given back at the end */
  taken: SlotMemory | null;
  /** how many of the instance's decode_error strings the encoder has */
  errorsSent: number;
  /** the encoder has seen the memory */
  announced: boolean;
}

/**
 * Gets the encoder's module ready to start without a TypeScript loader (ts-worker.ts): the decoding
 * thread fills its few batches in ~40 ms and then waits for the encoder, whose start through tsx took
 * ~0.25 s of that wait. False when it could not be bundled (it starts through tsx then).
 */
export function prepareEncodeThread(): Promise<boolean> {
  return bundleForWorker(new URL(import.meta.url));
}

export class EncodeThread {
  private readonly worker: Worker;
  private readonly control: Int32Array;
  private readonly slots: Slot[] = [];
  /** the slot of each batch instance handed out */
  private readonly slotOf = new WeakMap<PacketColumns, number>();
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
    private readonly source: BatchMemorySource | null = null,
  ) {
    this.maxSlots = Math.max(2, opts.slots ?? 4);
    const { slots: _slots, ...writer } = opts;
    const control = new SharedArrayBuffer(4 * (CONTROL_WORDS + this.maxSlots));
    this.control = new Int32Array(control);
    const data: EncoderData = { role: 'hoptrace-parquet-encoder', writer, control };
    this.worker = tsWorker(new URL(import.meta.url), data);
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

  private throwIfFailed(): void {
    if (Atomics.load(this.control, FAILED) !== 0 || this.failure)
      throw this.failure ?? new Error('parquet encoder failed');
  }

  /** An empty batch in shared memory to decode into (blocks while every batch is in flight). */
  batch(capacity: number): PacketColumns {
    return this.slots[this.freeSlot(capacity, -1)]!.columns;
  }

  /**
   * Hands a full batch to the encoder and returns an empty batch (reset) to decode into next: the
   * caller must not touch `b` again. A batch not from this thread is copied into one that is. Blocks
   * while every batch of the lane is in flight.
   */
  send(b: PacketColumns): PacketColumns {
    this.throwIfFailed();
    let index = this.slotOf.get(b);
    let errorsFrom: number;
    let errors: string[];
    if (index === undefined) {
      index = this.freeSlot(b.capacity, -1);
      copyRows(b, this.slots[index]!.columns);
      // the copy's error ids are `b`'s: its list replaces the slot's, which starts over afterwards
      errorsFrom = 1;
      errors = b.errors.slice(1);
      this.slots[index]!.errorsSent = 1;
    } else {
      const slot = this.slots[index]!;
      errorsFrom = slot.errorsSent;
      errors = b.errors.slice(errorsFrom);
      slot.errorsSent = b.errors.length;
    }
    const slot = this.slots[index]!;
    const msg: ToEncoder = {
      type: 'batch',
      slot: index,
      memory: slot.announced ? null : slot.memory,
      length: slot.columns.length,
      points: this.points.slice(this.pointsSent),
      files: this.files.slice(this.filesSent),
      errorsFrom,
      errors,
    };
    slot.announced = true;
    this.pointsSent = this.points.length;
    this.filesSent = this.files.length;
    Atomics.store(this.control, BUSY + index, 1);
    this.worker.postMessage(msg);
    this.rows += msg.length;
    return this.slots[this.freeSlot(b.capacity, index)]!.columns;
  }

  /**
   * A slot the encoder does not hold, other than `not`, reset for decoding: a free one, else a new one
   * while fewer than maxSlots exist, else the first one the encoder frees.
   */
  private freeSlot(capacity: number, not: number): number {
    for (;;) {
      const seen = Atomics.load(this.control, RETURNED);
      for (let i = 0; i < this.slots.length; i++) {
        if (i === not || Atomics.load(this.control, BUSY + i) !== 0) continue;
        const slot = this.slots[i]!;
        if (slot.memory.capacity < capacity) continue;
        slot.columns.reset();
        return i;
      }
      if (this.slots.length < this.maxSlots) return this.newSlot(capacity);
      this.throwIfFailed();
      Atomics.wait(this.control, RETURNED, seen, WAIT_MS);
    }
  }

  private newSlot(capacity: number): number {
    const taken = this.source?.take(capacity) ?? null;
    const memory = taken?.memory ?? sharedBatchMemory(capacity);
    const columns = taken?.columns ?? columnsOver(memory);
    const index = this.slots.length;
    // every instance's list starts with the unused entry 0
    this.slots.push({ memory, columns, taken, errorsSent: 1, announced: false });
    this.slotOf.set(columns, index);
    return index;
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
    try {
      const reply = await this.request({ type: 'close' });
      await this.terminate();
      if (reply.type !== 'closed') throw this.failure ?? new Error('parquet encoder did not close');
      return reply.rows;
    } finally {
      this.giveSlots();
    }
  }

  /** Stops the encoder; its open files are closed without footers before this resolves. */
  async abort(): Promise<void> {
    try {
      await this.request({ type: 'abort' });
      await this.terminate();
    } finally {
      this.giveSlots();
    }
  }

  private async terminate(): Promise<void> {
    await this.worker.terminate();
    this.exited = true;
  }

  /**
   * The slots' memory back to its source, once the encoder is gone (while it may still read them,
   * they stay taken: a later batch sink then decodes in JavaScript, no harm done).
   */
  private giveSlots(): void {
    if (!this.exited || this.source === null) return;
    for (const slot of this.slots) if (slot.taken !== null) this.source.give(slot.taken);
  }
}

const data = workerData as EncoderData | null;
if (parentPort && data?.role === 'hoptrace-parquet-encoder') {
  const port = parentPort;
  const control = new Int32Array(data.control);
  const points: CapturePointEntry[] = [];
  const files: string[] = [];
  const writer = new PacketsDatasetWriter({ ...data.writer, points, files });
  /** per slot, this side's instance over its memory */
  const batches: PacketColumns[] = [];
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
    if (m.memory) batches[m.slot] = columnsOver(m.memory);
    const c = batches[m.slot]!;
    c.length = m.length;
    // a list that starts over (a batch copied in) is a new list to the writer, which maps ids per list
    if (m.errorsFrom === 1 && c.errors.length > 1) writer.forgetErrors(c);
    c.errors.length = m.errorsFrom;
    for (const e of m.errors) c.errors.push(e);
    writer.write(c);
    Atomics.store(control, BUSY + m.slot, 0);
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
