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
 * Files are written past the page cache (O_DIRECT) where the file system takes it (`open`): a buffered
 * write copies every byte into page-cache pages the kernel must first find, and on this machine class
 * (a VM whose free memory goes back to the host) a fresh page costs a fault in the host. At 5 M frames
 * the thread's 1.07 GB of buffered writes were 8% of the run's CPU, nearly all of it that copy (perf).
 * A direct write wants the buffer address, length and file offset aligned to the device's block: the
 * thread copies each entry behind the file's partial last block (`tails`) into a page-aligned staging
 * buffer (WebAssembly memory) and writes its whole blocks; the file's drain writes the last block
 * padded and truncates the padding away (as ingest/dataset/parquet/direct-file.ts does on one thread).
 * `open` probes a direct file with one block and opens it buffered when that fails; a file system that
 * takes the probe and refuses a later direct write fails that output with its error (direct-file.ts
 * reopens by path instead: here the thread has only the descriptor).
 *
 * The thread is plain JavaScript (no TypeScript loader to start): it begins in ~30 ms, and is started
 * at the first write of the process. It does not keep the process alive.
 */
import fs from 'node:fs';
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { openDirect } from '../ingest/dataset/parquet/direct-file.ts';
import { GIVEN, GONE, LENGTHS, SlotRing, TAKEN } from '../ingest/dataset/slot-ring.ts';
import { DIRECT_BLOCK, stage } from '../ingest/source/direct-io.ts';

/** the length that stops the thread (SlotRing's lengths are byte counts here) */
const STOP = -1;
/**
 * How long the ring may stay full with nothing written before the thread counts as lost (SlotRing).
 */
const STALL_MS = 60_000;

export const SLOT_BYTES = 1 << 20;
const SLOTS = 16;

/** what an entry is (the ring's second extra word per slot) */
const BYTES = 0;
/** bytes of a file opened with O_DIRECT */
const DIRECT_BYTES = 1;
/** a direct file's end: its partial last block written padded, the padding truncated away */
const DIRECT_END = 2;
/** a direct file given up: its partial last block forgotten (the number may go to another file) */
const DIRECT_DROP = 3;
type EntryKind = typeof BYTES | typeof DIRECT_BYTES | typeof DIRECT_END | typeof DIRECT_DROP;
/** what a WebAssembly memory is made of: its size is a whole number of them */
const WASM_PAGE = 1 << 16;

// an ES module from a data: URL (an eval'd worker would take the process's --input-type)
const SOURCE = `
import { workerData } from 'node:worker_threads';
import { writeSync, ftruncateSync } from 'node:fs';
const { control, data, slotBytes, slots, port } = workerData;
const c = new Int32Array(control);
const bytes = new Uint8Array(data);
// the ring's extra words per slot: the file descriptor its bytes go to, and what the entry is
const FDS = ${LENGTHS} + slots;
const KINDS = FDS + slots;
const BLOCK = ${DIRECT_BLOCK};
// page-aligned (a WebAssembly memory's base), made at the first direct entry: a slot behind a tail
const stagePages = Math.ceil((slotBytes + BLOCK) / ${WASM_PAGE});
let stage = null;
// by file descriptor, a direct file's state from its first entry to its end or drop: where its
// partial last block starts, and that block; FAILED once a write of it failed
const tails = new Map();
const FAILED = 'failed';
// a short write (a signal, a disk nearly full) goes on from where it stopped
function writeAll(fd, b, from, n, pos) {
  for (let done = 0; done < n; ) done += writeSync(fd, b, from + done, n - done, pos === null ? null : pos + done);
}
function direct(fd, at, n) {
  stage ??= new Uint8Array(new WebAssembly.Memory({ initial: stagePages, maximum: stagePages }).buffer);
  let t = tails.get(fd);
  // a file whose write failed is written no further: its later bytes would land at other offsets
  if (t === FAILED) return;
  if (t === undefined) tails.set(fd, (t = { pos: 0, tail: new Uint8Array(BLOCK), len: 0 }));
  stage.set(t.tail.subarray(0, t.len));
  stage.set(bytes.subarray(at, at + n), t.len);
  const total = t.len + n;
  const whole = total - (total % BLOCK);
  writeAll(fd, stage, 0, whole, t.pos);
  t.pos += whole;
  t.tail.set(stage.subarray(whole, total));
  t.len = total - whole;
}
function end(fd) {
  const t = tails.get(fd) ?? { pos: 0, len: 0 };
  tails.delete(fd);
  // (its failure is reported already, and what it holds is not the file's whole length)
  if (t === FAILED) return;
  if (t.len > 0) {
    stage.set(t.tail.subarray(0, t.len));
    stage.fill(0, t.len, BLOCK);
    writeAll(fd, stage, 0, BLOCK, t.pos);
  }
  // the padding, and the block the open's probe wrote into an empty file
  ftruncateSync(fd, t.pos + t.len);
}
process.on('exit', () => { Atomics.store(c, ${GONE}, 1); Atomics.notify(c, ${TAKEN}); });
for (let seq = 0; ; seq++) {
  while (Atomics.load(c, ${GIVEN}) === seq) Atomics.wait(c, ${GIVEN}, seq);
  const slot = seq % slots;
  const n = Atomics.load(c, ${LENGTHS} + slot);
  if (n === ${STOP}) break;
  const fd = Atomics.load(c, FDS + slot);
  const kind = Atomics.load(c, KINDS + slot);
  const at = slot * slotBytes;
  try {
    if (kind === ${DIRECT_BYTES}) direct(fd, at, n);
    else if (kind === ${DIRECT_END}) end(fd);
    else if (kind === ${DIRECT_DROP}) tails.delete(fd);
    else writeAll(fd, bytes, at, n, null);
  } catch (e) {
    if (kind === ${DIRECT_BYTES}) tails.set(fd, FAILED);
    // posted before the entry counts as taken, so a drain that has seen it taken finds the message. The
    // only state kept here by descriptor is a direct file's (tails), from its first entry to its end or
    // drop, which drain and forget wait for before the number may be closed and given to another file
    port.postMessage({ fd, message: e instanceof Error ? e.message : String(e) });
  }
  Atomics.store(c, ${TAKEN}, seq + 1);
  Atomics.notify(c, ${TAKEN});
}
`;

/** Where a file's bytes are written: on the calling thread, or handed to the write thread. */
export interface FileWrites {
  /**
   * opens `file` for writing (created, or emptied): past the page cache when `direct` and the writer
   * and the file system can (every output asks for it; the write thread's buffered path is what a file
   * system that refuses O_DIRECT gets)
   */
  open(file: string, direct: boolean): number;
  /** writes `length` bytes of `b` to `fd` (`b` may be reused once this returns) */
  write(fd: number, b: Uint8Array, length: number): void;
  /**
   * returns once every byte given for `fd` is written (a direct file's last partial block included:
   * nothing more may be written to it); throws the error of a write to it that failed
   */
  drain(fd: number): void;
  /**
   * forgets a failure of `fd` (its file is being removed); never throws: false when bytes for it may
   * still be written (the thread is lost), so the number must not be closed and given to another file
   */
  forget(fd: number): boolean;
}

/** Writes on the calling thread, each before `write` returns. */
export const inlineWrites: FileWrites = {
  open: (file) => fs.openSync(file, 'w'),
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
  /** files opened past the page cache, by descriptor, until drained or forgotten */
  private readonly direct = new Set<number>();

  constructor(
    private readonly slotBytes = SLOT_BYTES,
    slots = SLOTS,
  ) {
    this.ring = new SlotRing(slots, 2, STALL_MS, 'the write thread');
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

  open(file: string, direct: boolean): number {
    const fd = direct ? openDirect(file) : -1;
    if (fd >= 0) {
      // a file system may take the open and refuse the writes (EINVAL): one block tells. Its bytes (the
      // calling thread's staging buffer, page-aligned) are overwritten by the file's own or truncated
      // away at its end
      try {
        if (fs.writeSync(fd, stage(), 0, DIRECT_BLOCK, 0) === DIRECT_BLOCK) {
          this.direct.add(fd);
          return fd;
        }
      } catch {
        // refused: written through the page cache
      }
      fs.closeSync(fd);
    }
    try {
      return fs.openSync(file, 'w');
    } catch (e) {
      // the probe's block is not left behind as a file nobody will remove
      if (fd >= 0) fs.rmSync(file, { force: true });
      throw e;
    }
  }

  write(fd: number, b: Uint8Array, length: number): void {
    const kind = this.direct.has(fd) ? DIRECT_BYTES : BYTES;
    for (let at = 0; at < length; at += this.slotBytes) {
      const n = Math.min(this.slotBytes, length - at);
      const slot = this.ring.next();
      this.data.set(b.subarray(at, at + n), slot * this.slotBytes);
      this.give(slot, fd, kind, n);
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

  /** Hands `slot` to the thread: `n` bytes for `fd`, or (no bytes) what ends a direct file. */
  private give(slot: number, fd: number, kind: EntryKind, n: number): void {
    const control = this.ring.control;
    Atomics.store(control, this.ring.word(0, slot), fd);
    Atomics.store(control, this.ring.word(1, slot), kind);
    this.ring.give(slot, n);
  }

  /** A direct file's last entry (`DIRECT_END` or `DIRECT_DROP`): it is no longer direct here. */
  private endDirect(fd: number, kind: typeof DIRECT_END | typeof DIRECT_DROP): void {
    if (!this.direct.delete(fd)) return;
    this.give(this.ring.next(), fd, kind, 0);
    this.lastOf.set(fd, this.ring.given);
  }

  drain(fd: number): void {
    this.endDirect(fd, DIRECT_END);
    this.awaitTaken(this.lastOf.get(fd) ?? 0);
    this.lastOf.delete(fd);
    this.collect();
    this.throwFailure(fd);
  }

  forget(fd: number): boolean {
    try {
      this.endDirect(fd, DIRECT_DROP);
    } catch {
      // the thread is lost (no slot frees): the number stays open, below
    }
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
      // the first failure says why (a buffered file's later writes fail for the same reason; a direct
      // file's are not written at all, they would land at other offsets)
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
