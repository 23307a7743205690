/**
 * A lab fixture analysed and judged in memory, the way `hoptrace analyze` does it (analyzers/verdicts.ts),
 * without writing a dataset: the report input and the verdicts as the report reads them back from
 * verdicts.json. For the unit tests of the report model and for bench/report.ts; the browser tests run
 * the whole `analyzeBundle` stage instead.
 */
import path from 'node:path';
import { analysisWithCoverage, loadRuleSets, verdictsFromFlows } from '../../analyzers/verdicts.ts';
import { normalizeVerdicts, type Verdicts } from '../../reports/read-verdicts.ts';
import { type ReportInput, reportInputFromAnalysis } from '../../reports/report-input.ts';

export const fixtureBundle = (mode: string): string =>
  path.resolve(import.meta.dirname, '..', '..', 'fixtures', mode, 'bundle');

/** `datapath`: judge every node as this datapath (`--datapath`), else as node_capabilities says. */
export async function judgedFixture(
  mode: string,
  datapath?: 'datapathv2' | 'kernel',
): Promise<{ input: ReportInput; verdicts: Verdicts }> {
  const bundle = fixtureBundle(mode);
  const analysis = await analysisWithCoverage(bundle);
  const rules = loadRuleSets({});
  if (rules.errors.length > 0) throw new Error(`shipped rules have errors: ${rules.errors.length}`);
  const { document } = verdictsFromFlows(analysis, rules.rules, { datapath });
  return {
    input: reportInputFromAnalysis(analysis.analysis, bundle),
    // through JSON, as the report reads verdicts.json
    verdicts: normalizeVerdicts(JSON.parse(JSON.stringify(document))),
  };
}
