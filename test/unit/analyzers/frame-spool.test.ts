import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { correlateSpool, FrameSpool } from '../../../analyzers/correlate/frame-spool.ts';
import { framesFromBundle } from '../../../analyzers/correlate/frames-from-bundle.ts';
import { type Sightings, sightingsFromPackets } from '../../../analyzers/correlate/sightings.ts';
import { slabWorkerAhead, spoolSlabsOnThread } from '../../../analyzers/correlate/spool-slabs-thread.ts';
import { topologyFromBundle } from '../../../analyzers/topology/topology-from-bundle.ts';
import { labBundles, requireBundles } from './lab-bundle.ts';

/** Each packet as its evidence (file, frame of its first sighting) and its path, sorted. */
function packetsOf(s: Sightings, files: string[], into: string[]): void {
  const f = s.frames;
  for (let p = 0; p < s.packets; p++) {
    const a = s.packetStart[p]!;
    let text = `${files[f.file[s.frame[a]!]!]}:${f.frame[s.frame[a]!]} ${f.addrText(s.frame[a]!, 'src')}`;
    for (let r = a; r < s.packetStart[p + 1]!; r++)
      text += ` > ${s.points[s.point[r]!]}:${f.dir[s.frame[r]!]} ${f.absNs(s.t[r]!)}`;
    into.push(text);
  }
}

// whole chunks, and chunks of many blocks (a slab then reads only the blocks it overlaps)
for (const lab of labBundles())
  for (const [chunkFrames, blockFrames] of [
    [500, 4096],
    [2000, 16],
  ] as const)
    test(
      `${lab.mode}: a spooled capture read back slab by slab gives the same packets as frames in memory (chunks ${chunkFrames}, blocks ${blockFrames})`,
      requireBundles(),
      async () => {
        const topology = await topologyFromBundle(lab.bundle);
        const set = await framesFromBundle(lab.bundle, topology);
        const whole: string[] = [];
        const r = sightingsFromPackets(set, topology);
        packetsOf(r.sightings, set.files, whole);

        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ht-spool-'));
        // small chunks and slabs: chunk, file and slab boundaries all fall inside flows
        const spool = new FrameSpool(path.join(dir, 'frames.bin'), chunkFrames, blockFrames);
        try {
          const spooled = await framesFromBundle(lab.bundle, await topologyFromBundle(lab.bundle), { spool });
          assert.equal(spooled.frames.length, 0);
          assert.equal(spool.frames, set.frames.length);
          const sliced: string[] = [];
          const c = correlateSpool(spool, spooled, topology, { slabNs: 200e6 }, (slab) =>
            packetsOf(slab, spooled.files, sliced),
          );
          assert.ok(c.stats.slabs > 3, `slabs ${c.stats.slabs}`);
          assert.deepEqual(
            c.clockOffsets.map((o) => [o.node, o.offsetNs]),
            r.clockOffsets.map((o) => [o.node, o.offsetNs]),
          );
          assert.deepEqual(sliced.sort(), whole.sort());
        } finally {
          spool.close();
          fs.rmSync(dir, { recursive: true, force: true });
        }
      },
    );

test(
  'a decoded batch larger than chunkFrames is spooled in several chunks, boundaries inside files: same packets',
  requireBundles(),
  async () => {
    const lab = labBundles()[0]!;
    const topology = await topologyFromBundle(lab.bundle);
    const set = await framesFromBundle(lab.bundle, topology);
    const whole: string[] = [];
    packetsOf(sightingsFromPackets(set, topology).sightings, set.files, whole);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ht-spool-'));
    // 10 frames a chunk, while a batch of the decoder holds a whole fixture file (the 500-frame chunks
    // above end only at file ends: no fixture file is that long)
    const spool = new FrameSpool(path.join(dir, 'frames.bin'), 10);
    try {
      const spooled = await framesFromBundle(lab.bundle, await topologyFromBundle(lab.bundle), { spool });
      assert.equal(spool.frames, set.frames.length);
      const sliced: string[] = [];
      correlateSpool(spool, spooled, topology, { slabNs: 200e6 }, (slab) =>
        packetsOf(slab, spooled.files, sliced),
      );
      assert.deepEqual(sliced.sort(), whole.sort());
    } finally {
      spool.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
);

test('a spool tells a range in a silence of the capture from one with frames, as its reads find them', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ht-spool-'));
  // two points, 8 frames a block, 64 a chunk: a burst, a long silence, another burst; point 1 is 5 ns late
  const spool = new FrameSpool(path.join(dir, 'frames.bin'), 64, 8);
  try {
    const times = [
      ...Array.from({ length: 40 }, (_, i) => i * 10),
      ...Array.from({ length: 40 }, (_, i) => 1_000_000 + i * 10),
    ];
    const f = spool.table;
    for (const [i, t] of times.entries()) {
      f.reserve(1);
      f.t[f.length] = t;
      f.point[f.length] = i % 2;
      f.fpValid[f.length] = 1;
      f.fpLo[f.length] = i;
      f.length++;
      spool.maybeFlush();
    }
    spool.flush();
    const shift = Float64Array.of(0, -5);
    const cases: [number, number, Float64Array | null][] = [];
    for (let from = -1000; from < 1_002_000; from += 997) cases.push([from, from + 1000, null]);
    for (let from = -1000; from < 1_002_000; from += 1499) cases.push([from, from + 500, shift]);
    // edges: the last frame of the first burst, the first of the second, and just past them
    cases.push(
      [390, 391, null],
      [391, 999_999, null],
      [999_999, 1_000_000, null],
      [1_000_000, 1_000_001, null],
    );
    let empty = 0;
    for (const [from, to, sh] of cases) {
      const found = spool.read(from, to, sh).length;
      const meets = spool.meets(from, to, sh);
      // never false while a read finds a frame; false in the silence, where reads find none
      if (found > 0) assert.ok(meets, `[${from}, ${to}) holds ${found} frames`);
      if (!meets) empty++;
      if (from > 1000 && to < 999_000) assert.equal(meets, false, `[${from}, ${to}) is in the silence`);
    }
    assert.ok(empty > 1000, `most ranges lie in the silence (${empty} of ${cases.length})`);
    // a late point moved forward into the silence: its first burst is found there, and the blocks that
    // hold it (frames of both points) reach as far, but no further
    const late = Float64Array.of(0, 500_000);
    for (let from = 400_000; from < 600_000; from += 50) {
      const found = spool.read(from, from + 100, late).length;
      const meets = spool.meets(from, from + 100, late);
      if (found > 0) assert.ok(meets, `[${from}, ${from + 100}) holds ${found} frames of the late point`);
      if (from > 500_390) assert.equal(meets, false, `[${from}, ${from + 100}) is past the late burst`);
    }
    assert.equal(
      spool.read(500_000, 500_400, late).length,
      20,
      "the late point's 20 frames of the first burst",
    );
    assert.equal(spool.meets(500_000, 500_400, null), false, 'unmoved, the same range is in the silence');
  } finally {
    spool.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// (a regression would hang: the time limit makes it a failure)
const AHEAD_LIMIT = { ...requireBundles(), timeout: 60_000 };

test(
  'a correlation worker started ahead that ended before its first slab fails the slabs, never hangs them',
  AHEAD_LIMIT,
  async () => {
    const lab = labBundles()[0]!;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ht-spool-'));
    const spool = new FrameSpool(path.join(dir, 'frames.bin'), 500);
    const ahead = slabWorkerAhead();
    try {
      const topology = await topologyFromBundle(lab.bundle);
      const set = await framesFromBundle(lab.bundle, topology, { spool });
      // ended while main read the captures (as a worker whose modules failed to load, or ran out of memory)
      await ahead.worker.terminate();
      const slabs = spoolSlabsOnThread(spool, set, topology, {}, ahead);
      await assert.rejects(slabs.next(), /correlation worker exited \(code \d+\) before its first slab/);
    } finally {
      await ahead.worker.terminate();
      spool.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
);
