/** Checks without evidence shared between flows (analyzers/rules/shared-checks.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkName, SharedChecks } from '../../../analyzers/rules/shared-checks.ts';

test('the same name, status, reason and message give one frozen check; any difference another', () => {
  const shared = new SharedChecks();
  const a = shared.get('ttl.request', 'pass', null, 'request TTL changes match the rule at 4 hop pair(s)');
  // a message built anew (another string with the same characters) finds the same check
  const again = shared.get(
    'ttl.request',
    'pass',
    null,
    ['request TTL changes', 'match the rule at 4 hop pair(s)'].join(' '),
  );
  assert.equal(again, a);
  assert.ok(Object.isFrozen(a) && Object.isFrozen(a.evidence));
  assert.deepEqual(a, {
    name: 'ttl.request',
    status: 'pass',
    reason: null,
    message: 'request TTL changes match the rule at 4 hop pair(s)',
    evidence: [],
  });
  const others = [
    shared.get('ttl.reply', 'pass', null, a.message),
    shared.get('ttl.request', 'inconclusive', 'capture-loss', a.message),
    shared.get('ttl.request', 'inconclusive', 'point-not-captured', a.message),
    shared.get('ttl.request', 'pass', null, 'request TTL changes match the rule at 3 hop pair(s)'),
  ];
  assert.equal(new Set([a, ...others]).size, 5);
  assert.throws(() => {
    (a.evidence as unknown[]).push({ point: 'p', file: 'f', frame: 1 });
  }, TypeError);
});

test('a full cache starts over and keeps handing out correct checks', () => {
  const shared = new SharedChecks();
  const first = shared.get('path.request', 'inconclusive', 'point-not-captured', 'gap at 0 ns');
  for (let i = 1; i <= 20_000; i++)
    shared.get('path.request', 'inconclusive', 'point-not-captured', `gap at ${i} ns`);
  const again = shared.get('path.request', 'inconclusive', 'point-not-captured', 'gap at 0 ns');
  assert.deepEqual(again, first);
  assert.equal(shared.get('path.request', 'inconclusive', 'point-not-captured', 'gap at 0 ns'), again);
});

test('check names per leg are made once', () => {
  assert.equal(checkName('gateway-mac', 'reply'), 'gateway-mac.reply');
  assert.equal(checkName('rewrite.dnat-dst', 'request'), 'rewrite.dnat-dst.request');
});
