/**
 * Flow facts: the adapter between the analyzers' output (sightings, flows, coverage) and the rule
 * evaluator. The analyzers' `PathHop` is only `{point, dir}`; the evaluator also needs, per sighting, the
 * addresses, ports and TTL seen there and the evidence (file, frame), so this module reads them back from
 * the sightings and the FrameTable they point into. It also turns a `Flow` into the classifier's
 * `ClassifyFlow` (hand-over item 1) and each point's coverage into a `PointCoverage`.
 *
 * Nothing here judges: it only says what was seen, where, and what each point could have seen.
 */
import type { ClassifyFlow } from '../classify.ts';
import type { FrameTable } from '../correlate/frame-table.ts';
import type { Coverage } from '../correlate/frames-from-bundle.ts';
import type { Sightings } from '../correlate/sightings.ts';
import { type Flow, groupIndexes } from '../flows.ts';
import { macTextFromKey } from '../topology/ip-text.ts';

/** FrameTable direction codes, as the analyzers store them (0 unknown, 1 in, 2 out). */
const DIR = ['unknown', 'in', 'out'] as const;
export type SightingDir = (typeof DIR)[number];

/** One packet at one capture point, with what the evaluator checks. */
export interface Sighting {
  point: string;
  node: string | null;
  dir: SightingDir;
  /** canonical address text; null without an IP layer */
  src: string | null;
  dst: string | null;
  /** TCP/UDP ports; for ICMP the echo identifier on the client side, 0 otherwise */
  srcPort: number;
  dstPort: number;
  /** TTL or hop limit */
  ttl: number;
  /** clock-corrected time, ns since the epoch */
  tNs: bigint;
  /** bundle-relative capture file and 1-based frame number (the evidence) */
  file: string;
  frame: number;
}

/** One (source MAC, destination MAC) pair seen at a point in one direction, with its first frame. */
export interface MacSeen {
  /** lowercase text; null when the link layer carries none (SLL2 `any` captures keep no destination MAC
   * and the decoder keeps no SLL address either) */
  src: string | null;
  dst: string | null;
  /** pcap link type of the frame (1 Ethernet, 276 Linux SLL2...) */
  linkType: number;
  file: string;
  frame: number;
  /** packets of the leg that showed this pair there */
  packets: number;
}

export interface LegFacts {
  /** packets of the leg */
  packets: number;
  /** packets that followed the most common path */
  modalPackets: number;
  /** the most common path, as seen by its first packet; empty when the leg has no packets */
  hops: Sighting[];
  /** `point:dir` of every sighting of any packet of the leg (a hop seen by one packet is not bypassed) */
  seenAnywhere: Pick<ReadonlySet<string>, 'has'>;
  /** first and last sighting time of the leg, ns since the epoch; null without packets */
  firstNs: bigint | null;
  lastNs: bigint | null;
  /** per `point:dir`, every distinct MAC pair any packet of the leg showed there: the gateway MAC check
   * judges all packets, not only the modal path's first one (a single misaddressed frame must show) */
  macs: Pick<ReadonlyMap<string, readonly MacSeen[]>, 'get'>;
}

export interface FlowFacts {
  flow: Flow;
  classify: ClassifyFlow;
  request: LegFacts;
  reply: LegFacts;
}

/** One capture file's window at a point (ring-buffer sets leave gaps between files). */
export interface PointWindow {
  file: string;
  /** ns since the epoch; on the corrected clock once the evaluator's context holds it */
  startNs: bigint;
  endNs: bigint;
  /** packets this file dropped (when inside its window is not known); null: not said */
  drops: number | null;
}

/** What a capture point could see (DESIGN §3): outside the window, or while dropping, absence proves nothing. */
export interface PointCoverage {
  point: string;
  /** hull of the windows (shown in messages and captures[]) */
  startNs: bigint | null;
  endNs: bigint | null;
  /** packets the capture dropped over all its files; null when it did not say */
  drops: number | null;
  files: string[];
  /** per file, sorted by start; a file without a known start or end proves nothing and is left out */
  windows: readonly PointWindow[];
}

/** What a point's files say about [from, to]: a part no file covers, else the drops of files overlapping it. */
export type CoverageOver =
  | { status: 'gap' /** the first uncovered stretch */; fromNs: bigint; toNs: bigint }
  | {
      status: 'lossy';
      drops: number;
      /** the files overlapping [from, to] that reported drops */ files: string[];
    }
  | { status: 'covered' };

/**
 * The same sweep as flows.ts `coverageGaps` (Flow.coverage), on one leg's window instead of the flow's:
 * per-file windows, so a gap between ring-buffer files is a gap, and only the files overlapping the window
 * count their drops (a count is per file, not per moment, so the whole file's window is suspect).
 */
export function coverageOver(c: PointCoverage, from: bigint, to: bigint): CoverageOver {
  let reached = from;
  let gap: [bigint, bigint] | null = null;
  let drops = 0;
  const lossy: string[] = [];
  // `started`: a window overlapped; without it even a zero-width window (a one-packet leg) is uncovered
  let started = false;
  for (const w of c.windows) {
    if (w.endNs < from || w.startNs > to) continue;
    if (w.drops !== null && w.drops > 0) {
      drops += w.drops;
      lossy.push(w.file);
    }
    if (w.startNs > reached && gap === null) gap = [reached, w.startNs];
    started = true;
    if (w.endNs > reached) reached = w.endNs;
  }
  if (!started) gap = [from, to];
  else if (gap === null && reached < to) gap = [reached, to];
  if (gap !== null) return { status: 'gap', fromNs: gap[0], toNs: gap[1] };
  return lossy.length > 0 ? { status: 'lossy', drops, files: lossy } : { status: 'covered' };
}

/** Whether a time lies inside one of the point's file windows. */
export function insideWindows(c: PointCoverage, t: bigint): boolean {
  for (const w of c.windows) if (w.startNs <= t && t <= w.endNs) return true;
  return false;
}

/**
 * Texts made once per (point, dir) while a bundle is judged: a bundle has few points and every flow asks,
 * so the same string instance is handed out each time. Dropped by `clear` once the bundle is judged (a
 * batch judges bundle after bundle in one process, each with its own points).
 */
export class PointDirTexts {
  private readonly byPoint = new Map<string, Record<string, string>>();

  constructor(private readonly make: (point: string, dir: string) => string) {}

  get(point: string, dir: string): string {
    let byDir = this.byPoint.get(point);
    if (byDir === undefined) {
      byDir = Object.create(null) as Record<string, string>;
      this.byPoint.set(point, byDir);
    }
    let text = byDir[dir];
    if (text === undefined) {
      text = this.make(point, dir);
      byDir[dir] = text;
    }
    return text;
  }

  clear(): void {
    this.byPoint.clear();
  }
}

// Every flow looks hops up by `point:dir`: each key is made once (no concatenation, and a hash V8 keeps
// with the string)
export const hopKeys = new PointDirTexts((point, dir) => `${point}:${dir}`);

/** `point:dir` */
export function hopKey(point: string, dir: string): string {
  return hopKeys.get(point, dir);
}

export function protoName(proto: number): string {
  return proto === 6
    ? 'tcp'
    : proto === 17
      ? 'udp'
      : proto === 1
        ? 'icmp'
        : proto === 58
          ? 'icmpv6'
          : proto === 132
            ? 'sctp'
            : String(proto);
}

/** The classifier's view of a flow: its endpoints, and where its request entered (the modal path's first sighting). */
export function classifyFlowOf(flow: Flow, request: LegFacts): ClassifyFlow {
  const entryHop = request.hops[0];
  return {
    proto: protoName(flow.proto),
    client: { ip: flow.client.ip, pod: flow.client.pod, node: flow.client.node },
    server: { ip: flow.server.ip, port: flow.server.port, pod: flow.server.pod, node: flow.server.node },
    entry:
      entryHop && entryHop.dst !== null
        ? { ip: entryHop.dst, port: flow.proto === 1 || flow.proto === 58 ? 0 : entryHop.dstPort }
        : null,
    // a Service known from elsewhere (an SLB address, a host client's ClusterIP): the flows stage names it
    service: flow.service ? { ip: flow.service.ip, port: flow.service.port } : null,
  };
}

export function coverageFromFrames(coverage: ReadonlyMap<string, Coverage>): Map<string, PointCoverage> {
  const out = new Map<string, PointCoverage>();
  for (const [id, c] of coverage)
    out.set(id, {
      point: id,
      startNs: c.startNs,
      endNs: c.endNs,
      drops: c.drops,
      files: [...c.files],
      windows: c.windows
        .flatMap((w) =>
          w.startNs !== null && w.endNs !== null
            ? [{ file: w.file, startNs: w.startNs, endNs: w.endNs, drops: w.drops }]
            : [],
        )
        .sort((a, b) => (a.startNs < b.startNs ? -1 : a.startNs > b.startNs ? 1 : 0)),
    });
  return out;
}

/** A frame's TCP/UDP port; for ICMP the echo identifier (0 for other ICMP messages). */
export function portAt(f: FrameTable, fr: number, which: 'src' | 'dst'): number {
  const proto = f.proto[fr]!;
  if (proto === 1 || proto === 58) return f.icmpEcho[fr] === 1 ? f.icmpId[fr]! : 0;
  return (which === 'src' ? f.srcPort : f.dstPort)[fr]!;
}

/** Sighting row `r` with what the evaluator checks (`files`: capture file names by FrameTable `file`). */
function sightingAt(s: Sightings, r: number, files: readonly string[]): Sighting {
  const f = s.frames;
  const fr = s.frame[r]!;
  return {
    point: s.points[s.point[r]!]!,
    node: s.pointNode[s.point[r]!] ?? null,
    dir: DIR[f.dir[fr]!] ?? 'unknown',
    src: f.addrText(fr, 'src'),
    dst: f.addrText(fr, 'dst'),
    srcPort: portAt(f, fr, 'src'),
    dstPort: portAt(f, fr, 'dst'),
    ttl: f.ttl[fr]!,
    tNs: f.absNs(s.t[r]!),
    file: files[f.file[fr]!] ?? '?',
    frame: f.frame[fr]!,
  };
}

/**
 * Reads the sightings of every packet of every flow back into per-flow facts, handing each flow's facts to
 * `use` as they are made and keeping none: the facts of a large bundle (every leg's sightings and MAC
 * pairs) are never all alive at once.
 */
export function forEachFlowFacts(
  s: Sightings,
  flows: readonly Flow[],
  flowOfPacket: Int32Array,
  files: readonly string[],
  use: (facts: FlowFacts) => void,
): void {
  const f = s.frames;
  // each flow's packets, in packet order, as one index array sliced by flow id (a counting sort)
  let maxId = -1;
  for (let p = 0; p < s.packets; p++) if ((flowOfPacket[p] ?? -1) > maxId) maxId = flowOfPacket[p]!;
  const { start: flowStart, members: packetsByFlow } = groupIndexes(flowOfPacket, s.packets, maxId + 1);
  const portOf = (fr: number, which: 'src' | 'dst'): number => portAt(f, fr, which);
  const sighting = (r: number): Sighting => sightingAt(s, r, files);
  // `point:dir` text made once per (point, direction code), not once per sighting: a sighting's hop is
  // the number point * 3 + dir
  const hopText = s.points.flatMap((id) => DIR.map((d) => hopKey(id, d)));
  const hopOf = (r: number): number => {
    const dir = f.dir[s.frame[r]!]!;
    return s.point[r]! * 3 + (dir <= 2 ? dir : 0);
  };
  const samePath = (p: number, q: number): boolean => {
    const a = s.packetStart[p]!;
    const b = s.packetStart[q]!;
    const n = s.packetStart[p + 1]! - a;
    if (s.packetStart[q + 1]! - b !== n) return false;
    for (let i = 0; i < n; i++) if (hopOf(a + i) !== hopOf(b + i)) return false;
    return true;
  };
  // a bundle has few MACs, its legs many pairs: each MAC's text is made once
  const macTexts = new Map<number, string | null>();
  const macText = (key: number): string | null => {
    let text = macTexts.get(key);
    if (text === undefined) {
      text = macTextFromKey(key);
      macTexts.set(key, text);
    }
    return text;
  };
  // Per leg, in buffers reused from leg to leg (sized for the largest flow seen so far):
  // - the slot of each hop seen (-1: not yet), the hops in the order first seen, and per slot its MAC
  //   pairs as a chain of entries (numeric keys, so the per-sighting lookup compares numbers, not text);
  // - packets grouped by path (the hops in order): each group's first packet and size, found by a hash of
  //   the path (the newest group of each hash, then a chain through the groups) and checked hop by hop.
  const slotOfHop = new Int32Array(hopText.length).fill(-1);
  const order = new Int32Array(hopText.length);
  const slotHead = new Int32Array(hopText.length);
  const slotTail = new Int32Array(hopText.length);
  const slotCount = new Int32Array(hopText.length);
  let entSrc = new Float64Array(64);
  let entDst = new Float64Array(64);
  let entNext = new Int32Array(64);
  const entMac: MacSeen[] = [];
  let groupFirst = new Int32Array(64);
  let groupSize = new Int32Array(64);
  let groupNext = new Int32Array(64);
  const groupOfHash = new Map<number, number>();
  const reserve = (sightings: number, packets: number): void => {
    if (entNext.length < sightings) {
      entSrc = new Float64Array(2 * sightings);
      entDst = new Float64Array(2 * sightings);
      entNext = new Int32Array(2 * sightings);
    }
    if (groupFirst.length < packets) {
      groupFirst = new Int32Array(2 * packets);
      groupSize = new Int32Array(2 * packets);
      groupNext = new Int32Array(2 * packets);
    }
  };
  const legOf = (packets: Int32Array, count: number): LegFacts => {
    let slots = 0;
    let entries = 0;
    let groups = 0;
    groupOfHash.clear();
    // relative times: absNs is monotone, so the extremes convert once at the end
    let first = Number.POSITIVE_INFINITY;
    let last = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < count; i++) {
      const p = packets[i]!;
      let hash = 0;
      for (let r = s.packetStart[p]!; r < s.packetStart[p + 1]!; r++) {
        const fr = s.frame[r]!;
        const hop = hopOf(r);
        hash = (Math.imul(hash, 0x01000193) ^ (hop + 1)) | 0;
        let slot = slotOfHop[hop]!;
        if (slot < 0) {
          slot = slots++;
          slotOfHop[hop] = slot;
          order[slot] = hop;
          slotHead[slot] = -1;
          slotTail[slot] = -1;
          slotCount[slot] = 0;
        }
        const sm = f.srcMac[fr]!;
        const dm = f.dstMac[fr]!;
        let e = slotHead[slot]!;
        while (e >= 0 && (entSrc[e] !== sm || entDst[e] !== dm)) e = entNext[e]!;
        if (e >= 0) entMac[e]!.packets++;
        else {
          e = entries++;
          entSrc[e] = sm;
          entDst[e] = dm;
          entNext[e] = -1;
          entMac[e] = {
            src: macText(sm),
            dst: macText(dm),
            linkType: f.linkType[fr]!,
            file: files[f.file[fr]!] ?? '?',
            frame: f.frame[fr]!,
            packets: 1,
          };
          const tail = slotTail[slot]!;
          if (tail >= 0) entNext[tail] = e;
          else slotHead[slot] = e;
          slotTail[slot] = e;
          slotCount[slot]!++;
        }
        const t = s.t[r]!;
        if (t < first) first = t;
        if (t > last) last = t;
      }
      const head = groupOfHash.get(hash) ?? -1;
      let g = head;
      while (g >= 0 && !samePath(groupFirst[g]!, p)) g = groupNext[g]!;
      if (g >= 0) groupSize[g]!++;
      else {
        // a new group goes to the chain's front: the chain is searched whole, so its order does not matter
        g = groups++;
        groupNext[g] = head;
        groupOfHash.set(hash, g);
        groupFirst[g] = p;
        groupSize[g] = 1;
      }
    }
    // each hop's MAC pairs, in the order first seen; the same map answers which hops any packet showed
    const macs = new Map<string, readonly MacSeen[]>();
    for (let slot = 0; slot < slots; slot++) {
      const list = new Array<MacSeen>(slotCount[slot]!);
      for (let e = slotHead[slot]!, k = 0; e >= 0; e = entNext[e]!) list[k++] = entMac[e]!;
      macs.set(hopText[order[slot]!]!, list);
      slotOfHop[order[slot]!] = -1;
    }
    // the same choice as flows.ts modalPath: the largest group, the earliest on a tie
    let best = -1;
    let bestSize = 0;
    for (let g = 0; g < groups; g++)
      if (groupSize[g]! > bestSize) {
        best = g;
        bestSize = groupSize[g]!;
      }
    let hops: Sighting[] = [];
    if (best >= 0) {
      const p = groupFirst[best]!;
      const a = s.packetStart[p]!;
      hops = new Array<Sighting>(s.packetStart[p + 1]! - a);
      for (let k = 0; k < hops.length; k++) hops[k] = sighting(a + k);
    }
    return {
      packets: count,
      modalPackets: bestSize,
      hops,
      seenAnywhere: macs,
      firstNs: first <= last ? f.absNs(first) : null,
      lastNs: first <= last ? f.absNs(last) : null,
      macs,
    };
  };
  // per flow: its packets split into requests and replies
  let requests = new Int32Array(64);
  let replies = new Int32Array(64);
  // a flow's packets come from two or three addresses: each one's text is compared once (address key ->
  // whether it is the client's), in a list reset per flow
  const addrKeys: number[] = [];
  const addrIsClient: boolean[] = [];
  for (const flow of flows) {
    const from = flow.id >= 0 && flow.id <= maxId ? flowStart[flow.id]! : 0;
    const to = flow.id >= 0 && flow.id <= maxId ? flowStart[flow.id + 1]! : 0;
    if (requests.length < to - from) {
      requests = new Int32Array(2 * (to - from));
      replies = new Int32Array(2 * (to - from));
    }
    let sightings = 0;
    for (let i = from; i < to; i++) {
      const p = packetsByFlow[i]!;
      sightings += s.packetStart[p + 1]! - s.packetStart[p]!;
    }
    reserve(sightings, to - from);
    addrKeys.length = 0;
    addrIsClient.length = 0;
    let nRequests = 0;
    let nReplies = 0;
    for (let i = from; i < to; i++) {
      const p = packetsByFlow[i]!;
      const fr = s.frame[s.packetStart[p]!]!;
      const addr = f.ipVersion[fr]! * 2 ** 32 + (f.src[fr] ?? 0);
      let at = addrKeys.indexOf(addr);
      if (at < 0) {
        at = addrKeys.length;
        addrKeys.push(addr);
        addrIsClient.push(f.addrText(fr, 'src') === flow.client.ip);
      }
      if (addrIsClient[at] === true && portOf(fr, 'src') === flow.client.port) requests[nRequests++] = p;
      else replies[nReplies++] = p;
    }
    const request = legOf(requests, nRequests);
    const reply = legOf(replies, nReplies);
    const classify = classifyFlowOf(flow, request);
    use({ flow, classify, request, reply });
  }
}
