/** Process exit codes (DESIGN §8). */
export const ExitCode = {
  /** every check passed */
  ok: 0,
  /** a check failed */
  failed: 1,
  /** usage error, or a container fault in an input */
  input: 2,
} as const;
