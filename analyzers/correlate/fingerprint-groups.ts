/**
 * Frames grouped by fingerprint: an open-addressing hash table over the two uint32 lanes, with groups
 * as linked lists through `next` (frames in table order). Typed arrays only: one pass, no Map, no
 * objects per frame, which is what keeps correlation above 2 M frames/s. Frames without a fingerprint
 * (no IP, truncated prefix) are in no group.
 */
import type { FrameTable } from './frame-table.ts';

export interface FingerprintGroups {
  count: number;
  /** first frame of each group */
  head: Int32Array;
  /** number of frames of each group */
  size: Int32Array;
  /** next frame of the same group, -1 at the end */
  next: Int32Array;
}

export function groupByFingerprint(f: FrameTable): FingerprintGroups {
  const n = f.length;
  let size = 1024;
  while (size < 2 * n) size *= 2;
  const mask = size - 1;
  const slotGroup = new Int32Array(size).fill(-1);
  const keyLo = new Uint32Array(size);
  const keyHi = new Uint32Array(size);
  const head = new Int32Array(n);
  const tail = new Int32Array(n);
  const groupSize = new Int32Array(n);
  const next = new Int32Array(n).fill(-1);
  let count = 0;
  const { fpLo, fpHi, fpValid } = f;
  for (let i = 0; i < n; i++) {
    if (fpValid[i] !== 1) continue;
    const lo = fpLo[i]!;
    const hi = fpHi[i]!;
    // fingerprints are already well mixed: the low lane is a fine slot hash
    let s = lo & mask;
    for (;;) {
      const g = slotGroup[s]!;
      if (g < 0) {
        slotGroup[s] = count;
        keyLo[s] = lo;
        keyHi[s] = hi;
        head[count] = i;
        tail[count] = i;
        groupSize[count] = 1;
        count++;
        break;
      }
      if (keyLo[s] === lo && keyHi[s] === hi) {
        next[tail[g]!] = i;
        tail[g] = i;
        groupSize[g]!++;
        break;
      }
      s = (s + 1) & mask;
    }
  }
  return { count, head: head.subarray(0, count), size: groupSize.subarray(0, count), next };
}
