/**
 * Batch ingest and analysis (issue 8): a tree of bundles that reuse node and pod names, a ring-buffer
 * set with a compressed member and a damaged file; 1 and 2 worker lanes give the same rows; Ctrl-C in
 * the middle of an ingest leaves the old dataset and a partial folder that the next run resumes from;
 * `hoptrace analyze` over a tree.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { generateCaptures } from '../../bench/generate-capture.ts';
import { analyzeTree } from '../../cli/analyze.ts';
import { planBundles } from '../../ingest/dataset/bundle-tree.ts';
import { openDataset } from '../../ingest/dataset/open-dataset.ts';
import { runReadOnlyQuery } from '../../ingest/dataset/run-query.ts';
import { Interrupted, ingestToDataset, sweepStale } from '../../ingest/dataset/write-dataset.ts';
import { pcapFile } from '../unit/ingest/capture-builder.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const bin = path.join(ROOT, 'bin/hoptrace.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ht-batch-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function query(dataset: string, sql: string): Promise<Record<string, unknown>[]> {
  const ds = await openDataset(dataset, { memoryLimit: '256MB', threads: 1 });
  try {
    const [r] = await runReadOnlyQuery(ds.con, sql);
    // counts come back as BigInt; the ones here are small
    const plain = (v: unknown) =>
      typeof v === 'bigint' && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
    return r!.rows.map((row) => Object.fromEntries(r!.columns.map((c, i) => [c, plain(row[i])])));
  } finally {
    ds.close();
  }
}

/** One Ethernet/IPv4/UDP frame from 10.0.0.1 to 10.0.0.2 with a distinct IP id. */
function frame(id: number): Uint8Array {
  const f = new Uint8Array(60);
  f.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00], 0);
  f.set([0x45, 0, 0, 32, id >> 8, id & 255, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2], 14);
  f.set([0x30, 0x39, 0, 53, 0, 12, 0, 0], 34);
  return f;
}

/** A ring file of `n` frames one ms apart from `sec`. */
function ringFile(sec: number, n: number, first: number): Uint8Array {
  return pcapFile(
    true,
    {},
    Array.from({ length: n }, (_, i) => ({ sec, frac: i * 1000, data: frame(first + i) })),
  );
}

const tree = path.join(tmp, 'tree');

before(() => {
  fs.cpSync(path.join(ROOT, 'fixtures/kernel/bundle'), path.join(tree, 'site-a/kernel'), { recursive: true });
  fs.cpSync(path.join(ROOT, 'fixtures/datapathv2/bundle'), path.join(tree, 'site-b/run1/v2'), {
    recursive: true,
  });
  // a third bundle with its own node name: a ring set of three files (the middle one gzip), one damaged file
  const caps = path.join(tree, 'ring/nodes/edge/captures');
  fs.mkdirSync(caps, { recursive: true });
  fs.writeFileSync(path.join(tree, 'ring/bundle.json'), '{}\n');
  fs.writeFileSync(path.join(caps, 'eth0_00001_20260101000000.pcap'), ringFile(1_000, 5, 1));
  fs.writeFileSync(path.join(caps, 'eth0_00002_20260101000010.pcap.gz'), gzipSync(ringFile(1_010, 5, 6)));
  fs.writeFileSync(path.join(caps, 'eth0_00003_20260101000020.pcap'), ringFile(1_020, 5, 11));
  const whole = ringFile(1_000, 2, 100);
  fs.writeFileSync(path.join(caps, 'eth9.pcap'), whole.subarray(0, whole.length - 40));
});

describe('ingest a tree of bundles', () => {
  const one = path.join(tmp, 'tree-1');
  const two = path.join(tmp, 'tree-2');
  before(async () => {
    const a = await ingestToDataset([tree], { outDir: one, jobs: 1, memoryLimit: '256MB', threads: 1 });
    const b = await ingestToDataset([tree], { outDir: two, jobs: 2, memoryLimit: '256MB', threads: 1 });
    assert.equal(a.jobs, 1);
    assert.equal(b.jobs, 2);
  });

  test('1 and 2 lanes write the same rows', async () => {
    const sql = `SELECT count(*) AS n, sum(hash(capture_point, file, frame, ts_ns, src_ip, dst_ip, fingerprint)) AS h FROM packets`;
    const [a] = await query(one, sql);
    const [b] = await query(two, sql);
    assert.deepEqual(a, b);
    // 1058 (kernel) + 937 (datapathv2) + 15 ring frames + 1 frame before the damaged record
    assert.equal(a!['n'], 1058 + 937 + 15 + 1);
  });

  test('node and pod names used by two bundles get the bundle prefix; a name used once does not', async () => {
    const rows = await query(
      two,
      `SELECT bundle, list(DISTINCT node ORDER BY node) FILTER (WHERE node IS NOT NULL) AS nodes,
        count(DISTINCT capture_point) AS points FROM captures GROUP BY bundle ORDER BY bundle`,
    );
    assert.deepEqual(rows, [
      { bundle: 'ring', nodes: ['edge'], points: 2 },
      { bundle: 'site-a/kernel', nodes: ['site-a.kernel:node1', 'site-a.kernel:node2'], points: 16 },
      { bundle: 'site-b/run1/v2', nodes: ['site-b.run1.v2:node1', 'site-b.run1.v2:node2'], points: 16 },
    ]);
    const pods = await query(
      two,
      `SELECT count(DISTINCT capture_point) AS n FROM captures WHERE capture_point LIKE 'pod/%client%'`,
    );
    assert.deepEqual(pods, [{ n: 2 }]);
    const [files] = await query(
      two,
      `SELECT count(*) AS n FROM captures WHERE file LIKE 'site-b/run1/v2/nodes/%'`,
    );
    assert.ok((files!['n'] as number) > 0, 'files are named from the tree root');
  });

  test('a ring-buffer set is one capture point with its files in order and the gaps between them', async () => {
    const files = await query(
      two,
      `SELECT file, ring_index, packets FROM captures WHERE capture_point = 'node/edge/eth0' ORDER BY ring_index`,
    );
    assert.deepEqual(
      files.map((f) => [f['ring_index'], f['packets']]),
      [
        [1, 5],
        [2, 5],
        [3, 5],
      ],
    );
    assert.match(String(files[1]!['file']), /eth0_00002_20260101000010\.pcap\.gz$/);
    const gaps = await query(
      two,
      `SELECT gap_ns FROM capture_gaps WHERE capture_point = 'node/edge/eth0' ORDER BY gap_start_ns`,
    );
    // each file spans 4 ms from its second; the next starts 10 s later
    assert.deepEqual(
      gaps.map((g) => g['gap_ns']),
      [10_000_000_000 - 4_000_000, 10_000_000_000 - 4_000_000],
    );
  });

  test('CLI: the damaged file is reported with its offset, the rest ingested, exit 2 (0 with --keep-going)', () => {
    const out = path.join(tmp, 'cli-tree');
    const r = spawnSync(process.execPath, [bin, 'ingest', tree, '-o', out, '--jobs', '2'], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 2, r.stderr);
    assert.match(
      r.stderr,
      /ring\/nodes\/edge\/captures\/eth9\.pcap: byte \d+: .*\(pcap\.truncated-record\); 1 packet before it kept/,
    );
    assert.match(r.stderr, /1 of 36 files damaged .*the other 35 read whole/);
    assert.match(r.stdout, /36 file\(s\), 2011 packets .*2 job\(s\)/);
    // not a terminal: no progress line
    assert.doesNotMatch(r.stderr, /ETA/);
    const k = spawnSync(process.execPath, [bin, 'ingest', tree, '-o', out, '--keep-going', '-q'], {
      encoding: 'utf8',
    });
    assert.equal(k.status, 0, k.stderr);
    assert.equal(k.stdout, '');
  });
});

describe('Ctrl-C in the middle of an ingest', () => {
  const big = path.join(tmp, 'big');
  const ds = path.join(tmp, 'sigint-ds');
  let inputs: string[] = [];
  before(async () => {
    fs.mkdirSync(big);
    const g = generateCaptures(path.join(big, 'cap'), 1_000_000);
    // four files (hard links) so that two lanes are busy for a few seconds
    fs.linkSync(g.pcap, path.join(big, 'copy.pcap'));
    fs.linkSync(g.pcapng, path.join(big, 'copy.pcapng'));
    inputs = [g.pcap, g.pcapng, path.join(big, 'copy.pcap'), path.join(big, 'copy.pcapng')];
    await ingestToDataset([path.join(tree, 'ring/nodes/edge/captures/eth0_00001_20260101000000.pcap')], {
      outDir: ds,
    });
  });

  test('SIGINT: exit 130, the old dataset intact, the partial folder kept; a rerun replaces the dataset whole', async () => {
    const before = fs.readFileSync(path.join(ds, 'dataset.json'), 'utf8');
    const child = spawn(process.execPath, [bin, 'ingest', ...inputs, '-o', ds, '--jobs', '2'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const partial = `${ds}.partial-${child.pid}`;
    // mid-ingest: the lanes have started (their folder exists) and had time to write
    for (let i = 0; i < 200 && !fs.existsSync(path.join(partial, '.lanes')); i++)
      await new Promise((r) => setTimeout(r, 25));
    assert.ok(fs.existsSync(partial), 'the run writes under a partial name');
    await new Promise((r) => setTimeout(r, 700));
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    assert.equal(code, 130, stderr);
    assert.match(stderr, /interrupted/);
    assert.equal(fs.readFileSync(path.join(ds, 'dataset.json'), 'utf8'), before, 'old dataset untouched');
    const left = fs.readdirSync(tmp).filter((n) => n.startsWith('sigint-ds.'));
    assert.deepEqual(
      left,
      [`sigint-ds.partial-${child.pid}`],
      'only the partial folder (not a dataset) is left',
    );
    assert.ok(
      !fs.existsSync(path.join(partial, 'dataset.json')),
      'the partial folder never reads as a dataset',
    );
    assert.deepEqual(await query(ds, 'SELECT count(*) AS n FROM packets'), [{ n: 5 }]);
    const again = await ingestToDataset(inputs.slice(0, 1), { outDir: ds });
    assert.equal(again.packets, 1_000_000);
    assert.deepEqual(await query(ds, 'SELECT count(*) AS n FROM packets'), [{ n: 1_000_000 }]);
    const after = fs.readdirSync(tmp).filter((n) => n.startsWith('sigint-ds.'));
    assert.deepEqual(after, [], 'the rerun took the partial folder over');
  });

  test('leftovers of a killed run: partial folders removed, a dataset caught mid-swap restored', async () => {
    const out = path.join(tmp, 'swap-ds');
    fs.mkdirSync(`${out}.partial-999999`);
    fs.mkdirSync(`${out}.old-999999`);
    fs.writeFileSync(`${out}.old-999999/dataset.json`, '{}');
    await sweepStale(out);
    assert.ok(!fs.existsSync(`${out}.partial-999999`));
    assert.equal(fs.readFileSync(path.join(out, 'dataset.json'), 'utf8'), '{}');
  });
});

describe('an interrupted ingest resumes', () => {
  const sql = `SELECT count(*) AS n, sum(hash(COLUMNS(*))) FROM packets`;
  const caps = path.join(tmp, 'resume-in');
  let inputs: string[] = [];
  before(() => {
    fs.mkdirSync(caps);
    const g = generateCaptures(path.join(caps, 'gen'), 30_000);
    inputs = [g.pcap, path.join(tree, 'site-b'), g.pcapng, path.join(tree, 'ring')];
  });

  for (const pipeline of [false, true]) {
    test(`files finished before the interrupt are kept, the rest read again (pipeline ${pipeline})`, async () => {
      const whole = path.join(tmp, `resume-whole-${pipeline}`);
      const ds = path.join(tmp, `resume-ds-${pipeline}`);
      const small = {
        jobs: 1,
        pipeline,
        batchRows: 1000,
        rowGroupRows: 2000,
        memoryLimit: '256MB',
        threads: 1,
      };
      const full = await ingestToDataset(inputs, { ...small, outDir: whole });
      // stop in the middle of a file, after two others are done, once it has written a row group or two
      const controller = new AbortController();
      let filesDone = 0;
      let rowsDone = 0;
      await assert.rejects(
        ingestToDataset(inputs, {
          ...small,
          outDir: ds,
          signal: controller.signal,
          onFileDone: (f) => {
            filesDone++;
            rowsDone += f.records;
          },
          onProgress: (p) => {
            if (filesDone >= 2 && p.packets > rowsDone + 5000) controller.abort();
          },
        }),
        Interrupted,
      );
      assert.ok(!fs.existsSync(ds), 'no dataset yet');
      const partial = `${ds}.partial-${process.pid}`;
      assert.ok(
        fs.existsSync(path.join(partial, 'progress.jsonl')),
        'the partial folder records its progress',
      );
      const seen: string[] = [];
      const resumed = await ingestToDataset(inputs, {
        ...small,
        outDir: ds,
        onFileDone: (f) => seen.push(f.file),
      });
      assert.ok(resumed.resumed >= 2 && resumed.resumed < full.files.length, `${resumed.resumed} kept`);
      assert.equal(resumed.packets, full.packets);
      assert.deepEqual(
        resumed.files.map((f) => [f.file, f.records, f.error?.code ?? null]),
        full.files.map((f) => [f.file, f.records, f.error?.code ?? null]),
      );
      assert.ok(!fs.existsSync(partial), 'the partial folder became the dataset');
      assert.deepEqual(await query(ds, sql), await query(whole, sql));
      assert.deepEqual(
        await query(ds, 'SELECT * FROM captures ORDER BY file, capture_point'),
        await query(whole, 'SELECT * FROM captures ORDER BY file, capture_point'),
      );
      assert.equal(seen.length, full.files.length, 'every file reported, kept ones included');
    });
  }
});

describe('analyze a tree of bundles', () => {
  test('one output folder per bundle, batch.json, the worst exit code', async () => {
    const small = path.join(tmp, 'analyze-tree');
    fs.cpSync(path.join(tree, 'site-a'), path.join(small, 'site-a'), { recursive: true });
    fs.cpSync(path.join(tree, 'site-b'), path.join(small, 'site-b'), { recursive: true });
    const out = path.join(tmp, 'analyze-out');
    const bundles = planBundles(small, [
      path.join(small, 'site-a/kernel'),
      path.join(small, 'site-b/run1/v2'),
    ]);
    const r = await analyzeTree(bundles, out, { datapath: 'datapathv2', jobs: 2 });
    assert.deepEqual(
      r.entries.map((e) => [e.bundle, e.exit_code, e.flows, e.pass, e.fail]),
      [
        ['site-a/kernel', 1, 26, 2, 24],
        ['site-b/run1/v2', 0, 26, 26, 0],
      ],
    );
    assert.equal(r.exitCode, 1);
    assert.ok(fs.existsSync(path.join(out, 'site-b/run1/v2/verdicts.json')));
    const batch = JSON.parse(fs.readFileSync(path.join(out, 'batch.json'), 'utf8')) as { exit_code: number };
    assert.equal(batch.exit_code, 1);
    assert.deepEqual(
      fs.readdirSync(path.join(out, 'site-a/kernel')).sort(),
      ['dataset', 'junit.xml', 'report.html', 'verdicts.json'],
      'no staging folder left',
    );
  });
});
