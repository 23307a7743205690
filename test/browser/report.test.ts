/**
 * The HTML report in real Chromium (issue 7): built from lab fixtures (with stand-in verdicts from
 * expected.json until the evaluator exists), opened from a file:// URL with background networking
 * off. Screenshots and a PDF go to test-output/ as artifacts. With CI=true a missing Chromium fails.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { analyzeBundle } from '../../cli/analyze.ts';
import { exportCommand } from '../../cli/export.ts';
import { openDataset } from '../../ingest/dataset/open-dataset.ts';
import { runReadOnlyQuery } from '../../ingest/dataset/run-query.ts';
import { analysisDirFromBundle, readAnalysisDir, reportFromAnalysisDir } from '../../reports/analysis-dir.ts';
import { renderReportHtml, TABLE_WINDOW } from '../../reports/html/page.ts';
import { reportModel } from '../../reports/report-model.ts';
import { Browser, chromiumPath, type Page } from './chromium.ts';
import { fixtureBundle } from './fixture-verdicts.ts';
import { HOSTILE, hostileBundle } from './hostile-bundle.ts';

const repo = path.resolve(import.meta.dirname, '..', '..');
const artifacts = path.join(repo, 'test-output');
const haveChromium = chromiumPath() !== null;
const ci = process.env['CI'] === 'true';

test('chromium is installed (required in CI)', {
  skip: !ci && !haveChromium && 'no chromium; CI=true fails',
}, () => {
  assert.ok(haveChromium, 'chromium not found: .ci/run installs it');
});

const skip = haveChromium ? false : 'chromium not installed';

/** `hoptrace analyze` in process: dataset, verdicts.json and report.html; `datapath` as `--datapath`. */
async function evaluatedReport(mode: string, work: string, datapath?: string): Promise<string> {
  const dir = path.join(work, `${mode}${datapath ? `-as-${datapath}` : ''}`);
  return (await analyzeBundle(fixtureBundle(mode), dir, { datapath })).outputs.html;
}

/** Loads a report and asserts the page did nothing it must not: errors, or any request but itself. */
async function open(browser: Browser, file: string): Promise<Page> {
  const page = await browser.newPage();
  const url = pathToFileURL(file).href;
  await page.goto(url);
  assert.deepEqual(page.events.exceptions, []);
  assert.deepEqual(
    page.events.console.filter((c) => c.type === 'error' || c.type === 'warning'),
    [],
  );
  assert.deepEqual(
    page.events.log.filter((l) => l.level === 'error'),
    [],
  );
  assert.deepEqual(page.events.requests, [url], 'the page loads nothing but itself');
  return page;
}

/** Words of a command as a POSIX shell reads them (bare, '…' with '\\'' inside, "…" without expansions). */
function shellWords(command: string): string[] {
  const words: string[] = [];
  const re = /'((?:[^']|'\\'')*)'|"([^"]*)"|(\S+)/g;
  for (const m of command.matchAll(re))
    words.push(m[1] !== undefined ? m[1].replaceAll(`'\\''`, `'`) : (m[2] ?? m[3]!));
  return words;
}

const visibleRows = (page: Page) =>
  page.evaluate<number>(
    `[...document.querySelectorAll('#flow-table tr[data-flow]')].filter((r) => !r.hidden).length`,
  );

describe('HTML report in Chromium', { skip }, () => {
  let browser: Browser;
  let work: string;
  let v2: string;
  let kernel: string;

  before(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'hoptrace-report-'));
    // the kernel fixture judged by the DataPath V2 rules: its flows fail (veth egress seen)
    [v2, kernel] = [
      await evaluatedReport('datapathv2', work),
      await evaluatedReport('kernel', work, 'datapathv2'),
    ];
    browser = await Browser.launch();
  });
  after(async () => {
    await browser?.close();
    fs.rmSync(work, { recursive: true, force: true });
  });

  test('loads offline, lists every flow, screenshots of the summary and a ladder', async () => {
    const page = await open(browser, v2);
    const { input } = await readAnalysisDir(path.dirname(v2));
    assert.equal(await visibleRows(page), input.flows.length);
    assert.equal(input.flows.length, 26);
    assert.equal(
      await page.evaluate<string>(`document.getElementById('flow-count').textContent`),
      '26 of 26 flows shown, 26 with details',
    );
    await page.screenshot(path.join(artifacts, 'report-summary.png'), '#summary');
    await page.screenshot(path.join(artifacts, 'report-latency.png'), '#latency');
  });

  test('a cross-node Service flow: lanes in path order, rewrite on the arrow, bypassed lane', async () => {
    const page = await open(browser, v2);
    // s7-tcp: client port 42071 -> 172.21.0.10:80 -> web-3 (node2)
    const id = await page.evaluate<string>(
      `[...document.querySelectorAll('#flow-table tr[data-flow]')].find((r) => r.textContent.includes('10.0.1.101:42071')).dataset.flow`,
    );
    const sel = `article[data-flow="${id}"]`;
    const lanes = await page.evaluate<string>(`document.querySelector('${sel} svg.ladder').dataset.lanes`);
    assert.deepEqual(lanes.split(' '), [
      'pod/default/client/eth0',
      'node/node1/calia7a3e029a7b',
      'node/node1/eth1',
      'node/node2/eth1',
      'node/node2/cali4448cbddedf',
      'pod/default/web-3/eth0',
    ]);
    const heads = await page.evaluate<string[]>(
      `[...document.querySelectorAll('${sel} .lane-iface')].map((t) => t.textContent)`,
    );
    assert.deepEqual(heads, ['eth0', 'calia7a3e029a7b', 'eth1', 'eth1', 'cali4448cbddedf', 'eth0']);
    const text = await page.evaluate<string>(`document.querySelector('${sel} svg.ladder').textContent`);
    assert.match(text, /172\.21\.0\.10:80 →\s*10\.0\.2\.101:8080/);
    assert.match(text, /bypassed \(bpf_redirect_peer\)/);
    assert.match(text, /→ request/);
    assert.match(text, /← reply/);
    assert.equal(
      await page.evaluate<number>(`document.querySelectorAll('${sel} .hop-unexpected').length`),
      0,
    );
    await page.screenshot(path.join(artifacts, 'report-ladder.png'), sel);
  });

  test('kernel path under DataPath V2 expectations: the unexpected hop in the failure colour, evidence', async () => {
    const page = await open(browser, kernel);
    const sel = await page.evaluate<string>(
      `(() => { const r = [...document.querySelectorAll('#flow-table tr[data-flow]')].find((r) => r.textContent.includes('10.0.1.101:42071')); return 'article[data-flow="' + r.dataset.flow + '"]'; })()`,
    );
    assert.ok(
      (await page.evaluate<number>(`document.querySelectorAll('${sel} .hop-unexpected').length`)) > 0,
    );
    const stroke = await page.evaluate<string>(
      `getComputedStyle(document.querySelector('${sel} .hop-unexpected line')).stroke`,
    );
    assert.equal(stroke, 'rgb(220, 38, 38)');
    const text = await page.evaluate<string>(`document.querySelector('${sel}').textContent`);
    assert.match(text, /unexpected hop/);
    assert.match(text, /request was seen leaving node2\/cali4448cbddedf towards pod default\/web-3/);
    assert.match(text, /nodes\/node2\/captures\/cali4448cbddedf\.pcapng/);
    assert.match(
      text,
      /hoptrace sql \S+ "SELECT .* FROM sightings WHERE \(file = 'nodes\/node2\/captures\/cali4448cbddedf\.pcapng' AND frame IN \(/,
    );
    assert.match(text, /hoptrace export \S+ --flow \d+ --out flow-\d+\.pcapng/);
    await page.screenshot(path.join(artifacts, 'report-ladder-fail.png'), sel);
  });

  test('every hoptrace sql command the page shows runs against <dir>/dataset and returns rows', async () => {
    const page = await open(browser, kernel);
    const shown = await page.evaluate<string[]>(
      `[...new Set([...document.querySelectorAll('.commands code')].map((c) => c.textContent))]`,
    );
    const sql = shown.filter((c) => c.startsWith('hoptrace sql '));
    const dir = path.dirname(kernel);
    // one per flow and one per failing check at least
    assert.ok(sql.length > 26, `${sql.length} sql commands`);
    const ds = await openDataset(path.join(dir, 'dataset'));
    try {
      for (const command of sql) {
        const [tool, verb, dataset, query, ...rest] = shellWords(command);
        assert.deepEqual([tool, verb, rest.length], ['hoptrace', 'sql', 0], command);
        assert.equal(dataset, path.join(dir, 'dataset'));
        const [result] = await runReadOnlyQuery(ds.con, query!);
        assert.ok((result?.rows.length ?? 0) > 0, `no rows: ${command}`);
      }
    } finally {
      ds.close();
    }
    // and the Wireshark hand-off of a failing flow, as printed
    const exportCmd = shown.find((c) => c.startsWith('hoptrace export '))!;
    const [, , ...args] = shellWords(exportCmd);
    const outArg = args.indexOf('--out');
    args[outArg + 1] = path.join(work, args[outArg + 1]!);
    exportCommand.exitOverride();
    await exportCommand.parseAsync(args, { from: 'user' });
    assert.ok(fs.statSync(args[outArg + 1]!).size > 100);
  });

  test('filters: typing in the search box, choosing a status by clicking, reset', async () => {
    const page = await open(browser, kernel);
    const { input } = await readAnalysisDir(path.dirname(kernel));
    await page.type('#flow-search', 'web-3');
    const web3 = input.flows.filter((f) => f.server.pod === 'default/web-3').length;
    assert.equal(await visibleRows(page), web3);
    assert.equal(
      await page.evaluate<number>(
        `[...document.querySelectorAll('article[data-flow]')].filter((a) => !a.hidden).length`,
      ),
      web3,
    );
    await page.click('#flow-reset');
    assert.equal(await visibleRows(page), input.flows.length);
    await page.click('header.top button[data-set-status="pass"]');
    const passing = await page.evaluate<number>(
      `document.querySelectorAll('#flow-table tr[data-flow] .st-pass').length`,
    );
    assert.equal(await visibleRows(page), passing);
    assert.ok(passing > 0 && passing < input.flows.length);
    await page.click('#flow-reset');
    await page.click('a[data-set-scenario="4"]');
    assert.equal(
      await visibleRows(page),
      input.flows.filter((f) => f.server.node === 'node2' && f.client.pod && !f.service).length,
    );
  });

  test('large table: a window of rows, more on request, search over every flow', async () => {
    const { input, verdicts } = await readAnalysisDir(path.dirname(kernel));
    const base = input.flows;
    const flows = Array.from({ length: 1200 }, (_, i) => ({ ...base[i % base.length]!, id: i }));
    const vflows = (verdicts?.flows ?? []).filter((v) => v.flow_id !== undefined);
    const big = {
      ...verdicts!,
      flows: flows.map((f, i) => ({
        ...vflows.find((v) => v.flow_id === base[i % base.length]!.id)!,
        flow_id: f.id,
      })),
    };
    const file = path.join(work, 'big.html');
    fs.writeFileSync(
      file,
      renderReportHtml(reportModel({ ...input, flows }, big, { passingDetail: 10, passingRows: 2000 })),
    );
    const page = await open(browser, file);
    assert.equal(await visibleRows(page), TABLE_WINDOW);
    await page.click('#flow-more');
    assert.equal(await visibleRows(page), 2 * TABLE_WINDOW);
    // flow 1199 is not in the table until searched for; the search covers every flow
    await page.type('#flow-search', 'flow 1199');
    assert.deepEqual(
      await page.evaluate<string[]>(
        `[...document.querySelectorAll('#flow-table tr[data-flow]')].map((r) => r.dataset.flow)`,
      ),
      ['1199'],
    );
    await page.click('#flow-reset');
    assert.equal(await visibleRows(page), TABLE_WINDOW);
    assert.match(
      await page.evaluate<string>(`document.getElementById('flow-count').textContent`),
      /^1200 of 1200 flows shown, \d+ with details \(table: first 500\)$/,
    );
  });

  test('print: the filter bar goes, the ladders and the chart stay as SVG', async () => {
    const page = await open(browser, v2);
    await page.setMedia('print');
    assert.equal(
      await page.evaluate<string>(`getComputedStyle(document.querySelector('.filters')).display`),
      'none',
    );
    const sizes = await page.evaluate<number[]>(
      `[...document.querySelectorAll('svg.ladder, svg.latency-chart')].map((s) => s.getBoundingClientRect().width)`,
    );
    assert.ok(sizes.length > 26 && sizes.every((w) => w > 300), `SVG widths ${sizes.join(',')}`);
    const bytes = await page.printToPdf(path.join(artifacts, 'report.pdf'));
    assert.ok(bytes > 50_000);
  });

  test('hostile names from every bundle channel display literally and run nothing', async () => {
    const bundle = hostileBundle();
    try {
      const dir = path.join(work, 'hostile');
      await analysisDirFromBundle(bundle, dir);
      const { out } = await reportFromAnalysisDir(dir);
      // twice: as written, and with the Content-Security-Policy removed, so escaping alone is tested
      const html = fs.readFileSync(out, 'utf8');
      const noCsp = path.join(dir, 'no-csp.html');
      fs.writeFileSync(noCsp, html.replace(/<meta http-equiv="Content-Security-Policy"[^>]*>/, ''));
      assert.notEqual(fs.readFileSync(noCsp, 'utf8'), html);
      for (const file of [out, noCsp]) {
        const page = await open(browser, file);
        assert.doesNotMatch(await page.evaluate<string>('document.title'), /PWNED/);
        assert.equal(
          await page.evaluate<number>(`document.querySelectorAll('img, iframe, object, embed').length`),
          0,
        );
        assert.equal(await page.evaluate<number>(`document.scripts.length`), 2);
        assert.equal(
          await page.evaluate<number>(
            `[...document.querySelectorAll('*')].filter((e) => [...e.attributes].some((a) => a.name.startsWith('on'))).length`,
          ),
          0,
        );
        assert.equal(
          await page.evaluate<number>(`document.querySelectorAll('svg svg, svg[onload]').length`),
          0,
        );
        const text = await page.evaluate<string>('document.body.textContent');
        for (const s of [HOSTILE.pod, HOSTILE.iface, HOSTILE.service, HOSTILE.command])
          assert.ok(text.includes(s), `shown literally: ${s}`);
        const data = await page.evaluate<string>(
          `JSON.stringify(JSON.parse(document.getElementById('report-data').textContent))`,
        );
        assert.ok(
          data.includes(JSON.stringify(HOSTILE.pod.toLowerCase()).slice(1, -1)),
          'hostile pod in the search index',
        );
        // the filter still works over hostile names
        await page.type('#flow-search', `"'><img`);
        const n = await visibleRows(page);
        assert.ok(n > 0 && n < 26, `${n} rows for the hostile pod`);
      }
    } finally {
      fs.rmSync(path.dirname(bundle), { recursive: true, force: true });
    }
  });
});
