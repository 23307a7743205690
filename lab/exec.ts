/**
 * Child processes for the lab: always an argument array (no shell), always bounded in time, with the
 * command line in the error so a failed `ip`/`tc` step says which one.
 */
import { spawn, spawnSync } from 'node:child_process';

export class LabCommandError extends Error {
  override name = 'LabCommandError';
}

export interface RunOptions {
  /** Text written to the child's stdin (iptables-restore input, for example). */
  input?: string;
  env?: NodeJS.ProcessEnv;
  /** Hard limit; the child is killed after it. */
  timeoutMs?: number;
  /** Return the result instead of throwing on a nonzero exit. */
  allowFail?: boolean;
}

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (setup steps are short; a stuck one is a bug, hence the timeout). */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): RunResult {
  const res = spawnSync(cmd, args, {
    input: opts.input,
    env: opts.env ?? process.env,
    timeout: opts.timeoutMs ?? 30_000,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const status = res.status ?? -1;
  const result = { status, stdout: res.stdout ?? '', stderr: res.stderr ?? '' };
  if (res.error) {
    if (opts.allowFail) return { ...result, stderr: `${result.stderr}${res.error.message}` };
    throw new LabCommandError(`${cmd} ${args.join(' ')}: ${res.error.message}`);
  }
  if (status !== 0 && !opts.allowFail) {
    throw new LabCommandError(`${cmd} ${args.join(' ')}: exit ${status}: ${result.stderr.trim()}`);
  }
  return result;
}

/** `ip netns exec <ns> <cmd> <args...>`: the command runs inside the namespace only. */
export function runIn(ns: string, cmd: string, args: readonly string[], opts: RunOptions = {}): RunResult {
  return run('ip', ['netns', 'exec', ns, cmd, ...args], opts);
}

/** `ip -n <ns> ...`: iproute2 switches to the namespace itself (cheaper than `ip netns exec`). */
export function ipIn(ns: string, args: readonly string[], opts: RunOptions = {}): RunResult {
  return run('ip', ['-n', ns, ...args], opts);
}

export function ipJson<T>(ns: string, args: readonly string[]): T {
  return JSON.parse(ipIn(ns, ['-j', ...args]).stdout) as T;
}

export interface Started {
  pid: number;
  done: Promise<RunResult>;
  stop(): void;
}

/**
 * Starts a long-running child (server, capture, client script) inside a namespace. It is killed at
 * `timeoutMs` whatever happens, and `stop()` signals that PID only.
 */
export function startIn(
  ns: string,
  cmd: string,
  args: readonly string[],
  opts: { timeoutMs: number; onStdout?: (chunk: string) => void; env?: NodeJS.ProcessEnv },
): Started {
  const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: opts.env ?? process.env,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => {
    stdout += c;
    opts.onStdout?.(c);
  });
  child.stderr.setEncoding('utf8').on('data', (c: string) => {
    stderr += c;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
  const done = new Promise<RunResult>((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ status: code ?? (signal ? 128 : -1), stdout, stderr });
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ status: -1, stdout, stderr: `${stderr}${err.message}` });
    });
  });
  const pid = child.pid ?? -1;
  return {
    pid,
    done,
    stop: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    },
  };
}
