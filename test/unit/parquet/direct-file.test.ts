/**
 * DirectFile: whatever the split of the writes (empty, one byte, a block and a byte either side, more
 * than the 1 MiB staging buffer at once), the file holds exactly the bytes written, in order, and is
 * exactly as long: past the page cache (O_DIRECT, whole blocks, the padded last block truncated) where
 * the folder's file system takes it, through the page cache where it does not (tmpfs before Linux 6.6).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { DirectFile } from '../../../ingest/dataset/parquet/direct-file.ts';

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
  }
});
