import assert from 'node:assert/strict';
import { test } from 'node:test';
import { groupIndexes } from '../../../analyzers/flows.ts';

test('groupIndexes: indexes by group in index order, -1 and indexes past n in none, empty groups empty', () => {
  const groupOf = Int32Array.from([2, -1, 0, 2, 0, -1, 2, 1]);
  const { start, members } = groupIndexes(groupOf, 7, 4);
  assert.deepEqual([...start], [0, 2, 2, 5, 5]);
  assert.deepEqual([...members], [2, 4, 0, 3, 6]);
  const none = groupIndexes(new Int32Array(0), 0, 0);
  assert.deepEqual([...none.start], [0]);
  assert.equal(none.members.length, 0);
});
