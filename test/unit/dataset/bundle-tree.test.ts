/**
 * Input planning for batches (bundle-tree.ts): bundles found in a tree, labels, the prefix on node and
 * pod names only when two bundles share them, file names, ring sets and compressed files; and the
 * batch helpers of the CLI (progress line, fault summary, exit code of a tree).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { type BatchEntry, batchExitCode } from '../../../cli/analyze.ts';
import { progressText, progressWanted } from '../../../cli/ingest.ts';
import { findBundles, planInputs } from '../../../ingest/dataset/bundle-tree.ts';
import { pcapFile } from '../ingest/capture-builder.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ht-tree-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const capture = pcapFile(true, {}, [{ sec: 1, frac: 0, data: new Uint8Array(60) }]);

function put(rel: string, bytes: Uint8Array | string = capture): void {
  const file = path.join(tmp, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, bytes);
}

put('tree/a/bundle.json', '{}');
put('tree/a/nodes/node1/captures/eth0.pcap');
put('tree/a/nodes/only-a/captures/eth0.pcap');
put('tree/a/pods/default/client/captures/eth0.pcap');
put('tree/x/y/b/bundle.json', '{}');
put('tree/x/y/b/nodes/node1/captures/eth1_00001_20260101000000.pcapng', capture);
put('tree/x/y/b/nodes/node1/captures/eth1_00002_20260101000100.pcapng.gz', gzipSync(capture));
put('tree/x/y/b/pods/default/client/captures/eth0.pcap');
put('tree/x/y/b/nodes/node1/ip/link.json', '[]');
// a bundle nested in a bundle is part of the outer one, not a bundle of its own
put('tree/x/y/b/extra/bundle.json', '{}');
put('tree/loose.pcap');

describe('planInputs', () => {
  test('bundles of a tree, outermost only', async () => {
    const roots = await findBundles(path.join(tmp, 'tree'));
    assert.deepEqual(
      roots.map((r) => path.relative(tmp, r)),
      ['tree/a', 'tree/x/y/b'],
    );
  });

  test('names shared by two bundles get the bundle tag; the others do not', async () => {
    const plan = await planInputs([path.join(tmp, 'tree')]);
    const byDisplay = new Map(plan.files.map((f) => [f.display, f]));
    assert.deepEqual([...byDisplay.keys()].sort(), [
      'a/nodes/node1/captures/eth0.pcap',
      'a/nodes/only-a/captures/eth0.pcap',
      'a/pods/default/client/captures/eth0.pcap',
      'loose.pcap',
      'x/y/b/nodes/node1/captures/eth1_00001_20260101000000.pcapng',
      'x/y/b/nodes/node1/captures/eth1_00002_20260101000100.pcapng.gz',
      'x/y/b/pods/default/client/captures/eth0.pcap',
    ]);
    assert.equal(byDisplay.get('a/nodes/node1/captures/eth0.pcap')!.place.node, 'a:node1');
    assert.equal(byDisplay.get('a/nodes/only-a/captures/eth0.pcap')!.place.node, 'only-a');
    assert.equal(byDisplay.get('a/pods/default/client/captures/eth0.pcap')!.place.pod, 'a:default/client');
    const ring = byDisplay.get('x/y/b/nodes/node1/captures/eth1_00002_20260101000100.pcapng.gz')!;
    assert.deepEqual(
      [ring.place.node, ring.place.iface, ring.place.ringIndex, ring.compression, ring.bundle],
      ['x.y.b:node1', 'eth1', 2, 'gzip', 'x/y/b'],
    );
    assert.equal(byDisplay.get('loose.pcap')!.bundle, null);
    assert.deepEqual(plan.renamed.map((r) => r.as).sort(), [
      'a:default/client',
      'a:node1',
      'x.y.b:default/client',
      'x.y.b:node1',
    ]);
  });

  test('one bundle: names relative to it and no prefix, as before', async () => {
    const plan = await planInputs([path.join(tmp, 'tree/a')]);
    assert.deepEqual(
      plan.files.map((f) => [f.display, f.place.node]),
      [
        ['nodes/node1/captures/eth0.pcap', 'node1'],
        ['nodes/only-a/captures/eth0.pcap', 'only-a'],
        ['pods/default/client/captures/eth0.pcap', null],
      ],
    );
  });

  test('two bundles named alike on the command line get distinct labels', async () => {
    put('other/a/bundle.json', '{}');
    put('other/a/nodes/node9/captures/eth0.pcap');
    const plan = await planInputs([path.join(tmp, 'tree/a'), path.join(tmp, 'other/a')]);
    assert.deepEqual(
      plan.bundles.map((b) => b.label),
      ['a', 'a~2'],
    );
    assert.ok(plan.files.some((f) => f.display === 'a~2/nodes/node9/captures/eth0.pcap'));
  });
});

describe('batch helpers', () => {
  test('progress only for a person at a terminal', () => {
    assert.equal(progressWanted(false, true, {}), true);
    assert.equal(progressWanted(true, true, {}), false);
    assert.equal(progressWanted(false, false, {}), false);
    assert.equal(progressWanted(false, true, { CI: 'true' }), false);
    assert.equal(progressWanted(false, true, { CI: 'false' }), true);
  });

  test('the progress line: files, bytes, packets/s, ETA', () => {
    const line = progressText({
      filesDone: 3,
      filesTotal: 12,
      bytesDone: 1e9,
      bytesTotal: 4e9,
      packets: 5_000_000,
      elapsedMs: 10_000,
      jobs: 2,
    });
    assert.equal(line, 'ingest: 3/12 files  1.00 GB/4.00 GB  0.50 M packets/s  ETA 0:30  (2 jobs)');
  });

  test('a tree exits with its worst bundle', () => {
    const e = (exit_code: number): BatchEntry => ({
      bundle: 'b',
      out: 'b',
      exit_code,
      flows: 0,
      pass: 0,
      fail: 0,
      inconclusive: 0,
      faults: [],
      error: null,
    });
    assert.equal(batchExitCode([e(0), e(1), e(0)]), 1);
    assert.equal(batchExitCode([e(2), e(1)]), 2);
    assert.equal(batchExitCode([]), 0);
  });
});
