/**
 * A text file written piece by piece and moved into place whole: outputs of hundreds of thousands of
 * flows (junit.xml; verdicts.json and analysis.json's flows as bytes, byte-file.ts) are streamed flow by flow
 * instead of being built as one string first, so memory holds one buffer, not the file. Pieces are
 * encoded into ByteFile's buffer as they come (no string joined per flush), and the file gets its name
 * only on `commit`, so a reader never sees half of it.
 */
import fs from 'node:fs';
import { ByteFile } from './byte-file.ts';

const APPEND_BYTES = 1 << 20;

export class TextFile extends ByteFile {
  write(text: string): void {
    this.text(text);
  }

  /** Appends the bytes of `file` (a part written beside this one, committed), 1 MiB at a time. */
  append(file: string): void {
    this.flush();
    const fd = fs.openSync(file, 'r');
    try {
      const buf = Buffer.allocUnsafe(APPEND_BYTES);
      for (let n = fs.readSync(fd, buf); n > 0; n = fs.readSync(fd, buf)) this.put(buf, n);
    } finally {
      fs.closeSync(fd);
    }
  }
}

/** Runs `fill` over a TextFile for `file`: committed when `fill` returns, removed when it throws. */
export function writeTextFile(file: string, fill: (out: TextFile) => void): void {
  const out = new TextFile(file);
  try {
    fill(out);
    out.commit();
  } catch (e) {
    out.discard();
    throw e;
  }
}
