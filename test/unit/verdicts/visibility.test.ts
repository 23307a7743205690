/**
 * The evaluator's `visibility()` judges a point by its files' windows (ring-buffer gaps count) and by the
 * drops of the files overlapping the leg only, on the corrected clock (issue 6 hand-over item 2).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { visibility } from '../../../analyzers/rules/evaluate-rules.ts';
import type { PointCoverage, PointWindow } from '../../../analyzers/rules/flow-facts.ts';

const P = 'node/node1/eth1';

function cov(windows: PointWindow[]): Map<string, PointCoverage> {
  const drops = windows.some((w) => w.drops !== null)
    ? windows.reduce((n, w) => n + (w.drops ?? 0), 0)
    : null;
  return new Map([
    [
      P,
      {
        point: P,
        startNs: windows[0]?.startNs ?? null,
        endNs: windows.at(-1)?.endNs ?? null,
        drops,
        files: windows.map((w) => w.file),
        windows,
      },
    ],
  ]);
}

// a ring-buffer set of three files: [0, 100], [100, 200], then a gap until 300, [300, 400]
const ring = (drops: (number | null)[] = [0, 0, 0]): Map<string, PointCoverage> =>
  cov([
    { file: 'a.pcapng', startNs: 0n, endNs: 100n, drops: drops[0] ?? null },
    { file: 'b.pcapng', startNs: 100n, endNs: 200n, drops: drops[1] ?? null },
    { file: 'c.pcapng', startNs: 300n, endNs: 400n, drops: drops[2] ?? null },
  ]);

describe('visibility over per-file windows', () => {
  test('consecutive files cover a leg across their boundary', () => {
    assert.equal(visibility(P, [50n, 150n], ring()).status, 'pass');
  });
  test('a gap between ring-buffer files is not coverage, though the hull covers it', () => {
    const v = visibility(P, [150n, 350n], ring());
    assert.equal(v.status, 'inconclusive');
    assert.equal(v.reason, 'point-not-captured');
    assert.match(v.why, /gap from 200 to 300 ns/);
  });
  test('a one-packet leg inside the gap is not covered', () => {
    assert.equal(visibility(P, [250n, 250n], ring()).reason, 'point-not-captured');
    assert.equal(visibility(P, [350n, 350n], ring()).status, 'pass');
  });
  test('only the files overlapping the leg count their drops', () => {
    const lossyFirst = ring([5, 0, 0]);
    assert.equal(visibility(P, [310n, 390n], lossyFirst).status, 'pass');
    const v = visibility(P, [20n, 30n], lossyFirst);
    assert.equal(v.reason, 'capture-loss');
    assert.match(v.why, /dropped 5 packet\(s\) \(a\.pcapng\)/);
  });
  test('before the first file and after the last', () => {
    const c = cov([{ file: 'a.pcapng', startNs: 1000n, endNs: 2000n, drops: 0 }]);
    assert.match(visibility(P, [500n, 1500n], c).why, /started at 1000 ns/);
    assert.match(visibility(P, [1500n, 2500n], c).why, /ended at 2000 ns/);
    assert.match(visibility(P, [3000n, 3100n], c).why, /none of its capture files/);
  });
});
