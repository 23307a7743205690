import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { hiveEscape } from '../../../ingest/dataset/parquet/hive-path.ts';

test('a node name from a bundle never leaves its one partition folder', () => {
  const root = '/data/ds/packets';
  const hostile = ['..', '../../etc', 'a/b', '/abs', 'x\0y', '%2F', 'n\\..\\..', '.', ''];
  fc.assert(
    fc.property(fc.oneof(fc.constantFrom(...hostile), fc.string({ unit: 'binary' })), (name) => {
      const folder = path.join(root, `node=${hiveEscape(name)}`);
      assert.equal(path.dirname(folder), root, `${JSON.stringify(name)} -> ${folder}`);
      assert.ok(!hiveEscape(name).includes('/') && !hiveEscape(name).includes('\0'));
    }),
    { numRuns: 500 },
  );
});

test('escaping is what DuckDB reads back: unreserved bytes kept, the rest as %XX', () => {
  assert.equal(hiveEscape('node-1.a_b~'), 'node-1.a_b~');
  assert.equal(hiveEscape('n/1'), 'n%2F1');
  assert.equal(hiveEscape('a b%'), 'a%20b%25');
  assert.equal(hiveEscape('é'), '%C3%A9');
});
