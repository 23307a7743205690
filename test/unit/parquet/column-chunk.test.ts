/**
 * ChunkBuilder keeps a column chunk's data pages, each after its header, in one body buffer: in order
 * and intact whatever the page sizes and however often the body grows; and the first row group's
 * body is sized from its first page for the row group it expects (so it is not grown and copied page
 * by page, paging in abandoned buffers), while later row groups are sized by the last one.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { releaseBody } from '../../../ingest/dataset/parquet/body-pool.ts';
import { ChunkBuilder } from '../../../ingest/dataset/parquet/column-chunk.ts';
import { Encoding, PhysicalType, writeDataPageHeader } from '../../../ingest/dataset/parquet/format.ts';
import { ThriftWriter } from '../../../ingest/dataset/parquet/thrift-compact.ts';

function page(bytes: number, seed: number): Uint8Array {
  const p = new Uint8Array(bytes);
  let s = seed >>> 0;
  for (let i = 0; i < bytes; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    p[i] = s >>> 24;
  }
  return p;
}

function header(size: number, numValues: number): Uint8Array {
  const w = new ThriftWriter();
  writeDataPageHeader(w, { size, numValues, encoding: Encoding.PLAIN });
  return w.bytes().slice();
}

/** The chunk's bytes as take() hands them out, and the body to give back. */
function taken(b: ChunkBuilder): { bytes: Uint8Array; body: Uint8Array } {
  const t = b.take(0, null, 0);
  assert.equal(t.segments.length, 1);
  assert.ok(t.body);
  return { bytes: t.segments[0]!, body: t.body };
}

test('pages stay in order after their headers, through every growth of the body', () => {
  const b = new ChunkBuilder(PhysicalType.INT32, ['x'], { stats: false });
  const parts: Uint8Array[] = [];
  let values = 0;
  // sizes from a few bytes to past the pool's 64 KiB minimum many times over, so the body grows often
  for (let i = 0; i < 60; i++) {
    const bytes = 1 + ((i * 7919) % 97) * 1500;
    const levels = page(i % 3, i + 1000);
    const vals = page(bytes, i);
    b.addPage([levels, vals], 100 + i, i);
    parts.push(header(levels.length + vals.length, 100 + i), levels, vals);
    values += 100 + i;
  }
  assert.equal(b.numValues, values);
  const { bytes, body } = taken(b);
  const want = Buffer.concat(parts);
  assert.equal(bytes.length, want.length);
  assert.ok(Buffer.from(bytes).equals(want), 'the body is the headers and pages in order');
  releaseBody(body);
});

test("the first row group's body is sized from its first page for the rows it expects", () => {
  const pageBytes = 100_000;
  const rows = 5000;
  const expected = 40;
  const projected = new ChunkBuilder(PhysicalType.INT32, ['x'], {
    stats: false,
    expectValues: expected * rows,
  });
  const plain = new ChunkBuilder(PhysicalType.INT32, ['x'], { stats: false });
  for (const b of [projected, plain]) b.addPage([page(pageBytes, 1)], rows, 0);
  const first = taken(projected);
  const unsized = taken(plain);
  assert.ok(first.body.length >= expected * pageBytes, `body of ${first.body.length} bytes`);
  assert.ok(unsized.body.length < expected * pageBytes, 'without a row count the body fits the page');
  releaseBody(unsized.body);

  // a later row group takes the size of the last one (one page), not a projection (the projected
  // body is still held, so the pool cannot hand it back)
  projected.addPage([page(pageBytes, 2)], rows, 0);
  const second = taken(projected);
  assert.ok(second.body.length >= pageBytes);
  assert.ok(second.body.length < expected * pageBytes, `body of ${second.body.length} bytes`);
  releaseBody(second.body);
  releaseBody(first.body);
});

test('a projection is capped at 32 MiB a column, however many rows are expected', () => {
  const b = new ChunkBuilder(PhysicalType.INT64, ['x'], { stats: false, expectValues: 2 ** 31 });
  b.addPage([page(1 << 20, 3)], 8192, 0);
  const { body, bytes } = taken(b);
  assert.equal(bytes.length, (1 << 20) + header(1 << 20, 8192).length);
  assert.ok(body.length >= 32 << 20, `body of ${body.length} bytes: projected`);
  // takeBody adds a quarter and rounds to 64 KiB
  assert.ok(body.length <= (32 << 20) * 1.25 + (64 << 10), `body of ${body.length} bytes`);
  releaseBody(body);
});

test('a small first page (a partition that starts with a few rows) projects nothing', () => {
  // 64 partitions of a one-row first batch reserved 25.6 GB when the first page projected its header
  for (const values of [1, 16, 4095]) {
    const b = new ChunkBuilder(PhysicalType.INT32, ['x'], { stats: false, expectValues: 1 << 18 });
    b.addPage([page(4 * values, values)], values, 0);
    const { body } = taken(b);
    assert.ok(body.length <= 128 << 10, `${values} values: body of ${body.length} bytes`);
    releaseBody(body);
  }
});
