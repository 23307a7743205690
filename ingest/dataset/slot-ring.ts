/**
 * The producing side of a ring of slots in shared memory that one worker thread consumes in order
 * (the ingest's hash thread, hash-thread.ts; the outputs' write thread, reports/write-thread.ts). The
 * control words are the same for both threads' sources: GIVEN (entries given so far, the word the
 * thread waits on), TAKEN (entries it has finished, the word a full ring's producer waits on), GONE (1
 * once the thread has ended), then per slot its length, and `words` more words per slot for the caller.
 *
 * A producer blocked in Atomics.wait runs no event loop, so it never hears the thread's 'exit' or
 * 'error' events: a thread that takes nothing for `stallMs` counts as lost.
 */
export const GIVEN = 0;
export const TAKEN = 1;
export const GONE = 2;
/** per slot from here: its length; then `slots` words per extra word */
export const LENGTHS = 3;
/** how long a wait lasts before the thread's state is looked at again (it wakes the producer sooner) */
const WAIT_MS = 200;

export class SlotRing {
  readonly control: Int32Array;
  /** entries given so far */
  given = 0;
  /** why the ring stopped: the thread ended, stalled, or failed (set by the owner) */
  failure: Error | null = null;

  constructor(
    readonly slots: number,
    /** extra words per slot (their index: `word(k, slot)`) */
    words: number,
    private readonly stallMs: number,
    private readonly name: string,
  ) {
    this.control = new Int32Array(new SharedArrayBuffer(4 * (LENGTHS + (1 + words) * slots)));
  }

  /** The index in `control` of extra word `k` of `slot`. */
  word(k: number, slot: number): number {
    return LENGTHS + (1 + k) * this.slots + slot;
  }

  /** The slot to fill next, once the thread has taken what it held (waits while the ring is full). */
  next(): number {
    if (!this.awaitTaken(this.given - this.slots + 1)) throw this.lost();
    return this.given % this.slots;
  }

  /** Why the ring cannot go on. */
  lost(): Error {
    return this.failure ?? new Error(`${this.name} has ended`);
  }

  /** Hands `slot` to the thread with `length` (a byte count, or a code the thread knows). */
  give(slot: number, length: number): void {
    Atomics.store(this.control, LENGTHS + slot, length);
    this.given++;
    Atomics.store(this.control, GIVEN, this.given);
    Atomics.notify(this.control, GIVEN);
  }

  /** The thread has ended (its 'exit' or 'error' event, heard by the owner). */
  end(e: Error): void {
    this.failure ??= e;
    Atomics.store(this.control, GONE, 1);
  }

  /**
   * Waits until the thread has taken `count` entries; false when it has ended, or took nothing for
   * `stallMs` (it then counts as failed: `failure` says so).
   */
  awaitTaken(count: number): boolean {
    let since = performance.now();
    let last = -1;
    for (;;) {
      const taken = Atomics.load(this.control, TAKEN);
      if (taken >= count) return true;
      if (this.failure || Atomics.load(this.control, GONE) !== 0) return false;
      const now = performance.now();
      if (taken !== last) {
        last = taken;
        since = now;
      } else if (now - since > this.stallMs) {
        this.end(new Error(`${this.name} took nothing for ${this.stallMs / 1000} s`));
        return false;
      }
      Atomics.wait(this.control, TAKEN, taken, WAIT_MS);
    }
  }
}
