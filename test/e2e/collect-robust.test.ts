/**
 * The collector's robustness cases (issue 3's last review): a down interface at the start, hoptrace killed with
 * SIGKILL, a second Ctrl-C, and `--ring` with tcpdump. Root; namespaces `ht-cg2-<pid>-*` created and deleted
 * here; nothing in the root namespace; bounded traffic; only processes this file started are signalled, by PID.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { validateManifest } from '../../collectors/bundle-manifest.ts';
import {
  addNetns,
  addVeth,
  capture,
  deleteNamespaces,
  exitWithin,
  expectedTags,
  fakeTool,
  hoptrace,
  manifestOf,
  missingPrerequisite,
  pidAlive,
  processesMentioning,
  readTags,
  sh,
  udpBurst,
  waitForLine,
} from './collect-helpers.ts';

const skip = missingPrerequisite() ?? false;
const id = `${process.pid % 100000}`;
const N = `ht-cg2-${id}-node`;
const P = `ht-cg2-${id}-pod`;
const work = mkdtempSync(path.join(tmpdir(), 'ht-collect2-'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function collectNode(bundle: string, args: readonly string[], env: Record<string, string> = {}) {
  return hoptrace(['collect', '--netns', N, '--node', 'node1', ...args, '--out', bundle], env);
}

/** Waits (bounded) until every PID is gone; returns those still alive. */
async function goneWithin(pids: readonly number[], ms: number): Promise<number[]> {
  const end = Date.now() + ms;
  let alive = pids.filter(pidAlive);
  while (alive.length > 0 && Date.now() < end) {
    await sleep(50);
    alive = alive.filter(pidAlive);
  }
  return alive;
}

describe('hoptrace collect: down interfaces, SIGKILL, second Ctrl-C, tcpdump ring', {
  skip,
  timeout: 60_000,
}, () => {
  before(async () => {
    await addNetns(N);
    await addNetns(P);
    await addVeth(N, 'eth1', '10.202.1.1/24', P, 'eth0', '10.202.1.2/24');
    // eth2: a second "ENI", addressed but left down, as an unused ENI matched by the default `eth*`.
    await addVeth(N, 'eth2', '10.202.2.1/24', P, 'eth1', '10.202.2.2/24');
    await sh(['ip', '-n', N, 'link', 'set', 'eth2', 'down']);
  });
  after(async () => {
    await deleteNamespaces();
    rmSync(work, { recursive: true, force: true });
  });

  it('skips a down interface at the start, records it as not captured, and captures it once it is up', {
    timeout: 20_000,
  }, async () => {
    const bundle = path.join(work, 'down');
    const run = collectNode(bundle, ['--iface', 'eth*', '--rescan', '200ms']);
    await waitForLine(run.child, /^ready: capturing 1 interface /, 15_000);
    assert.match(
      run.stdout(),
      /^warning: node\/node1\/eth2: down at the start: not captured until it comes up$/m,
    );
    // Sent while eth2 is down: nothing of it can be in any eth2 file.
    await udpBurst(P, '10.202.1.1', 7601, 'dn', 10);
    await sh(['ip', '-n', N, 'link', 'set', 'eth2', 'up']);
    const file = path.join(bundle, 'nodes/node1/captures/eth2.pcapng');
    for (let i = 0; i < 50 && !existsSync(file); i++) await sleep(100);
    assert.ok(existsSync(file), 'the rescan started a capture on eth2 once it was up');
    await sleep(400);
    await udpBurst(P, '10.202.2.1', 7602, 'up', 20);
    await sleep(300);
    run.child.kill('SIGINT');
    assert.equal(await exitWithin(run, 15_000), 0, run.stderr());
    const m = manifestOf(bundle);
    assert.deepEqual(validateManifest(m), []);
    const eth2 = capture(m, 'node/node1/eth2');
    assert.equal(eth2.late_start, true);
    assert.ok(BigInt(eth2.start_ns) > BigInt(m.start_ns), 'its coverage starts late');
    const f = await readTags(path.join(bundle, eth2.path));
    assert.equal(f.error, null);
    for (const t of expectedTags('up', 20)) assert.ok(f.tags.has(t), `${t} missing on eth2`);
    assert.ok(!f.tags.has('dn-0'), 'eth2 saw traffic from before it was up');
    assert.equal(eth2.packets, f.packets);
    assert.deepEqual(m.not_captured, [
      {
        point: 'node/node1/eth2',
        node: 'node1',
        pod: null,
        iface: 'eth2',
        kind: 'eni',
        reason: 'down',
        detail: 'the interface is down',
        start_ns: m.start_ns,
        end_ns: eth2.start_ns,
        captured_later: true,
      },
    ]);
    const eth1 = await readTags(path.join(bundle, capture(m, 'node/node1/eth1').path));
    for (const t of expectedTags('dn', 10)) assert.ok(eth1.tags.has(t), `${t} missing on eth1`);
    await sh(['ip', '-n', N, 'link', 'set', 'eth2', 'down']);
    process.stdout.write(
      `# down at start: eth2 up after ${Number(BigInt(eth2.start_ns) - BigInt(m.start_ns)) / 1e6} ms, ${f.packets} packets\n`,
    );
  });

  it('hoptrace killed with SIGKILL takes its engines with it, and their files read cleanly', {
    timeout: 20_000,
  }, async () => {
    const bundle = path.join(work, 'sigkill');
    const run = collectNode(bundle, ['--iface', 'eth1', '--duration', '30s', '--rescan', '0']);
    await waitForLine(run.child, /^ready/, 15_000);
    // on a loaded machine a short-lived process naming the bundle (CI saw two PIDs once) can still be
    // there at `ready`: the one engine is what stays
    let engines: number[] = [];
    for (let i = 0; i < 30; i++) {
      engines = processesMentioning(bundle).filter((pid) => pid !== run.child.pid);
      if (engines.length === 1) break;
      await sleep(100);
    }
    assert.equal(engines.length, 1, `engines: ${engines.join(', ')}`);
    const cmdline = readFileSync(`/proc/${engines[0]}/cmdline`, 'utf8').split('\0');
    assert.equal(
      path.basename(cmdline[0] ?? ''),
      'dumpcap',
      'setpriv and ip netns exec exec: the PID is dumpcap',
    );
    assert.ok(cmdline.includes('duration:40'), `dumpcap's own -a duration backstop: ${cmdline.join(' ')}`);
    await udpBurst(P, '10.202.1.1', 7701, 'kl', 20);
    await sleep(400); // past libpcap's 250 ms block timeout: the burst is in dumpcap's hands
    run.child.kill('SIGKILL');
    await exitWithin(run, 5000);
    const alive = await goneWithin(engines, 3000);
    for (const pid of alive) process.kill(pid, 'SIGKILL'); // our own engine: never leave it running
    assert.deepEqual(alive, [], 'every engine ended with hoptrace');
    const f = await readTags(path.join(bundle, 'nodes/node1/captures/eth1.pcapng'));
    assert.equal(f.error, null, 'the parent-death SIGTERM let dumpcap close its file');
    for (const t of expectedTags('kl', 20)) assert.ok(f.tags.has(t), `${t} missing`);
    assert.ok(!existsSync(path.join(bundle, 'bundle.json')), 'no bundle.json: hoptrace had no chance');
  });

  it('a second Ctrl-C forces the exit: engines stopped by PID, hung metadata killed, bundle.json interrupted, 130', {
    timeout: 20_000,
  }, async () => {
    const bundle = path.join(work, 'twice');
    // A kubectl that hangs (bounded: it gives up by itself after about 20 s), so the first stop cannot finish.
    const fakeBin = fakeTool(
      path.join(work, 'hung-bin'),
      'kubectl',
      'i=0\nwhile [ $i -lt 100 ]; do sleep 0.2; i=$((i+1)); done\n',
    );
    const run = collectNode(bundle, ['--iface', 'eth1', '--kubectl', '--rescan', '0'], {
      PATH: `${fakeBin}:${process.env['PATH'] ?? ''}`,
    });
    await waitForLine(run.child, /^ready/, 15_000);
    const engines = processesMentioning(bundle).filter((pid) => pid !== run.child.pid);
    await udpBurst(P, '10.202.1.1', 7801, 'tw', 20);
    await sleep(400);
    run.child.kill('SIGINT');
    await sleep(150); // inside the first stop's drain: the engine has not even been signalled yet
    const forcedAt = Date.now();
    run.child.kill('SIGINT');
    const code = await exitWithin(run, 10_000);
    const took = Date.now() - forcedAt;
    const hung = processesMentioning(fakeBin);
    for (const pid of hung) process.kill(pid, 'SIGKILL');
    assert.equal(code, 130, run.stderr());
    assert.ok(took < 4000, `forced exit took ${took} ms`);
    assert.deepEqual(hung, [], 'the hung kubectl was killed');
    assert.deepEqual(await goneWithin(engines, 1000), [], 'no engine left');
    const m = manifestOf(bundle);
    assert.deepEqual(validateManifest(m), []);
    assert.equal(m.interrupted, true);
    assert.equal(m.stop_reason, 'signal');
    const c = capture(m, 'node/node1/eth1');
    const f = await readTags(path.join(bundle, c.path));
    assert.equal(c.packets, f.packets);
    for (const t of expectedTags('tw', 20)) assert.ok(f.tags.has(t), `${t} missing`);
    for (const kind of ['pods', 'services', 'endpointslices', 'nodes']) {
      const meta = m.metadata.find((x) => x.path === `k8s/${kind}.json`);
      assert.equal(meta?.status, 'failed', kind);
      assert.equal(meta?.detail, 'killed: the collection was interrupted');
    }
    assert.ok(
      m.warnings.some((w) => w.startsWith('interrupted: ')),
      m.warnings.join('; '),
    );
    process.stdout.write(
      `# second Ctrl-C: exit 130 after ${took} ms, ${c.packets} packets, loss ${c.loss}\n`,
    );
  });

  it('--ring with tcpdump: one line, exit 2, nothing started or written', { timeout: 10_000 }, async () => {
    const bundle = path.join(work, 'tcpdump-ring');
    const run = collectNode(bundle, [
      '--engine',
      'tcpdump',
      '--iface',
      'eth1',
      '--ring',
      'filesize:1,files:2',
    ]);
    assert.equal(await exitWithin(run, 8000), 2);
    assert.equal(
      run.stderr(),
      'hoptrace: --ring needs dumpcap: tcpdump has no ring support here; drop --engine tcpdump\n',
    );
    assert.equal(run.stdout(), '');
    assert.ok(!existsSync(bundle), 'no bundle folder');
  });
});
