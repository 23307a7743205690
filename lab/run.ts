/**
 * `hoptrace lab run`: build the lab, record every scenario's traffic with `hoptrace collect`, write the bundle
 * and expected.json, tear everything down (also on errors and signals).
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { UsageError } from '../cli/usage-error.ts';
import { checkBundle } from './check.ts';
import { cleanLab, cleanLabSync, labNamespaces } from './clean.ts';
import { installDatapath } from './datapath.ts';
import { run } from './exec.ts';
import { expectedFile } from './expected.ts';
import { flowCatalogue } from './flows.ts';
import { installNetfilter } from './iptables.ts';
import { LEGACY_KERNEL } from './metadata.ts';
import { checkMode, type LabMode } from './modes.ts';
import { labPlan } from './plan.ts';
import { mergeBundles, type Recorder, startRecorder } from './record.ts';
import { claimOwner, ensureLabDir, LAB_DIR } from './state.ts';
import { setupTopology } from './topology.ts';
import { runFlows, segmentOnOneHop, startServers } from './traffic.ts';

export interface LabRunOptions {
  mode: LabMode;
  out: string;
  expected?: string;
  /** one node-wide `-i any` capture per node instead of one file per interface */
  any: boolean;
  command: string[];
  log: (line: string) => void;
}

export function requireRoot(): void {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    throw new UsageError('hoptrace lab needs root (network namespaces, tc, bpffs): run it with sudo');
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Teardown on exit and on signals, installed for the lifetime of one run. */
function guardTeardown(): () => void {
  const onSignal = (signal: NodeJS.Signals) => {
    cleanLabSync();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  const onExit = () => cleanLabSync();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  process.on('exit', onExit);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
    process.off('exit', onExit);
  };
}

export interface LabRunResult {
  /** flows whose traffic did not complete (or was answered by the wrong backend) */
  failed: string[];
  /** where the captures disagree with expected.json */
  disagreements: string[];
  bulkSizes: Record<string, number>;
}

export async function runLab(o: LabRunOptions): Promise<LabRunResult> {
  requireRoot();
  checkMode(o.mode);
  const out = resolve(o.out);
  if (existsSync(out) && readdirSync(out).length > 0)
    throw new UsageError(`--out ${o.out} exists and is not empty`);
  // Claim first, atomically, and only then clean leftovers: checking and claiming separately would let two
  // runs starting together both "clean" (and so destroy) each other's namespaces.
  const owner = claimOwner();
  if (owner !== null)
    throw new UsageError(`another lab run (pid ${owner}) is active; wait for it or stop it`);
  const unguard = guardTeardown();
  if (labNamespaces().length > 0) {
    o.log('removing what an earlier (killed) lab run left behind');
    await cleanLab({ keepOwner: true });
  }
  const recorders: Recorder[] = [];
  try {
    const plan = labPlan();
    ensureLabDir();
    o.log(`lab: building the topology (${plan.nodes.length} nodes, ${plan.pods.length} pods)`);
    const facts = setupTopology(plan);
    installNetfilter(plan);
    installDatapath(plan, facts, o.mode);
    segmentOnOneHop(plan);
    const flows = flowCatalogue(plan);
    const servers = await startServers(plan, [...new Set(flows.map((f) => f.server))]);
    for (const node of plan.nodes) {
      const dir = join(LAB_DIR, 'record', node.name);
      recorders.push(await startRecorder(plan, node.name, dir, { any: o.any }));
    }
    o.log('lab: recording; running the flows');
    await sleep(500);
    const outcomes = await runFlows(plan, flows);
    await sleep(500);
    // Taken out of `recorders` first so the finally block never signals a collector twice.
    const parts = recorders.splice(0);
    for (const r of parts) await r.stop();
    for (const s of servers) s.stop();
    const manifest = mergeBundles(plan, o.mode, parts, out, o.command);
    const realKernel = run('uname', ['-r']).stdout.trim();
    const kernel = o.mode.datapath === 'datapathv2-legacy-kernel' ? LEGACY_KERNEL : realKernel;
    const expected = {
      ...expectedFile(plan, o.mode, flows, Object.fromEntries(plan.nodes.map((n) => [n.name, kernel]))),
      recorded_on_kernel: realKernel,
      outcomes,
    };
    const expectedPath = resolve(o.expected ?? join(out, 'expected.json'));
    mkdirSync(dirname(expectedPath), { recursive: true });
    writeFileSync(expectedPath, `${JSON.stringify(expected, null, 2)}\n`);
    const failed = outcomes.filter((x) => !x.ok).map((x) => `${x.id}: ${x.detail}`);
    o.log(`lab: ${manifest.captures.length} captures in ${out}; expected flows in ${expectedPath}`);
    for (const f of failed) o.log(`lab: flow failed: ${f}`);
    const check = await checkBundle(plan, out, manifest, expected.flows);
    o.log(
      `lab: checked ${check.flows} flows against the captures: ${check.disagreements.length} disagreement(s)`,
    );
    for (const d of check.disagreements) o.log(`lab: disagreement: ${d}`);
    o.log(`lab: bulk transfer, largest frame per point: ${JSON.stringify(check.bulkSizes)}`);
    return { failed, disagreements: check.disagreements, bulkSizes: check.bulkSizes };
  } finally {
    for (const r of recorders) await r.stop().catch(() => {});
    await cleanLab();
    unguard();
  }
}
