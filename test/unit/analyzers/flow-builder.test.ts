import assert from 'node:assert/strict';
import { test } from 'node:test';
import { analysisFromBundle } from '../../../analyzers/analysis-from-bundle.ts';
import { FlowBuilder, RESERVOIR } from '../../../analyzers/flow-builder.ts';
import type { Flow } from '../../../analyzers/flows.ts';
import { type FlowFacts, forEachFlowFacts } from '../../../analyzers/rules/flow-facts.ts';
import { emptyTopology } from '../../../analyzers/topology/model.ts';
import { factsText } from './facts-text.ts';
import { sightingsOf } from './hand-sightings.ts';
import { labBundles, requireBundles } from './lab-bundle.ts';

const IDLE = 1000;
const A = 0x0a000001;
const B = 0x0a000002;

/** One UDP packet per row, A -> B unless `reply`, at the given times (one point, one file). */
function slab(times: number[], reply: (i: number) => boolean = () => false) {
  const s = sightingsOf(
    times.map((_, i) => ({ point: 0, file: 0, src: reply(i) ? B : A, dst: reply(i) ? A : B })),
    ['p0'],
    ['n1'],
  );
  s.t.set(times);
  for (let i = 0; i < times.length; i++) {
    s.frames.srcPort[i] = reply(i) ? 53 : 4000;
    s.frames.dstPort[i] = reply(i) ? 4000 : 53;
  }
  return s;
}

function collect(): { flows: Flow[]; facts: FlowFacts[]; builder: FlowBuilder } {
  const flows: Flow[] = [];
  const facts: FlowFacts[] = [];
  const builder = new FlowBuilder(emptyTopology(), { idleNs: IDLE }, (flow, x) => {
    flows.push(flow);
    if (x) facts.push(x);
  });
  return { flows, facts, builder };
}

test('flow builder: a flow silent for idleNs before a slab starts ends there; one packet inside it joins', () => {
  const { flows, builder } = collect();
  builder.add(slab([0, 10]), 0);
  // the next slab starts within idleNs of the last packet: the flow stays open and takes the packet
  builder.add(
    slab([IDLE + 5], () => true),
    IDLE + 5,
  );
  assert.equal(flows.length, 0);
  // a slab starting more than idleNs after the flow's last packet ends it before its own packets
  builder.add(slab([3 * IDLE]), 3 * IDLE);
  assert.equal(flows.length, 1);
  assert.equal(flows[0]!.packets, 3);
  assert.equal(flows[0]!.requestPackets, 2);
  assert.equal(flows[0]!.replyPackets, 1);
  builder.end();
  assert.equal(flows.length, 2);
  assert.equal(flows[1]!.packets, 1);
  assert.deepEqual(
    flows.map((f) => f.id),
    [0, 1],
  );
  assert.deepEqual([...builder.flowOfPacket.subarray(0, 4)], [0, 0, 0, 1]);
});

test('flow builder: a gap longer than idleNs inside one slab splits the flow', () => {
  const { flows, builder } = collect();
  builder.add(slab([0, 5, IDLE + 6, IDLE + 7]));
  builder.end();
  assert.deepEqual(
    flows.map((f) => f.packets),
    [2, 2],
  );
});

test('flow builder: packets of a slab are taken in time order, whatever their numbers', () => {
  const { flows, builder } = collect();
  // numbered out of time order: the gap is between 5 and IDLE + 6 in time, not between packets 1 and 2
  builder.add(slab([IDLE + 7, 0, IDLE + 6, 5]));
  builder.end();
  assert.deepEqual([...builder.flowOfPacket.subarray(0, 4)], [1, 0, 1, 0]);
  assert.equal(flows.length, 2);
});

test(`flow builder: past ${RESERVOIR} packets a path's latency minimum and maximum stay exact, samples count every packet`, () => {
  const n = RESERVOIR * 3;
  const { flows, builder } = collect();
  // two sightings per packet (p0 then p1), the hop taking 100 ns, one packet 7 ns, one 900 ns
  const rows = [];
  for (let i = 0; i < n; i++)
    rows.push({ point: 0, file: 0, src: A, dst: B }, { point: 1, file: 0, src: A, dst: B });
  const s = sightingsOf(rows, ['p0', 'p1'], ['n1', 'n1']);
  const start = Int32Array.from({ length: n + 1 }, (_, i) => 2 * i);
  const t = new Float64Array(2 * n);
  for (let i = 0; i < n; i++) {
    t[2 * i] = 10 * i;
    t[2 * i + 1] = 10 * i + (i === 5 ? 7 : i === n - 3 ? 900 : 100);
  }
  builder.add({
    ...s,
    t,
    packetStart: start,
    packets: n,
    frame: Int32Array.from({ length: 2 * n }, (_, i) => i),
  });
  builder.end();
  assert.equal(flows.length, 1);
  const hop = flows[0]!.hops[0]!;
  assert.equal(hop.samples, n);
  assert.equal(hop.minNs, 7);
  assert.equal(hop.maxNs, 900);
  assert.equal(hop.medianNs, 100);
});

for (const lab of labBundles())
  test(
    `${lab.mode}: the builder's flow facts are those read back from every sighting`,
    requireBundles(),
    async () => {
      const a = await analysisFromBundle(lab.bundle);
      const t = a.tables;
      const batch: string[] = [];
      forEachFlowFacts(t.sightings, t.flows, t.flowOfPacket, t.files, (x) => batch.push(factsText(x)));
      const streamed: string[] = [];
      const b = new FlowBuilder(
        a.topology,
        { coverage: a.coverage, clockOffsets: t.clockOffsets, files: t.files },
        (_, x) => {
          if (x) streamed.push(factsText(x));
        },
      );
      b.add(t.sightings);
      b.end();
      assert.ok(batch.length > 0);
      assert.deepEqual(streamed.sort(), batch.sort());
    },
  );

test(`flow builder: past ${RESERVOIR} packets the sampled median is near the true one and the same run after run, in one slab or two`, () => {
  const n = RESERVOIR * 4;
  const rows = [];
  for (let i = 0; i < n; i++)
    rows.push({ point: 0, file: 0, src: A, dst: B }, { point: 1, file: 0, src: A, dst: B });
  const s = sightingsOf(rows, ['p0', 'p1'], ['n1', 'n1']);
  const t = new Float64Array(2 * n);
  for (let i = 0; i < n; i++) {
    t[2 * i] = 10 * i;
    // hop latencies 0..999 ns, each 4 times or so, in a scrambled order: the true median is about 500
    t[2 * i + 1] = 10 * i + ((i * 389) % 1000);
  }
  const whole = { ...s, t, packetStart: Int32Array.from({ length: n + 1 }, (_, i) => 2 * i), packets: n };
  const hopsOf = (slabs: (typeof whole)[], from: number[]) => {
    const { flows, builder } = collect();
    slabs.forEach((x, k) => {
      builder.add(x, from[k]);
    });
    builder.end();
    assert.equal(flows.length, 1);
    return flows[0]!.hops;
  };
  const one = hopsOf([whole], [0]);
  assert.equal(one[0]!.samples, n);
  assert.equal(one[0]!.minNs, 0);
  assert.equal(one[0]!.maxNs, 999);
  assert.ok(Math.abs(one[0]!.medianNs - 500) < 60, `${one[0]!.medianNs}`);
  assert.deepEqual(hopsOf([whole], [0]), one);
  const half = n / 2;
  const two = hopsOf(
    [
      { ...whole, packetStart: whole.packetStart.subarray(0, half + 1), packets: half },
      { ...whole, packetStart: whole.packetStart.subarray(half), packets: n - half },
    ],
    [0, 10 * half],
  );
  assert.deepEqual(two, one);
});
