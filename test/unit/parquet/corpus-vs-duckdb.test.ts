/**
 * The whole corpus through `ingestToDataset` (our Parquet writer) and through the former DuckDB
 * staging + COPY path (duckdb-reference.ts): the same `packets` table, query by query, through the same
 * views that `hoptrace sql` uses.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { sqlString } from '../../../ingest/dataset/duckdb.ts';
import { macroStatements } from '../../../ingest/dataset/sql-macros.ts';
import { ingestToDataset, viewStatements } from '../../../ingest/dataset/write-dataset.ts';
import { corpusOrSkip } from '../ingest/reader-helpers.ts';
import { referencePackets } from './duckdb-reference.ts';
import type { Row } from './read-back.ts';

const corpus = corpusOrSkip();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ht-parquet-corpus-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Query results in the same order from both datasets; BLOBs as hex so JSON shows bytes. */
const QUERIES = [
  'SELECT count(*) AS n FROM packets',
  'SELECT * EXCLUDE (src_ip6, dst_ip6, inner_src_ip6, inner_dst_ip6), hex(src_ip6) AS s6, hex(dst_ip6) AS d6, hex(inner_src_ip6) AS is6, hex(inner_dst_ip6) AS id6 FROM packets ORDER BY file, frame',
  'SELECT node, hour, count(*) AS n FROM packets GROUP BY ALL ORDER BY ALL',
  'SELECT file, count(*) AS n, min(ts_ns) AS a, max(ts_ns) AS b, count(src_ip) AS ips, count(vlan_ids) AS tagged FROM packets GROUP BY file ORDER BY file',
  'SELECT decode_error, count(*) AS n FROM packets GROUP BY ALL ORDER BY ALL',
  'SELECT direction, ip_version, ip_proto, count(*) AS n FROM packets GROUP BY ALL ORDER BY ALL',
  "SELECT file, frame FROM packets WHERE src_ip LIKE '%:%' OR dst_port = 53 OR more_fragments ORDER BY ALL",
  'SELECT vlan_ids, count(*) AS n FROM packets WHERE vlan_ids IS NOT NULL GROUP BY ALL ORDER BY ALL',
  'SELECT sum(payload_hash % 1000003) AS h, sum(fingerprint % 1000003) AS f, count(DISTINCT src_mac) AS m, sum(file_offset) AS o FROM packets',
];

async function runAll(root: string): Promise<Row[][]> {
  const db = await DuckDBInstance.create(':memory:', { threads: '1' });
  const con = await db.connect();
  try {
    for (const s of [...macroStatements, ...viewStatements(root)]) await con.run(s);
    const out: Row[][] = [];
    for (const q of QUERIES) out.push((await con.runAndReadAll(q)).getRowObjectsJson() as Row[]);
    return out;
  } finally {
    con.closeSync();
    db.closeSync();
  }
}

describe('corpus: Parquet writer vs the DuckDB COPY path', { skip: corpus === null }, () => {
  const mine = path.join(tmp, 'mine');
  const theirs = path.join(tmp, 'duckdb');
  let rows = 0;
  before(async () => {
    // small batches and row groups, so that batches and row groups end inside files
    const summary = await ingestToDataset([corpus!], { outDir: mine, batchRows: 1000, rowGroupRows: 2500 });
    rows = await referencePackets([corpus!], theirs);
    assert.equal(summary.packets, rows);
    // the reference has no captures table: give its views an empty one
    fs.mkdirSync(path.join(theirs, 'captures'));
    fs.copyFileSync(
      path.join(mine, 'captures', 'captures.parquet'),
      path.join(theirs, 'captures', 'c.parquet'),
    );
  });

  test('the corpus has rows to compare', () => assert.ok(rows > 5000, `${rows} rows`));

  test('every query gives the same result', async () => {
    const [a, b] = await Promise.all([runAll(mine), runAll(theirs)]);
    for (const [i, q] of QUERIES.entries()) {
      assert.equal(a[i]!.length, b[i]!.length, `${q}: row count`);
      for (let r = 0; r < a[i]!.length; r++) assert.deepEqual(a[i]![r], b[i]![r], `${q}: row ${r}`);
    }
  });

  test('the same rows in the same partitions (EXCEPT ALL both ways over the raw files)', async () => {
    const read = (root: string) =>
      `SELECT * FROM read_parquet(${sqlString(`${root}/packets/**/*.parquet`)}, hive_partitioning = true, union_by_name = true)`;
    const db = await DuckDBInstance.create(':memory:', { threads: '1' });
    const con = await db.connect();
    try {
      for (const [x, y] of [
        [mine, theirs],
        [theirs, mine],
      ] as const) {
        const r = await con.runAndReadAll(
          `SELECT count(*)::INTEGER AS n FROM (${read(x)} EXCEPT ALL ${read(y)})`,
        );
        assert.equal(
          r.getRowObjectsJson()[0]!['n'],
          0,
          `rows of ${path.basename(x)} not in ${path.basename(y)}`,
        );
      }
    } finally {
      con.closeSync();
      db.closeSync();
    }
  });
});
