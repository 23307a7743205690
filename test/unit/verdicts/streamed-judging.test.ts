import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { analysisFromBundle, streamAnalysis } from '../../../analyzers/analysis-from-bundle.ts';
import { coverageFromFrames } from '../../../analyzers/rules/flow-facts.ts';
import { forgetPointTexts } from '../../../analyzers/rules/verdict-messages.ts';
import type { FlowVerdict } from '../../../analyzers/rules/verdict-types.ts';
import { FlowJudge, loadRuleSets, verdictsFromFlows } from '../../../analyzers/verdicts.ts';
import { labBundles, requireBundles, SPILLS, spilledLabsTest } from '../analyzers/lab-bundle.ts';

const rules = loadRuleSets({}).rules;
const text = (v: unknown) => JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? x.toString() : x));

spilledLabsTest(
  'flows judged as they end, slab by slab, get the verdicts of the whole analysis',
  async (lab, skipped) => {
    const whole = await analysisFromBundle(lab.bundle);
    const batch = verdictsFromFlows({ analysis: whole, coverage: coverageFromFrames(whole.coverage) }, rules);
    for (const spill of SPILLS) {
      const streamed: FlowVerdict[] = [];
      let judge: FlowJudge | undefined;
      try {
        const a = await streamAnalysis(
          lab.bundle,
          {
            open: async () => undefined,
            clock: ({ topology, coverage, clockOffsets }) => {
              judge = new FlowJudge(topology, coverageFromFrames(coverage), clockOffsets, rules, {});
            },
            slab: () => undefined,
            flow: (_flow, facts) => streamed.push(judge!.judge(facts).verdict),
          },
          spill,
        );
        assert.ok(judge);
        const tail = judge.tail(a.warnings, []);
        const { flows, ...batchTail } = batch.document;
        assert.ok(flows.length > 0);
        const label = JSON.stringify(spill);
        assert.equal(text(streamed.sort((x, y) => x.flow_id - y.flow_id)), text(flows), label);
        assert.equal(
          text({ schema_version: batch.document.schema_version, ...tail }),
          text(batchTail),
          label,
        );
        skipped(spill, a.stats.gapSlabs);
      } finally {
        forgetPointTexts();
      }
    }
  },
);

test('a judge that throws stops the analysis, and the spool goes', requireBundles(), async () => {
  const lab = labBundles()[0]!;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ht-judge-'));
  try {
    let judged = 0;
    await assert.rejects(
      streamAnalysis(
        lab.bundle,
        {
          open: async () => undefined,
          clock: () => undefined,
          slab: () => undefined,
          flow: () => {
            judged++;
            throw new Error('sinks gone');
          },
        },
        { memoryBudgetBytes: 1, spoolChunkFrames: 50, slabNs: 200e6, spoolDir: dir },
      ),
      /sinks gone/,
    );
    assert.equal(judged, 1);
    assert.deepEqual(fs.readdirSync(dir), []);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
