/**
 * A file written as bytes into one reused buffer and moved into place whole (a temporary name until
 * `commit`). For outputs made mostly of fragments that repeat from flow to flow (verdicts.json,
 * analysis.json's flows; json-fragments.ts): a fragment is encoded once and copied in as bytes, so no
 * string is joined or encoded per flow; only what varies (numbers, new strings) is written as it comes.
 * Full buffers go to the process's write thread (write-thread.ts), so the system calls are not the
 * caller's.
 */
import fs from 'node:fs';
import path from 'node:path';
import { type FileWrites, writeThread } from './write-thread.ts';

/** Bytes gathered before one write (a few syscalls per MB of output). */
const BUFFER_BYTES = 1 << 20;

export const utf8 = (text: string): Uint8Array => Buffer.from(text, 'utf8');

/**
 * A file written under a temporary name and given its name only on `commit`, so a reader never sees half
 * of it; `discard` removes it after a failure.
 */
export class TempFile {
  protected readonly fd: number;
  private readonly tmp: string;
  private closed = false;

  /**
   * Written past the page cache where the file system allows (write-thread.ts says why), junit.xml's
   * suites too, which are read back past it as well (text-file.ts `append`).
   */
  constructor(
    readonly file: string,
    protected readonly writes: FileWrites = writeThread(),
  ) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    this.tmp = `${file}.tmp-${process.pid}`;
    this.fd = writes.open(this.tmp, true);
  }

  protected put(b: Uint8Array, length: number): void {
    try {
      this.writes.write(this.fd, b, length);
    } catch (e) {
      throw this.named(e);
    }
  }

  /** Closes the file once written and gives it its name; removes it (and names it) when a write failed. */
  commit(): void {
    // a second drain could end another file given the number since (write-thread.ts)
    if (this.closed) throw new Error(`${this.file}: committed or discarded already`);
    try {
      this.writes.drain(this.fd);
    } catch (e) {
      this.discard();
      throw this.named(e);
    }
    this.closed = true;
    try {
      fs.closeSync(this.fd);
      fs.renameSync(this.tmp, this.file);
    } catch (e) {
      fs.rmSync(this.tmp, { force: true });
      throw this.named(e);
    }
  }

  /** Removes the temporary file and closes it (after a failure); nothing once committed. Never throws. */
  discard(): void {
    if (this.closed) return;
    this.closed = true;
    // nothing may be written to the number once it is closed (the system reuses it): a number the
    // write thread may still write to stays open
    if (this.writes.forget(this.fd))
      try {
        fs.closeSync(this.fd);
      } catch {}
    try {
      fs.rmSync(this.tmp, { force: true });
    } catch {}
  }

  private named(e: unknown): Error {
    const message = e instanceof Error ? e.message : String(e);
    return message.startsWith(`${this.file}: `) ? new Error(message) : new Error(`${this.file}: ${message}`);
  }
}

export class ByteFile extends TempFile {
  private readonly buf = Buffer.allocUnsafe(BUFFER_BYTES);
  private pos = 0;

  bytes(b: Uint8Array): void {
    if (this.pos + b.length > BUFFER_BYTES) {
      this.flush();
      if (b.length > BUFFER_BYTES) {
        this.put(b, b.length);
        return;
      }
    }
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** `text` as UTF-8. */
  text(text: string): void {
    // at most three bytes per UTF-16 unit
    if (this.pos + 3 * text.length > BUFFER_BYTES) {
      this.flush();
      if (3 * text.length > BUFFER_BYTES) {
        const b = Buffer.from(text, 'utf8');
        this.put(b, b.length);
        return;
      }
    }
    this.pos += this.buf.write(text, this.pos);
  }

  /** A number as JSON writes it (`${n}`; NaN and the infinities as null). */
  number(n: number): void {
    if (!Number.isSafeInteger(n)) {
      this.text(JSON.stringify(n));
      return;
    }
    if (this.pos + 17 > BUFFER_BYTES) this.flush();
    const buf = this.buf;
    let v = n;
    if (v < 0) {
      buf[this.pos++] = 0x2d;
      v = -v;
    }
    let digits = 1;
    for (let t = v; t >= 10; t = Math.floor(t / 10)) digits++;
    let at = this.pos + digits;
    this.pos = at;
    do {
      buf[--at] = 0x30 + (v % 10);
      v = Math.floor(v / 10);
    } while (v > 0);
  }

  protected flush(): void {
    if (this.pos === 0) return;
    this.put(this.buf, this.pos);
    this.pos = 0;
  }

  /** Writes what is left and gives the file its name. */
  override commit(): void {
    this.flush();
    super.commit();
  }
}
