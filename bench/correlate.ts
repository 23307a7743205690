/**
 * Correlation benchmark (issue 5): a synthetic multi-point capture, the same packets seen at 4-6 capture
 * points on 2 nodes, with a Service DNAT between the client's veth and its ENI and node2's clock 3.7 ms
 * ahead, correlated by `sightingsFromPackets` (the typed-array hash join, both passes, offload check and
 * rows). For the engine choice, the same fingerprints also go through DuckDB, under an explicit
 * memory_limit, with the cheapest SQL that could do the first step (session windows per fingerprint, no
 * point or path logic): the ratio says what SQL would cost before doing any of the real work.
 * Run alone: `node --import tsx bench/correlate.ts` (BENCH_CORRELATE_PACKETS, default 1 000 000 packets).
 */
import { DOUBLE, DuckDBDataChunk, UINTEGER, USMALLINT } from '@duckdb/node-api';
import duckdb from '@duckdb/node-bindings';
import { FrameTable } from '../analyzers/correlate/frame-table.ts';
import type { FrameSet } from '../analyzers/correlate/frames-from-bundle.ts';
import { sightingsFromPackets } from '../analyzers/correlate/sightings.ts';
import { DirCode } from '../analyzers/topology/direction.ts';
import { emptyTopology, type Point, PointKind, type Topology } from '../analyzers/topology/model.ts';
import { openDuckDb } from '../ingest/dataset/duckdb.ts';

export interface CorrelateTrial {
  name: string;
  packets: number;
  frames: number;
  seconds: number;
  framesPerSecond: number;
  rssMb: number;
}

const POINTS: [string, string, PointKind][] = [
  ['pod/default/a/eth0', 'node1', PointKind.podEth0],
  ['node/node1/calia', 'node1', PointKind.veth],
  ['node/node1/eth1', 'node1', PointKind.eni],
  ['node/node2/eth1', 'node2', PointKind.eni],
  ['node/node2/calib', 'node2', PointKind.veth],
  ['pod/default/b/eth0', 'node2', PointKind.podEth0],
];

/** xorshift32: the same synthetic capture on every run */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

export function syntheticCapture(packets: number): {
  set: FrameSet;
  topology: Topology;
  trueOffsetNs: number;
} {
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
  const rand = rng(0x5eed);
  const skewNs = 3.7e6;
  // per point, frames in time order, as one capture file per point would hold them
  const perPoint: number[][] = POINTS.map(() => []);
  const fpLo = new Uint32Array(packets);
  const fpHi = new Uint32Array(packets);
  const start = new Float64Array(packets);
  for (let p = 0; p < packets; p++) {
    fpLo[p] = rand();
    fpHi[p] = rand();
    start[p] = p * 10_000 + (rand() % 5000); // 100 k packets/s
  }
  const frames = new FrameTable(packets * 6);
  frames.baseNs = 1_800_000_000_000_000_000n;
  // requests go a -> b through points 0..5 in order; replies b -> a in reverse; hop transit 5-55 µs
  const hopT = new Float64Array(6);
  const rows: number[][] = POINTS.map(() => []);
  for (let p = 0; p < packets; p++) {
    const reply = (p & 1) === 1;
    let t = start[p]!;
    const order = reply ? [5, 4, 3, 2, 1, 0] : [0, 1, 2, 3, 4, 5];
    const skip = rand() % 10; // 10 %: not seen at the far veth (the fast path skips it)
    for (const k of order) {
      hopT[k] = t;
      t += 5000 + (rand() % 50_000);
    }
    for (const k of order) {
      if (skip === 0 && k === (reply ? 1 : 4)) continue;
      rows[k]!.push(p, hopT[k]!);
    }
  }
  for (let k = 0; k < POINTS.length; k++) {
    const list = rows[k]!;
    perPoint[k] = list;
    for (let j = 0; j < list.length; j += 2) {
      const p = list[j]!;
      const i = frames.length++;
      const node2 = POINTS[k]![1] === 'node2';
      const reply = (p & 1) === 1;
      frames.point[i] = k;
      frames.file[i] = k;
      frames.frame[i] = j / 2 + 1;
      frames.t[i] = list[j + 1]! + (node2 ? skewNs : 0);
      frames.fpLo[i] = fpLo[p]!;
      frames.fpHi[i] = fpHi[p]!;
      frames.fpValid[i] = 1;
      const kind = POINTS[k]![2];
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
      frames.tcpSeq[i] = fpLo[p]!;
      frames.tcpAck[i] = fpHi[p]!;
      frames.tcpFlags[i] = 0x18;
      frames.payloadLen[i] = 100;
      frames.wirelen[i] = 166;
    }
  }
  const points = POINTS.map((p) => p[0]);
  const set: FrameSet = { frames, points, files: points, coverage: new Map(), faults: [] };
  return { set, topology, trueOffsetNs: -skewNs };
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

export async function correlateTrials(packets: number): Promise<CorrelateTrial[]> {
  const { set, topology, trueOffsetNs } = syntheticCapture(packets);
  const frames = set.frames.length;
  const trials: CorrelateTrial[] = [];
  const record = (name: string, seconds: number) => {
    const t = {
      name,
      packets,
      frames,
      seconds,
      framesPerSecond: frames / seconds,
      rssMb: process.memoryUsage().rss / 2 ** 20,
    };
    trials.push(t);
    console.log(
      `${name.padEnd(44)} ${(t.framesPerSecond / 1e6).toFixed(3).padStart(8)} M frames/s  (${seconds.toFixed(2)} s, ${frames} frames)  RSS ${t.rssMb.toFixed(0)} MB`,
    );
  };
  let start = performance.now();
  const r = sightingsFromPackets(set, topology);
  record('correlate: hoptrace typed-array hash join', (performance.now() - start) / 1000);
  const n2 = r.clockOffsets.find((o) => o.node === 'node2')!;
  const n1 = r.clockOffsets.find((o) => o.node === 'node1')!;
  const recovered = n2.offsetNs - n1.offsetNs;
  console.log(
    `  packets ${r.sightings.packets} (of ${packets}), collisions ${r.stats.collisions}; node2 offset ${recovered} ns` +
      ` (true ${trueOffsetNs}, error bound ${n2.errorNs ?? 'none'} ns, off by ${Math.abs(recovered - trueOffsetNs)} ns)`,
  );
  start = performance.now();
  const sqlIds = await duckdbSessionWindows(set, 50e6);
  record('correlate: DuckDB session windows only (1GB)', (performance.now() - start) / 1000);
  console.log(
    `  DuckDB identities ${sqlIds}; ratio hoptrace/DuckDB ${(trials[1]!.seconds / trials[0]!.seconds).toFixed(2)}x`,
  );
  return trials;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await correlateTrials(Number(process.env['BENCH_CORRELATE_PACKETS'] ?? 1_000_000));
}
