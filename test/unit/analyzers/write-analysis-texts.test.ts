import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { writeAnalysisTables } from '../../../analyzers/write-analysis.ts';
import { openDuckDb } from '../../../ingest/dataset/duckdb.ts';
import { flowOf } from './hand-flow.ts';
import { sightingsOf } from './hand-sightings.ts';

test('flow texts past 65 536 distinct in a row group: every row its own', async () => {
  // 2 distinct texts a flow in the dictionary (client pod, coverage point): a row group's dictionary
  // fills at 65 536 texts, so the flows' row groups end there; the Community IDs are strings
  const flows = Array.from({ length: 200000 }, (_, k) => flowOf(k));
  const sightings = sightingsOf([], [], []);
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ht-analysis-'));
  try {
    const tables = { sightings, flows, flowOfPacket: new Int32Array(0), clockOffsets: [], files: [] };
    await writeAnalysisTables(dir, tables);
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
