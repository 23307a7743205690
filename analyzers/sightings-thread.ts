/**
 * `SightingsParts` on a thread of its own: DuckDB's appender copies every staged value on the thread
 * that calls it (3.4 s of the analysis thread's 38 at 5 M frames, with the ENUM lookups beside it), so
 * `hoptrace analyze` hands each slab's rows over (their buffers transferred, not copied) and goes on
 * correlating and judging while this thread stages them. The rows come back to nobody: the thread
 * answers each request with an acknowledgement, the parts' paths at `finish`, or its failure.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Worker } from 'node:worker_threads';
import { tsWorker } from '../ingest/dataset/ts-worker.ts';
import {
  rowBuffers,
  type SightingRows,
  type SightingsPartsOptions,
  type StageTexts,
} from './sightings-parts.ts';

/** What `SightingsParts` and its thread both do. */
export interface SightingsWriter {
  rows(rows: SightingRows): Promise<void>;
  finish(): Promise<string[]>;
  discard(): Promise<void>;
}

export interface SightingsThreadInit {
  tmp: string;
  partsDir: string;
  texts: StageTexts;
  opts: SightingsPartsOptions;
}

export type SightingsRequest =
  | { kind: 'rows'; rows: SightingRows }
  | { kind: 'finish' }
  | { kind: 'discard' };

/** One answer per request, in order (the first answers the thread's opening). */
export type SightingsAnswer = { ok: true; parts?: string[] } | { ok: false; error: string };

/**
 * Requests handed over before the analysis waits for the oldest to be staged: enough to keep both
 * threads busy, few enough that a slow stage holds the analysis back instead of filling memory.
 */
const IN_FLIGHT = 2;

interface Pending {
  resolve: (a: { parts?: string[] }) => void;
  reject: (e: Error) => void;
}

export class SightingsThread implements SightingsWriter {
  private readonly pending: Pending[] = [];
  private readonly inFlight: Promise<unknown>[] = [];
  private failure: Error | null = null;
  private ended = false;

  private constructor(
    private readonly worker: Worker,
    private readonly partsDir: string,
  ) {
    worker.on('message', (a: SightingsAnswer) => {
      const p = this.pending.shift();
      if (a.ok) p?.resolve(a);
      else this.fail(new Error(a.error), p);
    });
    worker.on('error', (e: Error) => this.fail(e));
    worker.on('exit', (code) => {
      this.ended = true;
      if (this.pending.length > 0)
        this.fail(new Error(`sightings thread exited (code ${code}) before answering`));
    });
  }

  /** Starts the thread and waits for its database to be open. */
  static async open(
    tmp: string,
    partsDir: string,
    texts: StageTexts,
    opts: SightingsPartsOptions = {},
  ): Promise<SightingsThread> {
    const init: SightingsThreadInit = { tmp, partsDir, texts, opts };
    const t = new SightingsThread(
      tsWorker(new URL('./sightings-worker.ts', import.meta.url), init),
      partsDir,
    );
    try {
      await t.answer();
    } catch (e) {
      await t.worker.terminate();
      throw e;
    }
    return t;
  }

  async rows(rows: SightingRows): Promise<void> {
    const staged = this.request({ kind: 'rows', rows }, rowBuffers(rows));
    staged.catch(() => undefined);
    this.inFlight.push(staged);
    while (this.inFlight.length > IN_FLIGHT) await this.inFlight.shift();
  }

  async finish(): Promise<string[]> {
    try {
      const { parts } = await this.request({ kind: 'finish' });
      return parts ?? [];
    } finally {
      await this.worker.terminate();
    }
  }

  /**
   * Removes the parts written so far, by the thread, or here when it cannot answer (it failed, ended or
   * finished): every part in the parts folder is this run's (`SightingsParts.open` emptied it).
   */
  async discard(): Promise<void> {
    try {
      if (!this.ended) await this.request({ kind: 'discard' }).catch(() => undefined);
    } finally {
      await this.worker.terminate();
      for (const f of await fs.readdir(this.partsDir).catch(() => []))
        if (/^part-\d+\.parquet$/.test(f)) await fs.rm(path.join(this.partsDir, f), { force: true });
    }
  }

  private request(r: SightingsRequest, transfer: ArrayBuffer[] = []): Promise<{ parts?: string[] }> {
    if (this.failure) return Promise.reject(this.failure);
    const answer = this.answer();
    this.worker.postMessage(r, transfer);
    return answer;
  }

  private answer(): Promise<{ parts?: string[] }> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.pending.push({ resolve, reject }));
  }

  /** A failure fails the request it answers and every one after it. */
  private fail(e: Error, first?: Pending): void {
    this.failure ??= e;
    first?.reject(e);
    for (const p of this.pending.splice(0)) p.reject(this.failure);
  }
}
