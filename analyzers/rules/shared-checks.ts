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

/** Distinct checks kept before the cache starts over (messages naming times or frames never repeat). */
const MAX_SHARED = 1 << 14;

export class SharedChecks {
  private readonly byMessage = new Map<string, CheckResult[]>();
  private size = 0;

  /** The frozen check with these fields and no evidence. */
  get(name: string, status: Status, reason: Reason | null, message: string): CheckResult {
    let same = this.byMessage.get(message);
    if (same !== undefined)
      for (const c of same) if (c.name === name && c.status === status && c.reason === reason) return c;
    const check: CheckResult = Object.freeze({ name, status, reason, message, evidence: NO_EVIDENCE });
    if (this.size >= MAX_SHARED) {
      this.byMessage.clear();
      this.size = 0;
      same = undefined;
    }
    if (same === undefined) {
      same = [];
      this.byMessage.set(message, same);
    }
    same.push(check);
    this.size++;
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
