/**
 * The outputs' write thread (reports/write-thread.ts): every byte given lands in its file in order,
 * whatever the interleaving of files and sizes against the ring; the caller does not wait for the
 * system call (a pipe nobody reads yet does not block it); a failed write is reported for its file
 * only, by that file's drain; and a TempFile whose bytes could not be written is not committed.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { DirectFile } from '../../../ingest/dataset/parquet/direct-file.ts';
import { ByteFile } from '../../../reports/byte-file.ts';
import { fileSuiteParts } from '../../../reports/junit.ts';
import { TextFile } from '../../../reports/text-file.ts';
import { type FileWrites, WriteThread } from '../../../reports/write-thread.ts';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'ht-write-thread-'));

/**
 * Property: files opened by `open` (file `i` of `files`) get every byte given to them, interleaved
 * across files, whole and in order once drained. Small slots and ring: most writes span several
 * slots, and the caller waits for the ring often.
 */
async function bytesLandInOrder(o: {
  /** the ring's slots (4 KiB unless said) */
  slotBytes?: number;
  files: number;
  maxSize: number;
  maxWrites: number;
  numRuns: number;
  open: (thread: WriteThread, file: string, i: number) => number;
  /** what the opened descriptors must be */
  opened?: (fds: number[]) => void;
}): Promise<void> {
  const dir = tmp();
  const thread = new WriteThread(o.slotBytes ?? 4096, 4);
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ file: fc.nat(o.files - 1), size: fc.nat(o.maxSize), fill: fc.nat(255) }), {
          maxLength: o.maxWrites,
        }),
        async (writes) => {
          const files = Array.from({ length: o.files }, (_, i) => path.join(dir, `f${i}`));
          const fds = files.map((f, i) => o.open(thread, f, i));
          o.opened?.(fds);
          const want: number[][] = files.map(() => []);
          const scratch = new Uint8Array(o.maxSize);
          for (const w of writes) {
            for (let i = 0; i < w.size; i++) scratch[i] = (w.fill + i) & 255;
            thread.write(fds[w.file]!, scratch, w.size);
            for (let i = 0; i < w.size; i++) want[w.file]!.push((w.fill + i) & 255);
            // the caller may reuse its buffer at once: the bytes were copied
            scratch.fill(0xee, 0, w.size);
          }
          for (const [i, fd] of fds.entries()) {
            thread.drain(fd);
            fs.closeSync(fd);
            // (a direct file: the last block's padding, and an empty file's probe block, truncated away)
            assert.deepEqual([...fs.readFileSync(files[i]!)], want[i]);
          }
        },
      ),
      { numRuns: o.numRuns },
    );
  } finally {
    await thread.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('every file gets its bytes whole and in order, interleaved, larger than a slot and the ring', () =>
  bytesLandInOrder({
    files: 4,
    maxSize: 40_000,
    maxWrites: 40,
    numRuns: 60,
    open: (_, file) => fs.openSync(file, 'w'),
  }));

/**
 * A pipe nobody reads yet, opened for writing (read and write: the open does not wait for a reader),
 * given to `body` with a thread and a folder; `startReader` starts a child process that, after `delayS`
 * seconds, creates `<dir>/reading` and then copies the pipe into `<dir>/read`. A write that blocked
 * its caller would return only after the reader began: the tests look for `reading` right after it.
 */
async function withPipe(
  body: (x: { thread: WriteThread; dir: string; pipe: number }) => void | Promise<void>,
  /** once the reader has copied everything: what it read */
  check: (read: Buffer) => void = () => {},
  /** the thread's ring (64 KiB slots), and when the reader starts */
  o: { slots?: number; delayS?: number } = {},
): Promise<void> {
  const dir = tmp();
  const thread = new WriteThread(64 << 10, o.slots ?? 8);
  const fifo = path.join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const pipe = fs.openSync(fifo, 'r+');
  const script = `sleep ${o.delayS ?? 2}; : > "$1/reading"; cat "$1/fifo" > "$1/read"`;
  const child = spawn('sh', ['-c', script, 'sh', dir]);
  const reader = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  let closed = false;
  try {
    await body({ thread, dir, pipe });
    fs.closeSync(pipe);
    closed = true;
    await reader;
    check(fs.readFileSync(path.join(dir, 'read')));
  } finally {
    if (!closed) fs.closeSync(pipe);
    child.kill();
    await thread.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test("a file's drain waits for its own bytes, not for a file given after it", () =>
  withPipe(({ thread, dir, pipe }) => {
    const file = path.join(dir, 'first');
    const first = fs.openSync(file, 'w');
    thread.write(first, new Uint8Array(1000).fill(1), 1000);
    // the thread blocks in this write until the reader comes
    thread.write(pipe, new Uint8Array(200 << 10), 200 << 10);
    thread.drain(first);
    assert.ok(!fs.existsSync(path.join(dir, 'reading')), 'drained before the pipe was read');
    fs.closeSync(first);
    assert.equal(fs.readFileSync(file).length, 1000);
    thread.drain(pipe);
  }));

test('the caller goes on while the thread blocks in a write: bytes to a pipe nobody reads yet', () => {
  const size = 300 << 10; // far past the pipe's 64 KiB: a synchronous write would wait for the reader
  const bytes = Uint8Array.from({ length: size }, (_, i) => (i * 7) & 255);
  return withPipe(
    ({ thread, dir, pipe }) => {
      thread.write(pipe, bytes, size);
      assert.ok(!fs.existsSync(path.join(dir, 'reading')), 'write returned before the pipe was read');
      thread.drain(pipe);
    },
    (read) => assert.deepEqual(new Uint8Array(read), bytes),
  );
});

test('a failed write is thrown by its own file drain only; the other files, and a later file with its number, are written', async () => {
  const dir = tmp();
  const thread = new WriteThread(4096, 4);
  try {
    const full = fs.openSync('/dev/full', 'w');
    const file = path.join(dir, 'ok');
    const ok = fs.openSync(file, 'w');
    const bytes = new Uint8Array(10_000).fill(0x41);
    thread.write(full, bytes, bytes.length);
    thread.write(ok, bytes, bytes.length);
    // written in order: once ok's bytes are, the failure of full's is known
    thread.drain(ok);
    // heard at the file's next write, long before its commit
    assert.throws(() => thread.write(full, bytes, bytes.length), /ENOSPC/);
    // and that write failed too: its drain says so
    assert.throws(() => thread.drain(full), /ENOSPC/);
    // reported once: the failure is thrown, then forgotten
    thread.drain(full);
    fs.closeSync(full);
    // the system gives the closed number to the next file opened: its bytes are written as any file's
    const next = path.join(dir, 'next');
    const reused = fs.openSync(next, 'w');
    assert.equal(reused, full);
    thread.write(reused, bytes, bytes.length);
    thread.drain(reused);
    fs.closeSync(reused);
    fs.closeSync(ok);
    assert.equal(fs.readFileSync(file).length, 10_000);
    assert.equal(fs.readFileSync(next).length, 10_000);
  } finally {
    await thread.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a lost thread: the commit names the file, and neither it nor its temporary file is left', async () => {
  const dir = tmp();
  const thread = new WriteThread(4096, 4);
  await thread.close();
  const file = path.join(dir, 'junit.xml');
  const out = new ByteFile(file, thread);
  out.text('<testsuites/>');
  assert.throws(
    () => out.commit(),
    new RegExp(`^Error: ${file.replace(/[.]/g, '\\.')}: the write thread has ended`),
  );
  // discarding again does nothing and throws nothing
  out.discard();
  assert.deepEqual(fs.readdirSync(dir), []);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a file whose bytes were not written is not committed: the error names it, no file is left', () => {
  const dir = tmp();
  try {
    const failing: FileWrites = {
      open: (f) => fs.openSync(f, 'w'),
      write: () => {},
      drain: () => {
        throw new Error('ENOSPC: no space left on device, write');
      },
      forget: () => true,
    };
    const file = path.join(dir, 'verdicts.json');
    const out = new ByteFile(file, failing);
    out.text('{"flows":[]}');
    assert.throws(() => out.commit(), new RegExp(`^Error: ${file.replace(/[.]/g, '\\.')}: ENOSPC`));
    assert.deepEqual(fs.readdirSync(dir), []);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('ByteFiles through the process thread: two files written at once, committed whole', () => {
  const dir = tmp();
  try {
    const a = new ByteFile(path.join(dir, 'a'));
    const b = new ByteFile(path.join(dir, 'b'));
    const want = { a: [] as string[], b: [] as string[] };
    for (let i = 0; i < 200_000; i++) {
      const t = `${i},`;
      (i % 3 === 0 ? a : b).text(t);
      want[i % 3 === 0 ? 'a' : 'b'].push(t);
    }
    a.commit();
    b.commit();
    assert.equal(fs.readFileSync(path.join(dir, 'a'), 'utf8'), want.a.join(''));
    assert.equal(fs.readFileSync(path.join(dir, 'b'), 'utf8'), want.b.join(''));
    assert.deepEqual(fs.readdirSync(dir).sort(), ['a', 'b']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// (a close that cut entries off fails this, or, when it ends the thread inside a blocked write, stalls
// it until the timeout)
test('close writes every entry given before it ends the thread', { timeout: 30_000 }, () => {
  const bytes = Uint8Array.from({ length: 900 << 10 }, (_, i) => i & 255);
  return withPipe(
    async ({ thread, pipe }) => {
      thread.write(pipe, bytes, bytes.length);
      // no drain: close alone must not cut off what the ring still holds
      await thread.close();
    },
    (read) => assert.deepEqual(new Uint8Array(read), bytes),
    // 64 KiB slots: the bytes wait in the ring as many entries while the thread is blocked on the pipe
    { slots: 16, delayS: 1 },
  );
});

/** Is `fd` open past the page cache (its O_DIRECT flag, as /proc shows it)? */
const isDirect = (fd: number): boolean => {
  const flags = /flags:\s*([0-7]+)/.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1];
  return (Number.parseInt(flags ?? '0', 8) & (fs.constants.O_DIRECT ?? 0)) !== 0;
};

/**
 * Does the temporary folder's file system take O_DIRECT (asked as the dataset's writer asks)? CI's does
 * (ext4): there it must, or the direct tests below would test the buffered path twice.
 */
function directHere(): boolean {
  const dir = tmp();
  try {
    const f = new DirectFile(path.join(dir, 'probe'));
    f.close();
    if (process.env.CI === 'true') assert.ok(f.isDirect, `${os.tmpdir()} takes no O_DIRECT in CI`);
    return f.isDirect;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('files opened direct get their bytes whole and in order, any length, beside a buffered one', () => {
  const direct = directHere();
  return bytesLandInOrder({
    // a slot of a WebAssembly page: the thread's staging buffer must hold a slot behind a partial block
    slotBytes: 1 << 16,
    files: 3,
    maxSize: 200_000,
    maxWrites: 30,
    numRuns: 30,
    // the last is written through the page cache, as on a file system that refuses O_DIRECT
    open: (thread, file, i) => thread.open(file, i < 2),
    opened: (fds) => assert.deepEqual(fds.map(isDirect), [direct, direct, false]),
  });
});

test("a forgotten direct file's last block is not written into the next file given its number", async () => {
  const dir = tmp();
  const thread = new WriteThread(4096, 4);
  try {
    const first = thread.open(path.join(dir, 'dropped'), true);
    assert.equal(isDirect(first), directHere());
    // 100 bytes: less than a block, so they wait in the thread for the file's end
    thread.write(first, new Uint8Array(100).fill(0x41), 100);
    assert.ok(thread.forget(first));
    fs.closeSync(first);
    // the system gives a new file the lowest free number: lower ones freed meanwhile are taken first
    const others: number[] = [];
    const named = (k: number) => path.join(dir, `next-${k}`);
    let next = thread.open(named(0), true);
    while (next !== first && others.length < 64) {
      others.push(next);
      next = thread.open(named(others.length), true);
    }
    assert.equal(next, first, 'no new file was given the closed number');
    thread.write(next, new Uint8Array(5000).fill(0x42), 5000);
    for (const fd of [next, ...others]) {
      thread.drain(fd);
      fs.closeSync(fd);
    }
    assert.deepEqual(fs.readFileSync(named(others.length)), Buffer.alloc(5000, 0x42));
  } finally {
    await thread.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a direct file whose write failed is written no further: what was written stays, the drain says why', () => {
  const dir = tmp();
  try {
    // a child under a file size limit of 8 or 16 KiB (ulimit -f counts 512-byte blocks in some shells, KiB
    // in others): a later 4 KiB entry fails (EFBIG)
    const script = `
      import fs from 'node:fs';
      import { WriteThread } from ${JSON.stringify(new URL('../../../reports/write-thread.ts', import.meta.url).href)};
      const thread = new WriteThread(1 << 16, 4);
      const fd = thread.open(process.argv[1], true);
      const errors = [];
      for (const fill of [0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x42])
        try { thread.write(fd, new Uint8Array(4096).fill(fill), 4096); } catch (e) { errors.push(e.message); }
      try { thread.drain(fd); } catch (e) { errors.push(e.message); }
      const flags = /flags:\\s*([0-7]+)/.exec(fs.readFileSync('/proc/self/fdinfo/' + fd, 'utf8'))[1];
      fs.closeSync(fd);
      console.log(JSON.stringify({ errors, direct: (Number.parseInt(flags, 8) & fs.constants.O_DIRECT) !== 0 }));
      await thread.close();
    `;
    const file = path.join(dir, 'limited');
    const out = execFileSync(
      'sh',
      [
        '-c',
        'ulimit -f 16; exec "$0" --import tsx --input-type=module --eval "$1" "$2"',
        process.execPath,
        script,
        file,
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    const r = JSON.parse(out) as { errors: string[]; direct: boolean };
    assert.equal(r.direct, directHere(), 'the limited file was not opened as the others are');
    assert.ok(r.errors.length > 0 && r.errors.every((m) => /EFBIG|too large/i.test(m)), out);
    // the blocks written before the failure, as written: nothing later (the B block last of all) landed
    // over them at another offset, and no end truncated them
    const written = fs.readFileSync(file);
    assert.ok([8192, 16_384].includes(written.length), `${written.length} bytes`);
    assert.deepEqual(written, Buffer.alloc(written.length, 0x41));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("outputs and junit.xml's suite parts go past the page cache where the folder allows; a part is appended whole", () => {
  const direct = directHere();
  const dir = tmp();
  // a TempFile's descriptor, which it keeps to itself
  const fdOf = (f: ByteFile): number => (f as unknown as { fd: number }).fd;
  try {
    const output = new TextFile(path.join(dir, 'junit.xml'));
    const part = fileSuiteParts(path.join(dir, 'suites')).create(0);
    assert.deepEqual([isDirect(fdOf(output)), isDirect(fdOf(part))], [direct, direct]);
    // more than the 1 MiB read back at once, and not a whole block
    const cases = Array.from({ length: 40_000 }, (_, i) => `<testcase name="c${i}"/>\n`).join('');
    part.write(cases);
    part.commit();
    output.write('<testsuites>');
    output.append(part.file);
    output.write('</testsuites>');
    output.commit();
    assert.equal(fs.readFileSync(path.join(dir, 'junit.xml'), 'utf8'), `<testsuites>${cases}</testsuites>`);
    // a second commit would drain a descriptor number the system may have given another file
    assert.throws(() => output.commit(), /committed or discarded already/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
