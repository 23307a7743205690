/**
 * The plain-file byte source: a read that fails reaches the consumer as a SourceError after the last
 * good chunk, even when it fails (read ahead) while the consumer is busy elsewhere.
 */
import assert from 'node:assert/strict';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mock, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { openCapture, SourceError } from '../../../ingest/source/open-capture.ts';

test('a read ahead that fails while the consumer is busy: a SourceError after the good chunk, no unhandled rejection', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hoptrace-open-'));
  const path = join(dir, 'plain.bin');
  const chunk = 64;
  const bytes = new Uint8Array(4 * chunk).map((_, i) => i & 0xff);
  await writeFile(path, bytes);
  const probe = await open(path, 'r');
  const proto = Object.getPrototypeOf(probe) as { read: (...args: unknown[]) => Promise<unknown> };
  await probe.close();
  const read = proto.read;
  let calls = 0;
  // the header sniff, the first chunk, then the read ahead of the second chunk fails
  const mocked = mock.method(proto, 'read', function (this: unknown, ...args: unknown[]) {
    calls++;
    if (calls === 3) return Promise.reject(Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' }));
    return read.apply(this, args);
  });
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };
  process.on('unhandledRejection', onUnhandled);
  try {
    const source = await openCapture(path, chunk);
    assert.equal(source.compression, 'none');
    const it = source.chunks[Symbol.asyncIterator]();
    const first = await it.next();
    assert.deepEqual(first.value, bytes.subarray(0, chunk));
    // busy elsewhere while the read ahead fails
    await sleep(50);
    await assert.rejects(it.next(), (err: unknown) => {
      assert.ok(err instanceof SourceError);
      assert.equal(err.code, 'io.read-failed');
      return true;
    });
    assert.equal(calls, 3);
    assert.deepEqual(unhandled, []);
  } finally {
    process.off('unhandledRejection', onUnhandled);
    mocked.mock.restore();
    await rm(dir, { recursive: true, force: true });
  }
});
