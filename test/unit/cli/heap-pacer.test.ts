import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HeapPacer } from '../../../cli/heap-pacer.ts';

test('the heap pacer collects once the heap has grown past its slack, and not right after', () => {
  const pacer = new HeapPacer(16 * 2 ** 20);
  pacer.check();
  assert.equal(pacer.collections, 0, 'no growth yet: nothing to collect');
  // some 40 MB that stay alive: the heap has grown past the slack whatever the young generation did
  const kept: number[][] = [];
  for (let i = 0; i < 400_000; i++) kept.push([i, i + 1, i + 2, i + 3, i + 4, i + 5, i + 6, i + 7]);
  pacer.check();
  assert.equal(pacer.collections, 1, 'past 16 MB of growth it collected');
  // what is alive now sets the next limit: checking again does not collect again
  pacer.check();
  assert.equal(pacer.collections, 1);
  assert.equal(kept.length, 400_000);
});
