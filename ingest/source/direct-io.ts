/**
 * What reading and writing past the page cache (O_DIRECT) share: the alignment it asks for, one
 * page-aligned staging buffer a thread, which refusals mean "use the page cache instead", and a whole
 * file read that way.
 *
 * Why past the page cache: on this kind of machine (a VM whose free memory is handed back to the host) a
 * page-cache page the guest has not used lately costs a fault in the host. Buffered, the captures of the
 * 20 M-frame bench bundle (7.3 GB) cost `hoptrace ingest` 23.7 s of system time; read direct, 2.8 s.
 */
import fs from 'node:fs';
import { webAssembly } from '../decode/wasm-assembler.ts';

/**
 * alignment of direct reads and writes (buffer address, length, file offset): the largest logical block
 * size of common devices
 */
export const DIRECT_BLOCK = 4096;

/**
 * One staging buffer per thread (module state), shared by every file of the thread: reads and writes
 * are synchronous, so it is free again when one returns. 1 MiB writes kept the device as busy as
 * larger ones (`dd oflag=direct`: 0.31 s for 600 MB, 4 MiB: 0.54 s).
 */
const STAGE_BYTES = 1 << 20;
let stageBuffer: Uint8Array | null = null;

/**
 * The thread's staging buffer, page-aligned; an unaligned one (no WebAssembly) only makes direct reads
 * and writes fail over. Free again as soon as a synchronous read or write with it returns.
 */
export function stage(): Uint8Array {
  if (stageBuffer !== null) return stageBuffer;
  const wasm = webAssembly();
  const pages = STAGE_BYTES >>> 16;
  stageBuffer = wasm
    ? new Uint8Array(new wasm.Memory({ initial: pages, maximum: pages }).buffer)
    : new Uint8Array(STAGE_BYTES);
  return stageBuffer;
}

/**
 * A direct read or write refused by the file system (EINVAL; ENOTSUP, as libuv names EOPNOTSUPP): done
 * through the page cache instead.
 */
export function refusesDirect(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'EINVAL' || code === 'ENOTSUP';
}

/**
 * Gives `each` the bytes of `file` from its start, a staging buffer's worth at a time (each view valid
 * only during the call), read past the page cache (O_DIRECT) where the file system allows it: a part
 * written direct and read back once (junit.xml's suites) then never fills page-cache pages, which on
 * this kind of machine cost a host fault each. Refused at the open or at a read (`refusesDirect`), the
 * rest is read through the cache.
 */
export function readFileDirect(file: string, each: (bytes: Uint8Array) => void): void {
  const c = fs.constants;
  let direct = false;
  let fd = -1;
  if (c.O_DIRECT !== undefined) {
    try {
      fd = fs.openSync(file, c.O_RDONLY | c.O_DIRECT);
      direct = true;
    } catch {
      // refused (EINVAL, ENOTSUP) or failing for another reason: the buffered open says which
    }
  }
  try {
    if (fd < 0) fd = fs.openSync(file, 'r');
    const buf = stage();
    let at = 0;
    for (;;) {
      let n: number;
      try {
        // a direct read starts at a block (every read before it was whole) into the page-aligned stage
        n = fs.readSync(fd, buf, 0, buf.length, at);
      } catch (err) {
        if (!direct || !refusesDirect(err)) throw err;
        fs.closeSync(fd);
        fd = -1;
        fd = fs.openSync(file, 'r');
        direct = false;
        continue;
      }
      if (n === 0) return;
      each(buf.subarray(0, n));
      at += n;
    }
  } finally {
    if (fd >= 0) fs.closeSync(fd);
  }
}
