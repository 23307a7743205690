/**
 * The pcap kernel's part of a thread's WebAssembly memory (it follows the read buffers and the hash
 * queue, payload-hash-wasm.ts `KERNEL_BASE`): the run block the kernel and pcap-kernel.ts talk
 * through, the UDP tunnel-port table, and batches whose columns the kernel writes.
 *
 * The batches are there because the kernel can only write its own memory. A batch sink that makes
 * its own batch takes one (pcap-kernel.ts `takeKernelBatch`), and so does the dataset encoder for the
 * batches it hands the sink; a batch elsewhere (or none free) is decoded in JavaScript as before.
 * The memory is reserved, not used: pages no batch touches cost no RSS. But a WebAssembly memory
 * never gives pages back, so a batch's pages, once touched, stay resident as long as the thread:
 * at most KERNEL_BATCHES of the largest batches used (8 MiB a 32768-row batch). Lanes of a large
 * input of several files (analyze's bundles) run in worker threads that end with them; a one-file
 * ingest runs its lane on the calling thread, which keeps its batches (up to five: the lane's four
 * encoder slots and a sink's) until it exits.
 */
import { sharedBatchBytes } from '../../columns/shared-batch.ts';

/**
 * rows a kernel batch may have: the dataset's batches (write-dataset.ts PIPELINE_BATCH_ROWS); the
 * batch sink's own are a quarter of that (packets-from-capture.ts DEFAULT_BATCH_ROWS)
 */
export const KERNEL_BATCH_ROWS = 32768;
/**
 * batches a thread may have in the kernel's memory at once: the dataset encoder's (encode-thread.ts,
 * four by default) and one per file a batch sink is reading
 */
export const KERNEL_BATCHES = 8;

const PAGE = 65536;
const pages = (bytes: number): number => Math.ceil(bytes / PAGE) * PAGE;

/** offsets from KERNEL_BASE */
export const RUN_AT = 0;
export const UDP_TABLE_AT = PAGE;
export const BATCHES_AT = 2 * PAGE;
export const BATCH_BYTES = pages(sharedBatchBytes(KERNEL_BATCH_ROWS));
export const KERNEL_BYTES = BATCHES_AT + KERNEL_BATCHES * BATCH_BYTES;
