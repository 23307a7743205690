import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openDuckDb, setMemoryLimit } from '../../../ingest/dataset/duckdb.ts';

test('a memory limit is changed on an open database; anything but digits and a unit is refused', async () => {
  const db = await openDuckDb({ memoryLimit: '256MB', threads: 1 });
  const con = await db.connect();
  try {
    const limit = async () =>
      String((await con.runAndReadAll(`SELECT current_setting('memory_limit') AS m`)).getRows()[0]![0]);
    const before = await limit();
    await setMemoryLimit(con, '64MB');
    assert.notEqual(await limit(), before);
    assert.match(await limit(), /^6[0-4]\.\d+ MiB$/);
    for (const bad of ["1GB'; SET threads = 9; --", '1 GB', '', '64mb'])
      await assert.rejects(setMemoryLimit(con, bad), /memory limit/);
    assert.match(await limit(), /^6[0-4]\.\d+ MiB$/, 'unchanged by a refused one');
  } finally {
    con.closeSync();
    db.closeSync();
  }
});
