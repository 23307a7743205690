import assert from 'node:assert/strict';
import { readlinkSync } from 'node:fs';
import { getPriority } from 'node:os';
import { test } from 'node:test';
import { tsWorker } from '../../../ingest/dataset/ts-worker.ts';

test('a thread that lowers its priority runs lower, and the process keeps its own', async () => {
  const self = () => Number(readlinkSync('/proc/thread-self').split('/').pop());
  const before = getPriority(self());
  const w = tsWorker(new URL('./lower-priority-worker.ts', import.meta.url), 3);
  const seen = await new Promise<{ before: number; after: number; child: number }>((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
  await w.terminate();
  // (a process already near the lowest priority could not show the change)
  assert.ok(seen.before <= 16, `room to lower from ${seen.before}`);
  assert.equal(seen.after, seen.before + 3, 'the thread is 3 steps lower');
  assert.equal(seen.child, seen.after, 'a thread it starts inherits its priority');
  assert.equal(getPriority(self()), before, 'this thread is untouched');
});
