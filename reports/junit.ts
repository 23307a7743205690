/**
 * JUnit XML (DESIGN §8): one test case per flow and check, grouped in one test suite per scenario.
 * `fail` -> `<failure>`, `inconclusive` -> `<skipped>` (CI shows it, and it does not fail the job).
 * Every value comes from captures or rule files, so all text is escaped; nothing is put in a CDATA section.
 * `writeJunitXml` streams the same text to a file flow by flow (a production bundle has hundreds of
 * thousands of flows, ten test cases each).
 */

import fs from 'node:fs';
import path from 'node:path';
import { ByCheckFields } from '../analyzers/rules/shared-checks.ts';
import type { CheckResult, FlowVerdict } from '../analyzers/rules/verdict-types.ts';
import type { VerdictsDocument } from '../analyzers/verdicts.ts';
import { TextFile, writeTextFile } from './text-file.ts';
import { writeThread } from './write-thread.ts';

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

/** A text as it is (flowLabel's parts need no escaping). */
const asIs = (text: string): string => text;

/** `ip:port`, `[ip]:port` for IPv6, the address through `text`. */
function hostPort(ip: string, port: number, text: (t: string) => string): string {
  return `${text(ip.includes(':') ? `[${ip}]` : ip)}:${port}`;
}

function who(e: FlowVerdict['client'], text: (t: string) => string): string {
  const at = hostPort(e.ip, e.port, text);
  return e.pod !== null ? `${text(e.pod)} ${at}` : at;
}

/** flowLabel with each of its texts through `text` and `arrow` between the endpoints. */
function labelOf(f: FlowVerdict, text: (t: string) => string, arrow: string): string {
  const via = f.service ? `${arrow}${hostPort(f.service.ip, f.service.port, text)}` : '';
  return `#${f.flow_id} ${text(f.proto)} ${who(f.client, text)}${via}${arrow}${who(f.server, text)}`;
}

/** A flow's name in reports: `tcp default/client 10.0.1.101:40051 -> 172.21.0.10:80 -> default/web-1`. */
export function flowLabel(f: FlowVerdict): string {
  return labelOf(f, asIs, ' -> ');
}

export function scenarioLabel(f: FlowVerdict): string {
  if (f.scenario === null) return f.rule_id !== null ? 'host-network' : 'unclassified';
  return `scenario ${f.scenario.id}${f.scenario.rule ? ` (${f.scenario.rule})` : ''}`;
}

/** Where text goes: a file being written, or a list of strings. */
export interface TextSink {
  write(text: string): void;
}

/** How a suite's test cases are kept until every flow is judged, and put after its suite's header. */
export interface SuiteParts<P extends TextSink, O extends TextSink> {
  create(index: number): P;
  /** `part`'s text to `out` (the part is done with afterwards) */
  appendTo(out: O, part: P): void;
  /** `part` dropped unfinished (after a failure) */
  discard(part: P): void;
}

interface Suite<P> {
  part: P;
  tests: number;
  failures: number;
  skipped: number;
}

type Counts = Omit<Suite<unknown>, 'part'>;

const counts = (s: Counts) => `tests="${s.tests}" failures="${s.failures}" skipped="${s.skipped}" errors="0"`;

const TESTCASE = '    <testcase classname="';

function caseRestOf(c: CheckResult): string {
  const head = `" name="${xml(c.name)}"`;
  if (c.status === 'pass') return `${head}/>\n`;
  if (c.status === 'fail') {
    const evidence = c.evidence.map((e) => `${e.point} ${e.file}#${e.frame}`).join('\n');
    const body = evidence ? `${c.message}\nevidence:\n${evidence}` : c.message;
    return `${head}>\n      <failure type="${xml(c.reason ?? 'fail')}" message="${xml(c.message)}">${xml(body)}</failure>\n    </testcase>\n`;
  }
  return `${head}>\n      <skipped message="${xml(`${c.reason ?? 'inconclusive'}: ${c.message}`)}"/>\n    </testcase>\n`;
}

/**
 * `text` in one piece: a string made by concatenation is a tree of its parts until V8 copies it into
 * one piece, which reading a character does. A text written many times (a flow's class name, once per
 * check; a shared test case, once per flow) is then copied as a block each time the part is joined,
 * instead of its tree being walked. Measured: 7.0 -> 5.9 us a flow.
 */
function flat(text: string): string {
  text.charCodeAt(0);
  return text;
}

/** Texts kept before a cache starts over (some, like messages naming frames, never repeat). */
const MAX_KEPT = 1 << 14;

/**
 * JUnit XML as the flows come: each flow's test cases go to its suite's part at once (and the flow
 * is dropped), the counts are kept; `finish` writes the suites, sorted by name, each with its part.
 */
export class JunitWriter<P extends TextSink, O extends TextSink> {
  private readonly suites = new Map<string, Suite<P>>();
  private readonly all: Counts = { tests: 0, failures: 0, skipped: 0 };
  private readonly caseTexts = new WeakMap<CheckResult, string>();
  /** a test case after its class name, of a check without evidence in it (not failed) */
  private readonly restTexts = new ByCheckFields<string>(MAX_KEPT);
  /** texts of a flow's label, escaped */
  private readonly escaped = new Map<string, string>();

  constructor(private readonly parts: SuiteParts<P, O>) {}

  flow(f: FlowVerdict): void {
    const key = scenarioLabel(f);
    let suite = this.suites.get(key);
    if (suite === undefined) {
      suite = { part: this.parts.create(this.suites.size), tests: 0, failures: 0, skipped: 0 };
      this.suites.set(key, suite);
    }
    const checks = f.checks;
    if (checks.length === 0) return;
    const head = flat(`${TESTCASE}${this.label(f)}`);
    const part = suite.part;
    for (let i = 0; i < checks.length; i++) {
      const c = checks[i]!;
      const fail = c.status === 'fail' ? 1 : 0;
      const skip = c.status === 'inconclusive' ? 1 : 0;
      suite.tests++;
      suite.failures += fail;
      suite.skipped += skip;
      this.all.tests++;
      this.all.failures += fail;
      this.all.skipped += skip;
      part.write(head);
      part.write(this.caseRest(c));
    }
  }

  /** `xml(flowLabel(f))`, from the label's parts escaped once each (escaping is character by character). */
  private label(f: FlowVerdict): string {
    return labelOf(f, this.escape, ' -&gt; ');
  }

  /** `xml`, each text escaped once while it is kept (made once: a method passed along is a new closure) */
  private readonly escape = (text: string): string => this.xml(text);

  private xml(text: string): string {
    let escaped = this.escaped.get(text);
    if (escaped === undefined) {
      if (this.escaped.size >= MAX_KEPT) this.escaped.clear();
      escaped = xml(text);
      this.escaped.set(text, escaped);
    }
    return escaped;
  }

  /**
   * A test case after its class name: a frozen check's (one many flows share) made once, another's
   * once per name, status, reason and message unless it failed (a failure shows the evidence).
   */
  private caseRest(c: CheckResult): string {
    let text = this.caseTexts.get(c);
    if (text !== undefined) return text;
    if (Object.isFrozen(c)) {
      text = flat(caseRestOf(c));
      this.caseTexts.set(c, text);
      return text;
    }
    if (c.status === 'fail') return caseRestOf(c);
    text = this.restTexts.find(c.name, c.status, c.reason, c.message);
    if (text === undefined) {
      text = flat(caseRestOf(c));
      this.restTexts.add(c.name, c.status, c.reason, c.message, text);
    }
    return text;
  }

  finish(out: O, name = 'hoptrace'): void {
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n');
    out.write(`<testsuites name="${xml(name)}" ${counts(this.all)}>\n`);
    for (const [label, suite] of [...this.suites].sort((a, b) => a[0].localeCompare(b[0]))) {
      out.write(`  <testsuite name="${xml(label)}" ${counts(suite)}>\n`);
      this.parts.appendTo(out, suite.part);
      out.write('  </testsuite>\n');
    }
    out.write('</testsuites>\n');
  }

  /** After a failure: every suite's part dropped (a part's file is closed, not left open). */
  discard(): void {
    for (const suite of this.suites.values()) this.parts.discard(suite.part);
  }
}

/** Suites' parts as lists of strings (a document in memory). */
class StringPart implements TextSink {
  readonly texts: string[] = [];
  write(text: string): void {
    this.texts.push(text);
  }
}
const STRING_PARTS: SuiteParts<StringPart, StringPart> = {
  create: () => new StringPart(),
  appendTo: (out, part) => {
    // one push each: a suite's texts (ten a flow) spread into one call overflow the stack
    for (const t of part.texts) out.texts.push(t);
  },
  discard: () => {},
};

export function junitXml(doc: VerdictsDocument, name = 'hoptrace'): string {
  const w = new JunitWriter(STRING_PARTS);
  for (const f of doc.flows) w.flow(f);
  const out = new StringPart();
  w.finish(out, name);
  return out.texts.join('');
}

/**
 * Suites' parts as files `<dir>/suite-<i>` (hundreds of thousands of flows, ten test cases each, do not
 * wait in memory); each is copied into the document and removed.
 */
export function fileSuiteParts(dir: string): SuiteParts<TextFile, TextFile> {
  return {
    // written and read back past the page cache (text-file.ts append)
    create: (i) => new TextFile(path.join(dir, `suite-${i}`), writeThread()),
    appendTo: (out, part) => {
      part.commit();
      out.append(part.file);
      fs.rmSync(part.file, { force: true });
    },
    discard: (part) => part.discard(),
  };
}

/** `junitXml` streamed to `file` (temporary name, then renamed). */
export function writeJunitXml(file: string, doc: VerdictsDocument, name = 'hoptrace'): void {
  const parts = `${file}.parts-${process.pid}`;
  const w = new JunitWriter(fileSuiteParts(parts));
  try {
    for (const f of doc.flows) w.flow(f);
    writeTextFile(file, (out) => w.finish(out, name));
  } catch (e) {
    w.discard();
    throw e;
  } finally {
    fs.rmSync(parts, { recursive: true, force: true });
  }
}
