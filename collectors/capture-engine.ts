import { type ChildProcess, spawn } from 'node:child_process';
import { UsageError } from '../cli/usage-error.ts';
import { wallNs } from './clock.ts';
import { findTool } from './find-tool.ts';
import { inNamespace, type NsTarget } from './netns.ts';
import { firstLine, runCommand } from './run-command.ts';

/**
 * dumpcap is the engine (README "Why dumpcap"): pcapng with nanosecond kernel timestamps, if_name per
 * interface, ring buffers and drop statistics in the ISB. tcpdump is the fallback when Wireshark's
 * package is missing: pcap with nanosecond timestamps, no ring support here, drops from its exit summary.
 */
export type EngineName = 'dumpcap' | 'tcpdump';

export interface Engine {
  name: EngineName;
  path: string;
  version: string;
  /**
   * util-linux `setpriv`, when it can set a parent-death signal: every engine runs under it so that a hoptrace
   * killed with SIGKILL (no handler runs) still takes its engines with it. Engines run in their own process
   * groups (see CaptureProcess.start), so nothing else would reach them. Absent: engines run unwrapped.
   */
  parentDeath?: string | null;
}

/** What to install when an engine is missing (Debian package names). */
const packageHint: Record<EngineName, string> = {
  dumpcap: 'install the Debian package wireshark-common',
  tcpdump: 'install the Debian package tcpdump',
};

/** Picks dumpcap, else tcpdump; `wanted` forces one. Missing tools are a usage error naming the package. */
export async function findEngine(wanted?: EngineName): Promise<Engine> {
  const order: EngineName[] = wanted ? [wanted] : ['dumpcap', 'tcpdump'];
  for (const name of order) {
    const exe = findTool(name);
    if (exe === null) continue;
    const res = await runCommand([exe, name === 'dumpcap' ? '-v' : '--version'], { timeoutMs: 5000 });
    const text = `${res.stdout.toString('utf8')}\n${res.stderr}`;
    const version = firstLine(text).trim() || name;
    return { name, path: exe, version, parentDeath: await findParentDeath() };
  }
  if (wanted !== undefined) throw new UsageError(`${wanted} not found on PATH: ${packageHint[wanted]}`);
  throw new UsageError(
    'neither dumpcap nor tcpdump found: install the Debian package wireshark-common (dumpcap) or tcpdump',
  );
}

/**
 * `setpriv --pdeathsig` (util-linux >= 2.33, Essential in Debian, so present on any Debian-based node image).
 * Probed by running it once: an older setpriv without the option must not make every capture fail to start.
 */
async function findParentDeath(): Promise<string | null> {
  const exe = findTool('setpriv');
  if (exe === null) return null;
  const probe = await runCommand([exe, '--pdeathsig', 'SIGTERM', '--', exe, '--version'], {
    timeoutMs: 5000,
  });
  return probe.failure === null ? exe : null;
}

/** Said once in bundle.json's warnings when engines run without a parent-death signal. */
export const noParentDeathWarning =
  'setpriv (util-linux) with --pdeathsig not found: if hoptrace is killed with SIGKILL its engines keep capturing until --duration (or forever without it)';

export interface RingSpec {
  /** Rotate after this many kB (dumpcap's unit). */
  filesizeKB?: number;
  /** Keep at most this many files. */
  files?: number;
  /** Rotate after this many seconds. */
  durationS?: number;
}

export interface CaptureSpec {
  iface: string;
  ns: NsTarget;
  /** Absolute output path. With a ring, dumpcap derives `<stem>_<NNNNN>_<YYYYmmddHHMMSS>.pcapng` from it. */
  outPath: string;
  filter?: string;
  snaplen?: number;
  bufferMiB?: number;
  /** Stop this capture after this many packets. */
  packets?: number;
  ring?: RingSpec;
  /** `-i any`: force LINUX_SLL2, libpcap's default SLL v1 has no interface index (DESIGN §3). */
  cooked?: boolean;
  /**
   * dumpcap stops itself after this many seconds (`-a duration:N`): a backstop for when hoptrace is gone and
   * cannot stop it. The collector sets it a little beyond its own deadline, so normally the collector stops
   * the engine first (after the drain) and the backstop never fires.
   */
  autostopS?: number;
}

/** The argument vector for one capture; exported so tests can assert the choices made. */
export function engineArgv(engine: Engine, spec: CaptureSpec): string[] {
  if (engine.name === 'dumpcap') {
    // -n: pcapng explicitly (per-interface if_name, ns if_tsresol, ISB drop stats). No -q: dumpcap's
    // "Packets: N" lines feed the progress display, and its exit summary carries the drop counts.
    // No -t: one interface per process, so a per-interface thread buys nothing.
    const argv = [engine.path, '-i', spec.iface, '-n', '-w', spec.outPath];
    if (spec.filter !== undefined) argv.push('-f', spec.filter);
    if (spec.snaplen !== undefined) argv.push('-s', String(spec.snaplen));
    if (spec.bufferMiB !== undefined) argv.push('-B', String(spec.bufferMiB));
    if (spec.packets !== undefined) argv.push('-c', String(spec.packets));
    if (spec.autostopS !== undefined) argv.push('-a', `duration:${Math.max(1, Math.ceil(spec.autostopS))}`);
    if (spec.cooked) argv.push('-y', 'LINUX_SLL2');
    if (spec.ring) {
      if (spec.ring.filesizeKB !== undefined) argv.push('-b', `filesize:${spec.ring.filesizeKB}`);
      if (spec.ring.durationS !== undefined) argv.push('-b', `duration:${spec.ring.durationS}`);
      if (spec.ring.files !== undefined) argv.push('-b', `files:${spec.ring.files}`);
    }
    return withParentDeath(engine, inNamespace(spec.ns, argv));
  }
  // tcpdump: -U writes each packet as it arrives (a SIGKILL loses less), -Z root keeps it from dropping to
  // the tcpdump user, which could not write into a root-owned bundle.
  const argv = [engine.path, '-i', spec.iface, '-n', '-U', '-Z', 'root', '--time-stamp-precision=nano'];
  argv.push('-w', spec.outPath);
  if (spec.snaplen !== undefined) argv.push('-s', String(spec.snaplen));
  if (spec.bufferMiB !== undefined) argv.push('-B', String(spec.bufferMiB * 1024));
  if (spec.packets !== undefined) argv.push('-c', String(spec.packets));
  if (spec.cooked) argv.push('-y', 'LINUX_SLL2');
  argv.push('--');
  if (spec.filter !== undefined) argv.push(spec.filter);
  // No duration backstop for tcpdump: its only timer (-G with -W 1) is checked when a packet arrives, so on a
  // quiet interface it would never fire; the parent-death signal is its only safety net.
  return withParentDeath(engine, inNamespace(spec.ns, argv));
}

/**
 * `setpriv --pdeathsig SIGTERM -- <argv>`: the kernel sends SIGTERM (which dumpcap and tcpdump both handle by
 * flushing and closing their file) when hoptrace dies. setpriv, `ip netns exec` and `nsenter` all exec, so the
 * setting survives into the engine and the PID we hold stays the engine's (root keeps it across the exec of
 * dumpcap even if dumpcap carries file capabilities: its capabilities do not grow).
 */
function withParentDeath(engine: Engine, argv: string[]): string[] {
  const setpriv = engine.parentDeath ?? null;
  return setpriv === null ? argv : [setpriv, '--pdeathsig', 'SIGTERM', '--', ...argv];
}

/** The engine's own counters, from its exit summary. */
export interface EngineStats {
  received: number;
  dropped: number;
  /** dumpcap's breakdown (`pcap:/dumpcap:/flushed:/ps_ifdrop:`), when printed. */
  detail: string | null;
}

export interface CaptureExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Why it ended: asked to stop, its packet limit, the interface went away, or an error. */
  reason: 'stopped' | 'limit' | 'vanished' | 'error';
  stats: EngineStats | null;
  /** The engine's last error line, if any. */
  message: string | null;
  endedNs: bigint;
  /** True when it had to be killed (SIGKILL): the file may be cut short. */
  killed: boolean;
}

const readyTimeoutMs = 15_000;
/**
 * libpcap on Linux hands packets to dumpcap in TPACKET_V3 blocks, released when full or when the read timeout
 * (250 ms in dumpcap) expires; an engine stopped mid-block never writes that block. Measured here: a TCP
 * exchange 100 ms before SIGINT lost one of its packets, 300 ms before lost none. So the collector waits this
 * long after deciding to stop before signalling, and the coverage window ends at the decision, not the signal.
 */
export const drainMs = 600;
const stopTimeoutMs = 10_000;

/**
 * One engine child process capturing one interface. `start()` resolves only once the engine has really
 * started capturing: dumpcap prints `Capturing on` before it opens the device and `File:` once the device,
 * filter and output file are all set up; tcpdump prints `listening on` at the same point.
 */
export class CaptureProcess {
  readonly spec: CaptureSpec;
  readonly engine: Engine;
  readonly argv: string[];
  pid: number | null = null;
  readyNs: bigint | null = null;
  /** Latest packet count the engine printed (dumpcap's `Packets: N`). */
  packets = 0;
  /** Why it ended, once it has (the rescan restarts only a capture whose interface vanished). */
  exitReason: CaptureExit['reason'] | null = null;
  readonly exited: Promise<CaptureExit>;

  private child: ChildProcess | null = null;
  private stderrTail = '';
  private errorLines: string[] = [];
  private stats: EngineStats | null = null;
  private vanished = false;
  private stopRequested = false;
  private killed = false;
  private resolveExit: (e: CaptureExit) => void = () => {};
  private onReady: (() => void) | null = null;

  constructor(engine: Engine, spec: CaptureSpec) {
    this.engine = engine;
    this.spec = spec;
    this.argv = engineArgv(engine, spec);
    this.exited = new Promise((resolve) => {
      this.resolveExit = resolve;
    });
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts the engine; rejects with the engine's one-line error when it exits or stalls before capturing. */
  start(): Promise<void> {
    const [file, ...args] = this.argv;
    if (file === undefined) throw new Error('empty capture argv');
    // Own process group: a Ctrl-C on the terminal reaches hoptrace only, which drains and then stops each
    // engine itself (see drainMs); an engine hit directly by Ctrl-C would lose its last partial buffer block.
    const child = spawn(file, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    this.child = child;
    this.pid = child.pid ?? null;
    let spawnError: string | null = null;
    child.on('error', (e) => {
      spawnError = e.message;
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => this.onStderr(chunk));
    child.on('close', (code, signal) => {
      this.onStderr('\n');
      if (spawnError !== null) this.errorLines.push(spawnError);
      const exit = this.exitRecord(code, signal);
      this.exitReason = exit.reason;
      this.resolveExit(exit);
    });
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        void this.stop().then(() =>
          reject(
            new Error(
              `${this.engine.name} did not start capturing on ${this.spec.iface} within ${readyTimeoutMs / 1000} s`,
            ),
          ),
        );
      }, readyTimeoutMs);
      this.onReady = () => {
        clearTimeout(timer);
        resolve();
      };
      void this.exited.then((exit) => {
        clearTimeout(timer);
        if (this.readyNs === null) {
          reject(
            new Error(
              exit.message ??
                `${this.engine.name} exited (${exit.code ?? exit.signal}) before capturing on ${this.spec.iface}`,
            ),
          );
        }
      });
    });
  }

  /** Asks the engine to stop (SIGINT, as Ctrl-C: it flushes, writes the ISB and closes the file), then waits.
   * Only if it ignores that for `stopTimeoutMs` is it killed, and the exit record says so. */
  async stop(): Promise<CaptureExit> {
    if (this.child === null) throw new Error('capture never started');
    return this.interruptThenKill(stopTimeoutMs);
  }

  /**
   * The forced stop (a second Ctrl-C): SIGINT by PID if `stop()` has not sent it yet, and SIGKILL whatever still
   * runs after `graceMs` (a short grace: an engine that answers SIGINT closes its file properly; one that hangs is
   * the reason the user pressed Ctrl-C again). Resolves once the engine has exited.
   */
  forceStop(graceMs: number): Promise<CaptureExit> {
    return this.interruptThenKill(graceMs);
  }

  /** SIGINT (once), then SIGKILL if it still runs after `killAfterMs`; resolves with the exit record. */
  private async interruptThenKill(killAfterMs: number): Promise<CaptureExit> {
    const child = this.child;
    if (child === null || !this.running) return this.exited;
    if (!this.stopRequested) {
      this.stopRequested = true;
      child.kill('SIGINT');
    }
    const timer = setTimeout(() => {
      if (this.running) {
        this.killed = true;
        child.kill('SIGKILL');
      }
    }, killAfterMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }

  private onStderr(chunk: string): void {
    // dumpcap rewrites its counter with '\r': treat it as a line end too.
    this.stderrTail += chunk;
    const parts = this.stderrTail.split(/\r|\n/);
    this.stderrTail = parts.pop() ?? '';
    for (const line of parts) this.onLine(line.trim());
    // A "Packets: N " counter is not followed by a line end until the next update: read it early.
    const pending = /^Packets: ([0-9]+)/.exec(this.stderrTail.trim());
    if (pending) this.packets = Number(pending[1]);
  }

  private onLine(line: string): void {
    if (line.length === 0) return;
    let m = /^Packets: ([0-9]+)/.exec(line);
    if (m) {
      this.packets = Number(m[1]);
      // dumpcap may print its error after the counter on the same line.
      line = line.slice(m[0].length).trim();
      if (line.length === 0) return;
    }
    if (/^File: /.test(line) || /^(tcpdump: )?listening on /.test(line)) {
      if (this.readyNs === null) {
        this.readyNs = wallNs();
        this.onReady?.();
      }
      return;
    }
    m = /^Packets received\/dropped on interface '.*': ([0-9]+)\/([0-9]+)(?: \(([^)]*)\))?/.exec(line);
    if (m) {
      this.stats = { received: Number(m[1]), dropped: Number(m[2]), detail: m[3] ?? null };
      return;
    }
    m = /^([0-9]+) packets? received by filter/.exec(line);
    if (m) {
      this.stats = { received: Number(m[1]), dropped: this.stats?.dropped ?? 0, detail: null };
      return;
    }
    m = /^([0-9]+) packets? dropped by kernel/.exec(line);
    if (m) {
      this.stats = { received: this.stats?.received ?? 0, dropped: Number(m[1]), detail: null };
      return;
    }
    // dumpcap: 'The network adapter "x" is no longer attached'; tcpdump (libpcap): 'The interface disappeared'.
    if (
      /no longer attached|no longer running|has been disconnected|went down|interface disappeared/i.test(line)
    )
      this.vanished = true;
    if (/^(dumpcap|tcpdump): /.test(line)) {
      this.errorLines.push(line);
      return;
    }
    // dumpcap explains an invalid filter on the next line; keep it, drop its boilerplate pointer.
    if (this.errorLines.length > 0 && this.errorLines.length < 3 && !/^See /.test(line))
      this.errorLines.push(line);
  }

  private exitRecord(code: number | null, signal: NodeJS.Signals | null): CaptureExit {
    let reason: CaptureExit['reason'];
    if (this.vanished) reason = 'vanished';
    else if (this.stopRequested) reason = 'stopped';
    else if (code === 0 && this.spec.packets !== undefined) reason = 'limit';
    else if (code === 0) reason = 'stopped';
    else reason = 'error';
    const message = this.errorLines.length > 0 ? joinError(this.errorLines) : null;
    return { code, signal, reason, stats: this.stats, message, endedNs: wallNs(), killed: this.killed };
  }
}

/** dumpcap's multi-line error (`dumpcap: Invalid capture filter ...` + an explanation) as one line. */
function joinError(lines: string[]): string {
  const [head, ...rest] = lines;
  const first = (head ?? '').replace(/\.$/, '');
  return rest.length > 0 ? `${first}: ${rest.join(' ')}` : first;
}
