import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { AnalysisStage } from '../../../analyzers/write-analysis.ts';
import { flowOf } from './hand-flow.ts';
import { sightingsOf } from './hand-sightings.ts';

const noTexts = { points: [], pointNode: [], pointKind: [], files: [], ip4: [], ip6: [] };

test('a parts folder that cannot be made fails the opening', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ht-analysis-'));
  try {
    const file = path.join(dir, 'a-file');
    await fs.writeFile(file, '');
    await assert.rejects(
      AnalysisStage.open(path.join(dir, 'tmp'), path.join(file, 'parts'), noTexts),
      /ENOTDIR|not a directory/,
    );
    assert.ok(!(await fs.readdir(dir)).includes('tmp'), "the flows tables' folder goes");
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('a part that cannot be written fails the tables, and the stage still closes', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ht-analysis-'));
  try {
    const parts = path.join(dir, 'parts');
    const texts = { ...noTexts, points: ['p0'], pointNode: ['n1'], pointKind: ['other'], files: ['f.pcap'] };
    const stage = await AnalysisStage.open(path.join(dir, 'tmp'), parts, texts, { rowsPerPart: 1 });
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
      await stage.finish(path.join(dir, 'dataset'), []);
    })();
    await assert.rejects(staged, /ENOENT|no such file/);
    await stage.discard();
    assert.ok(!(await fs.readdir(dir)).includes('tmp'), "the flows tables' folder goes");
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('a flows folder that cannot be made fails the opening, and the sightings parts go', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ht-analysis-'));
  try {
    const file = path.join(dir, 'a-file');
    await fs.writeFile(file, '');
    const parts = path.join(dir, 'parts');
    await assert.rejects(
      AnalysisStage.open(path.join(file, 'tmp'), parts, noTexts),
      /ENOTDIR|not a directory/,
    );
    assert.deepEqual(await fs.readdir(parts), []);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('flows tables whose folder is removed under them fail the finish, and nothing is left in the dataset', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ht-analysis-'));
  try {
    const tmp = path.join(dir, 'tmp');
    const stage = await AnalysisStage.open(tmp, path.join(dir, 'parts'), noTexts);
    for (let k = 0; k < 5000; k++) stage.flow(flowOf(k));
    await fs.rm(tmp, { recursive: true });
    const dataset = path.join(dir, 'dataset');
    await assert.rejects(stage.finish(dataset, []), /ENOENT|no such file/);
    const left = await fs.readdir(dataset, { recursive: true }).catch(() => []);
    assert.deepEqual(
      left.filter((f) => String(f).endsWith('.parquet')),
      [],
    );
    assert.deepEqual(await fs.readdir(path.join(dir, 'parts')), []);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('a move into the dataset that fails after others took nothing leaves no table there; finish once only', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ht-analysis-'));
  try {
    const dataset = path.join(dir, 'dataset');
    // the last file to move (clock_offsets) meets a folder of its name: the three before it have moved
    const blocker = path.join(dataset, 'clock_offsets', 'clock_offsets.parquet');
    await fs.mkdir(path.join(blocker, 'x'), { recursive: true });
    const stage = await AnalysisStage.open(path.join(dir, 'tmp'), path.join(dir, 'parts'), noTexts);
    for (let k = 0; k < 10; k++) stage.flow(flowOf(k));
    await assert.rejects(stage.finish(dataset, []), /EISDIR|ENOTEMPTY|EEXIST|directory/);
    const left = (await fs.readdir(dataset, { recursive: true })).map(String);
    assert.deepEqual(
      left.filter(
        (f) => f.endsWith('.parquet') && !f.startsWith(path.join('clock_offsets', 'clock_offsets.parquet')),
      ),
      [],
    );
    assert.ok(!(await fs.readdir(dir)).includes('tmp'));

    const again = await AnalysisStage.open(path.join(dir, 'tmp2'), path.join(dir, 'parts2'), noTexts);
    again.flow(flowOf(1));
    const done = path.join(dir, 'done');
    await again.finish(done, []);
    await assert.rejects(again.finish(done, []), /finish when finished/);
    // a discard after a finish leaves the tables where they are
    await again.discard();
    assert.ok((await fs.readdir(path.join(done, 'flows'))).includes('flows.parquet'));
    assert.throws(() => again.flow(flowOf(2)), /a flow added once finished/);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
