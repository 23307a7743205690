/**
 * minMaxU8/U16/U32 give a page's smallest and largest value as a plain loop over it does: any length
 * (one value, not a whole vector, several of the kernel's slices), the extremes anywhere (first, last,
 * in the filled-up last vector, at a slice boundary), values that never reach 0 or the type's maximum
 * (so a last vector filled with anything but the page's own values would show).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { minMaxU8, minMaxU16, minMaxU32, range } from '../../../ingest/dataset/parquet/min-max.ts';

/** A small deterministic PRNG, so failures replay. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

type Page = Uint8Array | Uint16Array | Uint32Array;

const widths: [string, (n: number) => Page, (v: Page, m: number) => void, number][] = [
  ['u8', (n) => new Uint8Array(n), (v, m) => minMaxU8(v as Uint8Array, m), 0xff],
  ['u16', (n) => new Uint16Array(n), (v, m) => minMaxU16(v as Uint16Array, m), 0xffff],
  ['u32', (n) => new Uint32Array(n), (v, m) => minMaxU32(v as Uint32Array, m), 0xffffffff],
];

/** lengths around the vector sizes and past the 256 KiB slices of every width */
const LENGTHS = [
  1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 100, 4099, 65535, 65536, 65537, 140_001, 300_007,
];

for (const [name, make, minMax, max] of widths) {
  test(`${name}: the extremes of a page, whatever its length and wherever they are`, () => {
    const next = rng(max);
    for (const n of LENGTHS) {
      const page = make(n);
      const low = Math.floor(max * 0.25);
      const span = Math.floor(max * 0.5);
      for (let i = 0; i < n; i++) page[i] = low + Math.floor(next() * span);
      // the values as they are, then a new smallest and largest at chosen places
      const places = [-1, 0, n - 1, n >> 1, 65535, 65536, 262_143, 262_144].filter((p) => p < n);
      for (const at of places) {
        const v = page.slice();
        if (at >= 0) {
          v[at] = low - 1 - Math.floor(next() * (low - 1));
          v[(at + n - 1) % n] = low + span + 1 + Math.floor(next() * (max - low - span - 1));
        }
        let lo = v[0]!;
        let hi = lo;
        for (let i = 1; i < n; i++) {
          lo = Math.min(lo, v[i]!);
          hi = Math.max(hi, v[i]!);
        }
        minMax(v, n);
        assert.deepEqual({ ...range }, { lo, hi }, `${name}, ${n} values, extremes at ${at}`);
      }
    }
  });

  test(`${name}: only the first m values count`, () => {
    const page = make(40).fill(7);
    page[20] = 1;
    page[30] = max;
    minMax(page, 20);
    assert.deepEqual({ ...range }, { lo: 7, hi: 7 });
  });
}
