import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ENUM } from '@duckdb/node-api';
import { ColumnAppender, stageCol } from '../../../analyzers/stage-columns.ts';
import { openDuckDb } from '../../../ingest/dataset/duckdb.ts';

test('a stage column wider than its DuckDB type is refused, not copied past the vector', async () => {
  const db = await openDuckDb({ memoryLimit: '64MB', threads: 1 });
  const con = await db.connect();
  try {
    const stage = await ColumnAppender.open(con, 't', [stageCol('x', new Uint8Array(0))]);
    // 2-byte values for a 1-byte column: 4 096 bytes for a 2 048-byte vector
    const wide = { ...stageCol('x', new Uint8Array(0)), data: new Uint16Array(4096).fill(7) };
    assert.throws(() => stage.append([wide], 4096), /stage column x: 2-byte values for UTINYINT/);
    // an ENUM of 256 values stores 2-byte indexes, one of 255 1-byte ones
    const e = ENUM(Array.from({ length: 256 }, (_, i) => `v${i}`));
    const enumCol = { name: 'e', type: e, sql: 'VARCHAR', data: new Uint8Array(1) };
    const stage2 = await ColumnAppender.open(con, 'u', [stageCol('e', new Uint16Array(0))]);
    assert.throws(() => stage2.append([enumCol], 1), /stage column e: 1-byte values for ENUM/);
    stage.append([stageCol('x', new Uint8Array([1, 2, 3]))], 3);
    stage.close();
    stage2.close();
    const rows = (await con.runAndReadAll('SELECT x FROM t ORDER BY x')).getRowObjectsJson();
    assert.deepEqual(
      rows.map((r) => r['x']),
      [1, 2, 3],
    );
  } finally {
    con.closeSync();
    db.closeSync();
  }
});
