/**
 * The plain-file byte source: a read that fails reaches the consumer as a SourceError after the last
 * good chunk, even when it fails (read ahead) while the consumer is busy elsewhere; the reads ahead
 * give the file's bytes in order whatever order they complete in, and a short read mid-file loses
 * nothing.
 */
import assert from 'node:assert/strict';
import { constants } from 'node:fs';
import { mkdtemp, open, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mock, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { READ_SLOT_BYTES } from '../../../ingest/decode/payload-hash-wasm.ts';
import {
  BUFFERS_PER_READ,
  openCapture,
  type ReadCounts,
  SourceError,
} from '../../../ingest/source/open-capture.ts';

test('a read ahead that fails while the consumer is busy: a SourceError after the good chunks, no unhandled rejection', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hoptrace-open-'));
  const path = join(dir, 'plain.bin');
  const chunk = 64;
  const bytes = new Uint8Array(8 * chunk).map((_, i) => i & 0xff);
  await writeFile(path, bytes);
  const proto = await fileHandleProto(path);
  const readv = proto.readv;
  let calls = 0;
  // the first request (its BUFFERS_PER_READ chunks) is read, the request read ahead after it fails
  const mocked = mock.method(proto, 'readv', function (this: unknown, ...args: unknown[]) {
    calls++;
    if (calls === 2) return Promise.reject(Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' }));
    return readv.apply(this, args);
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
    for (let k = 1; k < BUFFERS_PER_READ; k++) {
      const more = await it.next();
      assert.deepEqual(more.value, bytes.subarray(k * chunk, (k + 1) * chunk));
    }
    await assert.rejects(it.next(), (err: unknown) => {
      assert.ok(err instanceof SourceError);
      assert.equal(err.code, 'io.read-failed');
      return true;
    });
    assert.ok(calls >= 2);
    assert.deepEqual(unhandled, []);
  } finally {
    process.off('unhandledRejection', onUnhandled);
    mocked.mock.restore();
    await rm(dir, { recursive: true, force: true });
  }
});

type ReadV = (...args: unknown[]) => Promise<unknown>;

/** FileHandle's prototype, whose readv the tests replace. */
async function fileHandleProto(path: string): Promise<{ readv: ReadV }> {
  const probe = await open(path, 'r');
  const proto = Object.getPrototypeOf(probe) as { readv: ReadV };
  await probe.close();
  return proto;
}

/**
 * Reads `path` in `chunk`-byte buffers through a FileHandle.readv replaced by `readAs(call, args,
 * readv, fd)` (call 1 is the first request, `fd` the handle's descriptor); returns the bytes the chunks
 * give, in order, and the source's read counts.
 */
async function readThrough(
  path: string,
  chunk: number,
  readAs: (call: number, args: unknown[], readv: ReadV, fd: number) => Promise<unknown>,
): Promise<{ bytes: Uint8Array; reads: ReadCounts }> {
  const proto = await fileHandleProto(path);
  const readv = proto.readv;
  let calls = 0;
  const mocked = mock.method(proto, 'readv', function (this: { fd: number }, ...args: unknown[]) {
    calls++;
    return readAs(calls, args, (...a: unknown[]) => readv.apply(this, a), this.fd);
  });
  try {
    const source = await openCapture(path, chunk);
    const parts: Uint8Array[] = [];
    for await (const c of source.chunks) parts.push(c.slice());
    return { bytes: new Uint8Array(Buffer.concat(parts)), reads: source.reads };
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
    assert.deepEqual(got.bytes, bytes);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** A request's bytes cut short: its first buffer to 10 bytes, or the last one, or to its first buffer alone. */
const shortCuts: [string, (bufs: Uint8Array[]) => Uint8Array[]][] = [
  ['in its first buffer', (bufs) => [bufs[0]!.subarray(0, 10)]],
  ['in its last buffer', (bufs) => [...bufs.slice(0, -1), bufs[bufs.length - 1]!.subarray(0, 10)]],
  ['at a buffer boundary', (bufs) => bufs.slice(0, 1)],
];

for (const [where, cut] of shortCuts) {
  test(`a short read in mid-file, ${where}: the bytes after it are read again, none lost or repeated`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hoptrace-open-'));
    const path = join(dir, 'plain.bin');
    const bytes = new Uint8Array(12 * 64).map((_, i) => (i * 13 + 5) & 0xff);
    await writeFile(path, bytes);
    try {
      // the second request gets fewer bytes than it asked for, as a read interrupted by a signal may
      let cutShort = false;
      const got = await readThrough(path, 64, (call, args, readv) => {
        if (call !== 2) return readv(...args);
        const [bufs, position] = args as [Uint8Array[], number];
        if (bufs.length < 2) return readv(...args);
        cutShort = true;
        return readv(cut(bufs), position);
      });
      assert.ok(cutShort);
      assert.deepEqual(got.bytes, bytes);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}

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

/**
 * Does the temporary folder's file system take O_DIRECT reads? CI's does (ext4): there it must, or the
 * tests below would check the page cache's path twice.
 */
async function directHere(path: string): Promise<boolean> {
  let ok = false;
  try {
    await (await open(path, constants.O_RDONLY | constants.O_DIRECT)).close();
    ok = true;
  } catch {
    ok = false;
  }
  if (process.env.CI === 'true') assert.ok(ok, `${tmpdir()} takes no O_DIRECT reads in CI`);
  return ok;
}

/**
 * Runs `check` on a file of read slots (three requests and a tail of 12 345 bytes, not a whole block)
 * in a folder of its own, told whether the folder takes direct reads.
 */
async function withSlotsFile(
  check: (path: string, bytes: Uint8Array, direct: boolean) => Promise<void>,
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'hoptrace-open-'));
  try {
    const path = join(dir, 'slots.bin');
    const bytes = new Uint8Array(3 * BUFFERS_PER_READ * READ_SLOT_BYTES + 12_345).map(
      (_, i) => (i * 31 + (i >>> 12)) & 0xff,
    );
    await writeFile(path, bytes);
    await check(path, bytes, await directHere(path));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('a plain file read in read slots goes past the page cache, every byte in order', () =>
  withSlotsFile(async (path, bytes, direct) => {
    const got = await readThrough(path, READ_SLOT_BYTES, (_call, args, readv) => readv(...args));
    assert.ok(Buffer.from(got.bytes).equals(bytes));
    if (direct) {
      // every request starts at a block but the one after the short tail, which finds the end
      assert.ok(got.reads.direct >= 4, `direct reads: ${got.reads.direct}`);
      assert.ok(got.reads.cached <= 1, `cached reads: ${got.reads.cached}`);
    } else assert.equal(got.reads.direct, 0);
  }));

test('after a short direct read, the rest is read through the page cache from where it stopped', (t) =>
  withSlotsFile(async (path, bytes, direct) => {
    if (!direct) {
      // CI's folder takes O_DIRECT (directHere fails there otherwise)
      t.skip('the temporary folder takes no O_DIRECT reads');
      return;
    }
    // the first request reads whole but says it got 100 000 bytes, as an interrupted one may: the next
    // offset is inside a block, which a direct read cannot start at
    const got = await readThrough(path, READ_SLOT_BYTES, async (call, args, readv) => {
      const done = (await readv(...args)) as { bytesRead: number; buffers: Uint8Array[] };
      return call === 1 ? { ...done, bytesRead: 100_000 } : done;
    });
    assert.ok(Buffer.from(got.bytes).equals(bytes));
    assert.ok(got.reads.direct >= 1);
    assert.ok(got.reads.cached >= 1, `cached reads: ${got.reads.cached}`);
  }));

test('a file system that opens direct but refuses the read (EINVAL): read through the page cache instead', (t) =>
  withSlotsFile(async (path, bytes, direct) => {
    if (!direct) {
      // CI's folder takes O_DIRECT (directHere fails there otherwise)
      t.skip('the temporary folder takes no O_DIRECT reads');
      return;
    }
    // the first request is a direct one: its descriptor's reads are refused from then on
    let refused = -1;
    const got = await readThrough(path, READ_SLOT_BYTES, (call, args, readv, fd) => {
      if (call === 1) refused = fd;
      if (fd === refused) {
        return Promise.reject(Object.assign(new Error('EINVAL: invalid argument, read'), { code: 'EINVAL' }));
      }
      return readv(...args);
    });
    assert.ok(Buffer.from(got.bytes).equals(bytes));
    assert.equal(got.reads.direct, 0);
    assert.ok(got.reads.cached >= 4);
  }));

test('a capture renamed over while it is opened: every byte from the file opened first', (t) =>
  withSlotsFile(async (path, bytes, direct) => {
    if (!direct) {
      t.skip('the temporary folder takes no O_DIRECT reads');
      return;
    }
    // another capture of the same length, renamed over the path while openCapture reads its head (a
    // rotation, an atomic replace): the direct handle must be the same file as the first
    const other = `${path}.next`;
    await writeFile(
      other,
      bytes.map((b) => b ^ 0xff),
    );
    const probe = await open(path, 'r');
    const proto = Object.getPrototypeOf(probe) as { read: ReadV };
    await probe.close();
    const read = proto.read;
    const mocked = mock.method(proto, 'read', async function (this: unknown, ...args: unknown[]) {
      mocked.mock.restore();
      const done = await read.apply(this, args);
      await rename(other, path);
      return done;
    });
    try {
      const source = await openCapture(path, READ_SLOT_BYTES);
      const parts: Uint8Array[] = [];
      for await (const c of source.chunks) parts.push(c.slice());
      assert.ok(Buffer.concat(parts).equals(bytes));
      assert.ok(source.reads.direct >= 4);
    } finally {
      mocked.mock.restore();
    }
  }));
