/**
 * `FlowBuilder`: flows built online, slab after slab (issues 5 and 8), so an analysis holds the flows
 * still open rather than every sighting of the capture. The rules are those of flows.ts: tuples that
 * share a packet are one connection (union-find, which is online); within a connection, packets in time
 * order start a new flow after a TCP SYN that follows a non-SYN, or after a silence: `idleNs`, shorter
 * for a closed TCP connection (`closedIdleNs`) and for UDP and ICMP (`datagramIdleNs`). A flow is
 * finished when its connection starts another one, when the slabs have moved that silence past its last
 * packet (no later packet can join it), or at the end; `onFlow` then gets the flow and the facts the
 * rules judge it by (flow-facts.ts), both made from what the builder kept of its packets:
 * - counts, times, bytes and the points that saw it;
 * - per leg and per path (capture point + direction per hop, interned): its packets, the sightings of
 *   its first packet, and up to `RESERVOIR` packets' hop latencies (a reservoir sample: the medians of
 *   a longer leg are estimated, its minimum and maximum stay exact);
 * - per leg and hop, every distinct MAC pair with its first frame.
 * A flow's opener is its first packet (a SYN after a non-SYN starts a new flow), so the client, Service
 * and server are known as it starts. Flow ids are given in the order flows start.
 * Slabs come in time order and each packet in exactly one (its first frame's slab); within a slab, flows
 * are assigned in time order and the facts' tie-breaks follow packet numbers, as the batch code did.
 */
import { communityIdV1 } from './community-id.ts';
import type { Sightings } from './correlate/sightings.ts';
import {
  coverageGaps,
  type Flow,
  type FlowOptions,
  type FlowsResult,
  flowEnds,
  type HopLatency,
  type PathHop,
  type PointWindows,
  pointWindows,
  sortSamples,
  TupleIds,
  UnionFind,
} from './flows.ts';
import {
  classifyFlowOf,
  type FlowFacts,
  hopKey,
  type LegFacts,
  type MacSeen,
  portAt,
  type Sighting,
} from './rules/flow-facts.ts';
import { SlotChains } from './slot-chains.ts';
import { ip4Text, macTextFromKey } from './topology/ip-text.ts';
import type { Topology } from './topology/model.ts';

/** Packets per path whose hop latencies are kept (a reservoir sample beyond). */
export const RESERVOIR = 1024;

/** The default silence after which a UDP or ICMP flow ends (FlowOptions.datagramIdleNs). */
export const DATAGRAM_IDLE_NS = 60e9;

/** UDP, ICMP and ICMPv6: flows with no close, ended by silence alone (`datagramIdleNs`). */
export const isDatagram = (proto: number): boolean => proto === 17 || proto === 1 || proto === 58;

const DIR = ['unknown', 'in', 'out'] as const;
const FIN = 0x001;
const SYN = 0x002;
const RST = 0x004;
const ACK = 0x010;

/** One path of one leg of an open flow. */
interface PathAcc {
  /** path id */
  id: number;
  count: number;
  /** first seen in time order (the Flow's modal path breaks ties by it) */
  timeRank: number;
  /** lowest packet number that took it (the facts break ties by it) */
  firstPacket: number;
  /** that packet's sightings, `ROW` numbers each, in the builder's `pathRows` at this slot (-1: none yet) */
  rowsSlot: number;
  /** latency samples: `kept` rows of `hops - 1` deltas */
  deltas: number[];
  kept: number;
  min: number[];
  max: number[];
}

/**
 * A sighting kept as numbers (the facts' `Sighting` is made when the flow ends): point, direction, IP
 * version, source and destination address (IPv4 number or IPv6 intern id), ports, TTL, time, file, frame.
 */
const ROW = 11;
/**
 * An open flow's times and bytes, in the builder's `num` at `NUM * slot`: numbers in one typed array, as
 * object fields updated per sighting they cost a heap number each (300 bytes of garbage a packet).
 */
const NUM = 8;
const MIN_T = 0;
const MAX_T = 1;
const LAST_T = 2;
const BYTES = 3;
/** first and last sighting time of the request leg, then of the reply leg */
const REQUEST_T = 4;
const REPLY_T = 6;
/** A distinct MAC pair at a hop (point * 3 + dir) kept as numbers: hop, source, destination, link type, file, frame, packets. */
const MAC = 7;

class LegAcc {
  packets = 0;
  /** by path id, in the order first seen */
  readonly paths: PathAcc[] = [];
  /** MAC pairs in the order first seen in packet order, `MAC` numbers each (numbers, not objects: a flow stays open for minutes) */
  readonly macs: number[] = [];
  macCount = 0;
}

/**
 * A flow's first packets in time order as numbers (the report's ladder diagram): per packet `LADDER_HEAD`
 * numbers (packet number, protocol, TCP flags, payload length, ICMP type and code, sightings), then
 * `LADDER_ROW` per sighting (point, direction, IP version, source, destination, source and destination
 * port fields, TTL, corrected time, rewrite bits, file, frame, frames). `baseNs` and the texts turn
 * them into what the report shows (reports/report-input.ts `ladderOf`).
 */
export interface FlowLadder {
  /** readable while `onFlow` runs: the numbers' blocks are reused once it returns */
  readonly rows: ArrayLike<number>;
  baseNs: bigint;
  points: readonly string[];
  files: readonly string[];
  /** IPv6 texts by intern id */
  ip6: readonly string[];
}
export const LADDER_HEAD = 6;
export const LADDER_ROW = 13;

/** A flow's ladder as `onFlow` gets it: its numbers copied out of the builder's chains when first read. */
class ChainLadder implements FlowLadder {
  private copy: Float64Array | null = null;
  private released = false;

  constructor(
    private readonly chains: SlotChains,
    private readonly slot: number,
    readonly baseNs: bigint,
    readonly points: readonly string[],
    readonly files: readonly string[],
    readonly ip6: readonly string[],
  ) {}

  get rows(): Float64Array {
    if (this.copy === null) {
      if (this.released) throw new Error("a flow's ladder was read after onFlow returned");
      this.copy = this.chains.read(this.slot);
    }
    return this.copy;
  }

  /** Its blocks go to the next flows (what was read stays readable). */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.chains.release(this.slot);
  }
}

/** What a flow keeps while it is open. */
class OpenFlow {
  packets = 0;
  /** packets in its ladder (`FlowLadder.rows`, kept in the builder's `ladders` at its slot) */
  ladderPackets = 0;
  /** whether a packet other than a TCP SYN has joined it (a SYN then starts the connection's next flow) */
  sawNonSyn = false;
  /** the first FIN's sender (address and port) and whether the connection has closed (RST, or a FIN from each end) */
  finAddr = -1;
  finPort = -1;
  closed = false;
  readonly request = new LegAcc();
  readonly reply = new LegAcc();
  /** bit per point that saw one of its packets, 30 to a number */
  readonly seen: number[];

  constructor(
    readonly id: number,
    /** where its numbers are in the builder's `num` */
    readonly slot: number,
    /** the flow's fields known from its opener */
    readonly head: Omit<
      Flow,
      | 'packets'
      | 'requestPackets'
      | 'replyPackets'
      | 'bytes'
      | 'firstNs'
      | 'lastNs'
      | 'requestPath'
      | 'replyPath'
      | 'requestPathPackets'
      | 'replyPathPackets'
      | 'hops'
      | 'coverage'
    >,
    /** the client's address (version, number or IPv6 intern id) and port: its packets are requests */
    readonly clientVersion: number,
    readonly clientSrc: number,
    points: number,
  ) {
    this.seen = new Array<number>(Math.ceil(points / 30)).fill(0);
  }
}

/**
 * Paths (capture point and direction per hop) as numbers, interned hop by hop: a path is its prefix's
 * id plus one hop, so a packet's path is found without a key string, and a path's hops are built once.
 */
class PathIndex {
  /** (prefix id, hop code) -> path id, open addressing: no key object or heap number per sighting */
  private keys = new Int32Array(2 * 1024);
  private slots = new Int32Array(1024).fill(-1);
  private readonly parent: number[] = [-1];
  private readonly code: number[] = [0];
  private readonly hops = new Map<number, PathHop[]>();

  constructor(private readonly points: readonly string[]) {}

  /** The path of packet p of `s`. */
  of(s: Sightings, p: number): number {
    const dir = s.frames.dir;
    let id = 0;
    for (let r = s.packetStart[p]!; r < s.packetStart[p + 1]!; r++)
      id = this.next(id, 4 * s.point[r]! + dir[s.frame[r]!]!);
    return id;
  }

  /** The path `id` followed by one hop (point x 4 + direction). */
  private next(id: number, code: number): number {
    let mask = this.slots.length - 1;
    let slot = (Math.imul(id, 0x9e3779b1) ^ Math.imul(code, 0x85ebca6b)) & mask;
    for (;;) {
      const at = this.slots[slot]!;
      if (at < 0) break;
      if (this.keys[2 * slot] === id && this.keys[2 * slot + 1] === code) return at;
      slot = (slot + 1) & mask;
    }
    const next = this.parent.length;
    this.parent.push(id);
    this.code.push(code);
    if (2 * next > this.slots.length) {
      this.grow();
      mask = this.slots.length - 1;
      slot = (Math.imul(id, 0x9e3779b1) ^ Math.imul(code, 0x85ebca6b)) & mask;
      while (this.slots[slot]! >= 0) slot = (slot + 1) & mask;
    }
    this.keys[2 * slot] = id;
    this.keys[2 * slot + 1] = code;
    this.slots[slot] = next;
    return next;
  }

  private grow(): void {
    const n = 2 * this.slots.length;
    this.slots = new Int32Array(n).fill(-1);
    this.keys = new Int32Array(2 * n);
    const mask = n - 1;
    for (let at = 1; at < this.parent.length - 1; at++) {
      const id = this.parent[at]!;
      const code = this.code[at]!;
      let slot = (Math.imul(id, 0x9e3779b1) ^ Math.imul(code, 0x85ebca6b)) & mask;
      while (this.slots[slot]! >= 0) slot = (slot + 1) & mask;
      this.keys[2 * slot] = id;
      this.keys[2 * slot + 1] = code;
      this.slots[slot] = at;
    }
  }

  /** The hops of path `id` (shared by every flow that reports it: read only). */
  path(id: number): PathHop[] {
    let hops = this.hops.get(id);
    if (!hops) {
      hops = [];
      for (let at = id; at > 0; at = this.parent[at]!) {
        const code = this.code[at]!;
        hops.push({ point: this.points[code >> 2]!, dir: DIR[code & 3] ?? 'unknown' });
      }
      hops.reverse();
      this.hops.set(id, hops);
    }
    return hops;
  }
}

export interface FlowBuilderOptions extends FlowOptions {
  /** capture file names by FrameTable `file` (the facts' evidence) */
  files?: readonly string[];
  /** whether `onFlow` gets the rules' facts (default true); without them it gets the flow alone */
  facts?: boolean;
  /** packets per flow `onFlow` gets as its ladder (`FlowLadder`; default 0: none) */
  ladderPackets?: number;
  /**
   * `flowOfPacket` holds the last slab's packets only (its packet numbers), not every packet since the
   * first slab: a streaming caller writes each slab's flow ids out as the slab is added
   */
  slabFlows?: boolean;
}

export class FlowBuilder {
  private readonly uf = new UnionFind();
  private readonly tuples = new TupleIds(() => this.uf.add());
  /** open flows by their connection's union-find root */
  private readonly open = new Map<number, OpenFlow>();
  private readonly idle: number;
  private paths: PathIndex | null = null;
  private windows: PointWindows[] | null = null;
  private nextId = 0;
  /** packets of the slabs before this one */
  private packetBase = 0;
  /** deterministic reservoir choices (xorshift) */
  private rng = 0x9e3779b9;
  /** per slab packet: its flow, leg (1 request, 2 reply) and path; reused */
  private flowOf: (OpenFlow | undefined)[] = [];
  private legOf = new Uint8Array(0);
  private pathOf = new Int32Array(0);
  private tupleOf = new Int32Array(0);
  private order = new Int32Array(0);
  private readonly macTexts = new Map<number, string | null>();
  private readonly files: readonly string[];
  /** connections whose open flows a late packet joined: the younger flow was finished as it stood */
  joined = 0;

  constructor(
    private readonly topology: Topology,
    private opts: FlowBuilderOptions,
    private readonly onFlow: (flow: Flow, facts: FlowFacts | null, ladder: FlowLadder | null) => void,
    /**
     * flow id per packet, as packets are numbered over all slabs (-1: no IP tuple; with `slabFlows`,
     * the last slab's packets only); grown as needed
     */
    public flowOfPacket: Int32Array = new Int32Array(0),
  ) {
    this.idle = opts.idleNs ?? 120e9;
    this.closedIdle = Math.min(this.idle, opts.closedIdleNs ?? 5e9);
    this.datagramIdle = Math.min(this.idle, opts.datagramIdleNs ?? DATAGRAM_IDLE_NS);
    this.files = opts.files ?? [];
    this.facts = opts.facts ?? true;
    this.ladderPackets = opts.ladderPackets ?? 0;
    this.slabFlows = opts.slabFlows ?? false;
  }

  private readonly closedIdle: number;
  private readonly datagramIdle: number;
  private readonly facts: boolean;
  private readonly ladderPackets: number;
  private readonly slabFlows: boolean;
  /** open flows' ladders, at their slots */
  private readonly ladders = new SlotChains();
  /**
   * open flows' paths' first sightings, a slot per path and leg (as JS arrays, about 1 KB an open flow
   * that every scavenge copied and every full collection marked)
   */
  private readonly pathRows = new SlotChains();
  /** open flows' numbers, `NUM` a slot; slots of ended flows are used again */
  private num = new Float64Array(NUM * 1024);
  private readonly freeSlots: number[] = [];
  private slots = 0;
  private deltas = new Float64Array(0);
  /** IPv6 texts by intern id (every slab's table shares its spool's list) */
  private ip6: readonly string[] = [];
  private readonly ip4Texts = new Map<number, string>();

  /** The clock offsets the capture windows are moved by (known once the clock pass is done): before `add`. */
  useClock(clockOffsets: FlowOptions['clockOffsets']): void {
    this.opts = { ...this.opts, clockOffsets };
    this.windows = null;
  }

  /**
   * One slab's packets; `ownFrom` is where the slab's own time range starts (corrected clocks,
   * relative ns): every later packet starts at or after it, so flows silent for their idle limit before it end.
   */
  add(s: Sightings, ownFrom = Number.NEGATIVE_INFINITY): void {
    this.paths ??= new PathIndex(s.points);
    this.ip6 = s.frames.ip6;
    this.windows ??= pointWindows(s, this.opts);
    const idle: OpenFlow[] = [];
    for (const [root, flow] of this.open)
      if (ownFrom - this.num[NUM * flow.slot + LAST_T]! > this.idleOf(flow)) {
        this.open.delete(root);
        idle.push(flow);
      }
    this.finishAll(idle, s);
    const n = s.packets;
    this.reserve(n);
    const f = s.frames;
    // connections first: a packet later in the slab may link tuples an earlier one carried
    for (let p = 0; p < n; p++) {
      const a = s.packetStart[p]!;
      const first = s.frame[a]!;
      if (f.ipVersion[first] === 0) {
        this.tupleOf[p] = -1;
        continue;
      }
      const id = this.tupleId(s, first);
      this.tupleOf[p] = id;
      // only hops where an address or port changed carry another tuple
      for (let r = a + 1; r < s.packetStart[p + 1]!; r++)
        if (s.rewrite[r] !== 0) this.link(id, this.tupleId(s, s.frame[r]!), s);
    }
    const order = this.order.subarray(0, n);
    for (let p = 0; p < n; p++) order[p] = p;
    const t = s.t;
    const start = s.packetStart;
    order.sort((x, y) => t[start[x]!]! - t[start[y]!]! || x - y);
    // flows in time order; flows a packet ends are finished once their packets' facts are in
    const ended: OpenFlow[] = [];
    for (let i = 0; i < n; i++) this.assign(s, order[i]!, ended);
    for (let p = 0; p < n; p++) {
      const flow = this.flowOf[p];
      if (flow && this.facts)
        this.addFacts(
          s,
          p,
          this.legOf[p] === 1 ? flow.request : flow.reply,
          NUM * flow.slot + (this.legOf[p] === 1 ? REQUEST_T : REPLY_T),
        );
      this.flowOf[p] = undefined;
    }
    this.finishAll(ended, s);
    this.packetBase += n;
    this.lastSlab = s;
  }

  private lastSlab: Sightings | null = null;

  /** Finishes every open flow (the end of the capture). */
  end(): void {
    const s = this.lastSlab;
    if (s === null) return;
    this.finishAll([...this.open.values()], s);
    this.open.clear();
  }

  /** Flows that end together end in id order (a capture whose flows all end at its end keeps it). */
  private finishAll(flows: OpenFlow[], s: Sightings): void {
    flows.sort((x, y) => x.id - y.id);
    for (const flow of flows) this.finish(flow, s);
  }

  private reserve(n: number): void {
    if (this.order.length < n) {
      const k = Math.ceil(1.25 * n);
      this.order = new Int32Array(k);
      this.legOf = new Uint8Array(k);
      // filled, not grown: packets are assigned in time order, and writes far past a JS array's end make it a dictionary
      this.flowOf = new Array<OpenFlow | undefined>(k).fill(undefined);
      this.pathOf = new Int32Array(k);
      this.tupleOf = new Int32Array(k);
    }
    if (this.slabFlows) {
      if (this.flowOfPacket.length < n) this.flowOfPacket = new Int32Array(Math.ceil(1.25 * n));
      this.flowOfPacket.fill(-1, 0, n);
      return;
    }
    const need = this.packetBase + n;
    if (this.flowOfPacket.length < need) {
      const next = new Int32Array(Math.max(need, Math.ceil(1.5 * this.flowOfPacket.length))).fill(-1);
      next.set(this.flowOfPacket);
      this.flowOfPacket = next;
    }
  }

  private portOf(s: Sightings, fr: number, which: 'src' | 'dst'): number {
    return portAt(s.frames, fr, which);
  }

  private tupleId(s: Sightings, fr: number): number {
    const f = s.frames;
    return this.tuples.id(
      f.src[fr]!,
      this.portOf(s, fr, 'src'),
      f.dst[fr]!,
      this.portOf(s, fr, 'dst'),
      f.proto[fr]! | (f.ipVersion[fr]! << 8),
    );
  }

  /** One connection of two tuples; when both had an open flow, the younger one ends as it stands. */
  private link(x: number, y: number, s: Sightings): void {
    const rx = this.uf.find(x);
    const ry = this.uf.find(y);
    if (rx === ry) return;
    const keep = Math.min(rx, ry);
    const gone = Math.max(rx, ry);
    this.uf.parent[gone] = keep;
    const g = this.open.get(gone);
    if (g === undefined) return;
    this.open.delete(gone);
    const k = this.open.get(keep);
    if (k === undefined) {
      this.open.set(keep, g);
      return;
    }
    this.joined++;
    const [older, younger] = k.id < g.id ? [k, g] : [g, k];
    this.open.set(keep, older);
    this.finish(younger, s);
  }

  /** The silence after which a flow ends: shorter once its TCP connection has closed, and for UDP and ICMP. */
  private idleOf(flow: OpenFlow): number {
    return flow.closed ? this.closedIdle : isDatagram(flow.head.proto) ? this.datagramIdle : this.idle;
  }

  /** Packet p (time order) to its connection's open flow, or to a new one; its time-ordered parts. */
  private assign(s: Sightings, p: number, ended: OpenFlow[]): void {
    const tuple = this.tupleOf[p]!;
    if (tuple < 0) return;
    const f = s.frames;
    const a = s.packetStart[p]!;
    const b = s.packetStart[p + 1]!;
    const fr = s.frame[a]!;
    const root = this.uf.find(tuple);
    const t0 = s.t[a]!;
    const flags = f.tcpFlags[fr]!;
    const isSyn = f.proto[fr] === 6 && (flags & SYN) !== 0 && (flags & ACK) === 0;
    let flow = this.open.get(root);
    if (flow && ((isSyn && flow.sawNonSyn) || t0 - this.num[NUM * flow.slot + LAST_T]! > this.idleOf(flow))) {
      ended.push(flow);
      flow = undefined;
    }
    if (!flow) {
      flow = this.start(s, p);
      this.open.set(root, flow);
    }
    if (!isSyn) flow.sawNonSyn = true;
    if (f.proto[fr] === 6 && (flags & (FIN | RST)) !== 0 && !flow.closed) {
      const port = f.srcPort[fr]!;
      if ((flags & RST) !== 0) flow.closed = true;
      else if (flow.finAddr < 0) {
        flow.finAddr = f.src[fr]!;
        flow.finPort = port;
      } else if (flow.finAddr !== f.src[fr] || flow.finPort !== port) flow.closed = true;
    }
    const num = this.num;
    const k = NUM * flow.slot;
    num[k + LAST_T] = t0;
    flow.packets++;
    num[k + BYTES]! += s.bytes[a]!;
    for (let r = a; r < b; r++) {
      const t = s.t[r]!;
      if (t < num[k + MIN_T]!) num[k + MIN_T] = t;
      if (t > num[k + MAX_T]!) num[k + MAX_T] = t;
      const point = s.point[r]!;
      flow.seen[(point / 30) | 0]! |= 1 << (point % 30);
    }
    const request =
      f.ipVersion[fr] === flow.clientVersion &&
      f.src[fr] === flow.clientSrc &&
      this.portOf(s, fr, 'src') === flow.head.client.port;
    const leg = request ? flow.request : flow.reply;
    leg.packets++;
    const pathId = this.paths!.of(s, p);
    let acc: PathAcc | undefined;
    const paths = leg.paths;
    for (let i = 0; i < paths.length && acc === undefined; i++) if (paths[i]!.id === pathId) acc = paths[i];
    if (acc === undefined) {
      const gaps = Math.max(0, b - a - 1);
      acc = {
        count: 0,
        id: pathId,
        timeRank: leg.paths.length,
        firstPacket: Number.POSITIVE_INFINITY,
        rowsSlot: -1,
        deltas: [],
        kept: 0,
        min: new Array<number>(gaps).fill(Number.POSITIVE_INFINITY),
        max: new Array<number>(gaps).fill(Number.NEGATIVE_INFINITY),
      };
      leg.paths.push(acc);
    }
    acc.count++;
    this.sample(acc, s, a, b - a - 1);
    this.flowOf[p] = flow;
    this.legOf[p] = request ? 1 : 2;
    this.pathOf[p] = pathId;
    this.flowOfPacket[(this.slabFlows ? 0 : this.packetBase) + p] = flow.id;
    if (flow.ladderPackets < this.ladderPackets) this.keepLadder(flow, s, p);
  }

  /** Packet p (the flow's next in time order) into its ladder. */
  private keepLadder(flow: OpenFlow, s: Sightings, p: number): void {
    const f = s.frames;
    const a = s.packetStart[p]!;
    const b = s.packetStart[p + 1]!;
    const fr = s.frame[a]!;
    flow.ladderPackets++;
    const chains = this.ladders;
    let at = chains.reserve(flow.slot, LADDER_HEAD);
    let out = chains.numbers;
    out[at] = this.packetBase + p;
    out[at + 1] = f.proto[fr]!;
    out[at + 2] = f.tcpFlags[fr]!;
    out[at + 3] = f.payloadLen[fr]!;
    out[at + 4] = f.icmpTypeCode[fr]!;
    out[at + 5] = b - a;
    for (let r = a; r < b; r++) {
      const x = s.frame[r]!;
      at = chains.reserve(flow.slot, LADDER_ROW);
      out = chains.numbers;
      out[at] = s.point[r]!;
      out[at + 1] = f.dir[x]!;
      out[at + 2] = f.ipVersion[x]!;
      out[at + 3] = f.src[x]!;
      out[at + 4] = f.dst[x]!;
      out[at + 5] = f.srcPort[x]!;
      out[at + 6] = f.dstPort[x]!;
      out[at + 7] = f.ttl[x]!;
      out[at + 8] = s.t[r]!;
      out[at + 9] = s.rewrite[r]!;
      out[at + 10] = f.file[x]!;
      out[at + 11] = f.frame[x]!;
      out[at + 12] = s.count[r]!;
    }
  }

  /** The packet's hop latencies into the path's reservoir (`gaps` hops after the first). */
  private sample(acc: PathAcc, s: Sightings, a: number, gaps: number): void {
    if (gaps <= 0) return;
    for (let h = 0; h < gaps; h++) {
      const d = s.t[a + h + 1]! - s.t[a + h]!;
      if (d < acc.min[h]!) acc.min[h] = d;
      if (d > acc.max[h]!) acc.max[h] = d;
    }
    let row: number;
    if (acc.kept < RESERVOIR) row = acc.kept++;
    else {
      this.rng ^= this.rng << 13;
      this.rng ^= this.rng >>> 17;
      this.rng ^= this.rng << 5;
      row = (this.rng >>> 0) % acc.count;
      if (row >= RESERVOIR) return;
    }
    for (let h = 0; h < gaps; h++) acc.deltas[row * gaps + h] = s.t[a + h + 1]! - s.t[a + h]!;
  }

  /** Packet p's part of its leg's facts (packet order): MAC pairs, the path's first sightings, times. */
  private addFacts(s: Sightings, p: number, leg: LegAcc, k: number): void {
    const num = this.num;
    const f = s.frames;
    const a = s.packetStart[p]!;
    const b = s.packetStart[p + 1]!;
    const id = this.pathOf[p]!;
    const acc = leg.paths.find((x) => x.id === id)!;
    const packet = this.packetBase + p;
    if (packet < acc.firstPacket) {
      acc.firstPacket = packet;
      // an earlier packet took the path after a later one (slabs end flows' packets out of order): its
      // sightings replace the kept ones
      if (acc.rowsSlot < 0) acc.rowsSlot = this.pathRows.take();
      else this.pathRows.release(acc.rowsSlot);
      const chains = this.pathRows;
      for (let r = a; r < b; r++) {
        const fr = s.frame[r]!;
        const k = chains.reserve(acc.rowsSlot, ROW);
        const rows = chains.numbers;
        rows[k] = s.point[r]!;
        rows[k + 1] = f.dir[fr]!;
        rows[k + 2] = f.ipVersion[fr]!;
        rows[k + 3] = f.src[fr]!;
        rows[k + 4] = f.dst[fr]!;
        rows[k + 5] = portAt(f, fr, 'src');
        rows[k + 6] = portAt(f, fr, 'dst');
        rows[k + 7] = f.ttl[fr]!;
        rows[k + 8] = s.t[r]!;
        rows[k + 9] = f.file[fr]!;
        rows[k + 10] = f.frame[fr]!;
      }
    }
    for (let r = a; r < b; r++) {
      const fr = s.frame[r]!;
      const dir = f.dir[fr]!;
      const hop = s.point[r]! * 3 + (dir <= 2 ? dir : 0);
      const sm = f.srcMac[fr]!;
      const dm = f.dstMac[fr]!;
      const m = leg.macs;
      let e = 0;
      const end = MAC * leg.macCount;
      while (e < end && (m[e] !== hop || m[e + 1] !== sm || m[e + 2] !== dm)) e += MAC;
      if (e < end) m[e + 6]!++;
      else {
        m[e] = hop;
        m[e + 1] = sm;
        m[e + 2] = dm;
        m[e + 3] = f.linkType[fr]!;
        m[e + 4] = f.file[fr]!;
        m[e + 5] = f.frame[fr]!;
        m[e + 6] = 1;
        leg.macCount++;
      }
      const t = s.t[r]!;
      if (t < num[k]!) num[k] = t;
      if (t > num[k + 1]!) num[k + 1] = t;
    }
  }

  private macText(key: number): string | null {
    let text = this.macTexts.get(key);
    if (text === undefined) {
      text = macTextFromKey(key);
      this.macTexts.set(key, text);
    }
    return text;
  }

  /** An address's text: IPv4 made once per address (a bounded cache, as FrameTable's), IPv6 interned. */
  private addr(version: number, a: number): string | null {
    if (version === 4) {
      let text = this.ip4Texts.get(a);
      if (text === undefined) {
        text = ip4Text(a);
        if (this.ip4Texts.size >= 1 << 16) this.ip4Texts.clear();
        this.ip4Texts.set(a, text);
      }
      return text;
    }
    if (version === 6) return this.ip6[a] ?? null;
    return null;
  }

  /** The sightings kept as `ROW` numbers each. */
  private sightings(rows: ArrayLike<number>, length: number, s: Sightings): Sighting[] {
    const out: Sighting[] = [];
    for (let k = 0; k < length; k += ROW) {
      const point = rows[k]!;
      out.push({
        point: s.points[point]!,
        node: s.pointNode[point] ?? null,
        dir: DIR[rows[k + 1]!] ?? 'unknown',
        src: this.addr(rows[k + 2]!, rows[k + 3]!),
        dst: this.addr(rows[k + 2]!, rows[k + 4]!),
        srcPort: rows[k + 5]!,
        dstPort: rows[k + 6]!,
        ttl: rows[k + 7]!,
        tNs: s.frames.absNs(rows[k + 8]!),
        file: this.files[rows[k + 9]!] ?? '?',
        frame: rows[k + 10]!,
      });
    }
    return out;
  }

  /** A slot in `num` for a new flow, its times empty and bytes 0. */
  private slot(): number {
    const slot = this.freeSlots.pop() ?? this.slots++;
    if (NUM * (slot + 1) > this.num.length) {
      const next = new Float64Array(2 * this.num.length);
      next.set(this.num);
      this.num = next;
    }
    const k = NUM * slot;
    this.num.fill(0, k, k + NUM);
    for (const at of [MIN_T, REQUEST_T, REPLY_T]) {
      this.num[k + at] = Number.POSITIVE_INFINITY;
      this.num[k + at + 1] = Number.NEGATIVE_INFINITY;
    }
    return slot;
  }

  /** A new flow opened by packet p: client, Service, server and Community IDs from its sightings. */
  private start(s: Sightings, p: number): OpenFlow {
    const { topology } = this;
    const f = s.frames;
    const o = s.frame[s.packetStart[p]!]!;
    const last = s.frame[s.packetStart[p + 1]! - 1]!;
    const proto = f.proto[o]!;
    const icmp = proto === 1 || proto === 58;
    const clientIp = f.addrText(o, 'src') ?? '';
    const clientPort = this.portOf(s, o, 'src');
    const originDst = f.addrText(o, 'dst') ?? '';
    const finalDst = f.addrText(last, 'dst') ?? '';
    const originPort = icmp ? 0 : this.portOf(s, o, 'dst');
    const finalPort = icmp ? 0 : this.portOf(s, last, 'dst');
    const { client, service, server } = flowEnds(topology, {
      proto,
      clientIp,
      clientPort,
      originDst,
      originPort,
      finalDst,
      finalPort,
    });
    // ICMP legs are identified by type/code, as the spec wants; the request's type names the exchange
    const sp = icmp ? f.icmpTypeCode[o]! >> 8 : clientPort;
    const icmpCode = f.icmpTypeCode[o]! & 255;
    const lastSrc = f.addrText(last, 'src') ?? clientIp;
    return new OpenFlow(
      this.nextId++,
      this.slot(),
      {
        id: this.nextId - 1,
        proto,
        family: f.ipVersion[o] === 6 ? 6 : 4,
        client,
        service,
        server,
        communityIdService: service
          ? communityIdV1(clientIp, service.ip, proto, sp, icmp ? icmpCode : service.port)
          : null,
        communityIdServer: communityIdV1(
          lastSrc,
          server.ip,
          proto,
          icmp ? sp : this.portOf(s, last, 'src'),
          icmp ? icmpCode : server.port,
        ),
      },
      f.ipVersion[o]!,
      f.src[o]!,
      s.points.length,
    );
  }

  /** The finished flow and its facts to `onFlow`. */
  private finish(flow: OpenFlow, s: Sightings): void {
    const num = this.num;
    const k = NUM * flow.slot;
    const f = s.frames;
    const [requestPath, requestPathPackets] = modal(flow.request, (x) => x.timeRank);
    const [replyPath, replyPathPackets] = modal(flow.reply, (x) => x.timeRank);
    const h = flow.head;
    // the fields in Flow's order (the JSON outputs keep it)
    const out: Flow = {
      id: h.id,
      proto: h.proto,
      family: h.family,
      client: h.client,
      service: h.service,
      server: h.server,
      packets: flow.packets,
      requestPackets: flow.request.packets,
      replyPackets: flow.reply.packets,
      bytes: num[k + BYTES]!,
      firstNs: f.absNs(num[k + MIN_T]!),
      lastNs: f.absNs(num[k + MAX_T]!),
      communityIdService: h.communityIdService,
      communityIdServer: h.communityIdServer,
      requestPath: this.paths!.path(requestPath).slice(),
      replyPath: this.paths!.path(replyPath).slice(),
      requestPathPackets,
      replyPathPackets,
      hops: [
        ...this.latencies('request', flow.request, requestPath),
        ...this.latencies('reply', flow.reply, replyPath),
      ],
      coverage: coverageGaps(
        this.windows!,
        num[k + MIN_T]!,
        num[k + MAX_T]!,
        (point) => (flow.seen[(point / 30) | 0]! & (1 << (point % 30))) !== 0,
      ),
    };
    const ladder =
      flow.ladderPackets === 0
        ? null
        : new ChainLadder(this.ladders, flow.slot, f.baseNs ?? 0n, s.points, this.files, this.ip6);
    let facts: FlowFacts | null = null;
    if (this.facts) {
      const request = this.legFacts(flow.request, s, k + REQUEST_T);
      const reply = this.legFacts(flow.reply, s, k + REPLY_T);
      facts = { flow: out, classify: classifyFlowOf(out, request), request, reply };
    }
    this.freeSlots.push(flow.slot);
    for (const leg of [flow.request, flow.reply])
      for (const acc of leg.paths) if (acc.rowsSlot >= 0) this.pathRows.drop(acc.rowsSlot);
    try {
      this.onFlow(out, facts, ladder);
    } finally {
      ladder?.release();
    }
  }

  /** Per hop of the leg's reported path: min, median and max latency over the packets that took it. */
  private latencies(leg: 'request' | 'reply', legAcc: LegAcc, pathId: number): HopLatency[] {
    const acc = legAcc.paths.find((x) => x.id === pathId);
    if (acc === undefined) return [];
    const hops = this.paths!.path(pathId);
    const gaps = hops.length - 1;
    const out: HopLatency[] = [];
    // one scratch for every flow: a typed array per flow and hop cost an ArrayBuffer each
    if (this.deltas.length < acc.kept) this.deltas = new Float64Array(RESERVOIR);
    const d = this.deltas.subarray(0, acc.kept);
    for (let h = 0; h < gaps; h++) {
      for (let k = 0; k < acc.kept; k++) d[k] = acc.deltas[k * gaps + h]!;
      sortSamples(d);
      out.push({
        leg,
        hop: h,
        from: hops[h]!.point,
        to: hops[h + 1]!.point,
        samples: acc.count,
        minNs: Math.round(acc.min[h]!),
        medianNs: Math.round(d[acc.kept >> 1]!),
        maxNs: Math.round(acc.max[h]!),
      });
    }
    return out;
  }

  private legFacts(leg: LegAcc, s: Sightings, at: number): LegFacts {
    const first = this.num[at]!;
    const last = this.num[at + 1]!;
    const f = s.frames;
    const [, modalPackets, acc] = modal(leg, (x) => x.firstPacket);
    // the rules ask a few hops for their MAC pairs: read from the leg's numbers when asked (a Map of
    // MacSeen lists per leg cost 3.5 KB of garbage a flow)
    const macs = new LegMacs(leg.macs, leg.macCount, this.hopKeyOf(s.points), this);
    return {
      packets: leg.packets,
      modalPackets,
      hops: acc && acc.rowsSlot >= 0 ? this.modalHops(acc.rowsSlot, s) : [],
      seenAnywhere: macs,
      firstNs: first <= last ? f.absNs(first) : null,
      lastNs: first <= last ? f.absNs(last) : null,
      macs,
    };
  }

  /** the modal path's rows of the leg being read (one buffer for every leg: see SlotChains.readInto) */
  private hopRows = new Float64Array(64 * ROW);

  private modalHops(slot: number, s: Sightings): Sighting[] {
    const n = this.pathRows.count(slot);
    if (n > this.hopRows.length) this.hopRows = new Float64Array(2 * n);
    return this.sightings(this.hopRows, this.pathRows.readInto(slot, this.hopRows), s);
  }

  private hopKeys: string[] = [];
  private hopKeysOf: readonly string[] | null = null;

  /** `point:dir` by hop code (point * 3 + direction), made once per point list. */
  private hopKeyOf(points: readonly string[]): readonly string[] {
    if (this.hopKeysOf !== points) {
      this.hopKeysOf = points;
      this.hopKeys = Array.from({ length: 3 * points.length }, (_, hop) =>
        hopKey(points[Math.floor(hop / 3)]!, DIR[hop % 3]!),
      );
    }
    return this.hopKeys;
  }

  /** A MAC pair kept as numbers (`MAC` from `e` in `m`) as the facts show it. */
  macSeen(m: readonly number[], e: number): MacSeen {
    return {
      src: this.macText(m[e + 1]!),
      dst: this.macText(m[e + 2]!),
      linkType: m[e + 3]!,
      file: this.files[m[e + 4]!] ?? '?',
      frame: m[e + 5]!,
      packets: m[e + 6]!,
    };
  }
}

/** A leg's MAC pairs by hop (`point:dir`), read from its numbers (`MAC` each, in the order first seen). */
class LegMacs {
  constructor(
    private readonly m: readonly number[],
    private readonly count: number,
    private readonly keys: readonly string[],
    private readonly builder: FlowBuilder,
  ) {}

  has(key: string): boolean {
    for (let e = 0; e < MAC * this.count; e += MAC) if (this.keys[this.m[e]!] === key) return true;
    return false;
  }

  get(key: string): readonly MacSeen[] | undefined {
    const list: MacSeen[] = [];
    for (let e = 0; e < MAC * this.count; e += MAC)
      if (this.keys[this.m[e]!] === key) list.push(this.builder.macSeen(this.m, e));
    return list.length > 0 ? list : undefined;
  }

  /** Every hop's pairs, hops in the order first seen (as a Map of them iterates). */
  *entries(): IterableIterator<[string, readonly MacSeen[]]> {
    const done = new Set<string>();
    for (let e = 0; e < MAC * this.count; e += MAC) {
      const key = this.keys[this.m[e]!]!;
      if (done.has(key)) continue;
      done.add(key);
      yield [key, this.get(key)!];
    }
  }
}

/**
 * The path most packets of a leg took, ties to the lowest `rank` (0, the empty path, for no packets),
 * how many took it, and its accumulator.
 */
function modal(leg: LegAcc, rank: (acc: PathAcc) => number): [number, number, PathAcc | undefined] {
  let best = 0;
  let bestAcc: PathAcc | undefined;
  for (const acc of leg.paths)
    if (
      bestAcc === undefined ||
      acc.count > bestAcc.count ||
      (acc.count === bestAcc.count && rank(acc) < rank(bestAcc))
    ) {
      best = acc.id;
      bestAcc = acc;
    }
  return [best, bestAcc?.count ?? 0, bestAcc];
}

/** Every flow of sightings held whole (one slab), in id order. */
export function flowsFromSightings(s: Sightings, topology: Topology, opts: FlowOptions = {}): FlowsResult {
  const flows: Flow[] = [];
  const b = new FlowBuilder(
    topology,
    { ...opts, facts: false },
    (flow) => flows.push(flow),
    new Int32Array(s.packets).fill(-1),
  );
  b.add(s);
  b.end();
  flows.sort((x, y) => x.id - y.id);
  return { flows, flowOfPacket: b.flowOfPacket.subarray(0, s.packets) };
}
