/**
 * Writes the analyzers' tables into a dataset folder as Parquet (DESIGN §4), by table-file.ts as the
 * analysis makes the rows: `sightings/` in parts (sightings-parts.ts), `flows/`, `flow_hops/`,
 * `flow_coverage/` and `clock_offsets/` (flow-tables.ts). No value read from a capture is ever put
 * into SQL text: nothing here is SQL. The views `hoptrace sql` opens over them come from
 * ingest/dataset/views.ts.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ClockOffset } from './clock-offsets.ts';
import type { Sightings } from './correlate/sightings.ts';
import { FlowTables } from './flow-tables.ts';
import type { Flow } from './flows.ts';
import {
  localSightings,
  PART_ROWS,
  type SightingsOpener,
  type SightingsSink,
  type StageTexts,
  stageTextsOf,
} from './sightings-parts.ts';

export interface AnalysisTables {
  sightings: Sightings;
  flows: Flow[];
  flowOfPacket: Int32Array;
  clockOffsets: ClockOffset[];
  /** capture files by FrameTable file number */
  files: string[];
}

export interface WriteOptions {
  /** sightings rows gathered in JS at a time; default PART_ROWS */
  partRows?: number;
}

/** Writes the tables under `datasetDir/<table>/`, replacing earlier ones (a held analysis: flows in id order). */
export async function writeAnalysisTables(
  datasetDir: string,
  t: AnalysisTables,
  opts: WriteOptions = {},
): Promise<void> {
  const root = path.resolve(datasetDir);
  const stage = await AnalysisStage.open(
    path.join(root, `.analysis-tmp-${process.pid}`),
    path.join(root, 'sightings'),
    stageTextsOf(t.sightings, t.files),
    opts,
  );
  try {
    stage.sightings(t.sightings, t.flowOfPacket, 0);
    for (const f of t.flows) stage.flow(f);
  } catch (e) {
    await stage.discard();
    throw e;
  }
  await stage.finish(datasetDir, t.clockOffsets);
}

/**
 * The analyzers' tables written as the analysis makes them: a slab's sightings as the slab is
 * correlated (`SightingsParts`, a Parquet part after another into `partsDir`), a flow's rows as it
 * ends (`FlowTables`, into `tmp`); `finish` moves them into the dataset, once its folder exists.
 * Nothing of a capture stays in JS memory.
 */
export class AnalysisStage {
  private state: 'open' | 'finishing' | 'finished' | 'discarded' = 'open';
  /** sightings parts moved into the dataset so far */
  private readonly moved: string[] = [];

  private constructor(
    private readonly tmp: string,
    private readonly partsDir: string,
    private readonly parts: SightingsSink,
    private readonly flows: FlowTables,
  ) {}

  /**
   * `partsDir`: where the sightings' parts go, written by `sightingsOn` (default: on this thread);
   * `tmp`: the per-flow tables' files until `finish`.
   */
  static async open(
    tmp: string,
    partsDir: string,
    texts: StageTexts,
    opts: WriteOptions & { rowsPerPart?: number; sightingsOn?: SightingsOpener } = {},
  ): Promise<AnalysisStage> {
    const open = opts.sightingsOn ?? localSightings;
    const parts = open(partsDir, texts, {
      ...(opts.rowsPerPart ? { rowsPerPart: opts.rowsPerPart } : {}),
      partRows: Math.max(1, opts.partRows ?? PART_ROWS),
    });
    let flows: FlowTables;
    try {
      flows = await FlowTables.open(tmp);
    } catch (e) {
      parts.discard();
      await fs.rm(tmp, { recursive: true, force: true });
      throw e;
    }
    return new AnalysisStage(tmp, partsDir, parts, flows);
  }

  /** The sightings of `s` (a slab, or all of them), packets numbered from `packetBase`; `flowOf` by `s`'s packet numbers. */
  sightings(s: Sightings, flowOf: Int32Array, packetBase: number): void {
    this.parts.slab(s, flowOf, packetBase);
  }

  flow(f: Flow): void {
    this.flows.add(f);
  }

  /** The Parquet files under `datasetDir/<table>/`; after a failure nothing of the stage is left. */
  async finish(datasetDir: string, clockOffsets: readonly ClockOffset[]): Promise<void> {
    if (this.state !== 'open') throw new Error(`analysis tables: finish when ${this.state}`);
    this.state = 'finishing';
    const root = path.resolve(datasetDir);
    try {
      const parts = this.parts.finish();
      const into = path.join(root, 'sightings');
      await fs.mkdir(into, { recursive: true });
      await this.flows.finish(root, clockOffsets);
      if (path.resolve(this.partsDir) !== into)
        for (const part of parts) {
          const to = path.join(into, path.basename(part));
          await fs.rename(part, to);
          this.moved.push(to);
        }
    } catch (e) {
      await this.discard();
      throw e;
    }
    this.state = 'finished';
    await fs.rm(this.tmp, { recursive: true, force: true });
  }

  /**
   * After a failure: removes the sightings' parts and the flows' files written so far, moved into the
   * dataset or not (a part left in a dataset's folder would be read as the whole table). Nothing once
   * finished.
   */
  async discard(): Promise<void> {
    if (this.state === 'finished' || this.state === 'discarded') return;
    this.state = 'discarded';
    try {
      this.parts.discard();
    } catch {
      // (the flows' files and the moved parts go all the same)
    }
    for (const part of this.moved) await fs.rm(part, { force: true });
    await this.flows.discard().catch(() => undefined);
    await fs.rm(this.tmp, { recursive: true, force: true });
  }
}
