/**
 * JUnit suites' parts: writeJunitXml after a failure part-way closes the suites' part files (not left
 * open) and leaves neither them nor the temporary junit.xml behind; a suite larger than a call's
 * arguments is put together in memory.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { FlowVerdict } from '../../../analyzers/rules/verdict-types.ts';
import type { VerdictsDocument } from '../../../analyzers/verdicts.ts';
import { junitXml, writeJunitXml } from '../../../reports/junit.ts';
import { writeTextFile } from '../../../reports/text-file.ts';
import { podVerdict } from '../verdicts/verdict-fixture.ts';

const openFds = () => fs.readdirSync('/proc/self/fd').length;

function flow(id: number, scenario: number): FlowVerdict {
  return podVerdict(id, { scenario: { id: scenario, rule: null } });
}

test('writeJunitXml: a flow that throws leaves no part open and no file behind', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hoptrace-junit-parts-'));
  try {
    const bad = flow(3, 3);
    (bad as { checks: unknown }).checks = null; // throws once its suite's part is open
    const doc = { flows: [flow(1, 1), flow(2, 2), bad] } as unknown as VerdictsDocument;
    // the process's write thread (reports/write-thread.ts) and its descriptors, up before the count
    const warm = path.join(dir, 'warm');
    writeTextFile(warm, (out) => out.write('x'));
    fs.rmSync(warm);
    const before = openFds();
    assert.throws(() => writeJunitXml(path.join(dir, 'junit.xml'), doc));
    assert.equal(openFds(), before, 'every suite part closed');
    assert.deepEqual(fs.readdirSync(dir), [], 'no part or temporary file left');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('junitXml: one suite of 200 000 test cases (more than a call takes as arguments)', () => {
  const flows = Array.from({ length: 200_000 }, (_, i) => flow(i, 1));
  const x = junitXml({ flows } as unknown as VerdictsDocument);
  assert.match(x, /<testsuite name="scenario 1" tests="200000" failures="0" skipped="0" errors="0">/);
  assert.equal(x.split('<testcase ').length - 1, 200_000);
});
