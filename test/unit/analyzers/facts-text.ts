import type { FlowFacts } from '../../../analyzers/rules/flow-facts.ts';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/**
 * Facts as plain data for comparing: bigints as text; maps, and the builder's views of a leg's MAC
 * pairs (which the rules only ask by key), as their entries in order.
 */
export const factsText = (x: FlowFacts): string =>
  JSON.stringify(x, (_, v: unknown) =>
    typeof v === 'bigint'
      ? v.toString()
      : v instanceof Map || (isObject(v) && !Array.isArray(v) && typeof v['entries'] === 'function')
        ? [...(v as Map<unknown, unknown>).entries()]
        : v,
  );
