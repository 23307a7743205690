/**
 * Frames grouped by fingerprint: an open-addressing hash table over the two uint32 lanes, with groups
 * as linked lists through `next` (frames in table order). Typed arrays only: one pass, no Map, no
 * objects per frame, which is what keeps correlation above 2 M frames/s. Frames without a fingerprint
 * (no IP, truncated prefix) are in no group.
 */
import type { FrameTable } from './frame-table.ts';
import { Scratch } from './scratch.ts';

export interface FingerprintGroups {
  count: number;
  /** first frame of each group; groups are numbered in the order of their first frame */
  head: Int32Array;
  /** number of frames of each group */
  size: Int32Array;
  /** where each group's list starts in `order` (its first member's position) */
  headAt: Int32Array;
  /** frames in partition order: a group's members are order[headAt], order[next[headAt]], ... */
  order: Int32Array;
  /** next position in `order` of the same group, -1 at the end (positions, not frames: see below) */
  next: Int32Array;
}

const PARTITION_BITS = 8;

/**
 * Radix-partitioned: frames are first scattered into 256 partitions by the top fingerprint bits, with
 * their fingerprint lanes copied alongside, then each partition is grouped with a table small enough to
 * stay in cache. Everything the grouping loop reads or writes is indexed by position within the
 * partition (`order`), never by frame, so it walks memory sequentially: one big table over millions of
 * frames spends its time waiting on memory (measured: 3x slower on 6 M frames), and so did linking the
 * groups by frame number (random writes over the whole slab).
 */
/** The arrays returned are `scratch`'s: valid until its next grouping. */
export function groupByFingerprint(f: FrameTable, scratch = new Scratch()): FingerprintGroups {
  const n = f.length;
  const { fpLo, fpHi, fpValid } = f;
  const parts = 1 << PARTITION_BITS;
  const shift = 32 - PARTITION_BITS;
  const start = new Int32Array(parts + 1);
  for (let i = 0; i < n; i++) if (fpValid[i] === 1) start[(fpLo[i]! >>> shift) + 1]!++;
  let largest = 0;
  for (let p = 0; p < parts; p++) {
    largest = Math.max(largest, start[p + 1]!);
    start[p + 1]! += start[p]!;
  }
  const m = start[parts]!;
  const order = scratch.i32('fg.order', m);
  const lo32 = scratch.u32('fg.lo', m);
  const hi32 = scratch.u32('fg.hi', m);
  const fill = start.slice(0, parts);
  for (let i = 0; i < n; i++)
    if (fpValid[i] === 1) {
      const k = fill[fpLo[i]! >>> shift]!++;
      order[k] = i;
      lo32[k] = fpLo[i]!;
      hi32[k] = fpHi[i]!;
    }

  let size = 64;
  while (size < 2 * largest) size *= 2;
  // one slot = [lo, hi, group + 1, unused]: a probe touches one cache line
  const table = scratch.u32('fg.table', 4 * size);
  const headAt = scratch.i32('fg.headAt', m);
  const tail = scratch.i32('fg.tail', m);
  const groupSize = scratch.i32('fg.groupSize', m);
  const next = scratch.i32('fg.next', m, -1);
  let count = 0;
  for (let p = 0; p < parts; p++) {
    const a = start[p]!;
    const b = start[p + 1]!;
    if (a === b) continue;
    let local = 64;
    while (local < 2 * (b - a)) local *= 2;
    const mask = 4 * local - 1;
    table.fill(0, 0, 4 * local);
    for (let k = a; k < b; k++) {
      const lo = lo32[k]!;
      const hi = hi32[k]!;
      // fingerprints are already well mixed: the low lane is a fine slot hash
      let s = (lo << 2) & mask;
      for (;;) {
        const g = table[s + 2]!;
        if (g === 0) {
          table[s] = lo;
          table[s + 1] = hi;
          table[s + 2] = count + 1;
          headAt[count] = k;
          tail[count] = k;
          groupSize[count] = 1;
          count++;
          break;
        }
        if (table[s] === lo && table[s + 1] === hi) {
          next[tail[g - 1]!] = k;
          tail[g - 1] = k;
          groupSize[g - 1]!++;
          break;
        }
        s = (s + 4) & mask;
      }
    }
  }
  // number the groups by their first frame: on frames in time order (a slab), groups, then the
  // identities matched from them, then the sightings rows come out in time order and every stage walks
  // memory forwards instead of in hash order (the difference between cache hits and misses per frame)
  const groupOfHead = scratch.i32('fg.groupOfHead', n, -1);
  for (let g = 0; g < count; g++) groupOfHead[order[headAt[g]!]!] = g;
  const head = scratch.i32('fg.head', count);
  const sizeByTime = scratch.i32('fg.size', count);
  const headAtByTime = scratch.i32('fg.headAtByTime', count);
  let k = 0;
  for (let i = 0; i < n; i++) {
    const g = groupOfHead[i]!;
    if (g < 0) continue;
    head[k] = i;
    headAtByTime[k] = headAt[g]!;
    sizeByTime[k++] = groupSize[g]!;
  }
  return { count, head, size: sizeByTime, headAt: headAtByTime, order, next };
}
