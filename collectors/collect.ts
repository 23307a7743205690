import { readdir, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { UsageError } from '../cli/usage-error.ts';
import type { BundleManifest, CaptureRecord, MetadataRecord, NotCapturedRecord } from './bundle-manifest.ts';
import { netnsRecord, validateManifest } from './bundle-manifest.ts';
import { BundleWriter } from './bundle-writer.ts';
import {
  CaptureProcess,
  drainMs,
  type Engine,
  type EngineName,
  findEngine,
  noParentDeathWarning,
  type RingSpec,
} from './capture-engine.ts';
import { type FinishedCapture, filesFromCapture } from './capture-files.ts';
import { wallNs } from './clock.ts';
import { findTool } from './find-tool.ts';
import {
  defaultNodePatterns,
  defaultPodPatterns,
  listLinks,
  matchInterfaces,
  pointKind,
} from './iface-match.ts';
import { describeNamespace, type NsTarget } from './netns.ts';
import { collectIp, collectK8s, collectNodeHost } from './node-metadata.ts';
import { checkSegment } from './path-names.ts';
import type { PodTarget } from './placement.ts';
import { killRunningCommands } from './run-command.ts';

export type { PodTarget } from './placement.ts';

export interface CollectOptions {
  out: string;
  node: string;
  /** Where the node's interfaces are captured and its `ip -j` tables read. */
  nodeNs: NsTarget;
  /** False when only pods are captured (`--pod ns/name --netns X`, the single-pod form). */
  captureNode: boolean;
  ifacePatterns?: readonly string[];
  /** One `-i any` capture for the node instead of one per interface. */
  any?: boolean;
  pods?: readonly PodTarget[];
  podPatterns?: readonly string[];
  filter?: string;
  snaplen?: number;
  bufferMiB?: number;
  /** Per capture: each interface stops after this many packets. */
  packets?: number;
  durationMs?: number;
  ring?: RingSpec;
  /** Interval of the rescan for new interfaces; 0 disables it. */
  rescanMs?: number;
  kubectl?: boolean;
  engine?: EngineName;
  /** The command line, recorded in bundle.json. */
  command: readonly string[];
  toolVersion: string;
  /** Aborting stops the collection cleanly (the CLI wires SIGINT/SIGTERM to it). */
  signal?: AbortSignal;
  /**
   * Aborting forces the end of a stop already under way (the CLI wires a second SIGINT/SIGTERM to it): engines
   * are stopped by PID with a short grace and then killed, pending metadata commands are killed, and bundle.json
   * is written with what is known and `interrupted: true`.
   */
  force?: AbortSignal;
  /** Lines for stdout: "ready ...", the summary, the drop report. */
  log: (line: string) => void;
  /** A live status line (the CLI passes one only on a TTY). */
  progress?: (line: string) => void;
}

export interface CollectResult {
  manifest: BundleManifest;
  /** PIDs of every engine process started (tests check none is left). */
  pids: number[];
  /** True when a forced stop cut the collection short (the CLI then exits 130). */
  interrupted: boolean;
}

/** A forced stop gives each engine this long to answer SIGINT before SIGKILL. */
const forceGraceMs = 500;
/** ... and waits at most this long for metadata commands it has just killed to report. */
const forceMetadataWaitMs = 1000;
/**
 * dumpcap's own `-a duration:` backstop fires this long after the collector's deadline: late enough that the
 * collector's stop (deadline + drain + SIGINT) always comes first while hoptrace lives, and only an orphaned
 * engine ever reaches it.
 */
const autostopMarginS = 10;

/** An interface that matched but had no capture for a while: down at the start, or a start that never worked. */
type MarkGap = (
  g: Group,
  iface: string,
  reason: NotCapturedRecord['reason'],
  atStart: boolean,
  detail: string,
) => boolean;

interface Gap {
  g: Group;
  iface: string;
  reason: NotCapturedRecord['reason'];
  detail: string;
  startNs: bigint;
  /** When a capture of it started; null while there is none. */
  endNs: bigint | null;
  /** Down when the collection started: recorded even once captured (its window then starts late). */
  atStart: boolean;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function aborted(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal === undefined) return;
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/** dumpcap's and libpcap's wording for a device that is not up (PCAP_ERROR_IFACE_NOT_UP). */
const notUpRe = /not up/i;

/** Thrown by a start asked for after the stop was decided; the rescan then just ends, without a warning. */
class StoppingError extends Error {
  override name = 'StoppingError';
  constructor() {
    super('the collection is stopping');
  }
}

/** One namespace whose interfaces are captured: the node, or a pod. */
interface Group {
  scope: 'node' | 'pod';
  ns: NsTarget;
  patterns: readonly string[];
  prefix: string;
  pointPrefix: string;
  node: string;
  pod: { namespace: string; name: string } | null;
}

interface Running {
  group: Group;
  iface: string;
  relPath: string;
  proc: CaptureProcess;
  lateStart: boolean;
}

function checkNames(o: CollectOptions): void {
  const problems = [checkSegment('node', o.node)];
  for (const p of o.pods ?? [])
    problems.push(checkSegment('pod namespace', p.namespace), checkSegment('pod', p.name));
  for (const t of [o.nodeNs, ...(o.pods ?? []).map((p) => p.ns)]) {
    if (t.kind === 'netns') problems.push(checkSegment('network namespace', t.name));
  }
  const first = problems.find((p) => p !== null);
  if (first) throw new UsageError(first);
}

/** `--out` must be new or an empty folder: a bundle never mixes two collections. */
async function checkOutDir(out: string): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(out);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return; // created when the first file is written
    // A file in the way (ENOTDIR) or an unreadable folder: say so now, not as a failed write after capturing.
    throw new UsageError(`--out ${out}: ${code === 'ENOTDIR' ? 'exists and is not a folder' : code}`);
  }
  if (entries.length > 0) throw new UsageError(`--out ${out} exists and is not empty: choose a new folder`);
}

function groupsOf(o: CollectOptions): Group[] {
  const groups: Group[] = [];
  if (o.captureNode) {
    groups.push({
      scope: 'node',
      ns: o.nodeNs,
      patterns: o.any ? ['any'] : (o.ifacePatterns ?? defaultNodePatterns),
      prefix: `nodes/${o.node}`,
      pointPrefix: `node/${o.node}`,
      node: o.node,
      pod: null,
    });
  }
  for (const p of o.pods ?? []) {
    groups.push({
      scope: 'pod',
      ns: p.ns,
      patterns: o.podPatterns ?? defaultPodPatterns,
      prefix: `pods/${p.namespace}/${p.name}`,
      pointPrefix: `pod/${p.namespace}/${p.name}`,
      node: o.node,
      pod: { namespace: p.namespace, name: p.name },
    });
  }
  return groups;
}

/**
 * Interfaces of a group that match its patterns, with whether each is up (a down one cannot be captured yet);
 * `any` is not listed by `ip link`, so it is taken as is.
 */
async function matching(g: Group, warnings: Set<string>): Promise<{ name: string; up: boolean }[]> {
  if (g.patterns.length === 1 && g.patterns[0] === 'any') return [{ name: 'any', up: true }];
  const links = await listLinks(g.ns);
  const up = new Map(links.map((l) => [l.ifname, l.up]));
  return matchInterfaces(
    links.map((l) => l.ifname),
    g.patterns,
  )
    .filter((name) => {
      const problem = checkSegment('interface', name);
      if (problem !== null) warnings.add(`${g.pointPrefix}: skipped an interface: ${problem}`);
      return problem === null;
    })
    .map((name) => ({ name, up: up.get(name) === true }));
}

/**
 * `hoptrace collect`: captures every matching interface of a node and its pods at once, one engine process per
 * interface, with the node's metadata, into a capture bundle (DESIGN §3). Returns once every capture is
 * stopped, counted and bundle.json is written.
 */
export async function collectBundle(o: CollectOptions): Promise<CollectResult> {
  checkNames(o);
  await checkOutDir(o.out);
  const engine = await findEngine(o.engine);
  // tcpdump's rotation cannot give DESIGN §3's ring (docs/collect.md, "Why dumpcap"): refuse before anything runs.
  if (o.ring && engine.name !== 'dumpcap')
    throw new UsageError(
      o.engine === 'tcpdump'
        ? '--ring needs dumpcap: tcpdump has no ring support here; drop --engine tcpdump'
        : '--ring needs dumpcap (tcpdump has no ring support here): install the Debian package wireshark-common',
    );
  const kubectl = o.kubectl ? findTool('kubectl') : null;
  if (o.kubectl && kubectl === null) throw new UsageError('--kubectl given but kubectl is not on PATH');
  const groups = groupsOf(o);
  const warnings = new Set<string>();
  if (!engine.parentDeath) warnings.add(noParentDeathWarning);
  const gaps = new Map<string, Gap>();
  let forced = false;
  // The --duration deadline once known (the timer starts at `ready`); until then the backstop counts the whole
  // duration from each engine's start, which only makes it later.
  let deadlineMs: number | null = null;
  const ext = engine.name === 'dumpcap' ? 'pcapng' : 'pcap';
  const writer = new BundleWriter(o.out);
  const startedAt = new Date();
  const startNs = wallNs();
  const running: Running[] = [];
  const pids: number[] = [];
  const used = new Set<string>();
  // Set once the stop is decided: a rescan still in flight must not start an engine nobody will stop.
  let stopping = false;
  // Engines run in their own process groups; if hoptrace dies of an exception, still do not leave them behind.
  const killLeftovers = () => {
    for (const r of running) if (r.proc.running && r.proc.pid !== null) process.kill(r.proc.pid, 'SIGINT');
  };
  process.on('exit', killLeftovers);

  const startOne = async (g: Group, iface: string, lateStart: boolean): Promise<Running> => {
    if (stopping) throw new StoppingError();
    let relPath = `${g.prefix}/captures/${iface}.${ext}`;
    // An interface that vanished and came back gets a second file: never overwrite the first.
    for (let n = 2; used.has(relPath) && n < 1000; n++) relPath = `${g.prefix}/captures/${iface}.${n}.${ext}`;
    used.add(relPath);
    const outPath = await writer.prepare(relPath);
    // Checked again after the await: a forced stop may have gone through the engine list meanwhile.
    if (stopping) {
      used.delete(relPath);
      throw new StoppingError();
    }
    const autostopS =
      o.durationMs === undefined
        ? undefined
        : ((deadlineMs ?? Date.now() + o.durationMs) - Date.now()) / 1000 + autostopMarginS;
    const proc = new CaptureProcess(engine, {
      iface,
      ns: g.ns,
      outPath,
      autostopS,
      filter: o.filter,
      snaplen: o.snaplen,
      bufferMiB: o.bufferMiB,
      packets: o.packets,
      ring: o.ring,
      cooked: iface === 'any',
    });
    const r: Running = { group: g, iface, relPath, proc, lateStart };
    running.push(r);
    const started = proc.start();
    if (proc.pid !== null) pids.push(proc.pid);
    try {
      await started;
    } catch (e) {
      // start() rejects only once the engine has exited: forget it, or bundle.json would list a file it never
      // wrote (an interface that vanished between the rescan's listing and the capture).
      running.splice(running.indexOf(r), 1);
      used.delete(relPath);
      throw e;
    }
    const gap = gaps.get(`${g.pointPrefix}/${iface}`);
    if (gap !== undefined && gap.endNs === null) gap.endNs = proc.readyNs;
    return r;
  };
  const markGap: MarkGap = (g, iface, reason, atStart, detail) => {
    const key = `${g.pointPrefix}/${iface}`;
    const known = gaps.get(key);
    // Still uncovered: keep when that began, update why. Covered once already: the first record stays.
    if (known !== undefined) {
      if (known.endNs === null) Object.assign(known, { reason, detail });
      return known.atStart;
    }
    gaps.set(key, { g, iface, reason, detail, startNs: atStart ? startNs : wallNs(), endNs: null, atStart });
    return atStart;
  };

  // Start everything; on any failure stop what did start, so no engine is left behind, and report the first.
  const initial: { g: Group; iface: string }[] = [];
  const downAtStart: string[] = [];
  for (const g of groups) {
    let names: { name: string; up: boolean }[];
    try {
      names = await matching(g, warnings);
    } catch (e) {
      throw new UsageError(`${g.pointPrefix}: ${e instanceof Error ? e.message : String(e)}`);
    }
    for (const { name: iface, up } of names) {
      // A down interface (an unused ENI under the default `eth*`) must not stop the whole collection: it is
      // recorded as not captured and the rescan starts it if it comes up.
      if (up) initial.push({ g, iface });
      else {
        markGap(g, iface, 'down', true, 'the interface is down');
        downAtStart.push(`${g.pointPrefix}/${iface}`);
      }
    }
    if (names.length === 0 && g.scope === 'pod') {
      throw new UsageError(
        `${g.pointPrefix}: no interface matches ${g.patterns.join(', ')} in ${describeNamespace(g.ns)}`,
      );
    }
  }
  if (initial.length === 0 && downAtStart.length > 0)
    throw new UsageError(`every matching interface is down, nothing to capture: ${downAtStart.join(', ')}`);
  if (initial.length === 0) {
    const g = groups[0];
    const where = g ? ` in ${describeNamespace(g.ns)}` : '';
    throw new UsageError(`no interface matches --iface ${(g?.patterns ?? []).join(', ')}${where}`);
  }
  const outcomes = await Promise.allSettled(initial.map(({ g, iface }) => startOne(g, iface, false)));
  // One that went down between the listing and the start is a down interface too, not a reason to abort.
  outcomes.forEach((x, i) => {
    const at = initial[i];
    if (x.status === 'rejected' && at !== undefined && notUpRe.test(String(x.reason))) {
      markGap(at.g, at.iface, 'down', true, x.reason instanceof Error ? x.reason.message : String(x.reason));
      downAtStart.push(`${at.g.pointPrefix}/${at.iface}`);
    }
  });
  const failed = outcomes.findIndex((x) => x.status === 'rejected' && !notUpRe.test(String(x.reason)));
  if (failed < 0 && running.length === 0) {
    process.off('exit', killLeftovers);
    throw new UsageError(`every matching interface is down, nothing to capture: ${downAtStart.join(', ')}`);
  }
  if (failed >= 0) {
    await Promise.all(running.map((r) => r.proc.stop()));
    process.off('exit', killLeftovers);
    const failure = outcomes[failed] as PromiseRejectedResult;
    const at = initial[failed];
    const why = failure.reason instanceof Error ? failure.reason.message : String(failure.reason);
    throw new UsageError(`cannot capture on ${at?.g.pointPrefix}/${at?.iface}: ${why}`);
  }
  for (const point of downAtStart) {
    const line =
      o.rescanMs === 0
        ? `${point}: down at the start: not captured (--rescan 0)`
        : `${point}: down at the start: not captured until it comes up`;
    warnings.add(line);
    // Said now too, not only in the summary: whoever watches the start should know a point is missing.
    o.log(`warning: ${line}`);
  }
  o.log(`ready: capturing ${running.length} interface${running.length === 1 ? '' : 's'} into ${writer.root}`);
  if (o.durationMs !== undefined) deadlineMs = Date.now() + o.durationMs;

  // Filled as each metadata source finishes, so a forced stop can list what was done.
  const metadata: MetadataRecord[] = [];
  const metaStart = collectMetadata(writer, o, groups, kubectl, metadata);

  let stopReason: StopReason = 'signal';
  let stopNs: bigint | null = null;
  const gracefulStop = async (): Promise<void> => {
    const stopped = await waitForStop(o, groups, running, warnings, startOne, markGap);
    stopReason = stopped.reason;
    stopNs = wallNs();
    stopping = true;
    // An engine that a rescan started just now is in `running` once this settles, so it is stopped below too.
    await stopped.rescanDone;
    o.progress?.('');
    await sleep(drainMs);
    if (forced) return;
    await Promise.all(running.map((r) => r.proc.stop()));
    await metaStart;
    if (!forced && running.some((r) => r.lateStart)) {
      // New interfaces appeared: their routes and neighbours are only in a fresh `ip -j` read.
      for (const g of groups) await collectIp(writer, g.prefix, g.ns, g.scope === 'pod');
    }
  };
  const outcome = await Promise.race([
    gracefulStop().then(() => 'stopped' as const),
    aborted(o.force).then(() => 'forced' as const),
  ]);
  if (outcome === 'forced') {
    // The second Ctrl-C: whatever the graceful stop was waiting for, end it now, by PID.
    forced = true;
    stopping = true;
    stopNs ??= wallNs();
    o.progress?.('');
    await Promise.all(running.map((r) => r.proc.forceStop(forceGraceMs)));
    killRunningCommands();
    await Promise.race([metaStart, sleep(forceMetadataWaitMs)]);
    warnings.add('interrupted: a second signal forced the stop; metadata may be incomplete');
  }
  process.off('exit', killLeftovers);
  const endNs: bigint = stopNs ?? wallNs();
  for (const m of metadata) {
    // A missing optional source is normal (`absent`); a command that failed is worth a line in the summary.
    if (m.status === 'failed') warnings.add(`${m.path}: not collected: ${m.source}: ${m.detail ?? 'failed'}`);
  }
  const captures: CaptureRecord[] = [];
  for (const r of running) {
    const exit = await r.proc.exited;
    const finished: FinishedCapture = {
      point: `${r.group.pointPrefix}/${r.iface}`,
      node: r.group.node,
      pod: r.group.pod,
      iface: r.iface,
      kind: pointKind(r.group.scope, r.iface),
      relPath: r.relPath,
      absPath: writer.resolve(r.relPath),
      ring: o.ring !== undefined,
      lateStart: r.lateStart,
      readyNs: r.proc.readyNs ?? startNs,
      exit,
      filter: o.filter ?? null,
      snaplen: o.snaplen ?? null,
    };
    if (exit.reason === 'error')
      warnings.add(`${finished.point}: capture ended early: ${exit.message ?? `exit ${exit.code}`}`);
    if (exit.killed)
      warnings.add(`${finished.point}: ${engine.name} ignored SIGINT and was killed; drops unknown`);
    for (const { record, scan } of await filesFromCapture(finished, endNs)) {
      if (scan.error !== null) warnings.add(scan.error);
      if (exit.stats === null && record.drops === null)
        warnings.add(`${record.point}: drop count unknown (no engine summary, no ISB)`);
      captures.push(record);
    }
  }

  const manifest = buildManifest(
    o,
    engine,
    groups,
    startedAt,
    startNs,
    endNs,
    stopReason,
    captures,
    metadata,
    [...warnings],
  );
  const notCaptured = notCapturedRecords(gaps, endNs);
  if (notCaptured.length > 0) manifest.not_captured = notCaptured;
  if (forced) manifest.interrupted = true;
  const problems = validateManifest(manifest);
  for (const p of problems) manifest.warnings.push(`internal: ${p}`);
  await writer.write('bundle.json', `${JSON.stringify(manifest, null, 2)}\n`);
  report(o, manifest);
  return { manifest, pids, interrupted: forced };
}

/**
 * bundle.json's `not_captured`: interfaces down at the start (also once captured later: the point had no
 * coverage until then), and interfaces a rescan found that never got a capture.
 */
function notCapturedRecords(gaps: Map<string, Gap>, endNs: bigint): NotCapturedRecord[] {
  const out: NotCapturedRecord[] = [];
  for (const gap of gaps.values()) {
    if (!gap.atStart && gap.endNs !== null) continue; // a late interface captured: late_start says it all
    out.push({
      point: `${gap.g.pointPrefix}/${gap.iface}`,
      node: gap.g.node,
      pod: gap.g.pod,
      iface: gap.iface,
      kind: pointKind(gap.g.scope, gap.iface),
      reason: gap.reason,
      detail: gap.detail,
      start_ns: String(gap.startNs),
      end_ns: String(gap.endNs ?? endNs),
      captured_later: gap.endNs !== null,
    });
  }
  return out;
}

async function collectMetadata(
  writer: BundleWriter,
  o: CollectOptions,
  groups: Group[],
  kubectl: string | null,
  into: MetadataRecord[],
): Promise<void> {
  const nodePrefix = `nodes/${o.node}`;
  const parts: Promise<MetadataRecord[]>[] = [collectNodeHost(writer, nodePrefix)];
  // The node's ip tables come from the node's namespace even in the single-pod form.
  if (!groups.some((g) => g.scope === 'node')) parts.push(collectIp(writer, nodePrefix, o.nodeNs, false));
  for (const g of groups) parts.push(collectIp(writer, g.prefix, g.ns, g.scope === 'pod'));
  if (kubectl !== null) parts.push(collectK8s(writer, kubectl));
  await Promise.all(parts.map((p) => p.then((records) => void into.push(...records))));
}

type StopReason = BundleManifest['stop_reason'];

/**
 * Runs until a signal, the duration, or every capture ending; meanwhile rescans and shows progress.
 * `rescanDone` settles once no rescan is in flight any more (the caller waits for it before stopping engines).
 */
async function waitForStop(
  o: CollectOptions,
  groups: Group[],
  running: Running[],
  warnings: Set<string>,
  startOne: (g: Group, iface: string, late: boolean) => Promise<Running>,
  markGap: MarkGap,
): Promise<{ reason: StopReason; rescanDone: Promise<unknown> }> {
  const began = Date.now();
  const rescanMs = o.rescanMs ?? 2000;
  const notCaptured = new Map<string, string>();
  let inFlight: Promise<unknown> = Promise.resolve();
  const reason = await new Promise<StopReason>((resolve) => {
    const timers: NodeJS.Timeout[] = [];
    let done = false;
    let scanning = false;
    const finish = (reason: StopReason) => {
      if (done) return;
      done = true;
      for (const t of timers) clearInterval(t);
      o.signal?.removeEventListener('abort', onAbort);
      resolve(reason);
    };
    const onAbort = () => finish('signal');
    if (o.signal?.aborted) return finish('signal');
    o.signal?.addEventListener('abort', onAbort, { once: true });
    if (o.durationMs !== undefined) timers.push(setTimeout(() => finish('duration'), o.durationMs));
    const checkEnded = () => {
      if (scanning || running.some((r) => r.proc.running)) return;
      // Nothing left to capture: stop, unless a rescan may still bring new interfaces and no limit was set.
      if (o.packets !== undefined) finish('limit');
      else if (rescanMs === 0) finish('interfaces-gone');
    };
    for (const r of running) void r.proc.exited.then(checkEnded);
    if (rescanMs > 0) {
      timers.push(
        setInterval(() => {
          if (scanning || done) return;
          scanning = true;
          inFlight = rescan(groups, running, warnings, notCaptured, startOne, markGap)
            .then((added) => {
              for (const r of added) void r.proc.exited.then(checkEnded);
            })
            .finally(() => {
              scanning = false;
              // A capture that ended while this scan ran found `scanning` set and left the check to us.
              checkEnded();
            });
        }, rescanMs),
      );
    }
    if (o.progress) {
      const progress = o.progress;
      timers.push(
        setInterval(() => {
          void progressLine(running, Date.now() - began).then((line) => {
            if (!done) progress(line);
          });
        }, 1000),
      );
    }
  });
  const rescanDone = inFlight
    .catch(() => undefined)
    .then(() => {
      for (const line of notCaptured.values()) warnings.add(line);
    });
  return { reason, rescanDone };
}

/**
 * `12s  eth1 1042 pkts  eth2 3.1 MB (ended)`: packets where the engine reports them (dumpcap's counter), else
 * the bytes written so far (tcpdump prints no live count into a pipe), read from the file's size.
 */
async function progressLine(running: readonly Running[], elapsedMs: number): Promise<string> {
  const parts = await Promise.all(
    running.map(async (r) => {
      const name = r.group.scope === 'pod' ? `${r.group.pod?.name}/${r.iface}` : r.iface;
      let count = `${r.proc.packets} pkts`;
      if (r.proc.engine.name !== 'dumpcap') {
        const bytes = await stat(r.proc.spec.outPath).then(
          (st) => st.size,
          () => 0,
        );
        count = formatBytes(bytes);
      }
      return `${name} ${count}${r.proc.running ? '' : ' (ended)'}`;
    }),
  );
  return `${Math.floor(elapsedMs / 1000)}s  ${parts.join('  ')}`;
}

export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  if (n < 1e9) return `${(n / 1e6).toFixed(1)} MB`;
  return `${(n / 1e9).toFixed(2)} GB`;
}

/** Starts captures on interfaces that appeared since the last look (a pod started mid-capture). */
async function rescan(
  groups: Group[],
  running: Running[],
  warnings: Set<string>,
  notCaptured: Map<string, string>,
  startOne: (g: Group, iface: string, late: boolean) => Promise<Running>,
  markGap: MarkGap,
): Promise<Running[]> {
  const added: Running[] = [];
  for (const g of groups) {
    let names: { name: string; up: boolean }[];
    try {
      names = await matching(g, warnings);
    } catch {
      continue; // the namespace itself went away (pod deleted): its captures end on their own
    }
    for (const { name: iface, up } of names) {
      // Start a capture only for an interface never captured, or whose last capture ended because the interface
      // went away (it came back). One that reached --packets, or ran and then failed, stays ended: restarting
      // it would break the limit, or repeat the failure every rescan. A start that failed left no entry: retried.
      const last = running.filter((r) => r.group === g && r.iface === iface).at(-1);
      if (last !== undefined && (last.proc.running || last.proc.exitReason !== 'vanished')) continue;
      if (!up) {
        // dumpcap would refuse it: wait for it to come up instead of spawning an engine every rescan.
        const point = `${g.pointPrefix}/${iface}`;
        // One down since the start already has its warning; a new one is reported if it never comes up.
        if (last === undefined && !markGap(g, iface, 'down', false, 'the interface is down'))
          notCaptured.set(point, `${point}: not captured: the interface is down`);
        continue;
      }
      try {
        added.push(await startOne(g, iface, true));
        notCaptured.delete(`${g.pointPrefix}/${iface}`);
      } catch (e) {
        if (e instanceof StoppingError) return added;
        // Vanished again between listing and capture, or not up yet (a new pod's veth is created down; dumpcap
        // refuses a down device): not fatal mid-collection, and retried at the next rescan. Only the last
        // failure of an interface never captured reaches the summary.
        const why = e instanceof Error ? e.message : String(e);
        if (last === undefined) markGap(g, iface, notUpRe.test(why) ? 'down' : 'failed', false, why);
        notCaptured.set(`${g.pointPrefix}/${iface}`, `${g.pointPrefix}/${iface}: not captured: ${why}`);
      }
    }
  }
  return added;
}

function buildManifest(
  o: CollectOptions,
  engine: Engine,
  groups: Group[],
  startedAt: Date,
  startNs: bigint,
  stopNs: bigint,
  stopReason: StopReason,
  captures: CaptureRecord[],
  metadata: MetadataRecord[],
  warnings: string[],
): BundleManifest {
  return {
    schema_version: 1,
    tool: { name: 'hoptrace', version: o.toolVersion },
    command: [...o.command],
    engine: { name: engine.name, version: engine.version },
    started_at: startedAt.toISOString(),
    stopped_at: new Date().toISOString(),
    start_ns: String(startNs),
    end_ns: String(stopNs),
    stop_reason: stopReason,
    nodes: [{ name: o.node, netns: netnsRecord(o.nodeNs), hostname: hostname() }],
    pods: groups
      .filter((g) => g.pod !== null)
      .map((g) => ({
        namespace: g.pod?.namespace ?? '',
        name: g.pod?.name ?? '',
        node: o.node,
        netns: netnsRecord(g.ns),
      })),
    captures,
    metadata,
    warnings,
  };
}

/** The end-of-run summary; drops are always spelled out (never silent). */
function report(o: CollectOptions, m: BundleManifest): void {
  const packets = m.captures.reduce((n, c) => n + c.packets, 0);
  o.log(
    `stopped (${m.stop_reason}): ${m.captures.length} file${m.captures.length === 1 ? '' : 's'}, ${packets} packets`,
  );
  for (const c of m.captures) {
    if (c.loss === 'dropped') o.log(`drops: ${c.point} dropped ${c.drops} packets (${c.path})`);
    if (c.loss === 'unknown') o.log(`drops: ${c.point} drop count unknown (${c.path})`);
  }
  if (m.captures.every((c) => c.loss === 'none')) o.log('drops: none');
  for (const w of m.warnings) o.log(`warning: ${w}`);
}
