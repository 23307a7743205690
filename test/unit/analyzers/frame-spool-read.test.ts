import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { FrameSpool } from '../../../analyzers/correlate/frame-spool.ts';

test('a read of columns other than those it filters on keeps the rows of the time range', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ht-spool-'));
  // chunks of 10 rows, blocks of 4 (10 is not a multiple): frame k at time k
  const spool = new FrameSpool(path.join(dir, 'frames.bin'), 10, 4);
  try {
    const f = spool.table;
    f.reserve(20);
    for (let k = 0; k < 20; k++) {
      f.t[k] = k;
      f.frame[k] = k;
      f.fpValid[k] = 1;
    }
    f.length = 20;
    spool.flush();
    const frames = (columns?: ('frame' | 't')[]) => {
      const out = spool.read(3, 15, null, 0, columns);
      return [...out.frame.subarray(0, out.length)];
    };
    const want = Array.from({ length: 12 }, (_, k) => k + 3);
    assert.deepEqual(frames(), want);
    assert.deepEqual(frames(['frame']), want);
    assert.deepEqual(frames(['frame', 't']), want);
  } finally {
    spool.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
