import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { validateManifest } from '../../../collectors/bundle-manifest.ts';
import { type Engine, engineArgv } from '../../../collectors/capture-engine.ts';
import { ringFiles } from '../../../collectors/capture-files.ts';
import { parseDurationMs } from '../../../collectors/clock.ts';
import { parsePod, parseRing } from '../../../collectors/collect-flags.ts';
import { globToRegExp, matchInterfaces, pointKind } from '../../../collectors/iface-match.ts';
import { inNamespace } from '../../../collectors/netns.ts';
import { checkSegment, insideBundle } from '../../../collectors/path-names.ts';

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

describe('bundle.json schema', () => {
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
