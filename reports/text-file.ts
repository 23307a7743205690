/**
 * A text file written piece by piece and moved into place whole: outputs of hundreds of thousands of
 * flows (junit.xml; verdicts.json and analysis.json's flows as bytes, byte-file.ts) are streamed flow by flow
 * instead of being built as one string first, so memory holds one buffer, not the file. Pieces are
 * gathered up to `FLUSH_CHARS` and written synchronously (one syscall per 64 K characters); the file
 * gets its name only on `commit` (TempFile), so a reader never sees half of it.
 */
import fs from 'node:fs';
import { TempFile, writeAll } from './byte-file.ts';

const FLUSH_CHARS = 1 << 16;

export class TextFile extends TempFile {
  private parts: string[] = [];
  private chars = 0;

  write(text: string): void {
    this.parts.push(text);
    this.chars += text.length;
    if (this.chars >= FLUSH_CHARS) this.flush();
  }

  private flush(): void {
    if (this.parts.length === 0) return;
    const text = this.parts.join('');
    const done = fs.writeSync(this.fd, text);
    // a short write (rare): the rest as bytes
    if (done < Buffer.byteLength(text)) {
      const rest = Buffer.from(text, 'utf8').subarray(done);
      writeAll(this.fd, rest, rest.length);
    }
    this.parts = [];
    this.chars = 0;
  }

  /** Appends the bytes of `file` (a part written beside this one), 64 KiB at a time. */
  append(file: string): void {
    this.flush();
    const fd = fs.openSync(file, 'r');
    try {
      const buf = Buffer.allocUnsafe(FLUSH_CHARS);
      for (let n = fs.readSync(fd, buf); n > 0; n = fs.readSync(fd, buf)) writeAll(this.fd, buf, n);
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Writes what is left and gives the file its name. */
  override commit(): void {
    this.flush();
    super.commit();
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
