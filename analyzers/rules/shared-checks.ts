/**
 * Checks without evidence, one frozen object per distinct content: most flows of a bundle pass the
 * same checks with the same words (a bypass, the TTL sums, the gateway MAC), so the evaluator hands
 * out one object for all of them instead of one per flow. Frozen, so whoever writes the verdicts may
 * make a shared check's text once and reuse it (reports/verdicts-json.ts, reports/junit.ts, the
 * verdicts table).
 */
import type { CheckResult, Evidence, Leg, Reason, Status } from './verdict-types.ts';

// frozen like the checks that hold it; typed as the mutable list CheckResult declares
const NO_EVIDENCE = Object.freeze([]) as unknown as Evidence[];

/**
 * A value per distinct (name, status, reason, message) of a check, kept up to `max` of them: past it
 * the cache starts over (messages naming times or frames never repeat).
 */
export class ByCheckFields<T> {
  private readonly byMessage = new Map<
    string,
    { name: string; status: Status; reason: Reason | null; value: T }[]
  >();
  private size = 0;

  constructor(private readonly max: number) {}

  find(name: string, status: Status, reason: Reason | null, message: string): T | undefined {
    const same = this.byMessage.get(message);
    if (same !== undefined)
      for (const e of same) if (e.name === name && e.status === status && e.reason === reason) return e.value;
    return undefined;
  }

  add(name: string, status: Status, reason: Reason | null, message: string, value: T): void {
    if (this.size >= this.max) {
      this.byMessage.clear();
      this.size = 0;
    }
    let same = this.byMessage.get(message);
    if (same === undefined) {
      same = [];
      this.byMessage.set(message, same);
    }
    same.push({ name, status, reason, value });
    this.size++;
  }
}

/** Distinct checks kept before the cache starts over. */
const MAX_SHARED = 1 << 14;

export class SharedChecks {
  private readonly checks = new ByCheckFields<CheckResult>(MAX_SHARED);

  /** The frozen check with these fields and no evidence. */
  get(name: string, status: Status, reason: Reason | null, message: string): CheckResult {
    let check = this.checks.find(name, status, reason, message);
    if (check === undefined) {
      check = Object.freeze({ name, status, reason, message, evidence: NO_EVIDENCE });
      this.checks.add(name, status, reason, message, check);
    }
    return check;
  }
}

const legNames = new Map<string, Record<Leg, string>>();

/** `<check>.<leg>`, each made once (every flow names its checks). */
export function checkName(check: string, leg: Leg): string {
  let names = legNames.get(check);
  if (names === undefined) {
    names = { request: `${check}.request`, reply: `${check}.reply` };
    legNames.set(check, names);
  }
  return names[leg];
}
