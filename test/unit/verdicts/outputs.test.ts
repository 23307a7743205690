/**
 * The verdict outputs on hand-built documents: JSON Schema (status/reason pairing), JUnit (escaping,
 * failure vs skipped), the terminal summary and the exit codes of DESIGN §8.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { combineDatapath } from '../../../analyzers/rules/evaluate-rules.ts';
import { SharedChecks } from '../../../analyzers/rules/shared-checks.ts';
import type { FlowVerdict } from '../../../analyzers/rules/verdict-types.ts';
import type { VerdictsDocument } from '../../../analyzers/verdicts.ts';
import { exitCodeOf } from '../../../cli/analyze.ts';
import { flowLabel, junitXml, writeJunitXml } from '../../../reports/junit.ts';
import { summaryText } from '../../../reports/summary.ts';
import { verdictsSchemaErrors, writeVerdictsJson } from '../../../reports/verdicts-json.ts';
import { podVerdict } from './verdict-fixture.ts';

function flow(id: number, status: FlowVerdict['status'], message = 'ok'): FlowVerdict {
  const reason = status === 'pass' ? null : status === 'fail' ? 'unexpected-hop' : 'capture-loss';
  return podVerdict(id, {
    request_path: ['pod/default/client/eth0'],
    status,
    reason,
    checks: [
      {
        name: 'path.request',
        status,
        reason,
        message,
        evidence: [{ point: 'pod/default/client/eth0', file: 'a.pcap', frame: 3 }],
      },
    ],
  });
}

function doc(flows: FlowVerdict[]): VerdictsDocument {
  return { schema_version: 1, flows, nodes: [], clock_offsets: [], captures: [], warnings: [] };
}

test('the schema accepts a document and refuses a pass with a reason or a fail without one', () => {
  assert.deepEqual(
    verdictsSchemaErrors(doc([flow(1, 'pass'), flow(2, 'fail'), flow(3, 'inconclusive')])),
    [],
  );
  const bad = flow(4, 'pass');
  bad.reason = 'capture-loss';
  assert.notDeepEqual(verdictsSchemaErrors(doc([bad])), []);
  const bad2 = flow(5, 'fail');
  bad2.checks[0]!.reason = null;
  assert.notDeepEqual(verdictsSchemaErrors(doc([bad2])), []);
  assert.notDeepEqual(verdictsSchemaErrors({ ...doc([]), schema_version: 2 }), []);
});

test('JUnit: a test case per check, fail -> <failure>, inconclusive -> <skipped>, text escaped', () => {
  const x = junitXml(
    doc([flow(1, 'pass'), flow(2, 'fail', 'seen <here> & "there"\u0001'), flow(3, 'inconclusive')]),
  );
  assert.equal((x.match(/<testcase /g) ?? []).length, 3);
  assert.equal((x.match(/<failure /g) ?? []).length, 1);
  assert.equal((x.match(/<skipped /g) ?? []).length, 1);
  assert.match(x, /seen &lt;here&gt; &amp; &quot;there&quot;/);
  assert.ok(!x.includes('\u0001'));
  assert.match(x, /a\.pcap#3/);
  assert.match(x, /<testsuites name="hoptrace" tests="3" failures="1" skipped="1"/);
});

test('summary: scenarios x status, then the failures', () => {
  const s = summaryText(doc([flow(1, 'pass'), flow(2, 'fail', 'went the kernel way')]));
  assert.match(s, /^scenario 2 +2 +1 +1 +0$/m);
  assert.match(s, /^FAIL #2 tcp default\/client 10\.0\.1\.101:40002 -> default\/web-1 10\.0\.1\.102:8080/m);
  assert.match(s, /path\.request \(unexpected-hop\): went the kernel way/);
});

test('exit codes: 0 pass (inconclusive reported), 1 fail or --strict inconclusive, 2 faults unless --keep-going', () => {
  assert.equal(exitCodeOf(doc([flow(1, 'pass'), flow(2, 'inconclusive')]), 0, {}), 0);
  assert.equal(exitCodeOf(doc([flow(1, 'pass'), flow(2, 'inconclusive')]), 0, { strict: true }), 1);
  assert.equal(exitCodeOf(doc([flow(1, 'fail')]), 0, {}), 1);
  assert.equal(exitCodeOf(doc([flow(1, 'pass')]), 1, {}), 2);
  assert.equal(exitCodeOf(doc([flow(1, 'pass')]), 1, { keepGoing: true }), 0);
});

test('datapath of a flow from what each node showed', () => {
  assert.equal(combineDatapath([]), 'unknown');
  assert.equal(combineDatapath(['ebpf', 'unknown']), 'ebpf');
  assert.equal(combineDatapath(['kernel', 'kernel']), 'kernel');
  assert.equal(combineDatapath(['ebpf', 'kernel']), 'mixed');
});

test('streamed files: verdicts.json is JSON.stringify(doc) byte for byte, junit.xml is junitXml', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hoptrace-outputs-'));
  try {
    const odd = flow(2, 'fail', 'quote " backslash \\ newline\n tab\t <&> \u2028 ünï');
    odd.service = { ip: '172.21.0.10', port: 80, name: null };
    // checks shared between flows (frozen, written from one text) among each flow's own, one of them
    // with the placeholder the writer puts in a shared check's place inside its message
    const shared = new SharedChecks();
    const withShared = (f: FlowVerdict): FlowVerdict => ({
      ...f,
      checks: [
        shared.get('classification', 'pass', null, 'scenario 2'),
        ...f.checks,
        shared.get('bypass.request', 'fail', 'seen-on-skipped-point', 'line\n        "\u0000" ü'),
        shared.get('ttl.request', 'pass', null, 'TTL ok'),
        { name: 'ttl.reply', status: 'pass', reason: null, message: 'TTL ok', evidence: [] },
      ],
    });
    // every field a flow can fill: a Service and its rewrites, references, handling, odd frames
    const full: FlowVerdict = {
      ...flow(10, 'inconclusive'),
      service: { ip: 'fd00:10::a', port: 53, name: 'kube-system/dns "x"' },
      scenario: null,
      request_path: ['pod/default/client/eth0', 'node/node1/cali1'],
      reply_path: ['node/node1/cali1'],
      skipped: [{ point: 'node/node1/cali1', dir: 'out', leg: 'request' }],
      unexpected: [
        { point: 'node/node1/eth0', dir: 'in', leg: 'reply' },
        { point: 'node/node1/eth0', dir: 'unknown', leg: 'reply' },
      ],
      not_captured: [{ point: 'node/node2/eth1', dir: 'in', leg: 'request' }],
      service_rewrite: {
        status: 'at-source',
        before: '[fd00:10::a]:53',
        after: '10.0.2.7:8080',
        between: ['pod/default/client/eth0', 'node/node1/cali1'],
        reverse: { status: 'not-observable', before: null, after: null, between: null },
      },
      checks: [
        {
          name: 'path.request',
          status: 'inconclusive',
          reason: 'capture-loss',
          message: 'frames',
          evidence: [
            { point: 'p', file: 'f', frame: Number.NaN },
            { point: 'p', file: 'f', frame: 1.5 },
            { point: 'p', file: 'f', frame: 2 ** 53 },
            { point: 'p', file: 'f', frame: -0 },
          ],
        },
      ],
      handled_by: [
        {
          node: 'node1',
          leg: 'request',
          by: 'ebpf',
          why: 'node/node1/cali1:out bypassed (bpf_redirect_peer)',
        },
        { node: 'node2', leg: 'reply', by: 'kernel', why: 'TTL 63 -> 62' },
      ],
    };
    const docs = [
      doc([]),
      doc([full, flow(11, 'pass'), full]),
      { ...doc([flow(1, 'pass'), odd, flow(3, 'inconclusive')]), warnings: [{ code: 'w', message: 'x' }] },
      doc([
        withShared(flow(4, 'pass')),
        withShared(odd),
        flow(5, 'pass'),
        withShared(flow(6, 'fail')),
        { ...flow(7, 'inconclusive'), checks: [] },
      ]),
    ];
    for (const d of docs) {
      const file = path.join(dir, 'verdicts.json');
      writeVerdictsJson(file, d);
      assert.equal(fs.readFileSync(file, 'utf8'), `${JSON.stringify(d)}\n`);
      const junit = path.join(dir, 'junit.xml');
      writeJunitXml(junit, d);
      assert.equal(fs.readFileSync(junit, 'utf8'), junitXml(d));
    }
    assert.deepEqual(fs.readdirSync(dir).sort(), ['junit.xml', 'verdicts.json'], 'no temporary file left');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('JUnit: each test case is classed by the flow label, escaped (IPv6, no pod, Service, odd names)', () => {
  const odd = flow(8, 'fail');
  odd.client = { ip: 'fd00::1', port: 5353, pod: null, node: null };
  odd.service = { ip: 'fd00:10::a', port: 53, name: 'kube-system/dns' };
  odd.server = { ip: '10.0.2.7', port: 53, pod: `ns/<a & "b" 'c'>\u0001`, node: 'node2' };
  odd.proto = 'icmp<v6>';
  const flows = [
    flow(1, 'pass'),
    odd,
    { ...flow(9, 'pass'), service: { ip: '172.21.0.10', port: 80, name: null } },
  ];
  const x = junitXml(doc(flows));
  const escaped = (t: string) =>
    t
      .split('\u0001')
      .join('')
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/'/g, '&apos;');
  const classes = [...x.matchAll(/<testcase classname="([^"]*)"/g)].map((m) => m[1]);
  assert.deepEqual(
    classes,
    flows.map((f) => escaped(flowLabel(f))),
  );
  assert.ok(classes[1]!.includes('[fd00::1]:5353 -&gt; [fd00:10::a]:53 -&gt; ns/&lt;a &amp; &quot;b&quot;'));
});

test('summary: a hundred thousand flows of one scenario are counted in linear time', () => {
  const one = flow(1, 'pass');
  const flows = Array.from({ length: 100_000 }, (_, i) => ({ ...one, flow_id: i }));
  const t0 = performance.now();
  const s = summaryText(doc(flows));
  const ms = performance.now() - t0;
  assert.match(s, /^total +100000 +100000 +0 +0$/m);
  assert.ok(ms < 2000, `${Math.round(ms)} ms`);
});

test('summary: failing and inconclusive flows listed in id order, whatever order they ended in (analyze streams them)', () => {
  const flows = [
    flow(7, 'fail'),
    flow(5, 'inconclusive'),
    flow(3, 'fail'),
    flow(2, 'inconclusive'),
    flow(1, 'fail'),
  ];
  const s = summaryText(doc(flows), { maxFailures: 2, showInconclusive: true });
  const listed = [...s.matchAll(/^(FAIL|INCONCLUSIVE) #(\d+)/gm)].map((m) => `${m[1]} ${m[2]}`);
  assert.deepEqual(listed, ['FAIL 1', 'FAIL 3', 'INCONCLUSIVE 2', 'INCONCLUSIVE 5']);
  assert.match(s, /\.\.\. and 1 more failing flow\(s\)/);
});
