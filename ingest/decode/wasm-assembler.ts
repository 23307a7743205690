/**
 * Just enough of the WebAssembly binary format to write one small function by hand, as byte arrays:
 * there is no .wat compiler at build or test time, and a dependency for a hundred opcodes is not worth
 * it. Instructions are `number[]` to splice into a body; `wasmModule` wraps one exported function
 * over an imported memory.
 */

/** Signed LEB128 of a 32-bit integer (i32.const immediates). */
function sleb(v: number): number[] {
  const out: number[] = [];
  v |= 0;
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

/** Unsigned LEB128 (lengths, indexes, offsets, opcodes after the 0xfd prefix). */
function uleb(v: number): number[] {
  const out: number[] = [];
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
  return out;
}

export const I32 = 0x7f;
export const V128 = 0x7b;

export const get = (local: number): number[] => [0x20, local];
export const set = (local: number): number[] => [0x21, local];
export const i32 = (v: number): number[] => [0x41, ...sleb(v)];

export const I32_EQZ = 0x45;
export const I32_GE_U = 0x4f;
export const I32_ADD = 0x6a;
export const I32_SHL = 0x74;
export const BLOCK = [0x02, 0x40];
export const LOOP = [0x03, 0x40];
export const END = 0x0b;
export const BR = 0x0c;
export const BR_IF = 0x0d;

/**
 * `body` over local `at` from its value up to local `end` (unsigned, exclusive), `at` advancing by
 * `step` after each pass: block { loop { br_if out when at >= end; body; at += step; br loop } }
 */
export const loopBelow = (at: number, end: number, step: number, body: number[]): number[] => [
  ...BLOCK,
  ...LOOP,
  ...get(at),
  ...get(end),
  I32_GE_U,
  BR_IF,
  1,
  ...body,
  ...get(at),
  ...i32(step),
  I32_ADD,
  ...set(at),
  BR,
  0,
  END,
  END,
];

export const simd = (op: number): number[] => [0xfd, ...uleb(op)];
/** 16-byte load / store at the address on the stack plus `offset` */
export const v128Load = (offset: number): number[] => [...simd(0x00), 4, ...uleb(offset)];
export const v128Store = (offset: number): number[] => [...simd(0x0b), 4, ...uleb(offset)];
/** the i32 constant `v` in all four lanes */
export const splat = (v: number): number[] => [...i32(v), ...simd(0x11)];
export const extractLane = (lane: number): number[] => [...simd(0x1b), lane];
/** (address, vector) -> the vector with `lane` replaced by the 32-bit word at the address */
export const load32Lane = (lane: number): number[] => [...simd(0x56), 2, 0, lane];
/** (a, b) then 16 byte indexes (0-15 a's, 16-31 b's) */
export const I8X16_SHUFFLE = simd(0x0d);
export const V_AND = simd(0x4e);
export const V_OR = simd(0x50);
export const V_XOR = simd(0x51);
/** (a, b, mask) -> a where the mask bits are set, else b */
export const V_SELECT = simd(0x52);
export const V_ANY_TRUE = simd(0x53);
export const I32X4_NE = simd(0x38);
export const I32X4_GT_S = simd(0x3b);
/** shifts take the vector and one i32 count for every lane */
export const I32X4_SHR_U = simd(0xad);
export const I32X4_ADD = simd(0xae);
export const I32X4_MUL = simd(0xb5);

function section(id: number, bytes: number[]): number[] {
  return [id, ...uleb(bytes.length), ...bytes];
}

function name(s: string): number[] {
  return [...uleb(s.length), ...Array.from(s, (ch) => ch.charCodeAt(0))];
}

export interface WasmFunction {
  /** value types of the parameters (I32, V128) */
  params: number[];
  /** extra locals after the parameters: [count, type] runs */
  locals: [number, number][];
  /** the instructions, without the final `end` */
  body: number[];
}

/** The part of the WebAssembly API hoptrace uses (tsconfig's lib has no DOM types, which declare it). */
export interface WasmApi {
  Memory: new (d: {
    initial: number;
    maximum: number;
    shared?: boolean;
  }) => {
    readonly buffer: ArrayBuffer | SharedArrayBuffer;
  };
  Module: new (bytes: Uint8Array) => object;
  Instance: new (
    m: object,
    imports: Record<string, Record<string, unknown>>,
  ) => { readonly exports: Record<string, unknown> };
}

export type WasmMemory = InstanceType<WasmApi['Memory']>;

/** This runtime's WebAssembly, or undefined where it has none. */
export const webAssembly = (): WasmApi | undefined =>
  (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

/**
 * A module that imports `env.memory` (exactly `pages` pages, never grown; `shared` as a
 * SharedArrayBuffer other threads may read) and exports `fn` as `name`, returning nothing.
 */
export function wasmModule(exportName: string, fn: WasmFunction, pages: number, shared = false): Uint8Array {
  const locals = [...uleb(fn.locals.length), ...fn.locals.flatMap(([n, t]) => [...uleb(n), t])];
  const code = [...locals, ...fn.body, END];
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    1,
    0,
    0,
    0,
    ...section(1, [1, 0x60, ...uleb(fn.params.length), ...fn.params, 0]),
    ...section(2, [
      1,
      ...name('env'),
      ...name('memory'),
      0x02,
      shared ? 0x03 : 0x01,
      ...uleb(pages),
      ...uleb(pages),
    ]),
    ...section(3, [1, 0]),
    ...section(7, [1, ...name(exportName), 0x00, 0]),
    ...section(10, [1, ...uleb(code.length), ...code]),
  ]);
}
