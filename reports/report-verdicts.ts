/**
 * What the report keeps of each flow's verdict while the rules stream them to the outputs, in the order
 * flows end: whole, the flows it may detail (every failing or inconclusive one, and of each scenario the
 * `passingDetail` passing ones with the lowest ids so far, which the sample of report-model.ts draws
 * from: it takes them in id order); of every flow, what the table, the aggregates and the coverage gaps
 * read (identity, status, scenario, rule, datapath, reason, points not captured), as numbers in
 * columns. Checks, paths and evidence are in verdicts.json and the `verdicts` table. Objects kept one
 * per flow while the rules allocate and drop ~20 KB a flow would be promoted among that garbage and
 * spread the heap: the columns are made into flows once, at the end (`flows()`).
 */
import type { Datapath, FlowVerdict, PointRef, Reason, Status } from '../analyzers/rules/verdict-types.ts';
import { Interned } from '../analyzers/text-dict.ts';
import { keepLowest } from './lowest-ids.ts';
import { DEFAULT_PASSING_DETAIL, type ReportModelOptions, scenarioKey } from './report-model.ts';

const NONE: never[] = [];

export class ReportVerdicts {
  private readonly passingDetail: number;
  /** per scenario, the passing flows kept whole (their ids, a max-heap: the highest goes first) */
  private readonly passingKept = new Map<string, number[]>();
  /** flows kept whole by their index (the order they were added) */
  private readonly whole = new Map<number, FlowVerdict>();
  /** index of each flow kept whole by its id */
  private readonly indexOf = new Map<number, number>();
  private readonly text = new Interned<string | null>();
  private readonly code = (v: string | null): number => this.text.id(v);
  private readonly status = new Interned<Status>();
  private readonly datapath = new Interned<Datapath>();
  private readonly reason = new Interned<Reason | null>();
  /** per flow: `FIELDS` numbers, in pages of PAGE_FLOWS flows (an array grown by push was copied and its old
   * backing stores left as garbage: 0.16 s of the analysis thread at 5 M frames) */
  private readonly pages: Float64Array[] = [];
  /** the flows that name points not captured (few) */
  private readonly notCaptured = new Map<number, PointRef[]>();
  private count = 0;

  constructor(opts: Pick<ReportModelOptions, 'passingDetail'> = {}) {
    this.passingDetail = opts.passingDetail ?? DEFAULT_PASSING_DETAIL;
  }

  /** Adds a flow's verdict; returns whether it is kept whole (for now: a lower id may push it out later). */
  add(f: FlowVerdict): boolean {
    const i = this.count++;
    const t = this.code;
    const page = this.pages[i >>> PAGE_SHIFT] ?? this.newPage();
    const k = (i & (PAGE_FLOWS - 1)) * FIELDS;
    page[k] = f.flow_id;
    page[k + 1] = t(f.proto);
    page[k + 2] = t(f.client.ip);
    page[k + 3] = f.client.port;
    page[k + 4] = t(f.client.pod);
    page[k + 5] = t(f.client.node);
    page[k + 6] = t(f.server.ip);
    page[k + 7] = f.server.port;
    page[k + 8] = t(f.server.pod);
    page[k + 9] = t(f.server.node);
    page[k + 10] = f.service === null ? -1 : f.service.port;
    page[k + 11] = t(f.service?.ip ?? null);
    page[k + 12] = t(f.service?.name ?? null);
    page[k + 13] = f.scenario === null ? -1 : f.scenario.id;
    page[k + 14] = t(f.scenario?.rule ?? null);
    page[k + 15] = t(f.rule_id);
    page[k + 16] = this.datapath.id(f.datapath);
    page[k + 17] = this.status.id(f.status);
    page[k + 18] = this.reason.id(f.reason);
    if (f.not_captured.length > 0) this.notCaptured.set(i, f.not_captured);
    if (f.status === 'pass' && !this.keepPassing(f)) return false;
    this.whole.set(i, f);
    this.indexOf.set(f.flow_id, i);
    return true;
  }

  private newPage(): Float64Array {
    const page = new Float64Array(PAGE_FLOWS * FIELDS);
    this.pages.push(page);
    return page;
  }

  /** Whether a passing flow is among its scenario's `passingDetail` lowest ids so far (one it displaces is kept as columns only). */
  private keepPassing(f: FlowVerdict): boolean {
    const out = keepLowest(this.passingKept, scenarioKey(f), f.flow_id, this.passingDetail);
    if (out === f.flow_id) return false;
    if (out !== null) {
      this.whole.delete(this.indexOf.get(out)!);
      this.indexOf.delete(out);
    }
    return true;
  }

  /** Every flow in the order added: whole where the report may detail it, else without checks and paths. */
  flows(): FlowVerdict[] {
    const t = this.text.values;
    const out: FlowVerdict[] = [];
    for (let i = 0; i < this.count; i++) {
      const w = this.whole.get(i);
      if (w) {
        out.push(w);
        continue;
      }
      const c = this.pages[i >>> PAGE_SHIFT]!;
      const k = (i & (PAGE_FLOWS - 1)) * FIELDS;
      out.push({
        flow_id: c[k]!,
        proto: t[c[k + 1]!]!,
        client: { ip: t[c[k + 2]!]!, port: c[k + 3]!, pod: t[c[k + 4]!]!, node: t[c[k + 5]!]! },
        service: c[k + 10]! < 0 ? null : { ip: t[c[k + 11]!]!, port: c[k + 10]!, name: t[c[k + 12]!]! },
        server: { ip: t[c[k + 6]!]!, port: c[k + 7]!, pod: t[c[k + 8]!]!, node: t[c[k + 9]!]! },
        scenario: c[k + 13]! < 0 ? null : { id: c[k + 13]!, rule: t[c[k + 14]!]! },
        rule_id: t[c[k + 15]!]!,
        datapath: this.datapath.values[c[k + 16]!]!,
        request_path: NONE,
        reply_path: NONE,
        skipped: NONE,
        unexpected: NONE,
        not_captured: this.notCaptured.get(i) ?? NONE,
        service_rewrite: null,
        status: this.status.values[c[k + 17]!]!,
        reason: this.reason.values[c[k + 18]!]!,
        checks: NONE,
        handled_by: NONE,
      });
    }
    return out;
  }
}

/** numbers per flow in a page */
const FIELDS = 19;
const PAGE_SHIFT = 12;
const PAGE_FLOWS = 1 << PAGE_SHIFT;
