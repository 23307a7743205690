/**
 * The plain-file byte source: a read that fails reaches the consumer as a SourceError after the last
 * good chunk, even when it fails (read ahead) while the consumer is busy elsewhere; the reads ahead
 * give the file's bytes in order whatever order they complete in, and a short read mid-file loses
 * nothing.
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
    assert.ok(calls >= 3);
    assert.deepEqual(unhandled, []);
  } finally {
    process.off('unhandledRejection', onUnhandled);
    mocked.mock.restore();
    await rm(dir, { recursive: true, force: true });
  }
});

/**
 * Reads `path` in `chunk`-byte reads through a FileHandle.read replaced by `readAs(call, args, read)`
 * (call 1 is the header sniff); returns the bytes the chunks give, in order.
 */
async function readThrough(
  path: string,
  chunk: number,
  readAs: (call: number, args: unknown[], read: (...args: unknown[]) => Promise<unknown>) => Promise<unknown>,
): Promise<Uint8Array> {
  const probe = await open(path, 'r');
  const proto = Object.getPrototypeOf(probe) as { read: (...args: unknown[]) => Promise<unknown> };
  await probe.close();
  const read = proto.read;
  let calls = 0;
  const mocked = mock.method(proto, 'read', function (this: unknown, ...args: unknown[]) {
    calls++;
    return readAs(calls, args, (...a: unknown[]) => read.apply(this, a));
  });
  try {
    const source = await openCapture(path, chunk);
    const parts: number[] = [];
    for await (const c of source.chunks) parts.push(...c);
    return Uint8Array.from(parts);
  } finally {
    mocked.mock.restore();
  }
}

test('reads ahead that complete out of order give the chunks in file order', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hoptrace-open-'));
  const path = join(dir, 'plain.bin');
  const bytes = new Uint8Array(10 * 64 + 17).map((_, i) => (i * 7) & 0xff);
  await writeFile(path, bytes);
  try {
    // every other read starts late: the ones issued after it are done first
    const got = await readThrough(path, 64, async (call, args, read) => {
      if (call % 2 === 0) await sleep(20);
      return read(...args);
    });
    assert.deepEqual(got, bytes);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a short read in mid-file: the bytes after it are read again, none lost or repeated', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hoptrace-open-'));
  const path = join(dir, 'plain.bin');
  const bytes = new Uint8Array(8 * 64).map((_, i) => (i * 13 + 5) & 0xff);
  await writeFile(path, bytes);
  try {
    // the third chunk's read returns 10 of its 64 bytes, as a read interrupted by a signal may
    const got = await readThrough(path, 64, (call, args, read) => {
      if (call !== 4) return read(...args);
      const [buf, offset, , position] = args as [Uint8Array, number, number, number];
      return read(buf, offset, 10, position);
    });
    assert.deepEqual(got, bytes);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a chunk holder: no buffer is refilled before its release, every one is released by the end', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hoptrace-open-'));
  const path = join(dir, 'plain.bin');
  const chunk = 64;
  const bytes = new Uint8Array(40 * chunk + 9).map((_, i) => (i * 29 + 3) & 0xff);
  await writeFile(path, bytes);
  // what each buffer (by identity) held when it was last given out, until released
  const given = new Map<Uint8Array, Uint8Array>();
  let refilledEarly = 0;
  let releases = 0;
  const holder = {
    buffers: 6,
    release(buf: Uint8Array): void {
      releases++;
      for (const [view, copy] of given) {
        if (view.buffer !== buf.buffer || view.byteOffset !== buf.byteOffset) continue;
        if (!copy.every((b, i) => view[i] === b)) refilledEarly++;
        given.delete(view);
      }
    },
  };
  try {
    const source = await openCapture(
      path,
      chunk,
      (c) => {
        given.set(c, c.slice());
      },
      holder,
    );
    const parts: number[] = [];
    for await (const c of source.chunks) parts.push(...c);
    assert.deepEqual(Uint8Array.from(parts), bytes);
    assert.equal(refilledEarly, 0);
    // every chunk given was let go of before its buffer went back
    assert.equal(given.size, 0);
    assert.ok(releases >= 41);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
