/**
 * The committed lab recordings (fixtures/<mode>/{bundle/,expected.json}), checked without root: every capture
 * reads with the project's reader, `hoptrace bundle check` accepts every bundle, the captures agree with their
 * expected.json (lab/check.ts, the same check `hoptrace lab run` does), and expected.json still matches what
 * the current lab code would expect for that mode (a lab change that alters the hop model must re-record).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { BundleManifest } from '../../collectors/bundle-manifest.ts';
import { readCapture } from '../../ingest/read-capture.ts';
import { checkRecorded, flowStructure } from '../../lab/check.ts';
import { type ExpectedFile, expectedFile } from '../../lab/expected.ts';
import { flowCatalogue } from '../../lab/flows.ts';
import { type LabMode, parseDatapath, parseFault } from '../../lab/modes.ts';
import { labPlan } from '../../lab/plan.ts';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const FIXTURES = join(REPO, 'fixtures');
/** The budget for all fixtures together. */
const BUDGET_BYTES = 12 * 1024 * 1024;
/** Every datapath and both fault kinds must be recorded (issue 4, "Fixtures and CI"). */
const REQUIRED = [
  'datapathv2',
  'datapathv2-legacy-kernel',
  'kernel',
  'datapathv2+no-bpf-client',
  'datapathv2+host-dnat',
];

function fixtureDirs(): string[] {
  if (!existsSync(FIXTURES)) return [];
  return readdirSync(FIXTURES)
    .filter((d) => existsSync(join(FIXTURES, d, 'bundle', 'bundle.json')))
    .sort();
}

function duBytes(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.size;
  return readdirSync(path).reduce((sum, e) => sum + duBytes(join(path, e)), 0);
}

function modeOf(expected: ExpectedFile): LabMode {
  const plan = labPlan();
  return {
    datapath: parseDatapath(expected.datapath),
    faults: expected.faults.map((f) => parseFault(f, plan)),
  };
}

describe('lab fixtures', () => {
  it('cover every mode and both faults within 12 MB', () => {
    const dirs = fixtureDirs();
    for (const name of REQUIRED) assert.ok(dirs.includes(name), `fixtures/${name} is recorded`);
    const total = duBytes(FIXTURES);
    assert.ok(total <= BUDGET_BYTES, `fixtures take ${total} bytes, budget ${BUDGET_BYTES}`);
  });

  for (const name of fixtureDirs()) {
    describe(name, () => {
      const dir = join(FIXTURES, name);
      const bundle = join(dir, 'bundle');

      it('reads every capture with the project reader', async () => {
        const manifest = JSON.parse(readFileSync(join(bundle, 'bundle.json'), 'utf8')) as BundleManifest;
        assert.ok(manifest.captures.length > 0);
        for (const cap of manifest.captures) {
          let packets = 0;
          const res = await readCapture(join(bundle, cap.path), {
            container: () => {},
            interface: () => {},
            stats: () => {},
            warning: () => {},
            packet: () => {
              packets++;
            },
          });
          assert.equal(res.error, null, `${cap.path}: ${res.error?.message}`);
          assert.equal(packets, cap.packets, `${cap.path}: packet count as bundle.json says`);
        }
      });

      it('passes hoptrace bundle check', () => {
        const res = spawnSync(
          process.execPath,
          [join(REPO, 'bin', 'hoptrace.js'), 'bundle', 'check', bundle],
          {
            encoding: 'utf8',
            timeout: 60_000,
          },
        );
        assert.equal(res.status, 0, res.stderr);
        assert.match(res.stdout, /bundle ok/);
      });

      it('agrees with its expected.json (0 disagreements, every flow completed)', async () => {
        const r = await checkRecorded(labPlan(), bundle, join(dir, 'expected.json'));
        assert.deepEqual(r.disagreements, []);
        assert.ok(r.flows > 0);
        const outcomes = (r.expected as ExpectedFile & { outcomes?: { id: string; ok: boolean }[] }).outcomes;
        assert.ok(outcomes && outcomes.length === r.flows, 'one outcome per flow');
        assert.deepEqual(
          outcomes.filter((o) => !o.ok).map((o) => o.id),
          [],
        );
        // the bulk transfer shows super-segments on one point and MTU-sized segments on the next
        const sizes = Object.values(r.bulkSizes);
        assert.ok(Math.max(...sizes) > 1514, 'super-segments recorded');
        assert.ok(Math.min(...sizes) > 0 && Math.min(...sizes) <= 1514, 'MTU-sized segments recorded');
      });

      it('matches what the current lab code expects for its mode', () => {
        const recorded = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as ExpectedFile;
        const plan = labPlan();
        const mode = modeOf(recorded);
        const now = expectedFile(plan, mode, flowCatalogue(plan), recorded.kernels);
        assert.equal(recorded.mode, now.mode);
        assert.deepEqual(flowStructure(recorded), flowStructure(now));
      });
    });
  }
});
