import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { type AnalysisSink, streamAnalysis } from '../../../analyzers/analysis-from-bundle.ts';
import { SightingsOnWorker, SlabParts } from '../../../analyzers/correlate/sightings-on-worker.ts';
import { AnalysisStage } from '../../../analyzers/write-analysis.ts';
import { sightingsOf } from './hand-sightings.ts';
import { labBundles, requireBundles } from './lab-bundle.ts';

/**
 * A spilled analysis into an AnalysisStage whose parts its correlation worker writes; `beforeSlab` runs
 * before each slab's rows are handed over (k from 0). Resolves to what the analysis did.
 */
async function run(
  dir: string,
  opts: { slabNs: number },
  beforeSlab: (k: number, parts: string) => Promise<void> | void,
): Promise<{ result: Promise<unknown>; stage: () => AnalysisStage | undefined; slabs: () => number }> {
  const lab = labBundles().find((l) => l.mode === 'datapathv2') ?? labBundles()[0]!;
  const parts = path.join(dir, 'parts');
  let stage: AnalysisStage | undefined;
  let slabs = 0;
  let opened = false;
  const sink: AnalysisSink = {
    open: async (texts, sightingsOn) => {
      opened = sightingsOn !== undefined;
      stage = await AnalysisStage.open(path.join(dir, 'tmp'), parts, texts, {
        rowsPerPart: 50,
        ...(sightingsOn ? { sightingsOn } : {}),
      });
    },
    clock: () => undefined,
    slab: async (s, flowOf, base) => {
      await beforeSlab(slabs++, parts);
      stage!.sightings(s, flowOf, base);
    },
    flow: (f) => stage!.flow(f),
  };
  const result = streamAnalysis(lab.bundle, sink, {
    memoryBudgetBytes: 1,
    spoolChunkFrames: 50,
    spoolDir: dir,
    ...opts,
  }).then((r) => {
    assert.ok(opened, 'a spilled analysis offers its worker for the parts');
    return r;
  });
  return { result, stage: () => stage, slabs: () => slabs };
}

async function withDir(f: (dir: string) => Promise<void>): Promise<void> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ht-parts-worker-'));
  try {
    await f(dir);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** What is left in `dir` but the parts folder (the spool's folder goes with the analysis). */
async function leftBesideParts(dir: string): Promise<string[]> {
  return (await fs.readdir(dir)).filter((f) => f !== 'parts' && f !== 'tmp');
}

test(
  'the worker writing the parts fails a later slab: the analysis fails with the cause, no part is left',
  requireBundles(),
  async () =>
    withDir(async (dir) => {
      // 50 rows a part: the worker starts new parts all along, and one cannot be made once the folder is gone
      const r = await run(dir, { slabNs: 20e6 }, async (k, parts) => {
        if (k === 1) await fs.rm(parts, { recursive: true, force: true });
      });
      await assert.rejects(r.result, /^Error: sightings parts: .*(ENOENT|no such file)/);
      assert.ok(r.slabs() >= 2, `the failure came with a later slab (${r.slabs()} handed over)`);
      await r.stage()!.discard();
      const parts = await fs.readdir(path.join(dir, 'parts')).catch(() => []);
      assert.deepEqual(parts, [], 'no part is left');
      assert.deepEqual(await leftBesideParts(dir), [], 'the spool folder goes');
    }),
);

test("a failure on the worker's last slab is told when the parts are ended", requireBundles(), async () =>
  withDir(async (dir) => {
    // one slab: the failure can only come with the parts' end
    const r = await run(dir, { slabNs: 1e15 }, async (_k, parts) => {
      await fs.rm(parts, { recursive: true, force: true });
    });
    await assert.rejects(r.result, /^Error: sightings parts: .*(ENOENT|no such file)/);
    assert.equal(r.slabs(), 1);
    await r.stage()!.discard();
    assert.deepEqual(await leftBesideParts(dir), []);
  }),
);

test('parts the worker cannot open fail the analysis at its first slab', requireBundles(), async () =>
  withDir(async (dir) => {
    // a file where the parts folder goes
    await fs.writeFile(path.join(dir, 'parts'), '');
    const r = await run(dir, { slabNs: 20e6 }, () => undefined);
    await assert.rejects(
      r.result,
      /^Error: sightings parts: .*(EEXIST|ENOTDIR|file already exists|not a directory)/,
    );
    assert.ok(r.slabs() <= 2, `told with the slab after the first (${r.slabs()} handed over)`);
    assert.equal(
      (await fs.stat(path.join(dir, 'parts'))).isFile(),
      true,
      'the file in the way is left as it was',
    );
  }),
);

/** One sighting at point p0 of node n1, and the texts its row names. */
const oneSighting = () =>
  sightingsOf([{ point: 0, file: 0, src: 0x0a000001, dst: 0x0a000002 }], ['p0'], ['n1']);
const texts = {
  points: ['p0'],
  pointNode: ['n1'],
  pointKind: ['other'],
  files: ['f.pcap'],
  ip4: [0x0a000001, 0x0a000002],
  ip6: [],
};

test("the worker's parts: ids of a slab of another size than the one kept are a failure", () =>
  withDir(async (dir) => {
    const parts = new SlabParts();
    const s = oneSighting();
    parts.take({ partsOpen: { dir, texts, opts: { partRows: 1 << 20 } } });
    parts.keep(s);
    // the caller's slab had one packet more: another slab than the one kept
    parts.take({
      partsSlab: {
        flowOf: new Int32Array(s.packets + 1),
        packetBase: 0,
        packets: s.packets + 1,
        rows: s.length,
      },
    });
    assert.match(parts.failure ?? '', /did not keep/);
    assert.equal(parts.holds(s.frames), false, 'a failure lets go of the kept slabs');
  }));

test("the worker's parts: flow ids for a slab it did not keep are a failure, told at the end", () => {
  const parts = new SlabParts();
  const s = oneSighting();
  // nothing is kept before the parts are opened
  parts.keep(s);
  assert.equal(parts.keeping, false);
  return withDir(async (dir) => {
    assert.equal(parts.take({ partsOpen: { dir, texts, opts: { partRows: 1 << 20 } } }), null);
    assert.equal(parts.keeping, true);
    parts.keep(s);
    // its table may not be read into until its rows are written
    assert.equal(parts.holds(s.frames), true);
    const size = { packets: s.packets, rows: s.length };
    assert.equal(
      parts.take({ partsSlab: { flowOf: new Int32Array(s.packets), packetBase: 0, ...size } }),
      null,
    );
    assert.equal(parts.failure, null);
    assert.equal(parts.holds(s.frames), false);
    // a second slab's ids, with no second slab kept
    parts.take({ partsSlab: { flowOf: new Int32Array(1), packetBase: s.packets, packets: 1, rows: 1 } });
    assert.match(parts.failure ?? '', /did not keep/);
    assert.deepEqual(parts.take({ partsFinish: true }), { partsFailure: parts.failure });
    assert.deepEqual(await fs.readdir(dir), [], 'the part written before the failure is removed');
  });
});

test('parts on a worker that has already ended fail their end, never hang it', { timeout: 30_000 }, () =>
  withDir(async (dir) => {
    const w = new Worker('', { eval: true });
    await w.terminate();
    const host = new SightingsOnWorker(w);
    host.open(dir, texts, { partRows: 1 << 20 });
    await assert.rejects(host.close(), /exited before answering/);
  }),
);

// in a child process: a regression would loop for ever on this thread, which no test timeout can stop
test('sightings parts of 0 rows a part are refused at the first slab, never loop', () =>
  withDir(async (dir) => {
    const code = `
      import { localSightings } from ${JSON.stringify(new URL('../../../analyzers/sightings-parts.ts', import.meta.url).href)};
      import { sightingsOf } from ${JSON.stringify(new URL('./hand-sightings.ts', import.meta.url).href)};
      const s = sightingsOf([{ point: 0, file: 0, src: 0x0a000001, dst: 0x0a000002 }], ['p0'], ['n1']);
      const sink = localSightings(process.argv[1], ${JSON.stringify(texts)}, { partRows: 0 });
      try { sink.slab(s, new Int32Array(s.packets), 0); console.log('written'); }
      catch (e) { console.log(e.message); } finally { sink.discard(); }`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code, dir], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(r.signal, null, 'the slab never returned');
    assert.match(r.stdout, /0 rows a part/, r.stderr);
  }));
