import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { captureInfo, formatInfo, infoJson } from '../../../ingest/capture-info.ts';
import { InputError } from '../../../ingest/errors.ts';
import { concat, epb, frame, idb, isb, pcapFile, shb, str, u64opt } from './capture-builder.ts';

const dir = mkdtempSync(join(tmpdir(), 'hoptrace-info-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('info: pcapng with names, drops and a time span', async () => {
  const path = join(dir, 'a.pcapng.gz');
  const t = 1_600_000_000_000_000n; // us
  writeFileSync(
    path,
    gzipSync(
      concat(
        shb(true),
        idb(true, 276, 262144, [[2, str('any')]]),
        epb(true, 0, t, frame(60)),
        epb(true, 0, t + 1_500_000n, frame(70)),
        isb(true, 0, t + 2_000_000n, [
          [5, u64opt(true, 4n)],
          [7, u64opt(true, 1n)],
        ]),
      ),
    ),
  );
  const info = await captureInfo(path, 'a.pcapng.gz');
  assert.equal(info.packets, 2);
  assert.equal(info.dataBytes, 130);
  assert.deepEqual(info.drops, { ifDrop: 4, osDrop: 1 });
  assert.equal(
    formatInfo(info),
    [
      'File:                  a.pcapng.gz',
      'Format:                pcapng 1.0, little-endian',
      'Compression:           gzip',
      'Sections:              1',
      'Interfaces:            1',
      '  #0 any (section 1, id 0): link type 276 (LINUX_SLL2), snaplen 262144, ts resolution 1e-6, 2 packets',
      'Packets:               2',
      'Data bytes:            130',
      'First packet:          2020-09-13T12:26:40.000000000Z',
      'Last packet:           2020-09-13T12:26:41.500000000Z',
      'Duration:              1.500000000 s',
      'Dropped (ISB if_drop): 4',
      'Dropped (ISB os_drop): 1',
      '',
    ].join('\n'),
  );
  const json = infoJson(info) as { durationNs: string; first: string };
  assert.equal(json.durationNs, '1500000000');
  assert.equal(json.first, '2020-09-13T12:26:40.000000000Z');
});

test('info: a bad file throws its InputError', async () => {
  const path = join(dir, 'cut.pcap');
  writeFileSync(path, pcapFile(true, {}, [{ sec: 1, frac: 0, data: frame(10) }]).subarray(0, 45));
  await assert.rejects(captureInfo(path, 'cut.pcap'), (err: unknown) => {
    assert.ok(err instanceof InputError);
    assert.equal(
      err.line(),
      'cut.pcap: byte 24: record 1: incl_len 10 but only 5 bytes left in the file (pcap.truncated-record); 0 packets before it kept',
    );
    return true;
  });
});
