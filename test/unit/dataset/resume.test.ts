/**
 * resume.ts: which parts of an interrupted run a later run keeps.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import type { PlannedFile } from '../../../ingest/dataset/bundle-tree.ts';
import type { FileDone } from '../../../ingest/dataset/ingest-worker.ts';
import { recordProgress, resumeIn } from '../../../ingest/dataset/resume.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hoptrace-resume-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function planned(name: string): PlannedFile {
  const abs = path.join(tmp, name);
  fs.writeFileSync(abs, 'capture');
  return {
    abs,
    display: name,
    place: { node: 'n1' } as unknown as PlannedFile['place'],
    bundle: null,
    size: 7,
    compression: 'none' as PlannedFile['compression'],
  };
}

function done(index: number, file: string, parts: string[]): FileDone {
  return { index, file, records: 3, error: null, warnings: 0, captures: [], parts };
}

test("a lane's parts already moved into packets/ (interrupted after the lanes finished) are kept", async () => {
  const work = path.join(tmp, 'moved.partial-1');
  const f = planned('a.pcap');
  const lanePart = path.join(work, '.lanes', 'w1', 'node=n1', 'hour=5', 'part-0.parquet');
  fs.mkdirSync(work, { recursive: true });
  recordProgress(work, f, done(0, f.display, [lanePart]));
  // what runWorkers' moveParts does once every lane has closed
  const moved = path.join(work, 'packets', 'node=n1', 'hour=5', 'w1-part-0.parquet');
  fs.mkdirSync(path.dirname(moved), { recursive: true });
  fs.writeFileSync(moved, 'PAR1');
  const kept = await resumeIn(work, [f]);
  assert.equal(kept.size, 1, 'the file is not read again');
  const parts = kept.get(0)!.parts;
  assert.equal(parts.length, 1);
  assert.equal(fs.readFileSync(parts[0]!, 'utf8'), 'PAR1', 'its rows are kept');
  assert.deepEqual(
    fs
      .readdirSync(path.join(work, 'packets'), { recursive: true })
      .filter((p) => String(p).endsWith('.parquet')),
    [path.relative(path.join(work, 'packets'), parts[0]!)],
  );
  // taken over again, the kept part is found where this run put it
  const again = await resumeIn(work, [f]);
  assert.equal(again.size, 1);
});

test('a part still in its lane folder is kept; a file whose parts are gone is read again', async () => {
  const work = path.join(tmp, 'lanes.partial-1');
  fs.mkdirSync(work, { recursive: true });
  const a = planned('b.pcap');
  const b = planned('c.pcap');
  const part = path.join(work, '.lanes', 'w0', 'node=n1', 'hour=5', 'part-0.parquet');
  fs.mkdirSync(path.dirname(part), { recursive: true });
  fs.writeFileSync(part, 'PAR1');
  recordProgress(work, a, done(0, a.display, [part]));
  recordProgress(
    work,
    b,
    done(1, b.display, [path.join(work, '.lanes', 'w0', 'node=n1', 'hour=5', 'gone.parquet')]),
  );
  const kept = await resumeIn(work, [a, b]);
  assert.deepEqual([...kept.keys()], [0]);
  assert.equal(fs.readFileSync(kept.get(0)!.parts[0]!, 'utf8'), 'PAR1');
});
