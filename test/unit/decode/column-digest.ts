/**
 * A digest of every column a decode wrote: one 32-bit hash per PacketColumns typed array (values and
 * validity alike, by field name, so aliased validity arrays are checked under each name), plus the
 * decode_error text per row. Used to prove that a change to the decoders or the sink (a performance
 * change, typically) leaves every decoded value as it was.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PacketColumns } from '../../../ingest/columns/packet-columns.ts';
import { PacketBatchSink } from '../../../ingest/packets-from-capture.ts';
import { readCapture, readCaptureBytes } from '../../../ingest/read-capture.ts';

type Column = Uint8Array | Uint16Array | Uint32Array | Float64Array;

/** The typed-array fields of a PacketColumns, by name, in a stable order. */
function columnsOf(c: PacketColumns): [string, Column][] {
  const out: [string, Column][] = [];
  for (const [name, value] of Object.entries(c)) {
    if (ArrayBuffer.isView(value)) out.push([name, value as Column]);
  }
  return out.sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

export class ColumnDigest {
  readonly hashes = new Map<string, number>();
  rows = 0;

  /** Fold rows [0, c.length) of a batch in; batches must come in order. */
  add(c: PacketColumns): void {
    const n = c.length;
    for (const [name, col] of columnsOf(c)) {
      const width = col.length / c.capacity;
      let h = this.hashes.get(name) ?? 0x811c9dc5;
      for (let i = 0; i < n * width; i++) {
        // Float64 file offsets are exact integers below 2^53: fold both 32-bit halves
        const v = col[i] ?? 0;
        h = Math.imul(h ^ (v >>> 0), 0x01000193);
        h = Math.imul(h ^ Math.floor(v / 2 ** 32), 0x01000193);
      }
      this.hashes.set(name, h >>> 0);
    }
    let e = this.hashes.get('decode_error_text') ?? 0x811c9dc5;
    for (let r = 0; r < n; r++) {
      const text = c.errors[c.decodeError[r] ?? 0] ?? '?';
      for (let i = 0; i < text.length; i++) e = Math.imul(e ^ text.charCodeAt(i), 0x01000193);
      e = Math.imul(e ^ 0x0a, 0x01000193);
    }
    this.hashes.set('decode_error_text', e >>> 0);
    this.rows += n;
  }

  toJSON(): Record<string, string> {
    const out: Record<string, string> = { rows: String(this.rows) };
    for (const [k, v] of [...this.hashes].sort((a, b) => (a[0] < b[0] ? -1 : 1)))
      out[k] = v.toString(16).padStart(8, '0');
    return out;
  }
}

function digestSink(digest: ColumnDigest, fileId: number, batchRows: number): PacketBatchSink {
  return new PacketBatchSink({
    fileId,
    pointFor: (info) => info.interfaceIndex,
    onBatch: (b) => {
      digest.add(b);
    },
    batchRows,
  });
}

/**
 * Decode the capture files (any format the reader knows) in order, small batches, into one digest,
 * from bytes in memory: every frame hashed by `hashPacket`.
 */
export function digestFiles(files: readonly string[], batchRows = 4096): ColumnDigest {
  const digest = new ColumnDigest();
  for (const [fileId, file] of files.entries()) {
    const sink = digestSink(digest, fileId, batchRows);
    // a faulty file keeps the records before its fault: those are digested too
    readCaptureBytes(readFileSync(file), sink, file);
    sink.finish();
  }
  return digest;
}

/**
 * `digestFiles` read from disk as an ingest reads (`readCapture`): plain files land in the payload
 * hash's memory, where the common stack's frames are queued and hashed four at a time.
 */
export async function digestFilesRead(
  files: readonly string[],
  batchRows = 4096,
  chunkSize?: number,
): Promise<ColumnDigest> {
  const digest = new ColumnDigest();
  for (const [fileId, file] of files.entries()) {
    const sink = digestSink(digest, fileId, batchRows);
    await readCapture(file, sink, { file, chunkSize });
    sink.finish();
  }
  return digest;
}

/** Every capture of the corpus that has a tshark reference (the files the differential tests read). */
export function corpusFiles(root: string): string[] {
  const lines = readFileSync(join(root, 'reference/STATUS.tsv'), 'utf8').trimEnd().split('\n');
  return lines.slice(1).map((line) => join(root, line.split('\t')[0]!));
}
