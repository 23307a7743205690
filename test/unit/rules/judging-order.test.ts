/**
 * The evaluator keeps texts, plans and choices made once and shared by the flows that ask for them
 * (analyzers/rules/cached.ts and its callers), and a leg plan's hops are reused from flow to flow: a
 * cache keyed on less than its value reads, or a plan's state left over from the flow before, would
 * make a verdict depend on which flows were judged before it. Every lab flow is judged alone (a
 * context of its own, no texts kept), then all in order, then with the flows of several contexts
 * (per-endpoint composites among them) shuffled together: each verdict must be the same.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type EvaluateContext, evaluateFlow } from '../../../analyzers/rules/evaluate-rules.ts';
import { type FlowFacts, forEachFlowFacts } from '../../../analyzers/rules/flow-facts.ts';
import { parseKernelVersion } from '../../../analyzers/rules/load-rules.ts';
import { forgetPointTexts } from '../../../analyzers/rules/verdict-messages.ts';
import { analysisWithCoverage, loadRuleSets } from '../../../analyzers/verdicts.ts';
import { labBundles, requireBundles } from '../analyzers/lab-bundle.ts';

const text = (v: unknown) => JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? x.toString() : x));

test('a verdict does not depend on the flows judged before it', requireBundles(), async () => {
  const rules = loadRuleSets({}).rules;
  const sets = new Map<string, typeof rules>();
  for (const r of rules) sets.set(r.set, [...(sets.get(r.set) ?? []), r]);
  const judged: { ctx: EvaluateContext; facts: FlowFacts[] }[] = [];
  for (const lab of labBundles()) {
    const { analysis, coverage } = await analysisWithCoverage(lab.bundle);
    const topo = analysis.topology;
    const facts: FlowFacts[] = [];
    const t = analysis.tables;
    forEachFlowFacts(t.sightings, t.flows, t.flowOfPacket, t.files, (f) => facts.push(f));
    const kernelText = (node: string | null) =>
      node !== null ? (topo.nodes.get(node)?.kernel ?? null) : null;
    // one set for every node, then the nodes split between the sets both ways (composite rules)
    const byNode: ((node: string) => string)[] = [
      () => 'terway-v2',
      (node) => (node.endsWith('2') ? 'kernel-routing' : 'terway-v2'),
      (node) => (node.endsWith('1') ? 'kernel-routing' : 'terway-v2'),
    ];
    for (const setOf of byNode)
      judged.push({
        facts,
        ctx: {
          topology: topo,
          coverage,
          sets,
          setOfNode: (node) => (node === null ? null : setOf(node)),
          kernelOf: (node) => parseKernelVersion(kernelText(node)),
          kernelText,
          clockErrorNs: () => 0,
        },
      });
  }
  const judgeAll = (order: (readonly [number, number])[]) => {
    const out = judged.map((j) => new Array<string>(j.facts.length));
    try {
      for (const [k, i] of order)
        out[k]![i] = text(evaluateFlow(judged[k]!.facts[i]!, judged[k]!.ctx).verdict);
    } finally {
      forgetPointTexts();
    }
    return out;
  };
  const inOrder = judged.flatMap((j, k) => j.facts.map((_, i) => [k, i] as const));
  const shuffled = [...inOrder];
  let seed = 7;
  for (let i = shuffled.length - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    const k = seed % (i + 1);
    [shuffled[i], shuffled[k]] = [shuffled[k]!, shuffled[i]!];
  }
  // each flow alone: a context of its own (the evaluator's caches are per context) and no texts kept
  const alone = judged.map((j) =>
    j.facts.map((f) => {
      try {
        return text(evaluateFlow(f, { ...j.ctx }).verdict);
      } finally {
        forgetPointTexts();
      }
    }),
  );
  const first = judgeAll(inOrder);
  const again = judgeAll(shuffled);
  assert.ok(inOrder.length > 0);
  assert.ok(
    first.some((flows) => flows.some((v) => v.includes('"rule_id":"terway-v2+kernel-routing/'))),
    'some flows judged by a composite rule',
  );
  for (let k = 0; k < judged.length; k++)
    for (let i = 0; i < first[k]!.length; i++) {
      assert.equal(first[k]![i], alone[k]![i]);
      assert.equal(again[k]![i], alone[k]![i]);
    }
});
