/**
 * Every decoded column, digested, against the digest recorded in golden-columns.json: on the bench's
 * traffic mix (generated, pcap and pcapng) and on the whole corpus when it is present. Performance work
 * on the reader, the sink or the decoders must leave this unchanged; a change that means to alter
 * decoded values (a new field, a different hash) regenerates the file with UPDATE_GOLDEN=1 and says
 * so in its commit. A failure names the columns that changed.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { generateCaptures } from '../../../bench/generate-capture.ts';
import { corpusOrSkip } from '../ingest/reader-helpers.ts';
import { corpusFiles, digestFiles, digestFilesRead } from './column-digest.ts';

const goldenPath = fileURLToPath(new URL('./golden-columns.json', import.meta.url));
const update = process.env['UPDATE_GOLDEN'] === '1';
const corpus = corpusOrSkip();

type Golden = Record<string, Record<string, string>>;

function golden(): Golden {
  return JSON.parse(readFileSync(goldenPath, 'utf8')) as Golden;
}

function check(name: string, digest: Record<string, string>): void {
  if (update) {
    const all = golden();
    all[name] = digest;
    writeFileSync(goldenPath, `${JSON.stringify(all, null, 2)}\n`);
    return;
  }
  const want = golden()[name];
  assert.ok(want, `no golden digest for ${name}: run with UPDATE_GOLDEN=1`);
  const changed = Object.keys({ ...want, ...digest }).filter((k) => want[k] !== digest[k]);
  assert.deepEqual(changed, [], `${name}: decoded columns changed: ${changed.join(', ')}`);
}

test('bench traffic mix: every decoded column as recorded', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hoptrace-golden-'));
  try {
    const g = generateCaptures(join(dir, 'mix'), 20_000);
    check('bench-mix-20000', digestFiles([g.pcap, g.pcapng]).toJSON());
    // from disk, the frames queued and hashed four at a time in WebAssembly: the same columns; 64 KiB
    // chunks so that many frames straddle a chunk (hashed one by one, from the reader's carry-over)
    if (!update) {
      check('bench-mix-20000', (await digestFilesRead([g.pcap, g.pcapng])).toJSON());
      check('bench-mix-20000', (await digestFilesRead([g.pcap, g.pcapng], 4096, 65536)).toJSON());
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('corpus: every decoded column as recorded', { skip: corpus === null }, async () => {
  check('corpus', digestFiles(corpusFiles(corpus!)).toJSON());
  if (!update) check('corpus', (await digestFilesRead(corpusFiles(corpus!))).toJSON());
});
