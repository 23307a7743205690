/**
 * An output file written past the page cache (O_DIRECT) where the file system allows it.
 *
 * Why: a buffered write copies every byte into page-cache pages the kernel must first find. On this
 * kind of machine (a VM whose free memory is handed back to the host) a fresh page costs a fault in
 * the host: writing the 10 M-packet dataset (617 MB) took ~1.5 CPU-s of kernel copying on the encoder
 * thread, the ingest's critical path (`dd` of 600 MB: 1.55 s of system time buffered, 0.04 s direct).
 * A direct write hands the device our own, already resident, buffer instead.
 *
 * O_DIRECT wants the buffer address, the length and the file offset aligned to the device's block.
 * Writes are gathered into one staging buffer in WebAssembly memory, whose base is page-aligned (an
 * ArrayBuffer from malloc is aligned to 16 bytes only), and written in whole blocks; the last partial
 * block of the file waits in `tail` for the next write, and `close` writes it padded and truncates
 * the padding away. Where the file system refuses O_DIRECT (an error at open) or a direct write
 * (`refusesDirect`), the file is written through the page cache as before. direct-io.ts has the staging
 * buffer and the alignment, which the reads past the page cache share.
 */
import fs from 'node:fs';
import { DIRECT_BLOCK, refusesDirect, stage } from '../../source/direct-io.ts';

/** writev takes at most IOV_MAX (1024 on Linux) buffers per call */
const MAX_IOV = 1024;

function openFlags(direct: boolean): number {
  const c = fs.constants;
  return c.O_WRONLY | c.O_CREAT | c.O_TRUNC | (direct ? c.O_DIRECT : 0);
}

/**
 * `path` opened for writing (created, emptied) past the page cache, or -1 where its file system refuses
 * O_DIRECT at the open (EINVAL, or EOPNOTSUPP for some): the caller opens it buffered, whose open says
 * what else is wrong. Tried for every file: a refusal in one folder says nothing of another.
 */
export function openDirect(path: string): number {
  if (fs.constants.O_DIRECT === undefined) return -1;
  try {
    return fs.openSync(path, openFlags(true), 0o666);
  } catch {
    return -1;
  }
}

export class DirectFile {
  readonly path: string;
  private fd: number;
  /** writing past the page cache (O_DIRECT), else through it */
  private direct: boolean;
  /** bytes written so far (the file's length once closed) */
  size = 0;
  /** direct mode: the bytes of the file's last, partial block, not yet on disk */
  private readonly tail = new Uint8Array(DIRECT_BLOCK);
  private tailLen = 0;

  /** `direct: false` writes through the page cache whatever the file system allows. */
  constructor(path: string, opts: { direct?: boolean } = {}) {
    this.path = path;
    const fd = opts.direct === false ? -1 : openDirect(path);
    this.direct = fd >= 0;
    this.fd = fd >= 0 ? fd : fs.openSync(path, openFlags(false), 0o666);
  }

  /** Is the file written past the page cache? */
  get isDirect(): boolean {
    return this.direct;
  }

  /** Appends `segments`, in order. */
  write(segments: readonly Uint8Array[]): void {
    if (this.fd < 0) throw new Error(`${this.path} is closed`);
    if (this.direct) this.writeStaged(segments);
    else this.writeBuffered(segments);
  }

  /** Writes what is left and closes the file. */
  close(): void {
    if (this.fd < 0) return;
    try {
      if (this.direct && this.tailLen > 0) {
        const at = this.size - this.tailLen;
        const buf = stage();
        buf.set(this.tail.subarray(0, this.tailLen));
        buf.fill(0, this.tailLen, DIRECT_BLOCK);
        this.writeBlocks(buf, DIRECT_BLOCK, at, this.tailLen);
        // the padding, or what a direct write refused halfway left of it
        fs.ftruncateSync(this.fd, this.size);
      }
    } finally {
      this.abort();
    }
  }

  /** Closes the fd, leaving unwritten what is not yet written. */
  abort(): void {
    if (this.fd < 0) return;
    fs.closeSync(this.fd);
    this.fd = -1;
  }

  /**
   * Copies the tail and `segments` into the staging buffer, writing it whenever full, then the whole
   * blocks of what remains; the partial block becomes the new tail.
   */
  private writeStaged(segments: readonly Uint8Array[]): void {
    const buf = stage();
    let n = this.tailLen;
    let at = this.size - n;
    buf.set(this.tail.subarray(0, n));
    for (const s of segments) {
      this.size += s.length;
      let from = 0;
      while (from < s.length) {
        const k = Math.min(s.length - from, buf.length - n);
        buf.set(s.subarray(from, from + k), n);
        n += k;
        from += k;
        if (n === buf.length) {
          this.writeBlocks(buf, n, at, n);
          at += n;
          n = 0;
        }
      }
    }
    const whole = n & ~(DIRECT_BLOCK - 1);
    if (whole > 0) this.writeBlocks(buf, whole, at, whole);
    this.tailLen = 0;
    if (this.direct) {
      this.tail.set(buf.subarray(whole, n));
      this.tailLen = n - whole;
      return;
    }
    // refused on the way: the partial block is written now, as every later write will be
    for (let done = whole; done < n; ) done += fs.writeSync(this.fd, buf, done, n - done, at + done);
  }

  /**
   * Writes `len` bytes of `buf` at file offset `at`, of which the first `keep` belong to the file (the
   * rest is padding). A direct write refused (`refusesDirect`) reopens the file buffered and writes the
   * `keep` bytes that way.
   */
  private writeBlocks(buf: Uint8Array, len: number, at: number, keep: number): void {
    let done = 0;
    if (this.direct) {
      try {
        while (done < len) done += fs.writeSync(this.fd, buf, done, len - done, at + done);
        return;
      } catch (err) {
        if (!refusesDirect(err)) throw err;
        this.toBuffered();
      }
    }
    while (done < keep) done += fs.writeSync(this.fd, buf, done, keep - done, at + done);
  }

  /** From now on through the page cache; what was written directly stays. */
  private toBuffered(): void {
    fs.closeSync(this.fd);
    // closed: a failed reopen must not leave the number to be closed again (another file may have it)
    this.fd = -1;
    this.fd = fs.openSync(this.path, fs.constants.O_WRONLY, 0o666);
    this.direct = false;
  }

  private writeBuffered(segments: readonly Uint8Array[]): void {
    for (let i = 0; i < segments.length; i += MAX_IOV) {
      const group = segments.slice(i, i + MAX_IOV);
      let total = 0;
      for (const s of group) total += s.length;
      const n = fs.writevSync(this.fd, group, this.size);
      if (n < total) this.writeRest(group, this.size, n);
      this.size += total;
    }
  }

  /** After a short writev: the remaining bytes, buffer by buffer. */
  private writeRest(group: readonly Uint8Array[], at: number, done: number): void {
    let pos = at + done;
    let skip = done;
    for (const s of group) {
      if (skip >= s.length) {
        skip -= s.length;
        continue;
      }
      let from = skip;
      skip = 0;
      while (from < s.length) {
        const n = fs.writeSync(this.fd, s, from, s.length - from, pos);
        from += n;
        pos += n;
      }
    }
  }
}
