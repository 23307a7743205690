import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { RulesErrors } from '../../../analyzers/rules/errors.ts';
import {
  effectiveLeg,
  formatProblem,
  type KernelVersion,
  loadRulePaths,
  parseKernelRange,
  parseKernelVersion,
} from '../../../analyzers/rules/load-rules.ts';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ht-rules-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A valid rule for S4 (line numbers below are counted in this text). */
const BASE = `requires: { hoptrace: ">=0.1", schema: 1 }
rule: t-cross
scenario: [S4]
desc: cross-node test rule
expect:
  request:
    path:
      - client.pod-eth0:out
      - client.veth:in
      - { at: client.eni:out, ttl_decrement: 1 }
      - backend.eni:in
      - { at: backend.veth:out, kernel: "<5.10" }
      - backend.pod-eth0:in
    skipped:
      - { at: backend.veth:out, kernel: ">=5.10" }
  reply:
    path: [backend.pod-eth0:out, backend.veth:in]
output: "{client} -> {backend}"
tags: []
`;

let n = 0;
/** Write files into a fresh rule-set folder; returns the problem lines with the tmp prefix cut. */
function check(files: Record<string, string>, opts: { folder?: boolean } = {}): string[] {
  const dir = path.join(tmp, `case${n++}`, 'set');
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  const args = opts.folder ? [dir] : Object.keys(files).map((f) => path.join(dir, f));
  const r = loadRulePaths(args);
  return [...r.errors, ...r.warnings].map((p) => formatProblem(p).replace(`${path.dirname(dir)}/`, ''));
}

test('the base rule is valid', () => {
  assert.deepEqual(check({ 'a.yaml': BASE }), []);
});

test('bad YAML: one located line', () => {
  assert.deepEqual(check({ 'a.yaml': 'rule: x\nexpect: [a, b\n' }), [
    'set/a.yaml:3:1: Flow sequence in block collection must be sufficiently indented and end with a ] (rules.yaml-parse)',
  ]);
});

test('duplicate YAML key is a parse error', () => {
  assert.deepEqual(check({ 'a.yaml': `${BASE}tags: [x]\n` }), [
    'set/a.yaml:20:1: Map keys must be unique (rules.yaml-parse)',
  ]);
});

test('unknown key with did-you-mean, on the key itself', () => {
  const text = BASE.replace('    skipped:', '    skiped:');
  assert.deepEqual(check({ 'a.yaml': text }), [
    "set/a.yaml:14:5: rule 't-cross' > expect.request.skiped: unknown key 'skiped', did you mean 'skipped'? (rules.unknown-key)",
  ]);
  const top = BASE.replace('desc:', 'descr:');
  assert.deepEqual(check({ 'a.yaml': top }), [
    "set/a.yaml:1:1: rule 't-cross': missing required key 'desc' (rules.missing-key)",
    "set/a.yaml:4:1: rule 't-cross' > descr: unknown key 'descr', did you mean 'desc'? (rules.unknown-key)",
  ]);
});

test('unknown role with did-you-mean (STYLE example)', () => {
  const text = BASE.replace('      - backend.pod-eth0:in\n', '      - backend.pod-eht0:in\n');
  assert.deepEqual(check({ 'a.yaml': text }), [
    "set/a.yaml:13:9: rule 't-cross' > expect.request.path[5]: unknown role 'backend.pod-eht0:in', did you mean 'backend.pod-eth0:in'? (rules.unknown-role)",
  ]);
});

test('between off the path, between out of order', () => {
  const off = BASE.replace(
    '    skipped:',
    '    rewrite: { kind: dnat, field: dst, from: service, to: backend, between: [client.veth:out, client.eni:out] }\n    skipped:',
  ).replace('scenario: [S4]', 'scenario: [S7]');
  assert.deepEqual(check({ 'a.yaml': off }), [
    "set/a.yaml:14:78: rule 't-cross' > expect.request.rewrite.between[0]: 'client.veth:out' is not on the request path (rules.between-off-path)",
  ]);
  const order = off.replace('[client.veth:out, client.eni:out]', '[client.eni:out, client.veth:in]');
  assert.deepEqual(check({ 'a.yaml': order }), [
    "set/a.yaml:14:94: rule 't-cross' > expect.request.rewrite.between[1]: 'client.veth:in' must come after 'client.eni:out' on the path (rules.between-order)",
  ]);
});

test('a between point on the path for some kernels only', () => {
  const text = BASE.replace(
    '    skipped:',
    '    rewrite: { kind: dnat, field: dst, from: service, to: backend, between: [client.veth:in, backend.veth:out] }\n    skipped:',
  ).replace('scenario: [S4]', 'scenario: [S7]');
  assert.deepEqual(check({ 'a.yaml': text }), [
    "set/a.yaml:14:94: rule 't-cross' > expect.request.rewrite.between[1]: 'backend.veth:out' is not on the request path for every kernel (rules.between-off-path)",
  ]);
});

test('skipped point on the path, for the kernels where both apply', () => {
  const always = BASE.replace('      - { at: backend.veth:out, kernel: ">=5.10" }', '      - client.veth:in');
  assert.deepEqual(check({ 'a.yaml': always }), [
    "set/a.yaml:15:9: rule 't-cross' > expect.request.skipped[0]: 'client.veth:in' is skipped but also on the path (rules.skipped-on-path)",
  ]);
  const overlap = BASE.replace('kernel: ">=5.10"', 'kernel: ">=4.19"');
  assert.deepEqual(check({ 'a.yaml': overlap }), [
    "set/a.yaml:15:9: rule 't-cross' > expect.request.skipped[0]: 'backend.veth:out' is skipped but also on the path (kernel >=4.19) (rules.skipped-on-path)",
  ]);
});

test('wrong types, bad enum values with suggestions, bad kernel ranges', () => {
  const text = BASE.replace('scenario: [S4]', 'scenario: S4')
    .replace(
      '{ at: client.eni:out, ttl_decrement: 1 }',
      '{ at: client.eni:out, ttl_decrement: "1", gateway_mac: yes }',
    )
    .replace('kernel: "<5.10"', 'kernel: "< 5.10.x"')
    .replace('tags: []', 'tags: [maturity-stable]\nwhen: { client: pods, via: 3 }');
  assert.deepEqual(check({ 'a.yaml': text }), [
    "set/a.yaml:3:11: rule 't-cross' > scenario: expected array, got string (rules.wrong-type)",
    "set/a.yaml:10:46: rule 't-cross' > expect.request.path[2].ttl_decrement: expected integer, got string (rules.wrong-type)",
    "set/a.yaml:10:64: rule 't-cross' > expect.request.path[2].gateway_mac: expected boolean, got string (rules.wrong-type)",
    "set/a.yaml:12:41: rule 't-cross' > expect.request.path[4].kernel: kernel range '< 5.10.x' does not parse (comparators like '<5.10', '>=4.19 <5.10') (rules.bad-kernel-range)",
    "set/a.yaml:20:17: rule 't-cross' > when.client: 'pods' is not allowed, did you mean 'pod'? (rules.bad-value)",
    "set/a.yaml:20:28: rule 't-cross' > when.via: expected string or array, got integer (rules.wrong-type)",
  ]);
});

test('duplicate rule id within a rule set, with the first definition', () => {
  assert.deepEqual(check({ 'a.yaml': BASE, 'b.yaml': BASE }), [
    "set/b.yaml:2:7: rule 't-cross' > rule: duplicate rule id 't-cross' in rule set 'set', first defined at " +
      `${tmp}/case${n - 1}/set/a.yaml:2:7 (rules.duplicate-id)`,
  ]);
});

test('two rules matching the same flows are ambiguous', () => {
  const other = BASE.replace('rule: t-cross', 'rule: t-cross-2');
  assert.deepEqual(check({ 'a.yaml': BASE, 'b.yaml': other }), [
    "set/b.yaml:2:7: rule 't-cross-2' > rule: matches the same S4 flows as rule 't-cross' " +
      `(${tmp}/case${n - 1}/set/a.yaml:2:7), e.g. {client: pod, via: none, node: other, eni: n/a}; narrow 'when' (rules.ambiguous-match)`,
  ]);
});

test('roles that can never resolve, rules that never match, scenarios and placeholders', () => {
  const external = BASE.replace('scenario: [S4]', 'scenario: [S8a]');
  assert.deepEqual(check({ 'a.yaml': external }), [
    "set/a.yaml:8:9: rule 't-cross' > expect.request.path[0]: role 'client.pod-eth0:out' never resolves: the rule's clients are external, which have no pod-eth0 (rules.role-not-applicable)",
    "set/a.yaml:9:9: rule 't-cross' > expect.request.path[1]: role 'client.veth:in' never resolves: the rule's clients are external, which have no veth (rules.role-not-applicable)",
    "set/a.yaml:10:9: rule 't-cross' > expect.request.path[2]: role 'client.eni:out' never resolves: the rule's clients are external, which have no eni (rules.role-not-applicable)",
  ]);
  const never = `${BASE}when: { node: same }\n`;
  assert.deepEqual(check({ 'a.yaml': never }), [
    "set/a.yaml:20:7: rule 't-cross' > when: no flow classified S4 has these facts, so the rule never applies (rules.never-matches)",
  ]);
  const scen = BASE.replace('scenario: [S4]', 'scenario: [S4, s8b, S9]').replace('{client}', '{clinet}');
  assert.deepEqual(check({ 'a.yaml': scen }), [
    "set/a.yaml:3:16: rule 't-cross' > scenario[1]: unknown scenario 's8b', did you mean 'S8b'? (rules.unknown-scenario)",
    "set/a.yaml:3:21: rule 't-cross' > scenario[2]: unknown scenario 'S9', did you mean 'S1'? (rules.unknown-scenario)",
    "set/a.yaml:18:9: rule 't-cross' > output: unknown placeholder '{clinet}', did you mean 'client'? (rules.unknown-placeholder)",
  ]);
});

test('rewrites: field must fit the kind, exactly one of between/outside', () => {
  const text = BASE.replace('scenario: [S4]', 'scenario: [S7]').replace(
    '    skipped:',
    [
      '    rewrite:',
      '      - { kind: dnat, field: src, from: service, to: backend, between: [client.veth:in, client.eni:out] }',
      '      - { kind: snat, field: src, from: client, to: node-ip }',
      '    skipped:',
    ].join('\n'),
  );
  assert.deepEqual(check({ 'a.yaml': text }), [
    "set/a.yaml:15:30: rule 't-cross' > expect.request.rewrite[0].field: a dnat rewrites 'dst', not 'src' (rules.rewrite-field-mismatch)",
    "set/a.yaml:16:9: rule 't-cross' > expect.request.rewrite[1]: missing 'between' (where the change shows) or 'outside' (where it happens, not observable) (rules.rewrite-location)",
  ]);
});

test('overlapping kernel variants of one hop', () => {
  const text = BASE.replace(
    '{ at: client.eni:out, ttl_decrement: 1 }',
    '{ at: client.eni:out, ttl_decrement: 1, variants: { "<5.10": { ttl_decrement: 0 }, "<4.19": { ttl_decrement: 0 } } }',
  );
  assert.deepEqual(check({ 'a.yaml': text }), [
    "set/a.yaml:10:92: rule 't-cross' > expect.request.path[2].variants[\"<4.19\"]: kernel range '<4.19' overlaps '<5.10': a kernel would match both (rules.overlapping-kernel-ranges)",
  ]);
});

test('every problem of a file is collected, in file order', () => {
  const text = BASE.replace(
    'requires: { hoptrace: ">=0.1", schema: 1 }',
    'requires: { hoptrace: ">=9.0", schema: 2 }',
  )
    .replace('      - backend.eni:in\n', '      - backend.eni:inn\n')
    .replace('tags: []', 'tags: []\nmaturity: stable');
  assert.deepEqual(check({ 'a.yaml': text }), [
    "set/a.yaml:1:23: rule 't-cross' > requires.hoptrace: needs hoptrace >=9.0, this is 0.1.0 (rules.unsupported-version)",
    "set/a.yaml:1:40: rule 't-cross' > requires.schema: rule schema 2 is not supported (this hoptrace reads schema 1) (rules.unsupported-version)",
    "set/a.yaml:11:9: rule 't-cross' > expect.request.path[3]: unknown role 'backend.eni:inn', did you mean 'backend.eni:in'? (rules.unknown-role)",
    "set/a.yaml:20:1: rule 't-cross' > maturity: unknown key 'maturity' (rules.unknown-key)",
  ]);
});

test('a folder is a complete rule set: uncovered outcomes are warnings', () => {
  const lines = check({ 'a.yaml': BASE }, { folder: true });
  assert.ok(lines.length > 0);
  for (const l of lines)
    assert.match(l, /^set: warning: rule set 'set' has no rule for .* \(rules.uncovered-scenario\)$/);
  assert.ok(!lines.some((l) => l.includes(' S4 ')), 'S4 is covered');
});

test('missing paths and empty folders', () => {
  const empty = path.join(tmp, 'empty');
  fs.mkdirSync(empty);
  const r = loadRulePaths([path.join(tmp, 'nope.yaml'), empty]);
  assert.deepEqual(r.errors.map(formatProblem), [
    `${empty}: no .yaml rule files here (rules.no-files)`,
    `${path.join(tmp, 'nope.yaml')}: no such file or folder (rules.io)`,
  ]);
});

test('every shipped rule file validates, with no warnings (each set covers every classified outcome)', () => {
  const r = loadRulePaths([path.join(ROOT, 'rules')]);
  assert.deepEqual([...r.errors, ...r.warnings].map(formatProblem), []);
  const sets = new Map<string, string[]>();
  for (const rule of r.rules) sets.set(rule.set, [...(sets.get(rule.set) ?? []), rule.id]);
  assert.deepEqual([...sets.keys()].sort(), ['kernel-routing', 'terway-v2']);
  // the same rule ids in both sets, so a verdict names the same situation whichever set judged it
  assert.deepEqual([...sets.get('terway-v2')!].sort(), [...sets.get('kernel-routing')!].sort());
  for (const rule of r.rules) assert.match(rule.desc, /reference §/, `${rule.id} cites the reference`);
});

test('CI: `hoptrace rules validate rules/` exits 0; broken files exit 2 with one line each', () => {
  const script =
    "import { rulesCommand } from './cli/rules.ts'; await rulesCommand.parseAsync(process.argv.slice(1), { from: 'user' });";
  const run = (...args: string[]) =>
    spawnSync(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script, 'validate', ...args],
      {
        cwd: ROOT,
        encoding: 'utf8',
      },
    );
  const ok = run('rules');
  assert.equal(ok.stderr, '');
  assert.equal(ok.stdout, '24 rules in 2 rule sets: valid\n');
  assert.equal(ok.status, 0);
  const dir = path.join(tmp, 'cli', 'set');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'a.yaml'), BASE.replace('client.veth:in\n', 'client.vet:in\n'));
  const bad = run(path.join(dir, 'a.yaml'));
  assert.equal(
    bad.stderr,
    `${dir}/a.yaml:9:9: rule 't-cross' > expect.request.path[1]: unknown role 'client.vet:in', did you mean 'client.veth:in'? (rules.unknown-role)\n`,
  );
  assert.equal(bad.stdout, '');
  assert.equal(bad.status, 2);
});

test('per-hop kernel expectations: each hop reads its own node kernel', () => {
  const r = loadRulePaths([path.join(ROOT, 'rules/terway-v2/pod-other-node.yaml')]);
  const rule = r.rules[0]!;
  const k = (v: string) => parseKernelVersion(v);
  const view = (client: KernelVersion | null, backend: KernelVersion | null) => {
    const leg = effectiveLeg(rule.request, (e) => (e === 'client' ? client : backend));
    return {
      path: leg.path.map((h) => `${h.role.text}/${h.ttlDecrement}/${h.gatewayMac}`),
      skipped: leg.skipped.map((s) => s.role.text),
      undecided: leg.undecided.map((h) => h.role.text),
    };
  };
  // 4.19 client node, 5.10 backend node: no TTL change on the client's ENI, redirect_peer on the backend
  assert.deepEqual(view(k('4.19.91-26.al7.x86_64'), k('5.10.134-16.al8.x86_64')), {
    path: [
      'client.pod-eth0:out/null/false',
      'client.veth:in/0/false',
      'client.eni:out/0/false',
      'backend.eni:in/0/true',
      'backend.pod-eth0:in/1/false',
    ],
    skipped: ['backend.veth:out'],
    undecided: [],
  });
  assert.deepEqual(view(k('6.6.0'), k('4.19.91')).path.slice(2), [
    'client.eni:out/1/true',
    'backend.eni:in/0/true',
    'backend.veth:out/1/false',
    'backend.pod-eth0:in/0/false',
  ]);
  // unknown kernel: the conditional hop is neither expected nor forbidden, its TTL not checked
  const unknown = view(null, null);
  assert.deepEqual(unknown.undecided, ['backend.veth:out', 'backend.veth:out']);
  assert.deepEqual(unknown.path.slice(2), [
    'client.eni:out/null/null',
    'backend.eni:in/0/true',
    'backend.pod-eth0:in/null/false',
  ]);
});

test('kernel versions and ranges', () => {
  assert.deepEqual(parseKernelVersion('5.10.134-16.al8.x86_64'), [5, 10, 134]);
  assert.deepEqual(parseKernelVersion('6.18'), [6, 18, 0]);
  assert.equal(parseKernelVersion('unknown'), null);
  assert.deepEqual(
    parseKernelRange('>=4.19 <5.10')?.bounds.map((b) => b.op),
    ['>=', '<'],
  );
  assert.equal(parseKernelRange('<5'), null);
  assert.equal(parseKernelRange('5.10'), null);
});

test('every error code has a title and a severity', () => {
  for (const [code, rec] of Object.entries(RulesErrors)) {
    assert.match(code, /^rules\.[a-z-]+$/);
    assert.ok(rec.title.length > 0);
  }
});
