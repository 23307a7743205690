/**
 * Clock offsets between nodes (DESIGN §5): for every node, `offset_ns` such that
 * `corrected = ts + offset_ns`, relative to a reference node (the node with the most matched packets,
 * ties broken by name), with `error_ns`.
 *
 * A packet seen leaving node A and then arriving at node B bounds the offset difference: its transit
 * time, `(tB + offB) - (tA + offA)`, cannot be negative, so `offB - offA >= tA - tB`. Packets the other
 * way bound it from above. The tightest bounds come from the fastest packet each way (the minimum
 * transit), so per ordered node pair we keep `min(first sighting on the receiver - last sighting on the
 * sender)`. With both directions the offset is the middle of [lower, upper] and `error_ns` half its
 * width: the true offset lies inside whenever transit times are not negative. With one direction only
 * the offset assumes zero transit and has no error bound (`error_ns` null). Which node sent a packet is
 * read from path ranks (pod eth0 out before ENI out before ENI in...), never from the uncorrected times.
 * Nodes chain to the reference through the pairs with the smallest errors (errors add up).
 */
import type { IdentitySink } from './correlate/match-groups.ts';
import { UNPLACED_RANK } from './correlate/path-rank.ts';

export interface ClockOffset {
  node: string;
  offsetNs: number;
  /** half-width of the interval the true offset lies in; null when no packet went back the other way */
  errorNs: number | null;
  reference: boolean;
  /** frames of this node in packets seen at two points or more */
  matchedFrames: number;
  /** the node this offset was derived from (null for the reference and unconnected nodes) */
  via: string | null;
  /** packets bounding the offset to `via`: sent to it, received from it */
  samples: [number, number];
}

export interface ClockSamples {
  nodes: string[];
  /** [a * n + b]: minimum of (first time on b - last time on a) over packets a -> b, raw clocks */
  minTransit: Float64Array;
  count: Int32Array;
  matchedFrames: Int32Array;
}

/**
 * An identity sink for the first (wide) matching pass that records, per ordered node pair, the fastest
 * transit seen. Collided identities are skipped: a wrong match would move a bound arbitrarily.
 */
export function emptyClockSamples(nodes: string[]): ClockSamples {
  const n = nodes.length;
  return {
    nodes,
    minTransit: new Float64Array(n * n).fill(Number.POSITIVE_INFINITY),
    count: new Int32Array(n * n),
    matchedFrames: new Int32Array(n),
  };
}

/**
 * `samples` accumulates over calls (one sink per time slab, all feeding one estimate: the bounds are
 * minima, so slabs combine exactly). Identities whose first frame is outside [ownFrom, ownTo) are
 * skipped: the neighbouring slab owns them, and counting them twice would skew the reference choice.
 */
export function clockSampleSink(
  nodes: string[],
  pointNode: Int32Array,
  point: Uint16Array,
  rank: Uint8Array,
  t: Float64Array,
  samples: ClockSamples = emptyClockSamples(nodes),
  ownFrom = Number.NEGATIVE_INFINITY,
  ownTo = Number.POSITIVE_INFINITY,
): { sink: IdentitySink; samples: ClockSamples } {
  const n = nodes.length;
  const minRank = new Int32Array(n);
  const first = new Float64Array(n);
  const last = new Float64Array(n);
  const present: number[] = [];
  const sink: IdentitySink = (frames, count, collided) => {
    // frames come in time order: the first is the identity's start
    if (count < 2 || !(t[frames[0]!]! >= ownFrom && t[frames[0]!]! < ownTo)) return;
    present.length = 0;
    for (let k = 0; k < count; k++) {
      const f = frames[k]!;
      const node = pointNode[point[f]!]!;
      if (node < 0) continue;
      samples.matchedFrames[node]!++;
      if (!present.includes(node)) {
        present.push(node);
        minRank[node] = rank[f]!;
        first[node] = t[f]!;
        last[node] = t[f]!;
      } else {
        if (rank[f]! < minRank[node]!) minRank[node] = rank[f]!;
        if (t[f]! < first[node]!) first[node] = t[f]!;
        if (t[f]! > last[node]!) last[node] = t[f]!;
      }
    }
    if (collided || present.length < 2) return;
    // order the nodes by where along the path they saw the packet; an unplaced pair says nothing
    present.sort((a, b) => minRank[a]! - minRank[b]!);
    for (let k = 0; k + 1 < present.length; k++) {
      const a = present[k]!;
      const b = present[k + 1]!;
      if (minRank[a] === minRank[b] || minRank[b] === UNPLACED_RANK || minRank[a] === UNPLACED_RANK) continue;
      const cell = a * n + b;
      const d = first[b]! - last[a]!;
      if (d < samples.minTransit[cell]!) samples.minTransit[cell] = d;
      samples.count[cell]!++;
    }
  };
  return { sink, samples };
}

interface Edge {
  to: number;
  /** offset(to) - offset(from) */
  delta: number;
  error: number | null;
  samples: [number, number];
}

export function clockOffsetsFromSamples(samples: ClockSamples): {
  offsets: ClockOffset[];
  warnings: string[];
} {
  const { nodes, minTransit, count } = samples;
  const n = nodes.length;
  const warnings: string[] = [];
  const edges: Edge[][] = nodes.map(() => []);
  for (let a = 0; a < n; a++) {
    for (let b = 0; b < n; b++) {
      if (a === b) continue;
      const ab = count[a * n + b]!;
      const ba = count[b * n + a]!;
      if (ab === 0 && ba === 0) continue;
      const dAB = minTransit[a * n + b]!; // offB - offA >= -dAB
      const dBA = minTransit[b * n + a]!; // offB - offA <= dBA
      if (ab > 0 && ba > 0) {
        const error = (dBA + dAB) / 2;
        if (error < 0 && a < b)
          warnings.push(
            `clock: ${nodes[a]} <-> ${nodes[b]}: the one-way bounds cross by ${(-2 * error).toFixed(0)} ns (clock drift or a wrong match); offset taken from their middle`,
          );
        edges[a]!.push({ to: b, delta: (dBA - dAB) / 2, error: Math.abs(error), samples: [ab, ba] });
      } else if (ab > 0) edges[a]!.push({ to: b, delta: -dAB, error: null, samples: [ab, 0] });
      else edges[a]!.push({ to: b, delta: dBA, error: null, samples: [0, ba] });
    }
  }
  let ref = 0;
  for (let i = 1; i < n; i++) {
    const mi = samples.matchedFrames[i]!;
    const mr = samples.matchedFrames[ref]!;
    if (mi > mr || (mi === mr && nodes[i]! < nodes[ref]!)) ref = i;
  }
  // Dijkstra on accumulated error: an unbounded edge costs more than any bounded path
  const cost = new Float64Array(n).fill(Number.POSITIVE_INFINITY);
  const result: ClockOffset[] = nodes.map((node, i) => ({
    node,
    offsetNs: 0,
    errorNs: i === ref ? 0 : null,
    reference: i === ref,
    matchedFrames: samples.matchedFrames[i]!,
    via: null,
    samples: [0, 0],
  }));
  const done = new Uint8Array(n);
  if (n > 0) cost[ref] = 0;
  for (;;) {
    let u = -1;
    for (let i = 0; i < n; i++)
      if (!done[i] && Number.isFinite(cost[i]!) && (u < 0 || cost[i]! < cost[u]!)) u = i;
    if (u < 0) break;
    done[u] = 1;
    for (const e of edges[u]!) {
      const c = cost[u]! + (e.error ?? 1e15);
      if (c >= cost[e.to]!) continue;
      cost[e.to] = c;
      const from = result[u]!;
      result[e.to] = {
        ...result[e.to]!,
        offsetNs: from.offsetNs + e.delta,
        errorNs: from.errorNs === null || e.error === null ? null : from.errorNs + e.error,
        via: nodes[u]!,
        samples: e.samples,
      };
    }
  }
  for (let i = 0; i < n; i++) {
    if (i !== ref && !done[i])
      warnings.push(`clock: no packet links node ${nodes[i]} to the others; its clock is taken as is`);
    else if (i !== ref && result[i]!.errorNs === null)
      warnings.push(
        `clock: node ${nodes[i]} has packets one way only; its offset assumes zero transit and has no bound`,
      );
  }
  for (const r of result) {
    r.offsetNs = Math.round(r.offsetNs);
    if (r.errorNs !== null) r.errorNs = Math.ceil(r.errorNs);
  }
  return { offsets: result, warnings };
}
