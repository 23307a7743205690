/**
 * `hoptrace ingest` and `hoptrace sql` end to end: corpus captures into a dataset, the packets view's
 * text columns against tshark's own output, the captures table against the files, and the read-only
 * guarantees of `hoptrace sql` against the attacks a hostile query would try.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ingestToDataset } from '../../ingest/dataset/write-dataset.ts';
import { pcapFile } from '../unit/ingest/capture-builder.ts';
import { corpusOrSkip } from '../unit/ingest/reader-helpers.ts';

const corpus = corpusOrSkip();
const bin = path.resolve('bin/hoptrace.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ht-ingest-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function hoptrace(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function sqlJson(dataset: string, query: string): Record<string, unknown>[] {
  const r = hoptrace('sql', dataset, query, '--format', 'json');
  assert.equal(r.code, 0, r.stderr);
  return r.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Plain Ethernet/IP captures tshark reads without error. */
const FILES = [
  'ipv4/zeek__fragmented-1.pcap',
  'ipv6/libpcap__ipv6_ext_headers.pcap',
  'ipv6/zeek__icmp6-toobig.pcap',
  'vlan-l2/zeek__vlan-qinqinq.pcap',
  'tcp/zeek__options.pcap',
].filter((f) => corpus && fs.existsSync(path.join(corpus, f)));

describe('ingest corpus files and compare the packets view with tshark', { skip: corpus === null }, () => {
  const dataset = path.join(tmp, 'corpus-ds');
  before(async () => {
    const summary = await ingestToDataset(
      FILES.map((f) => path.join(corpus!, f)),
      { outDir: dataset, memoryLimit: '256MB', threads: 1 },
    );
    assert.equal(summary.faults.length, 0);
  });

  test('at least four reference files are present', () => assert.ok(FILES.length >= 4, FILES.join(',')));

  for (const file of FILES) {
    test(`${file}: rows, addresses, MACs and VLANs as tshark prints them`, () => {
      const tsv = fs
        .readFileSync(path.join(corpus!, 'reference', `${file}.tsv`), 'utf8')
        .trimEnd()
        .split('\n');
      const header = tsv[0]!.split('\t');
      const col = (row: string[], name: string) => (row[header.indexOf(name)] ?? '').split(',')[0] ?? '';
      const ref = tsv.slice(1).map((l) => l.split('\t'));
      const name = path.basename(file);
      const rows = sqlJson(
        dataset,
        `SELECT frame, src_ip, dst_ip, src_mac, dst_mac, vlan_ids FROM packets WHERE file LIKE '%' || '${name}' ORDER BY frame`,
      );
      assert.equal(rows.length, ref.length, 'row count');
      let compared = 0;
      for (const [i, r] of ref.entries()) {
        const got = rows[i]!;
        const v4 = col(r, 'ip.src');
        const v6 = col(r, 'ipv6.src');
        // a row with both (tunnels) has no stated order between the two fields: skip its addresses
        if ((v4 === '') !== (v6 === '')) {
          assert.equal(got['src_ip'], v4 || v6, `frame ${i + 1} src_ip`);
          assert.equal(got['dst_ip'], col(r, 'ip.dst') || col(r, 'ipv6.dst'), `frame ${i + 1} dst_ip`);
          compared += 2;
        }
        if (col(r, 'eth.src') !== '') {
          assert.equal(got['src_mac'], col(r, 'eth.src'), `frame ${i + 1} src_mac`);
          assert.equal(got['dst_mac'], col(r, 'eth.dst'), `frame ${i + 1} dst_mac`);
          compared += 2;
        }
        const vlans = (r[header.indexOf('vlan.id')] ?? '')
          .split(',')
          .filter((v) => v !== '')
          .map(Number);
        assert.deepEqual(got['vlan_ids'] ?? [], vlans.slice(0, 4), `frame ${i + 1} vlan_ids`);
      }
      assert.ok(compared > 0, 'compared some addresses');
    });
  }

  test('captures table: one row per file with its packet count and time window', () => {
    const caps = sqlJson(
      dataset,
      'SELECT file, packets, start_ns, end_ns, sha256 FROM captures ORDER BY file',
    );
    assert.equal(caps.length, FILES.length);
    for (const c of caps) {
      const got = sqlJson(
        dataset,
        `SELECT count(*) AS n, min(ts_ns) AS a, max(ts_ns) AS b FROM packets WHERE file = '${String(c['file']).replaceAll("'", "''")}'`,
      )[0]!;
      assert.equal(c['packets'], got['n']);
      assert.equal(String(c['start_ns']), String(got['a']));
      assert.match(String(c['sha256']), /^[0-9a-f]{64}$/);
    }
  });
});

describe('hoptrace sql is read-only', () => {
  const dataset = path.join(tmp, 'small-ds');
  const capture = path.join(tmp, 'tiny.pcap');
  let listing = '';
  const snapshot = () =>
    fs
      .readdirSync(dataset, { recursive: true })
      .map((f) => `${f}:${fs.statSync(path.join(dataset, String(f))).size}`)
      .sort()
      .join('\n');

  before(async () => {
    // one Ethernet/IPv4/UDP frame, built by hand
    const frame = Buffer.from(
      '02000000000102000000000208004500001c00010000401100000a0000010a0000023000003500080000',
      'hex',
    );
    fs.writeFileSync(capture, pcapFile(true, {}, [{ sec: 1_700_000_000, frac: 5, data: frame }]));
    const r = hoptrace('ingest', capture, '-o', dataset);
    assert.equal(r.code, 0, r.stderr);
    listing = snapshot();
  });

  test('a SELECT works and sees the frame', () => {
    const rows = sqlJson(dataset, 'SELECT src_ip, dst_ip, dst_port, ts_ns FROM packets');
    assert.deepEqual(rows, [
      { src_ip: '10.0.0.1', dst_ip: '10.0.0.2', dst_port: 53, ts_ns: '1700000000000005000' },
    ]);
  });

  const attacks = [
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_text('/etc/hostname')",
    "COPY (SELECT 1) TO '/tmp/ht-sql-escape.csv'",
    "ATTACH '/tmp/ht-sql-escape.db' AS x",
    'INSTALL httpfs',
    'LOAD httpfs',
    'SET enable_external_access = true',
    "SET allowed_directories = ['/']",
    'DROP VIEW packets',
    'CREATE TABLE x AS SELECT 1',
    'CREATE OR REPLACE VIEW packets AS SELECT 1 AS x',
    "SELECT 1; COPY (SELECT 1) TO '/tmp/ht-sql-escape2.csv'",
    'CALL pragma_version(); PRAGMA enable_profiling',
  ];
  for (const attack of attacks) {
    test(`refused: ${attack}`, () => {
      const r = hoptrace('sql', dataset, attack);
      assert.equal(r.code, 2, `exit code; stdout=${r.stdout}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /^hoptrace: SQL: /);
      assert.ok(!fs.existsSync('/tmp/ht-sql-escape.csv') && !fs.existsSync('/tmp/ht-sql-escape.db'));
      assert.ok(!fs.existsSync('/tmp/ht-sql-escape2.csv'));
      assert.equal(snapshot(), listing, 'dataset unchanged');
    });
  }

  test('a missing dataset is one line and exit 2', () => {
    const r = hoptrace('sql', path.join(tmp, 'nope'), 'SELECT 1');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^hoptrace: .*nope: no such dataset folder\n$/);
  });
});

describe('ingest of damaged input', () => {
  test('a capture cut mid-record: exit 2, one line with the offset, the records before it kept', () => {
    const good = path.join(tmp, 'two.pcap');
    const frame = new Uint8Array(60);
    const whole = pcapFile(true, {}, [
      { sec: 0, frac: 0, data: frame },
      { sec: 0, frac: 0, data: frame },
    ]);
    // the second record's data is cut after 20 of its 60 bytes
    fs.writeFileSync(good, whole.subarray(0, whole.length - 40));
    const out = path.join(tmp, 'cut-ds');
    const r = hoptrace('ingest', good, '-o', out);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /two\.pcap: byte 100: .*\(pcap\.truncated-record\); 1 packet before it kept\n$/);
    const rows = sqlJson(out, 'SELECT count(*) AS n FROM packets');
    assert.deepEqual(rows, [{ n: 1 }]);
    const k = hoptrace('ingest', good, '-o', out, '--keep-going');
    assert.equal(k.code, 0, k.stderr);
  });

  test('a file that does not exist: exit 2, one line naming it', () => {
    const r = hoptrace('ingest', path.join(tmp, 'missing.pcap'), '-o', path.join(tmp, 'x-ds'));
    assert.equal(r.code, 2);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /missing\.pcap/);
  });
});
