/** Flag value parsers: each throws commander's InvalidArgumentError, which names the flag. */
import { InvalidArgumentError } from 'commander';

export function parseCount(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('expected a whole number');
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number >= 1');
  return n;
}
