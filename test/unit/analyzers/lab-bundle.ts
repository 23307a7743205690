/**
 * Where the lab's recorded bundles are: `fixtures/<mode>/` once committed, else a fresh lab run under
 * /tmp (`hoptrace lab run --out /tmp/labout/bundle`). In CI a missing bundle fails instead of skipping.
 */
import fs from 'node:fs';
import path from 'node:path';

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
