/**
 * Moves a PacketColumns batch's memory to another thread and back without copying: the typed arrays'
 * buffers go in a postMessage transfer list, and the receiving side puts views over them into a
 * PacketColumns of its own. The batch objects themselves stay where they were made, so the decoders
 * keep seeing one object shape (a swapped array of the same type keeps V8's field type).
 *
 * The fields are found once from an instance (as gather-rows.ts does), so a column added to
 * PacketColumns travels without a change here; arrays shared under several names (the shared
 * validity arrays) travel once and come back shared.
 */
import { PacketColumns } from '../columns/packet-columns.ts';

type Lanes = Uint8Array | Uint16Array | Uint32Array | Float64Array;
type LanesConstructor = new (buffer: ArrayBuffer, byteOffset: number, length: number) => Lanes;

interface Field {
  name: string;
  make: LanesConstructor;
  /** index of its buffer in ColumnBuffers.buffers */
  buffer: number;
  /** elements per row */
  stride: number;
}

const PROBE_ROWS = 8;

function lanesConstructor(v: unknown): LanesConstructor | null {
  if (v instanceof Uint8Array) return Uint8Array;
  if (v instanceof Uint16Array) return Uint16Array;
  if (v instanceof Uint32Array) return Uint32Array;
  if (v instanceof Float64Array) return Float64Array;
  return null;
}

const fields: readonly Field[] = (() => {
  const probe = new PacketColumns(PROBE_ROWS);
  const buffers = new Map<ArrayBufferLike, number>();
  const out: Field[] = [];
  for (const [name, value] of Object.entries(probe)) {
    const make = lanesConstructor(value);
    if (!make) continue;
    const a = value as Lanes;
    let buffer = buffers.get(a.buffer);
    if (buffer === undefined) {
      buffer = buffers.size;
      buffers.set(a.buffer, buffer);
    }
    out.push({ name, make, buffer, stride: a.length / PROBE_ROWS });
  }
  return out;
})();

/** A batch's memory in transit: transfer `buffers` with the message. */
export interface ColumnBuffers {
  buffers: ArrayBuffer[];
  /** each field's byte offset in its buffer */
  offsets: number[];
  capacity: number;
  length: number;
}

/**
 * The buffers of `c`'s columns, to be listed as the transfer list of a postMessage; `c` is unusable
 * (its arrays detached) once they are sent, until `adoptBuffers` gives it memory again.
 */
export function columnBuffers(c: PacketColumns): ColumnBuffers {
  const view = c as unknown as Record<string, Lanes>;
  const buffers: ArrayBuffer[] = [];
  const offsets: number[] = [];
  for (const f of fields) {
    const a = view[f.name]!;
    offsets.push(a.byteOffset);
    if (f.buffer < buffers.length) continue;
    const b = a.buffer;
    if (b instanceof SharedArrayBuffer)
      throw new Error('column-transfer: shared buffers are not transferred');
    buffers.push(b);
  }
  return { buffers, offsets, capacity: c.capacity, length: c.length };
}

/**
 * Points `c`'s columns at the memory in `m` (views, no copy) and sets its capacity and length. The
 * fields are assigned through an index signature: they are `readonly` to the decoders, which must
 * never replace them, but this is how a batch's memory comes back from another thread.
 */
export function adoptBuffers(c: PacketColumns, m: ColumnBuffers): void {
  const view = c as unknown as Record<string, Lanes | number>;
  for (const [i, f] of fields.entries())
    view[f.name] = new f.make(m.buffers[f.buffer]!, m.offsets[i]!, f.stride * m.capacity);
  view['capacity'] = m.capacity;
  c.length = m.length;
}

/** An empty PacketColumns to adopt buffers into (its own arrays are tiny and dropped). */
export function emptyColumns(): PacketColumns {
  return new PacketColumns(1);
}
