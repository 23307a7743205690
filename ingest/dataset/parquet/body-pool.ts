/**
 * Reusable byte buffers for column chunk bodies. A chunk's pages are appended to one buffer; once its
 * row group is written (the write may complete later, on libuv's pool) the buffer comes back here for
 * the next row group, so steady-state encoding allocates nothing: no zeroing, no page faults, no
 * garbage collection of large arrays. The pool keeps at most MAX_FREE_BYTES; beyond, buffers are
 * dropped to the garbage collector. One pool per thread (module state), as each lane's writer is.
 */

/** free buffers kept for reuse, in bytes over all of them */
const MAX_FREE_BYTES = 64 << 20;
const MIN_BYTES = 64 << 10;

const free: Uint8Array[] = [];
let freeBytes = 0;

/** A buffer of at least `bytes`: the smallest free one that fits, else a new one. */
export function takeBody(bytes: number): Uint8Array {
  let best = -1;
  for (let i = 0; i < free.length; i++) {
    const len = free[i]!.length;
    if (len >= bytes && (best < 0 || len < free[best]!.length)) best = i;
  }
  if (best < 0) return new Uint8Array(Math.max(bytes, MIN_BYTES));
  const buf = free[best]!;
  free[best] = free[free.length - 1]!;
  free.pop();
  freeBytes -= buf.length;
  return buf;
}

/** Gives a buffer back once nothing reads it any more (its write has completed). */
export function releaseBody(buf: Uint8Array): void {
  if (freeBytes + buf.length > MAX_FREE_BYTES) return;
  free.push(buf);
  freeBytes += buf.length;
}
