/**
 * HashThread hashes file after file on its own thread, fed through a ring of shared slots: chunks of
 * any size (larger than a slot, empty), a ring so small that the feeding side waits for it, a file
 * dropped half way, and files ended one after another before their digests are asked for; and the
 * thread's lowered priority.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { HASH_NICE, HashThread, inlineHash } from '../../../ingest/dataset/hash-thread.ts';

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** `data` given in chunks of the sizes listed, cycling */
function feed(h: { update(b: Uint8Array): void }, data: Uint8Array, sizes: readonly number[]): void {
  const chunk = new Uint8Array(Math.max(...sizes));
  for (let at = 0, k = 0; at < data.length; k++) {
    const n = Math.min(sizes[k % sizes.length]!, data.length - at);
    // one reused buffer, as the reader's: the hash must have copied what it was given
    chunk.set(data.subarray(at, at + n));
    h.update(chunk.subarray(0, n));
    chunk.fill(0xee);
    at += n;
  }
}

test('HashThread: files in chunks of any size through a ring smaller than one chunk', async () => {
  const h = new HashThread(1000, 2);
  try {
    const a = bytes(25_013, 1);
    const b = bytes(3_000, 2);
    const c = bytes(7, 3);
    feed(h, a, [1, 999, 1000, 1001, 4096, 0]);
    assert.equal(await h.digest(), sha256(a));
    // half a file, then dropped: the next file's digest is its own
    feed(h, b, [300]);
    h.drop();
    feed(h, c, [7]);
    const dc = h.digest();
    const de = h.digest();
    feed(h, b, [2999, 1]);
    const db = h.digest();
    assert.equal(await dc, sha256(c));
    assert.equal(await de, sha256(new Uint8Array(0)), 'a file of no bytes');
    assert.equal(await db, sha256(b));
  } finally {
    await h.close();
  }
});

test('inlineHash: the same digests on the calling thread', async () => {
  const h = inlineHash();
  const a = bytes(5_000, 4);
  feed(h, a, [100, 3]);
  assert.equal(await h.digest(), sha256(a));
  feed(h, a, [10]);
  h.drop();
  assert.equal(await h.digest(), sha256(new Uint8Array(0)));
});

test('a process started with --input-type=module (as the benchmark starts its children) hashes through the thread', () => {
  // the ring is 16 x 512 KiB: 12 MB make the feeding side wait for the thread, so a thread that
  // never started would stall it instead of merely failing the digest
  const script = `
    import { createHash } from 'node:crypto';
    const { HashThread } = await import(${JSON.stringify(new URL('../../../ingest/dataset/hash-thread.ts', import.meta.url).href)});
    const data = new Uint8Array(12 << 20).map((_, i) => (i * 2654435761) >>> 24);
    const h = new HashThread();
    for (let at = 0; at < data.length; at += 1 << 19) h.update(data.subarray(at, at + (1 << 19)));
    const hex = await h.digest();
    await h.close();
    console.log(hex === createHash('sha256').update(data).digest('hex') ? 'same' : 'differs');
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '--eval', script], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(r.signal, null, `timed out: ${r.stderr}`);
  assert.equal(r.stdout.trim(), 'same', r.stderr);
});

/** nice values of this process's threads, by thread id (Linux), or null elsewhere */
function threadNice(): Map<number, number> | null {
  let tids: string[];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return null;
  }
  const out = new Map<number, number>();
  for (const tid of tids) {
    try {
      // after the command (which may hold spaces) in parentheses: nice is the 17th field
      const fields = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      out.set(Number(tid), Number(fields[16]));
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

test('HashThread: the hash thread runs HASH_NICE below the thread that started it, and only it', async (t) => {
  const before = threadNice();
  if (before === null) {
    t.skip('no /proc/self/task here');
    return;
  }
  const mine = before.get(process.pid)!;
  const h = new HashThread(1000, 2);
  try {
    const a = bytes(5000, 9);
    feed(h, a, [700]);
    // the digest comes after the thread has set its priority (it does that before taking a slot)
    assert.equal(await h.digest(), sha256(a));
    const after = threadNice()!;
    const lowered = [...after].filter(
      ([tid, nice]) => !before.has(tid) && nice === Math.min(19, mine + HASH_NICE),
    );
    assert.equal(lowered.length, 1);
    assert.equal(after.get(process.pid), mine);
    for (const [tid, nice] of before) if (after.has(tid)) assert.equal(after.get(tid), nice);
  } finally {
    await h.close();
  }
});

test('HashThread: chunks in its shared memory are hashed in place until released; others through the ring', async () => {
  const shared = new SharedArrayBuffer(4 * 4096);
  const mem = new Uint8Array(shared);
  // a ring of more entries than there are buffers: only release keeps a buffer from being refilled
  // before the thread has hashed it
  const h = new HashThread(1000, 16, shared);
  try {
    const a = bytes(30_000, 11);
    const b = bytes(7_777, 12);
    // the file in chunks read into two 4 KiB "read buffers" of the shared memory in turn, as the
    // reader does: a buffer is refilled only after release, and then overwritten with garbage first
    for (const [file, seed] of [
      [a, 0],
      [b, 1],
    ] as const) {
      let k = seed;
      for (let at = 0; at < file.length; at += 4096, k++) {
        const slot = k % 2;
        const view = mem.subarray(slot * 4096, slot * 4096 + 4096);
        h.release(view);
        view.fill(0xee);
        const n = Math.min(4096, file.length - at);
        view.set(file.subarray(at, at + n));
        h.update(view.subarray(0, n));
        // every third chunk, an ordinary-memory chunk of nothing: copied (empty) through the ring
        if (k % 3 === 0) h.update(new Uint8Array(0));
      }
      assert.equal(await h.digest(), sha256(file));
    }
    // a buffer it never read, and ordinary memory: released at once
    h.release(new Uint8Array(16));
    h.release(mem.subarray(0, 4096));
    // chunks from ordinary memory still go through the ring
    const c = bytes(5000, 13);
    feed(h, c, [999]);
    assert.equal(await h.digest(), sha256(c));
  } finally {
    await h.close();
  }
});
