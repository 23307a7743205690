import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FrameTable } from '../../../analyzers/correlate/frame-table.ts';
import { DirCode } from '../../../analyzers/topology/direction.ts';
import { Direction, PacketColumns } from '../../../ingest/columns/packet-columns.ts';

/** A batch of `n` frames of ingest point 0 whose direction the capture did not record. */
function batchOf(n: number): PacketColumns {
  const c = new PacketColumns(n);
  for (let r = 0; r < n; r++) {
    c.tsValid[r] = 1;
    c.ts[2 * r] = 1000 + r;
    c.direction[r] = Direction.none;
  }
  c.length = n;
  return c;
}

test('a reused table keeps no inferred direction of an earlier batch where no resolver applies', () => {
  // the spool decodes every file into one table, emptied (length 0) after each chunk
  const t = new FrameTable(16);
  const pointMap = Uint16Array.of(0);
  t.appendBatch(batchOf(4), pointMap, () => ({ infer: () => DirCode.in }));
  assert.deepEqual([...t.dirInferred.subarray(0, 4)], [1, 1, 1, 1]);
  t.length = 0;
  // a point the topology does not know: no resolver, the direction stays unknown and is not inferred
  t.appendBatch(batchOf(4), pointMap, () => null);
  assert.deepEqual([...t.dir.subarray(0, 4)], [0, 0, 0, 0]);
  assert.deepEqual([...t.dirInferred.subarray(0, 4)], [0, 0, 0, 0]);
});
