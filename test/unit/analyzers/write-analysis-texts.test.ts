import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { Flow } from '../../../analyzers/flows.ts';
import { writeAnalysisTables } from '../../../analyzers/write-analysis.ts';
import { openDuckDb } from '../../../ingest/dataset/duckdb.ts';
import { sightingsOf } from './hand-sightings.ts';

/** Flow k with texts of its own: two Community IDs, a client pod and a coverage point. */
function flowOf(k: number): Flow {
  return {
    id: k,
    proto: 6,
    family: 4,
    client: { ip: '10.0.0.1', port: 1000 + (k % 50000), pod: `pod-${k}`, node: 'n1' },
    service: null,
    server: { ip: '10.0.0.2', port: 80, pod: null, node: 'n2' },
    packets: 1,
    requestPackets: 1,
    replyPackets: 0,
    bytes: 60,
    firstNs: BigInt(k),
    lastNs: BigInt(k),
    communityIdService: `1:service-${k}`,
    communityIdServer: `1:server-${k}`,
    requestPath: [{ point: 'p', dir: 'out' }],
    replyPath: [],
    requestPathPackets: 1,
    replyPathPackets: 0,
    hops: [],
    coverage: [{ point: `point-${k}`, status: 'not_captured', seen: false, drops: null }],
  };
}

test('flow texts past one DuckDB row group (122 880), on several threads: every row its own', async () => {
  // 4 texts a flow: 800 000 texts, seven row groups of the texts table, scanned by eight threads (with two,
  // the list came out in order about half the time)
  const flows = Array.from({ length: 200000 }, (_, k) => flowOf(k));
  const sightings = sightingsOf([], [], []);
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ht-analysis-'));
  try {
    const tables = { sightings, flows, flowOfPacket: new Int32Array(0), clockOffsets: [], files: [] };
    await writeAnalysisTables(dir, tables, { memoryLimit: '512MB', threads: 8 });
    const db = await openDuckDb({ memoryLimit: '256MB', threads: 1 });
    const con = await db.connect();
    try {
      const read = (table: string) => `read_parquet('${path.join(dir, table, `${table}.parquet`)}')`;
      const rows = async (sql: string) => (await con.runAndReadAll(sql)).getRowObjectsJson();
      const [bad] = await rows(`SELECT count(*) AS n FROM ${read('flows')}
        WHERE client_pod <> 'pod-' || flow_id OR community_id_service <> '1:service-' || flow_id
          OR community_id_server <> '1:server-' || flow_id OR client_ip <> '10.0.0.1' OR request_path <> 'p:out'`);
      assert.equal(Number(bad?.['n']), 0);
      const [badCoverage] = await rows(
        `SELECT count(*) AS n FROM ${read('flow_coverage')} WHERE capture_point <> 'point-' || flow_id`,
      );
      assert.equal(Number(badCoverage?.['n']), 0);
      const [n] = await rows(`SELECT count(*) AS n FROM ${read('flows')}`);
      assert.equal(Number(n?.['n']), flows.length);
    } finally {
      con.closeSync();
      db.closeSync();
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
