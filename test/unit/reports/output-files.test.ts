/**
 * The files outputs are written through (reports/text-file.ts, reports/byte-file.ts): every byte lands
 * even when the system writes less than it is handed at a time (a short write), and a file appears
 * under its name only once committed.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, mock, test } from 'node:test';
import { ByteFile } from '../../../reports/byte-file.ts';
import { TextFile } from '../../../reports/text-file.ts';
import { inlineWrites } from '../../../reports/write-thread.ts';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'ht-output-files-'));

/** fs.writeSync writing at most `most` bytes a call, as a system may (a signal, a disk nearly full). */
function shortWrites(most: number): void {
  const writeSync = fs.writeSync;
  mock.method(fs, 'writeSync', (fd: number, data: string | Uint8Array, offset?: number, length?: number) => {
    const b = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    const from = typeof data === 'string' ? 0 : (offset ?? 0);
    const n = Math.min(most, typeof data === 'string' ? b.length : (length ?? b.length - from));
    return writeSync(fd, b, from, n);
  });
}

afterEach(() => mock.restoreAll());

test('TextFile: text and an appended file land whole through short writes', () => {
  const dir = tmp();
  try {
    const part = path.join(dir, 'part');
    const appended = `${'part ü '.repeat(20_000)}end`;
    fs.writeFileSync(part, appended);
    const text = `${'x'.repeat(70_000)} ü 😀`;
    shortWrites(1000);
    const file = path.join(dir, 'out.txt');
    const out = new TextFile(file, inlineWrites);
    out.write(text);
    out.append(part);
    out.write('tail\n');
    assert.ok(!fs.existsSync(file), 'no file under its name before commit');
    out.commit();
    mock.restoreAll();
    assert.equal(fs.readFileSync(file, 'utf8'), `${text}${appended}tail\n`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('ByteFile: bytes, texts and numbers land whole through short writes, numbers as JSON writes them', () => {
  const dir = tmp();
  try {
    shortWrites(1000);
    const file = path.join(dir, 'out.json');
    const out = new ByteFile(file, inlineWrites);
    const big = Buffer.alloc(3 << 20, 0x61);
    const numbers = [0, -0, 7, -42, 2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 53, 1.5, Number.NaN, Infinity];
    out.text('[');
    for (const n of numbers) {
      out.number(n);
      out.text(',');
    }
    out.bytes(big);
    out.text(`"${'ü'.repeat(400_000)}"]`);
    out.commit();
    mock.restoreAll();
    const want = `[${numbers.map((n) => `${JSON.stringify(n)},`).join('')}${big.toString()}"${'ü'.repeat(400_000)}"]`;
    assert.equal(fs.readFileSync(file, 'utf8'), want);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
