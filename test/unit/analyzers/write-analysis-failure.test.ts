import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { stageAnalysisTables } from '../../../analyzers/write-analysis.ts';
import { sightingsOf } from './hand-sightings.ts';

test('a database whose connection fails is closed, and its temporary folder removed', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ht-analysis-'));
  const proto = DuckDBInstance.prototype;
  const { connect, closeSync } = proto;
  let closed = 0;
  try {
    proto.connect = () => Promise.reject(new Error('no connection'));
    proto.closeSync = function (this: DuckDBInstance) {
      closed++;
      closeSync.call(this);
    };
    const sightings = sightingsOf([], [], []);
    const tables = { sightings, flows: [], flowOfPacket: new Int32Array(0), clockOffsets: [], files: [] };
    await assert.rejects(
      stageAnalysisTables(dir, tables, { memoryLimit: '64MB', threads: 1 }),
      /no connection/,
    );
    assert.equal(closed, 1);
    assert.deepEqual(
      (await fs.readdir(dir)).filter((n) => n.startsWith('.analysis-tmp')),
      [],
    );
  } finally {
    proto.connect = connect;
    proto.closeSync = closeSync;
    await fs.rm(dir, { recursive: true, force: true });
  }
});
