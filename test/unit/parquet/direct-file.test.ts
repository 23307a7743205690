/**
 * DirectFile: whatever the split of the writes (empty, one byte, a block and a byte either side, more
 * than the 1 MiB staging buffer at once), the file holds exactly the bytes written, in order, and is
 * exactly as long: past the page cache (O_DIRECT, whole blocks, the padded last block truncated) where
 * the folder's file system takes it, through the page cache where it does not (tmpfs before Linux 6.6).
 * And direct-io.ts's `readFileDirect`, which reads such files back past the page cache: every byte, in
 * order, falling back to the page cache when a read is refused.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, mock, test } from 'node:test';
import { DirectFile } from '../../../ingest/dataset/parquet/direct-file.ts';
import { readFileDirect } from '../../../ingest/source/direct-io.ts';

const folders = [fs.mkdtempSync(path.join(os.tmpdir(), 'ht-direct-'))];
if (fs.existsSync('/dev/shm')) folders.push(fs.mkdtempSync('/dev/shm/ht-direct-'));
after(() => {
  for (const f of folders) fs.rmSync(f, { recursive: true, force: true });
});

/** A small deterministic PRNG, so failures replay. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function bytes(n: number, next: () => number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (next() * 256) | 0;
  return b;
}

/** Writes `calls` (each a list of segments) and returns what the file must hold. */
function writeAll(file: DirectFile, calls: readonly (readonly Uint8Array[])[]): Uint8Array {
  let total = 0;
  for (const c of calls) for (const s of c) total += s.length;
  const want = new Uint8Array(total);
  let at = 0;
  for (const c of calls) {
    file.write(c);
    for (const s of c) {
      want.set(s, at);
      at += s.length;
    }
    assert.equal(file.size, at);
  }
  return want;
}

const SPLITS: Record<string, number[][]> = {
  nothing: [],
  'one byte': [[1]],
  'empty segments': [[0, 0], [0]],
  'a block exactly': [[4096]],
  'a block either side of a byte': [[4095], [1], [1], [4095, 4097]],
  'small writes across many blocks': Array.from({ length: 300 }, (_, i) => [(i * 37) % 101, 7]),
  'more than the staging buffer in one write': [[3], [1 << 20, 1, (1 << 20) + 4093]],
  'staging buffer exactly after a tail': [[100], [(1 << 20) - 100], [5]],
};

/** `file` read with readFileDirect: its bytes, and the flags of each open that succeeded, in order. */
function readBack(file: string, failRead = 0): { got: Buffer; opens: number[] } {
  const opens: number[] = [];
  const open = fs.openSync;
  const read = fs.readSync;
  let reads = 0;
  // the flags of each open that succeeded (one refused is not a file read)
  const o = mock.method(fs, 'openSync', (p: fs.PathLike, flags: fs.OpenMode, mode?: fs.Mode) => {
    const fd = open(p, flags, mode);
    opens.push(typeof flags === 'number' ? flags : 0);
    return fd;
  });
  const r = mock.method(fs, 'readSync', (...args: Parameters<typeof fs.readSync>) => {
    if (++reads === failRead)
      throw Object.assign(new Error('EINVAL: invalid argument, read'), { code: 'EINVAL' });
    return read(...args);
  });
  try {
    const parts: Buffer[] = [];
    readFileDirect(file, (b) => parts.push(Buffer.from(b)));
    return { got: Buffer.concat(parts), opens };
  } finally {
    o.mock.restore();
    r.mock.restore();
  }
}

const isDirectOpen = (flags: number): boolean => (flags & fs.constants.O_DIRECT) !== 0;

describe('DirectFile', () => {
  for (const folder of folders) {
    for (const [name, split] of Object.entries(SPLITS)) {
      for (const direct of [true, false]) {
        test(`${name} (${folder.split('/')[1]}, ${direct ? 'direct where allowed' : 'page cache'})`, (t) => {
          const next = rng(name.length * 7919 + split.length);
          const file = new DirectFile(path.join(folder, `${name.replaceAll(' ', '-')}-${direct}.bin`), {
            direct,
          });
          t.diagnostic(`direct: ${file.isDirect}`);
          if (!direct) assert.equal(file.isDirect, false);
          const want = writeAll(
            file,
            split.map((c) => c.map((n) => bytes(n, next))),
          );
          file.close();
          const got = fs.readFileSync(file.path);
          assert.equal(got.length, want.length);
          assert.ok(Buffer.from(want.buffer, want.byteOffset, want.length).equals(got));
        });
      }
    }

    test(`two files written in turn share the staging buffer (${folder.split('/')[1]})`, () => {
      const next = rng(42);
      const a = new DirectFile(path.join(folder, 'a.bin'));
      const b = new DirectFile(path.join(folder, 'b.bin'));
      const wantA: Uint8Array[] = [];
      const wantB: Uint8Array[] = [];
      for (let i = 0; i < 20; i++) {
        const x = bytes(5000 + i * 311, next);
        const y = bytes(3000 + i * 97, next);
        a.write([x]);
        b.write([y]);
        wantA.push(x);
        wantB.push(y);
      }
      a.close();
      b.close();
      assert.ok(Buffer.concat(wantA).equals(fs.readFileSync(a.path)));
      assert.ok(Buffer.concat(wantB).equals(fs.readFileSync(b.path)));
    });

    test(`a file that cannot be created fails with the open's own error (${folder.split('/')[1]})`, () => {
      assert.throws(() => new DirectFile(path.join(folder, 'no-such-dir', 'x.bin')), { code: 'ENOENT' });
    });

    test(`a closed file refuses writes; close and abort twice are harmless (${folder.split('/')[1]})`, () => {
      const f = new DirectFile(path.join(folder, 'closed.bin'));
      f.write([new Uint8Array([1, 2, 3])]);
      f.close();
      f.close();
      f.abort();
      assert.throws(() => f.write([new Uint8Array(1)]), /closed/);
      assert.deepEqual([...fs.readFileSync(f.path)], [1, 2, 3]);
    });

    for (const n of [0, 1, 4096, 1 << 20, (5 << 19) + 77]) {
      test(`readFileDirect gives ${n} bytes whole and in order, direct where allowed (${folder.split('/')[1]})`, () => {
        const file = new DirectFile(path.join(folder, `read-${n}.bin`));
        const want = writeAll(file, [[bytes(n, rng(n + 1))]]);
        file.close();
        const { got, opens } = readBack(file.path);
        assert.ok(got.equals(want));
        // read as it was written: past the page cache where the folder takes O_DIRECT, to the end (no
        // buffered reopen after a refused read)
        assert.deepEqual(opens.map(isDirectOpen), [file.isDirect]);
      });
    }
  }
});

// the temporary folder only: CI's (ext4) takes O_DIRECT, /dev/shm may not
test('readFileDirect: a direct read refused (EINVAL) mid-file, the rest read through the cache', () => {
  const file = new DirectFile(path.join(folders[0]!, 'refused.bin'));
  if (process.env.CI === 'true') assert.ok(file.isDirect, `${os.tmpdir()} takes no O_DIRECT in CI`);
  if (!file.isDirect) {
    file.abort();
    return;
  }
  const want = writeAll(file, [[bytes((5 << 19) + 77, rng(9))]]);
  file.close();
  const { got, opens } = readBack(file.path, 2);
  assert.ok(got.equals(want));
  assert.deepEqual(opens.map(isDirectOpen), [true, false]);
});

test('readFileDirect: a buffered reopen that fails reports its own error and closes no descriptor twice', () => {
  const file = new DirectFile(path.join(folders[0]!, 'reopen.bin'));
  writeAll(file, [[bytes(10_000, rng(5))]]);
  file.close();
  const open = fs.openSync;
  const close = fs.closeSync;
  const opened: number[] = [];
  const closed: number[] = [];
  const o = mock.method(fs, 'openSync', (p: fs.PathLike, flags: fs.OpenMode, mode?: fs.Mode) => {
    // the first open (direct where the folder allows) succeeds, the reopen finds the file gone
    if (opened.length > 0)
      throw Object.assign(new Error('ENOENT: no such file or directory'), { code: 'ENOENT' });
    const fd = open(p, flags, mode);
    opened.push(fd);
    return fd;
  });
  const r = mock.method(fs, 'readSync', () => {
    throw Object.assign(new Error('EINVAL: invalid argument, read'), { code: 'EINVAL' });
  });
  const c = mock.method(fs, 'closeSync', (fd: number) => {
    closed.push(fd);
    close(fd);
  });
  try {
    const direct = file.isDirect;
    // a refused direct read reopens buffered, which fails; a buffered read's EINVAL is its own error
    assert.throws(() => readFileDirect(file.path, () => {}), { code: direct ? 'ENOENT' : 'EINVAL' });
    assert.deepEqual(closed, opened);
  } finally {
    o.mock.restore();
    r.mock.restore();
    c.mock.restore();
  }
});
