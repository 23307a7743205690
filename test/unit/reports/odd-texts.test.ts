/**
 * Texts from packets and bundles (pod, point and file names, messages) may hold anything a string can:
 * quotes, backslashes, control characters, U+2028, lone surrogates. verdicts.json, written from
 * fragments encoded once (reports/verdicts-json.ts), must still be JSON.stringify's bytes in every
 * field, and junit.xml (reports/junit.ts) well-formed XML 1.0 with the texts escaped.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { SharedChecks } from '../../../analyzers/rules/shared-checks.ts';
import type { FlowVerdict } from '../../../analyzers/rules/verdict-types.ts';
import type { VerdictsDocument } from '../../../analyzers/verdicts.ts';
import { junitXml, writeJunitXml } from '../../../reports/junit.ts';
import { writeVerdictsJson } from '../../../reports/verdicts-json.ts';

const ODD = `a"b\\c/\u0000\u0001\u0008\t\n\r\u001f\u007f\u2028\u2029 \ud800x\udc00 \ufffe\uffff 😀 é <&>'`;

function flow(id: number, shared: SharedChecks, odd: string): FlowVerdict {
  return {
    flow_id: id,
    proto: odd,
    client: { ip: `fd00::${id}`, port: 40000 + id, pod: odd, node: odd },
    service: { ip: odd, port: 80, name: odd },
    server: { ip: '10.0.2.7', port: 8080, pod: null, node: null },
    scenario: { id: 7, rule: odd as never },
    rule_id: odd,
    datapath: odd as never,
    request_path: [odd, `${odd}2`],
    reply_path: [odd],
    skipped: [{ point: odd, dir: 'out', leg: 'request' }],
    unexpected: [{ point: odd, dir: 'unknown', leg: 'reply' }],
    not_captured: [],
    service_rewrite: {
      status: odd as never,
      before: odd,
      after: null,
      between: [odd, odd],
      reverse: { status: 'not-observable', before: null, after: odd, between: null },
    },
    status: 'fail',
    reason: odd as never,
    checks: [
      shared.get(odd, 'inconclusive', odd as never, odd),
      {
        name: odd,
        status: 'fail',
        reason: odd as never,
        message: odd,
        evidence: [
          { point: odd, file: odd, frame: id },
          { point: 'p', file: odd, frame: 7 },
        ],
      },
      {
        name: odd,
        status: 'pass',
        reason: null,
        message: odd,
        evidence: [{ point: odd, file: 'f', frame: 1 }],
      },
    ],
    handled_by: [{ node: odd, leg: 'request', by: 'ebpf', why: odd }],
  };
}

test('odd texts in every field: verdicts.json is JSON.stringify, junit.xml is XML 1.0', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ht-odd-texts-'));
  try {
    const shared = new SharedChecks();
    // each text twice (a fragment made, then reused) and a variant of it
    const doc: VerdictsDocument = {
      schema_version: 1,
      flows: [flow(1, shared, ODD), flow(2, shared, ODD), flow(3, shared, `${ODD}\u0002`)],
      nodes: [],
      clock_offsets: [],
      captures: [],
      warnings: [{ code: ODD, message: ODD }],
    };
    const json = path.join(dir, 'verdicts.json');
    writeVerdictsJson(json, doc);
    assert.ok(fs.readFileSync(json).equals(Buffer.from(`${JSON.stringify(doc)}\n`, 'utf8')));

    const junit = path.join(dir, 'junit.xml');
    writeJunitXml(junit, doc);
    const x = fs.readFileSync(junit, 'utf8');
    assert.equal(x, Buffer.from(junitXml(doc), 'utf8').toString('utf8'));
    // XML 1.0: no control character but tab, newline and carriage return, no U+FFFE or U+FFFF
    // biome-ignore lint/suspicious/noControlCharactersInRegex: what XML 1.0 cannot carry is looked for
    assert.doesNotMatch(x, /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/);
    // markup only where the writer puts it: each text's quotes and brackets escaped
    assert.equal((x.match(/<testcase /g) ?? []).length, 9);
    assert.ok(!x.includes(`"b\\c`) && x.includes('a&quot;b\\c/'));
    assert.ok(x.includes('&lt;&amp;&gt;&apos;'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
