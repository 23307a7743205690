import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { syncBuiltinESMExports } from 'node:module';
import { test } from 'node:test';

test('Community ID v1 where node:crypto has no one-shot hash (Node 20.6-20.11, which engines allows)', async () => {
  const saved = crypto.hash;
  try {
    (crypto as { hash?: unknown }).hash = undefined;
    syncBuiltinESMExports();
    // a module instance of its own, loaded while the Node of that age is imitated
    const fresh = new URL('../../../analyzers/community-id.ts?without-crypto-hash', import.meta.url);
    const { communityIdV1 } = (await import(
      fresh.href
    )) as typeof import('../../../analyzers/community-id.ts');
    assert.equal(
      communityIdV1('128.232.110.120', '66.35.250.204', 6, 34855, 80),
      '1:LQU9qZlK+B5F3KDmev6m5PMibrg=',
    );
  } finally {
    crypto.hash = saved;
    syncBuiltinESMExports();
  }
});
