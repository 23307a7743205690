/**
 * The terminal summary of `hoptrace analyze`: a table of scenarios x status, the nodes (kernel, claimed
 * and observed datapath), then each failing flow with its failed checks, then where the outputs are.
 */
import type { FlowVerdict } from '../analyzers/rules/verdict-types.ts';
import type { VerdictsDocument } from '../analyzers/verdicts.ts';
import { flowLabel, scenarioLabel } from './junit.ts';

const STATUSES = ['pass', 'fail', 'inconclusive'] as const;

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) =>
    r
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
}

export interface SummaryOptions {
  /** failing flows listed in full at most (the rest are counted) */
  maxFailures?: number;
  /** also list inconclusive flows with their reasons */
  showInconclusive?: boolean;
}

export function summaryText(doc: VerdictsDocument, opts: SummaryOptions = {}): string {
  const out: string[] = [];
  // counts in one pass: a streamed analysis hands over millions of flows
  const counts = (m: Map<string, number[]>, k: string, f: FlowVerdict) => {
    let c = m.get(k);
    if (c === undefined) {
      c = STATUSES.map(() => 0);
      m.set(k, c);
    }
    const i = STATUSES.indexOf(f.status);
    if (i >= 0) c[i]! += 1;
    return c;
  };
  const byScenario = new Map<string, number[]>();
  const flowsOf = new Map<string, number>();
  const total = new Map<string, number[]>();
  for (const f of doc.flows) {
    const k = scenarioLabel(f);
    counts(byScenario, k, f);
    flowsOf.set(k, (flowsOf.get(k) ?? 0) + 1);
    counts(total, '', f);
  }
  const rows = [['scenario', 'flows', ...STATUSES]];
  for (const [k, c] of [...byScenario].sort((a, b) => a[0].localeCompare(b[0])))
    rows.push([k, String(flowsOf.get(k)), ...c.map(String)]);
  rows.push(['total', String(doc.flows.length), ...(total.get('') ?? STATUSES.map(() => 0)).map(String)]);
  out.push(...table(rows), '');
  const nodeRows = [['node', 'kernel', 'rule set', 'claimed', 'observed']];
  for (const n of doc.nodes)
    nodeRows.push([n.node, n.kernel ?? 'unknown', n.rule_set ?? 'none', n.claimed, n.observed]);
  out.push(...table(nodeRows), '');
  // in id order, as the held analysis listed them: flows end, and so come, out of it
  const ofStatus = (status: FlowVerdict['status']) =>
    doc.flows.filter((f) => f.status === status).sort((a, b) => a.flow_id - b.flow_id);
  const failing = ofStatus('fail');
  const max = opts.maxFailures ?? 20;
  for (const f of failing.slice(0, max)) {
    out.push(`FAIL ${flowLabel(f)} [${scenarioLabel(f)}, ${f.rule_id ?? 'no rule'}, datapath ${f.datapath}]`);
    for (const c of f.checks.filter((c) => c.status === 'fail'))
      out.push(`  ${c.name} (${c.reason}): ${c.message}`);
  }
  if (failing.length > max)
    out.push(`... and ${failing.length - max} more failing flow(s): see verdicts.json`);
  if (opts.showInconclusive)
    for (const f of ofStatus('inconclusive')) {
      out.push(`INCONCLUSIVE ${flowLabel(f)} [${scenarioLabel(f)}]`);
      for (const c of f.checks.filter((c) => c.status === 'inconclusive'))
        out.push(`  ${c.name} (${c.reason}): ${c.message}`);
    }
  const notable = doc.warnings.filter(
    (w) => w.code.startsWith('verdicts.') && w.code !== 'verdicts.gateway-mac-not-checked',
  );
  if (notable.length > 0) out.push('', ...notable.map((w) => `note: ${w.message}`));
  return `${out.join('\n')}\n`;
}
