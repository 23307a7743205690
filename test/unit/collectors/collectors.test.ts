import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { UsageError } from '../../../cli/usage-error.ts';
import { checkBundle } from '../../../collectors/bundle-check.ts';
import { validateManifest } from '../../../collectors/bundle-manifest.ts';
import { type Engine, engineArgv, findEngine } from '../../../collectors/capture-engine.ts';
import { ringFiles } from '../../../collectors/capture-files.ts';
import { parseDurationMs } from '../../../collectors/clock.ts';
import { collectBundle, formatBytes } from '../../../collectors/collect.ts';
import { defaultBundleName, parsePod, parseRing } from '../../../collectors/collect-flags.ts';
import { findTool } from '../../../collectors/find-tool.ts';
import { globToRegExp, matchInterfaces, pointKind } from '../../../collectors/iface-match.ts';
import { inNamespace } from '../../../collectors/netns.ts';
import { checkSegment, insideBundle } from '../../../collectors/path-names.ts';
import { placementFromFlags } from '../../../collectors/placement.ts';
import { runCommand } from '../../../collectors/run-command.ts';

describe('interface patterns', () => {
  it('matches shell globs over whole names', () => {
    const names = ['eth0', 'eth1', 'eth10', 'cali0123456789a', 'lo', 'veth1', 'xeth0'];
    assert.deepEqual(matchInterfaces(names, ['cali*', 'eth*']), ['cali0123456789a', 'eth0', 'eth1', 'eth10']);
    assert.deepEqual(matchInterfaces(names, ['eth?']), ['eth0', 'eth1']);
    assert.deepEqual(matchInterfaces(names, ['eth[!0]']), ['eth1']);
    assert.ok(!globToRegExp('eth.0').test('eth10'), 'a dot is literal');
  });
  it('guesses capture-point kinds', () => {
    assert.equal(pointKind('node', 'eth0'), 'primary');
    assert.equal(pointKind('node', 'eth2'), 'eni');
    assert.equal(pointKind('node', 'cali12ab'), 'veth');
    assert.equal(pointKind('node', 'any'), 'any');
    assert.equal(pointKind('pod', 'eth0'), 'pod-eth0');
    assert.equal(pointKind('node', 'docker0'), 'other');
  });
});

describe('names that become paths', () => {
  it('rejects separators, dot names, NUL and control characters', () => {
    for (const bad of ['', '.', '..', 'a/b', 'a\\b', 'a\u0000b', 'a\nb', 'x'.repeat(256)]) {
      assert.notEqual(checkSegment('pod', bad), null, JSON.stringify(bad));
    }
    for (const good of ['eth0', 'cali0123456789a', 'web-1', 'eth0.100', '..x'])
      assert.equal(checkSegment('pod', good), null);
  });
  it('never resolves outside the bundle', () => {
    assert.equal(insideBundle('/b', '../etc/passwd'), null);
    assert.equal(insideBundle('/b', 'nodes/../../x'), null);
    assert.equal(insideBundle('/b', '/etc/passwd'), null);
    assert.equal(insideBundle('/b', 'nodes/n1/captures/eth0.pcapng'), '/b/nodes/n1/captures/eth0.pcapng');
  });
});

describe('flags', () => {
  it('parses --pod forms', () => {
    assert.deepEqual(parsePod('default/web=netns:ht-web'), [
      { namespace: 'default', name: 'web', ns: { kind: 'netns', name: 'ht-web' } },
    ]);
    assert.deepEqual(parsePod('kube-system/dns=pid:42'), [
      { namespace: 'kube-system', name: 'dns', ns: { kind: 'pid', pid: 42 } },
    ]);
    assert.deepEqual(parsePod('a/b'), [{ namespace: 'a', name: 'b', ns: null }]);
    assert.throws(() => parsePod('a/b/c'), /expected <namespace>\/<pod>/);
    assert.throws(() => parsePod('a/..'), /not allowed/);
  });
  it('parses --ring in MB and durations', () => {
    assert.deepEqual(parseRing('filesize:100,files:5'), { filesizeKB: 100_000, files: 5 });
    assert.deepEqual(parseRing('duration:60'), { durationS: 60 });
    assert.throws(() => parseRing('files:5'), /needs filesize/);
    assert.throws(() => parseRing('size:5'), /expected filesize/);
    assert.equal(parseDurationMs('30s'), 30_000);
    assert.equal(parseDurationMs('2m'), 120_000);
    assert.equal(parseDurationMs('500ms'), 500);
    assert.equal(parseDurationMs('10'), 10_000);
    assert.equal(parseDurationMs('-1s'), null);
  });
});

describe('engine command lines', () => {
  const dumpcap: Engine = { name: 'dumpcap', path: '/usr/bin/dumpcap', version: 'x' };
  it('asks dumpcap for pcapng, SLL2 on any, and a ring', () => {
    const argv = engineArgv(dumpcap, {
      iface: 'any',
      ns: { kind: 'netns', name: 'ht-n' },
      outPath: '/b/any.pcapng',
      cooked: true,
      filter: 'tcp',
      ring: { filesizeKB: 1000, files: 3 },
    });
    assert.deepEqual(argv, [
      'ip',
      'netns',
      'exec',
      'ht-n',
      '/usr/bin/dumpcap',
      '-i',
      'any',
      '-n',
      '-w',
      '/b/any.pcapng',
      '-f',
      'tcp',
      '-y',
      'LINUX_SLL2',
      '-b',
      'filesize:1000',
      '-b',
      'files:3',
    ]);
  });
  it('wraps the engine in setpriv --pdeathsig and gives dumpcap its own duration backstop', () => {
    const argv = engineArgv(
      { ...dumpcap, parentDeath: '/usr/bin/setpriv' },
      {
        iface: 'eth1',
        ns: { kind: 'netns', name: 'ht-n' },
        outPath: '/b/eth1.pcapng',
        packets: 5,
        autostopS: 12.2,
      },
    );
    assert.deepEqual(argv.slice(0, 8), [
      '/usr/bin/setpriv',
      '--pdeathsig',
      'SIGTERM',
      '--',
      'ip',
      'netns',
      'exec',
      'ht-n',
    ]);
    assert.deepEqual(argv.slice(-4), ['-c', '5', '-a', 'duration:13']);
    // Without setpriv (fallback): the same command, unwrapped.
    const bare = engineArgv(dumpcap, { iface: 'eth1', ns: { kind: 'own' }, outPath: '/b/eth1.pcapng' });
    assert.equal(bare[0], '/usr/bin/dumpcap');
  });
  it('enters a process namespace with nsenter', () => {
    assert.deepEqual(inNamespace({ kind: 'pid', pid: 7 }, ['ip', '-j', 'link']), [
      'nsenter',
      '-t',
      '7',
      '-n',
      '--',
      'ip',
      '-j',
      'link',
    ]);
  });
  it('finds ring files in ring order', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ht-ring-'));
    try {
      for (const f of [
        'eth0_00002_20260101000001.pcapng',
        'eth0_00010_20260101000009.pcapng',
        'eth0.2.pcapng',
        'eth01_00001_20260101000000.pcapng',
      ]) {
        writeFileSync(path.join(dir, f), '');
      }
      const found = await ringFiles(path.join(dir, 'eth0.pcapng'));
      assert.deepEqual(
        found.map((f) => f.index),
        [2, 10],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** A valid bundle.json: one node, one capture. */
const ok = {
  schema_version: 1,
  tool: { name: 'hoptrace', version: '0.1.0' },
  command: ['collect'],
  engine: { name: 'dumpcap', version: '4.0' },
  started_at: '2026-01-01T00:00:00.000Z',
  stopped_at: '2026-01-01T00:00:01.000Z',
  start_ns: '1767225600000000000',
  end_ns: '1767225601000000000',
  stop_reason: 'signal',
  nodes: [{ name: 'n1', netns: { kind: 'own' } }],
  pods: [],
  captures: [
    {
      point: 'node/n1/eth0',
      node: 'n1',
      pod: null,
      iface: 'eth0',
      kind: 'primary',
      path: 'nodes/n1/captures/eth0.pcapng',
      format: 'pcapng',
      ring_index: null,
      start_ns: '1767225600000000000',
      end_ns: '1767225601000000000',
      late_start: false,
      end_reason: 'stopped',
      packets: 3,
      engine_received: 3,
      drops: 0,
      loss: 'none',
      filter: null,
      snaplen: null,
    },
  ],
  metadata: [{ path: 'nodes/n1/os/uname', source: 'uname -r', status: 'ok' }],
  warnings: [],
};

describe('bundle.json schema', () => {
  it('accepts a valid manifest', () => assert.deepEqual(validateManifest(ok), []));
  it('names each problem with its location', () => {
    const bad = structuredClone(ok) as typeof ok & { extra?: number };
    bad.extra = 1;
    (bad.captures[0] as { packets: unknown }).packets = -1;
    (bad.nodes[0] as { name: string }).name = '..';
    assert.deepEqual(validateManifest(bad).sort(), [
      "bundle.json (top level): must NOT have additional properties 'extra'",
      'bundle.json /captures/0/packets: must be >= 0',
      'bundle.json /nodes/0/name: must match pattern "^(?!\\.\\.?$)[^/\\\\\\u0000-\\u001f\\u007f]+$"',
    ]);
  });
});

describe('placement of captures (single-pod form vs node and pods)', () => {
  const pod = (spec: string) => parsePod(spec);
  it('captures the node in --netns/--pid, or in its own namespace, plus every =netns:/=pid: pod', () => {
    assert.deepEqual(placementFromFlags({}), { nodeNs: { kind: 'own' }, captureNode: true, pods: [] });
    assert.deepEqual(
      placementFromFlags({ netns: 'ht-n', pod: [...pod('a/b=pid:9'), ...pod('a/c=netns:ht-c')] }),
      {
        nodeNs: { kind: 'netns', name: 'ht-n' },
        captureNode: true,
        pods: [
          { namespace: 'a', name: 'b', ns: { kind: 'pid', pid: 9 } },
          { namespace: 'a', name: 'c', ns: { kind: 'netns', name: 'ht-c' } },
        ],
      },
    );
    assert.deepEqual(placementFromFlags({ pid: 42 }).nodeNs, { kind: 'pid', pid: 42 });
  });
  it('in the single-pod form, --netns/--pid name the pod and only the pod is captured', () => {
    assert.deepEqual(placementFromFlags({ pid: 7, pod: pod('default/web') }), {
      nodeNs: { kind: 'own' },
      captureNode: false,
      pods: [{ namespace: 'default', name: 'web', ns: { kind: 'pid', pid: 7 } }],
    });
    assert.deepEqual(placementFromFlags({ netns: 'ht-w', pod: pod('default/web') }).pods[0]?.ns, {
      kind: 'netns',
      name: 'ht-w',
    });
  });
  it('refuses a single-pod form it cannot place, and a pod given twice', () => {
    const needs =
      /^--pod <ns>\/<name> without =netns:<name> or =pid:<pid> needs --netns or --pid, and is then the only capture$/;
    for (const f of [
      { pod: pod('default/web') },
      { netns: 'ht-w', pod: [...pod('default/web'), ...pod('default/db')] },
      { netns: 'ht-w', pod: [...pod('default/web'), ...pod('default/db=pid:3')] },
      { netns: 'ht-w', pod: pod('default/web'), iface: ['eth*'] },
      { netns: 'ht-w', pod: pod('default/web'), any: true },
    ]) {
      assert.throws(
        () => placementFromFlags(f),
        (e: unknown) => e instanceof UsageError && needs.test(e.message),
      );
    }
    assert.throws(
      () => placementFromFlags({ pod: [...pod('a/b=pid:1'), ...pod('a/b=netns:ht-x')] }),
      /^UsageError: --pod a\/b given twice$/,
    );
  });
  it('names the default bundle after the node and the UTC time', () => {
    assert.equal(
      defaultBundleName('node1', new Date('2026-03-04T05:06:07.890Z')),
      'bundle-node1-20260304-050607',
    );
  });
});

describe('finding the capture engine', () => {
  const saved = process.env['PATH'];
  const empty = mkdtempSync(path.join(tmpdir(), 'ht-path-'));
  after(() => rmSync(empty, { recursive: true, force: true }));
  const restore = () => {
    process.env['PATH'] = saved;
  };
  it('follows PATH exactly when it is set, the system folders only when it is not', () => {
    assert.equal(findTool('sh', empty), null);
    assert.ok(findTool('sh', '') !== null, 'an empty PATH falls back to the system folders');
    const fake = path.join(empty, 'kubectl');
    writeFileSync(fake, '#!/bin/sh\n');
    chmodSync(fake, 0o755);
    assert.equal(findTool('kubectl', `${empty}:/usr/bin`), fake, 'first on PATH wins');
    rmSync(fake);
  });
  it('names the Debian package when neither dumpcap nor tcpdump is installed', async () => {
    process.env['PATH'] = empty;
    try {
      await assert.rejects(
        findEngine(),
        new UsageError(
          'neither dumpcap nor tcpdump found: install the Debian package wireshark-common (dumpcap) or tcpdump',
        ),
      );
      await assert.rejects(
        findEngine('dumpcap'),
        new UsageError('dumpcap not found on PATH: install the Debian package wireshark-common'),
      );
      await assert.rejects(
        findEngine('tcpdump'),
        new UsageError('tcpdump not found on PATH: install the Debian package tcpdump'),
      );
    } finally {
      restore();
    }
  });
});

describe('external commands', () => {
  it('a timeout ends the whole process group, so a grandchild holding the output cannot hang the collector', async () => {
    // The child prints its own child's PID, then both sleep far past the timeout with our stdout inherited.
    const script =
      "const c=require('child_process').spawn('sleep',['4'],{stdio:'inherit'});process.stdout.write(String(c.pid));setTimeout(()=>{},4000);";
    const began = Date.now();
    const res = await runCommand([process.execPath, '-e', script], { timeoutMs: 400 });
    const took = Date.now() - began;
    assert.equal(res.failure, 'timed out after 400 ms');
    assert.ok(took < 2500, `runCommand returned after ${took} ms: the grandchild kept the pipe open`);
    const grandchild = Number(res.stdout.toString('utf8'));
    assert.ok(grandchild > 0);
    for (let i = 0; i < 50 && existsSync(`/proc/${grandchild}`); i++)
      await new Promise((r) => setTimeout(r, 20));
    const alive =
      existsSync(`/proc/${grandchild}`) &&
      !/^State:\s+Z/m.test(readFileSync(`/proc/${grandchild}/status`, 'utf8'));
    assert.ok(!alive, `grandchild ${grandchild} still running`);
  });
});

describe('collectBundle before any capture starts', () => {
  it('refuses an --out that is a file, in one line', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ht-out-'));
    const file = path.join(dir, 'taken');
    writeFileSync(file, 'x');
    try {
      await assert.rejects(
        collectBundle({
          out: file,
          node: 'n1',
          nodeNs: { kind: 'own' },
          captureNode: true,
          command: [],
          toolVersion: 't',
          log: () => {},
        }),
        new UsageError(`--out ${file}: exists and is not a folder`),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('formats progress byte counts', () => {
    assert.deepEqual([0, 999, 1500, 2_345_678, 3e9].map(formatBytes), [
      '0 B',
      '999 B',
      '1.5 kB',
      '2.3 MB',
      '3.00 GB',
    ]);
  });
});

describe('bundle.json paths', () => {
  const manifest = (capturePath: string, metaPath = 'nodes/n1/os/uname') => {
    const m = structuredClone(ok);
    (m.captures[0] as { path: string }).path = capturePath;
    (m.metadata[0] as { path: string }).path = metaPath;
    return {
      ...m,
      pods: [{ namespace: 'default', name: 'web', node: 'n1', netns: { kind: 'pid', pid: 5 } }],
    };
  };
  it('the schema refuses a capture or metadata path with a . or .. segment', () => {
    assert.deepEqual(validateManifest(manifest('nodes/n1/captures/eth0.pcapng')), []);
    assert.deepEqual(validateManifest(manifest('pods/default/web/captures/..x.pcap')), []);
    for (const bad of [
      'nodes/../../outside.pcapng',
      'nodes/n1/../../../x.pcap',
      'nodes/./x.pcap',
      'nodes//x.pcap',
      'nodes/n1\\..\\x.pcap',
      '/nodes/x.pcap',
      'nodes/x.txt',
    ]) {
      const problems = validateManifest(manifest(bad));
      assert.equal(problems.length, 1, `${bad}: ${problems.join('; ')}`);
      assert.match(problems[0] as string, /^bundle\.json \/captures\/0\/path: must match pattern/);
    }
    assert.match(
      validateManifest(manifest('nodes/n1/captures/eth0.pcapng', 'k8s/../../etc/passwd'))[0] ?? '',
      /^bundle\.json \/metadata\/0\/path: must match pattern/,
    );
  });
  it('bundle check still resolves each listed capture when the schema fails, and checks pods/*/ip/', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ht-check-'));
    try {
      writeFileSync(path.join(dir, 'bundle.json'), JSON.stringify(manifest('nodes/../../outside.pcapng')));
      mkdirSync(path.join(dir, 'pods/default/web/ip'), { recursive: true });
      writeFileSync(path.join(dir, 'pods/default/web/ip/link.json'), '[{"ifindex": 1,');
      const r = await checkBundle(dir);
      const [schema, leaves, json, ...rest] = r.problems;
      assert.match(schema ?? '', /^bundle\.json \/captures\/0\/path: must match pattern/);
      assert.equal(leaves, 'nodes/../../outside.pcapng: path leaves the bundle');
      assert.match(json ?? '', /^pods\/default\/web\/ip\/link\.json: not valid JSON: /);
      assert.deepEqual(rest, []);
      assert.ok(r.present.includes('pods/default/web/ip/link.json'));
      assert.deepEqual(
        r.missing.filter((m) => m.path.startsWith('pods/')).map((m) => m.path),
        ['pods/default/web/ip/addr.json'],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
