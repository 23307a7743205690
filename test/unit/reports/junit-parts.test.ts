/**
 * writeJunitXml after a failure part-way: the suites' part files are closed (not left open), and
 * neither they nor the temporary junit.xml stay behind.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { FlowVerdict } from '../../../analyzers/rules/verdict-types.ts';
import type { VerdictsDocument } from '../../../analyzers/verdicts.ts';
import { writeJunitXml } from '../../../reports/junit.ts';

const openFds = () => fs.readdirSync('/proc/self/fd').length;

function flow(id: number, scenario: number): FlowVerdict {
  return {
    flow_id: id,
    proto: 'tcp',
    client: { ip: '10.0.1.101', port: 40000 + id, pod: 'default/client', node: 'node1' },
    service: null,
    server: { ip: '10.0.1.102', port: 8080, pod: 'default/web-1', node: 'node1' },
    scenario: { id: scenario, rule: null },
    rule_id: 'terway-v2/pod-same-node',
    datapath: 'ebpf',
    request_path: [],
    reply_path: [],
    skipped: [],
    unexpected: [],
    not_captured: [],
    service_rewrite: null,
    status: 'pass',
    reason: null,
    checks: [{ name: 'path', status: 'pass', reason: null, message: 'ok', evidence: [] }],
    handled_by: [],
  } as unknown as FlowVerdict;
}

test('writeJunitXml: a flow that throws leaves no part open and no file behind', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hoptrace-junit-parts-'));
  try {
    const bad = flow(3, 3);
    (bad as { checks: unknown }).checks = null; // throws once its suite's part is open
    const doc = { flows: [flow(1, 1), flow(2, 2), bad] } as unknown as VerdictsDocument;
    const before = openFds();
    assert.throws(() => writeJunitXml(path.join(dir, 'junit.xml'), doc));
    assert.equal(openFds(), before, 'every suite part closed');
    assert.deepEqual(fs.readdirSync(dir), [], 'no part or temporary file left');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
