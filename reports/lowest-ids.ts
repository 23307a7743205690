/**
 * The `limit` lowest ids of each key, kept as flows come in any order (max-heaps: the highest kept id is
 * the one a lower id displaces). The report keeps whole, per scenario, the passing flows it may show:
 * it picks them in id order, and flows end out of id order.
 */
/** Whether `id` would be among the `limit` lowest of `heap` (a max-heap of ids). */
export function fits(heap: readonly number[] | undefined, id: number, limit: number): boolean {
  if (limit <= 0) return false;
  return heap === undefined || heap.length < limit || id < heap[0]!;
}

/**
 * Keeps `id` among the `limit` lowest ids of `key`'s max-heap; returns the id that is not kept (`id`
 * itself, or the one it displaced), or null when nothing had to go.
 */
export function keepLowest(
  heaps: Map<string, number[]>,
  key: string,
  id: number,
  limit: number,
): number | null {
  if (limit <= 0) return id;
  let heap = heaps.get(key);
  if (heap === undefined) {
    heap = [];
    heaps.set(key, heap);
  }
  if (heap.length < limit) {
    heapPush(heap, id);
    return null;
  }
  if (id > heap[0]!) return id;
  return heapReplace(heap, id);
}

/** A max-heap of numbers in an array. */
function heapPush(h: number[], v: number): void {
  let i = h.length;
  h.push(v);
  while (i > 0) {
    const up = (i - 1) >> 1;
    if (h[up]! >= v) break;
    h[i] = h[up]!;
    i = up;
  }
  h[i] = v;
}

/** Replaces the heap's largest value by `v`; returns the value replaced. */
function heapReplace(h: number[], v: number): number {
  const top = h[0]!;
  let i = 0;
  for (;;) {
    const l = 2 * i + 1;
    if (l >= h.length) break;
    const r = l + 1;
    const big = r < h.length && h[r]! > h[l]! ? r : l;
    if (h[big]! <= v) break;
    h[i] = h[big]!;
    i = big;
  }
  h[i] = v;
  return top;
}
