/**
 * Batches in shared memory (shared-batch.ts): two instances over one memory see each other's writes,
 * shared validity arrays stay one array, a shared batch's reset leaves exactly what a plain one's
 * leaves, and a plain batch copied in arrives row for row.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PacketColumns } from '../../../ingest/columns/packet-columns.ts';
import { columnsOver, copyRows, sharedBatchMemory } from '../../../ingest/columns/shared-batch.ts';

type Lanes = Uint8Array | Uint16Array | Uint32Array | Float64Array;

function arrays(c: PacketColumns): Map<string, Lanes> {
  const out = new Map<string, Lanes>();
  for (const [k, v] of Object.entries(c)) if (ArrayBuffer.isView(v)) out.set(k, v as Lanes);
  return out;
}

/** Every array of `c` filled with a pattern that depends on the field and the element. */
function fill(c: PacketColumns, seed: number): void {
  let f = seed;
  for (const a of arrays(c).values()) {
    f++;
    for (let i = 0; i < a.length; i++) a[i] = (i * 7 + f * 13) % 200;
  }
}

function same(a: PacketColumns, b: PacketColumns, rows: number): void {
  const bs = arrays(b);
  for (const [k, x] of arrays(a)) {
    const y = bs.get(k)!;
    const stride = x.length / a.capacity;
    assert.deepEqual([...y.subarray(0, stride * rows)], [...x.subarray(0, stride * rows)], k);
  }
}

test('two instances over one memory see the same rows; aliases stay aliases', () => {
  const m = sharedBatchMemory(64);
  const a = columnsOver(m);
  const b = columnsOver(m);
  assert.equal(a.capacity, 64);
  a.frame[5] = 123456;
  a.fileOffset[63] = 2 ** 40;
  a.ts[127] = 0xdeadbeef;
  a.srcMacValid[9] = 1;
  assert.equal(b.frame[5], 123456);
  assert.equal(b.fileOffset[63], 2 ** 40);
  assert.equal(b.ts[127], 0xdeadbeef);
  assert.equal(b.dstMacValid[9], 1);
  assert.ok(a.ipIdValid === a.fragOffsetValid);
});

test('reset of a batch in shared memory leaves what a plain batch reset leaves', () => {
  const plain = new PacketColumns(40);
  const m = sharedBatchMemory(40);
  const shared = columnsOver(m);
  fill(plain, 1);
  fill(shared, 1);
  plain.length = 40;
  shared.length = 40;
  plain.reset();
  shared.reset();
  assert.equal(shared.length, 0);
  same(plain, shared, 40);
  // something was cleared and something was kept, or the comparison proves nothing
  assert.equal(shared.tsValid[3], 0);
  assert.notEqual(shared.frame[3], 0);
});

test('copyRows copies the rows of a plain batch into a shared one', () => {
  const src = new PacketColumns(32);
  fill(src, 5);
  src.length = 20;
  const dst = columnsOver(sharedBatchMemory(32));
  copyRows(src, dst);
  assert.equal(dst.length, 20);
  same(src, dst, 20);
  assert.equal(dst.frame[20], 0);
});
