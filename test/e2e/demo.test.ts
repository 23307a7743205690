import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

test('npm start (hoptrace demo) ingests the bundled fixture and finds one packet before and after the DNAT', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'ht-demo-'));
  try {
    const r = spawnSync(process.execPath, ['bin/hoptrace.js', 'demo', '--out', out], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /ingested \d+ packets from 16 capture files/);
    // the request leaves the client pod towards the ClusterIP and reaches the ENI towards the backend
    const lines = r.stdout.split('\n').filter((l) => /^(pod|node)\//.test(l) && / 42072 /.test(l));
    assert.ok(lines.length >= 4, r.stdout);
    assert.match(lines[0]!, /^pod\/default\/client\/eth0 .* 172\.21\.0\.10 +42072 +80 /);
    assert.ok(
      lines.some((l) => /^node\/node1\/eth1 .* 10\.0\.2\.101 +42072 +8080 /.test(l)),
      lines.join('\n'),
    );
    // then the rules: every flow of the DataPath V2 recording passes, and the outputs are named
    assert.match(r.stdout, /^total +26 +26 +0 +0$/m);
    assert.match(r.stdout, /^verdicts: .*verdicts\.json$/m);
    assert.ok(fs.existsSync(path.join(out, 'analysis', 'verdicts.json')));
    assert.ok(fs.existsSync(path.join(out, 'analysis', 'junit.xml')));
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
