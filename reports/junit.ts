/**
 * JUnit XML (DESIGN §8): one test case per flow and check, grouped in one test suite per scenario.
 * `fail` -> `<failure>`, `inconclusive` -> `<skipped>` (CI shows it, and it does not fail the job).
 * Every value comes from captures or rule files, so all text is escaped; nothing is put in a CDATA section.
 */

import type { FlowVerdict } from '../analyzers/rules/verdict-types.ts';
import type { VerdictsDocument } from '../analyzers/verdicts.ts';

function xml(text: string): string {
  // characters XML 1.0 cannot carry at all are dropped, not escaped
  // biome-ignore lint/suspicious/noControlCharactersInRegex: that is the point
  const clean = text.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '');
  return clean
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

const hostPort = (ip: string, port: number) => `${ip.includes(':') ? `[${ip}]` : ip}:${port}`;

/** A flow's name in reports: `tcp default/client 10.0.1.101:40051 -> 172.21.0.10:80 -> default/web-1`. */
export function flowLabel(f: FlowVerdict): string {
  const who = (e: FlowVerdict['client']) =>
    e.pod !== null ? `${e.pod} ${hostPort(e.ip, e.port)}` : hostPort(e.ip, e.port);
  const via = f.service ? ` -> ${hostPort(f.service.ip, f.service.port)}` : '';
  return `#${f.flow_id} ${f.proto} ${who(f.client)}${via} -> ${who(f.server)}`;
}

export function scenarioLabel(f: FlowVerdict): string {
  if (f.scenario === null) return f.rule_id !== null ? 'host-network' : 'unclassified';
  return `scenario ${f.scenario.id}${f.scenario.rule ? ` (${f.scenario.rule})` : ''}`;
}

export function junitXml(doc: VerdictsDocument, name = 'hoptrace'): string {
  const suites = new Map<string, FlowVerdict[]>();
  for (const f of doc.flows) {
    const key = scenarioLabel(f);
    suites.set(key, [...(suites.get(key) ?? []), f]);
  }
  const count = (fs: FlowVerdict[], s: string) =>
    fs.reduce((n, f) => n + f.checks.filter((c) => c.status === s).length, 0);
  const total = (fs: FlowVerdict[]) => fs.reduce((n, f) => n + f.checks.length, 0);
  const all = doc.flows;
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${xml(name)}" tests="${total(all)}" failures="${count(all, 'fail')}" skipped="${count(all, 'inconclusive')}" errors="0">`,
  ];
  for (const [suite, flows] of [...suites].sort((a, b) => a[0].localeCompare(b[0]))) {
    lines.push(
      `  <testsuite name="${xml(suite)}" tests="${total(flows)}" failures="${count(flows, 'fail')}" skipped="${count(flows, 'inconclusive')}" errors="0">`,
    );
    for (const f of flows)
      for (const c of f.checks) {
        const head = `    <testcase classname="${xml(flowLabel(f))}" name="${xml(c.name)}"`;
        const evidence = c.evidence.map((e) => `${e.point} ${e.file}#${e.frame}`).join('\n');
        const body = evidence ? `${c.message}\nevidence:\n${evidence}` : c.message;
        if (c.status === 'pass') lines.push(`${head}/>`);
        else if (c.status === 'fail')
          lines.push(
            `${head}>`,
            `      <failure type="${xml(c.reason ?? 'fail')}" message="${xml(c.message)}">${xml(body)}</failure>`,
            '    </testcase>',
          );
        else
          lines.push(
            `${head}>`,
            `      <skipped message="${xml(`${c.reason ?? 'inconclusive'}: ${c.message}`)}"/>`,
            '    </testcase>',
          );
      }
    lines.push('  </testsuite>');
  }
  lines.push('</testsuites>', '');
  return lines.join('\n');
}
