/**
 * `hashPacket` (payload-hash.ts) for four packets at a time, in WebAssembly SIMD, bit for bit the same.
 *
 * Why: the hash is a serial chain of multiplies, ~100 cycles of latency a packet, and in JavaScript
 * every DataView read adds a map check and two bounds checks on top (~35 ns a frame, a quarter of
 * decode -> Arrow). Four packets in the four lanes of one vector share that latency. The hash reads
 * the payload where the reader put it, so the reader's buffers live in this module's memory
 * (`takeReadBuffer`); the decoder queues a packet (`queueHash`) instead of hashing it, and the queue
 * is hashed (`drainHashes`) before the buffer is reused and before its batch is handed on.
 * Frames in any other memory (the reader's carry-over between chunks, decompressed data, bytes
 * handed in) are hashed by `hashPacket` as before.
 *
 * One memory per thread, never grown (growing would detach its ArrayBuffer, and after the first
 * detach V8 adds a detach check to every typed-array access it compiles).
 */
import type { PacketColumns } from '../columns/packet-columns.ts';
import { KERNEL_BYTES } from './kernel/kernel-memory.ts';
import {
  HASH_C1 as C1,
  HASH_C2 as C2,
  HASH_C3 as C3,
  HASH_C4 as C4,
  HASH_SEED_HI as SEED_HI,
  HASH_SEED_LO as SEED_LO,
} from './payload-hash.ts';
import {
  BLOCK,
  BR,
  BR_IF,
  END,
  extractLane,
  get,
  I8X16_SHUFFLE,
  I32,
  I32_EQZ,
  I32_SHL,
  I32X4_ADD,
  I32X4_GT_S,
  I32X4_MUL,
  I32X4_NE,
  I32X4_SHR_U,
  i32,
  LOOP,
  load32Lane,
  loopBelow,
  set,
  splat,
  V_AND,
  V_ANY_TRUE,
  V_OR,
  V_SELECT,
  V_XOR,
  V128,
  v128Load,
  v128Store,
  type WasmMemory,
  wasmModule,
  webAssembly,
} from './wasm-assembler.ts';

/** Read buffers of up to this size come from the pool: the reader's default chunk (read-capture.ts). */
export const READ_SLOT_BYTES = 512 * 1024;
/**
 * up to twelve per file being read at once (open-capture.ts: two requests of four buffers in flight,
 * the chunk being parsed, up to three waiting for a request), and HELD_READ_SLOTS more for a file
 * whose chunks a hash thread reads in place
 */
const READ_SLOTS = 80;
/**
 * read buffers of a file hashed in place by another thread: how far that thread may lag (the reader
 * keeps all but the eight it has in flight for it: 60, 30 MiB). A lag of 12 (6 MiB) left the hash
 * thread too little to do while the Parquet encoder waited for a batch, and the decoding thread
 * waited for the hash instead (hash-thread.ts).
 */
export const HELD_READ_SLOTS = 68;
/** queued packets; a full queue is hashed on the spot */
export const QUEUE_CAPACITY = 4096;
/** the last four entries are left for `drainHashes` to pad the last group of four with */
export const QUEUE_LIMIT = QUEUE_CAPACITY - 4;
/** fingerprint words a queued packet may have (TCP's six are the most) */
const QUEUE_WORDS = 6;

/**
 * The queue is one array per field (the kernel loads four packets' values with one vector load).
 * Arrays exactly 16 KiB apart share cache sets, and filling thirteen of them at once cost 8x the
 * stores (measured); a pad of a few cache lines between them avoids that.
 */
export const QUEUE_STRIDE = 4 * QUEUE_CAPACITY + 272;
export const QUEUE_BASE = READ_SLOTS * READ_SLOT_BYTES;
const F = { addr: 0, len: 1, nWords: 2, word0: 3, h1: 3 + QUEUE_WORDS, h2: 4 + QUEUE_WORDS } as const;
const F1 = 5 + QUEUE_WORDS;
const F2 = 6 + QUEUE_WORDS;
const FIELDS = 7 + QUEUE_WORDS;
/** the row of each queued packet in its batch: a field of drainHashes', the kernel does not read it */
const ROW = FIELDS;
const fieldAt = (field: number): number => QUEUE_BASE + field * QUEUE_STRIDE;
// the queue follows the read slots, so a lane reading up to 80 bytes past a payload start stays in memory
/** where the pcap kernel's part of the memory starts (kernel-memory.ts), on a page boundary */
export const KERNEL_BASE = Math.ceil(fieldAt(ROW + 1) / 65536) * 65536;
const PAGES = (KERNEL_BASE + KERNEL_BYTES) / 65536;
/** where each field's entries start in `HashQueue.fields` */
const FIELD_WORDS = QUEUE_STRIDE / 4;
const AT_ADDR = F.addr * FIELD_WORDS;
const AT_LEN = F.len * FIELD_WORDS;
const AT_N_WORDS = F.nWords * FIELD_WORDS;
const AT_W0 = F.word0 * FIELD_WORDS;
const AT_W1 = AT_W0 + FIELD_WORDS;
const AT_W2 = AT_W1 + FIELD_WORDS;
const AT_W3 = AT_W2 + FIELD_WORDS;
const AT_W4 = AT_W3 + FIELD_WORDS;
const AT_W5 = AT_W4 + FIELD_WORDS;
const AT_H1 = F.h1 * FIELD_WORDS;
const AT_H2 = F.h2 * FIELD_WORDS;
const AT_F1 = F1 * FIELD_WORDS;
const AT_F2 = F2 * FIELD_WORDS;
const AT_ROW = ROW * FIELD_WORDS;

// kernel locals: the parameter (entries, a multiple of 4), two i32s, then vectors
const COUNT = 0;
const I = 1;
const IEND = 2;
const A = 3;
const N = 4;
const H1 = 5;
const H2 = 6;
const X = 7;
const Y = 8;
const M = 9;
const P = 10;
const R = 11;
const RC = 12;
const T = 13;
const NW = 14;
const M2 = 15;
const L0 = 16;
const L1 = 17;
const L2 = 18;
const L3 = 19;
const T0 = 20;
const X1 = 21;
const Y1 = 22;
const VECTORS = 20;

/**
 * Vector expressions: each leaves one value on the stack, `assign` stores it in a local. Written as
 * nested calls so that the kernel reads like the JavaScript it mirrors.
 */
type Code = number[];
const v = get;
const assign = (local: number, e: Code): Code => [...e, ...set(local)];
const xor = (a: Code, b: Code): Code => [...a, ...b, ...V_XOR];
const and = (a: Code, b: Code): Code => [...a, ...b, ...V_AND];
const or = (a: Code, b: Code): Code => [...a, ...b, ...V_OR];
const add = (a: Code, b: Code): Code => [...a, ...b, ...I32X4_ADD];
const mul = (a: Code, b: Code): Code => [...a, ...b, ...I32X4_MUL];
const shr = (a: Code, bits: number): Code => [...a, ...i32(bits), ...I32X4_SHR_U];
const gt = (a: Code, b: Code): Code => [...a, ...b, ...I32X4_GT_S];
const nonZero = (a: Code): Code => [...a, ...splat(0), ...I32X4_NE];
/** lanes of `a` where `mask` is set, else of `b` */
const pick = (a: Code, b: Code, mask: Code): Code => [...a, ...b, ...mask, ...V_SELECT];
/** a queue field's four values for the group at byte offset I */
const field = (f: number): Code => [...get(I), ...v128Load(fieldAt(f))];
const store = (f: number, local: number): Code => [...get(I), ...get(local), ...v128Store(fieldAt(f))];

/** The 32-bit words at the four lane addresses of vector local `addr` into vector local `dst`. */
function gather(addr: number, dst: number): Code {
  const out: Code = [];
  for (let lane = 0; lane < 4; lane++)
    out.push(...get(addr), ...extractLane(lane), ...get(dst), ...load32Lane(lane), ...set(dst));
  return out;
}

/** The 16 bytes at lane `lane`'s address in P into `dst`. */
const load16 = (lane: number, dst: number): Code => [
  ...get(P),
  ...extractLane(lane),
  ...v128Load(0),
  ...set(dst),
];

/** dst = the 32-bit lanes `lanes` of a (0-3) and b (4-7) */
const shuffle = (a: number, b: number, lanes: number[], dst: number): Code => [
  ...get(a),
  ...get(b),
  ...I8X16_SHUFFLE,
  ...lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]),
  ...set(dst),
];

/** a ^= b >>> 15; b ^= a >>> 13 */
const cross = (a: number, b: number): Code => [
  ...assign(a, xor(v(a), shr(v(b), 15))),
  ...assign(b, xor(v(b), shr(v(a), 13))),
];

const avalanche = (x: number): Code => [
  ...assign(x, mul(xor(v(x), shr(v(x), 16)), splat(C3))),
  ...assign(x, mul(xor(v(x), shr(v(x), 13)), splat(C4))),
  ...assign(x, xor(v(x), shr(v(x), 16))),
];

/** a += b; b += a */
const addCross = (a: number, b: number): Code => [
  ...assign(a, add(v(a), v(b))),
  ...assign(b, add(v(b), v(a))),
];

const finish = (a: number, b: number): Code => [
  ...addCross(a, b),
  ...avalanche(a),
  ...avalanche(b),
  ...addCross(a, b),
];

/** old = mask ? next : old, lane by lane */
const keep = (next: number, old: number, mask: number): Code => assign(old, pick(v(next), v(old), v(mask)));

/** x = (h ^ x) * c */
const mix = (h: number, x: number, c: number): Code => assign(x, mul(xor(v(h), v(x)), splat(c)));

/** One payload round where `mask`: h1 = (h1 ^ x) * C1, h2 = (h2 ^ y) * C2, then crossed. */
const round = (x: number, y: number, mask: number): Code => [
  ...mix(H1, x, C1),
  ...mix(H2, y, C2),
  ...cross(x, y),
  ...keep(x, H1, mask),
  ...keep(y, H2, mask),
];

/** The little-endian value of the first 0-3 bytes of each lane of X, where M2 holds the count. */
const maskToCount = (): Code =>
  and(
    v(X),
    or(
      or(and(gt(v(M2), splat(0)), splat(0xff)), and(gt(v(M2), splat(1)), splat(0xff00))),
      and(gt(v(M2), splat(2)), splat(0xff0000)),
    ),
  );

/** Fingerprint round `w`: word w where nWords > w, word w + 1 only where nWords > w + 1. */
const wordRound = (w: number): Code => [
  ...assign(M, gt(v(NW), splat(w))),
  ...assign(M2, gt(v(NW), splat(w + 1))),
  ...assign(X, field(F.word0 + w)),
  ...mix(H1, X, C1),
  ...assign(Y, field(F.word0 + w + 1)),
  ...mix(H2, Y, C2),
  ...assign(Y, pick(v(Y), v(H2), v(M2))),
  ...cross(X, Y),
  ...keep(X, H1, M),
  ...keep(Y, H2, M),
];

/**
 * Four queued packets from byte offset I of each field array: the payload rounds while any lane has
 * one left (lanes without keep their value), the 4-byte and 1-3-byte tails, then the fingerprint.
 * The steps are payload-hash.ts's, lane by lane.
 */
const group: Code = [
  ...assign(A, field(F.addr)),
  ...assign(N, field(F.len)),
  ...assign(H1, xor(splat(SEED_LO), v(N))),
  ...assign(H2, xor(mul(v(N), splat(C3)), splat(SEED_HI))),
  // R: 8-byte rounds per lane; RC: rounds done; P: where each lane's next round reads
  ...assign(R, shr(v(N), 3)),
  ...assign(RC, splat(0)),
  ...assign(P, v(A)),
  ...BLOCK,
  ...LOOP,
  ...assign(M, gt(v(R), v(RC))),
  ...v(M),
  ...V_ANY_TRUE,
  I32_EQZ,
  BR_IF,
  1,
  // two rounds per pass: 16 bytes of each lane, turned into the rounds' words across the lanes
  ...load16(0, L0),
  ...load16(1, L1),
  ...load16(2, L2),
  ...load16(3, L3),
  ...shuffle(L0, L1, [0, 4, 1, 5], T0),
  ...shuffle(L0, L1, [2, 6, 3, 7], L0),
  ...shuffle(L2, L3, [0, 4, 1, 5], L1),
  ...shuffle(L2, L3, [2, 6, 3, 7], L2),
  ...shuffle(T0, L1, [0, 1, 4, 5], X),
  ...shuffle(T0, L1, [2, 3, 6, 7], Y),
  ...shuffle(L0, L2, [0, 1, 4, 5], X1),
  ...shuffle(L0, L2, [2, 3, 6, 7], Y1),
  ...round(X, Y, M),
  ...assign(M2, gt(v(R), add(v(RC), splat(1)))),
  ...round(X1, Y1, M2),
  ...assign(P, add(v(P), splat(16))),
  ...assign(RC, add(v(RC), splat(2))),
  BR,
  0,
  END,
  END,
  // four more bytes where len & 4, at T = addr + (len & ~7): h1 = (h1 ^ w) * C1; h2 ^= h1 >>> 13
  ...assign(T, add(v(A), and(v(N), splat(~7)))),
  ...assign(M, nonZero(and(v(N), splat(4)))),
  ...gather(T, X),
  ...mix(H1, X, C1),
  ...assign(Y, xor(v(H2), shr(v(X), 13))),
  ...keep(X, H1, M),
  ...keep(Y, H2, M),
  // 1-3 bytes where len & 3, at T + (len & 4): h2 = (h2 ^ their value) * C2; h1 ^= h2 >>> 15
  ...assign(T, add(v(T), and(v(N), splat(4)))),
  ...gather(T, X),
  ...assign(M2, and(v(N), splat(3))),
  ...assign(X, maskToCount()),
  ...mix(H2, X, C2),
  ...assign(Y, xor(v(H1), shr(v(X), 15))),
  ...assign(M, nonZero(v(M2))),
  ...keep(Y, H1, M),
  ...keep(X, H2, M),
  ...finish(H1, H2),
  ...store(F.h1, H1),
  ...store(F.h2, H2),
  // the fingerprint: seeded with the payload lanes, the word count mixed into the second
  ...assign(NW, field(F.nWords)),
  ...assign(H1, xor(v(H1), splat(SEED_HI))),
  ...assign(H2, xor(xor(v(H2), splat(SEED_LO)), v(NW))),
  ...wordRound(0),
  ...wordRound(2),
  ...wordRound(4),
  ...finish(H1, H2),
  ...store(F1, H1),
  ...store(F2, H2),
];

const kernelBody: number[] = [
  ...get(COUNT),
  ...i32(2),
  I32_SHL,
  ...set(IEND),
  ...i32(0),
  ...set(I),
  ...loopBelow(I, IEND, 16, group),
];

/** The thread's queue of packets waiting to be hashed, and the kernel over it. */
export interface HashQueue {
  /** queued packets */
  n: number;
  /** the batch the queued rows belong to */
  cols: PacketColumns | null;
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  /** the memory `buffer` is, for other modules to import (pcap-kernel.ts) */
  readonly memory: WasmMemory;
  readonly kernel: (count: number) => void;
  /**
   * The queue's fields as one array: entry e of field f is `fields[f * FIELD_WORDS + e]`. One array
   * for every field, not one each: a typed-array store loads the array's length and data pointer
   * first, and with one array the compiled code loads them once for all of an entry's stores
   * (with an array a field, ~1 ns a store: a dozen a frame).
   */
  readonly fields: Uint32Array;
  /** free read slots (indexes) */
  readonly free: number[];
}

function createQueue(): HashQueue | null {
  const wasm = webAssembly();
  if (wasm === undefined) return null;
  try {
    const bytes = wasmModule(
      'hash',
      {
        params: [I32],
        locals: [
          [2, I32],
          [VECTORS, V128],
        ],
        body: kernelBody,
      },
      PAGES,
      true,
    );
    // shared: a hash thread reads the file's chunks where they were read (hash-thread.ts)
    const memory = new wasm.Memory({ initial: PAGES, maximum: PAGES, shared: true });
    const instance = new wasm.Instance(new wasm.Module(bytes), { env: { memory } });
    const kernel = instance.exports['hash'] as (count: number) => void;
    const buffer = memory.buffer;
    return {
      n: 0,
      cols: null,
      buffer,
      memory,
      kernel,
      fields: new Uint32Array(buffer, QUEUE_BASE, (ROW + 1) * FIELD_WORDS),
      free: Array.from({ length: READ_SLOTS }, (_, i) => READ_SLOTS - 1 - i),
    };
  } catch {
    // no WebAssembly SIMD here: every packet is hashed by hashPacket
    return null;
  }
}

const queue = createQueue();

/** This thread's queue, or null where WebAssembly SIMD is unavailable. */
export function hashQueue(): HashQueue | null {
  return queue;
}

/** This thread's read buffers' memory, shared with other threads; null without WebAssembly SIMD. */
export function readBufferMemory(): SharedArrayBuffer | null {
  return queue !== null && queue.buffer instanceof SharedArrayBuffer ? queue.buffer : null;
}

/** Where `bytes` starts in the queue's memory, or -1 when it lives elsewhere. */
export function hashMemoryOffset(q: HashQueue, bytes: Uint8Array): number {
  return bytes.buffer === q.buffer ? bytes.byteOffset : -1;
}

/**
 * Does `buf` start a read slot of the queue's memory? A slot starts at a multiple of its size from the
 * memory's base, which is page-aligned (WebAssembly memory is mapped), so it may be read into past the
 * page cache (O_DIRECT); an ordinary ArrayBuffer comes from malloc, aligned to 16 bytes only.
 */
export function isReadSlot(buf: Uint8Array): boolean {
  return queue !== null && buf.buffer === queue.buffer && buf.byteOffset % READ_SLOT_BYTES === 0;
}

/**
 * A read buffer of `size` bytes in the queue's memory when one is free (frames read into it are
 * hashed four at a time), else ordinary memory. Give it back with `returnReadBuffer`.
 */
export function takeReadBuffer(size: number): Uint8Array {
  if (queue !== null && size <= READ_SLOT_BYTES) {
    const slot = queue.free.pop();
    if (slot !== undefined) return new Uint8Array(queue.buffer, slot * READ_SLOT_BYTES, size);
  }
  return new Uint8Array(size);
}

export function returnReadBuffer(buf: Uint8Array): void {
  if (queue === null || buf.buffer !== queue.buffer) return;
  const slot = buf.byteOffset / READ_SLOT_BYTES;
  if (!queue.free.includes(slot)) queue.free.push(slot);
}

/**
 * Queue the payload hash of `n` bytes at `addr` (in the queue's memory) and the fingerprint of its
 * first `nWords` words `w0..w5` (0 <= nWords <= 6; the rest are ignored) for row `row` of `c`. The
 * words come as arguments, not in an array: the decoder has them in registers, and storing them to
 * an array only to load them back here cost a dozen memory operations a frame. The bytes must stay
 * as they are until `drainHashes`; queueing for another batch first hashes what is queued for the
 * previous one.
 */
export function queueHash(
  q: HashQueue,
  c: PacketColumns,
  addr: number,
  n: number,
  nWords: number,
  row: number,
  w0: number,
  w1: number,
  w2: number,
  w3: number,
  w4: number,
  w5: number,
): void {
  if (q.cols !== c || q.n === QUEUE_LIMIT) {
    drainHashes(q);
    q.cols = c;
  }
  const f = q.fields;
  const e = q.n;
  q.n = e + 1;
  f[AT_ADDR + e] = addr;
  f[AT_LEN + e] = n;
  f[AT_N_WORDS + e] = nWords;
  f[AT_ROW + e] = row;
  f[AT_W0 + e] = w0;
  f[AT_W1 + e] = w1;
  f[AT_W2 + e] = w2;
  f[AT_W3 + e] = w3;
  f[AT_W4 + e] = w4;
  f[AT_W5 + e] = w5;
}

/** Hash every queued packet into its row's payload_hash and fingerprint. */
export function drainHashes(q: HashQueue): void {
  const n = q.n;
  const c = q.cols;
  if (n === 0 || c === null) return;
  // the kernel takes four at a time: the lanes past the last packet hash nothing at address 0
  const f = q.fields;
  let padded = n;
  while ((padded & 3) !== 0) {
    f[AT_ADDR + padded] = 0;
    f[AT_LEN + padded] = 0;
    f[AT_N_WORDS + padded] = 0;
    padded++;
  }
  q.kernel(padded);
  const hash = c.payloadHash;
  const fp = c.fingerprint;
  for (let e = 0; e < n; e++) {
    const r = 2 * f[AT_ROW + e]!;
    hash[r] = f[AT_H1 + e]!;
    hash[r + 1] = f[AT_H2 + e]!;
    fp[r] = f[AT_F1 + e]!;
    fp[r + 1] = f[AT_F2 + e]!;
  }
  q.n = 0;
}
