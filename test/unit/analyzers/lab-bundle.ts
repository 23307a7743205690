/**
 * Where the lab's recorded bundles are: `fixtures/<mode>/` once committed, else a fresh lab run under
 * /tmp (`hoptrace lab run --out /tmp/labout/bundle`). In CI a missing bundle fails instead of skipping.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

export interface LabBundle {
  mode: string;
  bundle: string;
  expected: string;
}

const FIXTURES = path.resolve(import.meta.dirname, '../../../fixtures');

export function labBundles(): LabBundle[] {
  const found: LabBundle[] = [];
  const add = (mode: string, dir: string) => {
    const bundle = path.join(dir, 'bundle');
    const expected = path.join(dir, 'expected.json');
    if (fs.existsSync(path.join(bundle, 'bundle.json')) && fs.existsSync(expected))
      found.push({ mode, bundle, expected });
  };
  for (const mode of fs.existsSync(FIXTURES) ? fs.readdirSync(FIXTURES).sort() : [])
    add(mode, path.join(FIXTURES, mode));
  if (found.length === 0) {
    add('datapathv2', '/tmp/labout');
    for (const dir of fs
      .readdirSync('/tmp')
      .filter((d) => d.startsWith('lab-'))
      .sort())
      add(dir.slice(4), path.join('/tmp', dir));
  }
  return found;
}

/** A test option: skip with the reason, or throw in CI. */
export function requireBundles(): { skip: string | false } {
  if (labBundles().length > 0) return { skip: false };
  const why = 'no lab bundle (fixtures/<mode>/ or /tmp/labout)';
  if (process.env['CI'] === 'true') throw new Error(`analyzer tests: prerequisite missing in CI: ${why}`);
  return { skip: why };
}

/**
 * Spill settings a lab is analysed with against its analysis in memory: a budget nothing fits, chunk and
 * slab boundaries inside flows; the second with blocks of 4 frames and slabs of 20 ms, so that slabs in
 * a silence at every capture point are skipped unread (`gapSlabs`: some labs have such silences).
 */
export const SPILLS = [
  { memoryBudgetBytes: 1, spoolChunkFrames: 50, slabNs: 200e6 },
  { memoryBudgetBytes: 1, spoolChunkFrames: 50, spoolBlockFrames: 4, slabNs: 20e6 },
] as const;

/** Slabs skipped unread by lab, with small blocks: the same results prove the skip right only if some were. */
class SkippedSlabs {
  private readonly byLab = new Map<string, number>();

  note(lab: string, spill: Spill, gapSlabs: number): void {
    if ('spoolBlockFrames' in spill) this.byLab.set(lab, gapSlabs);
  }

  /** (after every lab ran) */
  assertSome(): void {
    assert.ok(
      [...this.byLab.values()].some((n) => n > 0),
      `no lab skipped a slab: ${JSON.stringify([...this.byLab])}`,
    );
  }
}

export type Spill = (typeof SPILLS)[number];

/**
 * A test of every lab (a subtest each) under the SPILLS settings: `perLab` says, by `skipped`, how many
 * slabs a setting skipped unread; once every lab ran, some lab must have skipped one with small blocks.
 */
export function spilledLabsTest(
  name: string,
  perLab: (lab: LabBundle, skipped: (spill: Spill, gapSlabs: number) => void) => Promise<void>,
): void {
  test(name, requireBundles(), async (t) => {
    const skipped = new SkippedSlabs();
    for (const lab of labBundles())
      await t.test(lab.mode, () => perLab(lab, (spill, n) => skipped.note(lab.mode, spill, n)));
    skipped.assertSome();
  });
}
