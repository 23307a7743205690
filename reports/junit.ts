/**
 * JUnit XML (DESIGN §8): one test case per flow and check, grouped in one test suite per scenario.
 * `fail` -> `<failure>`, `inconclusive` -> `<skipped>` (CI shows it, and it does not fail the job).
 * Every value comes from captures or rule files, so all text is escaped; nothing is put in a CDATA section.
 * `writeJunitXml` streams the same text to a file flow by flow (a production bundle has hundreds of
 * thousands of flows, ten test cases each).
 */

import type { FlowVerdict } from '../analyzers/rules/verdict-types.ts';
import type { VerdictsDocument } from '../analyzers/verdicts.ts';
import { writeTextFile } from './text-file.ts';

// biome-ignore lint/suspicious/noControlCharactersInRegex: characters XML cannot carry are looked for
const NEEDS_ESCAPE = /[&<>"'\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/;

function xml(text: string): string {
  // most names and messages need no escape: one test instead of six replacements
  if (!NEEDS_ESCAPE.test(text)) return text;
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

interface Suite {
  flows: FlowVerdict[];
  tests: number;
  failures: number;
  skipped: number;
}

const counts = (s: Suite) => `tests="${s.tests}" failures="${s.failures}" skipped="${s.skipped}" errors="0"`;

/** The document's JUnit text, line by line (each with its newline), to `write`. */
function junitLines(doc: VerdictsDocument, name: string, write: (line: string) => void): void {
  const suites = new Map<string, Suite>();
  const all: Suite = { flows: doc.flows, tests: 0, failures: 0, skipped: 0 };
  for (const f of doc.flows) {
    const key = scenarioLabel(f);
    let suite = suites.get(key);
    if (suite === undefined) {
      suite = { flows: [], tests: 0, failures: 0, skipped: 0 };
      suites.set(key, suite);
    }
    suite.flows.push(f);
    for (const c of f.checks) {
      const fail = c.status === 'fail' ? 1 : 0;
      const skip = c.status === 'inconclusive' ? 1 : 0;
      suite.tests++;
      suite.failures += fail;
      suite.skipped += skip;
      all.tests++;
      all.failures += fail;
      all.skipped += skip;
    }
  }
  write('<?xml version="1.0" encoding="UTF-8"?>\n');
  write(`<testsuites name="${xml(name)}" ${counts(all)}>\n`);
  for (const [label, suite] of [...suites].sort((a, b) => a[0].localeCompare(b[0]))) {
    write(`  <testsuite name="${xml(label)}" ${counts(suite)}>\n`);
    for (const f of suite.flows) {
      const classname = xml(flowLabel(f));
      for (const c of f.checks) {
        const head = `    <testcase classname="${classname}" name="${xml(c.name)}"`;
        if (c.status === 'pass') {
          write(`${head}/>\n`);
          continue;
        }
        if (c.status === 'fail') {
          const evidence = c.evidence.map((e) => `${e.point} ${e.file}#${e.frame}`).join('\n');
          const body = evidence ? `${c.message}\nevidence:\n${evidence}` : c.message;
          write(
            `${head}>\n      <failure type="${xml(c.reason ?? 'fail')}" message="${xml(c.message)}">${xml(body)}</failure>\n    </testcase>\n`,
          );
        } else
          write(
            `${head}>\n      <skipped message="${xml(`${c.reason ?? 'inconclusive'}: ${c.message}`)}"/>\n    </testcase>\n`,
          );
      }
    }
    write('  </testsuite>\n');
  }
  write('</testsuites>\n');
}

export function junitXml(doc: VerdictsDocument, name = 'hoptrace'): string {
  const parts: string[] = [];
  junitLines(doc, name, (line) => parts.push(line));
  return parts.join('');
}

/** `junitXml` streamed to `file` (temporary name, then renamed). */
export function writeJunitXml(file: string, doc: VerdictsDocument, name = 'hoptrace'): void {
  writeTextFile(file, (out) => junitLines(doc, name, (line) => out.write(line)));
}
