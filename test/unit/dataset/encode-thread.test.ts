/**
 * An encoder thread that fails must not leave its lane waiting: the decoder blocks in Atomics.wait
 * for a batch to come back (encode-thread.ts), where no 'message' or 'error' event can reach it.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { PacketColumns } from '../../../ingest/columns/packet-columns.ts';
import { EncodeThread } from '../../../ingest/dataset/encode-thread.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ht-encode-thread-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('a failed encoder makes the waiting decoder throw instead of hang', async () => {
  // no capture point entries: the row's point 0 cannot be encoded
  const thread = new EncodeThread({ dir: path.join(tmp, 'packets'), slots: 2 }, [], []);
  let b = new PacketColumns(16);
  let thrown: unknown = null;
  try {
    for (let i = 0; i < 50; i++) {
      b.length = 1;
      b = thread.send(b);
    }
  } catch (e) {
    thrown = e;
  }
  assert.match(String(thrown), /parquet encoder/);
  await thread.abort();
});
