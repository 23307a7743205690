/**
 * Splits each fingerprint group into packet identities (DESIGN §5). Within a group, frames are taken in
 * time order; a frame joins an open identity that started less than `windowNs` before it and has not
 * yet been seen at the frame's capture point (an `any` point may see one packet on several devices).
 * When several identities qualify, the one the frame continues along the path (path rank not going
 * backwards) wins, then the oldest: that choice is counted as `ambiguous`. A frame that finds its point
 * already taken while another identity of the same fingerprint is open opens a new identity: two
 * packets with one fingerprint in one window, counted as a `collision` (IPv6 duplicate ACKs, IPv4 ID
 * wrap-around with equal payloads).
 */
import type { FingerprintGroups } from './fingerprint-groups.ts';

export interface MatchInput {
  groups: FingerprintGroups;
  /** time per frame, ns (raw in the first pass, clock-corrected in the second) */
  t: Float64Array;
  point: Uint16Array;
  /** path rank per frame (path-rank.ts) */
  rank: Uint8Array;
  /** 1 for points that may see one packet several times (`any`) */
  multiPoint: Uint8Array;
  windowNs: number;
  /**
   * Visit only groups whose fingerprint has these low bits clear (the clock pass samples large
   * captures; fingerprint bits are random, so the sample has no pattern in time or direction). Default 0.
   */
  sampleMask?: number;
  fpLo?: Uint32Array;
  /**
   * Count in the stats only identities whose first frame is in [ownFrom, ownTo): a time slab also sees
   * the identities of its neighbours' overlap, which they count. Default: all.
   */
  ownFrom?: number;
  ownTo?: number;
}

export interface MatchStats {
  identities: number;
  collisions: number;
  ambiguous: number;
}

/** Called once per identity with its frames in time order (`frames[0..count)`, a reused buffer). */
export type IdentitySink = (frames: Int32Array, count: number, collided: boolean) => void;

export function matchGroups(input: MatchInput, sink: IdentitySink): MatchStats {
  const { groups, t, point, rank, multiPoint, windowNs } = input;
  const stats: MatchStats = { identities: 0, collisions: 0, ambiguous: 0 };
  let maxSize = 1;
  for (let g = 0; g < groups.count; g++) if (groups.size[g]! > maxSize) maxSize = groups.size[g]!;
  const members = new Int32Array(maxSize);
  const assign = new Int32Array(maxSize);
  const out = new Int32Array(maxSize);
  const idFirst: number[] = [];
  const idLastRank: number[] = [];
  const idCollided: boolean[] = [];

  const mask = input.sampleMask ?? 0;
  const fpLo = input.fpLo;
  const ownFrom = input.ownFrom ?? Number.NEGATIVE_INFINITY;
  const ownTo = input.ownTo ?? Number.POSITIVE_INFINITY;
  const owned = (first: number) => first >= ownFrom && first < ownTo;
  for (let g = 0; g < groups.count; g++) {
    if (mask !== 0 && fpLo && (fpLo[groups.head[g]!]! & mask) !== 0) continue;
    const size = groups.size[g]!;
    if (size === 1) {
      out[0] = groups.head[g]!;
      if (owned(t[out[0]]!)) stats.identities++;
      sink(out, 1, false);
      continue;
    }
    let k = 0;
    for (let at = groups.headAt[g]!; at >= 0; at = groups.next[at]!) members[k++] = groups.order[at]!;
    sortByTime(members, size, t);
    // the usual group: one packet, within one window, once at each point and direction; it is one
    // identity whatever the general rules below would weigh, so they are skipped
    if (t[members[size - 1]!]! - t[members[0]!]! <= windowNs && distinctHops(members, size, point, rank)) {
      if (owned(t[members[0]!]!)) stats.identities++;
      sink(members, size, false);
      continue;
    }
    idFirst.length = 0;
    idLastRank.length = 0;
    idCollided.length = 0;
    let windowStart = 0;
    for (let m = 0; m < size; m++) {
      const f = members[m]!;
      const tf = t[f]!;
      while (windowStart < m && tf - t[members[windowStart]!]! > windowNs) windowStart++;
      let best = -1;
      let candidates = 0;
      let open = 0;
      for (let j = 0; j < idFirst.length; j++) {
        if (tf - idFirst[j]! > windowNs) continue;
        open++;
        const p = point[f]!;
        if (multiPoint[p] !== 1 && seenAt(j, p, rank[f]!, members, assign, windowStart, m, point, rank))
          continue;
        candidates++;
        if (best < 0) best = j;
        else if (idLastRank[best]! > rank[f]! && idLastRank[j]! <= rank[f]!) best = j;
      }
      if (candidates > 1 && owned(idFirst[best]!)) stats.ambiguous++;
      if (best < 0) {
        best = idFirst.length;
        idFirst.push(tf);
        idLastRank.push(rank[f]!);
        idCollided.push(open > 0);
        if (open > 0) {
          if (owned(tf)) stats.collisions++;
          // the identities it collided with are marked too: their matching is by timing alone
          for (let j = 0; j < best; j++) if (tf - idFirst[j]! <= windowNs) idCollided[j] = true;
        }
      } else if (rank[f]! > idLastRank[best]!) idLastRank[best] = rank[f]!;
      assign[m] = best;
    }
    for (let j = 0; j < idFirst.length; j++) {
      let c = 0;
      for (let m = 0; m < size; m++) if (assign[m] === j) out[c++] = members[m]!;
      if (owned(idFirst[j]!)) stats.identities++;
      sink(out, c, idCollided[j]!);
    }
  }
  return stats;
}

/**
 * Whether identity j already has a frame at this point in this direction (same path rank). A hairpin
 * (a pod reaching its own Service) leaves and re-enters one eth0: the same point, the other direction.
 */
function seenAt(
  j: number,
  p: number,
  r: number,
  members: Int32Array,
  assign: Int32Array,
  from: number,
  to: number,
  point: Uint16Array,
  rank: Uint8Array,
): boolean {
  for (let m = from; m < to; m++)
    if (assign[m] === j && point[members[m]!] === p && rank[members[m]!] === r) return true;
  return false;
}

/** Whether no two frames share a point and direction (path rank). */
function distinctHops(a: Int32Array, n: number, point: Uint16Array, rank: Uint8Array): boolean {
  for (let i = 1; i < n; i++) {
    const p = point[a[i]!]!;
    const r = rank[a[i]!]!;
    for (let j = 0; j < i; j++) if (point[a[j]!] === p && rank[a[j]!] === r) return false;
  }
  return true;
}

/** Insertion sort for the usual handful of frames; the engine's sort beyond that. */
function sortByTime(a: Int32Array, n: number, t: Float64Array): void {
  if (n > 32) {
    const sorted = Array.from(a.subarray(0, n)).sort((x, y) => t[x]! - t[y]! || x - y);
    a.set(sorted);
    return;
  }
  for (let i = 1; i < n; i++) {
    const v = a[i]!;
    const tv = t[v]!;
    let j = i - 1;
    while (j >= 0 && (t[a[j]!]! > tv || (t[a[j]!]! === tv && a[j]! > v))) {
      a[j + 1] = a[j]!;
      j--;
    }
    a[j + 1] = v;
  }
}
