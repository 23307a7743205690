/**
 * A bound on how far V8 lets the heap grow past what its last full collection left alive, for a long
 * streamed analysis. Its flows live for seconds to minutes, so their objects are promoted before they
 * die, and V8's own growing factor (up to 4) let the heap grow to several times what was alive: at 5 M
 * frames 1.7 GB of heap held 0.27 GB of live objects. With a fixed factor V8 starts its concurrent
 * marking early enough by itself; the explicit full collections this replaced stopped the analysis
 * thread for each whole mark (4.8 s of a 5 M-frame run against 1.7 s, at the same peak RSS).
 * V8 reads the flag each time it sets the next limit, so setting it while running takes effect at the
 * next collection; it holds for the rest of the process.
 */
import v8 from 'node:v8';

export const HEAP_GROWING_PERCENT = 50;

export function boundHeapGrowth(percent = HEAP_GROWING_PERCENT): void {
  if (!Number.isInteger(percent) || percent < 1 || percent > 300)
    throw new RangeError(`heap growth: a whole percentage from 1 to 300, not ${percent}`);
  v8.setFlagsFromString(`--heap-growing-percent=${percent}`);
}
