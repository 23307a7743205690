/**
 * Correlation benchmark (issue 5): a synthetic multi-point capture, the same packets seen at 4-6 capture
 * points on 2 nodes, with a Service DNAT between the client's veth and its ENI and node2's clock 3.7 ms
 * ahead, correlated by `sightingsFromPackets` (the typed-array hash join, both passes, offload check and
 * rows). For the engine choice, the same fingerprints also go through DuckDB, under an explicit
 * memory_limit, with the cheapest SQL that could do the first step (session windows per fingerprint, no
 * point or path logic): the ratio says what SQL would cost before doing any of the real work.
 * Then the bounded-memory path (`streamingCorrelation`): the same capture produced and correlated slab by
 * slab, in a child process per size, with its peak RSS at 1 M and 5 M packets.
 * Wall and CPU time are both printed: other sessions load this machine, and CPU time shows the work.
 * Run alone: `node --import tsx bench/correlate.ts` (BENCH_CORRELATE_PACKETS, default 1 000 000 packets).
 */

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DOUBLE, DuckDBDataChunk, UINTEGER, USMALLINT } from '@duckdb/node-api';
import duckdb from '@duckdb/node-bindings';
import { correlateSpool, FrameSpool } from '../analyzers/correlate/frame-spool.ts';
import { FrameTable } from '../analyzers/correlate/frame-table.ts';
import type { FrameSet } from '../analyzers/correlate/frames-from-bundle.ts';
import {
  clockSampleMask,
  SightingsBuilder,
  SlabCorrelator,
  sightingsFromPackets,
} from '../analyzers/correlate/sightings.ts';
import { DirCode } from '../analyzers/topology/direction.ts';
import { emptyTopology, type Point, PointKind, type Topology } from '../analyzers/topology/model.ts';
import { openDuckDb } from '../ingest/dataset/duckdb.ts';
import { cliChildArgs, peakRssMb, runCliChild } from './cli-child.ts';

export interface CorrelateTrial {
  name: string;
  packets: number;
  frames: number;
  seconds: number;
  framesPerSecond: number;
  rssMb: number;
  /** user + system, all threads (the hash join only) */
  cpuSeconds?: number | undefined;
}

const POINTS: [string, string, PointKind][] = [
  ['pod/default/a/eth0', 'node1', PointKind.podEth0],
  ['node/node1/calia', 'node1', PointKind.veth],
  ['node/node1/eth1', 'node1', PointKind.eni],
  ['node/node2/eth1', 'node2', PointKind.eni],
  ['node/node2/calib', 'node2', PointKind.veth],
  ['pod/default/b/eth0', 'node2', PointKind.podEth0],
];

/** A hash of (packet, draw): every packet's randomness is its own, so any range of packets regenerates. */
function draw(p: number, k: number): number {
  let x = Math.imul(p ^ 0x5eed, 0x9e3779b1) ^ Math.imul(k + 1, 0x85ebca77);
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

const SKEW_NS = 3.7e6;
/** 100 k packets/s */
const PACKET_SPACING_NS = 10_000;

export function syntheticTopology(): Topology {
  const topology = emptyTopology();
  for (const [id, node, kind] of POINTS) {
    const p: Point = {
      id,
      node,
      pod: null,
      iface: id.split('/').pop() ?? '',
      kind,
      mac: null,
      peerMac: null,
      ips: [],
    };
    topology.points.set(id, p);
  }
  return topology;
}

/**
 * Appends the frames of packets [from, to) to `frames`, point by point (as one capture file per point
 * would hold them, each in time order). Requests go a -> b through points 0..5, replies b -> a in
 * reverse, hop transit 5-55 µs, 10 % not seen at the far veth (the fast path skips it); node2's clock
 * is 3.7 ms ahead. Times are ns relative to `frames.baseNs`. `sampleMask`: only the packets whose
 * fingerprint has these bits clear.
 */
export function appendSyntheticPackets(frames: FrameTable, from: number, to: number, sampleMask = 0): void {
  frames.baseNs ??= 1_800_000_000_000_000_000n;
  frames.reserve(6 * (to - from));
  for (let k = 0; k < POINTS.length; k++) {
    const node2 = POINTS[k]![1] === 'node2';
    const kind = POINTS[k]![2];
    for (let p = from; p < to; p++) {
      // the clock pass's sample: packets whose fingerprint has the mask's bits clear (as sightings.ts does)
      if ((draw(p, 0) & sampleMask) !== 0) continue;
      const reply = (p & 1) === 1;
      if (draw(p, 2) % 10 === 0 && k === (reply ? 1 : 4)) continue;
      // time at hop k: the packet's start plus the transit of every hop before it on its way
      let t = p * PACKET_SPACING_NS + (draw(p, 3) % 5000);
      const hops = reply ? 5 - k : k;
      for (let h = 0; h < hops; h++) t += 5000 + (draw(p, 10 + h) % 50_000);
      const i = frames.length++;
      const lo = draw(p, 0);
      const hi = draw(p, 1);
      frames.point[i] = k;
      frames.file[i] = k;
      frames.frame[i] = p + 1;
      frames.t[i] = t + (node2 ? SKEW_NS : 0);
      frames.fpLo[i] = lo;
      frames.fpHi[i] = hi;
      frames.fpValid[i] = 1;
      const outward = reply ? k >= 3 : k <= 2;
      frames.dir[i] =
        kind === PointKind.veth ? (outward ? DirCode.in : DirCode.out) : outward ? DirCode.out : DirCode.in;
      frames.ipVersion[i] = 4;
      frames.proto[i] = 6;
      // client 10.0.1.5:40000+, VIP 172.21.0.10:80 before the DNAT at the client's veth, backend 10.0.2.5:8080 after
      const dnat = reply ? k <= 0 : k >= 2;
      const vip = dnat ? 0xac15000a : 0x0a000205;
      const vport = dnat ? 80 : 8080;
      frames.src[i] = reply ? vip : 0x0a000105;
      frames.dst[i] = reply ? 0x0a000105 : vip;
      frames.srcPort[i] = reply ? vport : 40000 + (p % 20000);
      frames.dstPort[i] = reply ? 40000 + (p % 20000) : vport;
      frames.ttl[i] = 64;
      frames.tcpSeq[i] = lo;
      frames.tcpAck[i] = hi;
      frames.tcpFlags[i] = 0x18;
      frames.payloadLen[i] = 100;
      frames.wirelen[i] = 166;
    }
  }
}

export function syntheticCapture(packets: number): {
  set: FrameSet;
  topology: Topology;
  trueOffsetNs: number;
} {
  const frames = new FrameTable(packets * 6);
  appendSyntheticPackets(frames, 0, packets);
  const points = POINTS.map((p) => p[0]);
  const set: FrameSet = { frames, points, files: points, coverage: new Map(), faults: [] };
  return { set, topology: syntheticTopology(), trueOffsetNs: -SKEW_NS };
}

/**
 * The bounded-memory path: the capture is produced slab by slab (a streaming source), correlated by
 * `SlabCorrelator`, and each slab's rows are dropped once counted (a writer would append them to a
 * Parquet part). The clock comes from the first slab (the sample cap of the clock pass). Nothing here
 * grows with the capture's length, which the peak RSS at 1 M and 5 M packets shows.
 */
export function streamingCorrelation(
  packets: number,
  slabNs = 1e9,
): {
  packets: number;
  rows: number;
  frames: number;
  /** frames correlated, overlaps included */
  handled: number;
  offsetNs: number;
  slabs: number;
} {
  const topology = syntheticTopology();
  const points = POINTS.map((p) => p[0]);
  const c = new SlabCorrelator(points, topology);
  const local = new FrameTable(1 << 16);
  const perSlab = Math.ceil(slabNs / PACKET_SPACING_NS);
  // pass 1 on the first slab and its overlap (raw clocks), sampled to at most 500 000 frames like
  // sightingsFromPackets, in a table of its own that is dropped afterwards
  const first = Math.min(packets, perSlab + Math.ceil(c.wideWindowNs / PACKET_SPACING_NS));
  const mask = clockSampleMask(6 * first, {});
  const sample = new FrameTable(1 << 16);
  appendSyntheticPackets(sample, 0, first, mask);
  c.sampleClock(sample, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY);
  const offsets = c.settleClock();
  const out = new SightingsBuilder();
  const overlap = Math.ceil(c.overlapNs / PACKET_SPACING_NS) + 1;
  let rows = 0;
  let found = 0;
  let handled = 0;
  for (let from = 0; from < packets; from += perSlab) {
    const to = Math.min(packets, from + perSlab);
    local.length = 0;
    appendSyntheticPackets(local, Math.max(0, from - overlap), Math.min(packets, to + overlap));
    handled += local.length;
    c.correlate(
      local,
      from === 0 ? Number.NEGATIVE_INFINITY : from * PACKET_SPACING_NS,
      to === packets ? Number.POSITIVE_INFINITY : to * PACKET_SPACING_NS,
      out,
    );
    rows += out.length;
    found += out.packets;
    out.clear();
  }
  const byNode = new Map(offsets.map((o) => [o.node, o.offsetNs]));
  return {
    packets: found,
    rows,
    // every synthetic frame is one sightings row (no offload, no `any` duplicates): the capture's frames
    frames: rows,
    handled,
    offsetNs: (byNode.get('node2') ?? 0) - (byNode.get('node1') ?? 0),
    slabs: c.stats.slabs,
  };
}

async function duckdbSessionWindows(set: FrameSet, windowNs: number): Promise<number> {
  const f = set.frames;
  const db = await openDuckDb({ memoryLimit: '1GB', threads: 4 });
  const con = await db.connect();
  try {
    await con.run('CREATE TABLE fr (lo UINTEGER, hi UINTEGER, point USMALLINT, t DOUBLE)');
    const appender = await con.createAppender('fr');
    const chunk = DuckDBDataChunk.create([UINTEGER, UINTEGER, USMALLINT, DOUBLE]);
    const cols = [f.fpLo, f.fpHi, f.point, f.t];
    for (let s = 0; s < f.length; s += 2048) {
      const n = Math.min(2048, f.length - s);
      duckdb.data_chunk_reset(chunk.chunk);
      cols.forEach((a, i) => {
        const w = a.BYTES_PER_ELEMENT;
        duckdb.copy_data_to_vector(
          duckdb.data_chunk_get_vector(chunk.chunk, i),
          0,
          a.buffer as ArrayBuffer,
          a.byteOffset + s * w,
          n * w,
        );
      });
      duckdb.data_chunk_set_size(chunk.chunk, n);
      appender.appendDataChunk(chunk);
    }
    appender.closeSync();
    const reader = await con.runAndReadAll(`
      WITH w AS (SELECT lo, hi, t, CASE WHEN t - lag(t) OVER (PARTITION BY lo, hi ORDER BY t) > ${windowNs}
                 THEN 1 ELSE 0 END AS brk FROM fr),
           s AS (SELECT lo, hi, sum(brk) OVER (PARTITION BY lo, hi ORDER BY t) AS ident FROM w)
      SELECT count(*) AS n FROM (SELECT DISTINCT lo, hi, ident FROM s)`);
    return Number(reader.getRows()[0]?.[0] ?? 0);
  } finally {
    con.closeSync();
    db.closeSync();
  }
}

/**
 * The bounded path end to end from a spool: frames written to a temporary file in chunks (as
 * `framesFromBundle` with a FrameSpool does while decoding), read back slab by slab by `correlateSpool`,
 * each slab's rows counted and dropped.
 */
export function spooledCorrelation(packets: number): {
  packets: number;
  frames: number;
  offsetNs: number;
  slabs: number;
  spoolMb: number;
} {
  const topology = syntheticTopology();
  const points = POINTS.map((p) => p[0]);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ht-bench-spool-'));
  const spool = new FrameSpool(path.join(dir, 'frames.bin'));
  try {
    const perChunk = Math.floor(spool.chunkFrames / 6);
    for (let from = 0; from < packets; from += perChunk) {
      appendSyntheticPackets(spool.table, from, Math.min(packets, from + perChunk));
      spool.flush();
    }
    const set: FrameSet = { frames: spool.table, points, files: points, coverage: new Map(), faults: [] };
    let rows = 0;
    let found = 0;
    const r = correlateSpool(spool, set, topology, {}, (slab) => {
      rows += slab.length;
      found += slab.packets;
    });
    const byNode = new Map(r.clockOffsets.map((o) => [o.node, o.offsetNs]));
    return {
      packets: found,
      frames: rows,
      offsetNs: (byNode.get('node2') ?? 0) - (byNode.get('node1') ?? 0),
      slabs: r.stats.slabs,
      spoolMb: statSync(spool.file).size / 2 ** 20,
    };
  } finally {
    spool.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** CPU seconds (user + system) and wall seconds of `fn`: other sessions load the machine, CPU time shows the work. */
function measure<T>(fn: () => T): [T, number, number] {
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  const value = fn();
  const cpu = process.cpuUsage(cpu0);
  return [value, (performance.now() - wall0) / 1000, (cpu.user + cpu.system) / 1e6];
}

/** What the hash-join trial's child prints (one JSON line). */
interface HashJoinRun {
  frames: number;
  seconds: number;
  cpuSeconds: number;
  packets: number;
  collisions: number;
  slabs: number;
  recoveredNs: number;
  errorNs: number | null;
  rssMb: number;
}

/** `sightingsFromPackets` over the synthetic capture of `packets`, timed; the capture is built first. */
export function hashJoinRun(packets: number): HashJoinRun {
  const { set, topology } = syntheticCapture(packets);
  const [r, seconds, cpuSeconds] = measure(() => sightingsFromPackets(set, topology));
  const n2 = r.clockOffsets.find((o) => o.node === 'node2')!;
  const n1 = r.clockOffsets.find((o) => o.node === 'node1')!;
  return {
    frames: set.frames.length,
    seconds,
    cpuSeconds,
    packets: r.sightings.packets,
    collisions: r.stats.collisions,
    slabs: r.stats.slabs,
    recoveredNs: n2.offsetNs - n1.offsetNs,
    errorNs: n2.errorNs ?? null,
    rssMb: process.memoryUsage().rss / 2 ** 20,
  };
}

/**
 * The hash-join trial in a process of its own, started the way bin/hoptrace.js starts (tsx's ESM hooks
 * only): the bench's own process runs under `node --import tsx`, whose CommonJS hook makes V8 check
 * every typed-array access for a detached buffer (bench/decode-arrow.ts says why), and it carries the
 * heap of the trials before this one. `hoptrace analyze` correlates in a fresh process like this one.
 */
function hashJoinInChild(packets: number): HashJoinRun {
  const args = cliChildArgs(import.meta.url, 'console.log(JSON.stringify(m.hashJoinRun(Number(args[0]))))', [
    String(packets),
  ]);
  return runCliChild<HashJoinRun>(args, 'correlation trial');
}

export async function correlateTrials(packets: number): Promise<CorrelateTrial[]> {
  const trials: CorrelateTrial[] = [];
  const record = (name: string, frames: number, seconds: number, rssMb: number, cpuSeconds?: number) => {
    const t = { name, packets, frames, seconds, framesPerSecond: frames / seconds, rssMb, cpuSeconds };
    trials.push(t);
    const cpu = cpuSeconds === undefined ? '' : `, CPU ${(frames / cpuSeconds / 1e6).toFixed(3)} M frames/s`;
    console.log(
      `${name.padEnd(44)} ${(t.framesPerSecond / 1e6).toFixed(3).padStart(8)} M frames/s  (${seconds.toFixed(2)} s${cpu}, ${frames} frames)  RSS ${rssMb.toFixed(0)} MB`,
    );
  };
  const h = hashJoinInChild(packets);
  record('correlate: hoptrace typed-array hash join', h.frames, h.seconds, h.rssMb, h.cpuSeconds);
  // the same capture again, for DuckDB (built after the child: this process's heap stays small meanwhile)
  const { set, trueOffsetNs } = syntheticCapture(packets);
  console.log(
    `  packets ${h.packets} (of ${packets}), collisions ${h.collisions}, slabs ${h.slabs}; node2 offset ${h.recoveredNs} ns` +
      ` (true ${trueOffsetNs}, error bound ${h.errorNs ?? 'none'} ns, off by ${Math.abs(h.recoveredNs - trueOffsetNs)} ns)`,
  );
  const start = performance.now();
  const sqlIds = await duckdbSessionWindows(set, 50e6);
  record(
    'correlate: DuckDB session windows only (1GB)',
    set.frames.length,
    (performance.now() - start) / 1000,
    process.memoryUsage().rss / 2 ** 20,
  );
  console.log(
    `  DuckDB identities ${sqlIds}; ratio hoptrace/DuckDB ${(trials[1]!.seconds / trials[0]!.seconds).toFixed(2)}x`,
  );
  return trials;
}

/** One run in a child process per size and mode (streaming, spooled): peak RSS is per process. */
export function streamingTrials(sizes: number[]): void {
  for (const mode of ['--stream', '--spool'])
    for (const n of sizes) {
      const args = [...process.execArgv, fileURLToPath(import.meta.url), mode, String(n)];
      const child = spawnSync(process.execPath, args, { encoding: 'utf8' });
      process.stdout.write(child.stdout);
      if (child.status !== 0) process.stderr.write(child.stderr);
    }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const stream = process.argv.indexOf('--stream');
  if (stream >= 0) {
    const n = Number(process.argv[stream + 1]);
    const [r, wall, cpu] = measure(() => streamingCorrelation(n));
    const peak = peakRssMb();
    console.log(
      `correlate streaming ${String(n).padStart(8)} packets: ${(r.frames / wall / 1e6).toFixed(3)} M frames/s wall, ` +
        `${(r.frames / cpu / 1e6).toFixed(3)} CPU (${wall.toFixed(2)} s, ${r.frames} frames, ${r.handled} with overlaps, ${r.slabs} slabs); ` +
        `packets ${r.packets}, node2 offset ${r.offsetNs} ns; peak RSS ${peak.toFixed(0)} MB`,
    );
  } else if (process.argv.includes('--spool')) {
    const n = Number(process.argv[process.argv.indexOf('--spool') + 1]);
    const [r, wall, cpu] = measure(() => spooledCorrelation(n));
    console.log(
      `correlate spooled   ${String(n).padStart(8)} packets: ${(r.frames / wall / 1e6).toFixed(3)} M frames/s wall, ` +
        `${(r.frames / cpu / 1e6).toFixed(3)} CPU (${wall.toFixed(2)} s incl. writing the spool, ${r.frames} frames, ` +
        `${r.slabs} slabs, spool ${r.spoolMb.toFixed(0)} MB); packets ${r.packets}, node2 offset ${r.offsetNs} ns; ` +
        `peak RSS ${peakRssMb().toFixed(0)} MB`,
    );
  } else {
    await correlateTrials(Number(process.env['BENCH_CORRELATE_PACKETS'] ?? 1_000_000));
    streamingTrials([1_000_000, 5_000_000]);
  }
}
