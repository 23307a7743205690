/**
 * PacketColumns batches whose typed arrays are views over one SharedArrayBuffer, so that a decoding
 * thread and an encoding thread (encode-thread.ts) both see a batch without copying or transferring
 * it. Each side builds its own PacketColumns over the memory once and keeps it: nothing is allocated
 * per batch, so no ArrayBuffer churn for the garbage collector (transferring ~60 buffers a batch each
 * way made V8 collect on both threads: ~1 CPU-s of GC helper threads per 10 M packets), and the
 * decoders' caches keyed by the batch instance stay warm.
 *
 * The fields are found once from an instance, so a column added to PacketColumns is carried along
 * without a change here; arrays shared under several names (the shared validity arrays) stay shared.
 */
import { clear, PacketColumns } from './packet-columns.ts';

type Lanes = Uint8Array | Uint16Array | Uint32Array | Float64Array;
type LanesConstructor = new (buffer: SharedArrayBuffer, byteOffset: number, length: number) => Lanes;

interface Field {
  name: string;
  make: LanesConstructor;
  /** index of the distinct array it is (aliases share one) */
  array: number;
  /** elements per row */
  stride: number;
  bytesPerElement: number;
}

const PROBE_ROWS = 8;
const CACHE_LINE = 64;

function lanesConstructor(v: unknown): LanesConstructor | null {
  if (v instanceof Uint8Array) return Uint8Array;
  if (v instanceof Uint16Array) return Uint16Array;
  if (v instanceof Uint32Array) return Uint32Array;
  if (v instanceof Float64Array) return Float64Array;
  return null;
}

interface Layout {
  fields: readonly Field[];
}

/** The typed-array fields of PacketColumns, found on a probe: a column added there is carried along. */
const layout: Layout = (() => {
  const probe = new PacketColumns(PROBE_ROWS);
  const arrays = new Map<ArrayBufferLike, number>();
  const fields: Field[] = [];
  for (const [name, value] of Object.entries(probe)) {
    const make = lanesConstructor(value);
    if (!make) continue;
    const a = value as Lanes;
    let array = arrays.get(a.buffer);
    if (array === undefined) {
      array = arrays.size;
      arrays.set(a.buffer, array);
    }
    fields.push({ name, make, array, stride: a.length / PROBE_ROWS, bytesPerElement: a.BYTES_PER_ELEMENT });
  }
  return { fields };
})();

/** A batch's memory: what the other thread needs to build its own PacketColumns over it. */
export interface SharedBatchMemory {
  buffer: SharedArrayBuffer;
  /** byte offset of each distinct array */
  offsets: number[];
  capacity: number;
}

/**
 * Where each distinct array of a `capacity`-row batch starts when the batch starts at `from`, and
 * where it ends. Each array starts one cache line later, modulo 4 KiB, than the one before: arrays
 * of a power-of-two row count are multiples of 4 KiB long, so packed end to end, row r of every
 * array fell in the same L1 set, and a decoder writing a row's ~45 columns evicted its own lines
 * (the pcap kernel's stores: 80 -> 34 ns a record with the stagger, bench of one buffer's rows).
 */
function arrayOffsets(capacity: number, from: number): { offsets: number[]; end: number } {
  const offsets: number[] = [];
  let at = from;
  for (const f of layout.fields) {
    if (f.array < offsets.length) continue;
    offsets.push(at);
    at += Math.ceil((f.stride * capacity * f.bytesPerElement) / 8) * 8 + CACHE_LINE;
  }
  return { offsets, end: at };
}

/** Bytes a batch of `capacity` rows takes in shared memory, every array 8-byte aligned. */
export function sharedBatchBytes(capacity: number): number {
  return arrayOffsets(capacity, 0).end;
}

/**
 * Memory for a batch of `capacity` rows, every array 8-byte aligned: a SharedArrayBuffer of its own,
 * or `sharedBatchBytes(capacity)` bytes of `place.buffer` from `place.offset` (8-byte aligned) on.
 */
export function sharedBatchMemory(
  capacity: number,
  place?: { buffer: SharedArrayBuffer; offset: number },
): SharedBatchMemory {
  const { offsets, end } = arrayOffsets(capacity, place?.offset ?? 0);
  return { buffer: place?.buffer ?? new SharedArrayBuffer(end), offsets, capacity };
}

/** Byte offset in `m.buffer` of the array behind PacketColumns field `name`. */
export function fieldOffset(m: SharedBatchMemory, name: keyof PacketColumns): number {
  const f = layout.fields.find((g) => g.name === name);
  if (f === undefined) throw new Error(`shared-batch: PacketColumns has no typed array '${String(name)}'`);
  return m.offsets[f.array]!;
}

/**
 * A PacketColumns over `m` (views, no copy). The fields are assigned through an index signature: they
 * are `readonly` to the decoders, which must never replace them, but this is how a batch gets its memory.
 */
export function columnsOver(m: SharedBatchMemory): PacketColumns {
  const c = new PacketColumns(1);
  const view = c as unknown as Record<string, Lanes | number>;
  const made: Lanes[] = [];
  for (const f of layout.fields) {
    made[f.array] ??= new f.make(m.buffer, m.offsets[f.array]!, f.stride * m.capacity);
    view[f.name] = made[f.array]!;
  }
  view['capacity'] = m.capacity;
  return c;
}

/**
 * Every array of `m` zeroed, as in a new PacketColumns: a batch over memory that held another batch
 * (of any capacity) then reads as a fresh one, stale values behind a cleared validity included.
 */
export function zeroShared(m: SharedBatchMemory): void {
  const from = m.offsets[0]!;
  clear(new Uint8Array(m.buffer, from, arrayOffsets(m.capacity, from).end - from));
}

/** `dst` rows [0, n) := `src` rows [0, n) for every array, where n = src.length; sets dst.length. */
export function copyRows(src: PacketColumns, dst: PacketColumns): void {
  const from = src as unknown as Record<string, Lanes>;
  const to = dst as unknown as Record<string, Lanes>;
  let i = 0;
  for (const f of layout.fields) {
    if (f.array !== i) continue;
    i++;
    to[f.name]!.set(from[f.name]!.subarray(0, f.stride * src.length));
  }
  dst.length = src.length;
}
