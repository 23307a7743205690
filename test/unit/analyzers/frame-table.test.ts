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

test('addrText: IPv4 text made once per address, right past the cache clearing, v6 interned, none null', () => {
  const n = 70_000; // past the 65 536 texts a table keeps before it starts over
  const t = new FrameTable(n + 2);
  for (let i = 0; i < n; i++) {
    t.ipVersion[i] = 4;
    t.src[i] = (10 << 24) | i;
    t.dst[i] = (192 << 24) | (168 << 16) | 1;
  }
  t.ipVersion[n] = 6;
  t.src[n] = t.intern6('fd00::1');
  t.ipVersion[n + 1] = 0;
  t.length = n + 2;
  for (let i = 0; i < n; i++)
    assert.equal(t.addrText(i, 'src'), `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
  assert.equal(t.addrText(0, 'src'), '10.0.0.0');
  assert.equal(t.addrText(n - 1, 'dst'), '192.168.0.1');
  assert.equal(t.addrText(n, 'src'), 'fd00::1');
  assert.equal(t.addrText(n + 1, 'src'), null);
});
