import assert from 'node:assert/strict';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { analyzeBundle } from '../../../cli/analyze.ts';
import { UsageError } from '../../../cli/usage-error.ts';
import {
  ANALYSIS_JSON,
  flowOfAnalysisDir,
  REPORT_HTML,
  reportFromAnalysisDir,
  VERDICTS_JSON,
} from '../../../reports/analysis-dir.ts';
import { fixtureBundle } from '../../browser/fixture-verdicts.ts';

/** The files read whole (fs.promises.readFile) while `run` runs. */
async function wholeReads(run: () => Promise<unknown>): Promise<string[]> {
  const readFile = fsp.readFile;
  const read: string[] = [];
  fsp.readFile = ((file: Parameters<typeof readFile>[0], ...rest: never[]) => {
    read.push(String(file));
    return (readFile as (...a: unknown[]) => unknown)(file, ...rest);
  }) as typeof readFile;
  try {
    await run();
  } finally {
    fsp.readFile = readFile;
  }
  return read;
}

test('hoptrace report rebuilds the page analyze wrote, reading the flows one by one; verdicts in another order are matched whole', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ht-report-dir-'));
  try {
    await analyzeBundle(fixtureBundle('datapathv2'), dir, { datapath: 'datapathv2' });
    const written = fs.readFileSync(path.join(dir, REPORT_HTML), 'utf8');
    const again = path.join(dir, 'again.html');
    const streamed = await wholeReads(() => reportFromAnalysisDir(dir, { out: again }));
    assert.equal(fs.readFileSync(again, 'utf8'), written);
    assert.deepEqual(
      streamed.filter((f) => f.endsWith('.json')),
      [],
      'neither analysis.json nor verdicts.json is read whole',
    );

    // the verdicts reversed (a verdicts.json written elsewhere): the same page, the files read whole
    const verdictsFile = path.join(dir, VERDICTS_JSON);
    const doc = JSON.parse(fs.readFileSync(verdictsFile, 'utf8')) as { flows: unknown[] };
    fs.rmSync(verdictsFile);
    fs.writeFileSync(verdictsFile, JSON.stringify({ ...doc, flows: [...doc.flows].reverse() }, null, 2));
    const reversed = path.join(dir, 'reversed.html');
    const whole = await wholeReads(() => reportFromAnalysisDir(dir, { out: reversed }));
    assert.equal(fs.readFileSync(reversed, 'utf8'), written);
    assert.ok(whole.includes(verdictsFile), 'matched whole');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('one flow of an analysis folder, with its verdict, found flow by flow; a missing one says the id range', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ht-report-dir-'));
  try {
    const r = await analyzeBundle(fixtureBundle('kernel'), dir, { datapath: 'kernel' });
    const ids = r.document.flows.map((f) => f.flow_id);
    const target = ids[Math.floor(ids.length / 2)]!;
    const found = await flowOfAnalysisDir(dir, target);
    assert.equal(found.flow?.id, target);
    assert.equal(found.verdict?.flow_id, target);
    assert.equal(found.verdict?.status, r.document.flows.find((f) => f.flow_id === target)?.status);
    const missing = await flowOfAnalysisDir(dir, 10_000);
    assert.equal(missing.flow, null);
    assert.equal(missing.flows, ids.length);
    assert.equal(missing.low, Math.min(...ids));
    assert.equal(missing.high, Math.max(...ids));

    // the reading stops at the flow: analysis.json cut short after it is not read (a 20 M-frame one is
    // a gigabyte); a flow past the cut is a one-line error naming the file and byte
    const inputFile = path.join(dir, ANALYSIS_JSON);
    const text = fs.readFileSync(inputFile, 'utf8');
    fs.writeFileSync(inputFile, text.slice(0, text.length - 40));
    const first = (JSON.parse(text) as { flows: { id: number }[] }).flows[0]!.id;
    assert.equal((await flowOfAnalysisDir(dir, first)).flow?.id, first);
    await assert.rejects(flowOfAnalysisDir(dir, 10_000), (e: unknown) => {
      assert.ok(e instanceof UsageError);
      assert.match(e.message, new RegExp(`^${inputFile}: .* at byte \\d+$`));
      return true;
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
