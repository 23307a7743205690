import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BundleManifest, CaptureRecord } from '../../collectors/bundle-manifest.ts';
import { validateManifest } from '../../collectors/bundle-manifest.ts';
import {
  addNetns,
  addVeth,
  deleteNamespaces,
  exitWithin,
  expectedTags,
  hoptrace,
  missingPrerequisite,
  pidAlive,
  processesMentioning,
  readTags,
  sh,
  tcpExchange,
  udpBurst,
  udpFlood,
  waitForLine,
} from './collect-helpers.ts';

const skip = missingPrerequisite() ?? false;
const id = `${process.pid % 100000}`;
const N = `ht-c${id}-node`;
const P1 = `ht-c${id}-p1`;
const P2 = `ht-c${id}-p2`;
const work = mkdtempSync(path.join(tmpdir(), 'ht-collect-'));

/** `hoptrace collect` on the test node's namespace as node1, into `bundle`. */
function collectNode(bundle: string, args: readonly string[]) {
  return hoptrace(['collect', '--netns', N, '--node', 'node1', ...args, '--out', bundle]);
}

function manifestOf(bundle: string): BundleManifest {
  return JSON.parse(readFileSync(path.join(bundle, 'bundle.json'), 'utf8')) as BundleManifest;
}

function capture(m: BundleManifest, point: string): CaptureRecord {
  const c = m.captures.find((x) => x.point === point);
  assert.ok(c, `no capture for ${point} in ${m.captures.map((x) => x.point).join(', ')}`);
  return c;
}

describe('hoptrace collect in network namespaces', { skip, timeout: 120_000 }, () => {
  before(async () => {
    await addNetns(N);
    await addNetns(P1);
    await addNetns(P2);
    // node eth1 <-> p1 eth0 (a "pod"), node eth2 <-> p2 eth0
    await addVeth(N, 'eth1', '10.201.1.1/24', P1, 'eth0', '10.201.1.2/24');
    await addVeth(N, 'eth2', '10.201.2.1/24', P2, 'eth0', '10.201.2.2/24');
  });
  after(async () => {
    await deleteNamespaces();
    rmSync(work, { recursive: true, force: true });
  });

  it('captures every packet sent, on the right interface, with ns timestamps, node and pod in one bundle', {
    timeout: 30_000,
  }, async () => {
    const bundle = path.join(work, 'b1');
    const run = collectNode(bundle, ['--iface', 'eth*', '--pod', `default/web=netns:${P1}`]);
    await waitForLine(run.child, /^ready/, 15_000);
    await udpBurst(P1, '10.201.1.1', 7001, 'ua', 50);
    await udpBurst(P2, '10.201.2.1', 7001, 'ub', 50);
    await tcpExchange(N, P1, '10.201.1.1', 7002);
    run.child.kill('SIGINT');
    assert.equal(await exitWithin(run, 20_000), 0, run.stderr());
    assert.equal(run.stderr(), '');
    assert.match(run.stdout(), /^drops: none$/m);

    const m = manifestOf(bundle);
    assert.deepEqual(validateManifest(m), []);
    assert.equal(m.stop_reason, 'signal');
    assert.deepEqual(m.captures.map((c) => c.point).sort(), [
      'node/node1/eth1',
      'node/node1/eth2',
      'pod/default/web/eth0',
    ]);
    const expectations: [string, string, string][] = [
      ['node/node1/eth1', 'ua', 'ub'],
      ['node/node1/eth2', 'ub', 'ua'],
      ['pod/default/web/eth0', 'ua', 'ub'],
    ];
    for (const [point, mine, other] of expectations) {
      const c = capture(m, point);
      const f = await readTags(path.join(bundle, c.path));
      assert.equal(f.error, null);
      for (const t of expectedTags(mine, 50)) assert.ok(f.tags.has(t), `${point}: ${t} missing`);
      assert.ok(!f.tags.has(`${other}-0`), `${point} saw the other interface's traffic`);
      assert.equal(c.packets, f.packets, `${point}: bundle.json packets vs file`);
      assert.equal(c.drops, 0);
      assert.equal(c.loss, 'none');
      assert.equal(c.engine_received, f.packets);
      assert.deepEqual(f.resolutions, ['1e-9'], 'nanosecond timestamps');
      assert.deepEqual(f.names, [c.iface], 'if_name');
      for (let i = 1; i < f.ts.length; i++)
        assert.ok((f.ts[i] as bigint) >= (f.ts[i - 1] as bigint), `${point}: timestamps decrease at ${i}`);
      assert.ok(
        BigInt(c.start_ns) <= (f.ts[0] as bigint) && (f.ts.at(-1) as bigint) <= BigInt(c.end_ns),
        `${point}: packets outside the coverage window`,
      );
      process.stdout.write(
        `# ${point}: sent ${mine} 50 UDP, file has ${f.packets} packets, drops ${c.drops}\n`,
      );
    }
    const eth1 = await readTags(path.join(bundle, capture(m, 'node/node1/eth1').path));
    assert.ok(eth1.tags.has('tcp-hello') && eth1.tags.has('tcp-reply'), 'TCP exchange on eth1');
    for (const f of ['link', 'addr', 'neigh', 'route', 'rule', 'route6', 'rule6']) {
      const links: unknown = JSON.parse(readFileSync(path.join(bundle, `nodes/node1/ip/${f}.json`), 'utf8'));
      assert.ok(Array.isArray(links), f);
    }
    const link = readFileSync(path.join(bundle, 'nodes/node1/ip/link.json'), 'utf8');
    assert.match(link, /"eth1"/, 'ip -j link read inside the node namespace');
    assert.match(readFileSync(path.join(bundle, 'pods/default/web/ip/addr.json'), 'utf8'), /10\.201\.1\.2/);
    assert.ok(readFileSync(path.join(bundle, 'nodes/node1/os/uname'), 'utf8').trim().length > 0);

    const check = hoptrace(['bundle', 'check', bundle]);
    assert.equal(await exitWithin(check, 20_000), 0, check.stderr());
    assert.match(check.stdout(), /^bundle ok$/m);
    assert.match(
      check.stdout(),
      /^missing {2}k8s\/services\.json: Service VIPs unknown: scenarios 5-8 cannot be classified$/m,
    );
  });

  it('SIGINT in the middle of a flood leaves complete files whose counts match bundle.json', {
    timeout: 30_000,
  }, async () => {
    const bundle = path.join(work, 'b2');
    const run = collectNode(bundle, ['--iface', 'eth1', '--rescan', '0']);
    await waitForLine(run.child, /^ready/, 15_000);
    const flood = udpFlood(P1, '10.201.1.1', 7003, 'fl', 3000);
    await new Promise((r) => setTimeout(r, 1500));
    run.child.kill('SIGINT');
    assert.equal(await exitWithin(run, 20_000), 0, run.stderr());
    const sent = Number(await flood);
    const m = manifestOf(bundle);
    const c = capture(m, 'node/node1/eth1');
    const f = await readTags(path.join(bundle, c.path));
    assert.equal(f.error, null, 'the file reads to its end: not truncated');
    assert.equal(c.packets, f.packets);
    assert.ok(c.drops !== null);
    // dumpcap's received counter is read when it stops, while the drained last block is still being written:
    // it may differ from the file by the packets of that block, so it is reported, not compared.
    assert.ok(f.packets > 100, `captured ${f.packets}`);
    // Drops are never silent: flagged in bundle.json and spelled out in the summary.
    assert.equal(c.loss, (c.drops ?? 0) > 0 ? 'dropped' : 'none');
    assert.match(
      run.stdout(),
      (c.drops ?? 0) > 0
        ? new RegExp(`^drops: node/node1/eth1 dropped ${c.drops} packets`, 'm')
        : /^drops: none$/m,
    );
    process.stdout.write(
      `# flood: sent ${sent}, captured ${f.packets} before SIGINT, dumpcap received ${c.engine_received}, drops ${c.drops}, ISB drops ${f.isbDrops}\n`,
    );
  });

  it('picks up an interface created during the capture and ends it cleanly when it vanishes', {
    timeout: 30_000,
  }, async () => {
    const bundle = path.join(work, 'b3');
    const run = collectNode(bundle, ['--iface', 'eth1', '--iface', 'eth3', '--rescan', '300ms']);
    await waitForLine(run.child, /^ready/, 15_000);
    await addVeth(N, 'eth3', '10.201.3.1/24', P2, 'eth1', '10.201.3.2/24');
    const file = path.join(bundle, 'nodes/node1/captures/eth3.pcapng');
    for (let i = 0; i < 50 && !existsSync(file); i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(existsSync(file), 'rescan started a capture on eth3');
    await new Promise((r) => setTimeout(r, 500));
    await udpBurst(P2, '10.201.3.1', 7004, 'uc', 30);
    await new Promise((r) => setTimeout(r, 600));
    await sh(['ip', '-n', N, 'link', 'del', 'eth3']);
    await new Promise((r) => setTimeout(r, 700));
    run.child.kill('SIGINT');
    assert.equal(await exitWithin(run, 20_000), 0, run.stderr());
    const m = manifestOf(bundle);
    const c = capture(m, 'node/node1/eth3');
    assert.equal(c.late_start, true);
    assert.equal(c.end_reason, 'vanished');
    assert.ok(BigInt(c.start_ns) > BigInt(m.start_ns), 'coverage starts late');
    assert.ok(BigInt(c.end_ns) < BigInt(m.end_ns), 'coverage ends when the interface vanished');
    const f = await readTags(path.join(bundle, c.path));
    assert.equal(f.error, null);
    for (const t of expectedTags('uc', 30)) assert.ok(f.tags.has(t), `${t} missing`);
    assert.equal(c.packets, f.packets);
    assert.equal(capture(m, 'node/node1/eth1').late_start, false);
    process.stdout.write(`# late eth3: sent 30 UDP, file has ${f.packets} packets, drops ${c.drops}\n`);
  });

  for (const [name, args, message] of [
    [
      'a bad capture filter',
      ['--iface', 'eth*', '--filter', 'tcp port nosuchport'],
      /^hoptrace: cannot capture on node\/node1\/eth[12]: dumpcap: Invalid capture filter "tcp port nosuchport" for interface 'eth[12]'/,
    ],
    [
      'a pattern that matches nothing',
      ['--iface', 'nomatch*'],
      /^hoptrace: no interface matches --iface nomatch\* in network namespace 'ht-/,
    ],
  ] as const) {
    it(`exits 2 with one line and leaves no engine running on ${name}`, { timeout: 30_000 }, async () => {
      const bundle = path.join(work, `bad-${name.replace(/ /g, '-')}`);
      const run = collectNode(bundle, [...args]);
      let seen: number[] = [];
      // Sample our own engines while it runs: processes whose command line names this test's bundle.
      for (let i = 0; i < 100 && run.child.exitCode === null; i++) {
        seen = [...new Set([...seen, ...processesMentioning(bundle)])];
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(await exitWithin(run, 20_000), 2);
      const lines = run.stderr().trimEnd().split('\n');
      assert.equal(lines.length, 1, run.stderr());
      assert.match(lines[0] as string, message);
      assert.equal(run.stdout(), '');
      assert.deepEqual(processesMentioning(bundle), [], 'no engine left');
      for (const pid of seen) assert.ok(!pidAlive(pid), `pid ${pid} still alive`);
    });
  }

  it('rotates a ring buffer into numbered files with their own windows', { timeout: 30_000 }, async () => {
    const bundle = path.join(work, 'ring');
    const run = collectNode(bundle, ['--iface', 'eth1', '--ring', 'duration:1,files:10', '--rescan', '0']);
    await waitForLine(run.child, /^ready/, 15_000);
    await udpBurst(P1, '10.201.1.1', 7005, 'ur', 100, 25);
    await new Promise((r) => setTimeout(r, 300));
    run.child.kill('SIGINT');
    assert.equal(await exitWithin(run, 20_000), 0, run.stderr());
    const files = manifestOf(bundle).captures.filter((c) => c.point === 'node/node1/eth1');
    assert.ok(files.length >= 2, `ring files: ${files.length}`);
    const seen = new Set<string>();
    for (const [i, c] of files.entries()) {
      assert.match(c.path, /^nodes\/node1\/captures\/eth1_[0-9]{5}_[0-9]{14}\.pcapng$/);
      assert.equal(c.ring_index, i + 1);
      assert.equal(c.end_reason, i === files.length - 1 ? 'stopped' : 'rotated');
      const f = await readTags(path.join(bundle, c.path));
      assert.equal(f.error, null);
      assert.equal(c.packets, f.packets);
      for (const t of f.tags) seen.add(t);
    }
    for (const t of expectedTags('ur', 100)) assert.ok(seen.has(t), `${t} missing`);
    process.stdout.write(
      `# ring: sent 100 UDP over 2.5 s, ${files.length} files, ${files.reduce((n, c) => n + c.packets, 0)} packets\n`,
    );
  });

  it('bundle check reports each broken part on its own line and exits 2', { timeout: 20_000 }, async () => {
    const bundle = path.join(work, 'b1');
    const m = manifestOf(bundle);
    const [first, second] = m.captures;
    assert.ok(first && second);
    rmSync(path.join(bundle, first.path));
    second.path = 'nodes/../../outside.pcapng';
    writeFileSync(path.join(bundle, 'bundle.json'), JSON.stringify(m));
    const check = hoptrace(['bundle', 'check', bundle]);
    assert.equal(await exitWithin(check, 20_000), 2);
    assert.deepEqual(
      check.stderr().trimEnd().split('\n').sort(),
      [
        `hoptrace: ${first.path}: listed for ${first.point} but missing`,
        'hoptrace: nodes/../../outside.pcapng: path leaves the bundle',
      ].sort(),
    );
    assert.match(check.stdout(), /^bundle broken: 2 problems$/m);
  });
});
