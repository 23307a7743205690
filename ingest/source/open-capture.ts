/**
 * The only place that touches the file system and zlib: turns a path (or bytes) into a stream of
 * decompressed chunks. Everything above works on Uint8Arrays.
 */
import { constants as fc } from 'node:fs';
import { open } from 'node:fs/promises';
import { createGunzip, gunzipSync, constants as zc } from 'node:zlib';
import { Decompress } from 'fzstd';
import { isReadSlot, returnReadBuffer, takeReadBuffer } from '../decode/payload-hash-wasm.ts';
import type { IngestErrorCode } from '../errors.ts';
import { DIRECT_BLOCK, refusesDirect } from './direct-io.ts';

export type Compression = 'none' | 'gzip' | 'zstd';

/**
 * Buffers one read request fills (one preadv). Each request wakes a thread of libuv's pool, and that
 * wake-up and the promise that settles it cost the parsing thread about as much whatever the
 * request's size: reading 768 MiB of the bench capture in 512 KiB buffers took the main thread 32.9 /
 * 15.9 / 10.3 ms of CPU at 1 / 2 / 4 buffers a request (medians of 10, alternating, loaded machine).
 */
export const BUFFERS_PER_READ = 4;
/** read requests in flight while the consumer parses a chunk */
const READS_AHEAD = 2;

export type SourceErrorCode = Extract<
  IngestErrorCode,
  'io.read-failed' | 'io.not-found' | 'gzip.corrupt' | 'zstd.corrupt'
>;

/** A failure of the byte source itself; the reader turns it into an InputError at the current offset. */
export class SourceError extends Error {
  constructor(
    readonly code: SourceErrorCode,
    readonly detail: string,
  ) {
    super(detail);
    this.name = 'SourceError';
  }
}

export function sniffCompression(b: Uint8Array): Compression {
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) return 'gzip';
  if (b.length >= 4 && b[0] === 0x28 && b[1] === 0xb5 && b[2] === 0x2f && b[3] === 0xfd) return 'zstd';
  return 'none';
}

export interface ByteSource {
  compression: Compression;
  /**
   * Decompressed chunks. A chunk is valid only until the next one is requested (the plain-file path
   * reuses one read buffer). Throws SourceError after the last good chunk when the source fails.
   */
  chunks: AsyncIterable<Uint8Array>;
  /** read requests of the file so far that went past the page cache and through it (a compressed one's all through it) */
  reads: ReadCounts;
}

export interface ReadCounts {
  direct: number;
  cached: number;
}

function ioError(err: unknown, path: string): SourceError {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ENOENT') return new SourceError('io.not-found', `no such file: ${path}`);
  if (e.code === 'EISDIR') return new SourceError('io.read-failed', `is a directory: ${path}`);
  return new SourceError('io.read-failed', `cannot read: ${e.message}`);
}

/**
 * Something that keeps the views `onFileChunk` is given past the call (a hash thread reading them in
 * shared memory): the reader refills a buffer only once `release` has returned for it, and rotates
 * through `buffers` of them so that the holder may lag that far behind.
 */
export interface ChunkHolder {
  readonly buffers: number;
  /** returns once nothing reads `buf` any more (waits while something does); never throws */
  release(buf: Uint8Array): void;
}

/**
 * Open a capture; throws SourceError when it cannot be opened. `onFileChunk` sees the file's bytes as
 * read, before any decompression, in order from byte 0 (each view valid only during the call, unless
 * a `holder` says when it is done with the plain file's buffers).
 */
export async function openCapture(
  path: string,
  chunkSize: number,
  onFileChunk?: (bytes: Uint8Array) => void,
  holder?: ChunkHolder,
): Promise<ByteSource> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw ioError(err, path);
  }
  const head = new Uint8Array(4);
  let headLen: number;
  try {
    headLen = (await fh.read(head, 0, 4, 0)).bytesRead;
  } catch (err) {
    await fh.close();
    throw ioError(err, path);
  }
  const compression = sniffCompression(head.subarray(0, headLen));
  const plain = compression === 'none';
  const direct = plain && chunkSize % DIRECT_BLOCK === 0 ? await reopenDirect(fh) : null;
  // a decompressor's input is fresh memory per chunk, never refilled: nothing to hold there
  const reads: ReadCounts = { direct: 0, cached: 0 };
  const handles = { fh, direct, reads };
  const raw = fileChunks(handles, path, chunkSize, plain, onFileChunk, plain ? holder : undefined);
  if (compression === 'gzip') return { compression, chunks: gunzipChunks(raw), reads };
  if (compression === 'zstd') return { compression, chunks: zstdChunks(raw), reads };
  return { compression, chunks: raw, reads };
}

type FileHandle = Awaited<ReturnType<typeof open>>;

/**
 * `fh`'s file opened again to be read past the page cache (O_DIRECT), or null where that is refused
 * (direct-io.ts says why). Reading the 20 M-frame bench bundle (7.3 GB) buffered took `hoptrace
 * ingest` ~17 CPU-s of kernel copying (`perf`: 42% of its samples in `_copy_to_iter`), each GB after
 * the first ~1.5 ~2.7 s of system time; read direct into our own resident buffers, 1.5 GB took 0.11 s.
 * The bytes read are the same: the kernel writes back a dirty cached range before reading it direct.
 */
async function reopenDirect(fh: FileHandle): Promise<FileHandle | null> {
  if (fc.O_DIRECT === undefined) return null;
  try {
    // the same file as `fh`, not whatever has its name by now (a capture renamed over it)
    return await open(`/proc/self/fd/${fh.fd}`, fc.O_RDONLY | fc.O_DIRECT);
  } catch {
    return null;
  }
}

/**
 * The file's handles: `direct` (O_DIRECT, or null) for aligned reads into read slots, `fh` for the
 * rest; `reads` counts the requests each served.
 */
interface FileHandles {
  fh: FileHandle;
  direct: FileHandle | null;
  reads: ReadCounts;
}

async function* fileChunks(
  handles: FileHandles,
  path: string,
  chunkSize: number,
  reuse: boolean,
  onFileChunk: ((bytes: Uint8Array) => void) | undefined,
  holder: ChunkHolder | undefined,
): AsyncGenerator<Uint8Array> {
  // READS_AHEAD requests run while the consumer parses the chunk it was given, so the parser is not
  // left idle waiting for the kernel's copy (a chunk stays valid until the next one is requested).
  // A plain file's buffers are in the payload hash's memory, where its frames are hashed four at a time.
  const take = (): Uint8Array => (reuse ? takeReadBuffer(chunkSize) : new Uint8Array(chunkSize));
  const { fh } = handles;
  const taken: Uint8Array[] = [];
  /**
   * Past the page cache when the offset and every buffer are aligned (the buffers' lengths are: the
   * chunk size is a multiple of the block); a read after a short one starts unaligned and goes through
   * the cache. A file system that opens direct but refuses the read (`refusesDirect`) is read through
   * the cache from then on.
   */
  const canDirect = (bufs: Uint8Array[], at: number): boolean =>
    handles.direct !== null && at % DIRECT_BLOCK === 0 && bufs.every(isReadSlot);
  const readAt = (bufs: Uint8Array[], at: number): Promise<number> => {
    const read = (async () => {
      const direct = canDirect(bufs, at) ? handles.direct : null;
      if (direct !== null) {
        try {
          const n = (await direct.readv(bufs, at)).bytesRead;
          handles.reads.direct++;
          return n;
        } catch (err) {
          if (!refusesDirect(err)) throw ioError(err, path);
          handles.direct = null;
          await direct.close().catch(() => {});
        }
      }
      try {
        const n = (await fh.readv(bufs, at)).bytesRead;
        handles.reads.cached++;
        return n;
      } catch (err) {
        throw ioError(err, path);
      }
    })();
    // handled now, awaited later: a read ahead that fails while the consumer is busy elsewhere (gunzip,
    // an awaited batch) must reach it as a SourceError after the last good chunk, not end the process
    // as an unhandled rejection
    read.catch(() => {});
    return read;
  };
  // requests at explicit offsets: several in flight on libuv's pool may complete in any order
  const inflight: { bufs: Uint8Array[]; at: number; read: Promise<number> }[] = [];
  let next = 0;
  /** buffers waiting to be read into: a request goes out when it has BUFFERS_PER_READ of them */
  const pending: Uint8Array[] = [];
  const issue = (): void => {
    const bufs = pending.splice(0);
    inflight.push({ bufs, at: next, read: readAt(bufs, next) });
    next += bufs.length * chunkSize;
  };
  // buffers the consumer is done with, oldest first: with a holder, each waits its turn (the holder
  // may still read it); without one there is one, refilled at once
  const free: Uint8Array[] = [];
  const spares = reuse && holder ? Math.max(1, holder.buffers - READS_AHEAD * BUFFERS_PER_READ) : 1;
  const fresh = (): Uint8Array => {
    const buf = take();
    if (reuse) taken.push(buf);
    return buf;
  };
  /** the buffer the consumer has until it asks for the next chunk */
  let lent: Uint8Array | null = null;
  try {
    for (let i = 0; i < READS_AHEAD; i++) {
      for (let k = 0; k < BUFFERS_PER_READ; k++) pending.push(fresh());
      issue();
    }
    while (inflight.length > 0) {
      const { bufs, at, read } = inflight.shift()!;
      const total = await read;
      for (let k = 0; k < bufs.length; k++) {
        const buf = bufs[k]!;
        const n = Math.max(0, Math.min(chunkSize, total - k * chunkSize));
        if (n === 0 && k === 0) return;
        if (n < chunkSize) {
          // short (the end of the file, or it is growing): the reads after it began past what it got
          for (const r of inflight.splice(0)) await r.read.catch(() => 0);
          next = at + k * chunkSize + n;
          // the request's later buffers got nothing: they are read into again
          pending.push(...bufs.slice(k + 1));
          if (n === 0) {
            // this one got nothing either: read again from where the bytes stopped
            pending.push(buf);
            issue();
            break;
          }
        }
        // a decompressor may keep a reference to its input: it gets fresh memory each time
        if (lent !== null && reuse) free.push(lent);
        if (free.length >= spares) {
          const refill = free.shift()!;
          holder?.release(refill);
          pending.push(refill);
        } else pending.push(fresh());
        if (pending.length >= BUFFERS_PER_READ || inflight.length === 0) issue();
        lent = buf;
        const chunk = buf.subarray(0, n);
        onFileChunk?.(chunk);
        yield chunk;
        if (n < chunkSize) break;
      }
    }
  } finally {
    // reads still in flight must finish, and the holder let go, before the buffers are reused and
    // the file is closed
    for (const r of inflight) await r.read.catch(() => 0);
    for (const buf of taken) {
      if (holder) holder.release(buf);
      returnReadBuffer(buf);
    }
    try {
      await handles.direct?.close();
    } finally {
      await fh.close();
    }
  }
}

async function* gunzipChunks(raw: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const gunzip = createGunzip();
  let stopped = false;
  const feed = (async () => {
    try {
      for await (const chunk of raw) {
        if (stopped) return;
        if (!gunzip.write(chunk)) {
          // 'close' too: a consumer that stops early destroys the stream, and 'drain' never comes.
          await new Promise<void>((r) => {
            gunzip.once('drain', r);
            gunzip.once('close', r);
          });
        }
      }
      if (!stopped) gunzip.end();
    } catch (err) {
      gunzip.destroy(err instanceof Error ? err : new Error(String(err)));
    }
  })();
  try {
    for await (const out of gunzip) yield out as Uint8Array;
  } catch (err) {
    if (err instanceof SourceError) throw err;
    throw new SourceError('gzip.corrupt', `gzip: ${(err as Error).message}`);
  } finally {
    stopped = true;
    gunzip.destroy();
    await feed;
  }
}

async function* zstdChunks(raw: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const out: Uint8Array[] = [];
  const z = new Decompress((data) => {
    out.push(data);
  });
  let ended = false;
  try {
    for await (const chunk of raw) {
      z.push(chunk);
      yield* out.splice(0);
    }
    z.push(new Uint8Array(0), true);
    ended = true;
  } catch (err) {
    if (err instanceof SourceError) throw err;
    yield* out.splice(0);
    throw new SourceError('zstd.corrupt', `zstd: ${(err as Error).message}`);
  }
  yield* out.splice(0);
  if (!ended) throw new SourceError('zstd.corrupt', 'zstd: stream ended early');
}

/** In-memory variant: decompressed chunks plus the error that ended them, if any. */
export function decompressBytes(bytes: Uint8Array): {
  compression: Compression;
  chunks: Uint8Array[];
  error: SourceError | null;
} {
  const compression = sniffCompression(bytes);
  if (compression === 'none') return { compression, chunks: [bytes], error: null };
  if (compression === 'gzip') {
    try {
      return { compression, chunks: [gunzipSync(bytes)], error: null };
    } catch (err) {
      // Recover what precedes the damage, as the streaming path delivers it.
      let partial: Uint8Array = new Uint8Array(0);
      try {
        partial = gunzipSync(bytes, { finishFlush: zc.Z_SYNC_FLUSH });
      } catch {
        // nothing recoverable
      }
      return {
        compression,
        chunks: [partial],
        error: new SourceError('gzip.corrupt', `gzip: ${(err as Error).message}`),
      };
    }
  }
  const chunks: Uint8Array[] = [];
  const z = new Decompress((data) => {
    chunks.push(data);
  });
  try {
    z.push(bytes, true);
    return { compression, chunks, error: null };
  } catch (err) {
    return { compression, chunks, error: new SourceError('zstd.corrupt', `zstd: ${(err as Error).message}`) };
  }
}
