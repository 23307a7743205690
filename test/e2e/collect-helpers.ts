/**
 * Real network namespaces for the collector's end-to-end tests. Everything created here is named `ht-<tag>-<pid>-*`,
 * lives only inside those namespaces (nothing in the root namespace) and is deleted by name in teardown, also on
 * SIGINT/SIGTERM. Every wait is bounded in time; only processes these helpers started are signalled, by PID.
 */

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { BundleManifest, CaptureRecord } from '../../collectors/bundle-manifest.ts';
import { recordNs, scanCapture } from '../../collectors/capture-scan.ts';
import { findTool } from '../../collectors/find-tool.ts';
import { runCommand } from '../../collectors/run-command.ts';

export const repoRoot = path.resolve(import.meta.dirname, '../..');

/** Why these tests cannot run here, or null. In CI (`CI=true`) a missing prerequisite fails instead of skipping. */
export function missingPrerequisite(): string | null {
  let why: string | null = null;
  if (process.getuid?.() !== 0) why = 'needs root (network namespaces)';
  else if (findTool('dumpcap') === null) why = 'needs dumpcap (Debian package wireshark-common)';
  else if (findTool('ip') === null) why = 'needs ip (Debian package iproute2)';
  if (why !== null && process.env['CI'] === 'true')
    throw new Error(`collector e2e prerequisite missing in CI: ${why}`);
  return why;
}

const created = new Set<string>();

export async function sh(argv: string[], timeoutMs = 10_000): Promise<string> {
  const res = await runCommand(argv, { timeoutMs });
  if (res.failure !== null) throw new Error(`${argv.join(' ')}: ${res.failure}`);
  return res.stdout.toString('utf8');
}

export async function addNetns(name: string): Promise<string> {
  if (!name.startsWith('ht-')) throw new Error('test namespaces must start with ht-');
  created.add(name);
  await sh(['ip', 'netns', 'add', name]);
  await sh(['ip', '-n', name, 'link', 'set', 'lo', 'up']);
  return name;
}

/** A veth pair created inside `ns` (never in the root namespace) with `peerName` moved into `peerNs`. */
export async function addVeth(
  ns: string,
  name: string,
  addr: string,
  peerNs: string,
  peerName: string,
  peerAddr: string,
): Promise<void> {
  const tmp = `htp${Math.floor(Math.random() * 1e8)}`;
  await sh(['ip', '-n', ns, 'link', 'add', name, 'type', 'veth', 'peer', 'name', tmp]);
  await sh(['ip', '-n', ns, 'link', 'set', tmp, 'netns', peerNs]);
  await sh(['ip', '-n', peerNs, 'link', 'set', tmp, 'name', peerName]);
  await sh(['ip', '-n', ns, 'addr', 'add', addr, 'dev', name]);
  await sh(['ip', '-n', peerNs, 'addr', 'add', peerAddr, 'dev', peerName]);
  await sh(['ip', '-n', ns, 'link', 'set', name, 'up']);
  await sh(['ip', '-n', peerNs, 'link', 'set', peerName, 'up']);
}

export async function deleteNamespaces(): Promise<void> {
  for (const name of created) {
    await runCommand(['ip', 'netns', 'del', name], { timeoutMs: 10_000 });
    created.delete(name);
  }
}

const onSignal = (sig: NodeJS.Signals) => {
  void deleteNamespaces().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
};
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);

/** Sends `count` UDP datagrams `<tag>-<i>;` from inside `ns`, paced so nothing is lost to socket buffers. */
export async function udpBurst(
  ns: string,
  dst: string,
  port: number,
  tag: string,
  count: number,
  gapMs = 2,
): Promise<void> {
  const script = `const d=require('dgram').createSocket('udp4');let i=0;
const next=()=>{if(i>=${count}){d.close();return}d.send(Buffer.from('${tag}-'+(i++)+';'),${port},'${dst}',()=>setTimeout(next,${gapMs}))};
setTimeout(()=>process.exit(3),8000).unref();next();`;
  await sh(['ip', 'netns', 'exec', ns, process.execPath, '-e', script], 15_000);
}

/** A UDP flood for `ms` milliseconds (no pacing): keeps the captures busy when they are interrupted. */
export function udpFlood(ns: string, dst: string, port: number, tag: string, ms: number): Promise<string> {
  const script = `const d=require('dgram').createSocket('udp4');let i=0;const end=Date.now()+${ms};
const next=()=>{if(Date.now()>end){d.close();process.stdout.write(String(i));return}
for(let k=0;k<20;k++)d.send(Buffer.from('${tag}-'+(i++)+';'),${port},'${dst}');setImmediate(next)};next();`;
  return sh(['ip', 'netns', 'exec', ns, process.execPath, '-e', script], ms + 10_000);
}

/** One short TCP exchange: a server in `serverNs` answers one line and closes; both sides bounded. */
export async function tcpExchange(
  serverNs: string,
  clientNs: string,
  ip: string,
  port: number,
): Promise<void> {
  const server = `const s=require('net').createServer(c=>{c.on('data',()=>{c.end('tcp-reply;');s.close()})});
s.listen(${port},'${ip}',()=>process.stdout.write('listening\\n'));setTimeout(()=>process.exit(3),8000).unref();`;
  const srv = spawn('ip', ['netns', 'exec', serverNs, process.execPath, '-e', server], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    await waitForLine(srv, /^listening/, 5000);
    const client = `const c=require('net').connect(${port},'${ip}',()=>c.write('tcp-hello;'));
c.on('data',d=>process.stdout.write(d));c.on('end',()=>process.exit(0));setTimeout(()=>process.exit(3),5000).unref();`;
    const out = await sh(['ip', 'netns', 'exec', clientNs, process.execPath, '-e', client], 10_000);
    if (!out.includes('tcp-reply;')) throw new Error(`tcp exchange: got ${JSON.stringify(out)}`);
  } finally {
    if (srv.exitCode === null && srv.signalCode === null) srv.kill('SIGTERM');
  }
}

/** Resolves with the first stdout line matching `re`; rejects after `ms` or when the process exits first. */
export function waitForLine(child: ChildProcess, re: RegExp, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`no line matching ${re} within ${ms} ms: ${buf}`)), ms);
    const onData = (chunk: Buffer) => {
      buf += chunk.toString('utf8');
      const line = buf.split('\n').find((l) => re.test(l));
      if (line !== undefined) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        resolve(line);
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', () => {
      clearTimeout(timer);
      reject(new Error(`exited before ${re}: ${buf}`));
    });
  });
}

export interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<number | null>;
}

/** A veth pair inside `ns` with its peer in `peerNs`, no addresses: an interface for the collector to find. */
export async function addBareVeth(ns: string, name: string, peerNs: string, peerName: string): Promise<void> {
  await sh(['ip', '-n', ns, 'link', 'add', name, 'type', 'veth', 'peer', 'name', peerName, 'netns', peerNs]);
  await sh(['ip', '-n', ns, 'link', 'set', name, 'up']);
}

/**
 * A `sleep` (bounded: it ends by itself after `seconds`) inside `ns`, for captures that enter a namespace by PID.
 * `ip netns exec` execs the command, so the PID we hold is the sleep's own; resolves once it is the sleep.
 */
export async function sleeperIn(ns: string, seconds: number): Promise<{ pid: number; stop: () => void }> {
  const child = spawn('ip', ['netns', 'exec', ns, 'sleep', String(seconds)], { stdio: 'ignore' });
  const pid = child.pid;
  if (pid === undefined) throw new Error('sleep did not start');
  const stop = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  };
  for (let i = 0; i < 100; i++) {
    let comm = '';
    try {
      comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    } catch {
      // not there yet, or gone
    }
    if (comm === 'sleep') return { pid, stop };
    await new Promise((r) => setTimeout(r, 10));
  }
  stop();
  throw new Error(`pid ${pid} never became sleep inside ${ns}`);
}

/** Spawns `hoptrace <args>` from the repository, collecting its output; `env` replaces variables (PATH). */
export function hoptrace(args: string[], env: Record<string, string> = {}): Run {
  const child = spawn(process.execPath, [path.join(repoRoot, 'bin/hoptrace.js'), ...args], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString('utf8');
  });
  child.stderr.on('data', (c: Buffer) => {
    err += c.toString('utf8');
  });
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exit };
}

/** Bounded wait for a run to end; kills it (by its PID) if it does not, so a failing test never hangs. */
export async function exitWithin(run: Run, ms: number): Promise<number | null> {
  const timer = setTimeout(() => run.child.kill('SIGKILL'), ms);
  try {
    return await run.exit;
  } finally {
    clearTimeout(timer);
  }
}

/** PIDs of live processes whose command line mentions `needle` (the test's own bundle folder). */
export function processesMentioning(needle: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc').slice(0, 100_000)) {
    if (!/^[0-9]+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmd.includes(needle)) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

export function pidAlive(pid: number): boolean {
  if (!existsSync(`/proc/${pid}`)) return false;
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

export interface FileContents {
  packets: number;
  tags: Set<string>;
  ts: bigint[];
  error: string | null;
  resolutions: string[];
  names: (string | null)[];
  isbDrops: number | null;
}

/** Reads a capture with the project's reader and lists the `<tag>-<i>;` markers its frames carry. */
export async function readTags(file: string): Promise<FileContents> {
  const tags = new Set<string>();
  const ts: bigint[] = [];
  const scan = await scanCapture(file, (rec) => {
    ts.push(recordNs(rec));
    const text = Buffer.from(rec.bytes.subarray(rec.at, rec.at + rec.caplen)).toString('latin1');
    for (const m of text.matchAll(/([a-z0-9]+-[0-9]+|tcp-hello|tcp-reply);/g)) tags.add(m[1] as string);
  });
  return {
    packets: scan.packets,
    tags,
    ts,
    error: scan.error,
    resolutions: scan.interfaces.map((i) => i.tsResolution),
    names: scan.interfaces.map((i) => i.name),
    isbDrops: scan.isbDrops,
  };
}

export function expectedTags(tag: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${tag}-${i}`);
}

/** `<dir>/<name>`: an executable shell script, for a fake `kubectl` placed first on PATH. Returns `dir`. */
export function fakeTool(dir: string, name: string, script: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, name), `#!/bin/sh\n${script}`);
  chmodSync(path.join(dir, name), 0o755);
  return dir;
}

export function manifestOf(bundle: string): BundleManifest {
  return JSON.parse(readFileSync(path.join(bundle, 'bundle.json'), 'utf8')) as BundleManifest;
}

export function capture(m: BundleManifest, point: string): CaptureRecord {
  const c = m.captures.find((x) => x.point === point);
  assert.ok(c, `no capture for ${point} in ${m.captures.map((x) => x.point).join(', ')}`);
  return c;
}
