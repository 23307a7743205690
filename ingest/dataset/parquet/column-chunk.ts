/**
 * One column chunk being filled: its pages (header, levels, values) appended to one body buffer from
 * body-pool.ts, written out as it is. The buffer is sized from the previous row group's chunk of the
 * same column, so after the first row group it rarely grows.
 */

import { releaseBody, takeBody } from './body-pool.ts';
import {
  type ChunkStatistics,
  type ColumnChunkMeta,
  Encoding,
  type PhysicalType,
  writeDataPageHeader,
  writeDictionaryPageHeader,
} from './format.ts';
import { ThriftWriter } from './thrift-compact.ts';
import { ValueDictionary } from './value-dictionary.ts';

const headerWriter = new ThriftWriter();
/**
 * A projection is made from a page of at least this many values (a small first page, one row of an
 * hour's end say, would project its header over every row: 64 partitions of one-row first batches
 * reserved 25.6 GB), and is at most MAX_PROJECTED_BYTES (a column of 2^18 rows holds ~4 MB here).
 */
const MIN_PROJECTING_VALUES = 4096;
const MAX_PROJECTED_BYTES = 32 << 20;

/**
 * Min/max as (hi, lo) pairs: hi signed for INT64, 0 for INT32 (lo compared as unsigned: a signed INT32
 * column, the sightings' flow_id, holds only values below 2^31).
 */
export class MinMax {
  seen = false;
  minHi = 0;
  minLo = 0;
  maxHi = 0;
  maxLo = 0;

  add(minHi: number, minLo: number, maxHi: number, maxLo: number): void {
    if (!this.seen || minHi < this.minHi || (minHi === this.minHi && minLo < this.minLo)) {
      this.minHi = minHi;
      this.minLo = minLo;
    }
    if (!this.seen || maxHi > this.maxHi || (maxHi === this.maxHi && maxLo > this.maxLo)) {
      this.maxHi = maxHi;
      this.maxLo = maxLo;
    }
    this.seen = true;
  }

  reset(): void {
    this.seen = false;
  }
}

function plainBound(hi: number, lo: number, type: PhysicalType): Uint8Array {
  const out = new Uint8Array(type === 1 ? 4 : 8);
  const view = new DataView(out.buffer);
  view.setUint32(0, lo, true);
  if (out.length === 8) view.setInt32(4, hi, true);
  return out;
}

export interface TakenChunk {
  segments: Uint8Array[];
  meta: ColumnChunkMeta;
  /** the body buffer to give back (releaseBody) once the segments are written */
  body: Uint8Array | null;
}

export class ChunkBuilder {
  private body: Uint8Array | null = null;
  /** bytes of data pages so far */
  size = 0;
  /** the size this chunk reached in the previous row group: the next body buffer's size */
  private lastSize = 0;
  /** level entries */
  numValues = 0;
  nullCount = 0;
  readonly stats: MinMax | null;
  /**
   * For integer columns whose values are their own dictionary ids: the largest value in a
   * RLE_DICTIONARY page so far (the dictionary page is 0..max), -1 while every page is PLAIN.
   */
  dictionaryMax = -1;
  /** some data page of this row group is DELTA_BINARY_PACKED */
  private delta = false;
  /** for the MAC columns: the chunk's dictionary of values (see dictionaryMax for the others) */
  readonly values: ValueDictionary | null;
  private readonly type: PhysicalType;
  private readonly path: readonly string[];
  /** level entries a row group is expected to reach (its row limit), 0 when not known */
  private readonly expectValues: number;

  constructor(
    type: PhysicalType,
    path: readonly string[],
    opts: { stats: boolean; values?: boolean; expectValues?: number },
  ) {
    this.type = type;
    this.path = path;
    this.expectValues = opts.expectValues ?? 0;
    this.stats = opts.stats ? new MinMax() : null;
    this.values = opts.values ? new ValueDictionary() : null;
  }

  /** Adds a data page made of `parts` (levels, then values), `numValues` level entries. */
  addPage(
    parts: readonly Uint8Array[],
    numValues: number,
    nulls: number,
    encoding: number = Encoding.PLAIN,
  ): void {
    let size = 0;
    for (const p of parts) size += p.length;
    headerWriter.reset();
    writeDataPageHeader(headerWriter, {
      size,
      numValues,
      encoding,
    });
    const header = headerWriter.bytes();
    const body = this.room(header.length + size, size, numValues);
    let at = this.size;
    body.set(header, at);
    at += header.length;
    for (const p of parts) {
      body.set(p, at);
      at += p.length;
    }
    this.size = at;
    if (encoding === Encoding.DELTA_BINARY_PACKED) this.delta = true;
    this.numValues += numValues;
    this.nullCount += nulls;
  }

  /** The body buffer with room for `extra` more bytes, `data` of them for `values` more level entries. */
  private room(extra: number, data: number, values: number): Uint8Array {
    const need = this.size + extra;
    const body = this.body;
    if (body && body.length >= need) return body;
    const grown = takeBody(
      Math.max(
        need,
        this.lastSize,
        body ? body.length + (body.length >>> 1) : 0,
        this.projected(need, data, values),
      ),
    );
    if (body) {
      grown.set(body.subarray(0, this.size));
      releaseBody(body);
    }
    this.body = grown;
    return grown;
  }

  /**
   * The first row group's body sized at once from its first page, `need` bytes in all with `data`
   * bytes of the page's values and levels for its `values` entries: grown page by page instead, it was
   * copied and its abandoned buffers paged in about twice over (fresh pages are dear here, see
   * direct-file.ts), which stalled the ingest at the start of every new partition. Untouched, the room
   * costs address space only.
   */
  private projected(need: number, data: number, values: number): number {
    if (this.lastSize > 0 || this.numValues > 0 || values < MIN_PROJECTING_VALUES) return 0;
    if (this.expectValues <= values) return 0;
    return Math.min(need + Math.ceil((data / values) * (this.expectValues - values)), MAX_PROJECTED_BYTES);
  }

  /**
   * Moves the pages out for writing at `offset`: returns the segments (a dictionary page first when
   * given) and the chunk's metadata, and leaves the builder empty for the next row group.
   */
  take(offset: number, dictionary: Uint8Array | null, dictionaryEntries: number): TakenChunk {
    const segments: Uint8Array[] = [];
    let size = this.size;
    let dataPageOffset = offset;
    if (dictionary) {
      headerWriter.reset();
      writeDictionaryPageHeader(headerWriter, dictionary.length, dictionaryEntries);
      const header = headerWriter.bytes().slice();
      segments.push(header, dictionary);
      size += header.length + dictionary.length;
      dataPageOffset += header.length + dictionary.length;
    }
    const body = this.body;
    if (body && this.size > 0) segments.push(body.subarray(0, this.size));
    let stats: ChunkStatistics = { nullCount: this.nullCount };
    if (this.stats?.seen) {
      const s = this.stats;
      stats = {
        nullCount: this.nullCount,
        min: plainBound(s.minHi, s.minLo, this.type),
        max: plainBound(s.maxHi, s.maxLo, this.type),
      };
    }
    const encodings: number[] = [Encoding.PLAIN, Encoding.RLE];
    if (dictionary) encodings.push(Encoding.RLE_DICTIONARY);
    if (this.delta) encodings.push(Encoding.DELTA_BINARY_PACKED);
    const meta: ColumnChunkMeta = {
      type: this.type,
      encodings,
      path: this.path,
      numValues: this.numValues,
      size,
      dataPageOffset,
      ...(dictionary ? { dictionaryPageOffset: offset } : {}),
      stats,
    };
    this.body = null;
    this.lastSize = this.size;
    this.size = 0;
    this.numValues = 0;
    this.nullCount = 0;
    this.dictionaryMax = -1;
    this.delta = false;
    this.values?.reset();
    this.stats?.reset();
    return { segments, meta, body };
  }
}
