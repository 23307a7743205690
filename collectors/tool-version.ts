import { readFileSync } from 'node:fs';

/** The version recorded in bundle.json: package.json's, read once (there is no build step to inline it). */
export function toolVersion(): string {
  try {
    const pkg: unknown = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    if (
      typeof pkg === 'object' &&
      pkg !== null &&
      typeof (pkg as { version?: unknown }).version === 'string'
    ) {
      return (pkg as { version: string }).version;
    }
  } catch {
    // fall through
  }
  return 'unknown';
}
