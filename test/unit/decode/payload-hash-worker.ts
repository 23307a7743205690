/**
 * Worker side of payload-hash-wasm.test.ts: reads one capture as an ingest worker does (its own
 * thread, so its own WebAssembly memory and queue) and posts the payload hash and fingerprint columns.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { hashQueue } from '../../../ingest/decode/payload-hash-wasm.ts';
import { PacketBatchSink } from '../../../ingest/packets-from-capture.ts';
import { readCapture } from '../../../ingest/read-capture.ts';

const { file } = workerData as { file: string };
const sink = new PacketBatchSink({ fileId: 0, pointFor: () => 0, batchRows: 65536, onBatch: () => {} });
const r = await readCapture(file, sink);
const c = sink.batch;
parentPort!.postMessage({
  queued: hashQueue() !== null,
  error: r.error?.line() ?? null,
  rows: c.length,
  payloadHash: c.payloadHash,
  fingerprint: c.fingerprint,
});
