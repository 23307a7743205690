/**
 * The decode -> Arrow trial in a process of its own, started the way bin/hoptrace.js starts (tsx's
 * ESM hooks only, see `arrowTrialArgs`): prints {rows, seconds, cpuSeconds} as JSON.
 *
 * Why not in the bench's own process: under `node --import tsx` (tsx's CommonJS hook too), loading a
 * CommonJS file from ESM (tslib, under apache-arrow) detaches an ArrayBuffer in the main thread
 * (`--trace-protector-invalidation` shows V8's ArrayBufferDetaching protector fall); V8 then adds a
 * detached-buffer check to every typed-array and DataView access it compiles afterwards,
 * process-wide (~15% of decode -> Arrow here). The CLI, which registers the ESM hooks only, keeps
 * the protector.
 */
import type { PacketColumns } from '../ingest/columns/packet-columns.ts';
import { packetsToArrow } from '../ingest/columns/to-arrow.ts';
import { PacketBatchSink } from '../ingest/packets-from-capture.ts';
import { readCapture } from '../ingest/read-capture.ts';
import { cliChildArgs } from './cli-child.ts';

/**
 * Reader + decoders + Arrow record batches, one core. A streaming consumer: each record batch is
 * counted and dropped, and the sink reuses its batch memory for the next one.
 */
export async function decodeToArrow(file: string): Promise<number> {
  let rows = 0;
  // one dictionary object for the file, as an ingest keeps it: its batches share the Arrow dictionaries
  const dicts = { points: ['file/bench'], files: [file] };
  const sink = new PacketBatchSink({
    fileId: 0,
    pointFor: () => 0,
    onBatch: (b: PacketColumns) => {
      rows += packetsToArrow(b, dicts).numRows;
    },
  });
  try {
    const result = await readCapture(file, sink);
    sink.finish();
    if (result.error) throw new Error(result.error.line());
  } finally {
    sink.dispose();
  }
  return rows;
}

/** Runs the trial on `capture` and prints {rows, seconds, cpuSeconds} as one JSON line. */
export async function printTrial(capture: string): Promise<void> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  const rows = await decodeToArrow(capture);
  const seconds = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpu);
  console.log(JSON.stringify({ rows, seconds, cpuSeconds: (used.user + used.system) / 1e6 }));
}

/** `node` arguments that run `printTrial(capture)` in a process started as the CLI starts (cli-child.ts). */
export function arrowTrialArgs(capture: string): string[] {
  return cliChildArgs(import.meta.url, 'await m.printTrial(args[0])', [capture]);
}
