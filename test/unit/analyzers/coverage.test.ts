import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Coverage, FrameSet } from '../../../analyzers/correlate/frames-from-bundle.ts';
import { framesFromBundle } from '../../../analyzers/correlate/frames-from-bundle.ts';
import { sightingsFromPackets } from '../../../analyzers/correlate/sightings.ts';
import { flowsFromSightings } from '../../../analyzers/flow-builder.ts';
import type { Flow } from '../../../analyzers/flows.ts';
import type { Topology } from '../../../analyzers/topology/model.ts';
import { topologyFromBundle } from '../../../analyzers/topology/topology-from-bundle.ts';
import { labBundles, requireBundles } from './lab-bundle.ts';

const gapsOf = (flows: Flow[]) =>
  new Map(flows.map((f) => [`${f.proto} ${f.client.ip}:${f.client.port}`, f.coverage]));

function analyse(topology: Topology, set: FrameSet, coverage: Map<string, Coverage>, correct = true) {
  const r = sightingsFromPackets(set, topology);
  const clockOffsets = correct ? r.clockOffsets : [];
  return flowsFromSightings(r.sightings, topology, { coverage, clockOffsets }).flows;
}

/** A copy of the coverage with one point's windows (or drops) edited. */
function edited(
  coverage: Map<string, Coverage>,
  point: string,
  edit: (w: Coverage['windows'][number]) => Coverage['windows'][number],
): Map<string, Coverage> {
  const out = new Map(coverage);
  const c = coverage.get(point);
  assert.ok(c, point);
  out.set(point, { ...c, windows: c.windows.map(edit) });
  return out;
}

test(
  'coverage: a missing sighting outside a window or during drops is a gap, never silence',
  requireBundles(),
  async () => {
    const lab = labBundles().find((l) => l.mode === 'datapathv2') ?? labBundles()[0]!;
    const topology = await topologyFromBundle(lab.bundle);
    const set = await framesFromBundle(lab.bundle, topology);
    const base = analyse(topology, set, set.coverage);
    for (const c of set.coverage.values()) assert.ok(c.windows.length > 0, c.point);
    // the lab captured every point over the whole run without drops
    const baseline = base.flatMap((f) => f.coverage.filter((c) => c.status === 'capture_loss'));
    assert.deepEqual(baseline, []);

    // the ENI capture stops halfway: later flows cannot be judged there
    const eni = 'node/node1/eth1';
    const sorted = [...base].sort((a, b) => (a.firstNs < b.firstNs ? -1 : 1));
    const cut = sorted[sorted.length >> 1]!.firstNs;
    const stopped = analyse(
      topology,
      set,
      edited(set.coverage, eni, (w) => ({ ...w, endNs: cut })),
    );
    let gaps = 0;
    for (const f of stopped) {
      const gap = f.coverage.find((c) => c.point === eni);
      if (f.lastNs > cut) {
        assert.equal(gap?.status, 'not_captured', `${f.client.ip}:${f.client.port}`);
        gaps++;
      } else
        assert.equal(
          gap,
          base.find((b) => b.id === f.id)?.coverage.find((c) => c.point === eni),
        );
    }
    assert.ok(gaps > 0);

    // drops on the client's eth0: every flow it covered is capture_loss there
    const eth0 = 'pod/default/client/eth0';
    const lossy = analyse(
      topology,
      set,
      edited(set.coverage, eth0, (w) => ({ ...w, drops: 5 })),
    );
    const loss = lossy.map((f) => f.coverage.find((c) => c.point === eth0));
    assert.ok(loss.some((c) => c?.status === 'capture_loss' && c.drops === 5 && c.seen));
    for (const c of loss) assert.ok(c && (c.status === 'capture_loss' || c.status === 'not_captured'));
  },
);

test(
  'coverage: windows move with their node clock (a skewed node is not "not captured")',
  requireBundles(),
  async () => {
    const lab = labBundles().find((l) => l.mode === 'datapathv2') ?? labBundles()[0]!;
    const topology = await topologyFromBundle(lab.bundle);
    const set = await framesFromBundle(lab.bundle, topology);
    // windows from each point's first and last frame: tight, so that a clock error shows as a gap
    const tight = new Map<string, Coverage>();
    set.points.forEach((id, p) => {
      let lo = Number.POSITIVE_INFINITY;
      let hi = Number.NEGATIVE_INFINITY;
      for (let i = 0; i < set.frames.length; i++)
        if (set.frames.point[i] === p) {
          lo = Math.min(lo, set.frames.t[i]!);
          hi = Math.max(hi, set.frames.t[i]!);
        }
      const c = set.coverage.get(id);
      if (!c || lo > hi) return;
      const window = { file: '', startNs: set.frames.absNs(lo), endNs: set.frames.absNs(hi), drops: 0 };
      tight.set(id, { ...c, windows: [window] });
    });
    const base = gapsOf(analyse(topology, set, tight));
    const shift = -250_000_000;
    const frames = set.frames.filter(() => true);
    const nodes = set.points.map((p) => topology.points.get(p)?.node ?? null);
    for (let i = 0; i < frames.length; i++) if (nodes[frames.point[i]!] === 'node2') frames.t[i]! += shift;
    const coverage = new Map<string, Coverage>();
    for (const [id, c] of tight) {
      const move = (ns: bigint | null) => (ns === null || c.node !== 'node2' ? ns : ns + BigInt(shift));
      coverage.set(id, {
        ...c,
        windows: c.windows.map((w) => ({ ...w, startNs: move(w.startNs), endNs: move(w.endNs) })),
      });
    }
    const skewed = gapsOf(analyse(topology, { ...set, frames }, coverage));
    // the check has teeth: windows left on node2's clock would leave flows uncovered
    const naive = analyse(topology, { ...set, frames }, coverage, false);
    assert.ok(naive.some((f) => f.coverage.some((c) => c.status === 'not_captured')));
    assert.deepEqual(
      [...skewed].map(([k, v]) => [k, v.map((c) => `${c.point} ${c.status}`)]),
      [...base].map(([k, v]) => [k, v.map((c) => `${c.point} ${c.status}`)]),
    );
  },
);
