/**
 * A lane whose Parquet encoding runs on a thread of its own (encode-thread.ts) must write exactly the
 * rows the single-thread lane writes. Small batches and row groups make the lane cycle its batches
 * through the encoder many times (waiting for returned ones), carry decode_error strings first seen in
 * different batches and files, and cross row groups and partitions. Compared through DuckDB.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateCaptures } from '../../../bench/generate-capture.ts';
import { openDuckDb, sqlString } from '../../../ingest/dataset/duckdb.ts';
import { prepareEncodeThread } from '../../../ingest/dataset/encode-thread.ts';
import { openDataset } from '../../../ingest/dataset/open-dataset.ts';
import { runReadOnlyQuery } from '../../../ingest/dataset/run-query.ts';
import { type IngestSummary, ingestToDataset } from '../../../ingest/dataset/write-dataset.ts';
import { pcapKernel } from '../../../ingest/decode/kernel/pcap-kernel.ts';
import { pcapFile } from '../ingest/capture-builder.ts';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ht-pipelined-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function rows(dataset: string, sql: string): Promise<unknown[][]> {
  const ds = await openDataset(dataset, { memoryLimit: '256MB', threads: 1 });
  try {
    const [r] = await runReadOnlyQuery(ds.con, sql);
    return r!.rows;
  } finally {
    ds.close();
  }
}

/** The Parquet files as stored (the views decode addresses and ids; this reads what was written). */
async function parquetRows(dataset: string, sql: (files: string) => string): Promise<unknown[][]> {
  const db = await openDuckDb({ memoryLimit: '256MB', threads: 1 });
  const con = await db.connect();
  try {
    const files = `read_parquet(${sqlString(path.join(dataset, 'packets/*/*/*.parquet'))}, hive_partitioning = true)`;
    return (await con.runAndReadAll(sql(files))).getRows();
  } finally {
    con.closeSync();
    db.closeSync();
  }
}

const ETH_IPV4 = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
const ETH_IPV6 = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x86, 0xdd];

/** Frames cut inside a header, three kinds of decode_error, spread over the file. */
function damagedFrames(n: number): Uint8Array {
  const recs = Array.from({ length: n }, (_, i) => {
    const kind = i % 4;
    let data: Uint8Array;
    if (kind === 0) data = Uint8Array.from([...ETH_IPV4, 0x45, 0, 0, 40, 0, i & 255]);
    else if (kind === 1) data = Uint8Array.from([...ETH_IPV6, 0x60, 0, 0, 0]);
    else if (kind === 2) {
      // IPv4 to TCP with 4 bytes of TCP header
      data = Uint8Array.from([
        ...ETH_IPV4,
        ...[0x45, 0, 0, 24, 0, i & 255, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2],
        ...[0x30, 0x39, 0, 80],
      ]);
    } else data = Uint8Array.from([...ETH_IPV4, 0x45, 0, 0, 20, 0, i & 255, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1]);
    // one record an hour apart every 50: several hour partitions
    return { sec: 1_700_000_000 + Math.floor(i / 50) * 3600, frac: i, data };
  });
  return pcapFile(true, {}, recs);
}

const inputs: string[] = [];
const plain = path.join(tmp, 'plain');
const piped = path.join(tmp, 'piped');
const bundled = path.join(tmp, 'bundled');
let a: IngestSummary;
let b: IngestSummary;
let c: IngestSummary;
/** rows the capture kernel wrote in each lane (on this thread: jobs 1 decodes here) */
let plainKernelRows = 0;
let pipedKernelRows = 0;

before(async () => {
  const gen = generateCaptures(path.join(tmp, 'gen'), 5000);
  const damaged = path.join(tmp, 'damaged.pcap');
  fs.writeFileSync(damaged, damagedFrames(400));
  inputs.push(gen.pcap, damaged, gen.pcapng, path.join(ROOT, 'fixtures/datapathv2/bundle'));
  const small = { batchRows: 97, rowGroupRows: 1500, memoryLimit: '256MB', threads: 1, jobs: 1 };
  const k = pcapKernel()!;
  const before = k.rows;
  a = await ingestToDataset(inputs, { ...small, outDir: plain, pipeline: false });
  plainKernelRows = k.rows - before;
  b = await ingestToDataset(inputs, { ...small, outDir: piped, pipeline: true });
  pipedKernelRows = k.rows - before - plainKernelRows;
  // the encoder started from its esbuild bundle (ts-worker.ts), as large inputs start it
  assert.ok(await prepareEncodeThread(), 'the encoder module bundles');
  c = await ingestToDataset(inputs, { ...small, outDir: bundled, pipeline: true });
});

describe('ingest with an encoder thread', () => {
  test('writes the same rows as one thread, column for column', async () => {
    assert.equal(b.packets, a.packets);
    assert.ok(a.packets > 10_000, `${a.packets} rows: enough to cycle the batches many times`);
    const sql = 'SELECT * FROM packets ORDER BY file, frame';
    const mine = await rows(piped, sql);
    const theirs = await rows(plain, sql);
    assert.equal(mine.length, a.packets);
    assert.deepEqual(mine, theirs);
  });

  test("both lanes' batches are in the capture kernel's memory: the kernel decoded into them", () => {
    assert.ok(
      plainKernelRows > a.packets / 2,
      `one thread: the kernel wrote ${plainKernelRows} of ${a.packets}`,
    );
    assert.ok(
      pipedKernelRows > a.packets / 2,
      `encoder: the kernel wrote ${pipedKernelRows} of ${a.packets}`,
    );
  });

  test('started from its bundle, the encoder thread writes the same rows', async () => {
    assert.equal(c.packets, a.packets);
    const sql = 'SELECT * FROM packets ORDER BY file, frame';
    assert.deepEqual(await rows(bundled, sql), await rows(plain, sql));
  });

  test('the stored Parquet columns agree too, partitions included', async () => {
    const sql = (files: string) =>
      `SELECT node, hour, count(*), sum(hash(COLUMNS(* EXCLUDE (node, hour)))) FROM ${files} GROUP BY ALL ORDER BY ALL`;
    const mine = await parquetRows(piped, sql);
    assert.ok(mine.length > 3, `several partitions: ${mine.length}`);
    assert.deepEqual(mine, await parquetRows(plain, sql));
  });

  test('decode errors keep their text across batches and files', async () => {
    const sql = `SELECT decode_error, count(*) FROM packets WHERE decode_error IS NOT NULL GROUP BY 1 ORDER BY 1`;
    const mine = await rows(piped, sql);
    assert.ok(mine.length >= 3, `three kinds of damage: ${mine.map((r) => r[0]).join(', ')}`);
    assert.deepEqual(mine, await rows(plain, sql));
  });
});

describe('decode_error text when the first file has none', () => {
  test('a file with one kind of damage after a clean one keeps its text', async () => {
    // the clean file's part files are finished (and their decode_error dictionary written) first
    const gen = generateCaptures(path.join(tmp, 'gen'), 5000);
    const cut = path.join(tmp, 'cut.pcap');
    const frames = Array.from({ length: 30 }, (_, i) => ({
      sec: 1_700_000_000,
      frac: i,
      data: Uint8Array.from([...ETH_IPV4, 0x45, 0, 0, 40, 0, i]),
    }));
    fs.writeFileSync(cut, pcapFile(true, {}, frames));
    const out = path.join(tmp, 'one-error');
    await ingestToDataset([gen.pcap, cut], { outDir: out, jobs: 1, memoryLimit: '256MB', threads: 1 });
    const errors = await rows(
      out,
      `SELECT decode_error, count(*) FROM packets WHERE decode_error IS NOT NULL GROUP BY 1`,
    );
    assert.equal(errors.length, 1);
    assert.match(String(errors[0]![0]), /ipv4/i);
    assert.equal(Number(errors[0]![1]), 30);
  });
});
