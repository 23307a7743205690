/**
 * captures.sha256 is the SHA-256 of the file's bytes as stored: hashed from the reader's chunks while
 * the file is decoded (compressed bytes for a compressed file), or by reading the file again when a
 * fault stopped the decoding part way.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { generateCaptures } from '../../../bench/generate-capture.ts';
import { type FileTask, IngestLane } from '../../../ingest/dataset/ingest-worker.ts';
import { type FileSummary, ingestToDataset } from '../../../ingest/dataset/write-dataset.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ht-sha256-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const sha256 = (file: string): string => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

test('captures.sha256: the stored bytes of plain, pcapng, gzip and damaged files', async () => {
  // ~1.8 MB: several of the reader's 512 KiB chunks
  const g = generateCaptures(path.join(tmp, 'mix'), 10_000);
  const gz = path.join(tmp, 'mix-gz.pcap');
  fs.writeFileSync(gz, gzipSync(fs.readFileSync(g.pcap)));
  // record 100 claims 2 GB: the reader stops there, inside its first chunk, and reads no further
  const bad = Buffer.from(fs.readFileSync(g.pcap));
  let at = 24;
  for (let i = 0; i < 100; i++) at += 16 + bad.readUInt32LE(at + 8);
  bad.writeUInt32LE(0x7fffffff, at + 8);
  const damaged = path.join(tmp, 'damaged.pcap');
  fs.writeFileSync(damaged, bad);
  // cut inside the last record: the fault is found once the whole file was read
  const cut = path.join(tmp, 'cut.pcap');
  fs.writeFileSync(cut, fs.readFileSync(g.pcap).subarray(0, 1_000_003));
  const files = [g.pcap, g.pcapng, gz, damaged, cut];
  // on the decoding thread, and on a thread of its own (hash-thread.ts) as large files are
  for (const hashThreadMinBytes of [Infinity, 0]) {
    const done: FileSummary[] = [];
    const summary = await ingestToDataset(files, {
      outDir: path.join(tmp, `ds-${hashThreadMinBytes}`),
      jobs: 1,
      hashThreadMinBytes,
      onFileDone: (f) => done.push(f),
    });
    assert.equal(summary.faults.length, 2, 'the damaged and the cut file have their faults');
    for (const file of files) {
      const f = done.find((d) => path.resolve(tmp, d.file) === file || d.file.endsWith(path.basename(file)));
      assert.ok(f, `no summary for ${file}`);
      assert.ok(f.captures.length > 0);
      for (const row of f.captures) assert.equal(row.sha256, sha256(file), path.basename(file));
    }
  }
});

test('captures.sha256: a hash thread that ends costs no rows; the file is hashed on its own', async () => {
  // ~9.6 MB: more than the ring's 16 x 512 KiB, so a dead thread is found mid-file (update), and a
  // file under the ring's size finds it at its digest
  const big = generateCaptures(path.join(tmp, 'big'), 50_000).pcap;
  const small = generateCaptures(path.join(tmp, 'small'), 2_000).pcap;
  const lane = new IngestLane({ packetsDir: path.join(tmp, 'lane'), hashThreadMinBytes: 0 });
  const task = (abs: string, index: number): FileTask => ({
    index,
    abs,
    display: path.basename(abs),
    place: { node: null, pod: null, iface: 'eth0', ringIndex: null },
    bundle: null,
  });
  const thread = (): { close(): Promise<void> } | null =>
    (lane as unknown as { hashThread: { close(): Promise<void> } | null }).hashThread;
  try {
    const files = [big, small, big];
    for (let i = 0; i < files.length; i++) {
      const file = files[i] ?? '';
      // the thread that hashed the file before is ended under the lane
      if (i > 0) await thread()?.close();
      const done = await lane.ingest(task(file, i));
      assert.equal(done.error, null);
      assert.ok(done.records > 0);
      for (const row of done.captures) assert.equal(row.sha256, sha256(file), `file ${i}`);
    }
  } finally {
    await lane.close();
  }
});
