// (thread-priority.test.ts) lowers this thread by workerData steps and reports its priority before and
// after, and that of a thread it starts then
import { readlinkSync } from 'node:fs';
import { getPriority } from 'node:os';
import { parentPort, Worker, workerData } from 'node:worker_threads';
import { lowerThreadPriority } from '../../../ingest/dataset/thread-priority.ts';

const tid = () => Number(readlinkSync('/proc/thread-self').split('/').pop());
const before = getPriority(tid());
lowerThreadPriority(workerData as number);
const after = getPriority(tid());
const child = new Worker(
  `const { parentPort } = require('node:worker_threads'); const { getPriority } = require('node:os');
   parentPort.postMessage(getPriority(Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop())));`,
  { eval: true },
);
child.once('message', (p: number) => {
  parentPort!.postMessage({ before, after, child: p });
  void child.terminate();
});
