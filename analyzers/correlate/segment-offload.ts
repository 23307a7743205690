/**
 * GSO/TSO and GRO (DESIGN §5): one capture point sees a super-segment where another sees the MTU-sized
 * segments it was cut into (or the reverse, after GRO). Their fingerprints differ (length, payload
 * prefix), so fingerprint matching leaves them as separate identities: a large one and several small
 * ones. This stage merges each small identity into the large one whose TCP sequence range contains it,
 * when they share the acknowledgement number (TSO copies it to every segment; GRO only merges segments
 * with equal ACKs), were seen at disjoint capture points (a retransmission seen at the same points
 * stays a packet of its own) and within the matching window.
 * Only identities longer than `mss` can be super-segments, so a capture without offload pays one loop.
 * Sequence numbers are compared modulo 2^32, so a super-segment whose range crosses 2^32 holds the
 * segments on both sides of the wrap.
 */
import type { FrameTable } from './frame-table.ts';
import { Scratch } from './scratch.ts';

export interface IdentityIndex {
  count: number;
  /** members of identity i: members[start[i] .. start[i + 1]) */
  start: Int32Array;
  members: Int32Array;
  /** earliest (corrected) time per identity */
  first: Float64Array;
}

export const SegmentRole = Object.freeze({
  /** one frame per point: no offload involved */
  none: 0,
  /** the large side: a GSO/TSO super-segment or a GRO aggregate */
  super: 1,
  /** the small side: one of the MTU-sized segments */
  segment: 2,
} as const);

export interface SegmentMerge {
  /** identity -> identity it was merged into (itself when not merged) */
  parent: Int32Array;
  role: Uint8Array;
  merged: number;
}

export function mergeOffloadSegments(
  f: FrameTable,
  ids: IdentityIndex,
  windowNs: number,
  mss: number,
  scratch = new Scratch(),
): SegmentMerge {
  const parent = scratch.i32('so.parent', ids.count);
  for (let i = 0; i < ids.count; i++) parent[i] = i;
  const role = scratch.u8('so.role', ids.count, 0);
  const rep = (i: number): number => ids.members[ids.start[i]!]!;
  const byAck = new Map<number, number[]>();
  // super-segments whose range crosses 2^32: sorted by start they sit at the end of their list, while
  // the segments after the wrap search near its beginning, so each list's wrapping ones are also tried
  const wrapping = new Map<number, number[]>();
  for (let i = 0; i < ids.count; i++) {
    const r = rep(i);
    if (f.proto[r] === 6 && f.payloadLen[r]! > mss) {
      const ack = f.tcpAck[r]!;
      const list = byAck.get(ack);
      if (list) list.push(i);
      else byAck.set(ack, [i]);
      if (f.tcpSeq[r]! + f.payloadLen[r]! > 2 ** 32) {
        const w = wrapping.get(ack);
        if (w) w.push(i);
        else wrapping.set(ack, [i]);
      }
    }
  }
  if (byAck.size === 0) return { parent, role, merged: 0 };
  for (const list of byAck.values()) list.sort((a, b) => f.tcpSeq[rep(a)]! - f.tcpSeq[rep(b)]!);

  /** Whether super-segment p holds segment c (range, window, disjoint points): then c merges into it. */
  const absorbs = (p: number, c: number, seq: number, len: number): boolean => {
    if (p === c) return false;
    const rp = rep(p);
    const plen = f.payloadLen[rp]!;
    if (plen <= len) return false;
    // modulo 2^32: a range crossing the wrap holds the numbers just past it
    const rel = (seq - f.tcpSeq[rp]!) >>> 0;
    if (rel + len > plen) return false;
    if (Math.abs(ids.first[c]! - ids.first[p]!) > windowNs) return false;
    return disjointPoints(f, ids, c, p);
  };
  let merged = 0;
  for (let c = 0; c < ids.count; c++) {
    const rc = rep(c);
    if (f.proto[rc] !== 6 || f.payloadLen[rc] === 0) continue;
    const list = byAck.get(f.tcpAck[rc]!);
    if (!list) continue;
    const seq = f.tcpSeq[rc]!;
    const len = f.payloadLen[rc]!;
    // the parent with the greatest start <= seq, and its neighbours (overlapping super-segments)
    let lo = 0;
    let hi = list.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (f.tcpSeq[rep(list[mid]!)]! <= seq) lo = mid;
      else hi = mid - 1;
    }
    let p = -1;
    for (let k = Math.max(0, lo - 1); k <= Math.min(list.length - 1, lo + 1) && p < 0; k++)
      if (absorbs(list[k]!, c, seq, len)) p = list[k]!;
    // wrapping super-segments are rare: no lookup (and no empty list) per segment without them
    if (p < 0 && wrapping.size > 0)
      for (const w of wrapping.get(f.tcpAck[rc]!) ?? [])
        if (absorbs(w, c, seq, len)) {
          p = w;
          break;
        }
    if (p < 0) continue;
    parent[c] = p;
    role[c] = 2;
    role[p] = 1;
    merged++;
  }
  // a segment merged into a super-segment that was itself merged (partial GRO) joins the root
  for (let i = 0; i < ids.count; i++) {
    let r = i;
    while (parent[r] !== r) r = parent[r]!;
    parent[i] = r;
  }
  return { parent, role, merged };
}

function disjointPoints(f: FrameTable, ids: IdentityIndex, a: number, b: number): boolean {
  for (let i = ids.start[a]!; i < ids.start[a + 1]!; i++) {
    const p = f.point[ids.members[i]!];
    for (let j = ids.start[b]!; j < ids.start[b + 1]!; j++) if (f.point[ids.members[j]!] === p) return false;
  }
  return true;
}

/**
 * Members grouped by identity (a counting sort of the frames by `ident`; -1 = in none). The arrays are
 * `scratch`'s, under `name`: valid until the next index of that name.
 */
export function indexIdentities(
  ident: Int32Array,
  n: number,
  count: number,
  t: Float64Array,
  scratch = new Scratch(),
  name = 'ids',
): IdentityIndex {
  const start = scratch.i32(`${name}.start`, count + 1, 0);
  for (let i = 0; i < n; i++) {
    const id = ident[i]!;
    if (id >= 0) start[id + 1]!++;
  }
  for (let i = 0; i < count; i++) start[i + 1]! += start[i]!;
  const fill = scratch.i32(`${name}.fill`, count);
  fill.set(start.subarray(0, count));
  const members = scratch.i32(`${name}.members`, start[count]!);
  const first = scratch.f64(`${name}.first`, count, Number.POSITIVE_INFINITY);
  for (let i = 0; i < n; i++) {
    const id = ident[i]!;
    if (id < 0) continue;
    members[fill[id]!++] = i;
    if (t[i]! < first[id]!) first[id] = t[i]!;
  }
  return { count, start, members, first };
}
