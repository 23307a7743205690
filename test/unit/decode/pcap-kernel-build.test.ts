/**
 * The committed kernel module (pcap-ethernet-wasm.ts) is what pcap-ethernet.c compiles to: a change to
 * the C that was not rebuilt (`npm run build:kernel`), or a hand edit of the module, fails here. And
 * the module keeps to the memory it is given addresses in.
 * Needs clang, wasm-ld and wasm-objdump (Debian: clang, lld, wabt); in CI their absence fails the test.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import {
  compileKernel,
  KERNEL_MODULE,
  kernelModuleText,
} from '../../../ingest/decode/kernel/build-kernel.ts';
import { webAssembly } from '../../../ingest/decode/wasm-assembler.ts';

function missingTools(): string | null {
  for (const tool of ['clang', 'wasm-ld', 'wasm-objdump']) {
    if (spawnSync(tool, ['--version'], { stdio: 'ignore' }).status !== 0) return `${tool} is not installed`;
  }
  return null;
}

const missing = missingTools();
if (missing !== null && process.env['CI'] === 'true')
  throw new Error(`pcap kernel build: prerequisite missing in CI: ${missing}`);

test('pcap kernel: the committed module is the C source compiled', { skip: missing ?? false }, () => {
  const wasm = compileKernel();
  assert.equal(fs.readFileSync(KERNEL_MODULE, 'utf8'), kernelModuleText(wasm));
});

/** The committed module's bytes. */
function committed(): Buffer {
  const text = fs.readFileSync(KERNEL_MODULE, 'utf8');
  const b64 = [...text.matchAll(/^ {2}'([A-Za-z0-9+/=]+)',$/gm)].map((m) => m[1]).join('');
  return Buffer.from(b64, 'base64');
}

test('pcap kernel: the module never uses its stack', { skip: missing ?? false }, () => {
  // The only global is the stack pointer (wasm-ld's, at address 1024: inside the first read buffer
  // of the thread's memory). Code that used the stack would write there; none may touch a global.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ht-kernel-dis-'));
  try {
    const file = path.join(dir, 'kernel.wasm');
    fs.writeFileSync(file, committed());
    const r = spawnSync('wasm-objdump', ['-d', file], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /func\[\d+\] <run>:/, 'the disassembly lists the kernel');
    assert.doesNotMatch(r.stdout, /global\.(get|set)/);
    assert.doesNotMatch(r.stdout, /\bcall\b/, 'everything inlined: no frames');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('pcap kernel: the module imports the shared memory and declares no memory, data or start of its own', () => {
  const bytes = committed();
  const sections = new Set<number>();
  // the module's sections: id byte, LEB128 size
  let at = 8;
  while (at < bytes.length) {
    const id = bytes[at++]!;
    let size = 0;
    for (let shift = 0; ; shift += 7) {
      const b = bytes[at++]!;
      size |= (b & 0x7f) << shift;
      if (b < 0x80) break;
    }
    sections.add(id);
    at += size;
  }
  assert.equal(at, bytes.length);
  assert.ok(sections.has(2), 'an import section (env.memory)');
  // 5 memory, 8 start, 11 data: anything the module would put into, or run on, the thread's memory
  for (const id of [5, 8, 11]) assert.ok(!sections.has(id), `section ${id} present`);
});

test('pcap kernel: the module does not instantiate over a memory that may pass 2 GiB', () => {
  // its bounds checks add a length to an address in u32: below 2^31 no sum wraps
  const wasm = webAssembly()!;
  const module = new wasm.Module(committed());
  const over = (maximum: number) => () =>
    new wasm.Instance(module, { env: { memory: new wasm.Memory({ initial: 1, maximum, shared: true }) } });
  assert.doesNotThrow(over(32768));
  assert.throws(over(32769), /memory/i);
});
