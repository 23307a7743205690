import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HeapPacer } from '../../../cli/heap-pacer.ts';

test('the heap pacer collects once the heap has grown past its slack, and not before', () => {
  const pacer = new HeapPacer(32 * 2 ** 20);
  pacer.check();
  assert.equal(pacer.collections, 0, 'no growth yet: nothing to collect');
  // garbage that lives long enough to leave the young generation: arrays kept, then dropped together
  let kept: number[][] = [];
  for (let round = 0; round < 8 && pacer.collections === 0; round++) {
    for (let i = 0; i < 20_000; i++) kept.push(new Array<number>(64).fill(round));
    kept = [];
    pacer.check();
  }
  assert.ok(pacer.collections >= 1, 'past 32 MB of growth it collected');
  // right after a collection the heap is below the next limit: a second check does not collect again
  const n = pacer.collections;
  pacer.check();
  assert.equal(pacer.collections, n);
});
