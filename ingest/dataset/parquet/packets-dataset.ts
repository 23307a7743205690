/**
 * PacketColumns batches -> the Hive-partitioned `packets` Parquet files
 * (`<dir>/node=<node>/hour=<YYYY-MM-DDTHH>/part-NNNNN.parquet`). One open file per partition, a row group
 * written whenever a partition reaches `rowGroupRows` or `rowGroupBytes`, and the largest partition's
 * row group written early when all partitions together hold more than `maxBufferedBytes`, so memory is
 * bounded whatever the input size. Rows are routed without per-row objects: a batch that lies in one
 * partition (the usual case: captures are time-ordered) is encoded as it is; only a batch that spans
 * several is sorted by partition and gathered.
 */
import fs from 'node:fs';
import path from 'node:path';
import { PacketColumns } from '../../columns/packet-columns.ts';
import type { ChunkBuilder } from './column-chunk.ts';
import { gatherRows } from './gather-rows.ts';
import { HOUR_ODD, hiveEscape, hourLabel, shiftedNs } from './hive-path.ts';
import {
  type EncodeContext,
  EncodeScratch,
  encodePacketPages,
  packetChunkBuilders,
  packetColumnSpecs,
  packetsSchema,
  plainRange,
  plainStrings,
} from './packets-parquet.ts';
import { ParquetFile } from './parquet-file.ts';

export interface CapturePointEntry {
  name: string;
  /** partition value; '-' when the capture point has no node */
  node: string;
}

export interface PacketsDatasetOptions {
  /** the `packets` folder */
  dir: string;
  /** capture point dictionary (grows while ingesting; read, never copied) */
  points: readonly CapturePointEntry[];
  /** file dictionary (grows while ingesting) */
  files: readonly string[];
  rowGroupRows?: number;
  rowGroupBytes?: number;
  maxBufferedBytes?: number;
  maxOpenPartitions?: number;
}

const CREATED_BY = 'hoptrace packets-parquet 1';
const NO_HOUR = 0;
/** hour numbers are within ±2.6 M (±2^63 ns); the offset makes them positive, 0 stays "no timestamp" */
const HOUR_BIAS = 1 << 22;
const KEY_NODE = 2 ** 23;

interface ErrorMap {
  ids: Uint16Array;
  /** entries of the batch's list mapped so far */
  mapped: number;
}

const NO_ERRORS = new Uint16Array(1);

interface Partition {
  key: number;
  dir: string;
  part: number;
  file: ParquetFile | null;
  chunks: ChunkBuilder[];
  rows: number;
  bytes: number;
  lastUse: number;
}

export class PacketsDatasetWriter {
  private readonly opts: Required<PacketsDatasetOptions>;
  private readonly partitions = new Map<number, Partition>();
  /** partition folders already used, with the next part number (a partition evicted and met again) */
  private readonly nextPart = new Map<number, number>();
  private readonly nodes: string[] = [];
  private readonly nodeIds = new Map<string, number>();
  private pointNode = new Int32Array(0);
  private readonly errors: string[] = [];
  private readonly errorIds = new Map<string, number>();
  private readonly ctx: EncodeContext = {
    maxPoint: 0,
    maxFile: 0,
    maxError: 0,
    errorMap: NO_ERRORS,
  };
  /** per batch instance (each has its own interned list): its ids -> this writer's */
  private readonly errorMaps = new WeakMap<PacketColumns, ErrorMap>();
  private scratch: EncodeScratch | null = null;
  private gathered: PacketColumns | null = null;
  private keys = new Float64Array(0);
  private buffered = 0;
  private tick = 0;
  private readonly dictionaryCache = new Map<string, { n: number; entries: number; bytes: Uint8Array }>();
  /** paths of the files finished since the last `endFiles` */
  private finished: string[] = [];
  /** rows written */
  rows = 0;

  constructor(opts: PacketsDatasetOptions) {
    this.opts = {
      // a row group's pages are held until it is written: 1 << 20 rows held ~60 MB of bodies, whose
      // first touch (~3 ms a MB on this kind of VM, see direct-file.ts) cost the 10 M-packet ingest
      // 0.25 s of its 3.2; DuckDB's own row groups are 122 880 rows
      rowGroupRows: 1 << 18,
      rowGroupBytes: 128 << 20,
      maxBufferedBytes: 160 << 20,
      maxOpenPartitions: 64,
      ...opts,
    };
  }

  /** Encodes rows [0, batch.length) into their partitions' row groups (the batch may be reused after). */
  write(batch: PacketColumns): void {
    const n = batch.length;
    if (n === 0) return;
    this.syncErrors(batch);
    this.ctx.maxPoint = this.opts.points.length - 1;
    this.ctx.maxFile = this.opts.files.length - 1;
    this.ctx.maxError = this.errors.length - 1;
    if (!this.scratch || this.scratch.capacity < batch.capacity)
      this.scratch = new EncodeScratch(batch.capacity);
    const first = this.routeRows(batch);
    if (first !== null) this.encodeInto(this.partition(first), batch, n);
    else this.writeSplit(batch);
    this.rows += n;
  }

  /** Flushes every partition and writes the footers. A dataset without rows gets one empty file. */
  async close(): Promise<void> {
    for (const p of this.partitions.values()) this.closePartition(p);
    this.partitions.clear();
    if (this.nextPart.size === 0) {
      const dir = path.join(this.opts.dir, 'node=-', 'hour=none');
      fs.mkdirSync(dir, { recursive: true });
      new ParquetFile(path.join(dir, 'part-empty.parquet'), packetsSchema, leafCount()).close(CREATED_BY);
    }
  }

  /**
   * Finishes every open part file (footers written) and returns the paths of the files finished since
   * the last call: an input file's rows, complete on disk, that a resumed run can keep.
   */
  async endFiles(): Promise<string[]> {
    for (const p of this.partitions.values()) this.closePartition(p);
    this.partitions.clear();
    const done = this.finished;
    this.finished = [];
    return done;
  }

  /** After a failure elsewhere: closes the files without footers (the temporary dataset is discarded). */
  abort(): void {
    for (const p of this.partitions.values()) p.file?.abort();
    this.partitions.clear();
  }

  /**
   * Forgets what `batch`'s decode_error ids were mapped to: its list starts over (an instance whose
   * list was replaced, encode-thread.ts).
   */
  forgetErrors(batch: PacketColumns): void {
    this.errorMaps.delete(batch);
  }

  /** Maps the batch's decode_error ids to this writer's dictionary (only ids not seen before). */
  private syncErrors(batch: PacketColumns): void {
    let m = this.errorMaps.get(batch);
    if (!m) {
      m = { ids: new Uint16Array(65536), mapped: 1 };
      this.errorMaps.set(batch, m);
    }
    for (; m.mapped < batch.errors.length; m.mapped++) {
      const message = batch.errors[m.mapped]!;
      let id = this.errorIds.get(message);
      if (id === undefined) {
        id = this.errors.length;
        this.errors.push(message);
        this.errorIds.set(message, id);
      }
      m.ids[m.mapped] = id;
    }
    this.ctx.errorMap = m.ids;
  }

  private nodeOfPoint(point: number): number {
    if (point >= this.pointNode.length) {
      const points = this.opts.points;
      const grown = new Int32Array(Math.max(points.length, point + 1));
      for (let i = 0; i < points.length; i++) {
        const node = points[i]!.node;
        let id = this.nodeIds.get(node);
        if (id === undefined) {
          id = this.nodes.length;
          this.nodes.push(node);
          this.nodeIds.set(node, id);
        }
        grown[i] = id;
      }
      this.pointNode = grown;
      if (point >= points.length) throw new Error(`packets: capture point id ${point} has no entry`);
    }
    return this.pointNode[point]!;
  }

  /**
   * Computes each row's partition key into `this.keys`; returns the key when all rows share it
   * (the common case), else null.
   */
  private routeRows(c: PacketColumns): number | null {
    const n = c.length;
    if (this.keys.length < n) this.keys = new Float64Array(c.capacity);
    const keys = this.keys;
    const ts = c.ts;
    const tsValid = c.tsValid;
    const point = c.point;
    let lastPoint = -1;
    let nodeKey = 0;
    let first = -1;
    let mixed = false;
    // the hour of the previous row, as a range of `ts >> 13`: most rows fall in it and skip the division
    let hourFrom = 1;
    let hourTo = 0;
    let lastHour = 0;
    for (let r = 0; r < n; r++) {
      const p = point[r]!;
      if (p !== lastPoint) {
        lastPoint = p;
        nodeKey = this.nodeOfPoint(p) * KEY_NODE;
      }
      let hour = NO_HOUR;
      if (tsValid[r] !== 0) {
        const shifted = shiftedNs(ts[2 * r]!, ts[2 * r + 1]!);
        if (shifted < hourFrom || shifted >= hourTo) {
          lastHour = Math.floor(shifted / HOUR_ODD);
          hourFrom = lastHour * HOUR_ODD;
          hourTo = hourFrom + HOUR_ODD;
        }
        hour = lastHour + HOUR_BIAS;
      }
      const key = nodeKey + hour;
      keys[r] = key;
      if (first === -1) first = key;
      else if (key !== first) mixed = true;
    }
    return mixed ? null : first;
  }

  /** A batch over several partitions: counting sort of row indices by partition, then gather. */
  private writeSplit(c: PacketColumns): void {
    const n = c.length;
    const keys = this.keys;
    const slot = new Map<number, number>();
    const ords = new Uint16Array(n);
    let lastKey = -1;
    let lastOrd = 0;
    for (let r = 0; r < n; r++) {
      const key = keys[r]!;
      if (key !== lastKey) {
        let o = slot.get(key);
        if (o === undefined) {
          o = slot.size;
          slot.set(key, o);
        }
        lastKey = key;
        lastOrd = o;
      }
      ords[r] = lastOrd;
    }
    const counts = new Uint32Array(slot.size + 1);
    for (let r = 0; r < n; r++) counts[ords[r]! + 1]!++;
    for (let o = 1; o <= slot.size; o++) counts[o]! += counts[o - 1]!;
    const starts = counts.slice();
    const rows = new Uint32Array(n);
    for (let r = 0; r < n; r++) rows[starts[ords[r]!]!++] = r;
    if (!this.gathered || this.gathered.capacity < c.capacity) this.gathered = new PacketColumns(c.capacity);
    const g = this.gathered;
    for (const [key, o] of slot) {
      const from = counts[o]!;
      const m = counts[o + 1]! - from;
      gatherRows(c, g, rows.subarray(from), m);
      this.encodeInto(this.partition(key), g, m);
    }
  }

  private partition(key: number): Partition {
    let p = this.partitions.get(key);
    if (p) {
      p.lastUse = ++this.tick;
      return p;
    }
    if (this.partitions.size >= this.opts.maxOpenPartitions) this.evictOldest();
    const node = this.nodes[Math.floor(key / KEY_NODE)]!;
    const hour = key % KEY_NODE;
    const label = hour === NO_HOUR ? 'none' : hourLabel(hour - HOUR_BIAS);
    const dir = path.join(this.opts.dir, `node=${hiveEscape(node)}`, `hour=${label}`);
    const part = this.nextPart.get(key) ?? 0;
    this.nextPart.set(key, part + 1);
    p = {
      key,
      dir,
      part,
      file: null,
      chunks: packetChunkBuilders(this.opts.rowGroupRows),
      rows: 0,
      bytes: 0,
      lastUse: ++this.tick,
    };
    this.partitions.set(key, p);
    return p;
  }

  private evictOldest(): void {
    let oldest: Partition | null = null;
    for (const p of this.partitions.values()) if (!oldest || p.lastUse < oldest.lastUse) oldest = p;
    if (!oldest) return;
    this.closePartition(oldest);
    this.partitions.delete(oldest.key);
  }

  private encodeInto(p: Partition, c: PacketColumns, n: number): void {
    encodePacketPages(c, n, this.scratch!, this.ctx, p.chunks);
    p.rows += n;
    let bytes = 0;
    for (const ch of p.chunks) bytes += ch.size;
    this.buffered += bytes - p.bytes;
    p.bytes = bytes;
    if (p.rows >= this.opts.rowGroupRows || p.bytes >= this.opts.rowGroupBytes) this.flushRowGroup(p);
    while (this.buffered > this.opts.maxBufferedBytes) {
      let largest: Partition | null = null;
      for (const q of this.partitions.values()) if (!largest || q.bytes > largest.bytes) largest = q;
      if (!largest || largest.rows === 0) break;
      this.flushRowGroup(largest);
    }
  }

  private flushRowGroup(p: Partition): void {
    if (p.rows === 0) return;
    if (!p.file) {
      fs.mkdirSync(p.dir, { recursive: true });
      const name = `part-${String(p.part).padStart(5, '0')}.parquet`;
      p.file = new ParquetFile(path.join(p.dir, name), packetsSchema, leafCount());
    }
    p.file.writeRowGroup(p.rows, p.chunks.length, (i, offset) => {
      const dict = this.dictionaryOf(i, p.chunks[i]!);
      return p.chunks[i]!.take(offset, dict?.bytes ?? null, dict?.entries ?? 0);
    });
    this.buffered -= p.bytes;
    p.rows = 0;
    p.bytes = 0;
  }

  /** Writes the partition's last row group and footer, and closes its file. */
  private closePartition(p: Partition): void {
    this.flushRowGroup(p);
    if (p.file) {
      p.file.close(CREATED_BY);
      this.finished.push(p.file.path);
    }
    p.file = null;
  }

  /**
   * The dictionary page body of column `i`: strings for a string column (cached while the list does
   * not grow), the values of an address column that has dictionary pages, 0..max for another integer
   * column that has dictionary pages, else none.
   */
  private dictionaryOf(i: number, chunk: ChunkBuilder): { bytes: Uint8Array; entries: number } | null {
    const spec = packetColumnSpecs[i]!;
    if (chunk.values?.used) return { bytes: chunk.values.page(), entries: chunk.values.size };
    if (chunk.dictionaryMax >= 0) {
      const max = chunk.dictionaryMax;
      return { bytes: plainRange(max), entries: max + 1 };
    }
    if (spec.kind !== 'dict') return null;
    let values: readonly string[];
    switch (spec.source) {
      case 'point':
        values = this.opts.points.map((p) => p.name);
        break;
      case 'file':
        values = this.opts.files;
        break;
      case 'direction':
        values = ['in', 'out'];
        break;
      case 'error':
        values = this.errors;
        break;
    }
    // cached by the list's own length: the placeholder below must not pass for a one-entry list
    const cached = this.dictionaryCache.get(spec.source);
    if (cached && cached.n === values.length) return { bytes: cached.bytes, entries: cached.entries };
    const n = values.length;
    // a dictionary page is never empty: readers differ on zero-entry dictionaries
    if (values.length === 0) values = [''];
    const bytes = plainStrings(values);
    this.dictionaryCache.set(spec.source, { n, entries: values.length, bytes });
    return { bytes, entries: values.length };
  }
}

function leafCount(): number {
  return packetColumnSpecs.length;
}
