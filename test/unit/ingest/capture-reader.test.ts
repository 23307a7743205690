import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { readCapture, readCaptureBytes, readCaptureChunks } from '../../../ingest/read-capture.ts';
import {
  block,
  concat,
  epb,
  frame,
  idb,
  isb,
  pb,
  pcapFile,
  pcapHeader,
  pcapRecord,
  shb,
  spb,
  str,
  u32opt,
  u64opt,
} from './capture-builder.ts';
import { collector, counter } from './reader-helpers.ts';

/** isb_starttime/endtime: upper then lower 32 bits, like the EPB timestamp (not one 64-bit integer). */
function tsopt(le: boolean, ts: bigint): Uint8Array {
  return concat(u32opt(le, Number(ts >> 32n)), u32opt(le, Number(ts & 0xffffffffn)));
}

const S = 1_000_000_000n;

function read(bytes: Uint8Array) {
  const { sink, got } = collector();
  const res = readCaptureBytes(bytes, sink, 'f.cap');
  return { res, got, line: res.error?.line() ?? null };
}

for (const le of [true, false]) {
  const order = le ? 'LE' : 'BE';
  describe(`pcap ${order}`, () => {
    test('microsecond, nanosecond and modified magics', () => {
      const data = frame(60);
      const cases = [
        {
          magic: 0xa1b2c3d4,
          frac: 123456,
          ns: 1_700_000_000n * S + 123_456_000n,
          format: 'pcap',
          res: '1e-6',
        },
        {
          magic: 0xa1b23c4d,
          frac: 123456789,
          ns: 1_700_000_000n * S + 123_456_789n,
          format: 'pcap',
          res: '1e-9',
        },
        { magic: 0xa1b2cd34, frac: 5, ns: 1_700_000_000n * S + 5000n, format: 'pcap-modified', res: '1e-6' },
      ];
      for (const c of cases) {
        const bytes = pcapFile(le, { magic: c.magic, link: 276, snaplen: 262144 }, [
          { sec: 1_700_000_000, frac: c.frac, data, orig: 1514 },
          { sec: 0xffffffff, frac: 0, data: frame(1) },
        ]);
        const { res, got } = read(bytes);
        assert.equal(res.error, null);
        assert.deepEqual(res.container, {
          format: c.format,
          compression: 'none',
          bigEndian: !le,
          versionMajor: 2,
          versionMinor: 4,
          sections: 1,
        });
        assert.equal(got.interfaces[0]!.tsResolution, c.res);
        assert.equal(got.interfaces[0]!.linkType, 276);
        assert.equal(got.records.length, 2);
        const [a, b] = got.records;
        assert.equal(a!.ns, c.ns);
        assert.equal(a!.caplen, 60);
        assert.equal(a!.wirelen, 1514);
        assert.equal(a!.data, Buffer.from(data).toString('hex'));
        assert.equal(a!.linkType, 276);
        assert.equal(a!.interfaceId, -1);
        assert.equal(a!.section, 0);
        assert.equal(a!.fileOffset, 24);
        // 2^32-1 s (year 2106) needs all 64 bits
        assert.equal(b!.ns, 4294967295n * S);
        assert.equal(b!.frame, 2);
      }
    });

    test('link-type field: FCS bits decoded, reserved bits rejected', () => {
      const ok = read(pcapFile(le, { link: 0x34000001 }, [{ sec: 1, frac: 0, data: frame(20) }]));
      assert.equal(ok.res.error, null);
      assert.equal(ok.got.interfaces[0]!.linkType, 1);
      assert.equal(ok.got.interfaces[0]!.fcsLen, 6);
      const bad = read(pcapFile(le, { link: 0x00300000 }, []));
      assert.equal(
        bad.line,
        'f.cap: byte 20: link-type field 0x00300000 has reserved bits 0x00300000 set (pcap.bad-linktype-field); 0 packets before it kept',
      );
    });

    test('incl_len > orig_len and > snaplen are kept as stored, with warnings', () => {
      const { res, got } = read(pcapFile(le, { snaplen: 4 }, [{ sec: 1, frac: 0, data: frame(8), orig: 6 }]));
      assert.equal(res.error, null);
      assert.equal(got.records[0]!.caplen, 8);
      assert.equal(got.records[0]!.wirelen, 6);
      assert.deepEqual(got.warnings, [
        '24 pcap.incl-gt-orig record 1: incl_len 8 > orig_len 6',
        '24 pcap.incl-gt-snaplen record 1: incl_len 8 > snaplen 4',
      ]);
    });

    test('out-of-range sub-second field carries into the seconds', () => {
      const { got } = read(
        pcapFile(le, { magic: 0xa1b23c4d }, [{ sec: 10, frac: 1_500_000_000, data: frame(4) }]),
      );
      assert.equal(got.records[0]!.ns, 11_500_000_000n);
      assert.match(got.warnings[0]!, /pcap\.fraction-out-of-range record 1: sub-second field 1500000000 ns/);
    });

    test('times of records in one second, across seconds and wrapping fractions, in any chunking', () => {
      // seconds repeat, change, go back, reach 2^32-1; fractions carry (ns) and wrap in 32 bits (us)
      const secs = [7, 7, 8, 7, 7, 0xffffffff, 0xffffffff, 0, 1_700_000_000];
      const fracs = [0, 999_999, 5, 4_294_967_295, 1_000_000, 4_294_968, 12, 999_999_999, 1];
      for (const magic of [0xa1b2c3d4, 0xa1b23c4d]) {
        const mult = magic === 0xa1b23c4d ? 1n : 1000n;
        const recs = secs.map((sec, i) => ({ sec, frac: fracs[i]!, data: frame(8) }));
        const want = recs.map((r) => BigInt(r.sec) * S + ((BigInt(r.frac) * mult) & 0xffffffffn));
        const bytes = pcapFile(le, { magic }, recs);
        for (const size of [bytes.length, 17, 1]) {
          const chunks: Uint8Array[] = [];
          for (let o = 0; o < bytes.length; o += size) chunks.push(bytes.subarray(o, o + size));
          const { sink, got } = collector();
          assert.equal(readCaptureChunks(chunks, sink, 'f.cap').error, null);
          assert.deepEqual(
            got.records.map((r) => r.ns),
            want,
            `magic ${magic.toString(16)}, chunks of ${size}`,
          );
        }
      }
    });

    const errors: [string, Uint8Array, string][] = [
      [
        'version 1.4',
        pcapFile(le, { major: 1 }, []),
        'byte 4: pcap version 1.4 is not supported (major must be 2) (pcap.bad-version); 0 packets',
      ],
      [
        'cut file header',
        pcapHeader(le).subarray(0, 20),
        'byte 0: file header needs 24 bytes, the file has 20 (pcap.truncated-file-header); 0 packets',
      ],
      [
        'cut record header',
        concat(pcapFile(le, {}, [{ sec: 1, frac: 0, data: frame(10) }]), new Uint8Array(5)),
        'byte 50: record 2: header needs 16 bytes, 5 left in the file (pcap.truncated-record-header); 1 packet',
      ],
      [
        'cut record data',
        pcapFile(le, {}, [
          { sec: 1, frac: 0, data: frame(10) },
          { sec: 1, frac: 0, data: frame(3), incl: 100 },
        ]),
        'byte 50: record 2: incl_len 100 but only 3 bytes left in the file (pcap.truncated-record); 1 packet',
      ],
      [
        'absurd incl_len',
        concat(pcapHeader(le), pcapRecord(le, { sec: 1, frac: 0, data: frame(0), incl: 0xfffffff0 })),
        'byte 24: record 1: incl_len 4294967280 is larger than the maximum 262144 for link type 1 (pcap.record-too-large); 0 packets',
      ],
    ];
    for (const [name, bytes, line] of errors) {
      test(`error: ${name}`, () => {
        assert.equal(read(bytes).line, `f.cap: ${line} before it kept`);
      });
    }
  });

  describe(`pcapng ${order}`, () => {
    const t0 = 1_340_954_905_298_858n; // us
    test('interfaces, resolutions, offsets, packet blocks and options', () => {
      const bytes = concat(
        shb(le, [[4, str('test app')]]),
        idb(le, 1, 96, [
          [2, str('eth0')],
          [3, str('uplink')],
          [11, concat(Uint8Array.of(0), str('tcp'))],
          [13, Uint8Array.of(4)],
        ]),
        idb(le, 113, 0, [
          [9, Uint8Array.of(9)],
          [14, u64opt(le, -10n)],
        ]),
        idb(le, 101, 0, [[9, Uint8Array.of(0x88)]]), // 2^-8
        idb(le, 1, 0, [[9, Uint8Array.of(12)]]), // ps: finer than ns
        block(le, 0xbad, (b) => b.u32(32473).raw(str('custom'))),
        epb(le, 0, t0, frame(40), [
          [2, u32opt(le, 1)],
          [3, Uint8Array.of(2, 1, 2, 3, 4)],
          [4, u64opt(le, 7n)],
          [5, u64opt(le, 0x1_0000_0002n)],
        ]),
        epb(le, 1, 1_700_000_000_123_456_789n, frame(41), [], 100),
        spb(le, frame(96), 300),
        pb(le, 0, 3, t0, frame(42), [[2, u32opt(le, 2)]]),
        epb(le, 2, (1_519_128_000n << 8n) + 50n, frame(43)),
        epb(le, 3, 12_345_678_901_234_567n, frame(44)), // ps since the epoch: 64 bits hold ~213 days
        block(le, 0x4242, (b) => b.u32(1)),
        isb(le, 0, t0, [
          [2, tsopt(le, t0)],
          [3, tsopt(le, t0 + 1n)],
          [4, u64opt(le, 100n)],
          [5, u64opt(le, 2n)],
          [7, u64opt(le, 3n)],
        ]),
      );
      const { res, got } = read(bytes);
      assert.equal(res.error, null);
      assert.equal(res.container?.format, 'pcapng');
      assert.equal(res.container?.bigEndian, !le);
      assert.deepEqual(
        got.interfaces.map((i) => [
          i.interfaceId,
          i.linkType,
          i.snaplen,
          i.tsResolution,
          i.name,
          i.description,
          i.filter,
          i.fcsLen,
          i.tsOffsetSec,
        ]),
        [
          [0, 1, 96, '1e-6', 'eth0', 'uplink', 'tcp', 4, 0],
          [1, 113, 0, '1e-9', null, null, null, -1, -10],
          [2, 101, 0, '2^-8', null, null, null, -1, 0],
          [3, 1, 0, '1e-12', null, null, null, -1, 0],
        ],
      );
      const r = got.records;
      assert.equal(r.length, 6, 'custom and unknown blocks are not packets');
      assert.deepEqual(
        r.map((x) => [
          x.frame,
          x.interfaceId,
          x.caplen,
          x.wirelen,
          x.ns,
          x.flags,
          x.dropCount,
          x.packetId,
          x.hashLen,
        ]),
        [
          [1, 0, 40, 40, t0 * 1000n, 1, 7, 0x1_0000_0002n, 5],
          [2, 1, 41, 100, 1_700_000_000_123_456_789n - 10n * S, -1, -1, null, 0],
          [3, 0, 96, 300, null, -1, -1, null, 0],
          [4, 0, 42, 42, t0 * 1000n, 2, 3, null, 0],
          [5, 2, 43, 43, 1_519_128_000n * S + 195_312_500n, -1, -1, null, 0],
          [6, 3, 44, 44, 12_345_678_901_234n, -1, -1, null, 0],
        ],
      );
      assert.deepEqual(got.warnings, [
        `${bytes.length - 88 - 16} pcapng.unknown-block skipped block type 0x00004242 of length 16`,
      ]);
      assert.equal(got.stats.length, 1);
      const st = got.stats[0]!;
      assert.deepEqual(
        [st.interfaceIndex, st.ifRecv, st.ifDrop, st.osDrop, st.filterAccept, st.startNs, st.endNs],
        [0, 100, 2, 3, null, String(t0 * 1000n), String((t0 + 1n) * 1000n)],
      );
    });

    test('sections in both byte orders; interface ids count per section', () => {
      const bytes = concat(
        shb(le),
        idb(le),
        epb(le, 0, 1n, frame(10)),
        shb(!le),
        idb(!le, 113),
        idb(!le, 1),
        epb(!le, 1, 2n, frame(11)),
      );
      const { res, got } = read(bytes);
      assert.equal(res.error, null);
      assert.equal(res.container?.sections, 2);
      assert.deepEqual(
        got.records.map((x) => [x.section, x.interfaceId, x.interfaceIndex, x.linkType, x.ns]),
        [
          [1, 0, 0, 1, 1000n],
          [2, 1, 2, 1, 2000n],
        ],
      );
    });

    const head = concat(shb(le), idb(le));
    const good = epb(le, 0, 1n, frame(4));
    const at = head.length + good.length; // offset of the faulty block
    const errors: [string, Uint8Array, string][] = [
      [
        'unknown section version, earlier section kept',
        concat(head, good, shb(le, [], 2, 0), idb(le)),
        `byte ${at + 12}: section 2: pcapng version 2.0 is not supported (1.0 expected) (pcapng.bad-version); 1 packet`,
      ],
      [
        'block length not a multiple of 4',
        concat(
          head,
          good,
          block(le, 6, (b) => b.raw(new Uint8Array(20)), 34),
          new Uint8Array(4),
        ),
        `byte ${at + 4}: EPB block length 34 is not a multiple of 4 (pcapng.bad-block-length); 1 packet`,
      ],
      [
        'block shorter than its type allows',
        concat(
          head,
          good,
          block(le, 6, (b) => b.raw(new Uint8Array(8))),
        ),
        `byte ${at + 4}: EPB block length 20 is less than the minimum 32 (pcapng.bad-block-length); 1 packet`,
      ],
      [
        '4 GB declared block',
        concat(
          head,
          good,
          block(le, 6, (b) => b.raw(new Uint8Array(20)), 0xfffffffc),
        ),
        `byte ${at + 4}: EPB block length 4294967292 is larger than the maximum 134348832 (pcapng.block-too-large); 1 packet`,
      ],
      [
        'trailer differs',
        (() => {
          const b = concat(head, good, epb(le, 0, 1n, frame(4)));
          new DataView(b.buffer).setUint32(b.length - 4, 40, le);
          return b;
        })(),
        `byte ${at + 32}: EPB trailer length 40 differs from its header length 36 (pcapng.bad-trailer-length); 1 packet`,
      ],
      [
        'option runs past the block',
        concat(
          head,
          good,
          block(le, 6, (b) => b.u32(0).u32(0).u32(0).u32(0).u32(0).u16(2).u16(200)),
        ),
        `byte ${at + 28}: option 2 of length 200 runs past the end of the block at byte ${at} (pcapng.bad-option); 1 packet`,
      ],
      [
        'captured length larger than the block',
        concat(
          head,
          good,
          block(le, 6, (b) => b.u32(0).u32(0).u32(0).u32(100).u32(100).u32(0)),
        ),
        `byte ${at + 20}: EPB captured length 100 does not fit in a block of length 36 (pcapng.bad-block-length); 1 packet`,
      ],
      [
        'undescribed interface',
        concat(head, good, epb(le, 5, 1n, frame(4))),
        `byte ${at + 8}: EPB names interface 5, but section 1 describes 1 (pcapng.unknown-interface); 1 packet`,
      ],
      [
        'block cut at end of file',
        concat(head, good, epb(le, 0, 1n, frame(40)).subarray(0, 50)),
        `byte ${at}: EPB of length 72 is cut short: 50 bytes left in the file (pcapng.truncated-block); 1 packet`,
      ],
      [
        'block header cut at end of file',
        concat(head, good, new Uint8Array(6)),
        `byte ${at}: block header needs 12 bytes, 6 left in the file (pcapng.truncated-block); 1 packet`,
      ],
      [
        'bad byte-order magic',
        (() => {
          const b = concat(head, good, shb(le));
          new DataView(b.buffer).setUint32(at + 8, 0x01020304, true);
          return b;
        })(),
        `byte ${at + 8}: section header byte-order magic bytes are 04 03 02 01, expected 4d 3c 2b 1a or 1a 2b 3c 4d (pcapng.bad-byte-order-magic); 1 packet`,
      ],
    ];
    for (const [name, bytes, line] of errors) {
      test(`error: ${name}`, () => {
        assert.equal(read(bytes).line, `f.cap: ${line} before it kept`);
      });
    }
  });
}

describe('format detection', () => {
  const cases: [string, Uint8Array, string][] = [
    ['empty', new Uint8Array(0), 'f.cap: byte 0: the file is empty (format.empty); 0 packets before it kept'],
    [
      'short',
      Uint8Array.of(0xd4, 0xc3),
      'f.cap: byte 0: file has 2 bytes, too short for a pcap or pcapng magic number (format.unknown-magic); 0 packets before it kept',
    ],
    [
      'snoop',
      str('snoop\0\0\0\0\0\0\x02'),
      'f.cap: byte 0: first bytes 73 6e 6f 6f are not a pcap or pcapng magic number (format.unknown-magic); 0 packets before it kept',
    ],
  ];
  for (const [name, bytes, line] of cases) {
    test(name, () => assert.equal(read(bytes).line, line));
  }

  test('gzip by magic, then the inner format; a cut stream keeps the records before it', () => {
    const inner = pcapFile(true, {}, [
      { sec: 1, frac: 0, data: frame(500, 1) },
      { sec: 2, frac: 0, data: frame(500, 2) },
    ]);
    const gz = gzipSync(inner);
    const ok = read(gz);
    assert.equal(ok.res.error, null);
    assert.equal(ok.res.container?.compression, 'gzip');
    assert.equal(ok.res.bytes, inner.length);
    assert.equal(ok.got.records.length, 2);
    const cut = read(gz.subarray(0, gz.length - 12));
    assert.equal(cut.res.error?.code, 'gzip.corrupt');
    assert.ok(cut.got.records.length <= 2);
    assert.equal(cut.res.error?.recordsBefore, cut.got.records.length);
    assert.equal(read(gzipSync(gzipSync(inner))).res.error?.code, 'format.unknown-magic');
  });

  test('readCapture reports a missing file, never throws', async () => {
    const { sink } = counter();
    const res = await readCapture('/nonexistent/x.pcap', sink);
    assert.equal(
      res.error?.line(),
      'hoptrace-missing: byte 0: no such file: /nonexistent/x.pcap (io.not-found); 0 packets before it kept'.replace(
        'hoptrace-missing',
        '/nonexistent/x.pcap',
      ),
    );
  });
});

describe('chunked push', () => {
  const files: [string, Uint8Array][] = [
    [
      'pcap BE',
      pcapFile(
        false,
        {},
        [1, 2, 3].map((i) => ({ sec: i, frac: i, data: frame(10 + i, i) })),
      ),
    ],
    [
      'pcap modified',
      pcapFile(
        true,
        { magic: 0xa1b2cd34 },
        [1, 2].map((i) => ({ sec: i, frac: i, data: frame(7 + i, i) })),
      ),
    ],
    [
      'pcapng',
      concat(
        shb(true),
        idb(true, 1, 0, [[2, str('a')]]),
        epb(true, 0, 5n, frame(13), [[2, u32opt(true, 2)]]),
        spb(true, frame(9)),
        shb(false),
        idb(false),
        epb(false, 0, 6n, frame(7)),
      ),
    ],
    [
      'pcapng cut',
      concat(shb(true), idb(true), epb(true, 0, 5n, frame(13)), epb(true, 0, 5n, frame(13)).subarray(0, 30)),
    ],
  ];
  for (const [name, bytes] of files) {
    test(`${name}: every split offset and 1-byte chunks give the whole-file result`, () => {
      const whole = read(bytes);
      const want = JSON.stringify([whole.got, whole.line], big);
      for (let cut = 0; cut <= bytes.length; cut++) {
        const { sink, got } = collector();
        const res = readCaptureChunks([bytes.subarray(0, cut), bytes.subarray(cut)], sink, 'f.cap');
        assert.equal(JSON.stringify([got, res.error?.line() ?? null], big), want, `split at ${cut}`);
      }
      const { sink, got } = collector();
      const chunks = Array.from(bytes, (_, i) => bytes.subarray(i, i + 1));
      const res = readCaptureChunks(chunks, sink, 'f.cap');
      assert.equal(JSON.stringify([got, res.error?.line() ?? null], big), want, '1-byte chunks');
    });
  }
});

test('the reused record object carries nothing from one packet to the next', () => {
  const le = true;
  const bytes = concat(
    shb(le),
    idb(le, 1),
    idb(le, 113, 0, [[9, Uint8Array.of(9)]]),
    epb(le, 0, 1n, frame(30), [
      [2, u32opt(le, 2)],
      [3, Uint8Array.of(2, 9, 9, 9, 9)],
      [4, u64opt(le, 5n)],
      [5, u64opt(le, 77n)],
    ]),
    // the same interface again: the EPB fast path keeps the interface, not the options
    epb(le, 0, 2n, frame(29)),
    epb(le, 1, 2n, frame(31)),
    spb(le, frame(20)),
  );
  const seen: unknown[] = [];
  let first: object | null = null;
  const { sink } = collector();
  sink.packet = (r) => {
    first ??= r;
    assert.equal(r, first, 'one record object');
    const x = r as typeof r & { packetIdLo: number; hashLen: number };
    seen.push([r.interfaceId, r.linkType, r.tsValid, r.flags, r.dropCount, x.packetIdLo, x.hashLen]);
  };
  readCaptureBytes(bytes, sink, 'f');
  assert.deepEqual(seen, [
    [0, 1, true, 2, 5, 77, 5],
    [0, 1, true, -1, -1, -1, 0],
    [1, 113, true, -1, -1, -1, 0],
    [0, 1, false, -1, -1, -1, 0],
  ]);
});

test('EPB, PB and SPB in turn on two interfaces: each record names its own interface', () => {
  const le = true;
  const bytes = concat(
    shb(le),
    idb(le, 1),
    idb(le, 113),
    epb(le, 1, 1n, frame(30)),
    // the slow path (SPB, PB) between EPBs: the next EPB must not keep the interface of the one before
    spb(le, frame(20)),
    epb(le, 1, 2n, frame(31)),
    pb(le, 0, 3, 3n, frame(32)),
    epb(le, 1, 4n, frame(33)),
    pb(le, 1, 4, 5n, frame(34)),
    epb(le, 0, 6n, frame(35)),
    // an EPB whose captured length is over its interface's maximum goes the slow way, with the error
    epb(le, 1, 7n, frame(300_000)),
  );
  const { sink, got } = collector();
  const res = readCaptureBytes(bytes, sink, 'f');
  assert.deepEqual(
    got.records.map((r) => [r.interfaceId, r.linkType, r.dropCount, r.caplen]),
    [
      [1, 113, -1, 30],
      [0, 1, -1, 20],
      [1, 113, -1, 31],
      [0, 1, 3, 32],
      [1, 113, -1, 33],
      [1, 113, 4, 34],
      [0, 1, -1, 35],
    ],
  );
  assert.equal(res.error?.code, 'pcapng.block-too-large');
});

function big(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v;
}
