/**
 * docs/queries.md, checked: every question's SQL is read from the document itself (so the cookbook and
 * the test cannot drift apart), run through the same read-only path as `hoptrace sql` over a fixture
 * analysis, and its answer compared with real values (from expected.json, which the lab writes from its
 * own hop model, where the question is about paths and rewrites).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { analyzeBundle } from '../../cli/analyze.ts';
import { openDataset } from '../../ingest/dataset/open-dataset.ts';
import { runReadOnlyQuery } from '../../ingest/dataset/run-query.ts';
import type { ExpectedFile } from '../../lab/expected.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ht-queries-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

type Row = Record<string, unknown>;

interface Question {
  n: number;
  title: string;
  sql: string;
  kernel: boolean;
}

/** `## N. title` headings, each with the first ```sql block after it. */
function questions(): Question[] {
  const text = fs.readFileSync(path.join(ROOT, 'docs/queries.md'), 'utf8');
  const out: Question[] = [];
  const re = /^## (\d+)\. (.+)$\n[\s\S]*?```sql\n([\s\S]*?)```/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    out.push({ n: Number(m[1]), title: m[2]!, sql: m[3]!, kernel: m[2]!.includes('(kernel fixture)') });
  }
  return out;
}

const plain = (v: unknown): unknown =>
  typeof v === 'bigint' && v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(v)
    : v;

const datasets = { v2: '', kernel: '' };

async function run(q: Question): Promise<Row[]> {
  const ds = await openDataset(q.kernel ? datasets.kernel : datasets.v2, {
    memoryLimit: '256MB',
    threads: 1,
  });
  try {
    const results = await runReadOnlyQuery(ds.con, q.sql);
    assert.equal(results.length, 1, 'one statement per question');
    const r = results[0]!;
    return r.rows.map((row) => Object.fromEntries(r.columns.map((c, i) => [c, plain(row[i])])));
  } finally {
    ds.close();
  }
}

const expected = JSON.parse(
  fs.readFileSync(path.join(ROOT, 'fixtures/datapathv2/expected.json'), 'utf8'),
) as ExpectedFile;
const s7 = expected.flows.find((f) => f.scenario === 7 && f.proto === 'tcp' && f.client.port === 42071);
const pathText = (hops: { point: string; dir: string }[]) =>
  hops.map((h) => `${h.point}:${h.dir}`).join(' > ');

/** What each answer must be. */
const checks: Record<number, (rows: Row[]) => void> = {
  1: (rows) => {
    assert.equal(rows.length, 16);
    assert.equal(
      rows.reduce((a, r) => a + (r['packets'] as number), 0),
      937,
    );
    assert.ok(rows.every((r) => r['drops'] === 0));
  },
  2: (rows) => {
    assert.equal(
      rows.reduce((a, r) => a + (r['flows'] as number), 0),
      26,
    );
    assert.ok(rows.every((r) => r['status'] === 'pass'));
    assert.equal(
      rows.filter((r) => r['scenario'] === 7).reduce((a, r) => a + (r['flows'] as number), 0),
      4,
    );
  },
  3: (rows) => {
    assert.equal(rows.length, 24);
    assert.ok(rows.every((r) => r['reason'] === 'seen-on-skipped-point'));
    assert.ok(rows.every((r) => (r['failed_checks'] as string[]).includes('bypass.request')));
  },
  4: (rows) => {
    assert.deepEqual(
      rows.map((r) => r['point']),
      [
        'node/node1/cali0761ccbeace',
        'node/node1/cali9fb0db7f13e',
        'node/node1/calia7a3e029a7b',
        'node/node2/cali4448cbddedf',
        'node/node2/cali44da8f523e8',
      ],
    );
  },
  5: (rows) => {
    assert.ok(s7, 'expected.json has the S7 TCP flow from port 42071');
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!['request_path'], pathText(s7.request.path));
    assert.equal(rows[0]!['reply_path'], pathText(s7.reply.path));
    assert.equal(rows[0]!['server_pod'], s7.server.pod);
  },
  6: (rows) => {
    assert.ok(s7);
    // the first hop of the expected request path whose destination is the backend, not the VIP
    const dnat = s7.request.path.find((h) => h.dst === `${s7.server.ip}:${s7.server.port}`)!;
    const request = rows.find((r) => String(r['rewrite']).includes('dst_ip'))!;
    assert.equal(request['capture_point'], dnat.point);
    assert.equal(request['direction'], dnat.dir);
    assert.equal(`${request['dst_ip']}:${request['dst_port']}`, dnat.dst);
    const reply = rows.find((r) => String(r['rewrite']).includes('src_ip'))!;
    assert.equal(reply['capture_point'], 'pod/default/client/eth0');
    assert.equal(`${reply['src_ip']}:${reply['src_port']}`, `${s7.service!.ip}:${s7.service!.port}`);
  },
  7: (rows) => {
    assert.ok(s7);
    assert.equal(rows.length, 50);
    const first = rows.filter((r) => r['packet_id'] === rows[0]!['packet_id']);
    assert.deepEqual(
      first.map((r) => `${r['capture_point']}:${r['direction']}`),
      s7.request.path.map((h) => `${h.point}:${h.dir}`),
    );
    assert.deepEqual(
      first.map((r) => r['ttl']),
      s7.request.path.map((h) => h.ttl),
    );
    assert.equal(first[0]!['since_first_ns'], 0);
  },
  8: (rows) => {
    const points = rows.map((r) => `${r['capture_point']}:${r['direction']}`);
    assert.ok(points.includes('node/node1/eth1:out'));
    assert.ok(points.includes('pod/default/web-3/eth0:in'));
    assert.ok(
      !points.some((p) => p.startsWith('pod/') && p.endsWith(':out')),
      'a pod egress never decrements',
    );
  },
  9: (rows) => {
    assert.equal(rows.length, 10);
    for (const r of rows) {
      const [p50, p90, p99, max] = [r['p50_ns'], r['p90_ns'], r['p99_ns'], r['max_ns']] as number[];
      assert.ok(p50! <= p90! && p90! <= p99! && p99! <= max!, JSON.stringify(r));
    }
    assert.equal(rows[0]!['from_point'], 'pod/default/client/eth0');
    assert.equal(rows[0]!['samples'], 89);
  },
  10: (rows) => {
    assert.equal(rows.length, 5);
    assert.deepEqual(
      [rows[0]!['flow_id'], rows[0]!['leg'], rows[0]!['from_point'], rows[0]!['to_point']],
      [25, 'reply', 'node/node2/eth1', 'node/node1/eth1'],
    );
    for (let i = 1; i < rows.length; i++)
      assert.ok((rows[i - 1]!['max_ns'] as number) >= (rows[i]!['max_ns'] as number));
  },
  11: (rows) => {
    assert.deepEqual(
      rows.map((r) => [r['node'], r['reference']]),
      [
        ['node1', true],
        ['node2', false],
      ],
    );
    assert.ok(Math.abs(rows[1]!['offset_ns'] as number) < 1_000_000, 'lab nodes share one clock');
  },
  12: (rows) => {
    const kernel = rows.filter((r) => r['datapath'] === 'kernel');
    assert.deepEqual(
      kernel.map((r) => [r['scenario'], r['scenario_rule'], r['flows']]),
      [[8, '8b', 2]],
    );
    assert.equal(rows.find((r) => r['datapath'] === 'ebpf') !== undefined, true);
    assert.equal(
      rows.filter((r) => r['datapath'] === 'ebpf').reduce((a, r) => a + (r['flows'] as number), 0),
      24,
    );
  },
  13: (rows) => {
    assert.deepEqual(
      rows.map((r) => r['capture_point']),
      [
        'node/node1/eth1',
        'node/node2/cali4448cbddedf',
        'node/node2/eth1',
        'pod/default/client/eth0',
        'pod/default/web-3/eth0',
      ],
    );
  },
  14: (rows) => {
    assert.equal(rows.length, 1);
    assert.deepEqual(
      [rows[0]!['client_port'], rows[0]!['service_ip'], rows[0]!['server_port']],
      [42071, '172.21.0.10', 8080],
    );
  },
  15: (rows) => assert.deepEqual(rows, []),
};

before(async () => {
  const v2 = await analyzeBundle(path.join(ROOT, 'fixtures/datapathv2/bundle'), path.join(tmp, 'v2'));
  const kernel = await analyzeBundle(path.join(ROOT, 'fixtures/kernel/bundle'), path.join(tmp, 'kernel'), {
    datapath: 'datapathv2',
  });
  datasets.v2 = v2.outputs.dataset;
  datasets.kernel = kernel.outputs.dataset;
});

describe('docs/queries.md', () => {
  const qs = questions();
  test('fifteen questions, numbered in order, each with a check', () => {
    assert.deepEqual(
      qs.map((q) => q.n),
      Array.from({ length: 15 }, (_, i) => i + 1),
    );
    for (const q of qs) assert.ok(checks[q.n], `question ${q.n} has no check`);
  });
  for (const q of qs) {
    test(`${q.n}. ${q.title}`, async () => {
      const rows = await run(q);
      checks[q.n]!(rows);
    });
  }
});

describe('views.sql opens the same views in the DuckDB CLI way (relative paths)', () => {
  test('views.sql lists the analysis views once analyze has run', () => {
    const sql = fs.readFileSync(path.join(datasets.v2, 'views.sql'), 'utf8');
    for (const name of [
      'packets',
      'captures',
      'capture_gaps',
      'flows',
      'verdicts',
      'flow_status',
      'hop_latency',
    ])
      assert.match(sql, new RegExp(`CREATE OR REPLACE VIEW ${name} AS`));
    assert.match(sql, /CREATE OR REPLACE MACRO flow_path\(id\) AS TABLE/);
    assert.doesNotMatch(sql, /\/tmp\//, 'no absolute paths');
  });
});
