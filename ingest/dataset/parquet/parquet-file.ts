/**
 * Parquet file framing: `PAR1`, row groups written as soon as they are complete (so a file of any size
 * needs one row group of memory), then the footer (FileMetaData, its length, `PAR1`).
 * Every write has its file position fixed when it is issued, so writes may complete in any order: they go
 * to libuv's thread pool (the kernel's copy into the page cache then overlaps decoding on the other core)
 * while less than `MAX_PENDING` bytes are in flight over all files, and are synchronous beyond that,
 * which bounds memory without needing the caller (a synchronous batch callback) to wait.
 */
import fs from 'node:fs';
import { releaseBody } from './body-pool.ts';
import { type ColumnChunkMeta, type RowGroupMeta, type SchemaNode, writeFileMetaData } from './format.ts';
import { ThriftWriter } from './thrift-compact.ts';

const MAGIC = new TextEncoder().encode('PAR1');
/** writev takes at most IOV_MAX (1024 on Linux) buffers per call */
const MAX_IOV = 1024;
/** bytes handed to asynchronous writes and not yet written, over all files */
const MAX_PENDING = 128 << 20;
/** a row group is written in pieces of about this size, so that it can go out asynchronously */
const PIECE_BYTES = 4 << 20;
/**
 * Writes in flight at once. libuv's pool has four threads and the capture is read through the same
 * pool: two writers leave threads for the reads instead of queueing them behind a row group.
 */
const MAX_IN_FLIGHT = 2;
let pendingBytes = 0;
let inFlight = 0;

interface QueuedWrite {
  file: ParquetFile;
  group: Uint8Array[];
  at: number;
  total: number;
  done: WriteDone;
}

/** Counts the pieces of one write call still in flight; runs `then` after the last. */
class WriteDone {
  pieces = 1;
  constructor(private readonly then: (() => void) | null) {}
  one(): void {
    if (--this.pieces === 0) this.then?.();
  }
}
const queue: QueuedWrite[] = [];
let queueHead = 0;

function pump(): void {
  while (inFlight < MAX_IN_FLIGHT && queueHead < queue.length) {
    const w = queue[queueHead++]!;
    if (queueHead === queue.length) {
      queue.length = 0;
      queueHead = 0;
    }
    inFlight++;
    w.file.issue(w.group, w.at, w.total, () => {
      inFlight--;
      pendingBytes -= w.total;
      w.done.one();
      pump();
    });
  }
}

export interface WrittenChunk {
  segments: readonly Uint8Array[];
  meta: ColumnChunkMeta;
  /** a buffer the segments are views of, given back to body-pool.ts once they are written */
  body: Uint8Array | null;
}

export class ParquetFile {
  readonly path: string;
  private fd: number;
  /** bytes written so far: the offset of the next write */
  offset = 0;
  private readonly rowGroups: RowGroupMeta[] = [];
  private readonly schema: readonly SchemaNode[];
  private readonly leafColumns: number;
  /** asynchronous writes of this file not yet completed */
  private inFlight = 0;
  private drained: (() => void) | null = null;
  private failure: Error | null = null;

  constructor(path: string, schema: readonly SchemaNode[], leafColumns: number) {
    this.path = path;
    this.schema = schema;
    this.leafColumns = leafColumns;
    this.fd = fs.openSync(path, 'w');
    this.write([MAGIC]);
  }

  get rows(): number {
    return this.rowGroups.reduce((n, g) => n + g.numRows, 0);
  }

  /**
   * Writes one row group. `take(offset)` is called per column in order with the file offset where that
   * chunk will start, and returns its segments and metadata.
   */
  writeRowGroup(
    numRows: number,
    columns: number,
    take: (column: number, offset: number) => WrittenChunk,
  ): void {
    const start = this.offset;
    const metas: ColumnChunkMeta[] = [];
    let at = start;
    const segments: Uint8Array[] = [];
    const bodies: Uint8Array[] = [];
    for (let i = 0; i < columns; i++) {
      const chunk = take(i, at);
      metas.push(chunk.meta);
      for (const s of chunk.segments) segments.push(s);
      if (chunk.body) bodies.push(chunk.body);
      at += chunk.meta.size;
    }
    this.write(segments, () => {
      for (const b of bodies) releaseBody(b);
    });
    if (this.offset !== at)
      throw new Error(`parquet: row group size ${this.offset - start} != ${at - start}`);
    this.rowGroups.push({ columns: metas, numRows, fileOffset: start, size: at - start });
  }

  /** Writes the footer, waits for the writes in flight and closes the file. */
  async close(createdBy: string): Promise<void> {
    const w = new ThriftWriter();
    writeFileMetaData(w, this.schema, this.rowGroups, this.leafColumns, createdBy);
    const meta = w.bytes();
    const tail = new Uint8Array(8);
    new DataView(tail.buffer).setUint32(0, meta.length, true);
    tail.set(MAGIC, 4);
    this.write([meta, tail]);
    if (this.inFlight > 0) await new Promise<void>((resolve) => (this.drained = resolve));
    fs.closeSync(this.fd);
    this.fd = -1;
    if (this.failure) throw this.failure;
  }

  /** Closes the fd without a footer; writes still in flight fail quietly. */
  abort(): void {
    if (this.fd < 0) return;
    fs.closeSync(this.fd);
    this.fd = -1;
    this.failure ??= new Error('parquet: file aborted');
  }

  /** Writes `segments` at the end of the file; `written` runs once every byte of them is written. */
  private write(segments: readonly Uint8Array[], written: (() => void) | null = null): void {
    if (this.failure) throw this.failure;
    const done = new WriteDone(written);
    let i = 0;
    while (i < segments.length) {
      const group: Uint8Array[] = [];
      let total = 0;
      while (i < segments.length && group.length < MAX_IOV && (total < PIECE_BYTES || group.length === 0)) {
        const seg = segments[i++]!;
        group.push(seg);
        total += seg.length;
      }
      const at = this.offset;
      this.offset += total;
      if (pendingBytes + total > MAX_PENDING) {
        const n = fs.writevSync(this.fd, group, at);
        if (n < total) this.writeRest(group, at, n);
        continue;
      }
      pendingBytes += total;
      this.inFlight++;
      done.pieces++;
      queue.push({ file: this, group, at, total, done });
      pump();
    }
    done.one();
  }

  /** Starts one queued write (called by the queue); `done` runs when it has completed. */
  issue(group: Uint8Array[], at: number, total: number, done: () => void): void {
    fs.writev(this.fd, group, at, (err, n) => {
      try {
        if (err) throw err;
        if (n < total) this.writeRest(group, at, n);
      } catch (e) {
        this.failure ??= e instanceof Error ? e : new Error(String(e));
      }
      done();
      if (--this.inFlight === 0) this.drained?.();
    });
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
      let at = skip;
      skip = 0;
      while (at < s.length) {
        const n = fs.writeSync(this.fd, s, at, s.length - at, pos);
        at += n;
        pos += n;
      }
    }
  }
}
