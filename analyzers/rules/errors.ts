/**
 * Rule-loading problem codes: one record per code (STYLE "Errors"; not Falco's parallel arrays).
 * Our rule files ship with the engine, so problems Falco only warns about (unknown keys) are errors here.
 * Warnings are kept for what may be fine when only part of a rule set is validated (coverage).
 */
export const Severity = Object.freeze({
  /** the file is rejected: `hoptrace rules validate` exits 2 */
  error: 'error',
  /** reported, the rule set still loads */
  warning: 'warning',
} as const);
export type Severity = (typeof Severity)[keyof typeof Severity];

export const RulesErrors = Object.freeze({
  'rules.io': { title: 'the file or folder could not be read', severity: 'error' },
  'rules.no-files': { title: 'a folder holds no .yaml rule files', severity: 'error' },
  'rules.yaml-parse': { title: 'the file is not valid YAML', severity: 'error' },
  'rules.unknown-key': { title: 'a key the schema does not define', severity: 'error' },
  'rules.missing-key': { title: 'a required key is missing', severity: 'error' },
  'rules.wrong-type': { title: 'a value has the wrong type', severity: 'error' },
  'rules.bad-value': { title: 'a value is outside what the schema allows', severity: 'error' },
  'rules.unsupported-version': {
    title: 'the file requires another schema or hoptrace version',
    severity: 'error',
  },
  'rules.duplicate-id': { title: 'two rules of one rule set share an id', severity: 'error' },
  'rules.unknown-scenario': { title: 'a scenario id outside the classifier vocabulary', severity: 'error' },
  'rules.unknown-role': { title: 'a role outside `<endpoint>.<kind>:<in|out>`', severity: 'error' },
  'rules.role-not-applicable': {
    title: 'a role that cannot resolve for any flow the rule matches',
    severity: 'error',
  },
  'rules.bad-kernel-range': { title: 'a kernel range that does not parse', severity: 'error' },
  'rules.overlapping-kernel-ranges': {
    title: 'two variants of one hop match the same kernel',
    severity: 'error',
  },
  'rules.duplicate-hop': { title: 'a role appears twice on one leg for the same kernels', severity: 'error' },
  'rules.skipped-on-path': { title: 'a skipped point is also on the path', severity: 'error' },
  'rules.between-off-path': { title: 'a rewrite `between` point is not on the path', severity: 'error' },
  'rules.between-order': { title: 'a rewrite `between` pair is not in path order', severity: 'error' },
  'rules.rewrite-field-mismatch': {
    title: 'a rewrite field does not fit its kind (dnat/reverse-snat: dst, snat/reverse-dnat: src)',
    severity: 'error',
  },
  'rules.rewrite-location': {
    title: 'a rewrite needs exactly one of `between` (observed) or `outside` (not observable)',
    severity: 'error',
  },
  'rules.unknown-placeholder': { title: 'an output placeholder that is never filled', severity: 'error' },
  'rules.never-matches': {
    title: 'no flow the classifier can produce matches the rule (scenario and `when` contradict)',
    severity: 'error',
  },
  'rules.ambiguous-match': { title: 'two rules of one rule set match the same flows', severity: 'error' },
  'rules.uncovered-scenario': {
    title: 'flows the classifier can produce that no rule of the set matches',
    severity: 'warning',
  },
} as const satisfies Record<string, { title: string; severity: Severity }>);

export type RulesErrorCode = keyof typeof RulesErrors;
