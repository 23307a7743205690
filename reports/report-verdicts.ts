/**
 * What the report keeps of each flow's verdict while the rules stream them to the outputs: the flows
 * it may detail (every failing or inconclusive one, and the first `passingDetail` others of each
 * scenario, which the sample of report-model.ts draws from) whole; of every other flow only what the
 * table, the aggregates and the coverage gaps read (status, scenario, rule, datapath, reason, points
 * not captured). Its checks, paths and evidence are in verdicts.json and the `verdicts` table.
 */
import type { FlowVerdict } from '../analyzers/rules/verdict-types.ts';
import { DEFAULT_PASSING_DETAIL, type ReportModelOptions, scenarioKey } from './report-model.ts';

const NONE: never[] = [];

export class ReportVerdicts {
  /** every flow in order: whole where the report may detail it, else without checks and paths */
  readonly flows: FlowVerdict[] = [];
  private readonly others = new Map<string, number>();
  private readonly passingDetail: number;

  constructor(opts: Pick<ReportModelOptions, 'passingDetail'> = {}) {
    this.passingDetail = opts.passingDetail ?? DEFAULT_PASSING_DETAIL;
  }

  add(f: FlowVerdict): void {
    if (f.status !== 'pass') {
      this.flows.push(f);
      return;
    }
    const key = scenarioKey(f);
    const seen = this.others.get(key) ?? 0;
    this.others.set(key, seen + 1);
    this.flows.push(
      seen < this.passingDetail
        ? f
        : {
            ...f,
            request_path: NONE,
            reply_path: NONE,
            skipped: NONE,
            unexpected: NONE,
            service_rewrite: null,
            checks: NONE,
            handled_by: NONE,
          },
    );
  }
}
