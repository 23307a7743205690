import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { FrameTable } from '../../../analyzers/correlate/frame-table.ts';
import { stageAnalysisTables } from '../../../analyzers/write-analysis.ts';

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
    const frames = new FrameTable(16);
    const sightings = {
      frames,
      points: [],
      pointNode: [],
      pointKind: [],
      length: 0,
      packet: new Uint32Array(0),
      hop: new Uint16Array(0),
      point: new Uint16Array(0),
      frame: new Int32Array(0),
      count: new Uint32Array(0),
      t: new Float64Array(0),
      bytes: new Float64Array(0),
      role: new Uint8Array(0),
      rewrite: new Uint8Array(0),
      collided: new Uint8Array(0),
      packetStart: Int32Array.of(0),
      packets: 0,
    };
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
