/**
 * A synthetic capture bundle for the end-to-end benchmark (issue 8), laid out as DESIGN §3 says and
 * modelled on fixtures/datapathv2/bundle: its metadata (bundle.json, ip/*.json, os/, terway/, k8s/*.json)
 * is copied, so the topology importers see the same pods, Services and ENIs, and its captured flows are
 * the templates. Each template flow (pod -> pod on the other node, pod -> ClusterIP on the same and the
 * other node, TCP and UDP, and the bulk TCP flow whose GSO super-segments are cut into MTU segments at
 * the next point) is replayed many times with a new client port, IP id and TCP sequence numbers, every
 * frame at every capture point of its path exactly as the lab captured it: the Service DNAT at the
 * client's cali, TTL decrements at each routing hop, MACs of the real ENIs. Node2's clock runs
 * `NODE2_SKEW_NS` ahead. 12 capture points over 2 nodes; each capture is a pcapng file written with
 * one Enhanced Packet Block per frame.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readCaptureBytes } from '../ingest/read-capture.ts';
import { lanesToBigInt } from '../ingest/timestamp.ts';
import { pcapngBytes } from '../reports/pcapng-writer.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
export const FIXTURE = path.join(here, '..', 'fixtures', 'datapathv2', 'bundle');
export const NODE2_SKEW_NS = 3_700_000;

/** The 12 capture points (fixture point ids). */
const POINTS = [
  'pod/default/client/eth0',
  'node/node1/calia7a3e029a7b',
  'node/node1/eth0',
  'node/node1/eth1',
  'node/node1/cali0761ccbeace',
  'pod/default/web-1/eth0',
  'node/node1/cali9fb0db7f13e',
  'pod/default/web-2/eth0',
  'node/node2/eth0',
  'node/node2/eth1',
  'node/node2/cali4448cbddedf',
  'pod/default/web-3/eth0',
];

/** Template flows by their client port in the fixture, and how often each is copied. */
const TEMPLATES: { port: number; weight: number }[] = [
  { port: 30041, weight: 4 }, // s4-tcp: pod -> pod across nodes
  { port: 30042, weight: 4 }, // s4-udp
  { port: 40051, weight: 4 }, // s5-tcp: ClusterIP, backend web-1 (node1)
  { port: 40052, weight: 4 }, // s5-udp
  { port: 41061, weight: 4 }, // s6-tcp: ClusterIP, backend web-2 (node1)
  { port: 41062, weight: 4 }, // s6-udp
  { port: 42071, weight: 4 }, // s7-tcp: ClusterIP, backend web-3 (node2)
  { port: 42072, weight: 4 }, // s7-udp
  { port: 30049, weight: 1 }, // s4-bulk (one in every 33 flows): GSO super-segments at the client, MTU segments after
];

/**
 * Client ports: every template has its own range (the client pod and the Service or server are the same
 * for several templates, so shared ports would make two copies one connection). Once a range is used up
 * the ports are used again after `EPOCH_GAP_NS` of silence, longer than flows.ts's idle limit (120 s),
 * so a reused port is a new connection there too.
 */
const FIRST_PORT = 1024;
const PORTS_PER_TEMPLATE = Math.floor((65536 - FIRST_PORT) / TEMPLATES.length);
const MAX_WEIGHT = Math.max(...TEMPLATES.map((t) => t.weight));
/** rounds of the schedule (each template `weight` copies) before the busiest template's range is used up */
const EPOCH_ROUNDS = Math.floor(PORTS_PER_TEMPLATE / MAX_WEIGHT);
const EPOCH_GAP_NS = 121e9;

/** Gaps between consecutive template frames are shortened to at most this (the lab waited between steps). */
const MAX_GAP_NS = 20_000;
/** Between two flow copies. */
const FLOW_GAP_NS = 30_000;

interface Frame {
  point: number;
  t: number;
  data: Uint8Array;
  /** offset of the IPv4 header */
  ip: number;
  /** client port is the source port (request) or the destination port (reply) */
  request: boolean;
}

interface Template {
  port: number;
  proto: number;
  frames: Frame[];
  duration: number;
}

interface CaptureInfo {
  point: string;
  node: string;
  path: string;
}

/**
 * Every packet of a capture, read with the project's reader, its time in ns after `origin`: a small
 * offset is exact in a double where an absolute ns time since 1970 is not (2^53 ns is 104 days).
 */
function readFrames(file: string, origin: bigint): { t: number; data: Uint8Array }[] {
  const out: { t: number; data: Uint8Array }[] = [];
  const result = readCaptureBytes(
    new Uint8Array(fs.readFileSync(file)),
    {
      container() {},
      interface() {},
      stats() {},
      warning() {},
      packet(r) {
        const t = Number(lanesToBigInt(r.tsLo, r.tsHi) - origin);
        out.push({ t, data: r.bytes.slice(r.at, r.at + r.caplen) });
      },
    },
    file,
  );
  if (result.error) throw new Error(result.error.line());
  return out;
}

function fixtureCaptures(): CaptureInfo[] {
  const b = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'bundle.json'), 'utf8')) as {
    captures: CaptureInfo[];
  };
  return POINTS.map((p) => {
    const c = b.captures.find((x) => x.point === p);
    if (!c) throw new Error(`fixture has no capture point ${p}`);
    return c;
  });
}

/** The template flows' frames out of the fixture's captures, times compressed, relative to each flow's start. */
function loadTemplates(): Template[] {
  const caps = fixtureCaptures();
  const origin = BigInt(
    (JSON.parse(fs.readFileSync(path.join(FIXTURE, 'bundle.json'), 'utf8')) as { start_ns: string }).start_ns,
  );
  const byPort = new Map<number, Frame[]>(TEMPLATES.map((t) => [t.port, []]));
  const protoOf = new Map<number, number>();
  caps.forEach((c, point) => {
    for (const { t, data } of readFrames(path.join(FIXTURE, c.path), origin)) {
      let ip = 14;
      let etype = (data[12]! << 8) | data[13]!;
      if (etype === 0x8100) {
        ip = 18;
        etype = (data[16]! << 8) | data[17]!;
      }
      if (etype !== 0x0800 || data.length < ip + 24) continue;
      const proto = data[ip + 9]!;
      if (proto !== 6 && proto !== 17) continue;
      const l4 = ip + (data[ip]! & 0xf) * 4;
      const sport = (data[l4]! << 8) | data[l4 + 1]!;
      const dport = (data[l4 + 2]! << 8) | data[l4 + 3]!;
      const request = byPort.has(sport);
      const port = request ? sport : dport;
      const list = byPort.get(port);
      if (!list) continue;
      protoOf.set(port, proto);
      list.push({ point, t, data: Uint8Array.from(data), ip, request });
    }
  });
  return TEMPLATES.map(({ port }) => {
    const frames = byPort.get(port)!;
    if (frames.length === 0) throw new Error(`fixture has no frames of client port ${port}`);
    // compress time: every gap between consecutive distinct times is at most MAX_GAP_NS (monotone, so
    // the order at each point and along the path is kept); node2's clock offset is added later
    const times = [...new Set(frames.map((f) => f.t))].sort((a, b) => a - b);
    const mapped = new Map<number, number>();
    let acc = 0;
    times.forEach((t, i) => {
      if (i > 0) acc += Math.min(MAX_GAP_NS, t - times[i - 1]!);
      mapped.set(t, acc);
    });
    for (const f of frames) f.t = mapped.get(f.t)!;
    frames.sort((a, b) => a.t - b.t || a.point - b.point);
    return { port, proto: protoOf.get(port)!, frames, duration: acc };
  });
}

/** RFC 1624 incremental update of a one's complement checksum at `at` for a 16-bit word old -> new. */
function adjust(d: Uint8Array, at: number, oldW: number, newW: number): void {
  let sum = (~((d[at]! << 8) | d[at + 1]!) & 0xffff) + (~oldW & 0xffff) + newW;
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  const c = ~sum & 0xffff;
  d[at] = c >>> 8;
  d[at + 1] = c & 0xff;
}

function set16(d: Uint8Array, at: number, v: number, csum: number): void {
  const old = (d[at]! << 8) | d[at + 1]!;
  d[at] = (v >>> 8) & 0xff;
  d[at + 1] = v & 0xff;
  if (csum >= 0) adjust(d, csum, old, v & 0xffff);
}

function add32(d: Uint8Array, at: number, delta: number, csum: number): void {
  const old = ((d[at]! << 24) | (d[at + 1]! << 16) | (d[at + 2]! << 8) | d[at + 3]!) >>> 0;
  const v = (old + delta) >>> 0;
  set16(d, at, v >>> 16, csum);
  set16(d, at + 2, v & 0xffff, csum);
}

/** Buffered pcapng writer: SHB, one IDB (ns timestamps), EPBs without options. */
class FastPcapng {
  private readonly fd: number;
  private buf = Buffer.allocUnsafe(8 << 20);
  private at = 0;
  packets = 0;
  first = Number.POSITIVE_INFINITY;
  last = 0;

  /** frame times are ns after `base`: an offset is exact in a double, an absolute ns time is not */
  private readonly baseHi: number;
  private readonly baseLo: number;

  constructor(file: string, iface: string, base: bigint) {
    this.fd = fs.openSync(file, 'w');
    this.baseHi = Number(base >> 32n);
    this.baseLo = Number(base & 0xffffffffn);
    // SHB and one IDB (Ethernet, if_name, ns timestamps) from the project's pcapng writer
    const head = pcapngBytes([{ name: iface, linkType: 1, snaplen: 262144 }], [], 'hoptrace bench');
    this.buf.set(head, 0);
    this.at = head.length;
  }

  packet(tNs: number, data: Uint8Array): void {
    // base + offset in two exact 32-bit halves
    const sum = this.baseLo + tNs;
    const carry = Math.floor(sum / 2 ** 32);
    const len = data.length;
    const total = 32 + len + ((4 - (len % 4)) % 4);
    if (this.at + total > this.buf.length) this.flush();
    const b = this.buf;
    let o = this.at;
    b.writeUInt32LE(6, o);
    b.writeUInt32LE(total, o + 4);
    b.writeUInt32LE(0, o + 8);
    b.writeUInt32LE(this.baseHi + carry, o + 12);
    b.writeUInt32LE(sum - carry * 2 ** 32, o + 16);
    b.writeUInt32LE(len, o + 20);
    b.writeUInt32LE(len, o + 24);
    b.set(data, o + 28);
    o += 28 + len;
    while (o % 4) b[o++] = 0;
    b.writeUInt32LE(total, o);
    this.at = o + 4;
    this.packets++;
    if (tNs < this.first) this.first = tNs;
    this.last = tNs;
  }

  flush(): void {
    let o = 0;
    while (o < this.at) o += fs.writeSync(this.fd, this.buf, o, this.at - o);
    this.at = 0;
  }

  close(): void {
    this.flush();
    fs.closeSync(this.fd);
  }
}

export interface SyntheticBundle {
  dir: string;
  frames: number;
  flows: number;
  points: number;
  bytes: number;
  /** the largest capture file (for the tshark slice) */
  largest: string;
}

/**
 * Writes a bundle of at least `frames` frames to `dir` (reused when `dir/.done` says it was finished with
 * the same count).
 */
export function writeSyntheticBundle(dir: string, frames: number): SyntheticBundle {
  // versioned: a bundle written by an older generator (e.g. with float ns times) is written again
  const done = path.join(dir, '.done-v3');
  if (fs.existsSync(done)) return JSON.parse(fs.readFileSync(done, 'utf8')) as SyntheticBundle;
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  // metadata: everything of the fixture but its captures
  fs.cpSync(FIXTURE, dir, {
    recursive: true,
    filter: (src) => !src.endsWith('.pcapng') && path.basename(src) !== 'bundle.json',
  });
  const templates = loadTemplates();
  const caps = fixtureCaptures();
  const bundle = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'bundle.json'), 'utf8')) as Record<
    string,
    unknown
  > & { captures: Record<string, unknown>[]; start_ns: string };
  const base = BigInt(bundle.start_ns) + 100_000_000n;
  const abs = (offsetNs: number) => base + BigInt(offsetNs);
  const t0 = 0;
  const writers = caps.map((c) => {
    fs.mkdirSync(path.dirname(path.join(dir, c.path)), { recursive: true });
    return new FastPcapng(path.join(dir, c.path), c.point.split('/').pop()!, base);
  });
  const node2 = caps.map((c) => c.node === 'node2');
  const schedule: number[] = [];
  TEMPLATES.forEach((t, i) => {
    for (let w = 0; w < t.weight; w++) schedule.push(i);
  });
  let written = 0;
  let flows = 0;
  let start = t0;
  const perTemplate = new Array<number>(templates.length).fill(0);
  while (written < frames) {
    const k = schedule[flows % schedule.length]!;
    if (flows > 0 && flows % (schedule.length * EPOCH_ROUNDS) === 0) start += EPOCH_GAP_NS;
    const tpl = templates[k]!;
    const copy = perTemplate[k]!++;
    const port = FIRST_PORT + k * PORTS_PER_TEMPLATE + (copy % PORTS_PER_TEMPLATE);
    const idDelta = (copy * 7 + 1) & 0xffff;
    const seqReq = Math.imul(copy + 1, 0x9e3779b1) >>> 0;
    const seqRep = Math.imul(copy + 1, 0x85ebca77) >>> 0;
    for (const f of tpl.frames) {
      const d = Uint8Array.from(f.data);
      const ip = f.ip;
      const l4 = ip + (d[ip]! & 0xf) * 4;
      const l4csum = tpl.proto === 6 ? l4 + 16 : l4 + 6;
      // UDP checksum 0: not computed; leave it so
      const csum = tpl.proto === 17 && d[l4csum] === 0 && d[l4csum + 1] === 0 ? -1 : l4csum;
      const id = (d[ip + 4]! << 8) | d[ip + 5]!;
      set16(d, ip + 4, (id + idDelta) & 0xffff, ip + 10);
      set16(d, f.request ? l4 : l4 + 2, port, csum);
      if (tpl.proto === 6) {
        add32(d, l4 + 4, f.request ? seqReq : seqRep, csum);
        // ACK only when the ACK flag is set (a SYN's ack field is 0)
        if (d[l4 + 13]! & 0x10) add32(d, l4 + 8, f.request ? seqRep : seqReq, csum);
      }
      const t = start + f.t + (node2[f.point] ? NODE2_SKEW_NS : 0);
      writers[f.point]!.packet(t, d);
      written++;
    }
    start += tpl.duration + FLOW_GAP_NS;
    flows++;
  }
  let bytes = 0;
  let largest = '';
  let largestSize = -1;
  const end = start + NODE2_SKEW_NS + 1e6;
  bundle.captures = caps.map((c, i) => {
    const w = writers[i]!;
    w.close();
    const file = path.join(dir, c.path);
    const size = fs.statSync(file).size;
    bytes += size;
    if (size > largestSize) {
      largestSize = size;
      largest = file;
    }
    const fixture = (bundle.captures as unknown as CaptureInfo[]).find(
      (x) => x.point === c.point,
    ) as unknown as Record<string, unknown> | undefined;
    const skew = node2[i] ? NODE2_SKEW_NS : 0;
    return {
      ...fixture,
      start_ns: String(abs(t0 - 1e6 + skew)),
      end_ns: String(abs(end + skew)),
      packets: w.packets,
      engine_received: w.packets,
      drops: 0,
      loss: 'none',
    };
  });
  bundle.start_ns = String(abs(t0 - 2e6));
  bundle.end_ns = String(abs(end + NODE2_SKEW_NS + 1e6));
  bundle['started_at'] = new Date(Number(abs(t0 - 2e6) / 1_000_000n)).toISOString();
  bundle['stopped_at'] = new Date(Number(abs(end + NODE2_SKEW_NS + 1e6) / 1_000_000n)).toISOString();
  bundle['command'] = ['bench', 'synthetic-bundle', String(frames)];
  fs.writeFileSync(path.join(dir, 'bundle.json'), `${JSON.stringify(bundle, null, 2)}\n`);
  const result: SyntheticBundle = { dir, frames: written, flows, points: caps.length, bytes, largest };
  fs.writeFileSync(done, JSON.stringify(result));
  return result;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [dir, n] = process.argv.slice(2);
  const start = performance.now();
  const r = writeSyntheticBundle(path.resolve(dir ?? 'bench/data/e2e-test'), Number(n ?? 100_000));
  console.log(JSON.stringify({ ...r, seconds: (performance.now() - start) / 1000 }));
}
