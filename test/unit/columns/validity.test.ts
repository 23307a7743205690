import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { packBits } from '../../../ingest/columns/validity.ts';

/** Bit r of the result is byte r of the input, written the slow and obvious way. */
function naive(valid: Uint8Array, start: number, n: number): { bits: number[]; all: boolean } {
  const bits = new Array<number>(Math.ceil(n / 8)).fill(0);
  for (let r = 0; r < n; r++) if (valid[start + r]) bits[r >> 3]! |= 1 << (r & 7);
  return { bits, all: valid.subarray(start, start + n).every((b) => b === 1) };
}

test('packBits agrees with a bit-by-bit packing, aligned or not, any length', () => {
  fc.assert(
    fc.property(
      fc.array(fc.constantFrom(0, 1), { minLength: 0, maxLength: 300 }),
      fc.integer({ min: 0, max: 7 }),
      fc.boolean(),
      (values, start, allOnes) => {
        const valid = new Uint8Array(values.length + start);
        valid.set(allOnes ? values.map(() => 1) : values, start);
        const n = valid.length - start;
        const bits = new Uint8Array(Math.ceil(n / 8) + 8);
        const all = packBits(valid, start, n, bits);
        const want = naive(valid, start, n);
        assert.deepEqual([...bits.subarray(0, want.bits.length)], want.bits);
        assert.equal(all, want.all);
      },
    ),
    { numRuns: 500 },
  );
});
