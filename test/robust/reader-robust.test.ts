/**
 * Bad input through the container readers: the corpus's malformed/ and not-pcap/ files, every truncation
 * of a few small files, random byte flips and absurd lengths (fast-check), and a 4 GB declared block.
 * Always: no throw, no hang, an error or a clean read, the records before a fault counted.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { readCapture, readCaptureBytes } from '../../ingest/read-capture.ts';
import {
  block,
  concat,
  epb,
  frame,
  idb,
  pcapFile,
  pcapHeader,
  pcapRecord,
  shb,
} from '../unit/ingest/capture-builder.ts';
import { collector, corpusOrSkip, counter } from '../unit/ingest/reader-helpers.ts';

const corpus = corpusOrSkip();

/** [error code or null for a clean read, records delivered] as the corpus README's table says. */
const EXPECTED: Record<string, [string | null, number]> = {
  'malformed/gopacket__le_test901.pcapng': ['pcapng.bad-version', 1],
  'malformed/libpcap__linktype-reserved-field-not-zero.pcap': ['pcap.bad-linktype-field', 0],
  'malformed/libpcap__pcap-invalid-version-1.pcap': ['pcap.bad-version', 0],
  'malformed/libpcap__pcap-invalid-version-2.pcap': [null, 1],
  'malformed/libpcap__pcapng-invalid-vers-1.pcapng': ['pcapng.bad-version', 0],
  'malformed/libpcap__shb-option-too-long.pcapng': ['pcapng.bad-option', 0],
  'malformed/pcap-parser__err-eof.bin': ['format.unknown-magic', 0],
  'malformed/pcapng-test-generator__le_advanced_test102.cut-1000B.pcapng': ['pcapng.truncated-block', 1],
  'malformed/scapy__bad_rsn_parsing_overrides_ssid.pcap': ['pcap.truncated-record-header', 1],
  'malformed/synthetic__zero-length.pcap': ['format.empty', 0],
  'malformed/tcpdump__aoe-oobr-1.pcap': [null, 1],
  'malformed/tcpdump__heapoverflow-tcp_print.pcap': [null, 1],
  // Link-type field 0x30000084: FCS bits are decoded, not rejected (policy in test/diff/container.test.ts).
  'malformed/tcpdump__hoobr_juniper3.pcap': [null, 1],
  'malformed/tcpdump__icmp-icmp_print-oobr-2.pcap': [null, 3],
  'malformed/tcpdump__ipv6-bad-version.pcap': [null, 4],
  'malformed/tcpdump__pptp.cut-1000B.pcap': ['pcap.truncated-record', 8],
  'malformed/zeek__ip4-trunc.pcap': [null, 1],
  'malformed/zeek__ip6-ext-trunc.pcap': [null, 1],
  'malformed/zeek__linux_dlt_sll2.cut-20B.pcap': ['pcap.truncated-file-header', 0],
  'malformed/zeek__trunc-hdr.pcap': [null, 1],
  'malformed/zeek__udp-contents-truncated-oob.pcap': [null, 1],
  'not-pcap/pcapplusplus__solaris.snoop': ['format.unknown-magic', 0],
};

describe('corpus malformed/ and not-pcap/', { skip: corpus === null }, () => {
  test('each file: the expected error or clean read, records before a fault counted', async () => {
    const files = ['malformed', 'not-pcap'].flatMap((d) =>
      readdirSync(join(corpus!, d)).map((f) => `${d}/${f}`),
    );
    assert.deepEqual(files.sort(), Object.keys(EXPECTED).sort(), 'the table covers every file');
    for (const file of files) {
      const { sink, n } = counter();
      const t0 = performance.now();
      const res = await readCapture(join(corpus!, file), sink, { file });
      assert.ok(performance.now() - t0 < 2000, `${file} read in under 2 s`);
      const [code, records] = EXPECTED[file]!;
      assert.equal(res.error?.code ?? null, code, `${file}: ${res.error?.line()}`);
      assert.equal(n.packets, records, file);
      assert.equal(res.records, records, file);
      if (res.error !== null) {
        assert.equal(res.error.recordsBefore, records);
        assert.match(
          res.error.line(),
          new RegExp(
            `^${file.replace(/[.]/g, '\\.')}: byte \\d+: .+ \\(${code}\\); \\d+ packets? before it kept$`,
          ),
        );
      }
    }
  });
});

interface Outcome {
  records: string[];
  error: string | null;
}

function run(bytes: Uint8Array): Outcome {
  const { sink, got } = collector();
  const res = readCaptureBytes(bytes, sink, 'f');
  assert.equal(res.records, got.records.length);
  if (res.error !== null) assert.equal(res.error.recordsBefore, got.records.length);
  return {
    records: got.records.map((r) => `${r.fileOffset}:${r.caplen}:${r.data}`),
    error: res.error?.code ?? null,
  };
}

const small: [string, () => Uint8Array][] = [
  [
    'pcap BE with 3 records',
    () =>
      pcapFile(
        false,
        {},
        [1, 2, 3].map((i) => ({ sec: i, frac: i, data: frame(20 + i, i) })),
      ),
  ],
  [
    'pcapng with two sections',
    () =>
      concat(
        shb(true),
        idb(true),
        epb(true, 0, 1n, frame(21)),
        shb(false),
        idb(false),
        epb(false, 0, 2n, frame(30)),
      ),
  ],
];
if (corpus !== null) {
  for (const f of [
    'pcap-format/pcapplusplus__nanosecs.pcap',
    'pcapng/pcapng-test-generator__le_advanced_test102.pcapng',
    'pcapng/pcapng-test-generator__be_basic_test001.pcapng',
    'pcapng/scapy__macos.pcapng.gz',
  ]) {
    small.push([f, () => readFileSync(join(corpus, f))]);
  }
}

describe('truncation at every offset', () => {
  for (const [name, make] of small) {
    test(name, () => {
      const bytes = make();
      const full = run(bytes);
      assert.equal(full.error, null);
      for (let cut = 0; cut < bytes.length; cut++) {
        const got = run(bytes.subarray(0, cut));
        assert.ok(got.records.length <= full.records.length, `cut ${cut}`);
        assert.deepEqual(
          got.records,
          full.records.slice(0, got.records.length),
          `cut ${cut}: records are a prefix`,
        );
        // A cut exactly between two units is a shorter valid file; anywhere else it is an error.
        if (got.error === null) assert.ok(cut > 0, 'an empty file is an error');
      }
    });
  }
});

/** Each record needs at least 16 bytes of header: a bound that holds however the bytes are damaged. */
function maxRecords(bytes: Uint8Array): number {
  return Math.floor(bytes.length / 16);
}

describe('fast-check: mutated inputs', () => {
  const seeds = small.map(([, make]) => make()).filter((b) => b.length < 4096);
  const rssStart = process.memoryUsage().rss;

  test('random byte flips never throw or hang', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: seeds.length - 1 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        (which, flips) => {
          const bytes = seeds[which]!.slice();
          for (const [at, v] of flips) bytes[at % bytes.length] = v;
          const t0 = performance.now();
          const got = run(bytes);
          assert.ok(performance.now() - t0 < 1000, 'read in under 1 s');
          assert.ok(got.records.length <= maxRecords(bytes));
        },
      ),
      { numRuns: 300, seed: 42 },
    );
  });

  test('absurd 32-bit lengths anywhere never throw, hang or allocate', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: seeds.length - 1 }),
        fc.nat(),
        fc.oneof(
          fc.constant(0xffffffff),
          fc.constant(0xfffffffc),
          fc.integer({ min: 0x10000, max: 0xffffffff }),
        ),
        fc.boolean(),
        (which, at, v, le) => {
          const bytes = seeds[which]!.slice();
          const off = (at % Math.max(1, bytes.length - 3)) & ~3;
          new DataView(bytes.buffer).setUint32(off, v, le);
          const got = run(bytes);
          assert.ok(got.records.length <= maxRecords(bytes));
        },
      ),
      { numRuns: 300, seed: 7 },
    );
    assert.ok(process.memoryUsage().rss - rssStart < 256 * 1024 * 1024, 'memory stays bounded');
  });
});

describe('absurd declared lengths', () => {
  test('a pcapng block declaring 4 GB fails at once without allocating', () => {
    const bytes = concat(
      shb(true),
      idb(true),
      block(true, 6, (b) => b.raw(new Uint8Array(64)), 0xfffffffc),
    );
    const t0 = performance.now();
    const res = readCaptureBytes(bytes, counter().sink, 'big.pcapng');
    assert.ok(performance.now() - t0 < 100);
    assert.equal(
      res.error?.line(),
      'big.pcapng: byte 52: EPB block length 4294967292 is larger than the maximum 134348832 (pcapng.block-too-large); 0 packets before it kept',
    );
  });

  test('a block declaring 100 MB in a small file is a truncated file, read with bounded memory', async () => {
    const bytes = concat(
      shb(true),
      idb(true),
      block(true, 6, (b) => b.raw(new Uint8Array(64)), 100_000_000),
    );
    const before = process.memoryUsage().arrayBuffers;
    const res = readCaptureBytes(bytes, counter().sink, 'cut.pcapng');
    assert.ok(process.memoryUsage().arrayBuffers - before < 16 * 1024 * 1024);
    assert.equal(
      res.error?.line(),
      'cut.pcapng: byte 48: EPB of length 100000000 is cut short: 76 bytes left in the file (pcapng.truncated-block); 0 packets before it kept',
    );
  });

  test('a pcap incl_len past the per-link-type maximum is rejected before reading it', () => {
    const bytes = concat(
      pcapHeader(true, { link: 231 }),
      pcapRecord(true, { sec: 0, frac: 0, data: frame(4), incl: 200_000_000 }),
    );
    assert.equal(
      readCaptureBytes(bytes, counter().sink, 'dbus.pcap').error?.line(),
      'dbus.pcap: byte 24: record 1: incl_len 200000000 is larger than the maximum 134217728 for link type 231 (pcap.record-too-large); 0 packets before it kept',
    );
  });
});
