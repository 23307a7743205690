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
import type { Coverage } from '../correlate/frames-from-bundle.ts';
import type { Sightings } from '../correlate/sightings.ts';
import type { Flow } from '../flows.ts';
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
  seenAnywhere: ReadonlySet<string>;
  /** first and last sighting time of the leg, ns since the epoch; null without packets */
  firstNs: bigint | null;
  lastNs: bigint | null;
  /** per `point:dir`, every distinct MAC pair any packet of the leg showed there: the gateway MAC check
   * judges all packets, not only the modal path's first one (a single misaddressed frame must show) */
  macs: ReadonlyMap<string, readonly MacSeen[]>;
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
  return c.windows.some((w) => w.startNs <= t && t <= w.endNs);
}

export const hopKey = (point: string, dir: string): string => `${point}:${dir}`;

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

/** Reads the sightings of every packet of every flow back into per-flow facts. */
export function flowFactsFromAnalysis(
  s: Sightings,
  flows: readonly Flow[],
  flowOfPacket: Int32Array,
  files: readonly string[],
): FlowFacts[] {
  const f = s.frames;
  const byFlow = new Map<number, number[]>();
  for (let p = 0; p < s.packets; p++) {
    const id = flowOfPacket[p] ?? -1;
    if (id < 0) continue;
    const list = byFlow.get(id);
    if (list) list.push(p);
    else byFlow.set(id, [p]);
  }
  const portOf = (fr: number, which: 'src' | 'dst'): number => {
    const proto = f.proto[fr]!;
    if (proto === 1 || proto === 58) return f.icmpEcho[fr] === 1 ? f.icmpId[fr]! : 0;
    return (which === 'src' ? f.srcPort : f.dstPort)[fr]!;
  };
  const sighting = (r: number): Sighting => {
    const fr = s.frame[r]!;
    return {
      point: s.points[s.point[r]!]!,
      node: s.pointNode[s.point[r]!] ?? null,
      dir: DIR[f.dir[fr]!] ?? 'unknown',
      src: f.addrText(fr, 'src'),
      dst: f.addrText(fr, 'dst'),
      srcPort: portOf(fr, 'src'),
      dstPort: portOf(fr, 'dst'),
      ttl: f.ttl[fr]!,
      tNs: f.absNs(s.t[r]!),
      file: files[f.file[fr]!] ?? '?',
      frame: f.frame[fr]!,
    };
  };
  const legOf = (packets: number[]): LegFacts => {
    const byKey = new Map<string, number[]>();
    const seen = new Set<string>();
    const macs = new Map<string, MacSeen[]>();
    // numeric keys beside each list, so the per-sighting lookup compares numbers, not text
    const macKeys = new Map<string, number[]>();
    let first: bigint | null = null;
    let last: bigint | null = null;
    for (const p of packets) {
      let key = '';
      for (let r = s.packetStart[p]!; r < s.packetStart[p + 1]!; r++) {
        const k = hopKey(s.points[s.point[r]!]!, DIR[f.dir[s.frame[r]!]!] ?? 'unknown');
        key += `${k} `;
        seen.add(k);
        const fr = s.frame[r]!;
        const sm = f.srcMac[fr]!;
        const dm = f.dstMac[fr]!;
        let keys = macKeys.get(k);
        let list = macs.get(k);
        if (!keys || !list) {
          keys = [];
          list = [];
          macKeys.set(k, keys);
          macs.set(k, list);
        }
        let at = -1;
        for (let m = 0; m < list.length; m++)
          if (keys[2 * m] === sm && keys[2 * m + 1] === dm) {
            at = m;
            break;
          }
        if (at >= 0) list[at]!.packets++;
        else {
          keys.push(sm, dm);
          list.push({
            src: macTextFromKey(sm),
            dst: macTextFromKey(dm),
            linkType: f.linkType[fr]!,
            file: files[f.file[fr]!] ?? '?',
            frame: f.frame[fr]!,
            packets: 1,
          });
        }
        const t = f.absNs(s.t[r]!);
        if (first === null || t < first) first = t;
        if (last === null || t > last) last = t;
      }
      const list = byKey.get(key);
      if (list) list.push(p);
      else byKey.set(key, [p]);
    }
    // the same choice as flows.ts modalPath: the largest group, the earliest on a tie
    let best: number[] = [];
    for (const list of byKey.values()) if (list.length > best.length) best = list;
    const hops: Sighting[] = [];
    const p = best[0];
    if (p !== undefined)
      for (let r = s.packetStart[p]!; r < s.packetStart[p + 1]!; r++) hops.push(sighting(r));
    return {
      packets: packets.length,
      modalPackets: best.length,
      hops,
      seenAnywhere: seen,
      firstNs: first,
      lastNs: last,
      macs,
    };
  };
  return flows.map((flow) => {
    const packets = byFlow.get(flow.id) ?? [];
    const head = (p: number) => s.frame[s.packetStart[p]!]!;
    const isRequest = (p: number) =>
      f.addrText(head(p), 'src') === flow.client.ip && portOf(head(p), 'src') === flow.client.port;
    const request = legOf(packets.filter(isRequest));
    const reply = legOf(packets.filter((p) => !isRequest(p)));
    const entryHop = request.hops[0];
    const classify: ClassifyFlow = {
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
    return { flow, classify, request, reply };
  });
}
