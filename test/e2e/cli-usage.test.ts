/**
 * Usage errors reach the one error boundary from every subcommand: one line on stderr, exit 2, no
 * stack, never commander's own exit 1.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ht-usage-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function run(args: string[]): { code: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [path.resolve('bin/hoptrace.js'), ...args], {
    encoding: 'utf8',
    input: '',
    timeout: 60_000,
  });
  return { code: r.status, stderr: r.stderr };
}

const cases: [string, string[], RegExp][] = [
  ['unknown command', ['nosuch'], /unknown command 'nosuch'/],
  ['unknown subcommand', ['bundle', 'nosuch'], /unknown command 'nosuch'/],
  ['unknown option of a subcommand', ['info', '--bogus', 'x'], /unknown option '--bogus'/],
  ['missing required option', ['ingest', 'x.pcap'], /required option '-o, --out <dataset>' not specified/],
  ['missing argument', ['sql'], /missing required argument 'dataset'/],
  [
    'invalid option value',
    ['analyze', 'fixtures/datapathv2/bundle', '-o', 'x', '--kernel', 'abc'],
    /--kernel/,
  ],
  ['a folder with no captures', ['ingest', tmp, '-o', path.join(tmp, 'ds')], /no capture files/],
  ['no bundle folder', ['bundle', 'check', path.join(tmp, 'nope')], /no such bundle folder/],
];

for (const [name, args, message] of cases) {
  test(`${name}: exit 2, one line`, () => {
    const r = run(args);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, message);
    assert.ok(!/\n\s+at /.test(r.stderr), 'no stack trace');
    assert.equal(
      r.stderr
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('hoptrace:')).length,
      1,
      r.stderr,
    );
  });
}

test('an empty SQL script is a usage error, not a native one', () => {
  const ds = path.join(tmp, 'one');
  const built = spawnSync(
    process.execPath,
    [
      path.resolve('bin/hoptrace.js'),
      'ingest',
      'fixtures/datapathv2/bundle/nodes/node1/captures/eth1.pcapng',
      '-o',
      ds,
    ],
    { encoding: 'utf8' },
  );
  assert.equal(built.status, 0, built.stderr);
  const r = run(['sql', ds]);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, 'hoptrace: SQL: no statement given\n');
});

test('help and version exit 0', () => {
  for (const args of [['--help'], ['ingest', '--help'], ['--version']])
    assert.equal(run(args).code, 0, args.join(' '));
});
