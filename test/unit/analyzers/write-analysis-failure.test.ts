import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { AnalysisStage, stageAnalysisTables } from '../../../analyzers/write-analysis.ts';
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

const noTexts = { points: [], pointNode: [], pointKind: [], files: [], ip4: [], ip6: [] };

test('a parts folder that cannot be made fails the opening', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ht-analysis-'));
  try {
    const file = path.join(dir, 'a-file');
    await fs.writeFile(file, '');
    await assert.rejects(
      AnalysisStage.open(path.join(dir, 'tmp'), path.join(file, 'parts'), noTexts, {
        memoryLimit: '64MB',
        threads: 1,
      }),
      /ENOTDIR|not a directory/,
    );
    assert.ok(!(await fs.readdir(dir)).includes('tmp'), 'the spill folders go');
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('a part that cannot be written fails the tables, and the stage still closes', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ht-analysis-'));
  try {
    const parts = path.join(dir, 'parts');
    const texts = { ...noTexts, points: ['p0'], pointNode: ['n1'], pointKind: ['other'], files: ['f.pcap'] };
    const stage = await AnalysisStage.open(path.join(dir, 'tmp'), parts, texts, {
      memoryLimit: '64MB',
      threads: 1,
      rowsPerPart: 1,
    });
    // the parts folder goes: the first part cannot be made
    await fs.rm(parts, { recursive: true });
    const rows = Array.from({ length: 4 }, (_, i) => ({
      point: 0,
      file: 0,
      src: 0x0a000001 + i,
      dst: 0x0a000002,
    }));
    const s = sightingsOf(rows, ['p0'], ['n1']);
    const staged = (async () => {
      await stage.sightings(s, new Int32Array(s.packets).fill(-1), 0);
      return (await stage.finish(path.join(dir, 'dataset'), [])).written;
    })();
    await assert.rejects(staged, /ENOENT|no such file/);
    await stage.discard();
    assert.ok(!(await fs.readdir(dir)).includes('tmp'), 'the spill folders go');
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
