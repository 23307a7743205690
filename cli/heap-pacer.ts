/**
 * Full garbage collections paced by what the heap holds, for a long streamed analysis. Its flows live
 * for seconds to minutes, so their objects are promoted before they die, and V8 lets the old space grow
 * to several times what is alive before it collects it: at 5 M frames 1.7 GB of heap held 0.27 GB of
 * live objects. Past `slack` bytes of growth since the last collection (and at least a quarter of what was
 * alive then), `check` collects, so the peak follows what is alive instead of the allocation rate.
 * The collector is V8's own, reached the way test runners reach it (jest's leak detection): the flag
 * that exposes it, then the function from a fresh context.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

export class HeapPacer {
  private readonly gc: (() => void) | null = exposedGc();
  private limit: number;
  /** full collections made */
  collections = 0;

  constructor(private readonly slack = 128 * 2 ** 20) {
    this.limit = used() + slack;
  }

  /** Collects when the heap has grown past its limit; cheap otherwise (one heap statistics call). */
  check(): void {
    if (this.gc === null || used() <= this.limit) return;
    this.gc();
    this.collections++;
    const live = used();
    this.limit = live + Math.max(this.slack, live / 4);
  }
}

function used(): number {
  return v8.getHeapStatistics().used_heap_size;
}

function exposedGc(): (() => void) | null {
  const own = (globalThis as { gc?: () => void }).gc;
  if (typeof own === 'function') return own;
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc: unknown = vm.runInNewContext('gc');
    return typeof gc === 'function' ? (gc as () => void) : null;
  } catch {
    return null;
  }
}
