/**
 * Report trial: a 10 000-flow report (the datapathv2 fixture's flows, judged by the shipped rules,
 * repeated with new ids and client ports, every 50th failing), rendered in Node, then loaded and filtered in headless Chromium.
 * Measured: model + render time, HTML size, page load (navigation to load event), and the filter's
 * time for a search that matches a tenth of the flows and for a reset (each a full pass over the index
 * and the rows). Not asserted anywhere: `bench/run.ts` prints and records it.
 * Call `reportTrial()`; it returns null (with a reason) when Chromium is not installed.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { renderReportHtml } from '../reports/html/page.ts';
import type { Verdicts } from '../reports/read-verdicts.ts';
import type { ReportInput } from '../reports/report-input.ts';
import { reportModel } from '../reports/report-model.ts';
import { Browser, chromiumPath } from '../test/browser/chromium.ts';
import { judgedFixture } from '../test/browser/fixture-verdicts.ts';

export interface ReportTrial {
  name: string;
  flows: number;
  detailed: number;
  htmlMb: number;
  renderMs: number;
  loadMs: number;
  filterMs: number;
  resetMs: number;
}

/** `n` flows made from the fixture's, with unique ids and client ports, and their verdicts. */
export async function syntheticReport(n: number): Promise<{ input: ReportInput; verdicts: Verdicts }> {
  // the fixture judged by the shipped rules, as hoptrace analyze does
  const { input: base, verdicts: baseVerdicts } = await judgedFixture('datapathv2');
  const flows: ReportInput['flows'] = [];
  const vflows: Verdicts['flows'] = [];
  for (let i = 0; i < n; i++) {
    const f = base.flows[i % base.flows.length]!;
    const v = baseVerdicts.flows.find((x) => x.flow_id === f.id)!;
    const client = { ...f.client, port: 1024 + (i % 60000), ip: `${f.client.ip}` };
    flows.push({ ...f, id: i, client });
    vflows.push({ ...v, flow_id: i, client, status: i % 50 === 7 ? 'fail' : v.status });
  }
  return { input: { ...base, flows }, verdicts: { ...baseVerdicts, flows: vflows } };
}

export async function reportTrial(flowCount = 10_000): Promise<ReportTrial | null> {
  if (!chromiumPath()) {
    console.log('report trial skipped: chromium not installed');
    return null;
  }
  const { input, verdicts } = await syntheticReport(flowCount);
  const t0 = performance.now();
  const model = reportModel(input, verdicts, { analysisDir: 'bench' });
  const page = renderReportHtml(model);
  const renderMs = performance.now() - t0;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hoptrace-bench-report-'));
  const file = path.join(dir, 'report.html');
  fs.writeFileSync(file, page);
  const browser = await Browser.launch();
  try {
    const tab = await browser.newPage();
    const loadMs = await tab.goto(pathToFileURL(file).href);
    const timeFilter = (value: string) =>
      tab.evaluate<number>(`(() => { const q = document.getElementById('flow-search'); q.value = ${JSON.stringify(value)};
        const t = performance.now(); window.hoptraceFilter.apply(); document.body.offsetHeight; return performance.now() - t; })()`);
    const filterMs = await timeFilter('web-3');
    const resetMs = await timeFilter('');
    const trial: ReportTrial = {
      name: `report ${flowCount} flows`,
      flows: flowCount,
      detailed: model.details.length,
      htmlMb: Buffer.byteLength(page) / 1e6,
      renderMs,
      loadMs,
      filterMs,
      resetMs,
    };
    console.log(
      `${trial.name.padEnd(44)} render ${renderMs.toFixed(0)} ms, ${trial.htmlMb.toFixed(1)} MB, ${trial.detailed} in detail; load ${loadMs.toFixed(0)} ms; filter ${filterMs.toFixed(0)} ms; reset ${resetMs.toFixed(0)} ms`,
    );
    return trial;
  } finally {
    await browser.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href)
  await reportTrial(Number(process.argv[2] ?? 10_000));
