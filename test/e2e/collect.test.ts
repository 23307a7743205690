import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { validateManifest } from '../../collectors/bundle-manifest.ts';
import { collectBundle } from '../../collectors/collect.ts';
import { tableFromCapture } from '../../ingest/table-from-capture.ts';
import {
  addBareVeth,
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
  sleeperIn,
  tcpExchange,
  udpBurst,
  udpFlood,
  waitForLine,
} from './collect-helpers.ts';

const skip = missingPrerequisite() ?? false;
const id = `${process.pid % 100000}`;
const N = `ht-cg-${id}-node`;
const P1 = `ht-cg-${id}-p1`;
const P2 = `ht-cg-${id}-p2`;
const work = mkdtempSync(path.join(tmpdir(), 'ht-collect-'));

/** `hoptrace collect` on the test node's namespace as node1, into `bundle`. */
function collectNode(bundle: string, args: readonly string[]) {
  return hoptrace(['collect', '--netns', N, '--node', 'node1', ...args, '--out', bundle]);
}

/** how far a packet's stamp may lag one written before it (cross-CPU ring order, see below) */
const MAX_REORDER_NS = 50_000_000n;

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
      // The kernel stamps a packet before it claims a ring slot, so packets stamped on two CPUs can be
      // written out of time order (seen under load); such steps back must stay small.
      let latest = f.ts[0] as bigint;
      for (let i = 1; i < f.ts.length; i++) {
        const ts = f.ts[i] as bigint;
        assert.ok(
          ts > latest - MAX_REORDER_NS,
          `${point}: timestamp ${latest - ts} ns behind at record ${i}`,
        );
        if (ts > latest) latest = ts;
      }
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
    assert.match(check.stdout(), /^present {2}pods\/default\/web\/ip\/link\.json$/m);
    assert.match(check.stdout(), /^present {2}pods\/default\/web\/ip\/addr\.json$/m);
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
    rmSync(path.join(bundle, 'pods/default/web/ip/addr.json'));
    writeFileSync(path.join(bundle, 'pods/default/web/ip/link.json'), '[{"ifindex": 2, "ifname": "eth0"');
    const check = hoptrace(['bundle', 'check', bundle]);
    assert.equal(await exitWithin(check, 20_000), 2);
    const lines = check.stderr().trimEnd().split('\n');
    // The schema refuses the '..' path, and the check still resolves it and says it leaves the bundle.
    assert.match(lines[0] as string, /^hoptrace: bundle\.json \/captures\/1\/path: must match pattern /);
    assert.deepEqual(
      lines.slice(1, 3).sort(),
      [
        `hoptrace: ${first.path}: listed for ${first.point} but missing`,
        'hoptrace: nodes/../../outside.pcapng: path leaves the bundle',
      ].sort(),
    );
    assert.match(lines[3] ?? '', /^hoptrace: pods\/default\/web\/ip\/link\.json: not valid JSON: /);
    assert.equal(lines.length, 4, check.stderr());
    assert.match(check.stdout(), /^bundle broken: 4 problems$/m);
    assert.match(
      check.stdout(),
      /^missing {2}pods\/default\/web\/ip\/addr\.json: the pod's addresses unknown: /m,
    );
  });

  it('--any: one node-wide SLL2 capture whose ifindexes resolve through ip/link.json; SIGTERM stops it', {
    timeout: 30_000,
  }, async () => {
    const bundle = path.join(work, 'any');
    const run = collectNode(bundle, ['--any', '--rescan', '0']);
    await waitForLine(run.child, /^ready: capturing 1 interface /, 15_000);
    await udpBurst(P1, '10.201.1.1', 7101, 'aa', 20);
    await udpBurst(P2, '10.201.2.1', 7102, 'ab', 20);
    run.child.kill('SIGTERM');
    assert.equal(await exitWithin(run, 20_000), 0, run.stderr());
    const m = manifestOf(bundle);
    assert.equal(m.stop_reason, 'signal');
    assert.deepEqual(
      m.captures.map((c) => [c.point, c.kind, c.path]),
      [['node/node1/any', 'any', 'nodes/node1/captures/any.pcapng']],
    );
    const c = capture(m, 'node/node1/any');
    const links = JSON.parse(readFileSync(path.join(bundle, 'nodes/node1/ip/link.json'), 'utf8')) as {
      ifindex: number;
      ifname: string;
    }[];
    const ifname = new Map(links.map((l) => [l.ifindex, l.ifname]));
    // The project's reader and decoders: capture point from the bundle path, ifindex from each SLL2 header.
    const { table, result } = await tableFromCapture(path.join(bundle, c.path), { file: c.path });
    assert.equal(result.error, null);
    assert.equal(table.numRows, c.packets);
    const seen = new Map<number, Set<string>>([
      [7101, new Set()],
      [7102, new Set()],
    ]);
    for (let i = 0; i < table.numRows; i++) {
      assert.equal(table.getChild('capture_point')?.get(i), 'node/node1/any');
      assert.equal(table.getChild('link_type')?.get(i), 276, 'LINKTYPE_LINUX_SLL2');
      const port = table.getChild('dst_port')?.get(i) as number | null;
      const index = table.getChild('sll_ifindex')?.get(i) as number | null;
      assert.ok(index !== null && ifname.has(index), `row ${i}: ifindex ${index} not in ip/link.json`);
      if (port !== null) seen.get(port)?.add(ifname.get(index) as string);
    }
    assert.deepEqual([...(seen.get(7101) ?? [])], ['eth1'], 'datagrams to eth1 carry eth1 ifindex');
    assert.deepEqual([...(seen.get(7102) ?? [])], ['eth2'], 'datagrams to eth2 carry eth2 ifindex');
    const f = await readTags(path.join(bundle, c.path));
    for (const t of [...expectedTags('aa', 20), ...expectedTags('ab', 20)])
      assert.ok(f.tags.has(t), `${t} missing`);
    assert.equal(c.loss, 'none');
    process.stdout.write(`# any: sent 40 UDP on eth1+eth2, one SLL2 file with ${c.packets} packets\n`);
  });

  it('--pid and =pid: enter namespaces by process, stop at --duration, and save a fake kubectl view into k8s/', {
    timeout: 30_000,
  }, async () => {
    const bundle = path.join(work, 'pid');
    // A fixed `kubectl get -o json` List that names the arguments it was called with.
    const fakeBin = fakeTool(
      path.join(work, 'fake-bin'),
      'kubectl',
      'printf \'{"apiVersion":"v1","kind":"List","metadata":{"resourceVersion":""},"items":[{"args":"%s"}]}\\n\' "$*"\n',
    );
    const node = await sleeperIn(N, 20);
    const pod = await sleeperIn(P1, 20);
    try {
      const began = Date.now();
      const run = hoptrace(
        [
          'collect',
          '--pid',
          String(node.pid),
          '--node',
          'node1',
          '--iface',
          'eth1',
          '--pod',
          `default/web=pid:${pod.pid}`,
          '--duration',
          '2s',
          '--kubectl',
          '--out',
          bundle,
        ],
        { PATH: `${fakeBin}:${process.env['PATH'] ?? ''}` },
      );
      await waitForLine(run.child, /^ready: capturing 2 interfaces /, 15_000);
      await udpBurst(P1, '10.201.1.1', 7201, 'pp', 20);
      assert.equal(await exitWithin(run, 20_000), 0, run.stderr());
      const took = Date.now() - began;
      assert.ok(took >= 2000 && took < 10_000, `--duration 2s took ${took} ms`);
      const m = manifestOf(bundle);
      assert.deepEqual(validateManifest(m), []);
      assert.equal(m.stop_reason, 'duration');
      const window = Number(BigInt(m.end_ns) - BigInt(m.start_ns)) / 1e9;
      assert.ok(window >= 1.9 && window < 5, `window ${window} s`);
      assert.deepEqual(m.nodes[0]?.netns, { kind: 'pid', pid: node.pid });
      assert.deepEqual(m.pods, [
        { namespace: 'default', name: 'web', node: 'node1', netns: { kind: 'pid', pid: pod.pid } },
      ]);
      for (const point of ['node/node1/eth1', 'pod/default/web/eth0']) {
        const c = capture(m, point);
        const f = await readTags(path.join(bundle, c.path));
        for (const t of expectedTags('pp', 20)) assert.ok(f.tags.has(t), `${point}: ${t} missing`);
        assert.equal(c.end_reason, 'stopped');
      }
      assert.match(readFileSync(path.join(bundle, 'nodes/node1/ip/link.json'), 'utf8'), /"eth1"/);
      assert.match(readFileSync(path.join(bundle, 'pods/default/web/ip/addr.json'), 'utf8'), /10\.201\.1\.2/);
      for (const kind of ['pods', 'services', 'endpointslices', 'nodes']) {
        const list = JSON.parse(readFileSync(path.join(bundle, `k8s/${kind}.json`), 'utf8')) as {
          kind: string;
          items: { args: string }[];
        };
        assert.equal(list.kind, 'List');
        assert.equal(list.items[0]?.args, `get ${kind} -A -o json`);
        const meta = m.metadata.find((x) => x.path === `k8s/${kind}.json`);
        assert.equal(meta?.status, 'ok');
        assert.equal(meta?.source, `${fakeBin}/kubectl get ${kind} -A -o json`);
      }
    } finally {
      node.stop();
      pod.stop();
    }
  });

  it('--engine tcpdump: nanosecond pcap per interface, drops from its summary, a vanished interface ends cleanly', {
    timeout: 30_000,
  }, async () => {
    const bundle = path.join(work, 'tcpdump');
    await addBareVeth(N, 'eth5', P2, 'eth5p');
    const run = collectNode(bundle, [
      '--engine',
      'tcpdump',
      '--iface',
      'eth1',
      '--iface',
      'eth5',
      '--rescan',
      '0',
    ]);
    await waitForLine(run.child, /^ready: capturing 2 interfaces /, 15_000);
    await udpBurst(P1, '10.201.1.1', 7301, 'ta', 30);
    await sh(['ip', '-n', N, 'link', 'del', 'eth5']);
    await new Promise((r) => setTimeout(r, 300));
    run.child.kill('SIGTERM');
    assert.equal(await exitWithin(run, 20_000), 0, run.stderr());
    const m = manifestOf(bundle);
    assert.deepEqual(validateManifest(m), []);
    assert.equal(m.engine?.name, 'tcpdump');
    assert.equal(m.stop_reason, 'signal');
    const c = capture(m, 'node/node1/eth1');
    assert.equal(c.path, 'nodes/node1/captures/eth1.pcap');
    assert.equal(c.format, 'pcap');
    const f = await readTags(path.join(bundle, c.path));
    assert.equal(f.error, null);
    assert.deepEqual(f.resolutions, ['1e-9'], 'nanosecond pcap');
    for (const t of expectedTags('ta', 30)) assert.ok(f.tags.has(t), `${t} missing`);
    assert.equal(c.packets, f.packets);
    assert.equal(c.drops, 0, "tcpdump's 'packets dropped by kernel'");
    assert.equal(c.loss, 'none');
    assert.equal(c.end_reason, 'stopped');
    const gone = capture(m, 'node/node1/eth5');
    assert.equal(
      gone.end_reason,
      'vanished',
      "tcpdump's 'The interface disappeared' is a vanish, not an error",
    );
    assert.ok(BigInt(gone.end_ns) < BigInt(m.end_ns));
    assert.ok(!m.warnings.some((w) => w.includes('eth5')), m.warnings.join('; '));
    const check = hoptrace(['bundle', 'check', bundle]);
    assert.equal(await exitWithin(check, 20_000), 0, check.stderr());
    process.stdout.write(`# tcpdump: sent 30 UDP, eth1.pcap has ${f.packets} packets, drops ${c.drops}\n`);
  });

  it('--packets: each interface stops at its limit, a rescan never restarts it, then the run ends', {
    timeout: 30_000,
  }, async () => {
    const bundle = path.join(work, 'packets');
    const run = collectNode(bundle, [
      '--iface',
      'eth1',
      '--iface',
      'eth2',
      '--packets',
      '5',
      '--rescan',
      '150ms',
    ]);
    await waitForLine(run.child, /^ready/, 15_000);
    await udpBurst(P1, '10.201.1.1', 7401, 'ka', 10);
    // Several rescans see eth1 again after its capture reached the limit.
    await new Promise((r) => setTimeout(r, 800));
    await udpBurst(P2, '10.201.2.1', 7402, 'kb', 10);
    assert.equal(await exitWithin(run, 15_000), 0, run.stderr());
    const m = manifestOf(bundle);
    assert.equal(m.stop_reason, 'limit');
    assert.deepEqual(m.captures.map((c) => c.path).sort(), [
      'nodes/node1/captures/eth1.pcapng',
      'nodes/node1/captures/eth2.pcapng',
    ]);
    for (const c of m.captures) {
      assert.equal(c.packets, 5, c.point);
      assert.equal(c.end_reason, 'limit', c.point);
    }
  });

  it('SIGINT while a rescan is starting new captures stops them too, and nothing is left running', {
    timeout: 30_000,
  }, async () => {
    const bundle = path.join(work, 'race');
    const run = collectNode(bundle, ['--iface', 'eth1', '--iface', 'r*', '--rescan', '100ms']);
    await waitForLine(run.child, /^ready/, 15_000);
    // All six appear at once (one `ip -batch`), so one rescan starts them one after another, and the stop
    // lands in the middle of that.
    const batch = path.join(work, 'race.ip');
    writeFileSync(
      batch,
      Array.from(
        { length: 40 },
        (_, i) => `link add r${i} type veth peer name r${i}p netns ${P2}\nlink set r${i} up\n`,
      ).join(''),
    );
    await sh(['ip', '-n', N, '-batch', batch]);
    await new Promise((r) => setTimeout(r, 200));
    run.child.kill('SIGINT');
    const code = await exitWithin(run, 20_000);
    const left = processesMentioning(bundle);
    for (const pid of left) process.kill(pid, 'SIGKILL'); // our own engines (their command line names our bundle)
    for (let i = 0; i < 40; i++) await runCommandQuiet(['ip', '-n', N, 'link', 'del', `r${i}`]);
    assert.equal(code, 0, run.stderr());
    assert.deepEqual(left, [], 'no engine left after the stop');
    const m = manifestOf(bundle);
    for (const c of m.captures) {
      const f = await readTags(path.join(bundle, c.path));
      assert.equal(f.error, null, c.path);
    }
    assert.deepEqual(m.warnings, []);
    process.stdout.write(`# race: ${m.captures.length - 1} of 40 new interfaces captured before the stop\n`);
  });

  it('shows a progress line with per-interface packet counts and elapsed seconds', {
    timeout: 30_000,
  }, async () => {
    const bundle = path.join(work, 'progress');
    const lines: string[] = [];
    let ready: () => void = () => {};
    const isReady = new Promise<void>((r) => {
      ready = r;
    });
    const done = collectBundle({
      out: bundle,
      node: 'node1',
      nodeNs: { kind: 'netns', name: N },
      captureNode: true,
      ifacePatterns: ['eth1'],
      durationMs: 2600,
      rescanMs: 0,
      command: ['collect'],
      toolVersion: 'test',
      log: (line) => {
        if (line.startsWith('ready')) ready();
      },
      progress: (line) => lines.push(line),
    });
    await isReady;
    await udpBurst(P1, '10.201.1.1', 7501, 'pg', 20);
    const { manifest } = await done;
    const shown = lines.filter((l) => l.length > 0);
    assert.ok(shown.length >= 2, `progress lines: ${JSON.stringify(lines)}`);
    for (const l of shown) assert.match(l, /^[0-9]+s {2}eth1 [0-9]+ pkts$/);
    assert.match(shown.at(-1) as string, /^2s /);
    const last = Number(/ ([0-9]+) pkts$/.exec(shown.at(-1) as string)?.[1]);
    assert.ok(last >= 20, `last progress count ${last}`);
    assert.equal(lines.at(-1), '', 'the line is cleared before the summary');
    assert.equal(manifest.stop_reason, 'duration');
  });

  it('without dumpcap or tcpdump on PATH: one line naming wireshark-common, exit 2, nothing written', {
    timeout: 15_000,
  }, async () => {
    const bundle = path.join(work, 'no-engine');
    const emptyBin = path.join(work, 'empty-bin');
    mkdirSync(emptyBin, { recursive: true });
    const run = hoptrace(['collect', '--netns', N, '--iface', 'eth1', '--out', bundle], { PATH: emptyBin });
    assert.equal(await exitWithin(run, 10_000), 2);
    assert.equal(
      run.stderr(),
      'hoptrace: neither dumpcap nor tcpdump found: install the Debian package wireshark-common (dumpcap) or tcpdump\n',
    );
    assert.equal(run.stdout(), '');
    assert.ok(!existsSync(bundle), 'no bundle folder');
  });
});

async function runCommandQuiet(argv: string[]): Promise<void> {
  await sh(argv).catch(() => undefined);
}
