import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { SlotChains } from '../../../analyzers/slot-chains.ts';

type Op = { kind: 'put'; slot: number; values: number[] } | { kind: 'release'; slot: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('put' as const),
      slot: fc.nat(40),
      values: fc.array(fc.double({ noNaN: true }), { minLength: 1, maxLength: 64 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('release' as const), slot: fc.nat(40) }) },
);

test('each slot reads back what was put in it, in order, whatever other slots do meanwhile', () => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 3000 }), (ops) => {
      const chains = new SlotChains();
      const model = new Map<number, number[]>();
      for (const o of ops) {
        if (o.kind === 'release') {
          chains.release(o.slot);
          model.delete(o.slot);
          continue;
        }
        const at = chains.reserve(o.slot, o.values.length);
        chains.numbers.set(o.values, at);
        model.set(o.slot, [...(model.get(o.slot) ?? []), ...o.values]);
      }
      for (let slot = 0; slot <= 40; slot++) {
        const want = model.get(slot) ?? [];
        assert.equal(chains.count(slot), want.length, `slot ${slot} count`);
        assert.deepEqual([...chains.read(slot)], want, `slot ${slot}`);
      }
    }),
    { numRuns: 100 },
  );
});

test('released blocks are used again: chains that come and go do not grow the store', () => {
  const chains = new SlotChains();
  const round = () => {
    for (let slot = 0; slot < 300; slot++) for (let k = 0; k < 5; k++) chains.reserve(slot, 60);
    for (let slot = 0; slot < 300; slot++) chains.release(slot);
  };
  round();
  const after = chains.blocks;
  assert.ok(after >= 1500, `${after} blocks (past one page) for 300 chains of 5 x 60 numbers`);
  for (let i = 0; i < 50; i++) round();
  assert.equal(chains.blocks, after);
  assert.throws(() => chains.reserve(0, 65), /at most 64 numbers/);
});

test('chains read back whole across pages (more blocks than one page holds)', () => {
  const chains = new SlotChains();
  for (let k = 0; k < 5; k++)
    for (let slot = 0; slot < 300; slot++) {
      const at = chains.reserve(slot, 60);
      for (let i = 0; i < 60; i++) chains.numbers[at + i] = slot * 1000 + k * 60 + i;
    }
  assert.ok(chains.blocks > 1024, `${chains.blocks} blocks`);
  for (let slot = 0; slot < 300; slot++)
    assert.deepEqual(
      [...chains.read(slot)],
      Array.from({ length: 300 }, (_, i) => slot * 1000 + i),
      `slot ${slot}`,
    );
});

test('slots it numbers itself: distinct while held, a dropped one comes back empty', () => {
  const chains = new SlotChains();
  const a = chains.take();
  const b = chains.take();
  assert.notEqual(a, b);
  for (const [slot, v] of [
    [a, 1],
    [b, 2],
  ] as const) {
    const at = chains.reserve(slot, 3);
    chains.numbers.fill(v, at, at + 3);
  }
  chains.drop(a);
  const c = chains.take();
  assert.equal(c, a);
  assert.equal(chains.count(c), 0);
  assert.deepEqual([...chains.read(b)], [2, 2, 2]);
  assert.notEqual(chains.take(), b);
});
