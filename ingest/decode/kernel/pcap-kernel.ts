/**
 * The capture kernel (pcap-ethernet.c: classic pcap records and pcapng EPBs) as the batch sink uses it: the module instantiated over the
 * thread's memory, its run block, and the batches it can write (kernel-memory.ts).
 *
 * One per thread, like the memory; null where WebAssembly SIMD (the hash queue) is missing or the
 * module does not instantiate, and then every record goes the JavaScript way.
 */
import type { PacketColumns } from '../../columns/packet-columns.ts';
import {
  columnsOver,
  fieldOffset,
  type SharedBatchMemory,
  sharedBatchMemory,
  zeroShared,
} from '../../columns/shared-batch.ts';
import { UDP_PORT_NEXT } from '../layer.ts';
import { hashQueue, KERNEL_BASE, QUEUE_BASE, QUEUE_LIMIT, QUEUE_STRIDE } from '../payload-hash-wasm.ts';
import { webAssembly } from '../wasm-assembler.ts';
import {
  BATCH_BYTES,
  BATCHES_AT,
  KERNEL_BATCH_ROWS,
  KERNEL_BATCHES,
  RUN_AT,
  UDP_TABLE_AT,
} from './kernel-memory.ts';
import { PCAP_ETHERNET_WASM } from './pcap-ethernet-wasm.ts';

/** The columns the kernel writes, in the order of its `C_*` enum (pcap-ethernet.c). */
export const KERNEL_COLUMNS = [
  'frame',
  'fileOffset',
  'ts',
  'tsValid',
  'caplen',
  'wirelen',
  'srcMac',
  'dstMac',
  'srcMacValid',
  'vlanCount',
  'vlan',
  'ethertype',
  'ethertypeValid',
  'ipVersion',
  'srcIp4',
  'dstIp4',
  'srcIp6',
  'dstIp6',
  'ipProto',
  'ipProtoValid',
  'ipId',
  'ipIdValid',
  'ttl',
  'fragOffset',
  'moreFragments',
  'ipPayloadLen',
  'ipPayloadLenValid',
  'flowLabel',
  'flowLabelValid',
  'dscp',
  'dscpValid',
  'srcPort',
  'dstPort',
  'portsValid',
  'tcpSeq',
  'tcpAck',
  'tcpFlags',
  'tcpHdrLen',
  'tcpWindow',
  'tcpValid',
  'tcpPayloadLen',
  'tcpPayloadLenValid',
  'payloadLen',
  'payloadLenValid',
  'payloadHashValid',
  'fingerprintValid',
] as const satisfies readonly (keyof PacketColumns)[];

/** `struct run`'s u32 words after the column addresses (pcap-ethernet.c) */
const W = KERNEL_COLUMNS.length;
export const RunWord = {
  queueBase: W,
  queueStride: W + 1,
  udpNext: W + 2,
  pos: W + 3,
  end: W + 4,
  row: W + 5,
  cap: W + 6,
  frame: W + 7,
  qn: W + 8,
  qlimit: W + 9,
  bigEndian: W + 10,
  hdr: W + 11,
  mult: W + 12,
  fracLimit: W + 13,
  maxRecord: W + 14,
  snaplen: W + 15,
  stop: W + 16,
  iface: W + 17,
  maxBlock: W + 18,
} as const;
const RUN_WORDS = 66;
/** `struct run`'s f64 `base`, as an index of 8-byte words */
const BASE_F64 = RUN_WORDS / 2;

/** Why a run stopped (pcap-ethernet.c `STOP_*`). */
export const Stop = {
  /** the record at `pos` is not all in the buffer (or there is none) */
  more: 0,
  /** the record at `pos` is the JavaScript path's */
  record: 1,
  /** the batch or the hash queue is full */
  full: 2,
} as const;

/** A batch in the kernel's memory: its columns, where they are, and their addresses for the run block. */
export interface KernelBatch {
  readonly columns: PacketColumns;
  readonly memory: SharedBatchMemory;
  /** the KERNEL_COLUMNS' addresses */
  readonly addresses: Uint32Array;
  readonly slot: number;
}

export interface PcapKernel {
  /** the run block's words; set the inputs, call `run`, read the outputs */
  readonly words: Uint32Array;
  /** `base`: file offset of memory address 0 for the buffer being run */
  setBase(base: number): void;
  /** classic pcap records */
  readonly run: () => void;
  /** pcapng Enhanced Packet Blocks */
  readonly runEpb: () => void;
  /** the batch whose addresses are in the run block */
  current: KernelBatch | null;
  /** rows the kernel has written on this thread: tests check that it ran */
  rows: number;
  readonly memory: SharedArrayBuffer;
  readonly free: number[];
  readonly batches: (KernelBatch | undefined)[];
}

function createKernel(): PcapKernel | null {
  const q = hashQueue();
  const wasm = webAssembly();
  if (q === null || wasm === undefined || !(q.buffer instanceof SharedArrayBuffer)) return null;
  try {
    const bytes = new Uint8Array(Buffer.from(PCAP_ETHERNET_WASM, 'base64'));
    const instance = new wasm.Instance(new wasm.Module(bytes), { env: { memory: q.memory } });
    const run = instance.exports['run'] as (block: number) => void;
    const runEpb = instance.exports['run_epb'] as (block: number) => void;
    const block = KERNEL_BASE + RUN_AT;
    const words = new Uint32Array(q.buffer, block, RUN_WORDS);
    const f64 = new Float64Array(q.buffer, block, BASE_F64 + 1);
    new Uint8Array(q.buffer, KERNEL_BASE + UDP_TABLE_AT, 65536).set(UDP_PORT_NEXT);
    words[RunWord.queueBase] = QUEUE_BASE;
    words[RunWord.queueStride] = QUEUE_STRIDE;
    words[RunWord.udpNext] = KERNEL_BASE + UDP_TABLE_AT;
    words[RunWord.qlimit] = QUEUE_LIMIT;
    return {
      words,
      setBase: (base) => {
        f64[BASE_F64] = base;
      },
      run: () => run(block),
      runEpb: () => runEpb(block),
      current: null,
      rows: 0,
      memory: q.buffer,
      free: Array.from({ length: KERNEL_BATCHES }, (_, i) => KERNEL_BATCHES - 1 - i),
      batches: [],
    };
  } catch {
    return null;
  }
}

const kernel = createKernel();
/** every batch `takeKernelBatch` made, by its columns, while it is taken */
const taken = new WeakMap<PacketColumns, KernelBatch>();

/** This thread's kernel, or null. */
export function pcapKernel(): PcapKernel | null {
  return kernel;
}

/**
 * A batch of `capacity` rows the kernel can write, all zeros, or null when none is free or the
 * capacity is larger than a kernel batch. Its memory is this thread's, shared: other threads may read
 * it (the dataset encoder). Give it back with `giveKernelBatch` once nothing reads it.
 */
export function takeKernelBatch(capacity: number): KernelBatch | null {
  const k = kernel;
  if (k === null || capacity < 1 || capacity > KERNEL_BATCH_ROWS) return null;
  const slot = k.free.pop();
  if (slot === undefined) return null;
  const offset = KERNEL_BASE + BATCHES_AT + slot * BATCH_BYTES;
  const memory = sharedBatchMemory(capacity, { buffer: k.memory, offset });
  // the slot may hold an earlier batch's rows, of this capacity or another: a sink's batch starts as
  // a new PacketColumns does (all zeros, no decode errors interned), so what it holds never depends
  // on what ran before. A slot never taken is zeros already, and zeroing it would only fault in
  // pages nothing may use (~0.3 s of an ingest's four 32768-row batches).
  if (k.batches[slot] !== undefined) zeroShared(memory);
  const addresses = new Uint32Array(KERNEL_COLUMNS.map((name) => fieldOffset(memory, name)));
  const batch = { columns: columnsOver(memory), memory, addresses, slot };
  k.batches[slot] = batch;
  taken.set(batch.columns, batch);
  return batch;
}

/** The kernel batch `c` is, while it is taken; null for a batch anywhere else. */
export function kernelBatchOf(c: PacketColumns): KernelBatch | null {
  return taken.get(c) ?? null;
}

export function giveKernelBatch(b: KernelBatch): void {
  const k = kernel;
  if (k === null || k.batches[b.slot] !== b || k.free.includes(b.slot)) return;
  if (k.current === b) k.current = null;
  taken.delete(b.columns);
  k.free.push(b.slot);
}
