import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { Sightings } from '../../../analyzers/correlate/sightings.ts';
import { ip4Text } from '../../../analyzers/topology/ip-text.ts';
import { type AnalysisTables, writeAnalysisTables } from '../../../analyzers/write-analysis.ts';
import { openDuckDb } from '../../../ingest/dataset/duckdb.ts';
import { type Row, sightingsOf } from './hand-sightings.ts';

async function writtenSightings(
  s: Sightings,
  files: string[],
  partRows?: number,
): Promise<
  {
    capture_point: string;
    node: string | null;
    file: string | null;
    src_ip: string | null;
    dst_ip: string | null;
  }[]
> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ht-analysis-'));
  try {
    const t: AnalysisTables = {
      sightings: s,
      flows: [],
      flowOfPacket: new Int32Array(s.packets).fill(-1),
      clockOffsets: [],
      files,
    };
    await writeAnalysisTables(dir, t, { partRows });
    const db = await openDuckDb({ memoryLimit: '256MB', threads: 1 });
    const con = await db.connect();
    try {
      const file = path.join(dir, 'sightings', '*.parquet');
      const r = await con.runAndReadAll(
        `SELECT capture_point, node, file, src_ip, dst_ip FROM read_parquet('${file}') ORDER BY packet_id`,
      );
      return r.getRowObjectsJson() as never;
    } finally {
      con.closeSync();
      db.closeSync();
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

const text = (a: number | string | null) => (a === null ? null : typeof a === 'number' ? ip4Text(a) : a);

for (const [name, rows] of [
  ['no sightings', []],
  [
    'IPv4 only, a point without a node, a file without a name',
    [
      { point: 0, file: 0, src: 0x0a000001, dst: 0x0a000002 },
      { point: 1, file: 5, src: 0x0a000002, dst: 0x0a000001 },
    ],
  ],
  [
    'IPv6 only and frames without IP',
    [
      { point: 1, file: 1, src: 'fd00::1', dst: 'fd00::2' },
      { point: 0, file: 0, src: null, dst: null },
    ],
  ],
] as [string, Row[]][])
  test(`sightings' texts: ${name}`, async () => {
    const points = ['node/n1/eth0', 'pod/x/y/eth0'];
    const files = ['a.pcap', 'b.pcap'];
    const got = await writtenSightings(sightingsOf(rows, points, ['n1', null]), files);
    assert.deepEqual(
      got,
      rows.map((r) => ({
        capture_point: points[r.point],
        node: r.point === 0 ? 'n1' : null,
        file: files[r.file] ?? null,
        src_ip: text(r.src),
        dst_ip: text(r.dst),
      })),
    );
  });

// a text column past 256 values gets a dictionary per row group, and a page's ids are 16 bits: around
// both, every address reads back
for (const distinct of [255, 256, 257, 65535, 65536, 65537])
  test(`sightings' addresses: an address list of ${distinct} values`, async () => {
    const rows: Row[] = [];
    for (let a = 0; a < distinct; a += 2)
      rows.push({
        point: 0,
        file: 0,
        src: 0x0a000000 + a,
        dst: a + 1 < distinct ? 0x0a000000 + a + 1 : 0x0a000000,
      });
    const got = await writtenSightings(sightingsOf(rows, ['p'], [null]), ['f']);
    assert.equal(got.length, rows.length);
    got.forEach((g, i) => {
      assert.equal(g.src_ip, text(rows[i]!.src), `row ${i}`);
      assert.equal(g.dst_ip, text(rows[i]!.dst), `row ${i}`);
    });
  });

test("sightings' capture points: two point numbers of one name", async () => {
  // one text, one id: a row reads its point's name whatever its number
  const points = ['node/n1/eth0', 'node/n1/eth0', 'node/n1/eth1'];
  const rows: Row[] = [0, 1, 2].map((point) => ({ point, file: 0, src: null, dst: null }));
  const got = await writtenSightings(sightingsOf(rows, points, ['n1', 'n1', 'n1']), ['f']);
  assert.deepEqual(
    got.map((g) => g.capture_point),
    points,
  );
});

test("sightings' addresses alike in their last octet (10.x.y.1) read back, through the id table's growths", async () => {
  const rows: Row[] = [];
  for (let k = 0; k < 5000; k++)
    rows.push({
      point: 0,
      file: 0,
      src: (0x0a000001 + 256 * k) >>> 0,
      dst: (0x0a000001 + 256 * (k + 7)) >>> 0,
    });
  const got = await writtenSightings(sightingsOf(rows, ['p'], [null]), ['f']);
  assert.deepEqual(
    got.map((g) => [g.src_ip, g.dst_ip]),
    rows.map((r) => [text(r.src), text(r.dst)]),
  );
});

test("sightings' files: a file number whose name is missing from the list reads NULL, the others their names", async () => {
  const files = ['a.pcap', undefined as unknown as string, 'c.pcap'];
  const rows: Row[] = [0, 1, 2, 3].map((file) => ({ point: 0, file, src: null, dst: null }));
  const got = await writtenSightings(sightingsOf(rows, ['p'], [null]), files);
  assert.deepEqual(
    got.map((g) => g.file),
    ['a.pcap', null, 'c.pcap', null],
  );
});

test("sightings' NULLs across chunks and parts (3 000 rows a part, 2 048 a chunk): each row its own", async () => {
  // node NULL at point 1, file NULL past the list, address NULL without IP: in runs that cross both cuts
  const rows: Row[] = Array.from({ length: 7000 }, (_, k) => ({
    point: (k >> 4) & 1,
    file: (k >> 5) % 3,
    src: k % 7 === 0 ? null : 0x0a000000 + (k % 300),
    dst: k % 7 === 0 ? null : 0x0a000000 + (k % 11),
  }));
  const files = ['a.pcap', 'b.pcap'];
  const got = await writtenSightings(sightingsOf(rows, ['p0', 'p1'], ['n0', null]), files, 3000);
  assert.deepEqual(
    got,
    rows.map((r) => ({
      capture_point: `p${r.point}`,
      node: r.point === 0 ? 'n0' : null,
      file: files[r.file] ?? null,
      src_ip: text(r.src),
      dst_ip: text(r.dst),
    })),
  );
});

test("sightings' addresses: a list of 300 000 values, 150 000 distinct in one row group (past a page's 16-bit ids)", async () => {
  // a row group's dictionary fills past 65 536 entries: the row group ends early, the next starts empty
  const rows: Row[] = [];
  for (let a = 0; a < 300000; a += 2)
    rows.push({ point: 0, file: 0, src: 0x0a000000 + a, dst: 0x0a000001 + a });
  const got = await writtenSightings(sightingsOf(rows, ['p'], [null]), ['f']);
  const bad = got.filter((g, i) => g.src_ip !== text(rows[i]!.src) || g.dst_ip !== text(rows[i]!.dst));
  assert.deepEqual(bad.slice(0, 3), []);
});
