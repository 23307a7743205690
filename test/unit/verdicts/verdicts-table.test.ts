/**
 * The `verdicts` table (analyzers/rules/write-verdicts.ts): one row per flow and check, as the
 * `verdicts` view shows it (ingest/dataset/verdict-columns.ts: the file holds codes, the view joins
 * their texts and splices evidence frames into their templates), every text and evidence list as the
 * flow had it.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { SharedChecks } from '../../../analyzers/rules/shared-checks.ts';
import type { FlowVerdict } from '../../../analyzers/rules/verdict-types.ts';
import { VerdictsTableStage } from '../../../analyzers/rules/write-verdicts.ts';
import { openDuckDb, sqlString } from '../../../ingest/dataset/duckdb.ts';
import { analysisViewStatements, presentTables } from '../../../ingest/dataset/views.ts';
import { podVerdict } from './verdict-fixture.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ht-verdicts-table-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const shared = new SharedChecks();

function flow(id: number, service: boolean): FlowVerdict {
  return podVerdict(id, {
    proto: id % 2 === 0 ? 'tcp' : 'udp',
    client: {
      ip: `10.0.1.${id}`,
      port: 40000 + id,
      pod: id % 3 === 0 ? null : 'default/client',
      node: 'node1',
    },
    service: service ? { ip: '172.21.0.10', port: 80, name: 'default/web' } : null,
    server: { ip: '10.0.2.7', port: 8080, pod: 'default/web-1', node: 'node2' },
    scenario: service ? { id: 7, rule: null } : null,
    rule_id: service ? 'terway-v2/svc-other-node' : null,
    status: id % 5 === 0 ? 'fail' : 'pass',
    reason: id % 5 === 0 ? 'unexpected-hop' : null,
    checks: [
      shared.get('classification', 'pass', null, 'scenario 7, judged by rule terway-v2/svc-other-node'),
      {
        name: 'path.request',
        status: 'pass',
        reason: null,
        message: `own message of flow ${id}: quote " ü`,
        evidence: [
          { point: 'pod/default/client/eth0', file: 'pods/default/client/captures/eth0.pcapng', frame: id },
        ],
      },
      shared.get('ttl.request', id % 5 === 0 ? 'fail' : 'pass', id % 5 === 0 ? 'ttl-mismatch' : null, 'TTL'),
      {
        name: 'bypass.reply',
        status: 'inconclusive',
        reason: 'capture-loss',
        message: 'lossy',
        evidence: [],
      },
    ],
  });
}

/** The dataset's rows through the `verdicts` view, by flow and check name; and the file's columns. */
async function written(flows: FlowVerdict[], name: string): Promise<{ rows: unknown[][]; stored: string[] }> {
  const dir = path.join(tmp, name);
  const stage = await VerdictsTableStage.open(dir);
  for (const f of flows) stage.add(f);
  const file = stage.finish();
  const db = await openDuckDb({ memoryLimit: '256MB', threads: 2 });
  const con = await db.connect();
  try {
    // the views a dataset with these tables gets (views.ts picks the coded view)
    for (const sql of analysisViewStatements(dir, await presentTables(dir))) await con.run(sql);
    const names = await con.runAndReadAll('DESCRIBE verdicts');
    // the view's columns are the table's, named and ordered as when the file held the texts
    assert.deepEqual(
      names.getRows().map((c) => String(c[0])),
      [
        'flow_id',
        'proto',
        'client_ip',
        'client_port',
        'client_pod',
        'server_ip',
        'server_port',
        'server_pod',
        'service_ip',
        'service_port',
        'scenario',
        'scenario_rule',
        'rule_id',
        'datapath',
        'flow_status',
        'flow_reason',
        'check_name',
        'status',
        'reason',
        'message',
        'evidence',
      ],
    );
    const r = await con.runAndReadAll('SELECT * FROM verdicts ORDER BY flow_id, check_name');
    const cols = await con.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${sqlString(file)})`);
    return { rows: r.getRowsJson() as unknown[][], stored: cols.getRows().map((c) => String(c[0])) };
  } finally {
    con.closeSync();
    db.closeSync();
  }
}

/** Rows in the view's order: by flow, then check name. */
function byFlowAndCheck<T extends unknown[]>(rows: { flow: number; check: string; row: T }[]): T[] {
  return rows
    .sort((x, y) => x.flow - y.flow || (x.check < y.check ? -1 : x.check > y.check ? 1 : 0))
    .map((r) => r.row);
}

test('a row per check with the flow repeated, every text as the flow had it', async () => {
  // 5000 flows, 20 000 rows: two parts of the file (16 384 rows each), several vectors of the view's joins
  const flows = Array.from({ length: 5000 }, (_, i) => flow(i, i % 4 !== 0));
  const expected = byFlowAndCheck(
    flows.flatMap((f) =>
      f.checks.map((c) => ({
        flow: f.flow_id,
        check: c.name,
        row: [
          f.flow_id,
          f.proto,
          f.client.ip,
          f.client.port,
          f.client.pod,
          f.server.ip,
          f.server.port,
          f.server.pod,
          f.service?.ip ?? null,
          f.service?.port ?? null,
          f.scenario?.id ?? null,
          f.scenario?.rule ?? null,
          f.rule_id,
          f.datapath,
          f.status,
          f.reason,
          c.name,
          c.status,
          c.reason,
          c.message,
          JSON.stringify(c.evidence),
        ],
      })),
    ),
  );
  const { rows, stored } = await written(flows, 'rows');
  assert.deepEqual(rows, expected);
  // the file holds codes: no text column of the flow or check is stored as text
  for (const c of ['proto', 'client_ip', 'server_pod', 'check_name', 'status', 'reason'])
    assert.ok(!stored.includes(c) && stored.includes(`${c}_code`), `${c} is stored as a code`);
});

test('evidence and messages: the text JSON.stringify makes, for any list, frame and name', async () => {
  const ev = (point: string, file: string, frame: number) => ({ point, file, frame });
  const lists = [
    [],
    [ev('pod/default/client/eth0', 'a.pcap', 1)],
    [ev('pod/default/client/eth0', 'a.pcap', 7), ev('node/node1/eth1', 'b.pcap', 4294967295)],
    // the same points in another order, and a prefix of a longer list: templates of their own
    [ev('node/node1/eth1', 'b.pcap', 2), ev('pod/default/client/eth0', 'a.pcap', 3)],
    [ev('pod/default/client/eth0', 'a.pcap', 0)],
    // names with what JSON escapes, and what a template separates its parts with
    [ev('node/n "1"/\\cali\u0001', 'ü \u0000 "frame":0}.pcap', 5), ev('p', 'f', 6)],
    // frames a template cannot hold
    [ev('p', 'f', -1)],
    [ev('p', 'f', 1.5)],
    [ev('p', 'f', Number.NaN)],
    [ev('p', 'f', 4294967296)],
    // longer than a template holds
    Array.from({ length: 11 }, (_, i) => ev(`p${i}`, 'f', i + 1)),
  ];
  const flows = Array.from({ length: 40 }, (_, i): FlowVerdict => {
    const base = flow(i, i % 2 === 0);
    return {
      ...base,
      checks: [
        {
          name: 'path.request',
          status: 'pass',
          reason: null,
          // repeated by every flow (coded from its second row on), and one of each flow's own
          message: i % 3 === 0 ? 'the same words' : `words of flow ${i}`,
          evidence: lists[i % lists.length]!,
        },
        { name: 'path.reply', status: 'pass', reason: null, message: 'the same words', evidence: [] },
      ],
    };
  });
  const expected = byFlowAndCheck(
    flows.flatMap((f) =>
      f.checks.map((c) => ({
        flow: f.flow_id,
        check: c.name,
        row: [f.flow_id, c.message, JSON.stringify(c.evidence)],
      })),
    ),
  );
  const pick = (rows: unknown[][]) => rows.map((r) => [r[0], r[19], r[20]]);
  assert.deepEqual(pick((await written(flows, 'evidence')).rows), expected);
});

test('a dataset whose verdicts file holds the texts (written before codes) keeps its plain view', async () => {
  const dir = path.join(tmp, 'texts-in-file');
  fs.mkdirSync(path.join(dir, 'verdicts'), { recursive: true });
  const db = await openDuckDb({ memoryLimit: '256MB', threads: 1 });
  const con = await db.connect();
  try {
    const file = sqlString(path.join(dir, 'verdicts', 'verdicts.parquet'));
    await con.run(
      `COPY (SELECT 7 AS flow_id, 'tcp' AS proto, 'path.request' AS check_name, '[]' AS evidence) TO ${file} (FORMAT parquet)`,
    );
    const present = await presentTables(dir);
    assert.deepEqual([...present], ['verdicts']);
    for (const sql of analysisViewStatements(dir, present)) await con.run(sql);
    const r = await con.runAndReadAll('SELECT flow_id, proto, check_name, evidence FROM verdicts');
    assert.deepEqual(r.getRowsJson(), [[7, 'tcp', 'path.request', '[]']]);
  } finally {
    con.closeSync();
    db.closeSync();
  }
});
