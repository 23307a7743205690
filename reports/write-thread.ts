/**
 * The outputs' write system calls on a thread of their own. A streamed analysis writes about 10 KB of
 * output a flow (verdicts.json, analysis.json, junit.xml): at 5 M frames some 1.5 GB, and the
 * synchronous writes of it took about 3 CPU-s of the analysis thread, which is the run's critical path
 * (the kernel's copy into the page cache is done in the calling thread). Here the calling thread only
 * copies each buffer into a ring of shared slots (~0.1 ms a MiB) and goes on; the thread writes the
 * slots in order. A full ring makes the caller wait (Atomics.wait), so memory stays bounded.
 * Measured at 5 M frames: the writes took 3.1 s of the analysis thread's samples (--cpu-prof).
 *
 * Entries are written in the order given, whatever their file: a file's bytes are therefore in order,
 * and `drain` (before a file is closed, renamed or read back) waits for the file's last entry. A
 * failed write (a full disk) is kept by file descriptor and thrown by that file's next `drain`; the
 * thread goes on with the other files' entries.
 *
 * The thread is plain JavaScript (no TypeScript loader to start): it begins in ~30 ms, and is started
 * at the first write of the process. It does not keep the process alive.
 */
import fs from 'node:fs';
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { GIVEN, GONE, LENGTHS, SlotRing, TAKEN } from '../ingest/dataset/slot-ring.ts';

/** the length that stops the thread (SlotRing's lengths are byte counts here) */
const STOP = -1;
/**
 * How long the ring may stay full with nothing written before the thread counts as lost (SlotRing).
 */
const STALL_MS = 60_000;

export const SLOT_BYTES = 1 << 20;
const SLOTS = 16;

// an ES module from a data: URL (an eval'd worker would take the process's --input-type)
const SOURCE = `
import { workerData } from 'node:worker_threads';
import { writeSync } from 'node:fs';
const { control, data, slotBytes, slots, port } = workerData;
const c = new Int32Array(control);
const bytes = new Uint8Array(data);
// the ring's first extra word per slot: the file descriptor its bytes go to
const FDS = ${LENGTHS} + slots;
process.on('exit', () => { Atomics.store(c, ${GONE}, 1); Atomics.notify(c, ${TAKEN}); });
for (let seq = 0; ; seq++) {
  while (Atomics.load(c, ${GIVEN}) === seq) Atomics.wait(c, ${GIVEN}, seq);
  const slot = seq % slots;
  const n = Atomics.load(c, ${LENGTHS} + slot);
  if (n === ${STOP}) break;
  const fd = Atomics.load(c, FDS + slot);
  const at = slot * slotBytes;
  try {
    // a short write (a signal, a disk nearly full) goes on from where it stopped
    for (let done = 0; done < n; ) done += writeSync(fd, bytes, at + done, n - done);
  } catch (e) {
    // posted before the entry counts as taken, so a drain that has seen it taken finds the message;
    // no state is kept here by descriptor, whose number the system reuses once the file is closed
    port.postMessage({ fd, message: e instanceof Error ? e.message : String(e) });
  }
  Atomics.store(c, ${TAKEN}, seq + 1);
  Atomics.notify(c, ${TAKEN});
}
`;

/** Where a file's bytes are written: on the calling thread, or handed to the write thread. */
export interface FileWrites {
  /** writes `length` bytes of `b` to `fd` (`b` may be reused once this returns) */
  write(fd: number, b: Uint8Array, length: number): void;
  /** returns once every byte given for `fd` is written; throws the error of a write to it that failed */
  drain(fd: number): void;
  /**
   * forgets a failure of `fd` (its file is being removed); never throws: false when bytes for it may
   * still be written (the thread is lost), so the number must not be closed and given to another file
   */
  forget(fd: number): boolean;
}

/** Writes on the calling thread, each before `write` returns. */
export const inlineWrites: FileWrites = {
  write: (fd, b, length) => {
    for (let done = 0; done < length; ) done += fs.writeSync(fd, b, done, length - done);
  },
  drain: () => {},
  forget: () => true,
};

export class WriteThread implements FileWrites {
  private readonly worker: Worker;
  private readonly ring: SlotRing;
  private readonly data: Uint8Array;
  private readonly port: MessagePort;
  /** by file descriptor: entries given up to its last one (a drain waits for no other file's) */
  private readonly lastOf = new Map<number, number>();
  /** errors of failed writes by file descriptor, as the thread reported them */
  private readonly failures = new Map<number, string>();

  constructor(
    private readonly slotBytes = SLOT_BYTES,
    slots = SLOTS,
  ) {
    this.ring = new SlotRing(slots, 1, STALL_MS, 'the write thread');
    const control = this.ring.control.buffer;
    const data = new SharedArrayBuffer(slotBytes * slots);
    this.data = new Uint8Array(data);
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(SOURCE)}`), {
      workerData: { control, data, slotBytes, slots, port: port2 },
      transferList: [port2],
      // plain JavaScript: none of the process's loaders (tsx) to start
      execArgv: [],
    });
    this.worker.unref();
    this.port.unref();
    const gone = (e: Error) => this.ring.end(e);
    this.worker.on('error', gone);
    // (a thread ended by terminate runs no 'exit' handler of its own)
    this.worker.on('exit', (code) => gone(new Error(`the write thread has ended (code ${code})`)));
  }

  write(fd: number, b: Uint8Array, length: number): void {
    for (let at = 0; at < length; at += this.slotBytes) {
      const n = Math.min(this.slotBytes, length - at);
      const slot = this.ring.next();
      this.data.set(b.subarray(at, at + n), slot * this.slotBytes);
      Atomics.store(this.ring.control, this.ring.word(0, slot), fd);
      this.ring.give(slot, n);
    }
    if (length > 0) this.lastOf.set(fd, this.ring.given);
    // a failed write (a full disk) is heard at the file's next write, not only at its commit
    this.collect();
    this.throwFailure(fd);
  }

  private throwFailure(fd: number): void {
    const failure = this.failures.get(fd);
    if (failure !== undefined) {
      this.failures.delete(fd);
      throw new Error(failure);
    }
  }

  drain(fd: number): void {
    this.awaitTaken(this.lastOf.get(fd) ?? 0);
    this.lastOf.delete(fd);
    this.collect();
    this.throwFailure(fd);
  }

  forget(fd: number): boolean {
    // a lost thread might still write to the number, so it must stay open
    if (!this.ring.awaitTaken(this.lastOf.get(fd) ?? 0)) return false;
    this.collect();
    this.failures.delete(fd);
    this.lastOf.delete(fd);
    return true;
  }

  /** Ends the thread once everything given is written. */
  async close(): Promise<void> {
    if (Atomics.load(this.ring.control, GONE) === 0) {
      this.awaitTaken(this.ring.given);
      this.ring.give(this.ring.next(), STOP);
    }
    await this.worker.terminate();
  }

  private collect(): void {
    for (let m = receiveMessageOnPort(this.port); m; m = receiveMessageOnPort(this.port)) {
      const { fd, message } = m.message as { fd: number; message: string };
      // the first failure says why; the file's later writes fail for the same reason
      if (!this.failures.has(fd)) this.failures.set(fd, message);
    }
  }

  /** Waits until the thread has written `count` entries; throws when it has ended or stalled. */
  private awaitTaken(count: number): void {
    if (!this.ring.awaitTaken(count)) throw this.ring.lost();
  }
}

let shared: WriteThread | null = null;

/** The process's write thread, started at the first call. */
export function writeThread(): WriteThread {
  shared ??= new WriteThread();
  return shared;
}
