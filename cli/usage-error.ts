/** A user-facing failure not tied to one input file (bad flag values, missing tools): exit 2, one line. */
export class UsageError extends Error {
  override name = 'UsageError';
}
