/**
 * SHA-256 of the files a lane reads, on a thread of its own. Hashing costs ~0.55 ns a byte (1 CPU-s
 * for a 1.8 GB capture), a third of what the decoding thread does per file: done there, it made that
 * thread the longest of the ingest. Here the three threads (decoding, Parquet encoding, hashing) share
 * the two cores as the kernel schedules them.
 *
 * The decoding thread copies each chunk the reader gives it into a ring of slots in shared memory
 * (~0.1 ns a byte: the chunk is in cache) and goes on; the hash thread takes the slots in order. The
 * copy is what it costs not to read the file a second time (~0.35 ns a byte of kernel time). A full
 * ring makes the decoding thread wait (Atomics.wait) until a slot is free, so memory stays bounded.
 *
 * The thread is plain JavaScript (no TypeScript loader to start): it begins in ~30 ms.
 *
 * It runs HASH_NICE steps below the thread that starts it (Linux: a thread's nice value is its own):
 * decoding and Parquet encoding are the ingest's critical path, and of the three threads on two cores
 * the hash is the one that may lag, by up to the ring, at no cost. Measured on the 10 M-packet
 * ingest, alternating, 6 pairs: faster in 5 (3.03-3.22 s against 3.06-3.38 s where the machine was
 * quiet).
 */
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';

/** SHA-256 of one file after another, given the file's bytes in order. */
export interface FileHash {
  /** adds bytes to the file being hashed (`bytes` may be reused once this returns) */
  update(bytes: Uint8Array): void;
  /** the hex digest of the bytes given since the last `digest` or `drop` */
  digest(): Promise<string>;
  /** forgets the bytes given since the last `digest` or `drop` */
  drop(): void;
}

/** A FileHash on the calling thread, for files too small to be worth a thread. */
export function inlineHash(): FileHash {
  let hash = createHash('sha256');
  return {
    update: (bytes) => hash.update(bytes),
    digest: () => {
      const hex = hash.digest('hex');
      hash = createHash('sha256');
      return Promise.resolve(hex);
    },
    drop: () => {
      hash = createHash('sha256');
    },
  };
}

/** slots filled so far: the word the hash thread waits on */
const FILLED = 0;
/** slots hashed so far: the word the decoding thread waits on when the ring is full */
const TAKEN = 1;
/** 1 once the hash thread has ended (an error, or terminated) */
const GONE = 2;
/** per slot, from LENGTHS on: its byte count, or END (digest and start over) or DROP (start over) */
const LENGTHS = 3;
const END = -1;
const DROP = -2;
/** the length that stops the thread */
const STOP_LENGTH = -3;
/** how long a wait lasts before the other side's state is checked again (it is woken sooner) */
const WAIT_MS = 200;

/**
 * How long the ring may stay full with nothing taken before the hash thread counts as lost: a thread
 * that never started (or died) cannot say so while this thread blocks in Atomics.wait, because its
 * 'exit' event needs this thread's event loop; the caller then hashes the file on its own.
 */
const STALL_MS = 20_000;

/** how much lower the hash thread's priority is (nice steps) */
export const HASH_NICE = 10;

// an ES module from a data: URL: an eval'd worker takes the process's --input-type, and as a module
// (the benchmark's children run with --input-type=module) it would not have require
const SOURCE = `
import { parentPort, workerData } from 'node:worker_threads';
import { createHash } from 'node:crypto';
import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
// this thread's id: /proc/thread-self links to <pid>/task/<tid>; elsewhere the priority stays as it is
try {
  const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
  setPriority(tid, Math.min(19, getPriority(tid) + ${HASH_NICE}));
} catch {}
const { control, data, slotBytes } = workerData;
const c = new Int32Array(control);
const slots = c.length - ${LENGTHS};
const bytes = new Uint8Array(data);
process.on('exit', () => { Atomics.store(c, ${GONE}, 1); Atomics.notify(c, ${TAKEN}); });
let hash = createHash('sha256');
for (let seq = 0; ; seq++) {
  while (Atomics.load(c, ${FILLED}) === seq) Atomics.wait(c, ${FILLED}, seq);
  const slot = seq % slots;
  const n = Atomics.load(c, ${LENGTHS} + slot);
  if (n === ${END}) {
    parentPort.postMessage(hash.digest('hex'));
    hash = createHash('sha256');
  } else if (n === ${DROP}) hash = createHash('sha256');
  else if (n === ${STOP_LENGTH}) break;
  else hash.update(bytes.subarray(slot * slotBytes, slot * slotBytes + n));
  Atomics.store(c, ${TAKEN}, seq + 1);
  Atomics.notify(c, ${TAKEN});
}
`;

export class HashThread implements FileHash {
  private readonly worker: Worker;
  private readonly control: Int32Array;
  private readonly data: Uint8Array;
  private readonly slots: number;
  /** slots filled so far */
  private filled = 0;
  /** the `digest` calls not answered yet, in order */
  private readonly waiting: { resolve: (hex: string) => void; reject: (e: Error) => void }[] = [];
  private failure: Error | null = null;

  constructor(
    private readonly slotBytes = 512 << 10,
    slots = 16,
  ) {
    this.slots = slots;
    const control = new SharedArrayBuffer(4 * (LENGTHS + slots));
    const data = new SharedArrayBuffer(slotBytes * slots);
    this.control = new Int32Array(control);
    this.data = new Uint8Array(data);
    this.worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(SOURCE)}`), {
      workerData: { control, data, slotBytes },
    });
    this.worker.on('message', (hex: string) => this.waiting.shift()?.resolve(hex));
    const fail = (e: Error) => {
      this.failure ??= e;
      Atomics.store(this.control, GONE, 1);
      for (const w of this.waiting.splice(0)) w.reject(this.failure);
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`hash thread exited with code ${code}`)));
  }

  /** Copies the bytes into the ring (waits while it is full). */
  update(bytes: Uint8Array): void {
    for (let at = 0; at < bytes.length; at += this.slotBytes) {
      const part = bytes.subarray(at, Math.min(bytes.length, at + this.slotBytes));
      const slot = this.nextSlot();
      this.data.set(part, slot * this.slotBytes);
      this.fill(slot, part.length);
    }
  }

  digest(): Promise<string> {
    if (this.failure) return Promise.reject(this.failure);
    // answered in order, and only from the event loop: the promise is queued before the thread is told
    const p = new Promise<string>((resolve, reject) => this.waiting.push({ resolve, reject }));
    this.fill(this.nextSlot(), END);
    return p;
  }

  drop(): void {
    this.fill(this.nextSlot(), DROP);
  }

  /** Ends the thread. */
  async close(): Promise<void> {
    if (Atomics.load(this.control, GONE) === 0) this.fill(this.nextSlot(), STOP_LENGTH);
    await this.worker.terminate();
  }

  /** The slot to fill next, once the hash thread has taken what it held (waits while the ring is full). */
  private nextSlot(): number {
    let since = 0;
    let last = -1;
    for (;;) {
      const taken = Atomics.load(this.control, TAKEN);
      if (this.filled - taken < this.slots) return this.filled % this.slots;
      if (this.failure) throw this.failure;
      if (Atomics.load(this.control, GONE) !== 0) throw new Error('hash thread has ended');
      const now = performance.now();
      if (taken !== last) {
        last = taken;
        since = now;
      } else if (now - since > STALL_MS) {
        this.failure = new Error(`hash thread took nothing for ${STALL_MS / 1000} s`);
        Atomics.store(this.control, GONE, 1);
        throw this.failure;
      }
      Atomics.wait(this.control, TAKEN, taken, WAIT_MS);
    }
  }

  private fill(slot: number, length: number): void {
    Atomics.store(this.control, LENGTHS + slot, length);
    this.filled++;
    Atomics.store(this.control, FILLED, this.filled);
    Atomics.notify(this.control, FILLED);
  }
}
