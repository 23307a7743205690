/**
 * `hoptrace ingest`: capture files -> a dataset folder of Hive-partitioned Parquet
 * (`packets/node=<node>/hour=<UTC hour>/*.parquet`, `captures/captures.parquet`) plus `dataset.json`
 * and the SQL that opens it. Written under a temporary name and moved into place when complete, so an
 * interrupted run never leaves a dataset that reads as complete.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { DuckDBConnection } from '@duckdb/node-api';
import { type FilePlace, kindOf, placeOf, pointId } from '../capture-points.ts';
import { PacketColumns } from '../columns/packet-columns.ts';
import { packetFields } from '../columns/packets-schema.ts';
import type { InputError } from '../errors.ts';
import { type InterfaceSummary, PacketBatchSink } from '../packets-from-capture.ts';
import { readCapture } from '../read-capture.ts';
import { openDuckDb, sqlString } from './duckdb.ts';
import { type CapturePointEntry, PacketsDatasetWriter } from './parquet/packets-dataset.ts';
import { macroStatements } from './sql-macros.ts';

export const DATASET_SCHEMA_VERSION = 1;

export interface IngestOptions {
  outDir: string;
  memoryLimit?: string;
  threads?: number;
  /** rows per Parquet row group (each partition's file gets one when it has this many) */
  rowGroupRows?: number;
  batchRows?: number;
  onFileDone?: (file: FileSummary) => void;
}

export interface CaptureRow {
  capture_point: string;
  node: string | null;
  pod: string | null;
  iface: string;
  kind: string;
  link_type: number;
  ts_resolution: string;
  snaplen: number;
  packets: number;
  bytes: number;
  decode_errors: number;
  drops: number | null;
  start_ns: bigint | null;
  end_ns: bigint | null;
  file: string;
  sha256: string;
  clock_offset_ns: bigint;
}

export interface FileSummary {
  file: string;
  records: number;
  error: InputError | null;
  warnings: number;
  captures: CaptureRow[];
}

export interface IngestSummary {
  outDir: string;
  files: FileSummary[];
  packets: number;
  faults: InputError[];
}

interface InputFile {
  abs: string;
  /** as shown in outputs: relative to the bundle root when there is one */
  display: string;
}

/** Files and folders -> capture files. In a folder, only files whose first bytes are a known magic. */
export async function expandInputs(inputs: readonly string[]): Promise<InputFile[]> {
  const out: InputFile[] = [];
  for (const input of inputs) {
    const st = await fs.stat(input).catch(() => null);
    if (!st) {
      out.push({ abs: path.resolve(input), display: input });
      continue;
    }
    if (st.isFile()) {
      out.push({ abs: path.resolve(input), display: displayName(path.resolve(input), input) });
      continue;
    }
    const root = path.resolve(input);
    const entries = await fs.readdir(root, { recursive: true, withFileTypes: true });
    const files = entries
      .filter((e) => e.isFile())
      .map((e) => path.join(e.parentPath, e.name))
      .sort();
    for (const abs of files) {
      if (await looksLikeCapture(abs))
        out.push({ abs, display: path.relative(root, abs).split(path.sep).join('/') });
    }
  }
  return out;
}

function displayName(abs: string, given: string): string {
  // inside a bundle, name files from the bundle root so capture points and evidence match bundle.json
  const parts = abs.split(path.sep);
  for (let i = parts.length - 1; i >= 0; i--) {
    if ((parts[i] === 'nodes' || parts[i] === 'pods') && parts.includes('captures')) {
      return parts.slice(i).join('/');
    }
  }
  return given;
}

const MAGICS = [
  0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1, 0xa1b2cd34, 0x34cdb2a1, 0x0a0d0d0a, 0x28b52ffd,
];

async function looksLikeCapture(abs: string): Promise<boolean> {
  const fh = await fs.open(abs, 'r').catch(() => null);
  if (!fh) return false;
  try {
    const buf = Buffer.alloc(4);
    const { bytesRead } = await fh.read(buf, 0, 4, 0);
    if (bytesRead < 4) return false;
    if (buf[0] === 0x1f && buf[1] === 0x8b) return true;
    return MAGICS.includes(buf.readUInt32BE(0));
  } finally {
    await fh.close();
  }
}

export async function ingestToDataset(
  inputs: readonly string[],
  opts: IngestOptions,
): Promise<IngestSummary> {
  const files = await expandInputs(inputs);
  const outDir = path.resolve(opts.outDir);
  const work = `${outDir}.partial-${process.pid}`;
  await fs.rm(work, { recursive: true, force: true });
  await fs.mkdir(path.join(work, 'packets'), { recursive: true });
  await fs.mkdir(path.join(work, 'captures'), { recursive: true });

  const summary: IngestSummary = { outDir, files: [], packets: 0, faults: [] };
  // packets go straight to Parquet; DuckDB is opened only for the small captures table at the end
  const points: CapturePointEntry[] = [];
  const fileNames: string[] = [];
  const writer = new PacketsDatasetWriter({
    dir: path.join(work, 'packets'),
    points,
    files: fileNames,
    ...(opts.rowGroupRows ? { rowGroupRows: opts.rowGroupRows } : {}),
  });
  const batch = new PacketColumns(opts.batchRows ?? 65536);
  const pointIds = new Map<string, number>();
  try {
    for (let fileId = 0; fileId < files.length; fileId++) {
      const input = files[fileId]!;
      fileNames.push(input.display);
      const place = placeOf(input.display);
      const sink = new PacketBatchSink(
        {
          fileId,
          pointFor: (info) => {
            const point = pointId(place, info.section > 0 && info.name ? info.name : null);
            let id = pointIds.get(point);
            if (id === undefined) {
              id = points.length;
              pointIds.set(point, id);
              points.push({ name: point, node: place.node ?? '-' });
            }
            return id;
          },
          onBatch: (b) => writer.write(b),
        },
        batch,
      );
      const [result, sha256] = await Promise.all([
        readCapture(input.abs, sink, { file: input.display }),
        sha256File(input.abs),
      ]);
      const interfaces = sink.finish();
      const captures = interfaces.map((s) => captureRow(s, place, input.display, sha256 ?? ''));
      const fileSummary: FileSummary = {
        file: input.display,
        records: result.records,
        error: result.error,
        warnings: result.warnings.length,
        captures,
      };
      if (result.error) summary.faults.push(result.error);
      summary.files.push(fileSummary);
      summary.packets += result.records;
      opts.onFileDone?.(fileSummary);
    }
  } catch (e) {
    writer.abort();
    throw e;
  }
  await writer.close();

  const db = await openDuckDb({
    memoryLimit: opts.memoryLimit,
    threads: opts.threads,
    tempDirectory: path.join(work, '.duckdb-tmp'),
  });
  const con = await db.connect();
  try {
    await writeCaptures(con, path.join(work, 'captures', 'captures.parquet'), summary.files);
    await fs.writeFile(path.join(work, 'macros.sql'), `${macroStatements.join(';\n\n')};\n`);
    await fs.writeFile(path.join(work, 'views.sql'), viewStatements('.').join(';\n\n').concat(';\n'));
    await fs.writeFile(
      path.join(work, 'dataset.json'),
      `${JSON.stringify(datasetManifest(summary), null, 2)}\n`,
    );
  } finally {
    con.closeSync();
    db.closeSync();
    await fs.rm(path.join(work, '.duckdb-tmp'), { recursive: true, force: true });
  }
  await replaceDir(work, outDir);
  return summary;
}

/** Moves a finished dataset into place; an older dataset at that path is replaced whole. */
async function replaceDir(work: string, outDir: string): Promise<void> {
  const old = `${outDir}.old-${process.pid}`;
  const existed = await fs.stat(outDir).then(
    () => true,
    () => false,
  );
  if (existed) await fs.rename(outDir, old);
  await fs.rename(work, outDir);
  if (existed) await fs.rm(old, { recursive: true, force: true });
}

/** Files at least this large are hashed on a worker thread; smaller ones are not worth its start-up. */
const HASH_WORKER_MIN_BYTES = 16 << 20;

/** Hashes a file on its own thread: plain CommonJS, so it needs no TypeScript loader. */
const HASH_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const hash = createHash('sha256');
const buf = Buffer.allocUnsafe(1 << 22);
const fd = fs.openSync(workerData, 'r');
try {
  for (;;) {
    const n = fs.readSync(fd, buf, 0, buf.length, null);
    if (n === 0) break;
    hash.update(buf.subarray(0, n));
  }
} finally {
  fs.closeSync(fd);
}
parentPort.postMessage(hash.digest('hex'));
`;

/**
 * SHA-256 of a file, or null when it cannot be read. Large captures are hashed on a worker thread:
 * hashing 1.7 GB takes ~1.4 s of CPU, which would otherwise sit on the thread that decodes.
 */
async function sha256File(abs: string): Promise<string | null> {
  const size = await fs.stat(abs).then(
    (st) => st.size,
    () => -1,
  );
  if (size < 0) return null;
  if (size >= HASH_WORKER_MIN_BYTES) {
    return new Promise((resolve) => {
      const worker = new Worker(HASH_WORKER, { eval: true, workerData: abs });
      worker.once('message', (hex: string) => resolve(hex));
      worker.once('error', () => resolve(null));
      worker.once('exit', () => resolve(null));
    });
  }
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(abs, { highWaterMark: 1 << 22 })) hash.update(chunk as Buffer);
    return hash.digest('hex');
  } catch {
    return null;
  }
}

function captureRow(s: InterfaceSummary, place: FilePlace, file: string, sha256: string): CaptureRow {
  const iface = s.info.section > 0 && s.info.name ? s.info.name : place.iface;
  const isbDrops = s.stats ? (s.stats.ifDrop ?? 0) + (s.stats.osDrop ?? 0) : null;
  const drops = isbDrops === null && s.epbDrops === 0 ? null : (isbDrops ?? 0) + s.epbDrops;
  return {
    capture_point: pointId(place, s.info.section > 0 && s.info.name ? s.info.name : null),
    node: place.node,
    pod: place.pod,
    iface,
    kind: kindOf(place, iface),
    link_type: s.info.linkType,
    ts_resolution: s.info.tsResolution,
    snaplen: s.info.snaplen,
    packets: s.packets,
    bytes: s.bytes,
    decode_errors: s.decodeErrors,
    drops,
    start_ns: s.firstNs,
    end_ns: s.lastNs,
    file,
    sha256,
    clock_offset_ns: 0n,
  };
}

async function writeCaptures(
  con: DuckDBConnection,
  file: string,
  files: readonly FileSummary[],
): Promise<void> {
  await con.run(`CREATE TABLE captures (capture_point VARCHAR, node VARCHAR, pod VARCHAR, iface VARCHAR, kind VARCHAR,
    link_type USMALLINT, ts_resolution VARCHAR, snaplen UINTEGER, packets UBIGINT, bytes UBIGINT, decode_errors UBIGINT,
    drops UBIGINT, start_ns BIGINT, end_ns BIGINT, file VARCHAR, sha256 VARCHAR, clock_offset_ns BIGINT,
    fault VARCHAR)`);
  for (const f of files) {
    for (const c of f.captures) {
      await con.run(
        'INSERT INTO captures VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18)',
        [
          c.capture_point,
          c.node,
          c.pod,
          c.iface,
          c.kind,
          c.link_type,
          c.ts_resolution,
          c.snaplen,
          c.packets,
          c.bytes,
          c.decode_errors,
          c.drops,
          c.start_ns,
          c.end_ns,
          c.file,
          c.sha256,
          c.clock_offset_ns,
          f.error ? f.error.line() : null,
        ],
      );
    }
  }
  await con.run(`COPY captures TO ${sqlString(file)} (FORMAT parquet)`);
}

/** Views over a dataset folder; `root` is a path DuckDB resolves (absolute, or relative to its cwd). */
export function viewStatements(root: string): string[] {
  const packets = path.posix.join(root, 'packets', '**', '*.parquet');
  const captures = path.posix.join(root, 'captures', '*.parquet');
  const view = packetFields
    .filter((f) => f.view !== null)
    .map((f) => (f.view ? `${f.view} AS ${f.name}` : f.name));
  return [
    `CREATE OR REPLACE VIEW packets_raw AS SELECT * FROM read_parquet(${sqlString(packets)}, hive_partitioning = true, union_by_name = true)`,
    `CREATE OR REPLACE VIEW packets AS SELECT ${view.join(', ')}, node, hour FROM packets_raw`,
    `CREATE OR REPLACE VIEW captures AS SELECT * FROM read_parquet(${sqlString(captures)})`,
  ];
}

function datasetManifest(summary: IngestSummary): object {
  return {
    schema_version: DATASET_SCHEMA_VERSION,
    tool: { name: 'hoptrace', version: '0.1.0' },
    created: new Date().toISOString(),
    tables: {
      packets: { path: 'packets', partitioning: ['node', 'hour'], rows: summary.packets },
      captures: { path: 'captures/captures.parquet' },
    },
    files: summary.files.map((f) => ({
      file: f.file,
      records: f.records,
      warnings: f.warnings,
      fault: f.error ? { code: f.error.code, offset: f.error.offset, message: f.error.line() } : null,
    })),
  };
}
