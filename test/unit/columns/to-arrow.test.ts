/**
 * Arrow record batches carry exactly what the decoders wrote: every staged column of every row,
 * nulls included, viewed without copying the value buffers.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { type Data, makeData, RecordBatch, tableFromIPC, tableToIPC } from 'apache-arrow';
import { PacketColumns } from '../../../ingest/columns/packet-columns.ts';
import { stageColumns } from '../../../ingest/columns/packets-schema.ts';
import { packetsToArrow } from '../../../ingest/columns/to-arrow.ts';
import { PacketBatchSink } from '../../../ingest/packets-from-capture.ts';
import { readCapture } from '../../../ingest/read-capture.ts';
import { tableFromCapture } from '../../../ingest/table-from-capture.ts';
import { corpusOrSkip } from '../ingest/reader-helpers.ts';

const corpus = corpusOrSkip();
const FILES = [
  'vlan-l2/zeek__vlan-qinqinq.pcap',
  'ipv6/libpcap__ipv6_ext_headers.pcap',
  'tunnels/tcpdump__vxlan.pcap',
  'pcap-linktypes/zeek__linux_dlt_sll2.pcap',
  'ipv4/zeek__icmp-destunreach-udp.pcap',
];

/** The value a staged column holds for `row`, or null, read from storage by the schema's own rule. */
function expected(c: PacketColumns, name: string, row: number): unknown {
  const col = stageColumns.find((s) => s.name === name)!;
  const src = col.source;
  if (col.valid && c[col.valid][row] === 0) return null;
  if (col.whenIpVersion && c[col.whenIpVersion.column][row] !== col.whenIpVersion.version) return null;
  switch (src.kind) {
    case 'u8':
    case 'u16':
    case 'u32':
      return c[src.data][row];
    case 'f64':
      return c.fileOffset[row];
    case 'u64': {
      const v = (BigInt(c[src.data][2 * row + 1]!) << 32n) | BigInt(c[src.data][2 * row]!);
      return col.type === 'BIGINT' ? BigInt.asIntN(64, v) : v;
    }
    case 'ip6':
      return Buffer.from(c[src.data].subarray(16 * row, 16 * row + 16)).toString('hex');
    case 'vlan':
      return c.vlan[4 * row + src.index];
  }
}

function arrowValue(batch: RecordBatch, name: string, row: number): unknown {
  const v: unknown = batch.getChild(name)?.get(row);
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  return v;
}

for (const file of FILES) {
  test(`${file}: Arrow equals the decoded columns, row by row`, { skip: corpus === null }, async () => {
    const seen: { cols: PacketColumns; batch: RecordBatch }[] = [];
    const sink = new PacketBatchSink(
      {
        fileId: 0,
        pointFor: () => 0,
        onBatch: (b) => {
          seen.push({ cols: b, batch: packetsToArrow(b, { points: ['p0'], files: [file] }) });
          return new PacketColumns(7);
        },
      },
      new PacketColumns(7), // small batches: several batches, a partial last one
    );
    const result = await readCapture(path.join(corpus!, file), sink);
    sink.finish();
    assert.equal(result.error, null);
    assert.ok(result.records > 0);
    let rows = 0;
    for (const { cols, batch } of seen) {
      assert.equal(batch.numRows, cols.length);
      for (let r = 0; r < cols.length; r++, rows++) {
        for (const col of stageColumns) {
          if (col.name === 'point_id' || col.name === 'file_id' || col.name === 'decode_error_id') continue;
          if (col.name === 'direction') {
            const d = cols.direction[r];
            assert.equal(arrowValue(batch, 'direction', r), d === 1 ? 'in' : d === 2 ? 'out' : null);
            continue;
          }
          assert.deepEqual(
            arrowValue(batch, col.name, r),
            expected(cols, col.name, r),
            `${col.name} row ${r}`,
          );
        }
        const err = cols.decodeError[r]!;
        assert.equal(arrowValue(batch, 'decode_error', r), err === 0 ? null : cols.errors[err]);
        assert.equal(arrowValue(batch, 'capture_point', r), 'p0');
      }
    }
    assert.equal(rows, result.records);
  });
}

test('value buffers are views of the decoded typed arrays, not copies', {
  skip: corpus === null,
}, async () => {
  const { table, result } = await tableFromCapture(path.join(corpus!, FILES[0]!));
  assert.equal(table.numRows, result.records);
  const data = table.getChild('caplen')!.data[0]!;
  const ts = table.getChild('ts_ns')!.data[0]!;
  // both columns' values live inside ArrayBuffers that hold a whole batch's capacity
  assert.ok(data.values.buffer.byteLength >= 65536 * 4);
  assert.ok(ts.values.buffer.byteLength >= 65536 * 8);
});

test('record batches are what apache-arrow makes of the same columns: Data fields, own fields, IPC', {
  skip: corpus === null,
}, async () => {
  const { table } = await tableFromCapture(path.join(corpus!, FILES[2]!));
  for (const batch of table.batches) {
    // the constructor's own fields (the batch is built without it)
    const made = new RecordBatch(batch.schema, batch.data);
    assert.deepEqual(Object.keys(batch).sort(), Object.keys(made).sort());
    assert.ok(batch instanceof RecordBatch);
    batch.data.children.forEach((d, i) => {
      const name = batch.schema.fields[i]!.name;
      const hasNulls = d.nullBitmap.length > 0;
      const ref = makeData({
        type: d.type,
        length: d.length,
        data: d.values,
        dictionary: d.dictionary,
        ...(hasNulls ? { nullBitmap: d.nullBitmap, nullCount: -1 } : {}),
      } as never) as Data;
      for (const key of ['offset', 'length', 'stride', 'nullCount'] as const)
        assert.equal(d[key], ref[key], `${name}.${key}`);
      assert.equal(d.type.toString(), ref.type.toString(), `${name} type`);
      assert.deepEqual(d.nullBitmap, ref.nullBitmap, `${name} bitmap`);
      assert.deepEqual(d.values, ref.values, `${name} values`);
    });
  }
  // written and read back as Arrow IPC, every value is the same
  const back = tableFromIPC(tableToIPC(table));
  assert.equal(back.numRows, table.numRows);
  for (const field of table.schema.fields) {
    assert.deepEqual([...back.getChild(field.name)!], [...table.getChild(field.name)!], field.name);
  }
});
