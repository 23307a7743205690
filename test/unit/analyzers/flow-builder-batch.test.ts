import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FrameTable } from '../../../analyzers/correlate/frame-table.ts';
import type { Coverage } from '../../../analyzers/correlate/frames-from-bundle.ts';
import type { Sightings } from '../../../analyzers/correlate/sightings.ts';
import { FlowBuilder, flowsFromSightings } from '../../../analyzers/flow-builder.ts';
import type { Flow } from '../../../analyzers/flows.ts';
import { forEachFlowFacts } from '../../../analyzers/rules/flow-facts.ts';
import { emptyTopology, PointKind } from '../../../analyzers/topology/model.ts';
import { batchFlows } from './batch-flows.ts';
import { factsText } from './facts-text.ts';

const IDLE = 1000;
/** within the random gaps (0-300 ns), so closed connections split and do not */
const CLOSED_IDLE = 150;
/** also within the random gaps, above CLOSED_IDLE: UDP and ICMP flows split where TCP ones do not */
const DATAGRAM_IDLE = 200;
const SLAB = 700;
const POINTS = ['p0', 'p1', 'p2', 'p3'];

/** A small deterministic generator (a 32-bit LCG's high bits). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return a / 4294967296;
  };
}

interface Hop {
  point: number;
  dir: number;
  src: number | string;
  dst: number | string;
  sport: number;
  dport: number;
  rewrite: boolean;
}
interface Packet {
  t: number;
  slab: number;
  v: 0 | 4 | 6;
  proto: number;
  flags: number;
  icmp: { typeCode: number; id: number; echo: boolean } | null;
  hops: Hop[];
  /** hop latencies */
  deltas: number[];
  bytes: number;
}

/**
 * Conversations over a few clients, ports and servers (so tuples are reused: port reuse, idle splits),
 * some through a DNAT (a VIP rewritten to one of two backends: the union-find joins the tuples), IPv4
 * and IPv6 (intern ids colliding with IPv4 numbers), TCP with SYNs mid-connection, UDP, ICMP echo and
 * ICMP errors, packets without IP; TCP FINs and RSTs (closed connections); gaps of exactly `IDLE` and `DATAGRAM_IDLE`, one
 * ns either side, or random; packets
 * numbered slab by slab, shuffled within a slab (numbers out of time order).
 */
function generate(seed: number): { s: Sightings; slabs: Sightings[]; coverage: Map<string, Coverage> } {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const packets: Packet[] = [];
  const conversations = 3 + Math.floor(r() * 8);
  for (let c = 0; c < conversations; c++) {
    const v = r() < 0.25 ? 6 : 4;
    const proto = v === 6 ? pick([6, 17, 58]) : pick([6, 6, 17, 1]);
    const addr = (k: number) => (v === 4 ? k : `fd00::${k.toString(16)}`);
    const client = addr(pick([1, 2, 3]));
    const vip = addr(100);
    const backend = addr(pick([200, 201]));
    const server = addr(pick([200, 201, 202]));
    const nat = r() < 0.4;
    const cport = pick([4000, 4001]);
    const sport = nat ? 8080 : pick([53, 80]);
    const icmpId = pick([7, 8]);
    let t = Math.floor(r() * 4000);
    const n = 1 + Math.floor(r() * 12);
    for (let i = 0; i < n; i++) {
      t += pick([
        1,
        3,
        IDLE - 1,
        IDLE,
        IDLE + 1,
        DATAGRAM_IDLE - 1,
        DATAGRAM_IDLE,
        DATAGRAM_IDLE + 1,
        Math.floor(r() * 300),
        0,
      ]);
      const reply = i > 0 && r() < 0.45;
      const icmpError = (proto === 1 || proto === 58) && r() < 0.1;
      const src = reply ? (nat ? backend : server) : client;
      const dst = reply ? client : nat ? vip : server;
      const ports = reply ? [sport, cport] : [cport, nat ? 80 : sport];
      const hops: Hop[] = [];
      const path = r() < 0.8 ? [0, 1, 2] : pick([[0, 2], [0], [1, 3, 2], [3]]);
      const order = reply ? [...path].reverse() : path;
      for (let h = 0; h < order.length; h++) {
        // a DNAT between the first and second hop of a request, undone there on a reply
        const after = nat && h > 0;
        const hsrc = reply && nat && h > 0 ? vip : icmpError ? addr(250) : src;
        const hdst = !reply && after ? backend : icmpError ? client : dst;
        hops.push({
          point: order[h]!,
          dir: pick([1, 2, 0]),
          src: hsrc,
          dst: hdst,
          sport: reply && nat && h > 0 ? 80 : ports[0]!,
          dport: !reply && after ? 8080 : ports[1]!,
          rewrite: nat && h === 1,
        });
      }
      const syn = proto === 6 && (i === 0 || r() < 0.15);
      packets.push({
        t,
        slab: 0,
        v: r() < 0.03 ? 0 : v,
        proto: icmpError ? proto : proto,
        // now and then a FIN (from either end) or an RST: a closed connection's flow ends after a shorter silence
        flags: proto !== 6 ? 0 : syn ? (reply ? 0x12 : 0x02) : pick([0x10, 0x10, 0x10, 0x10, 0x11, 0x04]),
        icmp:
          proto === 1 || proto === 58
            ? icmpError
              ? { typeCode: (3 << 8) | 3, id: 0, echo: false }
              : { typeCode: (reply ? 0 : 8) << 8, id: icmpId, echo: true }
            : null,
        hops,
        deltas: hops.map(() => pick([-3, 5, 10, 20, 1000])),
        bytes: 60 + Math.floor(r() * 1400),
      });
    }
  }
  for (const p of packets) p.slab = Math.floor(p.t / SLAB);
  // slab by slab, shuffled within a slab
  const keyed = packets.map((p) => ({ p, k: r() })).sort((x, y) => x.p.slab - y.p.slab || x.k - y.k);
  const rows = keyed.reduce((n, x) => n + x.p.hops.length, 0);
  const f = new FrameTable(Math.max(16, rows));
  f.baseNs = 1_000_000n;
  const s: Sightings = {
    frames: f,
    points: POINTS,
    pointNode: ['n1', 'n1', 'n2', null],
    pointKind: POINTS.map(() => PointKind.other),
    length: rows,
    packet: new Uint32Array(rows),
    hop: new Uint16Array(rows),
    point: new Uint16Array(rows),
    frame: Int32Array.from({ length: rows }, (_, i) => i),
    count: new Uint32Array(rows).fill(1),
    t: new Float64Array(rows),
    bytes: new Float64Array(rows),
    role: new Uint8Array(rows),
    rewrite: new Uint8Array(rows),
    collided: new Uint8Array(rows),
    packetStart: new Int32Array(keyed.length + 1),
    packets: keyed.length,
  };
  let row = 0;
  const slabStart: number[] = [];
  keyed.forEach(({ p }, i) => {
    while (slabStart.length <= p.slab) slabStart.push(i);
    s.packetStart[i] = row;
    let t = p.t;
    p.hops.forEach((h, k) => {
      if (k > 0) t += p.deltas[k]!;
      s.packet[row] = i;
      s.hop[row] = k;
      s.point[row] = h.point;
      s.t[row] = t;
      s.bytes[row] = p.bytes + k;
      s.rewrite[row] = h.rewrite ? 1 : 0;
      f.point[row] = h.point;
      f.file[row] = 0;
      f.frame[row] = row + 1;
      f.dir[row] = h.dir;
      f.ipVersion[row] = p.v;
      f.proto[row] = p.proto;
      if (p.v === 4) {
        f.src[row] = h.src as number;
        f.dst[row] = h.dst as number;
      } else if (p.v === 6) {
        f.src[row] = f.intern6(h.src as string);
        f.dst[row] = f.intern6(h.dst as string);
      }
      f.srcPort[row] = p.icmp ? 0 : h.sport;
      f.dstPort[row] = p.icmp ? 0 : h.dport;
      f.tcpFlags[row] = p.flags;
      f.srcMac[row] = 1 + ((row * 7) % 3);
      f.dstMac[row] = 1 + ((row * 5) % 2);
      f.linkType[row] = 1;
      if (p.icmp) {
        f.icmpTypeCode[row] = p.icmp.typeCode;
        f.icmpId[row] = p.icmp.id;
        f.icmpEcho[row] = p.icmp.echo ? 1 : 0;
      }
      row++;
    });
  });
  f.length = rows;
  s.packetStart[keyed.length] = row;
  const last = slabStart.length;
  slabStart.push(keyed.length);
  // each slab: the whole table's rows, its own packets (numbered from 0)
  const slabs: Sightings[] = [];
  for (let k = 0; k < last; k++)
    slabs.push({
      ...s,
      packetStart: s.packetStart.subarray(slabStart[k]!, slabStart[k + 1]! + 1),
      packets: slabStart[k + 1]! - slabStart[k]!,
    });
  const window = (a: number, b: number, drops: number | null) => ({
    file: 'f',
    startNs: f.baseNs! + BigInt(a),
    endNs: f.baseNs! + BigInt(b),
    drops,
  });
  const coverage = new Map<string, Coverage>([
    [
      'p0',
      {
        point: 'p0',
        node: 'n1',
        startNs: null,
        endNs: null,
        packets: 0,
        drops: null,
        files: ['f'],
        windows: [window(0, 3000, null), window(5000, 9000, 2)],
      },
    ],
  ]);
  return { s, slabs, coverage };
}

/**
 * Whether a slab links two tuples that both had packets in earlier slabs: the builder cannot merge flows
 * it has already assigned (the batch grouping, seeing every link first, does).
 */
function lateLink(slabs: readonly Sightings[]): boolean {
  const parent = new Map<string, string>();
  const had = new Set<string>();
  const find = (x: string): string => {
    while (parent.has(x) && parent.get(x) !== x) x = parent.get(x)!;
    return x;
  };
  for (const slab of slabs) {
    const f = slab.frames;
    const key = (fr: number) => {
      const icmp = f.proto[fr] === 1 || f.proto[fr] === 58;
      const ends = [
        `${f.src[fr]}:${icmp ? f.icmpId[fr] : f.srcPort[fr]}`,
        `${f.dst[fr]}:${icmp ? f.icmpId[fr] : f.dstPort[fr]}`,
      ].sort();
      return `${f.ipVersion[fr]}/${f.proto[fr]}/${ends}`;
    };
    const seen: string[] = [];
    for (let p = 0; p < slab.packets; p++) {
      const a = slab.packetStart[p]!;
      if (f.ipVersion[slab.frame[a]!] === 0) continue;
      const first = key(slab.frame[a]!);
      seen.push(first);
      for (let r = a + 1; r < slab.packetStart[p + 1]!; r++) {
        if (slab.rewrite[r] === 0) continue;
        const x = find(first);
        const y = find(key(slab.frame[r]!));
        if (x === y) continue;
        if (had.has(x) && had.has(y)) return true;
        parent.set(x, x);
        parent.set(y, x);
        if (had.has(y)) had.add(x);
      }
    }
    for (const k of seen) had.add(find(k));
  }
  return false;
}

const text = (x: unknown) => JSON.stringify(x, (_, v) => (typeof v === 'bigint' ? v.toString() : v));
/** A flow without its id, and its packets (the partition, whatever the numbering). */
const shape = (flows: readonly Flow[], flowOfPacket: Int32Array) =>
  flows
    .map((fl) => {
      const { id, ...rest } = fl;
      const packets = [...flowOfPacket.keys()].filter((p) => flowOfPacket[p] === id);
      return text({ members: packets, ...rest });
    })
    .sort();

test('flow builder: the same flows as the batch grouping on generated sightings (one slab)', () => {
  for (let seed = 1; seed <= 400; seed++) {
    const { s, coverage } = generate(seed);
    const opts = { idleNs: IDLE, closedIdleNs: CLOSED_IDLE, datagramIdleNs: DATAGRAM_IDLE, coverage };
    const batch = batchFlows(s, emptyTopology(), opts);
    const built = flowsFromSightings(s, emptyTopology(), opts);
    assert.deepEqual(
      shape(built.flows, built.flowOfPacket),
      shape(batch.flows, batch.flowOfPacket),
      `seed ${seed}`,
    );
    // ids as flows start (their first packet's first sighting, then its number), where the batch
    // numbered a connection's flows together: the builder's ids are not the batch's
    const firstPacket = built.flows.map(() => -1);
    for (let p = 0; p < s.packets; p++) {
      const id = built.flowOfPacket[p]!;
      if (id < 0) continue;
      const q = firstPacket[id]!;
      const t = (x: number) => s.t[s.packetStart[x]!]!;
      if (q < 0 || t(p) < t(q) || (t(p) === t(q) && p < q)) firstPacket[id] = p;
    }
    for (let id = 1; id < built.flows.length; id++) {
      const [a, b] = [firstPacket[id - 1]!, firstPacket[id]!];
      const [ta, tb] = [s.t[s.packetStart[a]!]!, s.t[s.packetStart[b]!]!];
      assert.ok(ta < tb || (ta === tb && a < b), `seed ${seed}: flow ${id}`);
    }
    // the rules' facts are those read back from every sighting
    const facts: string[] = [];
    const b = new FlowBuilder(emptyTopology(), { ...opts, files: ['f'] }, (_, x) => {
      if (!x) return;
      facts.push(factsText(x));
      // `has` answers for exactly the hops its pairs list (which factsText compares with the batch's)
      for (const leg of [x.request, x.reply]) {
        const seen = leg.seenAnywhere as unknown as { entries(): Iterable<[string, unknown]> };
        for (const [key] of seen.entries()) assert.ok(leg.seenAnywhere.has(key), `seed ${seed}: ${key}`);
        for (const key of ['p0:nowhere', 'nowhere:in']) assert.ok(!leg.seenAnywhere.has(key));
      }
    });
    b.add(s);
    b.end();
    const read: string[] = [];
    forEachFlowFacts(s, built.flows, built.flowOfPacket, ['f'], (x) => read.push(factsText(x)));
    assert.equal(facts.length, built.flows.length);
    assert.deepEqual(facts.sort(), read.sort(), `seed ${seed}`);
  }
});

test('flow builder: the same flows as the batch grouping on generated sightings (slab by slab)', () => {
  let compared = 0;
  for (let seed = 1; seed <= 400; seed++) {
    const { s, slabs, coverage } = generate(seed);
    const opts = { idleNs: IDLE, closedIdleNs: CLOSED_IDLE, datagramIdleNs: DATAGRAM_IDLE, coverage };
    const batch = batchFlows(s, emptyTopology(), opts);
    const flows: Flow[] = [];
    const b = new FlowBuilder(emptyTopology(), { ...opts, facts: false }, (fl) => flows.push(fl));
    for (let k = 0; k < slabs.length; k++) b.add(slabs[k]!, k * SLAB);
    b.end();
    // a tuple linked after both sides had flows: the builder keeps them apart (not the batch's flows)
    if (lateLink(slabs)) continue;
    assert.equal(b.joined, 0);
    compared++;
    assert.deepEqual(
      shape(flows, b.flowOfPacket.subarray(0, s.packets)),
      shape(batch.flows, batch.flowOfPacket),
      `seed ${seed}`,
    );
  }
  assert.ok(compared > 300, `${compared}`);
});
