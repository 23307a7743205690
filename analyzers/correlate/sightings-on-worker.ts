/**
 * The sightings' Parquet parts written on the correlation worker (slab-worker.ts) instead of on the
 * thread that builds the flows. The worker holds each slab's frames and rows already, so only the
 * slab's flow ids travel (one Int32Array a slab, transferred). The flow-building thread is a streamed
 * analysis' critical path (at 5 M frames ~20 s, of which 1.4 s were these parts), while the worker waits
 * on it for part of every slab.
 *
 * Order: the worker keeps each slab it sends back that has frames (those the caller builds flows
 * from), and writes the oldest kept one when its flow ids come. The caller hands over slab k's flow ids
 * before it asks for slab k+2, the read that reuses slab k's table, and a worker takes its messages in
 * order, so a slab's table is still whole when its rows are written.
 */
import type { Worker } from 'node:worker_threads';
import {
  PART_ROWS,
  RowsScratch,
  removeParts,
  type SightingsOpener,
  SightingsParts,
  type SightingsPartsOptions,
  type SightingsSink,
  type StageTexts,
  writeSlab,
} from '../sightings-parts.ts';
import { ask } from './parallel-slabs.ts';
import type { Sightings } from './sightings.ts';

/** The messages the worker's parts take (slab-worker.ts passes them on to `SlabParts`). */
export type PartsMessage =
  | { partsOpen: { dir: string; texts: StageTexts; opts: SightingsPartsOptions & { partRows: number } } }
  | { partsSlab: { flowOf: Int32Array; packetBase: number; packets: number; rows: number } }
  | { partsFinish: true };

/** The worker's answer to `partsFinish`: the parts in row order, or why they could not be written. */
export type PartsFinished = { parts: string[] } | { partsFailure: string };

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export function isPartsMessage(m: object): m is PartsMessage {
  return 'partsOpen' in m || 'partsSlab' in m || 'partsFinish' in m;
}

/**
 * The caller's side: `open` (a `SightingsOpener`) has the worker open the parts; `close`, once every
 * slab's flow ids are sent, has it end the last part and says what failed, if anything did. The
 * worker's own end stays with whoever started it.
 */
export class SightingsOnWorker {
  private sink: WorkerSightings | null = null;

  constructor(private readonly worker: Worker) {}

  readonly open: SightingsOpener = (dir, texts, opts) => {
    if (this.sink) throw new Error('sightings on the correlation worker: opened twice');
    const m: PartsMessage = { partsOpen: { dir, texts, opts } };
    this.worker.postMessage(m);
    this.sink = new WorkerSightings(this.worker, dir);
    return this.sink;
  };

  /** After the last slab's flow ids: the parts, ended (nothing to do when never opened). */
  async close(): Promise<void> {
    const sink = this.sink;
    if (!sink || sink.parts) return;
    const m: PartsMessage = { partsFinish: true };
    const done = await ask<PartsFinished>(this.worker, m);
    if ('partsFailure' in done) throw new Error(done.partsFailure);
    sink.parts = done.parts;
  }
}

/** A `SightingsSink` whose rows the correlation worker writes. */
class WorkerSightings implements SightingsSink {
  /** the parts once the worker ended them (`SightingsOnWorker.close`) */
  parts: string[] | null = null;

  constructor(
    private readonly worker: Worker,
    private readonly dir: string,
  ) {}

  slab(s: Sightings, flowOf: Int32Array, packetBase: number): void {
    // the caller's array is reused for the next slab
    const ids = flowOf.slice(0, s.packets);
    // the slab's size goes along: the worker checks it against the slab it kept (pairing is in order)
    const m: PartsMessage = { partsSlab: { flowOf: ids, packetBase, packets: s.packets, rows: s.length } };
    this.worker.postMessage(m, [ids.buffer]);
  }

  finish(): string[] {
    if (this.parts === null) throw new Error('sightings on the correlation worker: finished before closed');
    return [...this.parts];
  }

  /** Called once the worker has ended (or before it wrote a part): removes every part it wrote. */
  discard(): void {
    removeParts(this.dir);
  }
}

/**
 * The worker's side: the slabs kept until their flow ids come, and the parts they are written to. A
 * failure is kept and told with every slab after it (`failure`) and at the end; the parts written so
 * far are removed at once.
 */
export class SlabParts {
  private parts: SightingsParts | null = null;
  private partRows = PART_ROWS;
  private readonly scratch = new RowsScratch();
  private readonly kept: Sightings[] = [];
  failure: string | null = null;

  /** Whether `keep` wants the slabs (parts opened, nothing failed). */
  get keeping(): boolean {
    return this.parts !== null;
  }

  /** A slab sent back to the caller, whose flow ids will come (`partsSlab`). */
  keep(s: Sightings): void {
    if (this.parts) this.kept.push(s);
  }

  /** Takes a parts message; the answer to post for `partsFinish`, else null. */
  take(m: PartsMessage): PartsFinished | null {
    if ('partsOpen' in m) {
      try {
        this.partRows = m.partsOpen.opts.partRows;
        this.parts = SightingsParts.open(m.partsOpen.dir, m.partsOpen.texts, m.partsOpen.opts);
      } catch (e) {
        this.fail(e);
      }
      return null;
    }
    if ('partsSlab' in m) {
      const s = this.kept.shift();
      if (this.parts === null) return null;
      if (s === undefined || s.packets !== m.partsSlab.packets || s.length !== m.partsSlab.rows) {
        this.fail(new Error('sightings on the correlation worker: flow ids for a slab it did not keep'));
        return null;
      }
      try {
        writeSlab(this.parts, s, m.partsSlab.flowOf, m.partsSlab.packetBase, this.partRows, this.scratch);
      } catch (e) {
        this.fail(e);
      }
      return null;
    }
    if (this.failure !== null) return { partsFailure: this.failure };
    try {
      const parts = this.parts?.finish() ?? [];
      this.parts = null;
      return { parts };
    } catch (e) {
      this.parts = null;
      return { partsFailure: `sightings parts: ${errorText(e)}` };
    }
  }

  /**
   * Whether a kept slab still reads from `table`: a read into it now would change rows not yet written
   * (the caller hands a slab's flow ids over before it asks for the read that reuses its table).
   */
  holds(table: object): boolean {
    return this.kept.some((s) => s.frames === table);
  }

  /** Fails the parts (told with the next answer), e.g. a table reused under a kept slab. */
  fail(e: unknown): void {
    this.failure ??= `sightings parts: ${errorText(e)}`;
    this.kept.length = 0;
    const parts = this.parts;
    this.parts = null;
    try {
      parts?.discard();
    } catch {
      // (the caller removes what is left: WorkerSightings.discard)
    }
  }
}
