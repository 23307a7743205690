/**
 * Typed arrays reused slab after slab. Correlating a slab needs a dozen arrays as long as its frames;
 * allocated afresh they were some 40 MB of short-lived off-heap memory per slab of 600 000 frames:
 * fresh zeroed pages from the kernel each time, and garbage-collector cycles driven by the external
 * memory, for no work done. Each named buffer grows (25 % headroom) and is handed out as a
 * view of the requested length. Contents are left over from the previous use: callers that need zeros
 * or another fill say so (`fill`).
 */
export class Scratch {
  private readonly i32s = new Map<string, Int32Array<ArrayBuffer>>();
  private readonly u32s = new Map<string, Uint32Array<ArrayBuffer>>();
  private readonly u8s = new Map<string, Uint8Array<ArrayBuffer>>();
  private readonly f64s = new Map<string, Float64Array<ArrayBuffer>>();

  i32(name: string, n: number, fill?: number): Int32Array<ArrayBuffer> {
    return this.view(this.i32s, name, n, fill, (k) => new Int32Array(k));
  }

  u32(name: string, n: number, fill?: number): Uint32Array<ArrayBuffer> {
    return this.view(this.u32s, name, n, fill, (k) => new Uint32Array(k));
  }

  u8(name: string, n: number, fill?: number): Uint8Array<ArrayBuffer> {
    return this.view(this.u8s, name, n, fill, (k) => new Uint8Array(k));
  }

  f64(name: string, n: number, fill?: number): Float64Array<ArrayBuffer> {
    return this.view(this.f64s, name, n, fill, (k) => new Float64Array(k));
  }

  private view<
    T extends
      | Int32Array<ArrayBuffer>
      | Uint32Array<ArrayBuffer>
      | Uint8Array<ArrayBuffer>
      | Float64Array<ArrayBuffer>,
  >(pool: Map<string, T>, name: string, n: number, fill: number | undefined, make: (k: number) => T): T {
    let a = pool.get(name);
    if (!a || a.length < n) {
      a = make(Math.ceil(1.25 * n) + 64);
      pool.set(name, a);
    }
    const v = a.subarray(0, n) as T;
    if (fill !== undefined) v.fill(fill);
    return v;
  }
}
