/**
 * SHA-256 of the files a lane reads, on a thread of its own. Hashing costs ~0.55 ns a byte (1 CPU-s
 * for a 1.8 GB capture), a third of what the decoding thread does per file: done there, it made that
 * thread the longest of the ingest. Here the three threads (decoding, Parquet encoding, hashing) share
 * the two cores as the kernel schedules them.
 *
 * A chunk the reader read into its shared memory (payload-hash-wasm.ts: a plain file's read buffers)
 * is hashed where it lies: the ring entry names its place, and the reader refills that buffer only
 * after `release` (the ChunkHolder of open-capture.ts), which waits until the thread has taken it.
 * Any other chunk (decompressed data, ordinary memory) is copied into a slot of the ring. Copying
 * every chunk cost the decoding thread ~0.12 ns a byte (~0.22 CPU-s of 1.8 GB, perf), reading the
 * file a second time ~0.35 ns a byte of kernel time. A full ring makes the decoding thread wait
 * (Atomics.wait) until a slot is free, so memory stays bounded.
 *
 * The thread is plain JavaScript (no TypeScript loader to start): it begins in ~30 ms.
 *
 * It runs HASH_NICE steps below the thread that starts it (Linux: a thread's nice value is its own):
 * decoding and Parquet encoding are the ingest's critical path, and of the three threads on two cores
 * the hash is the one that may lag, by up to the ring, at no cost. Measured on the 10 M-packet
 * ingest, alternating, 6 pairs: faster in 5 (3.03-3.22 s against 3.06-3.38 s where the machine was
 * quiet). The lag must be long enough to fill the encoder's idle spells: at 12 chunks (6 MiB), once
 * the encoder was no longer the slowest thread, the decoding thread spent a quarter of its samples
 * waiting for the hash (awaitTaken) while the hash thread idled; at 60 (30 MiB) the same ingest took
 * a median 3.25 s against 3.61 (5 alternating rounds beside another engineer's runs; peak RSS 275 ->
 * 300 MB).
 */
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { HELD_READ_SLOTS, readBufferMemory } from '../decode/payload-hash-wasm.ts';
import type { ChunkHolder } from '../source/open-capture.ts';
import { GIVEN, GONE, LENGTHS, SlotRing, TAKEN } from './slot-ring.ts';

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

/** per slot, a length (SlotRing's LENGTHS) or END (digest and start over) or DROP (start over) */
const END = -1;
const DROP = -2;
/** the length that stops the thread */
const STOP_LENGTH = -3;

/**
 * How long the ring may stay full with nothing taken before the hash thread counts as lost (SlotRing);
 * the caller then hashes the file on its own.
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
const { control, data, slotBytes, slots, shared } = workerData;
const c = new Int32Array(control);
const bytes = new Uint8Array(data);
const inPlace = shared ? new Uint8Array(shared) : null;
// the ring's first extra word per slot: where its bytes are in the shared read memory, or -1: in the slot
const AT = ${LENGTHS} + slots;
process.on('exit', () => { Atomics.store(c, ${GONE}, 1); Atomics.notify(c, ${TAKEN}); });
let hash = createHash('sha256');
for (let seq = 0; ; seq++) {
  while (Atomics.load(c, ${GIVEN}) === seq) Atomics.wait(c, ${GIVEN}, seq);
  const slot = seq % slots;
  const n = Atomics.load(c, ${LENGTHS} + slot);
  if (n === ${END}) {
    parentPort.postMessage(hash.digest('hex'));
    hash = createHash('sha256');
  } else if (n === ${DROP}) hash = createHash('sha256');
  else if (n === ${STOP_LENGTH}) break;
  else {
    const at = Atomics.load(c, AT + slot);
    hash.update(at >= 0 ? inPlace.subarray(at, at + n) : bytes.subarray(slot * slotBytes, slot * slotBytes + n));
  }
  Atomics.store(c, ${TAKEN}, seq + 1);
  Atomics.notify(c, ${TAKEN});
}
`;

export class HashThread implements FileHash, ChunkHolder {
  /** the reader's buffers to rotate through: chunks hashed in place wait in them */
  readonly buffers = HELD_READ_SLOTS;
  private readonly worker: Worker;
  private readonly ring: SlotRing;
  private readonly data: Uint8Array;
  /** the `digest` calls not answered yet, in order */
  private readonly waiting: { resolve: (hex: string) => void; reject: (e: Error) => void }[] = [];
  /** by byte offset in `shared`: the last entry that hashes the chunk read into the buffer there */
  private readonly heldBy = new Map<number, number>();

  /**
   * `shared` is the memory whose chunks are hashed in place (default: this thread's read buffers);
   * the ring takes the rest.
   */
  constructor(
    private readonly slotBytes = 512 << 10,
    /** as many as the reader lends it (HELD_READ_SLOTS, less the reader's own eight), so that it may lag as far */
    slots = 64,
    private readonly shared: SharedArrayBuffer | null = readBufferMemory(),
  ) {
    this.ring = new SlotRing(slots, 1, STALL_MS, 'hash thread');
    const data = new SharedArrayBuffer(slotBytes * slots);
    this.data = new Uint8Array(data);
    this.worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(SOURCE)}`), {
      workerData: { control: this.ring.control.buffer, data, slotBytes, slots, shared },
    });
    this.worker.on('message', (hex: string) => this.waiting.shift()?.resolve(hex));
    const fail = (e: Error) => {
      this.ring.end(e);
      for (const w of this.waiting.splice(0)) w.reject(this.ring.failure!);
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`hash thread exited with code ${code}`)));
  }

  /**
   * Bytes in the shared memory are hashed where they are, until `release` of their buffer; others are
   * copied into the ring (waits while it is full).
   */
  update(bytes: Uint8Array): void {
    if (this.shared !== null && bytes.buffer === this.shared) {
      if (bytes.length === 0) return;
      const slot = this.ring.next();
      Atomics.store(this.ring.control, this.ring.word(0, slot), bytes.byteOffset);
      this.heldBy.set(bytes.byteOffset, this.ring.given);
      this.ring.give(slot, bytes.length);
      return;
    }
    for (let at = 0; at < bytes.length; at += this.slotBytes) {
      const part = bytes.subarray(at, Math.min(bytes.length, at + this.slotBytes));
      const slot = this.ring.next();
      this.data.set(part, slot * this.slotBytes);
      Atomics.store(this.ring.control, this.ring.word(0, slot), -1);
      this.ring.give(slot, part.length);
    }
  }

  /**
   * Returns once the thread has hashed every chunk given from the buffer `buf` starts (at once for a
   * buffer it never read, or a thread that has ended or stalled: its digest is not used then).
   */
  release(buf: Uint8Array): void {
    if (buf.buffer !== this.shared) return;
    const entry = this.heldBy.get(buf.byteOffset);
    if (entry === undefined) return;
    this.heldBy.delete(buf.byteOffset);
    this.ring.awaitTaken(entry + 1);
  }

  digest(): Promise<string> {
    if (this.ring.failure) return Promise.reject(this.ring.failure);
    // answered in order, and only from the event loop: the promise is queued before the thread is told
    const p = new Promise<string>((resolve, reject) => this.waiting.push({ resolve, reject }));
    this.ring.give(this.ring.next(), END);
    return p;
  }

  drop(): void {
    this.ring.give(this.ring.next(), DROP);
  }

  /** Ends the thread. */
  async close(): Promise<void> {
    if (Atomics.load(this.ring.control, GONE) === 0) this.ring.give(this.ring.next(), STOP_LENGTH);
    await this.worker.terminate();
  }
}
