import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { analysisFromBundle } from '../../../analyzers/analysis-from-bundle.ts';
import { writeAnalysisTables } from '../../../analyzers/write-analysis.ts';
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
      await writeAnalysisTables(dir, a.tables, { memoryLimit: '256MB', threads: 1, partRows: 100 });
      const db = await openDuckDb({ memoryLimit: '256MB', threads: 1 });
      const con = await db.connect();
      try {
        for (const sql of analysisViewStatements(dir, await presentTables(dir))) await con.run(sql);
        const rows = async (sql: string) => (await con.runAndReadAll(sql)).getRowObjectsJson();
        const [count] = await rows('SELECT count(*) AS n, count(DISTINCT packet_id) AS p FROM sightings');
        assert.equal(Number(count?.['n']), a.correlation.sightings.length);
        assert.equal(Number(count?.['p']), a.correlation.sightings.packets);
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
