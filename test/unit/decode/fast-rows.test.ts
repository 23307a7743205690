/**
 * A batch's fast-path rows completed together (four rows a word where four rows share a kind) hold
 * the same columns as each row completed on its own, and rows of kind 0 are left as they were.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { PacketColumns } from '../../../ingest/columns/packet-columns.ts';
import { completeFastRow, completeFastRows, FastRow } from '../../../ingest/decode/fast-rows.ts';

const KINDS = [
  0,
  FastRow.fast,
  FastRow.fast | FastRow.ipv6,
  FastRow.fast | FastRow.udp,
  FastRow.fast | FastRow.ipv6 | FastRow.udp,
];

/** Every typed-array column, as plain arrays. */
function columns(c: PacketColumns): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const [name, value] of Object.entries(c)) {
    if (ArrayBuffer.isView(value)) out[name] = Array.from(value as Uint8Array);
  }
  return out;
}

/** Columns with a value (2 or 0xab) in every byte, so that a byte written and a byte left alone differ. */
function filled(rows: number, seed: number): PacketColumns {
  const c = new PacketColumns(rows);
  for (const value of Object.values(c)) {
    if (ArrayBuffer.isView(value))
      new Uint8Array(value.buffer, value.byteOffset, value.byteLength).fill(seed);
  }
  return c;
}

/** Property: completing [from, to) together equals completing its rows one by one, kinds from `kindsOf`. */
function completedAlike(kindsOf: readonly number[]): void {
  fc.assert(
    fc.property(
      // runs of one kind, so that aligned four-row words of one kind are common
      fc.array(fc.record({ kind: fc.constantFrom(...kindsOf), run: fc.integer({ min: 1, max: 12 }) }), {
        minLength: 1,
        maxLength: 30,
      }),
      fc.integer({ min: 0, max: 7 }),
      fc.integer({ min: 0, max: 7 }),
      fc.constantFrom(2, 0xab),
      (runs, cutFront, cutBack, seed) => {
        const kinds: number[] = runs.flatMap(({ kind, run }) => new Array<number>(run).fill(kind));
        const rows = kinds.length;
        const from = Math.min(cutFront, rows);
        const to = Math.max(from, rows - cutBack);
        const rowKinds = Uint8Array.from(kinds);
        const together = filled(rows, seed);
        completeFastRows(together, rowKinds, from, to);
        const one = filled(rows, seed);
        for (let r = from; r < to; r++) if (kinds[r] !== 0) completeFastRow(one, r, kinds[r]!);
        assert.deepEqual(columns(together), columns(one));
      },
    ),
    { numRuns: 400 },
  );
}

test('completeFastRows equals completeFastRow row by row, runs of one kind or not, any range', () => {
  completedAlike(KINDS);
});

test('completeFastRows equals completeFastRow row by row on fast rows only (no kind 0)', () => {
  completedAlike(KINDS.filter((k) => k !== 0));
});
