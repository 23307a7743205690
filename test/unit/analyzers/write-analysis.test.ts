import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import {
  analysisFromBundle,
  type StreamedAnalysis,
  streamAnalysis,
} from '../../../analyzers/analysis-from-bundle.ts';
import type { Flow } from '../../../analyzers/flows.ts';
import { AnalysisStage, writeAnalysisTables } from '../../../analyzers/write-analysis.ts';
import { openDuckDb } from '../../../ingest/dataset/duckdb.ts';
import { analysisViewStatements, presentTables } from '../../../ingest/dataset/views.ts';
import { labBundles, requireBundles } from './lab-bundle.ts';

test(
  'sightings, flows, flow_hops and clock_offsets as Parquet, queryable through the views',
  requireBundles(),
  async () => {
    const lab = labBundles().find((l) => l.mode === 'datapathv2') ?? labBundles()[0]!;
    const a = await analysisFromBundle(lab.bundle);
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ht-analysis-'));
    try {
      // parts of 100 rows: the lab's sightings span several, so the part boundaries are exercised
      assert.ok(a.correlation.sightings.length > 3 * 100);
      await writeAnalysisTables(dir, a.tables, { partRows: 100 });
      const db = await openDuckDb({ memoryLimit: '256MB', threads: 1 });
      const con = await db.connect();
      try {
        for (const sql of analysisViewStatements(dir, await presentTables(dir))) await con.run(sql);
        const rows = async (sql: string) => (await con.runAndReadAll(sql)).getRowObjectsJson();
        const [count] = await rows('SELECT count(*) AS n, count(DISTINCT packet_id) AS p FROM sightings');
        assert.equal(Number(count?.['n']), a.correlation.sightings.length);
        assert.equal(Number(count?.['p']), a.correlation.sightings.packets);
        // the file holds the rows by packet, then hop (a scan reads them in that order, without a sort)
        const order = await rows('SELECT packet_id, hop FROM sightings');
        for (let k = 1; k < order.length; k++) {
          const [p0, h0] = [Number(order[k - 1]!['packet_id']), Number(order[k - 1]!['hop'])];
          const [p1, h1] = [Number(order[k]!['packet_id']), Number(order[k]!['hop'])];
          assert.ok(p0 < p1 || (p0 === p1 && h0 < h1), `row ${k}: ${p0}/${h0} before ${p1}/${h1}`);
        }
        // every row's texts (capture point, node, kind, file, addresses of both families) as the analysis has them
        const s = a.correlation.sightings;
        const f = s.frames;
        const want = Array.from({ length: s.length }, (_, r) => {
          const fr = s.frame[r]!;
          return [
            s.points[s.point[r]!],
            s.pointNode[s.point[r]!] ?? null,
            s.pointKind[s.point[r]!],
            a.tables.files[f.file[fr]!],
            f.addrText(fr, 'src'),
            f.addrText(fr, 'dst'),
          ].join(' ');
        });
        const texts = await rows(
          'SELECT capture_point, node, point_kind, file, src_ip, dst_ip FROM sightings ORDER BY packet_id, hop',
        );
        assert.deepEqual(
          texts.map((r) =>
            [r['capture_point'], r['node'], r['point_kind'], r['file'], r['src_ip'], r['dst_ip']].join(' '),
          ),
          want,
        );
        assert.ok(
          want.some((w) => w.includes('fd00:')),
          'the fixture has IPv6 sightings',
        );
        // the Service rewrite of s7-tcp: the VIP at the client's veth, the backend on the ENI
        const s7 = await rows(`SELECT capture_point, direction, dst_ip, dst_port, rewrite FROM sightings
        WHERE packet_id = (SELECT min(packet_id) FROM sightings WHERE src_port = 42071 AND ip_proto = 6)
        ORDER BY hop`);
        assert.deepEqual(
          s7.map(
            (r) => `${r['capture_point']}:${r['direction']} ${r['dst_ip']}:${r['dst_port']} ${r['rewrite']}`,
          ),
          [
            'pod/default/client/eth0:out 172.21.0.10:80 null',
            'node/node1/calia7a3e029a7b:in 172.21.0.10:80 null',
            'node/node1/eth1:out 10.0.2.101:8080 dst_ip,dst_port',
            'node/node2/eth1:in 10.0.2.101:8080 null',
            'pod/default/web-3/eth0:in 10.0.2.101:8080 null',
          ],
        );
        const flows = await rows(
          'SELECT service_ip, server_ip, community_id_service FROM flows WHERE client_port = 42071 AND ip_proto = 6',
        );
        assert.equal(flows.length, 1);
        assert.equal(flows[0]?.['server_ip'], '10.0.2.101');
        assert.match(String(flows[0]?.['community_id_service']), /^1:/);
        const clocks = await rows(
          'SELECT node, offset_ns, error_ns, reference FROM clock_offsets ORDER BY node',
        );
        assert.equal(clocks.length, 2);
        const hops = await rows('SELECT count(*) AS n FROM flow_hops');
        assert.ok(Number(hops[0]?.['n']) > 0);
        // the lab captured every point over the whole run without loss: no coverage gap
        const gaps = await rows('SELECT count(*) AS n FROM flow_coverage');
        assert.equal(Number(gaps[0]?.['n']), 0);
      } finally {
        con.closeSync();
        db.closeSync();
      }
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  },
);

test(
  'flows, flow_hops and flow_coverage hold every field of every flow, NULLs included',
  requireBundles(),
  async () => {
    const lab = labBundles().find((l) => l.mode === 'datapathv2') ?? labBundles()[0]!;
    const a = await analysisFromBundle(lab.bundle);
    const base = a.tables.flows[0]!;
    // two flows made here for the values the lab does not produce: no Service, nulls everywhere they
    // are allowed, coverage gaps with and without drops, and a Service seen only through the topology
    const extra: Flow[] = [
      {
        ...base,
        id: a.tables.flows.length,
        service: null,
        client: { ip: '10.9.9.9', port: 1, pod: null, node: null },
        server: { ip: '10.9.9.8', port: 2, pod: null, node: null },
        communityIdService: null,
        communityIdServer: null,
        hops: [],
        coverage: [
          { point: 'p1', status: 'not_captured', seen: false, drops: null },
          { point: 'p2', status: 'capture_loss', seen: true, drops: 7 },
        ],
        firstNs: -5n,
        lastNs: 2n ** 62n,
      },
      {
        ...base,
        id: a.tables.flows.length + 1,
        service: { ip: '1.2.3.4', port: 443, name: null, seen: false },
        bytes: 2 ** 40,
      },
    ];
    const flows = [...a.tables.flows, ...extra];
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ht-analysis-'));
    try {
      await writeAnalysisTables(dir, { ...a.tables, flows });
      const db = await openDuckDb({ memoryLimit: '256MB', threads: 1 });
      const con = await db.connect();
      try {
        for (const sql of analysisViewStatements(dir, await presentTables(dir))) await con.run(sql);
        const rows = async (sql: string) => (await con.runAndReadAll(sql)).getRowObjectsJson();
        const path = (p: Flow['requestPath']) => p.map((h) => `${h.point}:${h.dir}`).join(' > ');
        const big = (v: number | bigint) => String(v);
        const wantFlows = flows.map((f) => ({
          flow_id: f.id,
          ip_proto: f.proto,
          ip_version: f.family,
          client_ip: f.client.ip,
          client_port: f.client.port,
          client_pod: f.client.pod,
          client_node: f.client.node,
          service_ip: f.service?.ip ?? null,
          service_port: f.service?.port ?? null,
          service_name: f.service?.name ?? null,
          service_seen: f.service ? f.service.seen : null,
          server_ip: f.server.ip,
          server_port: f.server.port,
          server_pod: f.server.pod,
          server_node: f.server.node,
          packets: big(f.packets),
          request_packets: big(f.requestPackets),
          reply_packets: big(f.replyPackets),
          bytes: big(f.bytes),
          first_ns: big(f.firstNs),
          last_ns: big(f.lastNs),
          community_id_service: f.communityIdService,
          community_id_server: f.communityIdServer,
          request_path: path(f.requestPath),
          reply_path: path(f.replyPath),
          request_path_packets: big(f.requestPathPackets),
          reply_path_packets: big(f.replyPathPackets),
        }));
        const gotFlows = await rows('SELECT * FROM flows ORDER BY flow_id');
        assert.deepEqual(
          gotFlows.map((r) => Object.keys(r)),
          wantFlows.map((r) => Object.keys(r)),
        );
        assert.deepEqual(gotFlows, wantFlows);
        const wantHops = flows.flatMap((f) =>
          f.hops.map((h) => ({
            flow_id: f.id,
            leg: h.leg,
            hop: h.hop,
            from_point: h.from,
            to_point: h.to,
            samples: big(h.samples),
            min_ns: big(h.minNs),
            median_ns: big(h.medianNs),
            max_ns: big(h.maxNs),
          })),
        );
        assert.ok(wantHops.length > 0);
        assert.deepEqual(
          await rows(
            'SELECT flow_id, leg, hop, from_point, to_point, samples, min_ns, median_ns, max_ns FROM flow_hops ORDER BY flow_id, leg DESC, hop',
          ),
          wantHops,
        );
        assert.deepEqual(
          await rows(
            'SELECT flow_id, capture_point, status, seen, drops FROM flow_coverage ORDER BY flow_id, capture_point',
          ),
          flows.flatMap((f) =>
            f.coverage.map((c) => ({
              flow_id: f.id,
              capture_point: c.point,
              status: c.status,
              seen: c.seen,
              drops: c.drops === null ? null : big(c.drops),
            })),
          ),
        );
      } finally {
        con.closeSync();
        db.closeSync();
      }
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  },
);

test('a spilled analysis writes the same sightings table as one in memory', requireBundles(), async () => {
  const lab = labBundles().find((l) => l.mode === 'datapathv2') ?? labBundles()[0]!;
  const memory = await analysisFromBundle(lab.bundle);
  // over the budget: one evidence row per sighting, in row order (the stage reads its columns as they are)
  const spilled = await analysisFromBundle(lab.bundle, { memoryBudgetBytes: 1, spoolChunkFrames: 500 });
  assert.equal(spilled.correlation.sightings.frames.length, spilled.correlation.sightings.length);
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ht-analysis-'));
  try {
    await writeAnalysisTables(path.join(dir, 'm'), memory.tables);
    await writeAnalysisTables(path.join(dir, 's'), spilled.tables, { partRows: 100 });
    const db = await openDuckDb({ memoryLimit: '256MB', threads: 1 });
    const con = await db.connect();
    try {
      const rows = async (sql: string) => (await con.runAndReadAll(sql)).getRowObjectsJson();
      const read = (which: string) => `read_parquet('${path.join(dir, which, 'sightings', '*.parquet')}')`;
      const [n] = await rows(`SELECT count(*) AS n FROM ${read('m')}`);
      assert.equal(Number(n?.['n']), memory.correlation.sightings.length);
      // packets are numbered in slab order, and the spilled path cuts other slabs: every other column agrees
      for (const [a, b] of [
        ['m', 's'],
        ['s', 'm'],
      ] as const) {
        const [d] = await rows(
          `SELECT count(*) AS n FROM (SELECT * EXCLUDE (packet_id) FROM ${read(a)} EXCEPT ALL SELECT * EXCLUDE (packet_id) FROM ${read(b)})`,
        );
        assert.equal(Number(d?.['n']), 0, `rows only in ${a}`);
      }
    } finally {
      con.closeSync();
      db.closeSync();
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

/** streamAnalysis into an AnalysisStage whose parts go to `dir/parts`; the flows' ids in the order they ended. */
async function streamStage(
  bundle: string,
  dir: string,
  opts: Parameters<typeof streamAnalysis>[2],
  rowsPerPart?: number,
): Promise<{ stage: AnalysisStage; done: StreamedAnalysis; ended: number[] }> {
  let stage: AnalysisStage | undefined;
  const ended: number[] = [];
  const done = await streamAnalysis(
    bundle,
    {
      // a spooled capture's parts are written on its correlation worker, as `hoptrace analyze` has them
      open: async (texts, sightingsOn) => {
        stage = await AnalysisStage.open(path.join(dir, 'tmp'), path.join(dir, 'parts'), texts, {
          ...(rowsPerPart ? { rowsPerPart } : {}),
          ...(sightingsOn ? { sightingsOn } : {}),
        });
      },
      clock: () => undefined,
      slab: (s, flowOf, base) => stage!.sightings(s, flowOf, base),
      flow: (f) => {
        ended.push(f.id);
        stage!.flow(f);
      },
    },
    opts,
  );
  return { stage: stage!, done, ended };
}

/** `streamStage`, its tables written under `dir/streamed`. */
async function streamTables(
  bundle: string,
  dir: string,
  opts: Parameters<typeof streamAnalysis>[2],
  rowsPerPart?: number,
): Promise<number[]> {
  const { stage, done, ended } = await streamStage(bundle, dir, opts, rowsPerPart);
  await stage.finish(path.join(dir, 'streamed'), done.clockOffsets);
  return ended;
}

test(
  'streamed slab by slab into parts of 100 rows, the tables read as those written from the held analysis',
  requireBundles(),
  async () => {
    const lab = labBundles().find((l) => l.mode === 'datapathv2') ?? labBundles()[0]!;
    const spill = { memoryBudgetBytes: 1, spoolChunkFrames: 50, slabNs: 20e6 };
    const held = await analysisFromBundle(lab.bundle, spill);
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ht-analysis-parts-'));
    try {
      await writeAnalysisTables(path.join(dir, 'held'), held.tables);
      await streamTables(lab.bundle, dir, spill, 100);
      const parts = await fs.readdir(path.join(dir, 'streamed', 'sightings'));
      assert.ok(parts.length >= 3, `several parts (${parts.length})`);
      assert.deepEqual(await fs.readdir(path.join(dir, 'parts')), [], 'every part moved into the dataset');
      const db = await openDuckDb({ memoryLimit: '256MB', threads: 1 });
      const con = await db.connect();
      try {
        const rows = async (sql: string) => (await con.runAndReadAll(sql)).getRowObjectsJson();
        for (const [table, order] of [
          ['sightings', 'packet_id, hop'],
          ['flows', 'flow_id'],
          ['flow_hops', 'flow_id, leg, hop'],
          ['flow_coverage', 'flow_id, capture_point'],
          ['clock_offsets', 'node'],
        ] as const) {
          const read = (which: string) =>
            `SELECT * FROM read_parquet('${path.join(dir, which, table, '*.parquet')}') ORDER BY ${order}`;
          const [a, b] = [await rows(read('held')), await rows(read('streamed'))];
          if (table !== 'flow_coverage') assert.ok(a.length > 0, table);
          assert.deepEqual(b, a, table);
        }
        // the parts in name order are the rows in the order staged: packets ascending
        const seq = await rows(
          `SELECT packet_id FROM read_parquet('${path.join(dir, 'streamed', 'sightings', '*.parquet')}')`,
        );
        const ids = seq.map((r) => Number(r['packet_id']));
        assert.deepEqual(
          ids,
          [...ids].sort((x, y) => x - y),
        );
      } finally {
        con.closeSync();
        db.closeSync();
      }
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  },
);

test(
  'flows that end out of id order (1 ms idle timeout): the streamed tables list them as they ended, with the held rows',
  requireBundles(),
  async () => {
    const lab = labBundles().find((l) => l.mode === 'kernel') ?? labBundles()[0]!;
    const opts = { idleNs: 1e6, memoryBudgetBytes: 1, spoolChunkFrames: 50, slabNs: 20e6 };
    const held = await analysisFromBundle(lab.bundle, opts);
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ht-analysis-order-'));
    try {
      await writeAnalysisTables(path.join(dir, 'held'), held.tables);
      const ended = await streamTables(lab.bundle, dir, opts);
      assert.notDeepEqual(
        ended,
        [...ended].sort((x, y) => x - y),
        'flows end out of id order',
      );
      const db = await openDuckDb({ memoryLimit: '256MB', threads: 1 });
      const con = await db.connect();
      try {
        const rows = async (sql: string) => (await con.runAndReadAll(sql)).getRowObjectsJson();
        const read = (which: string, table: string) =>
          `SELECT * FROM read_parquet('${path.join(dir, which, table, '*.parquet')}')`;
        // as the file lists them, no ORDER BY: a flow's rows where it ended, its own rows in their order
        const seq = (await rows(read('streamed', 'flows'))).map((r) => Number(r['flow_id']));
        assert.deepEqual(seq, ended);
        const hops = (await rows(read('streamed', 'flow_hops'))).map((r) => Number(r['flow_id']));
        const rank = new Map(ended.map((id, k) => [id, k]));
        for (let k = 1; k < hops.length; k++)
          assert.ok(rank.get(hops[k - 1]!)! <= rank.get(hops[k]!)!, `flow_hops row ${k}`);
        // the held tables list flows in id order; the rows are the same
        assert.deepEqual(
          (await rows(read('held', 'flows'))).map((r) => Number(r['flow_id'])),
          [...ended].sort((x, y) => x - y),
        );
        for (const [table, order] of [
          ['flows', 'flow_id'],
          ['flow_hops', 'flow_id, leg, hop'],
          ['flow_coverage', 'flow_id, capture_point'],
        ] as const)
          assert.deepEqual(
            await rows(`${read('streamed', table)} ORDER BY ${order}`),
            await rows(`${read('held', table)} ORDER BY ${order}`),
            table,
          );
      } finally {
        con.closeSync();
        db.closeSync();
      }
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  },
);

test(
  'a stage discarded after a failure leaves none of the sightings parts it wrote',
  requireBundles(),
  async () => {
    const lab = labBundles()[0]!;
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ht-analysis-discard-'));
    try {
      const { stage } = await streamStage(
        lab.bundle,
        dir,
        { memoryBudgetBytes: 1, spoolChunkFrames: 50, slabNs: 20e6 },
        100,
      );
      // (the analysis ends here as if what follows it had failed)
      await stage.discard();
      assert.deepEqual(await fs.readdir(path.join(dir, 'parts')), []);
      assert.ok(!(await fs.readdir(dir)).includes('tmp'), 'the spill folder goes');
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  },
);
