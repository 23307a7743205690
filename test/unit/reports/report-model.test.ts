import assert from 'node:assert/strict';
import path from 'node:path';
import { before, test } from 'node:test';
import { analysisFromBundle } from '../../../analyzers/analysis-from-bundle.ts';
import { analysisWithCoverage, loadRuleSets, verdictsFromFlows } from '../../../analyzers/verdicts.ts';
import { escapeHtml, html, jsonForScript } from '../../../reports/html/escape.ts';
import { formatNs } from '../../../reports/html/format.ts';
import { renderReportHtml } from '../../../reports/html/page.ts';
import { normalizeVerdicts, type Verdicts } from '../../../reports/read-verdicts.ts';
import { type ReportInput, reportInputFromAnalysis } from '../../../reports/report-input.ts';
import { detailedFlowIds, ReportFeed, reportModel, shellWord } from '../../../reports/report-model.ts';
import { ReportVerdicts } from '../../../reports/report-verdicts.ts';
import { judgedFixture } from '../../browser/fixture-verdicts.ts';

const fixture = (mode: string) =>
  path.resolve(import.meta.dirname, '..', '..', '..', 'fixtures', mode, 'bundle');

test('escapeHtml and html: text, quotes, nested markup not escaped twice', () => {
  assert.equal(
    escapeHtml(`<a href="x" title='y'>&</a>`),
    '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;',
  );
  const inner = html`<b>${'<i>'}</b>`;
  assert.equal(
    html`<p title="${'"'}">${inner}${['<', 1]}${null}${false}</p>`.value,
    '<p title="&quot;"><b>&lt;i&gt;</b>&lt;1</p>',
  );
});

test('jsonForScript: cannot close the script element nor open a comment; round-trips', () => {
  const v = { s: '</script><!-- <script> \u2028\u2029 & >' };
  const text = jsonForScript(v);
  assert.doesNotMatch(text, /[<>&\u2028\u2029]/);
  assert.deepEqual(JSON.parse(text), v);
});

test('formatNs: units and significant digits', () => {
  assert.deepEqual([0, 850, 1000, 12_345, 100_000, 999_999, 4_560_000, 1_230_000_000].map(formatNs), [
    '0 ns',
    '850 ns',
    '1 µs',
    '12.3 µs',
    '100 µs',
    '1 ms',
    '4.56 ms',
    '1.23 s',
  ]);
});

test('shellWord: bare, double-quoted, single-quoted with escapes', () => {
  assert.equal(shellWord('out/dataset'), 'out/dataset');
  assert.equal(shellWord(`SELECT 'a' FROM t`), `"SELECT 'a' FROM t"`);
  assert.equal(shellWord(`x $(rm -rf /) 'y'`), `'x $(rm -rf /) '\\''y'\\'''`);
});

test('normalizeVerdicts: wrong types are dropped, not trusted', () => {
  const v = normalizeVerdicts({
    schema_version: 1,
    flows: [
      {
        proto: 'tcp',
        status: 'bogus',
        skipped: [{ point: 1 }, { point: 'p', dir: 'in', leg: 'reply' }],
        checks: 'x',
      },
      7,
    ],
    nodes: 'x',
  });
  assert.equal(v.flows.length, 1);
  assert.equal(v.flows[0]!.status, 'inconclusive');
  assert.deepEqual(v.flows[0]!.skipped, [{ point: 'p', dir: 'in', leg: 'reply' }]);
  assert.deepEqual(v.flows[0]!.checks, []);
  assert.deepEqual(v.nodes, []);
});

let input: ReportInput;
let judged: Verdicts;
before(async () => {
  input = reportInputFromAnalysis(await analysisFromBundle(fixture('datapathv2')), fixture('datapathv2'), {
    ladderPackets: 6,
  });
  judged = (await judgedFixture('datapathv2')).verdicts;
});

test('input: ladders are bounded, requests and replies told apart, times relative to the flow', () => {
  assert.equal(input.flows.length, 26);
  for (const f of input.flows) {
    assert.ok(f.ladder.length <= 6);
    assert.equal(f.ladder[0]?.leg, 'request');
    assert.equal(f.ladder[0]?.sightings[0]?.t, 0);
  }
  const bulk = input.flows.find((f) => f.packets > 40)!;
  assert.equal(bulk.ladder.length, 6);
  const tcp = input.flows.find((f) => f.client.port === 42071)!;
  assert.deepEqual(
    tcp.ladder.map((p) => `${p.leg} ${p.summary}`),
    ['request SYN', 'reply SYN,ACK', 'request ACK', 'request PSH,ACK len 64', 'reply ACK', 'request FIN,ACK'],
  );
});

test('model without verdicts: every flow not evaluated, lanes are what was seen, page says so', () => {
  const m = reportModel(input, null, { analysisDir: 'out' });
  assert.equal(m.evaluated, false);
  assert.ok(m.flows.every((f) => f.status === 'not-evaluated' && f.scenario === 'not-evaluated'));
  const d = m.details.find((x) => x.row.client.endsWith(':42071'))!;
  assert.ok(d.lanes.every((l) => l.state === 'seen' && l.notes.length === 0));
  assert.equal(d.sqlCommand.startsWith('hoptrace sql out/dataset "SELECT '), true);
  assert.match(renderReportHtml(m), /Not evaluated: this analysis has no verdicts\.json yet/);
});

test('model with verdicts: scenarios, bypassed lanes placed beside their pod, latency by hop kind', () => {
  const m = reportModel(input, judged);
  assert.equal(m.statusCounts.pass, 26);
  assert.deepEqual(
    m.scenarios.filter((s) => s.flows > 0).map((s) => [s.key, s.flows]),
    [
      ['2', 4],
      ['3', 3],
      ['4', 5],
      ['5', 4],
      ['6', 2],
      ['7', 4],
      ['8', 4],
    ],
  );
  // s2-tcp (client -> web-1 on the same ENI): web-1's veth is bypassed on the request, after the client's
  const s2 = m.details.find((d) => d.row.client.endsWith(':30021'))!;
  assert.deepEqual(
    s2.lanes.map((l) => `${l.point} ${l.state}`),
    [
      'pod/default/client/eth0 seen',
      'node/node1/calia7a3e029a7b seen',
      'node/node1/cali0761ccbeace seen',
      'pod/default/web-1/eth0 seen',
    ],
  );
  assert.deepEqual(
    s2.lanes[2]!.notes.map((n) => `${n.leg} ${n.dir} ${n.text}`),
    ['request out bypassed (bpf_redirect_peer)'],
  );
  const kinds = m.latency.map((g) => g.hopKind);
  for (const k of ['veth → ENI', 'ENI → ENI (VPC)', 'ENI → pod']) assert.ok(kinds.includes(k), k);
});

test('large analyses: every failing flow in detail, a bounded sample of the others, the page says so', () => {
  const kernel = structuredClone(judged);
  for (const f of kernel.flows.slice(0, 3)) f.status = 'fail';
  const m = reportModel(input, kernel, { passingDetail: 5 });
  assert.equal(m.details.length, 8);
  assert.equal(m.sampling.failing, 3);
  assert.equal(m.sampling.passingShown, 5);
  assert.equal(new Set(m.details.filter((d) => d.row.status === 'pass').map((d) => d.row.scenario)).size, 5);
  assert.match(
    renderReportHtml(m),
    /full detail is embedded for all 3 failing or inconclusive flows and for a sample of 5 of 23/,
  );
});

test('production scale: the table lists every failing flow and a bounded sample, counts cover all, the page says where the rest are', () => {
  const kernel = structuredClone(judged);
  for (const f of kernel.flows.slice(0, 3)) f.status = 'fail';
  const m = reportModel(input, kernel, { passingDetail: 2, passingRows: 4, analysisDir: 'out' });
  assert.equal(m.flows.length, 7);
  assert.equal(m.flows.filter((r) => r.status === 'fail').length, 3);
  assert.deepEqual(
    m.flows.map((r) => r.id),
    [...m.flows.map((r) => r.id)].sort((a, b) => a - b),
    'listed in flow order',
  );
  assert.ok(m.details.every((d) => m.flows.some((r) => r.id === d.row.id && r.hasDetail)));
  assert.equal(m.details.length, 5);
  assert.deepEqual(m.sampling, {
    total: 26,
    listed: 7,
    detailed: 5,
    failing: 3,
    passingShown: 2,
    passingTotal: 23,
  });
  assert.equal(m.statusCounts.pass + m.statusCounts.fail + m.statusCounts.inconclusive, 26);
  assert.equal(
    m.scenarios.reduce((n, s) => n + s.flows, 0),
    26,
  );
  const page = renderReportHtml(m);
  assert.match(page, /19 more flows, all passing or not evaluated, are not listed here/);
  assert.match(
    page,
    /hoptrace sql out\/dataset &quot;SELECT flow_id, status, scenario, .* FROM flow_status ORDER BY flow_id&quot;/,
  );
  assert.match(page, /<dt>flows<\/dt><dd>26 ·/);
  // the default keeps every flow of a fixture in the table
  assert.equal(reportModel(input, kernel).flows.length, 26);
});

/** datapathv2's verdicts with a failing and an inconclusive flow among the passing ones, and a small sample. */
async function mixedVerdicts() {
  const analysis = await analysisWithCoverage(fixture('datapathv2'));
  const { document } = verdictsFromFlows(analysis, loadRuleSets({}).rules);
  const doc = structuredClone(document);
  // failing and inconclusive flows among the passing ones, so the sample has to step over them
  doc.flows[1]!.status = 'fail';
  doc.flows[4]!.status = 'inconclusive';
  return { doc, opts: { passingDetail: 2, passingRows: 4, analysisDir: 'out' } };
}

test('streamed verdicts: the report of what analyze keeps of each flow is the report of every flow whole', async () => {
  const { doc, opts } = await mixedVerdicts();
  const kept = new ReportVerdicts(opts);
  for (const f of doc.flows) kept.add(f);
  const flows = kept.flows();
  const slim = flows.filter((f) => f.checks.length === 0 && f.status === 'pass');
  assert.ok(
    slim.length >= 10,
    `passing flows past 2 a scenario are kept without checks (${slim.length} of 26)`,
  );
  assert.equal(flows.filter((f) => f.status !== 'pass' && f.checks.length === 0).length, 0);
  // what every flow keeps is the flow's own
  const identity = (f: (typeof flows)[number]) => {
    const { checks, request_path, reply_path, skipped, unexpected, service_rewrite, handled_by, ...rest } = f;
    return rest;
  };
  assert.deepEqual(flows.map(identity), doc.flows.map(identity));
  const streamed = { ...doc, flows };
  assert.deepEqual(reportModel(input, streamed, opts), reportModel(input, doc, opts));
  assert.deepEqual(detailedFlowIds(input.flows, streamed, opts), detailedFlowIds(input.flows, doc, opts));
  // flows that end out of id order (the last first): those kept whole are still each scenario's lowest ids
  const reversed = new ReportVerdicts(opts);
  for (const f of [...doc.flows].reverse()) reversed.add(f);
  const late = { ...doc, flows: reversed.flows() };
  assert.deepEqual(late.flows.map(identity), [...doc.flows].reverse().map(identity));
  assert.deepEqual(reportModel(input, late, opts), reportModel(input, doc, opts));
});

test('verdicts: warnings read as code and message (never raw JSON), rule ids shown with the scenario', () => {
  const v = normalizeVerdicts({
    flows: [],
    warnings: [
      { code: 'verdicts.datapath-differs', message: 'node <b>n1</b> differs' },
      'bare string',
      { message: 7 },
    ],
  });
  assert.deepEqual(v.warnings, [
    { code: 'verdicts.datapath-differs', message: 'node <b>n1</b> differs' },
    { code: 'verdicts', message: 'bare string' },
    { code: 'verdicts', message: '{"message":7}' },
  ]);
  const m = reportModel(input, { ...judged, warnings: v.warnings });
  const page = renderReportHtml(m);
  assert.match(page, /<code>verdicts\.datapath-differs<\/code> node &lt;b&gt;n1&lt;\/b&gt; differs/);
  assert.doesNotMatch(page, /\{&quot;code&quot;/);
  const s7 = m.flows.find((f) => f.client.endsWith(':42071'))!;
  assert.equal(s7.rule, 'terway-v2/svc-other-node');
  assert.ok(m.scenarios.find((s) => s.key === '7')!.rules.includes('terway-v2/svc-other-node'));
});

test('a capture removed from the bundle: named in the summary, its lane placed beside its node', () => {
  const v = structuredClone(judged);
  const f = v.flows.find((x) => x.client.port === 42071)!;
  f.not_captured = [{ point: 'node/node2/cali-gone', dir: 'out', leg: 'request' }];
  const m = reportModel(input, v);
  assert.deepEqual(
    m.coverageGaps.map((g) => [g.point, g.text]),
    [['node/node2/cali-gone', 'no capture in the bundle: checks of 1 flow that need it are inconclusive']],
  );
  const d = m.details.find((x) => x.row.client.endsWith(':42071'))!;
  const lanes = d.lanes.map((l) => l.point);
  const gone = d.lanes.find((l) => l.point === 'node/node2/cali-gone')!;
  assert.deepEqual([gone.owner, gone.iface, gone.state], ['node2', 'cali-gone', 'not-captured']);
  // on node2, before the server's pod: not after the last lane
  assert.ok(lanes.indexOf('node/node2/cali-gone') < lanes.indexOf('pod/default/web-3/eth0'));
  assert.ok(lanes.indexOf('node/node2/cali-gone') > lanes.indexOf('node/node2/eth1'));
});

test('ReportFeed: flows added in any order, ladders only where wantsDetail said so, give the report of every flow whole', async () => {
  const { doc: mixedDoc, opts: small } = await mixedVerdicts();
  // and every flow of one scenario: the sample then takes as many of it as it may
  const one = structuredClone(mixedDoc);
  for (const v of one.flows) v.scenario = mixedDoc.flows[0]!.scenario;
  const { flows, ...head } = input;
  // reversed, and interleaved from both ends: a lower id keeps coming after higher ones
  const mixed = flows.map((_, i) => (i % 2 === 0 ? flows[i >> 1]! : flows[flows.length - 1 - (i >> 1)]!));
  // samples that take one flow of some scenarios, several of each, and more details than rows
  const samples = [small, { ...small, passingDetail: 8, passingRows: 12 }, { ...small, passingDetail: 9 }];
  for (const doc of [mixedDoc, one])
    for (const opts of samples) {
      const byId = new Map(doc.flows.map((v) => [v.flow_id!, v]));
      const whole = reportModel(input, doc, opts);
      for (const order of [flows, [...flows].reverse(), mixed]) {
        const feed = new ReportFeed(input.points, opts);
        let ladders = 0;
        for (const f of order) {
          const v = byId.get(f.id) ?? null;
          const detail = feed.wantsDetail(f.id, v);
          if (detail) ladders++;
          feed.add({ ...f, ladder: detail ? f.ladder : [] }, v);
        }
        // in id order, a passing flow past its scenario's first few is never wanted
        if (order === flows && opts === small)
          assert.ok(ladders < flows.length, `ladders for ${ladders} of ${flows.length} flows`);
        assert.deepEqual(feed.model(head, doc), whole);
      }
    }
});

test('ReportVerdicts: every flow of one scenario, added in reverse, keeps whole the passing flows the page details', async () => {
  const { doc: mixed, opts } = await mixedVerdicts();
  const doc = structuredClone(mixed);
  // one scenario: the sample takes as many of its passing flows as it may
  for (const v of doc.flows) v.scenario = mixed.flows[0]!.scenario;
  for (const passingDetail of [2, 3, 5]) {
    const o = { ...opts, passingDetail, passingRows: passingDetail + 2 };
    const reversed = new ReportVerdicts(o);
    for (const f of [...doc.flows].reverse()) reversed.add(f);
    assert.deepEqual(reportModel(input, { ...doc, flows: reversed.flows() }, o), reportModel(input, doc, o));
  }
});
