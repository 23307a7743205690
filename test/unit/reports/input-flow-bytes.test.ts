import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { analysisFromBundle } from '../../../analyzers/analysis-from-bundle.ts';
import type { HopLatency, PathHop } from '../../../analyzers/flows.ts';
import { ByteFile, utf8 } from '../../../reports/byte-file.ts';
import { InputFlowBytes } from '../../../reports/input-flow-bytes.ts';
import { type InputFlow, reportInputFromAnalysis } from '../../../reports/report-input.ts';
import { labBundles, requireBundles } from '../analyzers/lab-bundle.ts';

/** The flows written one per line by one writer (its caches shared across them), read back. */
function written(flows: readonly InputFlow[]): string[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ht-input-flow-'));
  try {
    const file = path.join(dir, 'flows');
    const out = new ByteFile(file);
    const w = new InputFlowBytes();
    for (const f of flows) {
      w.write(out, f);
      out.bytes(utf8('\n'));
    }
    out.commit();
    return fs.readFileSync(file, 'utf8').split('\n').slice(0, -1);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('every flow of the lab bundles is written as JSON.stringify writes it', requireBundles(), async () => {
  let flows = 0;
  let withLadder = 0;
  for (const lab of labBundles()) {
    const input = reportInputFromAnalysis(await analysisFromBundle(lab.bundle), lab.bundle, {
      ladderPackets: 12,
    });
    const got = written(input.flows);
    assert.equal(got.length, input.flows.length);
    for (const [i, f] of input.flows.entries())
      assert.equal(got[i], JSON.stringify(f), `${lab.mode} flow ${f.id}`);
    flows += input.flows.length;
    withLadder += input.flows.filter((f) => f.ladder.length > 0).length;
  }
  assert.ok(flows > 10 && withLadder > 0, `${flows} flows, ${withLadder} with a ladder`);
});

const hop = (point: string, dir: PathHop['dir']): PathHop => ({ point, dir });
const latency = (
  leg: HopLatency['leg'],
  h: number,
  from: string,
  to: string,
  median: number,
): HopLatency => ({
  leg,
  hop: h,
  from,
  to,
  samples: 3,
  minNs: -5,
  medianNs: median,
  maxNs: 2 ** 53 + 2,
});

test('odd texts, shared and look-alike paths, odd numbers: the bytes are still JSON.stringify', () => {
  const a = hop('pod/"q"/x\\y/eth0', 'out');
  const b = hop('node/n\u20281/caliÄ', 'in');
  const c = hop('node/n1/eth1\n', 'unknown');
  const shared = [a, b, c];
  const flow = (id: number, requestPath: PathHop[], over: Partial<InputFlow> = {}): InputFlow => ({
    id,
    proto: 17,
    family: 6,
    client: { ip: 'fe80::1', port: 0, pod: null, node: 'n"1' },
    service: { ip: '10.96.0.10', port: 53, name: null, seen: true },
    server: { ip: '::', port: 65535, pod: '</script>', node: null },
    packets: 2 ** 40,
    requestPackets: 1,
    replyPackets: 0,
    bytes: 0,
    firstNs: '1795678279732384000',
    lastNs: '-1',
    communityIdService: null,
    communityIdServer: '1:zuV4q6a+xlLS6ZPSISTdCdJtVso=',
    requestPath,
    replyPath: [],
    hops: [latency('request', 0, a.point, b.point, 2.5), latency('reply', 0, a.point, b.point, Number.NaN)],
    ladder: [],
    ...over,
  });
  const flows = [
    flow(0, shared),
    // the same hop objects again, then a path that starts with the same object but is shorter or differs later
    flow(1, shared, { service: { ip: '10.96.0.10', port: 53, name: 'kube-system/"dns"', seen: false } }),
    flow(2, [a, b]),
    flow(3, [a, c, b], { service: null }),
    flow(4, [a, b, c], {
      ladder: [{ packet: 1, leg: 'reply', summary: 'len 5 "x"', sightings: [] }],
      hops: [latency('request', 1.5, 'x', 'y', 1), latency('request', 2000, 'x', 'y', 1)],
    }),
  ];
  assert.deepEqual(
    written(flows),
    flows.map((f) => JSON.stringify(f)),
  );
});
