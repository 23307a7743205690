/**
 * The smallest and largest of a page's unsigned integers, in WebAssembly SIMD.
 *
 * Why: every integer page needs its minimum and maximum (the chunk statistics, and the choice between
 * DELTA, dictionary and PLAIN), and a JavaScript loop over a typed array took ~1.2 ns a value: two
 * thirds of encodeInt32's time, ~16% of the Parquet encoder thread's on the 10 M-packet ingest. A
 * vector instruction takes the minimum of 16, 8 or 4 values at once; copying a page into the module's
 * memory first costs less than the loop saved.
 */
import {
  get,
  I32,
  i32,
  loopBelow,
  set,
  simd,
  V128,
  v128Load,
  v128Store,
  wasmModule,
  webAssembly,
} from '../../decode/wasm-assembler.ts';

/** values of a page handled in one call; longer pages go in slices of this many bytes */
const SLICE_BYTES = 256 * 1024;
/** where the kernels leave their two vectors (the lane-wise minimum, then maximum) */
const RESULT_AT = SLICE_BYTES;
const PAGES = Math.ceil((RESULT_AT + 32) / 65536);

// the kernel's locals: the parameter (bytes, a multiple of 16, at least 16), the position, two vectors
const BYTES = 0;
const AT = 1;
const LO = 2;
const HI = 3;

/**
 * Lane-wise unsigned min and max of memory[0, bytes) with the SIMD opcodes `minOp` and `maxOp` of one
 * lane width, stored at RESULT_AT and RESULT_AT + 16.
 */
function kernel(minOp: number, maxOp: number): number[] {
  /** acc = op(acc, the vector at AT) */
  const fold = (acc: number, op: number): number[] => [
    ...get(acc),
    ...get(AT),
    ...v128Load(0),
    ...simd(op),
    ...set(acc),
  ];
  return [
    ...i32(0),
    ...v128Load(0),
    ...set(LO),
    ...get(LO),
    ...set(HI),
    ...i32(16),
    ...set(AT),
    ...loopBelow(AT, BYTES, 16, [...fold(LO, minOp), ...fold(HI, maxOp)]),
    ...i32(RESULT_AT),
    ...get(LO),
    ...v128Store(0),
    ...i32(RESULT_AT),
    ...get(HI),
    ...v128Store(16),
  ];
}

type Unsigned = Uint8Array | Uint16Array | Uint32Array;

/** One lane width's kernel, and its views of the memory: the values, and the two result vectors. */
interface Width<T extends Unsigned> {
  mem: T;
  out: T;
  lanes: number;
  fn: (bytes: number) => void;
}

function createKernels(): { u8: Width<Uint8Array>; u16: Width<Uint16Array>; u32: Width<Uint32Array> } | null {
  const wasm = webAssembly();
  if (wasm === undefined) return null;
  try {
    const memory = new wasm.Memory({ initial: PAGES, maximum: PAGES });
    const build = (minOp: number, maxOp: number) => {
      const fn = {
        params: [I32],
        locals: [
          [1, I32],
          [2, V128],
        ] as [number, number][],
        body: kernel(minOp, maxOp),
      };
      const module = new wasm.Module(wasmModule('minmax', fn, PAGES));
      return new wasm.Instance(module, { env: { memory } }).exports['minmax'] as (bytes: number) => void;
    };
    const b = memory.buffer;
    // i8x16 / i16x8 / i32x4 .min_u and .max_u
    return {
      u8: {
        mem: new Uint8Array(b, 0, SLICE_BYTES),
        out: new Uint8Array(b, RESULT_AT, 32),
        lanes: 16,
        fn: build(0x77, 0x79),
      },
      u16: {
        mem: new Uint16Array(b, 0, SLICE_BYTES / 2),
        out: new Uint16Array(b, RESULT_AT, 16),
        lanes: 8,
        fn: build(0x97, 0x99),
      },
      u32: {
        mem: new Uint32Array(b, 0, SLICE_BYTES / 4),
        out: new Uint32Array(b, RESULT_AT, 8),
        lanes: 4,
        fn: build(0xb7, 0xb9),
      },
    };
  } catch {
    // no WebAssembly SIMD here: the loop below
    return null;
  }
}

const kernels = createKernels();

/** The result of the last `minMax*` call. */
export const range = { lo: 0, hi: 0 };

/** Smallest and largest of vals[0..m) (m >= 1) into `range`. */
export function minMaxU32(vals: Uint32Array, m: number): void {
  if (kernels) run(vals, m, kernels.u32);
  else loop(vals, m);
}

/** As minMaxU32, for 16-bit values. */
export function minMaxU16(vals: Uint16Array, m: number): void {
  if (kernels) run(vals, m, kernels.u16);
  else loop(vals, m);
}

/** As minMaxU32, for bytes. */
export function minMaxU8(vals: Uint8Array, m: number): void {
  if (kernels) run(vals, m, kernels.u8);
  else loop(vals, m);
}

/** Without WebAssembly SIMD. */
function loop(vals: Unsigned, m: number): void {
  let lo = vals[0]!;
  let hi = lo;
  for (let i = 1; i < m; i++) {
    const x = vals[i]!;
    if (x < lo) lo = x;
    else if (x > hi) hi = x;
  }
  range.lo = lo;
  range.hi = hi;
}

/**
 * Slice by slice: the values copied into the memory, the last vector filled up with the slice's first
 * value (which changes neither extreme), the kernel, then its lanes' minima and maxima reduced.
 */
function run<T extends Unsigned>(vals: T, m: number, w: Width<T>): void {
  const { mem, out, lanes } = w;
  let lo = vals[0]!;
  let hi = lo;
  for (let from = 0; from < m; from += mem.length) {
    const k = Math.min(m - from, mem.length);
    mem.set(vals.subarray(from, from + k) as never);
    const padded = Math.ceil(k / lanes) * lanes;
    mem.fill(vals[from]!, k, padded);
    w.fn(padded * mem.BYTES_PER_ELEMENT);
    for (let l = 0; l < lanes; l++) {
      const a = out[l]!;
      const b = out[lanes + l]!;
      if (a < lo) lo = a;
      if (b > hi) hi = b;
    }
  }
  range.lo = lo;
  range.hi = hi;
}
