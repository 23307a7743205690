import { spawn } from 'node:child_process';

export interface CommandResult {
  /** The argument vector that ran, for messages and for bundle.json. */
  argv: string[];
  /** Exit code, or null when the process was killed or could not start. */
  code: number | null;
  stdout: Buffer;
  stderr: string;
  /** Why the command did not succeed (spawn error, timeout, non-zero exit), or null when it did. */
  failure: string | null;
}

/** Commands still running, by process-group leader, so a forced exit can end them instead of orphaning them. */
const live = new Map<number, () => void>();

/**
 * SIGKILL to every command still running (each its whole process group): the collector's forced exit (a second
 * Ctrl-C) must not leave a hung `kubectl` or credential plugin behind in its own process group.
 */
export function killRunningCommands(): void {
  for (const kill of live.values()) kill();
  live.clear();
}

export interface RunOptions {
  timeoutMs?: number;
  /** Output beyond this many bytes is cut: a runaway `kubectl` must not exhaust memory. */
  maxBytes?: number;
}

/**
 * Runs one external command from an argument vector (never a shell string: names in it are untrusted) and
 * collects its output. Every command has a timeout: a hung `kubectl` must not hang the collector's shutdown.
 */
export function runCommand(argv: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const maxBytes = options.maxBytes ?? 256 * 1024 * 1024;
  const [file, ...args] = argv;
  if (file === undefined) throw new Error('runCommand: empty argument vector');
  return new Promise((resolve) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let timedOut = false;
    let interrupted = false;
    let spawnError: string | null = null;
    // Own process group, so a timeout can end the whole group: `kubectl` may run credential plugins, and a
    // grandchild that inherited our stdout would keep 'close' from firing long after its parent was killed.
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const pid = child.pid;
    if (pid !== undefined) {
      live.set(pid, () => {
        interrupted = true;
        killGroup(pid);
      });
    }
    // Forgotten on 'close', not 'exit': a grandchild holding our pipes keeps the group worth killing.
    child.on('close', () => {
      if (pid !== undefined) live.delete(pid);
    });
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid);
    }, timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      if (outBytes < maxBytes) out.push(chunk);
      outBytes += chunk.length;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (err.length < 64) err.push(chunk);
    });
    child.on('error', (e) => {
      spawnError = e.message;
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const stderr = Buffer.concat(err).toString('utf8').trim();
      let failure: string | null = null;
      if (spawnError !== null) failure = spawnError;
      else if (timedOut) failure = `timed out after ${timeoutMs} ms`;
      else if (interrupted) failure = 'killed: the collection was interrupted';
      else if (code !== 0) failure = `exit ${code}${stderr ? `: ${firstLine(stderr)}` : ''}`;
      else if (outBytes > maxBytes) failure = `output larger than ${maxBytes} bytes, cut`;
      resolve({ argv: [...argv], code, stdout: Buffer.concat(out), stderr, failure });
    });
  });
}

/** SIGKILL to the process group we created for `pid` (its leader); a group already gone is not an error. */
function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

export function firstLine(text: string): string {
  return text.split('\n').find((l) => l.trim().length > 0) ?? '';
}
