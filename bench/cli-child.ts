/**
 * `node` arguments that run an export of a bench module in a process started the way bin/hoptrace.js
 * starts: the V8 flags of its `#!/usr/bin/env -S node ...` line, then tsx's ESM hooks only. The bench's
 * own process runs under `node --import tsx`, whose CommonJS hook detaches an ArrayBuffer, after which
 * V8 checks every typed-array access for a detached buffer process-wide (bench/decode-arrow.ts): a trial
 * run there would measure that, and the heap of the trials before it, instead of the CLI.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const CLI = new URL('../bin/hoptrace.js', import.meta.url);

/**
 * The node flags on bin/hoptrace.js's shebang line (`#!/usr/bin/env -S node <flags>`, or none after
 * `#!/usr/bin/env node`). Any other first line is refused: the trials would silently run without flags
 * the CLI has, and measure something else.
 */
function cliNodeFlags(): string[] {
  const first = readFileSync(CLI, 'utf8').split('\n', 1)[0] ?? '';
  const m = /^#!\S*env (?:-S )?node(?:\s(.*))?$/.exec(first);
  if (!m)
    throw new Error(
      `bin/hoptrace.js: a shebang '#!/usr/bin/env [-S] node [flags]' expected, not ${JSON.stringify(first)}`,
    );
  return (m[1] ?? '').trim().split(/\s+/).filter(Boolean);
}

/**
 * Arguments that import `moduleUrl` and evaluate `call` (an expression over the module as `m` and the
 * child's `args`), printing nothing itself; `args` follow as the child's arguments.
 */
export function cliChildArgs(moduleUrl: string, call: string, args: readonly string[]): string[] {
  const main = `import { register } from 'tsx/esm/api'; register(); const m = await import(${JSON.stringify(moduleUrl)}); const args = process.argv.slice(1); ${call};`;
  return [...cliNodeFlags(), '--input-type=module', '--eval', main, '--', ...args];
}

/**
 * Runs `node` with `nodeArgs` (cliChildArgs) from the repository's root, where the child's bare imports
 * (tsx) resolve, and parses the last line it prints as JSON; its stderr is the bench's. `what` names the
 * trial when it fails.
 */
export function runCliChild<T>(nodeArgs: readonly string[], what: string): T {
  const child = spawnSync(process.execPath, nodeArgs, {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 26,
  });
  if (child.status !== 0) throw new Error(`${what} failed (exit ${child.status})`);
  return JSON.parse(child.stdout.trim().split('\n').pop() ?? '{}') as T;
}

/**
 * Peak RSS of this process, MB. Linux's VmHWM belongs to the process image; `resourceUsage().maxRSS`
 * carries over the parent's peak through fork + exec, so a child spawned by a large parent would report
 * the parent's figure.
 */
export function peakRssMb(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) / 1024;
  } catch {
    // not Linux: fall back
  }
  return process.resourceUsage().maxRSS / 1024;
}
