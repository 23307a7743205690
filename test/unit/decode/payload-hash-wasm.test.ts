import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { type GeneratedCaptures, generateCaptures } from '../../../bench/generate-capture.ts';
import { PacketColumns } from '../../../ingest/columns/packet-columns.ts';
import { tsWorker } from '../../../ingest/dataset/ts-worker.ts';
import { hashPacket, PAYLOAD_HASH_BYTES } from '../../../ingest/decode/payload-hash.ts';
import {
  drainHashes,
  hashMemoryOffset,
  hashQueue,
  QUEUE_CAPACITY,
  queueHash,
  READ_SLOT_BYTES,
  returnReadBuffer,
  takeReadBuffer,
} from '../../../ingest/decode/payload-hash-wasm.ts';
import { PacketBatchSink } from '../../../ingest/packets-from-capture.ts';
import { readCapture, readCaptureBytes, readCaptureChunks } from '../../../ingest/read-capture.ts';

const queue = hashQueue();
const noWasm = queue === null ? 'no WebAssembly SIMD on this platform' : false;

/** Deterministic bytes: every value of every byte position appears. */
function fill(buf: Uint8Array, seed: number): void {
  let x = seed >>> 0 || 1;
  for (let i = 0; i < buf.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buf[i] = x & 0xff;
  }
}

interface Case {
  at: number;
  n: number;
  words: Uint32Array;
  nWords: number;
}

/** A case's six fingerprint words, as queueHash takes them (those past nWords must not count). */
function words6(w: Uint32Array): [number, number, number, number, number, number] {
  return [w[0] ?? 0, w[1] ?? 0, w[2] ?? 0, w[3] ?? 0, w[4] ?? 0, w[5] ?? 0];
}

/** The reference: `hashPacket` over the same bytes, one row per case. */
function reference(buf: Uint8Array, cases: Case[]): PacketColumns {
  const c = new PacketColumns(cases.length);
  const v = new DataView(buf.buffer, buf.byteOffset, buf.length);
  cases.forEach((k, row) => {
    hashPacket(v, k.at, k.n, c.payloadHash, k.words, k.nWords, c.fingerprint, 2 * row);
  });
  return c;
}

function queued(buf: Uint8Array, cases: Case[], rows = cases.length): PacketColumns {
  const q = queue!;
  const c = new PacketColumns(rows);
  const base = hashMemoryOffset(q, buf);
  cases.forEach((k, row) => {
    queueHash(q, c, base + k.at, k.n, k.nWords, row, ...words6(k.words));
  });
  drainHashes(q);
  return c;
}

function assertSame(got: PacketColumns, want: PacketColumns, what: string): void {
  for (let i = 0; i < want.payloadHash.length; i++) {
    assert.equal(got.payloadHash[i], want.payloadHash[i], `${what}: payload hash lane ${i}`);
    assert.equal(got.fingerprint[i], want.fingerprint[i], `${what}: fingerprint lane ${i}`);
  }
}

/** A sink whose one batch holds a whole test file (nothing handed on before `finish`). */
function oneBatchSink(pointFor: () => number = () => 0): PacketBatchSink {
  return new PacketBatchSink({ fileId: 0, pointFor, batchRows: 65536, onBatch: () => {} });
}

/** A sink that keeps every batch it hands on (finished: validity columns completed) in `into`. */
function keepingSink(into: PacketColumns[], rows: number): PacketBatchSink {
  return new PacketBatchSink({
    fileId: 0,
    pointFor: () => 0,
    batchRows: rows,
    onBatch: (b) => {
      into.push(b);
      return new PacketColumns(rows);
    },
  });
}

/** The bench's traffic mix, 3000 frames as pcap and pcapng, in a folder removed afterwards. */
async function withMix(fn: (g: GeneratedCaptures, dir: string) => void | Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'hoptrace-wasm-'));
  try {
    await fn(generateCaptures(join(dir, 'mix'), 3000), dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('four at a time, bit for bit hashPacket: every prefix length, word count and alignment', {
  skip: noWasm,
}, () => {
  const buf = takeReadBuffer(READ_SLOT_BYTES);
  try {
    assert.ok(hashMemoryOffset(queue!, buf) >= 0, 'the read buffer is in the queue memory');
    fill(buf, 0x9e3779b9);
    const cases: Case[] = [];
    let at = 1;
    for (let n = 0; n <= PAYLOAD_HASH_BYTES; n++) {
      for (let nWords = 0; nWords <= 6; nWords++) {
        // lengths and word counts differ between neighbouring lanes of a group of four
        const words = Uint32Array.from({ length: 8 }, (_, i) => Math.imul(n * 8 + i, 0x9e3779b1) >>> 0);
        cases.push({ at, n, words, nWords });
        at += 3 + ((n * 7 + nWords) % 61);
      }
    }
    assertSame(queued(buf, cases), reference(buf, cases), 'all cases');
    // and each case alone: a group of one packet and three padding lanes
    for (const k of cases.filter((_, i) => i % 37 === 0)) {
      assertSame(queued(buf, [k]), reference(buf, [k]), `n=${k.n} nWords=${k.nWords}`);
    }
  } finally {
    returnReadBuffer(buf);
  }
});

test('a full queue and a change of batch hash what was queued, into the batch it belongs to', {
  skip: noWasm,
}, () => {
  const buf = takeReadBuffer(READ_SLOT_BYTES);
  try {
    fill(buf, 7);
    const q = queue!;
    const base = hashMemoryOffset(q, buf);
    const count = QUEUE_CAPACITY + 100;
    const cases: Case[] = Array.from({ length: count }, (_, i) => ({
      at: (i * 97) % (READ_SLOT_BYTES - 100),
      n: i % (PAYLOAD_HASH_BYTES + 1),
      words: Uint32Array.of(i, i + 1, i + 2, i + 3, i + 4, i + 5, 0, 0),
      nWords: i % 7,
    }));
    const first = new PacketColumns(count);
    const second = new PacketColumns(count);
    // more than the queue holds go to `first`, then ten to `second`: the switch hashes `first`'s rest
    cases.forEach((k, row) => {
      queueHash(q, first, base + k.at, k.n, k.nWords, row, ...words6(k.words));
    });
    for (let row = 0; row < 10; row++) {
      const k = cases[row]!;
      queueHash(q, second, base + k.at, k.n, k.nWords, row, ...words6(k.words));
    }
    drainHashes(q);
    assertSame(first, reference(buf, cases), 'first batch');
    const want = reference(buf, cases.slice(0, 10));
    for (let i = 0; i < 20; i++) {
      assert.equal(second.payloadHash[i], want.payloadHash[i]);
      assert.equal(second.fingerprint[i], want.fingerprint[i]);
    }
    assert.equal(second.payloadHash[20], 0, 'no row past the ten queued');
  } finally {
    returnReadBuffer(buf);
  }
});

test('read buffers: from the pool while it lasts and up to its slot size, else ordinary memory', {
  skip: noWasm,
}, () => {
  const q = queue!;
  const taken: Uint8Array[] = [];
  try {
    for (;;) {
      const b = takeReadBuffer(1000);
      taken.push(b);
      if (hashMemoryOffset(q, b) < 0) break;
      assert.equal(b.length, 1000);
    }
    // the pool is empty now: the last one came from ordinary memory
    assert.equal(taken[taken.length - 1]!.length, 1000);
    const inPool = taken.filter((b) => hashMemoryOffset(q, b) >= 0);
    assert.equal(new Set(inPool.map((b) => b.byteOffset)).size, inPool.length, 'no slot handed out twice');
    assert.ok(inPool.length >= 2, 'a file read at a time gets its two buffers');
    assert.ok(hashMemoryOffset(q, takeReadBuffer(READ_SLOT_BYTES + 1)) < 0, 'too large for a slot');
  } finally {
    for (const b of taken) returnReadBuffer(b);
  }
  // every slot came back: as many can be taken again
  const again: Uint8Array[] = [];
  for (let i = 0; i < taken.length - 1; i++) again.push(takeReadBuffer(10));
  assert.ok(again.every((b) => hashMemoryOffset(q, b) >= 0));
  for (const b of again) returnReadBuffer(b);
});

test(
  'a sink that throws mid-chunk: the rows it had queued are hashed, nothing is left queued',
  {
    skip: noWasm,
  },
  () =>
    withMix(async (g) => {
      let batches = 0;
      let kept: PacketColumns | null = null;
      const sink = new PacketBatchSink({
        fileId: 0,
        pointFor: () => 0,
        batchRows: 1000,
        onBatch: (b) => {
          batches++;
          if (batches === 2) {
            kept = b;
            throw new Error('stop');
          }
        },
      });
      await assert.rejects(readCapture(g.pcap, sink), /stop/);
      assert.equal(queue!.n, 0, 'the queue was drained when the parser gave its chunk up');
      // the batch it stopped at had its hashes: the same as hashing those frames from memory
      const want: PacketColumns[] = [];
      const ref = keepingSink(want, 1000);
      readCaptureBytes(readFileSync(g.pcap), ref, g.pcap);
      ref.finish();
      const got = kept as PacketColumns | null;
      assert.ok(got);
      assertSame(got, want[1]!, 'second batch');
    }),
);

/** The rows of `bytes` decoded from memory into one batch: every frame hashed by `hashPacket`. */
function fromMemory(bytes: Uint8Array, file: string, pointFor: () => number = () => 0): PacketColumns {
  const ref = oneBatchSink(pointFor);
  try {
    readCaptureBytes(bytes, ref, file);
  } catch {
    // the same throwing sink as the read it is compared with: the rows before the throw
  }
  return ref.batch;
}

test(
  'a chunk scribbled over once the parser has it: every queued frame was hashed before',
  {
    skip: noWasm,
  },
  () =>
    withMix((g) => {
      const slot = takeReadBuffer(READ_SLOT_BYTES);
      try {
        assert.ok(hashMemoryOffset(queue!, slot) >= 0);
        for (const file of [g.pcap, g.pcapng]) {
          const bytes = readFileSync(file);
          // one read buffer for every chunk, as the reader's slots are reused, and garbage written over
          // it once the parser has had its chunk; one batch for the file, so no flush drains the queue
          function* chunks(): Generator<Uint8Array> {
            const size = 65536;
            for (let at = 0; at < bytes.length; at += size) {
              const n = Math.min(size, bytes.length - at);
              slot.set(bytes.subarray(at, at + n));
              yield slot.subarray(0, n);
              fill(slot, at + 1);
            }
          }
          const sink = oneBatchSink();
          const r = readCaptureChunks(chunks(), sink, file);
          assert.equal(r.error, null);
          assert.equal(sink.batch.length, g.packets);
          assertSame(sink.batch, fromMemory(bytes, file), file);
        }
      } finally {
        returnReadBuffer(slot);
      }
    }),
);

test(
  'a sink that throws from interface() with rows queued: they are hashed, nothing is left queued',
  {
    skip: noWasm,
  },
  () =>
    withMix(async (g, dir) => {
      // the pcapng with a second IDB after its packets: the sink's pointFor throws for it while the
      // last chunk's frames are queued (one batch for the file, so no flush drained them)
      const idb = new Uint8Array(20);
      const dv = new DataView(idb.buffer);
      dv.setUint32(0, 1, true);
      dv.setUint32(4, 20, true);
      dv.setUint16(8, 1, true);
      dv.setUint32(12, 65535, true);
      dv.setUint32(16, 20, true);
      const bytes = Buffer.concat([readFileSync(g.pcapng), idb]);
      const file = join(dir, 'two-idb.pcapng');
      writeFileSync(file, bytes);
      const throwing = () => {
        let calls = 0;
        return () => {
          if (++calls === 2) throw new Error('no point for it');
          return 0;
        };
      };
      const sink = oneBatchSink(throwing());
      await assert.rejects(readCapture(file, sink), /no point for it/);
      assert.equal(queue!.n, 0, 'the queue was drained when the parser gave its chunk up');
      assert.equal(sink.batch.length, g.packets);
      assertSame(sink.batch, fromMemory(bytes, file, throwing()), 'the rows before the throw');
    }),
);

test(
  'worker threads: each hashes in a memory of its own, bit for bit the main thread',
  {
    skip: noWasm,
  },
  () =>
    withMix(async (g) => {
      interface Result {
        queued: boolean;
        error: string | null;
        rows: number;
        payloadHash: Uint32Array;
        fingerprint: Uint32Array;
      }
      // two at once, while this thread reads the same files into its own memory
      const files = [g.pcap, g.pcapng];
      const inWorkers = files.map(
        (file) =>
          new Promise<Result>((resolve, reject) => {
            const w = tsWorker(new URL('./payload-hash-worker.ts', import.meta.url), { file });
            w.once('message', (m: Result) => {
              resolve(m);
              void w.terminate();
            });
            w.once('error', reject);
            // a worker that ends without a word must fail the test, not leave it waiting
            w.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
          }),
      );
      const here = await Promise.all(
        files.map(async (file) => {
          const sink = oneBatchSink();
          await readCapture(file, sink);
          return sink.batch;
        }),
      );
      const got = await Promise.all(inWorkers);
      for (const [i, file] of files.entries()) {
        const r = got[i]!;
        assert.ok(r.queued, `${file}: the worker has a queue of its own`);
        assert.equal(r.error, null);
        assert.equal(r.rows, g.packets);
        const want = fromMemory(readFileSync(file), file);
        assert.deepEqual(r.payloadHash, want.payloadHash, `${file}: payload hashes in the worker`);
        assert.deepEqual(r.fingerprint, want.fingerprint, `${file}: fingerprints in the worker`);
        assertSame(here[i]!, want, `${file}: read here at the same time`);
      }
    }),
);

test(
  'frames cut short by the snaplen: no hash where the payload prefix was not captured, as from memory',
  {
    skip: noWasm,
  },
  () =>
    withMix(async (g, dir) => {
      // the pcap again with every third record cut to 58 bytes (a TCP frame keeps 4 payload bytes)
      const src = readFileSync(g.pcap);
      const parts: Uint8Array[] = [src.subarray(0, 24)];
      for (let at = 24, i = 0; at < src.length; i++) {
        const len = src.readUInt32LE(at + 8);
        const cap = i % 3 === 0 ? Math.min(len, 58) : len;
        const hdr = Buffer.from(src.subarray(at, at + 16));
        hdr.writeUInt32LE(cap, 8);
        parts.push(hdr, src.subarray(at + 16, at + 16 + cap));
        at += 16 + len;
      }
      const bytes = Buffer.concat(parts);
      const file = join(dir, 'cut.pcap');
      writeFileSync(file, bytes);
      // the finished batch (its validity columns are completed when it is handed on)
      const batches: PacketColumns[] = [];
      const sink = keepingSink(batches, 65536);
      const r = await readCapture(file, sink);
      sink.finish();
      assert.equal(r.error, null);
      const ref = keepingSink(batches, 65536);
      readCaptureBytes(bytes, ref, file);
      ref.finish();
      const [got, want] = batches as [PacketColumns, PacketColumns];
      assert.equal(got.length, g.packets);
      assertSame(got, want, 'cut frames');
      assert.deepEqual(got.payloadHashValid, want.payloadHashValid);
      assert.deepEqual(got.fingerprintValid, want.fingerprintValid);
      let cut = 0;
      for (let row = 0; row < got.length; row++) {
        const whole = got.caplen[row] === got.wirelen[row];
        if (!whole && got.payloadLen[row]! > 4) {
          assert.equal(got.payloadHashValid[row], 0, `row ${row}: no hash of a payload not captured`);
          cut++;
        }
        if (whole && got.payloadLenValid[row] === 1)
          assert.equal(got.payloadHashValid[row], 1, `row ${row}: a whole frame has its hash`);
      }
      assert.ok(cut > g.packets / 10, `frames without a hash: ${cut}`);
    }),
);

test(
  'a damaged record mid-file: one error, and every frame before it hashed as from memory',
  {
    skip: noWasm,
  },
  () =>
    withMix(async (g, dir) => {
      // record 2000's length made absurd: the frames before it are spread over several chunks
      const bytes = Buffer.from(readFileSync(g.pcap));
      let at = 24;
      for (let i = 0; i < 2000; i++) at += 16 + bytes.readUInt32LE(at + 8);
      bytes.writeUInt32LE(0x7fffffff, at + 8);
      const file = join(dir, 'damaged.pcap');
      writeFileSync(file, bytes);
      const sink = oneBatchSink();
      const r = await readCapture(file, sink, { chunkSize: 65536 });
      const ref = oneBatchSink();
      const want = readCaptureBytes(bytes, ref, file);
      assert.ok(r.error !== null && want.error !== null);
      assert.equal(r.error.line(), want.error.line());
      assert.doesNotMatch(r.error.line(), /\n/);
      assert.equal(r.records, 2000);
      assert.equal(sink.batch.length, 2000);
      assertSame(sink.batch, ref.batch, 'the frames before the damage');
    }),
);
