/**
 * The sightings thread (sightings-thread.ts): opens `SightingsParts` and answers each request in turn.
 * After a failure every later request is answered with it (the parts written so far are removed).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SightingsParts } from './sightings-parts.ts';
import type { SightingsAnswer, SightingsRequest, SightingsThreadInit } from './sightings-thread.ts';

const init = workerData as SightingsThreadInit;
const port = parentPort!;
const answer = (a: SightingsAnswer) => port.postMessage(a);
const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

let failed: string | null = null;
const opened = SightingsParts.open(init.tmp, init.partsDir, init.texts, init.opts);
let turn: Promise<unknown> = opened.then(
  () => answer({ ok: true }),
  (e: unknown) => {
    failed = message(e);
    answer({ ok: false, error: failed });
  },
);

async function handle(r: SightingsRequest): Promise<void> {
  if (failed !== null) return answer({ ok: false, error: failed });
  const parts = await opened;
  try {
    if (r.kind === 'rows') await parts.rows(r.rows);
    else if (r.kind === 'finish') return answer({ ok: true, parts: await parts.finish() });
    else await parts.discard();
    answer({ ok: true });
  } catch (e) {
    failed = message(e);
    await parts.discard().catch(() => undefined);
    answer({ ok: false, error: failed });
  }
}

port.on('message', (r: SightingsRequest) => {
  turn = turn.then(() => handle(r));
});
