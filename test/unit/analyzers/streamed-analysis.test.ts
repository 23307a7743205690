import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  analysisFromBundle,
  type BundleAnalysis,
  type SpillOptions,
  streamAnalysis,
} from '../../../analyzers/analysis-from-bundle.ts';
import type { Sightings } from '../../../analyzers/correlate/sightings.ts';
import type { FlowLadder } from '../../../analyzers/flow-builder.ts';
import type { Flow } from '../../../analyzers/flows.ts';
import type { FlowFacts } from '../../../analyzers/rules/flow-facts.ts';
import { type StageTexts, stageTextsOf } from '../../../analyzers/sightings-parts.ts';
import { ip4Text } from '../../../analyzers/topology/ip-text.ts';
import { ladderOf, reportInputFromAnalysis } from '../../../reports/report-input.ts';
import { labBundles, requireBundles } from './lab-bundle.ts';

const text = (v: unknown) => JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? x.toString() : x));

/** One sighting row as text: its own fields and its frame's, packets numbered as the analysis does. */
function rowText(s: Sightings, r: number, packet: number, flow: number): string {
  const f = s.frames;
  const fr = s.frame[r]!;
  return [
    packet,
    s.hop[r],
    s.points[s.point[r]!],
    s.t[r],
    s.count[r],
    s.bytes[r],
    s.role[r],
    s.rewrite[r],
    s.collided[r],
    flow,
    f.file[fr],
    f.frame[fr],
    f.dir[fr],
    f.addrText(fr, 'src'),
    f.addrText(fr, 'dst'),
    f.srcPort[fr],
    f.dstPort[fr],
    f.ttl[fr],
    f.tcpSeq[fr],
  ].join('|');
}

interface Streamed {
  texts: StageTexts;
  rows: string[];
  flows: Flow[];
  facts: FlowFacts[];
  ladders: Map<number, FlowLadder | null>;
  clocked: number;
}

async function streamed(
  bundle: string,
  opts: SpillOptions & { slabNs?: number; idleNs?: number },
): Promise<Streamed> {
  const out: Streamed = {
    texts: null as never,
    rows: [],
    flows: [],
    facts: [],
    ladders: new Map(),
    clocked: 0,
  };
  let slabs = 0;
  await streamAnalysis(
    bundle,
    {
      open: async (texts) => {
        assert.equal(slabs, 0, 'texts come before the first slab');
        out.texts = texts;
      },
      clock: () => {
        out.clocked++;
        assert.equal(out.flows.length, 0, 'the clock comes before the first flow');
      },
      slab: (s, flowOf, base) => {
        slabs++;
        for (let r = 0; r < s.length; r++)
          out.rows.push(rowText(s, r, base + s.packet[r]!, flowOf[s.packet[r]!]!));
      },
      flow: (flow, facts, ladder) => {
        out.flows.push(flow);
        out.facts.push(facts);
        out.ladders.set(flow.id, kept(ladder));
      },
    },
    { ...opts, ladderPackets: 12 },
  );
  return out;
}

/** A ladder as it reads during `onFlow` (its numbers are reused after). */
function kept(l: FlowLadder | null): FlowLadder | null {
  return l && { rows: l.rows, baseNs: l.baseNs, points: l.points, files: l.files, ip6: l.ip6 };
}

function heldRows(a: BundleAnalysis): string[] {
  const s = a.correlation.sightings;
  const rows: string[] = [];
  for (let r = 0; r < s.length; r++)
    rows.push(rowText(s, r, s.packet[r]!, a.flows.flowOfPacket[s.packet[r]!] ?? -1));
  return rows;
}

const SPILLED = { memoryBudgetBytes: 1, spoolChunkFrames: 50, slabNs: 200e6 };

for (const lab of labBundles())
  for (const [mode, opts] of [
    ['in memory', {}],
    ['spilled, flows across slabs', SPILLED],
    // flows end mid-way and out of id order: the rows still carry their flows' ids, each flow its ladder
    ['spilled, flows ending out of id order (1 ms idle timeout)', { ...SPILLED, slabNs: 20e6, idleNs: 1e6 }],
  ] as const)
    test(
      `${lab.mode}, ${mode}: the streamed analysis hands over the held analysis's sightings, flows and ladders`,
      requireBundles(),
      async () => {
        // the same options: a spilled analysis numbers its packets slab by slab
        const held = await analysisFromBundle(lab.bundle, opts);
        const s = await streamed(lab.bundle, opts);
        assert.equal(s.clocked, 1);
        assert.ok(s.flows.length > 0);
        if ('idleNs' in opts)
          assert.ok(
            s.flows.some((f, i) => i > 0 && f.id < s.flows[i - 1]!.id),
            'flows end out of id order',
          );
        // the same rows in the same order, each with its flow id
        assert.deepEqual(s.rows, heldRows(held));
        // every address a row names is among the texts given before the first row
        const named = new Set([...s.texts.ip4.map((a) => ip4Text(a)), ...s.texts.ip6]);
        const hs = held.correlation.sightings;
        for (let r = 0; r < hs.length; r++) {
          const fr = hs.frame[r]!;
          if (hs.frames.ipVersion[fr] === 0) continue;
          assert.ok(named.has(hs.frames.addrText(fr, 'src')!));
          assert.ok(named.has(hs.frames.addrText(fr, 'dst')!));
        }
        assert.deepEqual(s.texts.points, stageTextsOf(hs, held.tables.files).points);
        assert.deepEqual(s.texts.pointNode, hs.pointNode);
        assert.deepEqual(s.texts.pointKind, hs.pointKind);
        // the same flows (each once), their facts made from them
        const byId = [...s.flows].sort((x, y) => x.id - y.id);
        assert.equal(text(byId), text(held.flows.flows));
        for (const [i, f] of s.flows.entries()) assert.equal(s.facts[i]!.flow, f);
        // ladders: what the report made from the held sightings
        const input = reportInputFromAnalysis(held, lab.bundle, { ladderPackets: 12 });
        for (const f of input.flows) {
          const l = s.ladders.get(f.id);
          assert.ok(l, `flow ${f.id} has a ladder`);
          assert.deepEqual(ladderOf(l, f.client, BigInt(f.firstNs)), f.ladder, `flow ${f.id}`);
        }
      },
    );

test('a ladder keeps at most its packets, the first in time order', requireBundles(), async () => {
  const lab = labBundles()[0]!;
  const held = await analysisFromBundle(lab.bundle, SPILLED);
  const s = await streamAnalysisLadders(lab.bundle, 2);
  const input = reportInputFromAnalysis(held, lab.bundle, { ladderPackets: 2 });
  let cut = 0;
  for (const f of input.flows) {
    const ladder = ladderOf(s.get(f.id)!, f.client, BigInt(f.firstNs));
    assert.ok(ladder.length <= 2);
    if (f.packets > 2) cut++;
    assert.deepEqual(ladder, f.ladder);
  }
  assert.ok(cut > 0, 'some flow has more packets than its ladder');
});

test(
  'a ladder not read while its flow was handed over cannot be read later (its numbers are reused)',
  requireBundles(),
  async () => {
    const lab = labBundles()[0]!;
    const unread: FlowLadder[] = [];
    const read = await streamAnalysisLadders(lab.bundle, 12, (l) => unread.push(l));
    // every other flow's ladder went unread, the first one read
    assert.ok(unread.length > 1 && read.size - unread.length >= 0 && read.size - unread.length <= 1);
    for (const l of unread) assert.throws(() => l.rows, /read after onFlow returned/);
  },
);

async function streamAnalysisLadders(
  bundle: string,
  n: number,
  alsoUnread?: (l: FlowLadder) => void,
): Promise<Map<number, FlowLadder>> {
  const out = new Map<number, FlowLadder>();
  let other = true;
  await streamAnalysis(
    bundle,
    {
      open: async () => undefined,
      clock: () => undefined,
      slab: () => undefined,
      flow: (flow, _facts, ladder) => {
        if (!ladder) return;
        // with alsoUnread, every other flow's ladder is handed on unread
        other = !other;
        if (alsoUnread && other) alsoUnread(ladder);
        else out.set(flow.id, kept(ladder)!);
      },
    },
    { ...SPILLED, ladderPackets: n },
  );
  return out;
}
