import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  allZero,
  packBits,
  packEquals,
  packNonZero,
  packNonZero16,
  Validity,
  validityKind,
} from '../../../ingest/columns/validity.ts';

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

/** Bit r set where `keep(values[start + r])`, the slow and obvious way. */
function naiveBy(values: ArrayLike<number>, start: number, n: number, keep: (v: number) => boolean) {
  const bits = new Array<number>(Math.ceil(n / 8)).fill(0);
  let all = true;
  for (let r = 0; r < n; r++) {
    if (keep(values[start + r]!)) bits[r >> 3]! |= 1 << (r & 7);
    else all = false;
  }
  return { bits, all };
}

test('packEquals, packNonZero and packNonZero16 agree with a row-by-row packing', () => {
  fc.assert(
    fc.property(
      // small values so that equal and zero bytes are common, 0xff/0xffff to catch carries
      fc.array(fc.constantFrom(0, 1, 4, 6, 0x7f, 0x80, 0xff), { maxLength: 300 }),
      fc.array(fc.constantFrom(0, 1, 0x7fff, 0x8000, 0xffff), { maxLength: 300 }),
      fc.integer({ min: 0, max: 7 }),
      fc.constantFrom(4, 6, 0, 0xff),
      (bytes, halves, start, expected) => {
        const values = new Uint8Array(bytes.length + start);
        values.set(bytes, start);
        const n = bytes.length;
        const bits = new Uint8Array(Math.ceil(n / 8) + 8);
        const eq = naiveBy(values, start, n, (v) => v === expected);
        assert.equal(packEquals(values, expected, start, n, bits), eq.all);
        assert.deepEqual([...bits.subarray(0, eq.bits.length)], eq.bits);
        // a view that starts off a word boundary takes the byte-by-byte path
        const view = values.subarray(start);
        const nz = naiveBy(view, 0, n, (v) => v !== 0);
        bits.fill(0);
        assert.equal(packNonZero(view, n, bits), nz.all);
        assert.deepEqual([...bits.subarray(0, nz.bits.length)], nz.bits);
        const wide = new Uint16Array(halves.length + 1).subarray(start & 1);
        wide.set(halves);
        const m = halves.length;
        const nz16 = naiveBy(wide, 0, m, (v) => v !== 0);
        bits.fill(0);
        assert.equal(packNonZero16(wide, m, bits), nz16.all);
        assert.deepEqual([...bits.subarray(0, nz16.bits.length)], nz16.bits);
      },
    ),
    { numRuns: 500 },
  );
});

test('validityKind says none, all or some as a row-by-row count does; allZero as a row-by-row check', () => {
  fc.assert(
    fc.property(
      // mostly runs of one value, so that all-set and all-clear arrays are common
      fc.constantFrom('zeros', 'ones', 'mixed'),
      fc.array(fc.constantFrom(0, 1), { maxLength: 300 }),
      fc.integer({ min: 0, max: 7 }),
      fc.array(fc.constantFrom(0, 1, 0x100, 0x8000), { maxLength: 80 }),
      (shape, bits, start, halves) => {
        const n = bits.length;
        const buf = new Uint8Array(n + start);
        const valid = buf.subarray(start);
        valid.set(shape === 'zeros' ? bits.map(() => 0) : shape === 'ones' ? bits.map(() => 1) : bits);
        const set = valid.reduce((a, b) => a + b, 0);
        const want = n === 0 || set === n ? Validity.all : set === 0 ? Validity.none : Validity.some;
        assert.equal(validityKind(valid, n), want);
        assert.equal(allZero(valid, n), set === 0);
        const wide = new Uint16Array(halves.length + 1).subarray(start & 1);
        wide.set(halves);
        assert.equal(
          allZero(wide, halves.length),
          halves.every((h) => h === 0),
        );
      },
    ),
    { numRuns: 1000 },
  );
});

test('validityKind and allZero find one differing row anywhere in a long run', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 700 }),
      fc.constantFrom(0, 1),
      fc.nat(),
      fc.integer({ min: 0, max: 15 }),
      (n, run, at, start) => {
        const valid = new Uint8Array(n + start).subarray(start).fill(run);
        assert.equal(validityKind(valid, n), run === 1 ? Validity.all : Validity.none);
        assert.equal(allZero(valid, n), run === 0);
        const k = at % n;
        valid[k] = 1 - run;
        // one row differs: mixed, unless it is the only row
        assert.equal(
          validityKind(valid, n),
          n === 1 ? (run === 1 ? Validity.none : Validity.all) : Validity.some,
        );
        assert.equal(
          allZero(valid, n),
          valid.every((b) => b === 0),
        );
      },
    ),
    { numRuns: 2000 },
  );
});
