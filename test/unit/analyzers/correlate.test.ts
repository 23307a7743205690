import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FRAME_COLUMNS } from '../../../analyzers/correlate/frame-table.ts';
import { type FrameSet, framesFromBundle } from '../../../analyzers/correlate/frames-from-bundle.ts';
import { sightingsFromPacketsParallel } from '../../../analyzers/correlate/parallel-slabs.ts';
import { SegmentRole } from '../../../analyzers/correlate/segment-offload.ts';
import { Rewrite, sightingsFromPackets } from '../../../analyzers/correlate/sightings.ts';
import { flowsFromSightings } from '../../../analyzers/flow-builder.ts';
import type { Topology } from '../../../analyzers/topology/model.ts';
import { topologyFromBundle } from '../../../analyzers/topology/topology-from-bundle.ts';
import { compareFlows, expectedFlows } from './expected-flows.ts';
import { labBundles, requireBundles } from './lab-bundle.ts';

const loaded = new Map<string, { topology: Topology; set: FrameSet }>();
async function load(bundle: string): Promise<{ topology: Topology; set: FrameSet }> {
  let got = loaded.get(bundle);
  if (!got) {
    const topology = await topologyFromBundle(bundle);
    got = { topology, set: await framesFromBundle(bundle, topology) };
    loaded.set(bundle, got);
  }
  return got;
}

/** The same frames with a transform applied: a bundle changed on purpose. */
function transformed(
  set: FrameSet,
  keep: (i: number) => boolean,
  edit?: (f: FrameSet['frames'], i: number) => void,
) {
  const frames = set.frames.filter(keep);
  if (edit) for (let i = 0; i < frames.length; i++) edit(frames, i);
  return { ...set, frames };
}

const nodeOfPoint = (set: FrameSet, topology: Topology) =>
  set.points.map((p) => topology.points.get(p)?.node ?? null);

describe('correlation on lab bundles', requireBundles(), () => {
  for (const lab of labBundles()) {
    test(`${lab.mode}: every expected flow, with its exact request and reply paths`, async () => {
      const { topology, set } = await load(lab.bundle);
      const r = sightingsFromPackets(set, topology);
      const { flows } = flowsFromSightings(r.sightings, topology);
      const expected = expectedFlows(lab.expected);
      const cmp = compareFlows(expected, flows);
      assert.deepEqual(cmp.problems, []);
      assert.equal(cmp.matched, expected.length);
      assert.equal(r.stats.withoutFingerprint, 0);
      for (const o of r.clockOffsets) {
        assert.ok(o.errorNs !== null && o.errorNs <= 1e6, `${o.node} error ${o.errorNs}`);
        // the lab's nodes share one clock: 0 lies inside every bound
        assert.ok(Math.abs(o.offsetNs) <= o.errorNs, `${o.node} offset ${o.offsetNs} +- ${o.errorNs}`);
      }
    });

    for (const shift of [3.7e6, -250e6]) {
      test(`${lab.mode}: node2's clock shifted by ${shift / 1e6} ms is recovered, paths unchanged`, async () => {
        const { topology, set } = await load(lab.bundle);
        const nodes = nodeOfPoint(set, topology);
        const shifted = transformed(
          set,
          () => true,
          (f, i) => {
            if (nodes[f.point[i]!] === 'node2') f.t[i]! += shift;
          },
        );
        const r = sightingsFromPackets(shifted, topology);
        const byNode = new Map(r.clockOffsets.map((o) => [o.node, o]));
        const n1 = byNode.get('node1')!;
        const n2 = byNode.get('node2')!;
        // corrected = ts + offset: node2 must move back by the shift relative to node1
        const recovered = n2.offsetNs - n1.offsetNs;
        const error = (n1.errorNs ?? 0) + (n2.errorNs ?? Number.POSITIVE_INFINITY);
        assert.ok(error <= 1e6, `error ${error}`);
        assert.ok(
          Math.abs(recovered + shift) <= error,
          `recovered ${recovered}, shift ${shift}, error ${error}`,
        );
        const cmp = compareFlows(
          expectedFlows(lab.expected),
          flowsFromSightings(r.sightings, topology).flows,
        );
        assert.deepEqual(cmp.problems, []);
      });
    }
  }

  const main = labBundles().find((l) => l.mode === 'datapathv2') ?? labBundles()[0];

  test('a dropped capture point disappears from the paths and nothing else changes', async () => {
    const { topology, set } = await load(main!.bundle);
    const dropped = set.points.indexOf('node/node1/eth1');
    assert.ok(dropped >= 0);
    const r = sightingsFromPackets(
      transformed(set, (i) => set.frames.point[i] !== dropped),
      topology,
    );
    const { flows } = flowsFromSightings(r.sightings, topology);
    const expected = expectedFlows(main!.expected).map((e) => ({
      ...e,
      request: { ...e.request, path: e.request.path.filter((h) => h.point !== 'node/node1/eth1') },
      reply: e.reply ? { ...e.reply, path: e.reply.path.filter((h) => h.point !== 'node/node1/eth1') } : null,
    }));
    assert.deepEqual(compareFlows(expected, flows).problems, []);
  });

  test('addresses rewritten at one point show as a rewrite there and keep one flow', async () => {
    const { topology, set } = await load(main!.bundle);
    const at = set.points.indexOf('node/node2/eth1');
    const fake = 0x0a636363; // 10.99.99.99 as a NAT would write it
    const r = sightingsFromPackets(
      transformed(
        set,
        () => true,
        (f, i) => {
          if (f.point[i] === at && f.ipVersion[i] === 4 && f.dst[i] === 0x0a000265) f.dst[i] = fake;
        },
      ),
      topology,
    );
    const s = r.sightings;
    let rewrites = 0;
    for (let row = 0; row < s.length; row++)
      if (s.point[row] === at && s.rewrite[row]! & Rewrite.dstIp) rewrites++;
    assert.ok(rewrites > 0);
    const cmp = compareFlows(expectedFlows(main!.expected), flowsFromSightings(s, topology).flows);
    assert.equal(cmp.problems.filter((p) => / flows for client/.test(p)).length, 0);
  });

  test('GSO: the bulk transfer merges super-segments with MTU segments by sequence range', async () => {
    const { topology, set } = await load(main!.bundle);
    const r = sightingsFromPackets(set, topology);
    const s = r.sightings;
    assert.ok(r.stats.offloadMerged > 0);
    let supers = 0;
    let segmentRows = 0;
    for (let row = 0; row < s.length; row++) {
      if (s.role[row] === SegmentRole.super) supers++;
      if (s.role[row] === SegmentRole.segment) {
        segmentRows++;
        assert.ok(s.count[row]! >= 1);
      }
    }
    assert.ok(supers > 0 && segmentRows > 0);
  });

  test('GSO: a super-segment whose sequence range crosses 2^32 still absorbs its segments', async () => {
    const { topology, set } = await load(main!.bundle);
    const f = set.frames;
    // the first super-segment, its range moved to straddle the wrap; every TCP sequence number moves
    // with it, so the capture is the same transfer started at another initial sequence number
    let big = -1;
    for (let i = 0; i < f.length && big < 0; i++) if (f.proto[i] === 6 && f.payloadLen[i]! > 1460) big = i;
    assert.ok(big >= 0);
    const delta = (2 ** 32 - f.tcpSeq[big]! - Math.floor(f.payloadLen[big]! / 2)) >>> 0;
    const shifted = transformed(
      set,
      () => true,
      (g, i) => {
        if (g.proto[i] === 6) g.tcpSeq[i] = (g.tcpSeq[i]! + delta) >>> 0;
      },
    );
    assert.ok(shifted.frames.tcpSeq[big]! + shifted.frames.payloadLen[big]! > 2 ** 32);
    const before = sightingsFromPackets(set, topology);
    const after = sightingsFromPackets(shifted, topology);
    assert.ok(before.stats.offloadMerged > 0);
    assert.equal(after.stats.offloadMerged, before.stats.offloadMerged);
    assert.equal(after.sightings.packets, before.sightings.packets);
    assert.deepEqual(after.sightings.role, before.sightings.role);
  });

  for (const lab of labBundles())
    test(`${lab.mode}: slab boundaries in the middle of flows give the same packets, flows and paths as one slab`, async () => {
      const { topology, set } = await load(lab.bundle);
      const summary = (slabNs: number) => {
        const r = sightingsFromPackets(set, topology, { slabNs });
        const { flows } = flowsFromSightings(r.sightings, topology);
        const text = flows
          .map(
            (f) =>
              `${f.proto} ${f.client.ip}:${f.client.port} ${f.service?.ip ?? '-'} ${f.server.ip}:${f.server.port} ` +
              `${f.packets}/${f.requestPackets}/${f.replyPackets} ${f.bytes} ${f.firstNs}-${f.lastNs} ` +
              `${f.requestPath.map((h) => `${h.point}:${h.dir}`).join('>')} | ${f.replyPath.map((h) => `${h.point}:${h.dir}`).join('>')}`,
          )
          .sort();
        return { r, flows, text };
      };
      const one = summary(Number.POSITIVE_INFINITY);
      const sliced = summary(20e6);
      assert.equal(one.r.stats.slabs, 1);
      assert.ok(sliced.r.stats.slabs > 2, `slabs ${sliced.r.stats.slabs}`);
      // some flow must really cross a boundary, or the test proves nothing
      assert.ok(one.flows.some((f) => f.lastNs - f.firstNs > 40_000_000n));
      assert.equal(sliced.r.sightings.packets, one.r.sightings.packets);
      assert.equal(sliced.r.sightings.length, one.r.sightings.length);
      assert.equal(sliced.r.stats.identities, one.r.stats.identities);
      assert.deepEqual(sliced.text, one.text);
      assert.deepEqual(compareFlows(expectedFlows(lab.expected), sliced.flows).problems, []);
    });

  test('worker threads give the same sightings as one thread, packet numbers included', async () => {
    const { topology, set } = await load(main!.bundle);
    const one = sightingsFromPackets(set, topology, { slabNs: 50e6 });
    const two = await sightingsFromPacketsParallel(set, topology, { slabNs: 50e6, jobs: 2 });
    assert.ok(one.stats.slabs > 2);
    assert.deepEqual(two.stats, one.stats);
    const a = one.sightings;
    const b = two.sightings;
    assert.equal(b.length, a.length);
    for (const col of ['packet', 'hop', 'point', 'frame', 'count', 't', 'bytes', 'role', 'rewrite'] as const)
      assert.deepEqual(b[col].subarray(0, b.length), a[col].subarray(0, a.length), col);
    assert.deepEqual(b.packetStart, a.packetStart);
  });

  test('a duplicated frame at the same point is a collision, not a second sighting', async () => {
    const { topology, set } = await load(main!.bundle);
    const f = set.frames;
    // duplicate every IPv6 frame of the client's eth0 1 µs later: identical fingerprints, same point
    const client = set.points.indexOf('pod/default/client/eth0');
    const dupes: number[] = [];
    for (let i = 0; i < f.length; i++) if (f.point[i] === client && f.ipVersion[i] === 6) dupes.push(i);
    const copy = f.filter(() => true);
    copy.reserve(dupes.length);
    for (const i of dupes) {
      const j = copy.length++;
      for (const c of FRAME_COLUMNS) copy[c][j] = f[c][i]!;
      copy.t[j]! += 1000;
    }
    const r = sightingsFromPackets({ ...set, frames: copy }, topology);
    assert.equal(r.stats.collisions, dupes.length);
    const base = sightingsFromPackets(set, topology);
    assert.equal(r.stats.identities, base.stats.identities + dupes.length);
  });
});
