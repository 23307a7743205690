/**
 * A worker thread running one of our TypeScript modules. The sources run through tsx (no build step)
 * and a worker does not inherit the main thread's loader, so the worker registers tsx itself before it
 * imports the module (as analyzers/correlate/parallel-slabs.ts does). Start-up costs ~0.3 s here.
 */
import { type TransferListItem, Worker } from 'node:worker_threads';

export function tsWorker(module: URL, workerData: unknown, transferList: TransferListItem[] = []): Worker {
  const boot = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})
  .then((tsx) => { tsx.register(); return import(${JSON.stringify(module.href)}); })
  .catch((err) => { throw err; });`;
  return new Worker(boot, { eval: true, workerData, transferList });
}
