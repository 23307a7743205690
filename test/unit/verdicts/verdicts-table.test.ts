/**
 * The `verdicts` table (analyzers/rules/write-verdicts.ts): one row per flow and check, whichever way
 * DuckDB writes it (texts looked up in a list, or joined and sorted back into order).
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

async function rowsOf(file: string): Promise<unknown[][]> {
  const db = await openDuckDb({ memoryLimit: '256MB', threads: 1 });
  const con = await db.connect();
  try {
    const r = await con.runAndReadAll(`SELECT * FROM read_parquet(${sqlString(file)})`);
    return r.getRowsJson() as unknown[][];
  } finally {
    con.closeSync();
    db.closeSync();
  }
}

async function written(
  flows: FlowVerdict[],
  maxListTexts: number | undefined,
  name: string,
): Promise<unknown[][]> {
  const stage = await VerdictsTableStage.open(path.join(tmp, name), { maxListTexts });
  for (const f of flows) stage.add(f);
  const { file, written } = await stage.finish();
  await written;
  return rowsOf(file);
}

test('a row per check with the flow repeated, the same whether texts are listed or joined', async () => {
  // 3000 flows, 12 000 rows: several appends of 2048 rows, and several vectors for the sort back
  const flows = Array.from({ length: 3000 }, (_, i) => flow(i, i % 4 !== 0));
  const expected = flows.flatMap((f) =>
    f.checks.map((c) => [
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
    ]),
  );
  assert.deepEqual(await written(flows, Number.MAX_SAFE_INTEGER, 'listed'), expected);
  // past the limit (here every text): joins, then the rows sorted back into their order
  assert.deepEqual(await written(flows, 0, 'joined'), expected);
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
  const expected = flows.flatMap((f) =>
    f.checks.map((c) => [f.flow_id, c.message, JSON.stringify(c.evidence)]),
  );
  const pick = (rows: unknown[][]) => rows.map((r) => [r[0], r[19], r[20]]);
  assert.deepEqual(pick(await written(flows, Number.MAX_SAFE_INTEGER, 'evidence-listed')), expected);
  assert.deepEqual(pick(await written(flows, 0, 'evidence-joined')), expected);
});
