/**
 * Container-level differential test against tshark 4.0 references (../shared/corpus, see its README):
 * record count and, per record, frame.len, frame.cap_len, frame.time_epoch (exact ns) and, for pcapng,
 * section, interface id (per section) and epb_flags.
 *
 * Policies where we differ from tshark on purpose (each is asserted, not skipped):
 * - Link types tshark cannot dissect: the container is valid, so every record is read.
 * - pcap link-type field: bits 16-25 (reserved) set -> rejected (as tshark); the FCS bits 26-31 are decoded
 *   and accepted, so tcpdump__hoobr_juniper3.pcap (0x30000084: link type 132 + FCS bits) reads its record;
 *   tshark refuses it only because it does not know link type 132.
 * - A sub-second field >= 1e9 (ns) or 1e6 (us) carries into the seconds: ns = sec * 1e9 + fraction in ns,
 *   the us field scaled in 32 bits as wiretap does (so tcpdump__atm-oam-loopback-print-overrun.pcap matches
 *   exactly). tshark prints such a fraction raw (`1418145370.1000000000`, even a negative time), so
 *   tcpdump__timestamp_invalid_nano.pcap is compared against the carried value of tshark's own numbers.
 * - Lengths are the record's as stored in the file. For link types whose fixed pseudo-header wiretap strips
 *   before dissection (SunATM 123: 4 bytes, ...), tshark's frame.len/cap_len are that much smaller.
 * - Not a capture by magic (Sun snoop, which tshark also reads) -> format.unknown-magic; empty -> format.empty.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readCapture, readCaptureBytes } from '../../ingest/read-capture.ts';
import { parseEpochNs } from '../../ingest/timestamp.ts';
import { collector, corpusOrSkip } from '../unit/ingest/reader-helpers.ts';

const corpus = corpusOrSkip();

/** Files tshark stops on (exit 2): the code we report, after the same leading records. */
const EXPECTED_ERROR: Record<string, string> = {
  'malformed/gopacket__le_test901.pcapng': 'pcapng.bad-version',
  'malformed/libpcap__linktype-reserved-field-not-zero.pcap': 'pcap.bad-linktype-field',
  'malformed/libpcap__pcap-invalid-version-1.pcap': 'pcap.bad-version',
  'malformed/libpcap__pcapng-invalid-vers-1.pcapng': 'pcapng.bad-version',
  'malformed/libpcap__shb-option-too-long.pcapng': 'pcapng.bad-option',
  'malformed/pcap-parser__err-eof.bin': 'format.unknown-magic',
  'malformed/pcapng-test-generator__le_advanced_test102.cut-1000B.pcapng': 'pcapng.truncated-block',
  'malformed/scapy__bad_rsn_parsing_overrides_ssid.pcap': 'pcap.truncated-record-header',
  'malformed/tcpdump__pptp.cut-1000B.pcap': 'pcap.truncated-record',
  'malformed/zeek__linux_dlt_sll2.cut-20B.pcap': 'pcap.truncated-file-header',
};
/** Files tshark reads (exit 0) that are not pcap/pcapng by content. */
const WE_REJECT: Record<string, string> = {
  'not-pcap/pcapplusplus__solaris.snoop': 'format.unknown-magic',
  'malformed/synthetic__zero-length.pcap': 'format.empty',
};
/** tshark refuses the link type; the container is valid: record count from SOURCES.md. */
const READ_FULLY: Record<string, number> = {
  'linktype-unsupported-by-tshark/tcpdump__brcm-tag.pcap': 23,
  'linktype-unsupported-by-tshark/tcpdump__dsa.pcap': 8,
  'linktype-unsupported-by-tshark/tcpdump__kday6.pcap': 1,
  'malformed/tcpdump__hoobr_juniper3.pcap': 1,
};
/** Fixed pseudo-header bytes wiretap strips from frame.len/cap_len, by link type. */
const PSEUDO_HEADER: Record<number, number> = {
  123: 4,
  139: 4,
  144: 16,
  177: 16,
  196: 5,
  201: 4,
  204: 1,
  209: 4,
};
const INVALID_FRACTION = 'pcap-format/tcpdump__timestamp_invalid_nano.pcap';

interface Status {
  file: string;
  exit: number;
  rows: number;
}

function statusRows(root: string): Status[] {
  const lines = readFileSync(join(root, 'reference/STATUS.tsv'), 'utf8').trimEnd().split('\n');
  return lines.slice(1).map((line) => {
    const [file, exit, rows] = line.split('\t');
    return { file: file!, exit: Number(exit), rows: Number(rows) };
  });
}

/** Our policy value for tshark's raw print of an invalid fraction: seconds * 1e9 + raw fraction. */
function carriedNs(text: string): bigint {
  const m = /^-?(\d+)\.(\d+)$/.exec(text);
  if (!m) throw new Error(`bad time ${text}`);
  return BigInt(m[1]!) * 1_000_000_000n + BigInt(m[2]!);
}

test('container fields agree with tshark on every corpus file', { skip: corpus === null }, async () => {
  const root = corpus!;
  const totals = { files: 0, records: 0, fields: 0, agree: 0, wrapped: 0 };
  const failures: string[] = [];
  for (const st of statusRows(root)) {
    totals.files++;
    const path = join(root, st.file);
    const { sink, got } = collector();
    const res = await readCapture(path, sink, { file: st.file, chunkSize: 64 * 1024 });
    // The in-memory path must give the same records and the same error line.
    const mem = collector();
    const memRes = readCaptureBytes(readFileSync(path), mem.sink, st.file);
    if (
      JSON.stringify(mem.got.records, big) !== JSON.stringify(got.records, big) ||
      memRes.error?.line() !== res.error?.line()
    ) {
      failures.push(`${st.file}: readCaptureBytes differs from readCapture`);
    }
    const note = (ok: boolean, what: string) => {
      totals.fields++;
      if (ok) totals.agree++;
      else if (failures.length < 50) failures.push(`${st.file}: ${what}`);
    };
    const rejectCode = WE_REJECT[st.file];
    if (rejectCode !== undefined) {
      note(
        res.error?.code === rejectCode && got.records.length === 0,
        `expected ${rejectCode}, got ${res.error?.line()}`,
      );
      continue;
    }
    const fully = READ_FULLY[st.file];
    if (fully !== undefined) {
      note(
        res.error === null && got.records.length === fully,
        `expected ${fully} records and no error, got ${got.records.length} / ${res.error?.line()}`,
      );
      totals.records += got.records.length;
      continue;
    }
    const text = readFileSync(join(root, 'reference', `${st.file}.tsv`), 'utf8');
    const pcapng = res.container?.format === 'pcapng';
    let rows =
      text === ''
        ? []
        : text
            .trimEnd()
            .split('\n')
            .slice(1)
            .map((l) => l.split('\t'));
    // tshark 4.0 prints a row per pcapng Custom Block: no interface id, not a packet.
    if (pcapng) rows = rows.filter((r) => r[2] !== '');
    const code = EXPECTED_ERROR[st.file];
    if (st.exit !== 0) {
      note(
        code !== undefined && res.error?.code === code,
        `expected error ${code}, got ${res.error?.line() ?? 'none'}`,
      );
      note(
        res.error?.recordsBefore === rows.length,
        `recordsBefore ${res.error?.recordsBefore} != ${rows.length}`,
      );
    } else {
      note(res.error === null, `unexpected error ${res.error?.line()}`);
    }
    note(got.records.length === rows.length, `record count ${got.records.length} != tshark ${rows.length}`);
    const n = Math.min(rows.length, got.records.length);
    totals.records += n;
    for (let i = 0; i < n; i++) {
      const r = rows[i]!;
      const g = got.records[i]!;
      const where = `frame ${i + 1}`;
      const strip = PSEUDO_HEADER[g.linkType] ?? 0;
      note(String(g.wirelen - strip) === r[4], `${where}: frame.len ${g.wirelen} - ${strip} != ${r[4]}`);
      note(String(g.caplen - strip) === r[5], `${where}: frame.cap_len ${g.caplen} - ${strip} != ${r[5]}`);
      const want = st.file === INVALID_FRACTION ? carriedNs(r[3]!) : parseEpochNs(r[3]!);
      // ns past 2^63 (pcapng 64-bit unit counts, e.g. pcapplusplus__pcapng-example frames 60+) do not fit the
      // signed 64-bit ts_ns column: we keep them modulo 2^64 and compare the same way.
      const wrapped = want === null ? null : BigInt.asIntN(64, want);
      if (wrapped !== want) totals.wrapped++;
      note(g.ns === wrapped, `${where}: time ${g.ns} != ${want} (${r[3]})`);
      if (pcapng) {
        note(String(g.section) === r[1], `${where}: section ${g.section} != ${r[1]}`);
        note(String(g.interfaceId) === r[2], `${where}: interface ${g.interfaceId} != ${r[2]}`);
        const flags = g.flags === -1 ? '' : `0x${g.flags.toString(16).padStart(8, '0')}`;
        note(flags === r[6], `${where}: packet_flags ${flags} != ${r[6]}`);
      } else {
        note(r[1] === '' && r[2] === '', `${where}: pcap row has section/interface`);
      }
    }
  }
  const pct = totals.fields === 0 ? 0 : (100 * totals.agree) / totals.fields;
  console.log(
    `container diff: ${totals.files} files, ${totals.records} records, ${totals.fields} fields compared, ${totals.agree} agree (${pct.toFixed(3)}%); ${totals.wrapped} times past 2^63 ns compared modulo 2^64`,
  );
  assert.deepEqual(failures, []);
  assert.equal(totals.agree, totals.fields);
});

function big(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v;
}
