/**
 * The batch sink's per-record columns that follow from the interface (capture point, link type,
 * section, interface id), written once per batch from the interface of each row.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PacketColumns } from '../../../ingest/columns/packet-columns.ts';
import { PacketBatchSink } from '../../../ingest/packets-from-capture.ts';
import { readCaptureBytes } from '../../../ingest/read-capture.ts';
import { concat, epb, frame, idb, pb, pcapFile, shb, spb } from './capture-builder.ts';

interface Row {
  point: number;
  linkType: number;
  section: number | null;
  interfaceId: number | null;
  frame: number;
}

/** Every row of every batch, read back through the validity arrays; batches of `rows` rows. */
function rowsOf(bytes: Uint8Array, rows: number): Row[] {
  const out: Row[] = [];
  const sink = new PacketBatchSink(
    {
      fileId: 0,
      // point ids that no column value could be by accident: 100 + the reader's interface index
      pointFor: (info) => 100 + info.interfaceIndex,
      onBatch: (c) => {
        for (let r = 0; r < c.length; r++) {
          out.push({
            point: c.point[r]!,
            linkType: c.linkType[r]!,
            section: c.sectionValid[r] ? c.section[r]! : null,
            interfaceId: c.interfaceIdValid[r] ? c.interfaceId[r]! : null,
            frame: c.frame[r]!,
          });
        }
      },
    },
    new PacketColumns(rows),
  );
  const res = readCaptureBytes(bytes, sink, 'f');
  assert.equal(res.error, null);
  sink.finish();
  return out;
}

for (const le of [true, false]) {
  test(`pcapng (${le ? 'LE' : 'BE'}): point, link type, section and interface id per row, across batches`, () => {
    const bytes = concat(
      shb(le),
      idb(le, 1),
      idb(le, 113),
      epb(le, 0, 1n, frame(20)),
      epb(le, 1, 2n, frame(21)),
      epb(le, 1, 3n, frame(22)),
      pb(le, 0, 0, 4n, frame(23)),
      epb(le, 0, 5n, frame(24)),
      shb(!le),
      idb(!le, 101),
      spb(!le, frame(25)),
      epb(!le, 0, 6n, frame(26)),
    );
    // 2-row batches: interfaces change inside and across batches
    const got = rowsOf(bytes, 2);
    assert.deepEqual(
      got.map((r) => [r.frame, r.point, r.linkType, r.section, r.interfaceId]),
      [
        [1, 100, 1, 1, 0],
        [2, 101, 113, 1, 1],
        [3, 101, 113, 1, 1],
        [4, 100, 1, 1, 0],
        [5, 100, 1, 1, 0],
        [6, 102, 101, 2, 0],
        [7, 102, 101, 2, 0],
      ],
    );
  });
}

test('pcap: section and interface id NULL, link type from the file header', () => {
  const recs = [1, 2, 3].map((i) => ({ sec: i, frac: 0, data: frame(30 + i) }));
  const got = rowsOf(pcapFile(true, { link: 113 }, recs), 2);
  assert.deepEqual(
    got.map((r) => [r.frame, r.point, r.linkType, r.section, r.interfaceId]),
    [
      [1, 100, 113, null, null],
      [2, 100, 113, null, null],
      [3, 100, 113, null, null],
    ],
  );
});

test('per-interface tallies across batches, records out of time order, a batch handed in with rows', () => {
  const le = true;
  const bytes = concat(
    shb(le),
    idb(le, 1),
    idb(le, 113),
    epb(le, 0, 50n, frame(20)),
    epb(le, 1, 7n, frame(21), [], 121),
    epb(le, 0, 10n, frame(22)),
    epb(le, 0, 90n, frame(23), [], 1000),
    epb(le, 1, 3n, frame(24)),
    // the same high lane, a lower and a higher low lane
    epb(le, 0, (1n << 32n) + 5n, frame(25)),
    epb(le, 0, 1n << 32n, frame(26)),
    spb(le, frame(27)),
  );
  // one row already in the batch handed in: neither tallied nor given this file's columns
  const first = new PacketColumns(3);
  first.point[0] = 7;
  first.file[0] = 9;
  first.wirelen[0] = 5000;
  first.length = 1;
  const errors = [0, 0];
  const seen: number[] = [];
  const sink = new PacketBatchSink(
    {
      fileId: 3,
      pointFor: (info) => 100 + info.interfaceIndex,
      onBatch: (c) => {
        for (let r = 0; r < c.length; r++) {
          seen.push(c.point[r]!, c.file[r]!);
          if (c.decodeError[r] !== 0) errors[c.point[r]! - 100]!++;
        }
      },
    },
    first,
  );
  assert.equal(readCaptureBytes(bytes, sink, 'f').error, null);
  const got = sink.finish().map((s) => [s.pointId, s.packets, s.bytes, s.firstNs, s.lastNs, s.decodeErrors]);
  assert.deepEqual(got, [
    // microsecond timestamps (the IDB's default resolution)
    [100, 6, 20 + 22 + 1000 + 25 + 26 + 27, 10_000n, ((1n << 32n) + 5n) * 1000n, errors[0]],
    [101, 2, 121 + 24, 3000n, 7000n, errors[1]],
  ]);
  assert.deepEqual(seen.slice(0, 4), [7, 9, 100, 3]);
});
