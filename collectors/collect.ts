import { readdir, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { UsageError } from '../cli/usage-error.ts';
import type { BundleManifest, CaptureRecord, MetadataRecord } from './bundle-manifest.ts';
import { netnsRecord, validateManifest } from './bundle-manifest.ts';
import { BundleWriter } from './bundle-writer.ts';
import {
  CaptureProcess,
  drainMs,
  type Engine,
  type EngineName,
  findEngine,
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
  /** Lines for stdout: "ready ...", the summary, the drop report. */
  log: (line: string) => void;
  /** A live status line (the CLI passes one only on a TTY). */
  progress?: (line: string) => void;
}

export interface CollectResult {
  manifest: BundleManifest;
  /** PIDs of every engine process started (tests check none is left). */
  pids: number[];
}

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

/** Interfaces of a group that match its patterns; `any` is not listed by `ip link`, so it is taken as is. */
async function matching(g: Group, warnings: Set<string>): Promise<string[]> {
  if (g.patterns.length === 1 && g.patterns[0] === 'any') return ['any'];
  const names = (await listLinks(g.ns)).map((l) => l.ifname);
  return matchInterfaces(names, g.patterns).filter((name) => {
    const problem = checkSegment('interface', name);
    if (problem !== null) warnings.add(`${g.pointPrefix}: skipped an interface: ${problem}`);
    return problem === null;
  });
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
  if (o.ring && engine.name !== 'dumpcap')
    throw new UsageError('--ring needs dumpcap: install the Debian package wireshark-common');
  const kubectl = o.kubectl ? findTool('kubectl') : null;
  if (o.kubectl && kubectl === null) throw new UsageError('--kubectl given but kubectl is not on PATH');
  const groups = groupsOf(o);
  const warnings = new Set<string>();
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
    const proc = new CaptureProcess(engine, {
      iface,
      ns: g.ns,
      outPath: await writer.prepare(relPath),
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
    return r;
  };

  // Start everything; on any failure stop what did start, so no engine is left behind, and report the first.
  const initial: { g: Group; iface: string }[] = [];
  for (const g of groups) {
    let names: string[];
    try {
      names = await matching(g, warnings);
    } catch (e) {
      throw new UsageError(`${g.pointPrefix}: ${e instanceof Error ? e.message : String(e)}`);
    }
    for (const iface of names) initial.push({ g, iface });
    if (names.length === 0 && g.scope === 'pod') {
      throw new UsageError(
        `${g.pointPrefix}: no interface matches ${g.patterns.join(', ')} in ${describeNamespace(g.ns)}`,
      );
    }
  }
  if (initial.length === 0) {
    const g = groups[0];
    const where = g ? ` in ${describeNamespace(g.ns)}` : '';
    throw new UsageError(`no interface matches --iface ${(g?.patterns ?? []).join(', ')}${where}`);
  }
  const outcomes = await Promise.allSettled(initial.map(({ g, iface }) => startOne(g, iface, false)));
  const failed = outcomes.findIndex((x) => x.status === 'rejected');
  if (failed >= 0) {
    await Promise.all(running.map((r) => r.proc.stop()));
    process.off('exit', killLeftovers);
    const failure = outcomes[failed] as PromiseRejectedResult;
    const at = initial[failed];
    const why = failure.reason instanceof Error ? failure.reason.message : String(failure.reason);
    throw new UsageError(`cannot capture on ${at?.g.pointPrefix}/${at?.iface}: ${why}`);
  }
  o.log(`ready: capturing ${running.length} interface${running.length === 1 ? '' : 's'} into ${writer.root}`);

  const metadata: MetadataRecord[] = [];
  const metaStart = collectMetadata(writer, o, groups, kubectl);

  const { reason: stopReason, rescanDone } = await waitForStop(o, groups, running, warnings, startOne);
  const stopNs = wallNs();
  stopping = true;
  // An engine that a rescan started just now is in `running` once this settles, so it is stopped below too.
  await rescanDone;
  o.progress?.('');
  await new Promise((r) => setTimeout(r, drainMs));
  await Promise.all(running.map((r) => r.proc.stop()));
  process.off('exit', killLeftovers);
  metadata.push(...(await metaStart));
  for (const m of metadata) {
    // A missing optional source is normal (`absent`); a command that failed is worth a line in the summary.
    if (m.status === 'failed') warnings.add(`${m.path}: not collected: ${m.source}: ${m.detail ?? 'failed'}`);
  }
  if (running.some((r) => r.lateStart)) {
    // New interfaces appeared: their routes and neighbours are only in a fresh `ip -j` read.
    for (const g of groups) await collectIp(writer, g.prefix, g.ns, g.scope === 'pod');
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
    for (const { record, scan } of await filesFromCapture(finished, stopNs)) {
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
    stopNs,
    stopReason,
    captures,
    metadata,
    [...warnings],
  );
  const problems = validateManifest(manifest);
  for (const p of problems) manifest.warnings.push(`internal: ${p}`);
  await writer.write('bundle.json', `${JSON.stringify(manifest, null, 2)}\n`);
  report(o, manifest);
  return { manifest, pids };
}

async function collectMetadata(
  writer: BundleWriter,
  o: CollectOptions,
  groups: Group[],
  kubectl: string | null,
): Promise<MetadataRecord[]> {
  const nodePrefix = `nodes/${o.node}`;
  const parts: Promise<MetadataRecord[]>[] = [collectNodeHost(writer, nodePrefix)];
  // The node's ip tables come from the node's namespace even in the single-pod form.
  if (!groups.some((g) => g.scope === 'node')) parts.push(collectIp(writer, nodePrefix, o.nodeNs, false));
  for (const g of groups) parts.push(collectIp(writer, g.prefix, g.ns, g.scope === 'pod'));
  if (kubectl !== null) parts.push(collectK8s(writer, kubectl));
  return (await Promise.all(parts)).flat();
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
          inFlight = rescan(groups, running, warnings, notCaptured, startOne)
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
): Promise<Running[]> {
  const added: Running[] = [];
  for (const g of groups) {
    let names: string[];
    try {
      names = await matching(g, warnings);
    } catch {
      continue; // the namespace itself went away (pod deleted): its captures end on their own
    }
    for (const iface of names) {
      // Start a capture only for an interface never captured, or whose last capture ended because the interface
      // went away (it came back). One that reached --packets, or ran and then failed, stays ended: restarting
      // it would break the limit, or repeat the failure every rescan. A start that failed left no entry: retried.
      const last = running.filter((r) => r.group === g && r.iface === iface).at(-1);
      if (last !== undefined && (last.proc.running || last.proc.exitReason !== 'vanished')) continue;
      try {
        added.push(await startOne(g, iface, true));
        notCaptured.delete(`${g.pointPrefix}/${iface}`);
      } catch (e) {
        if (e instanceof StoppingError) return added;
        // Vanished again between listing and capture, or not up yet (a new pod's veth is created down; dumpcap
        // refuses a down device): not fatal mid-collection, and retried at the next rescan. Only the last
        // failure of an interface never captured reaches the summary.
        notCaptured.set(
          `${g.pointPrefix}/${iface}`,
          `${g.pointPrefix}/${iface}: not captured: ${e instanceof Error ? e.message : String(e)}`,
        );
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
