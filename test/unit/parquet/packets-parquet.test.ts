/**
 * The packets Parquet writer against a real reader: hand-built batches with every column kind and edge
 * case, written by PacketsDatasetWriter and read back by DuckDB, compared with the batch value by value
 * (nulls included); plus the encoders' own edge cases.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { PacketColumns } from '../../../ingest/columns/packet-columns.ts';
import { sqlString } from '../../../ingest/dataset/duckdb.ts';
import { hiveEscape, hourLabel, hourOfLanes } from '../../../ingest/dataset/parquet/hive-path.ts';
import { PacketsDatasetWriter } from '../../../ingest/dataset/parquet/packets-dataset.ts';
import { bitLevels, dictionaryIndices } from '../../../ingest/dataset/parquet/rle-hybrid.ts';
import { duckRows, expectedRow, hourOf, type Row, selectAll } from './read-back.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ht-parquet-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const POINTS = [
  { name: 'node/n1/eth0', node: 'n1' },
  { name: 'pod/ns/web-0/eth0', node: 'n/1 é' },
  { name: 'file/x', node: '-' },
];
const FILES = ['a.pcap', 'b/c.pcapng'];
/** 2023-11-14T22:13:20Z in ns, as lanes */
const BASE_NS = 1_700_000_000_000_000_000n;

function setU64(lanes: Uint32Array, r: number, v: bigint): void {
  const u = BigInt.asUintN(64, v);
  lanes[2 * r] = Number(u & 0xffffffffn);
  lanes[2 * r + 1] = Number(u >> 32n);
}

/** A small deterministic PRNG, so failures replay. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

type Shape = 'random' | 'all-valid' | 'all-null' | 'alternating';

/** Fills rows [0, n) with every column kind; `shape` drives the validity of nullable columns. */
function fillBatch(
  n: number,
  shape: Shape,
  seed: number,
  frameBase: number,
  tsOf?: (r: number) => bigint | null,
) {
  const c = new PacketColumns(Math.max(n, 8));
  const rand = rng(seed);
  const v = (r: number) => {
    if (shape === 'all-valid') return 1;
    if (shape === 'all-null') return 0;
    if (shape === 'alternating') return r & 1;
    return rand() < 0.6 ? 1 : 0;
  };
  const errs = ['truncated:tcp', 'ipv4.bad-ihl', 'unsupported:ethertype=0x88cc', 'ünïcode error'];
  for (let r = 0; r < n; r++) {
    c.point[r] = Math.floor(rand() * POINTS.length);
    c.file[r] = Math.floor(rand() * FILES.length);
    c.frame[r] = frameBase + r;
    c.fileOffset[r] = r === 1 ? 2 ** 53 - 1 : 24 + r * 1500 + Math.floor(rand() * 2 ** 40);
    const ts = tsOf ? tsOf(r) : BASE_NS + BigInt(r) * 1_000_000n;
    if (ts !== null) {
      setU64(c.ts, r, ts);
      c.tsValid[r] = 1;
    }
    c.caplen[r] = 0xffffffff - r;
    c.wirelen[r] = Math.floor(rand() * 2 ** 32);
    c.direction[r] = shape === 'all-null' ? 0 : shape === 'all-valid' ? 1 + (r % 2) : r % 3;
    const u32 = () => Math.floor(rand() * 2 ** 32);
    const u16 = () => Math.floor(rand() * 65536);
    const u8 = () => Math.floor(rand() * 256);
    c.interfaceId[r] = u32();
    c.interfaceIdValid[r] = v(r);
    c.section[r] = u32();
    c.sectionValid[r] = v(r);
    c.linkType[r] = u16();
    setU64(c.srcMac, r, BigInt(u32()) * 65536n + BigInt(u16()));
    setU64(c.dstMac, r, 0xffffffffffffn);
    c.srcMacValid[r] = v(r);
    c.dstMacValid[r] = v(r);
    c.vlanCount[r] = shape === 'all-null' ? 0 : r % 7 === 6 ? 9 : r % 6;
    for (let k = 0; k < 4; k++) c.vlan[4 * r + k] = u16() & 0xfff;
    c.ethertype[r] = u16();
    c.ethertypeValid[r] = v(r);
    c.ifindex[r] = u32();
    c.ifindexValid[r] = v(r);
    const version = shape === 'all-null' ? 0 : shape === 'all-valid' ? 4 : [0, 4, 6][Math.floor(rand() * 3)]!;
    c.ipVersion[r] = version;
    c.srcIp4[r] = u32();
    c.dstIp4[r] = u32();
    for (let k = 0; k < 16; k++) {
      c.srcIp6[16 * r + k] = u8();
      c.dstIp6[16 * r + k] = k === 15 ? 1 : 0;
    }
    for (const [data, key] of [
      [c.ipProto, 'ipProtoValid'],
      [c.ttl, 'ttlValid'],
      [c.dscp, 'dscpValid'],
      [c.icmpType, 'icmpValid'],
      [c.innerIpProto, 'innerIpProtoValid'],
    ] as const) {
      data[r] = u8();
      c[key][r] = v(r);
    }
    c.icmpCode[r] = u8();
    c.ipId[r] = u32();
    c.ipIdValid[r] = v(r);
    c.fragOffset[r] = u16() & 0x1fff;
    c.fragOffsetValid[r] = v(r);
    c.moreFragments[r] = r % 3 === 0 ? 1 : 0;
    c.moreFragmentsValid[r] = v(r);
    c.ipPayloadLen[r] = u32();
    c.ipPayloadLenValid[r] = v(r);
    c.flowLabel[r] = u32() & 0xfffff;
    c.flowLabelValid[r] = v(r);
    c.srcPort[r] = u16();
    c.dstPort[r] = u16();
    c.portsValid[r] = v(r);
    c.tcpSeq[r] = u32();
    c.tcpAck[r] = u32();
    c.tcpFlags[r] = u16() & 0xfff;
    c.tcpHdrLen[r] = u8();
    c.tcpWindow[r] = u16();
    c.tcpValid[r] = v(r);
    c.tcpPayloadLen[r] = u32();
    c.tcpPayloadLenValid[r] = v(r);
    c.payloadLen[r] = u32();
    c.payloadLenValid[r] = v(r);
    c.icmpId[r] = u16();
    c.icmpSeq[r] = u16();
    c.icmpEchoValid[r] = v(r);
    c.vni[r] = u32() & 0xffffff;
    c.vniValid[r] = v(r);
    c.innerIpVersion[r] = shape === 'all-null' ? 0 : [0, 4, 6][Math.floor(rand() * 3)]!;
    c.innerSrcIp4[r] = u32();
    c.innerDstIp4[r] = u32();
    for (let k = 0; k < 16; k++) {
      c.innerSrcIp6[16 * r + k] = u8();
      c.innerDstIp6[16 * r + k] = u8();
    }
    c.innerSrcPort[r] = u16();
    c.innerDstPort[r] = u16();
    c.innerPortsValid[r] = v(r);
    // above 2^53 and with the top bit set: exact only if no lane goes through a double
    setU64(c.payloadHash, r, 0xfedcba9876543210n + BigInt(r));
    c.payloadHashValid[r] = v(r);
    setU64(c.fingerprint, r, (1n << 53n) + 1n + BigInt(u32()));
    c.fingerprintValid[r] = v(r);
    c.decodeError[r] = shape === 'all-null' || rand() < 0.7 ? 0 : c.errorId(errs[r % errs.length]!);
    c.length = r + 1;
  }
  return c;
}

async function writeAndRead(
  dir: string,
  batches: readonly PacketColumns[],
  opts: { rowGroupRows?: number; maxOpenPartitions?: number; maxBufferedBytes?: number } = {},
): Promise<Row[]> {
  const w = new PacketsDatasetWriter({ dir, points: POINTS, files: FILES, ...opts });
  for (const b of batches) w.write(b);
  await w.close();
  const [rows] = await duckRows(selectAll(dir, 'frame'));
  return rows!;
}

function expectedRows(batches: readonly PacketColumns[]): Row[] {
  const rows = batches.flatMap((c) =>
    Array.from({ length: c.length }, (_, r) => expectedRow(c, r, POINTS, FILES)),
  );
  return rows.sort((a, b) => Number(a['frame']) - Number(b['frame']));
}

function assertSameRows(got: readonly Row[], want: readonly Row[]): void {
  assert.equal(got.length, want.length, 'row count');
  for (let i = 0; i < want.length; i++) {
    for (const [k, v] of Object.entries(want[i]!)) {
      assert.deepEqual(got[i]![k], v, `row ${i} (frame ${want[i]!['frame']}) column ${k}`);
    }
  }
}

describe('packets Parquet files read back by DuckDB', () => {
  let caseNo = 0;
  const dirFor = () => path.join(tmp, `case-${caseNo++}`);

  for (const shape of ['random', 'all-valid', 'all-null', 'alternating'] as const) {
    for (const n of [1, 7, 8, 9, 21, 1003]) {
      test(`${shape} validity, ${n} rows`, async () => {
        const batch = fillBatch(n, shape, n * 31 + shape.length, 1);
        assertSameRows(await writeAndRead(dirFor(), [batch]), expectedRows([batch]));
      });
    }
  }

  test('several batches, several row groups, a zero-row batch in between', async () => {
    const a = fillBatch(500, 'random', 1, 1);
    const empty = new PacketColumns(16);
    const b = fillBatch(777, 'random', 2, 10_000);
    const got = await writeAndRead(dirFor(), [a, empty, b], { rowGroupRows: 300 });
    assertSameRows(got, expectedRows([a, b]));
  });

  test('long batches: u8/u16 columns as dictionary pages, mixed with PLAIN pages in one chunk', async () => {
    const long = fillBatch(20_000, 'random', 5, 1);
    const full = fillBatch(17_000, 'all-valid', 6, 100_000);
    const short = fillBatch(100, 'alternating', 7, 200_000);
    // one partition, so that the long pages stay long
    for (const b of [long, full, short]) b.point.fill(0);
    const dir = dirFor();
    const got = await writeAndRead(dir, [long, short, full]);
    assertSameRows(got, expectedRows([long, short, full]));
    const [enc] = await duckRows(
      `SELECT DISTINCT path_in_schema AS col, encodings FROM parquet_metadata(${sqlString(`${dir}/**/*.parquet`)}) WHERE path_in_schema IN ('ttl', 'src_port', 'frame') ORDER BY 1`,
    );
    assert.ok(enc!.some((e) => e['col'] === 'src_port' && String(e['encodings']).includes('RLE_DICTIONARY')));
    assert.ok(enc!.every((e) => e['col'] !== 'frame' || !String(e['encodings']).includes('DICTIONARY')));
  });

  test('long pages: close values DELTA_BINARY_PACKED (narrow and wide), small u32 values as 8- and 16-bit ids', async () => {
    const rand = rng(11);
    // gaps from nothing to 10 s (deltas past 32 bits), backwards steps, and a run of equal times
    let ns = BASE_NS;
    const ts = (r: number) => {
      const k = r % 500;
      if (k === 7) ns += 10_000_000_000n;
      else if (k === 8) ns -= 123_456_789n;
      else if (k < 100) ns += 0n;
      else ns += BigInt(Math.floor(rand() * 2 ** (r % 30)));
      return ns;
    };
    const batch = fillBatch(20_000, 'random', 12, 1, ts);
    let offset = 24;
    for (let r = 0; r < batch.length; r++) {
      batch.point[r] = 0;
      batch.fileOffset[r] = offset;
      offset += 16 + Math.floor(rand() * 1500);
      batch.caplen[r] = Math.floor(rand() * 1515);
      batch.wirelen[r] = Math.floor(rand() * 256);
      batch.ipId[r] = Math.floor(rand() * 65536);
    }
    // constant columns: one RLE run of ids
    batch.linkType.fill(113);
    batch.srcPort.fill(443);
    // a frame number jump (a second file's rows) and one past 2^31, where INT32 deltas could overflow
    batch.frame[15_000] = 7;
    const past = fillBatch(300, 'all-valid', 13, 2 ** 31 + 5);
    // int32 deltas whose spread per 128-row block goes through every width, both signs
    let t = BASE_NS + 2_000_000_000_000n;
    const tight = fillBatch(5000, 'all-valid', 14, 30_000, (r) => {
      const k = Math.floor(r / 128) % 31;
      t += BigInt(Math.floor((rand() - 0.5) * 2 ** k));
      return t;
    });
    for (const b of [past, tight]) b.point.fill(0);
    // at most one VLAN tag a row: one level a row
    for (let r = 0; r < tight.length; r++) tight.vlanCount[r] = r % 3 === 0 ? 1 : 0;
    const dir = dirFor();
    const got = await writeAndRead(dir, [batch, past, tight]);
    assertSameRows(
      got,
      expectedRows([batch, past, tight]).sort((a, b) => Number(a['frame']) - Number(b['frame'])),
    );
    const [enc] = await duckRows(
      `SELECT path_in_schema AS col, string_agg(DISTINCT encodings) AS enc FROM parquet_metadata(${sqlString(`${dir}/**/*.parquet`)})
       WHERE path_in_schema IN ('ts_ns', 'frame', 'file_offset', 'caplen', 'wirelen', 'ip_id', 'tcp_seq') GROUP BY 1 ORDER BY 1`,
    );
    const encodings = Object.fromEntries(enc!.map((e) => [e['col'], String(e['enc'])]));
    for (const col of ['ts_ns', 'frame', 'file_offset'])
      assert.match(encodings[col]!, /DELTA_BINARY_PACKED/, col);
    for (const col of ['caplen', 'wirelen', 'ip_id']) assert.match(encodings[col]!, /RLE_DICTIONARY/, col);
    assert.doesNotMatch(encodings['tcp_seq']!, /DICTIONARY|DELTA/);
    // the footer's ts_ns bounds, which a delta page derives from its first value, are the data's
    const times = got.map((r) => BigInt(String(r['ts_ns']))).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const [bounds] = await duckRows(
      `SELECT min(stats_min_value::BIGINT) AS lo, max(stats_max_value::BIGINT) AS hi FROM parquet_metadata(${sqlString(`${dir}/**/*.parquet`)}) WHERE path_in_schema = 'ts_ns'`,
    );
    assert.equal(BigInt(String(bounds![0]!['lo'])), times[0]);
    assert.equal(BigInt(String(bounds![0]!['hi'])), times.at(-1));
  });

  test('MAC columns as ids into a dictionary of values: 8- then 16-bit ids, PLAIN past 65536 values', async () => {
    const rand = rng(21);
    const macs = Array.from({ length: 1000 }, () => Math.floor(rand() * 2 ** 32));
    // the first page: 100 source MACs (8-bit ids), distinct destinations (16-bit ids); the second:
    // 1000 source MACs (16-bit ids), 60 000 more destinations (past 65536: PLAIN)
    const first = fillBatch(20_000, 'all-valid', 22, 1);
    const second = fillBatch(60_000, 'all-valid', 23, 20_001);
    for (const [b, macCount] of [
      [first, 100],
      [second, 1000],
    ] as const) {
      b.point.fill(0);
      for (let r = 0; r < b.length; r++) {
        // neighbours that differ only in the high word
        b.srcMac[2 * r] = macs[Math.floor(r / 2) % macCount]!;
        b.srcMac[2 * r + 1] = r % 7;
        b.dstMac[2 * r] = Math.floor(rand() * 2 ** 32);
        b.dstMac[2 * r + 1] = Math.floor(rand() * 65536);
        // some rows without Ethernet (NULL MACs) between the ids
        b.srcMacValid[r] = r % 10 === 3 ? 0 : 1;
      }
    }
    const dir = dirFor();
    const w = new PacketsDatasetWriter({ dir, points: POINTS, files: FILES });
    w.write(first);
    w.write(second);
    await w.close();
    const [rows] = await duckRows(
      `SELECT frame, src_mac, dst_mac FROM read_parquet(${sqlString(`${dir}/**/*.parquet`)}) ORDER BY frame`,
    );
    assert.equal(rows!.length, 80_000);
    const mac = (lanes: Uint32Array, r: number) =>
      ((BigInt(lanes[2 * r + 1]!) << 32n) | BigInt(lanes[2 * r]!)).toString();
    for (const [b, from] of [
      [first, 0],
      [second, 20_000],
    ] as const) {
      for (let r = 0; r < b.length; r++) {
        const got = rows![from + r]!;
        const valid = b.srcMacValid[r] === 1;
        assert.equal(got['src_mac'], valid ? mac(b.srcMac, r) : null, `frame ${got['frame']} src_mac`);
        assert.equal(got['dst_mac'], valid ? mac(b.dstMac, r) : null, `frame ${got['frame']} dst_mac`);
      }
    }
    const [enc] = await duckRows(
      `SELECT DISTINCT path_in_schema AS col, encodings FROM parquet_metadata(${sqlString(`${dir}/**/*.parquet`)}) WHERE path_in_schema IN ('src_mac', 'dst_mac')`,
    );
    assert.equal(enc!.length, 2);
    for (const e of enc!) assert.match(String(e['encodings']), /RLE_DICTIONARY/, String(e['col']));
  });

  test('bounded memory: with one open partition, evicted partitions come back as new parts', async () => {
    const batches = [1, 2, 3, 4].map((k) => fillBatch(400, 'random', 20 + k, k * 1000));
    const dir = dirFor();
    const got = await writeAndRead(dir, batches, { maxOpenPartitions: 1 });
    assertSameRows(got, expectedRows(batches));
    const parts = fs.readdirSync(path.join(dir, 'node=n1', 'hour=2023-11-14T22')).sort();
    assert.ok(parts.length >= 2 && parts[1] === 'part-00001.parquet', parts.join(','));
  });

  test('bounded memory: over the byte bound, row groups are written early', async () => {
    const batches = [1, 2, 3, 4].map((k) => fillBatch(400, 'random', 30 + k, k * 1000));
    for (const b of batches) b.point.fill(0);
    const dir = dirFor();
    const got = await writeAndRead(dir, batches, { maxBufferedBytes: 20_000 });
    assertSameRows(got, expectedRows(batches));
    const [groups] = await duckRows(
      `SELECT count(DISTINCT row_group_id) AS n, count(DISTINCT file_name) AS files FROM parquet_metadata(${sqlString(`${dir}/**/*.parquet`)})`,
    );
    assert.deepEqual(groups![0], { n: '4', files: '1' });
  });

  test('only zero-row batches: one empty file that still has the columns', async () => {
    const dir = dirFor();
    const got = await writeAndRead(dir, [new PacketColumns(16)]);
    assert.equal(got.length, 0);
    assert.ok(fs.existsSync(path.join(dir, 'node=-', 'hour=none', 'part-empty.parquet')));
    const [cols] = await duckRows(
      `DESCRIBE SELECT * FROM read_parquet(${sqlString(`${dir}/**/*.parquet`)}, hive_partitioning = true)`,
    );
    assert.ok(cols!.some((c) => c['column_name'] === 'vlan_ids' && c['column_type'] === 'USMALLINT[]'));
  });

  test('a batch across an hour boundary, out of order and without timestamps, is split by partition', async () => {
    const boundary = 1_700_002_800_000_000_000n; // 2023-11-14T23:00:00Z
    const ts = (r: number) =>
      r % 11 === 5 ? null : boundary + BigInt((r % 4) - 2) * 1n + BigInt(r % 3) * -1_000n;
    const batch = fillBatch(300, 'random', 9, 1, ts);
    const dir = dirFor();
    const got = await writeAndRead(dir, [batch]);
    assertSameRows(got, expectedRows([batch]));
    const hours = new Set(got.map((r) => r['hour']));
    assert.deepEqual([...hours].sort(), ['2023-11-14T22', '2023-11-14T23', 'none']);
    assert.ok(fs.existsSync(path.join(dir, `node=${hiveEscape('n/1 é')}`)), 'escaped node folder');
  });

  test('timestamps before 1970 and far future: exact ts_ns and floored hours', async () => {
    const values = [-1n, -3_600_000_000_001n, 0n, 9_000_000_000_000_000_000n, -9_000_000_000_000_000_000n];
    const batch = fillBatch(values.length, 'all-valid', 3, 1, (r) => values[r]!);
    assertSameRows(await writeAndRead(dirFor(), [batch]), expectedRows([batch]));
  });

  test('footer statistics let DuckDB see min/max of ts_ns, frame, addresses, ports and protocol', async () => {
    const batch = fillBatch(100, 'all-valid', 4, 1);
    const dir = dirFor();
    await writeAndRead(dir, [batch]);
    const [stats] = await duckRows(
      `SELECT path_in_schema AS col, stats_min_value AS lo, stats_max_value AS hi, stats_null_count AS nulls
       FROM parquet_metadata(${sqlString(`${dir}/**/*.parquet`)}) WHERE path_in_schema = 'ts_ns' ORDER BY lo`,
    );
    assert.ok(stats!.length > 0);
    const lo = stats!.map((s) => BigInt(String(s['lo'])));
    assert.equal(lo.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))[0], BASE_NS);
    const [cols] = await duckRows(
      `SELECT DISTINCT path_in_schema AS col FROM parquet_metadata(${sqlString(`${dir}/**/*.parquet`)}) WHERE stats_max_value IS NOT NULL ORDER BY 1`,
    );
    assert.deepEqual(
      cols!.map((c) => c['col']),
      ['dst_ip4', 'dst_port', 'frame', 'ip_proto', 'src_ip4', 'src_port', 'ts_ns'],
    );
  });
});

describe('encoder edge cases', () => {
  test('bitLevels: counts and one RLE run for all-valid or all-null', () => {
    for (const n of [0, 1, 7, 8, 9, 64, 65]) {
      const ones = new Uint8Array(n + 8).fill(1);
      const zeros = new Uint8Array(n + 8);
      assert.equal(bitLevels(ones, n).count, n);
      assert.equal(bitLevels(zeros, n).count, 0);
      assert.ok(bitLevels(ones, n).bytes.length <= 4 + 5 + 1);
    }
    const mixed = new Uint8Array(24).map((_, i) => (i % 3 === 0 ? 1 : 0));
    const lv = bitLevels(mixed, 19);
    assert.equal(lv.count, 7);
    // [len=4][header (3 groups << 1 | 1) = 7][0b01001001, 0b10010010, 0b100]
    assert.deepEqual([...lv.bytes], [4, 0, 0, 0, 7, 0x49, 0x92, 0x04]);
  });

  test('dictionaryIndices: RLE for one id, bit-packed width 8 or 16 otherwise', () => {
    assert.deepEqual([...dictionaryIndices(new Uint16Array([3, 3, 3]), 3, 10)], [8, 6, 3]);
    assert.deepEqual([...dictionaryIndices(new Uint16Array([1, 2]), 2, 10)], [8, 3, 1, 2, 0, 0, 0, 0, 0, 0]);
    const wide = dictionaryIndices(new Uint16Array([300, 2]), 2, 300);
    assert.deepEqual([...wide.subarray(0, 6)], [16, 3, 44, 1, 2, 0]);
    assert.equal(wide.length, 2 + 16);
  });

  test('hourOfLanes matches BigInt floor division, at and around hour boundaries', () => {
    const rand = rng(7);
    const samples: bigint[] = [0n, -1n, 3_599_999_999_999n, 3_600_000_000_000n, -3_600_000_000_000n];
    for (let i = 0; i < 2000; i++) {
      const hour = BigInt(Math.floor((rand() - 0.5) * 5_000_000));
      samples.push(hour * 3_600_000_000_000n + BigInt(Math.floor(rand() * 3)) - 1n);
      samples.push(BigInt.asIntN(64, BigInt(Math.floor(rand() * 2 ** 32)) << 31n));
    }
    for (const ns of samples) {
      const u = BigInt.asUintN(64, ns);
      const got = hourOfLanes(Number(u & 0xffffffffn), Number(u >> 32n));
      assert.equal(hourLabel(got), hourOf(ns), `ns ${ns}`);
    }
  });

  test('hiveEscape gives the folder names DuckDB writes for the same values', async () => {
    const values = ['n1', 'n/1', 'a b', 'x%y', 'é', '日本', 'k=v', 'a.b-c_d~e', "it's(*)!", '-'];
    const dir = path.join(tmp, 'hive-escape');
    const list = values.map((v) => `(${sqlString(v)})`).join(', ');
    await duckRows(
      `COPY (SELECT k, 1 AS x FROM (VALUES ${list}) t(k)) TO ${sqlString(dir)} (FORMAT parquet, PARTITION_BY (k))`,
    );
    const folders = fs.readdirSync(dir).sort();
    assert.deepEqual(folders, values.map((v) => `k=${hiveEscape(v)}`).sort());
  });
});
