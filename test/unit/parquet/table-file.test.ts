/**
 * TableFile writes any table's columns as Parquet that DuckDB reads back value for value: every kind
 * (small and large unsigned integers, increasing ones, signed and unsigned 64-bit, booleans, texts of a
 * few and of many values, free strings), NULLs in every nullable kind, batches split across pages and
 * row groups, and a text column whose row groups each use a different part of a large value list.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { sqlString } from '../../../ingest/dataset/duckdb.ts';
import { type ColumnRows, type TableColumn, TableFile } from '../../../ingest/dataset/parquet/table-file.ts';
import { duckRows } from './read-back.ts';

function tmpFile(name: string): { file: string; done: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ht-table-file-'));
  return { file: path.join(dir, name), done: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** A deterministic pseudo-random sequence (LCG), so a failure reproduces. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s;
  };
}

const FEW = ['in', 'out', 'ünïcode ✓'];
const MANY = Array.from({ length: 5000 }, (_, i) => `10.${(i >> 8) & 255}.${i & 255}.${i % 7}`);

const COLUMNS: TableColumn[] = [
  { kind: 'uint', name: 'id', bits: 32, delta: true, stats: true },
  { kind: 'uint', name: 'small', bits: 8, nullable: true },
  { kind: 'uint', name: 'port', bits: 16, nullable: true },
  { kind: 'uint', name: 'code', bits: 32 },
  { kind: 'uint', name: 'big', bits: 32, nullable: true },
  { kind: 'int64', name: 'ts', signed: true, delta: true, stats: true },
  { kind: 'int64', name: 'bytes', signed: false, nullable: true },
  { kind: 'bool', name: 'flag', nullable: true },
  { kind: 'text', name: 'dir', values: FEW, nullable: true },
  { kind: 'text', name: 'addr', values: MANY, nullable: true },
  { kind: 'string', name: 'note' },
];

interface Expected {
  id: number;
  small: number | null;
  port: number | null;
  code: number;
  big: number | null;
  ts: string;
  bytes: string | null;
  flag: boolean | null;
  dir: string | null;
  addr: string | null;
  note: string | null;
}

/** `n` rows as the writer takes them, and the rows DuckDB should give, built side by side. */
function rows(
  n: number,
  seed: number,
  firstId: number,
  addrFrom: number,
): { batch: ColumnRows[]; expected: Expected[] } {
  const next = lcg(seed);
  const id = new Uint32Array(n);
  const small = new Uint8Array(n);
  const smallValid = new Uint8Array(n);
  const port = new Uint16Array(n);
  const portValid = new Uint8Array(n);
  const code = new Uint32Array(n);
  const big = new Uint32Array(n);
  const bigValid = new Uint8Array(n);
  const ts = new Uint32Array(2 * n);
  const bytes = new Uint32Array(2 * n);
  const bytesValid = new Uint8Array(n);
  const flag = new Uint8Array(n);
  const flagValid = new Uint8Array(n);
  const dir = new Uint8Array(n);
  const dirValid = new Uint8Array(n);
  const addr = new Uint16Array(n);
  const addrValid = new Uint8Array(n);
  const note: (string | null)[] = [];
  const expected: Expected[] = [];
  // around -2^40 and across zero: both lanes matter, and the deltas are signed
  let t = -(2n ** 40n) + BigInt(seed);
  for (let r = 0; r < n; r++) {
    id[r] = firstId + r;
    smallValid[r] = next() % 5 === 0 ? 0 : 1;
    small[r] = next() & 255;
    portValid[r] = r % 3 === 0 ? 0 : 1;
    port[r] = next() & 0xffff;
    // runs of up to 13 equal codes, broken by odd ones: RLE runs between bit-packed groups
    code[r] = next() % 7 === 0 ? next() % 40 : Math.floor(r / 13) % 40;
    bigValid[r] = next() % 4 === 0 ? 0 : 1;
    big[r] = next();
    t += BigInt(next() % 100_000) * 1_000_000n;
    const tl = BigInt.asUintN(64, t);
    ts[2 * r] = Number(tl & 0xffffffffn);
    ts[2 * r + 1] = Number(tl >> 32n);
    bytesValid[r] = next() % 6 === 0 ? 0 : 1;
    const b = (BigInt(next()) << 20n) + BigInt(next() & 0xfffff);
    bytes[2 * r] = Number(b & 0xffffffffn);
    bytes[2 * r + 1] = Number(b >> 32n);
    flagValid[r] = next() % 3 === 0 ? 0 : 1;
    flag[r] = next() & 1;
    dirValid[r] = next() % 4 === 0 ? 0 : 1;
    dir[r] = next() % FEW.length;
    addrValid[r] = next() % 5 === 0 ? 0 : 1;
    addr[r] = addrFrom + (next() % 1200);
    const noteText = next() % 3 === 0 ? null : `n${r} "quoted" \u00e9\u{1f600}`.repeat((r % 4) + 1);
    note.push(noteText);
    expected.push({
      id: id[r]!,
      small: smallValid[r] ? small[r]! : null,
      port: portValid[r] ? port[r]! : null,
      code: code[r]!,
      big: bigValid[r] ? big[r]! : null,
      ts: t.toString(),
      bytes: bytesValid[r] ? b.toString() : null,
      flag: flagValid[r] ? flag[r] === 1 : null,
      dir: dirValid[r] ? FEW[dir[r]!]! : null,
      addr: addrValid[r] ? MANY[addr[r]!]! : null,
      note: noteText,
    });
  }
  const batch: ColumnRows[] = [
    { data: id },
    { data: small, valid: smallValid },
    { data: port, valid: portValid },
    { data: code },
    { data: big, valid: bigValid },
    { lanes: ts },
    { lanes: bytes, valid: bytesValid },
    { data: flag, valid: flagValid },
    { data: dir, valid: dirValid },
    { data: addr, valid: addrValid },
    { strings: note },
  ];
  return { batch, expected };
}

async function readBack(file: string): Promise<Expected[]> {
  const [got] = await duckRows(
    `SELECT id, small, port, code, big, ts, bytes, flag, dir, addr, note FROM read_parquet(${sqlString(file)}) ORDER BY id`,
  );
  return got!.map((r) => ({
    ...(r as unknown as Expected),
    ts: String(r.ts),
    bytes: r.bytes === null ? null : String(r.bytes),
  }));
}

test('every column kind reads back as written, across pages and row groups, NULLs included', async () => {
  const { file, done } = tmpFile('t.parquet');
  try {
    // 70 000 rows: a page of 65 536 and a short one; row groups of 50 000 cut through the first page
    const w = new TableFile(file, COLUMNS, { rowGroupRows: 50_000 });
    const a = rows(70_000, 7, 0, 0);
    w.append(a.batch, 70_000);
    // a second batch of other addresses, given in part (its first 3000 rows), fills the second row group
    const b = rows(5000, 11, 70_000, 3000);
    w.append(b.batch, 3000);
    w.close();
    const got = await readBack(file);
    const want = [...a.expected, ...b.expected.slice(0, 3000)];
    assert.equal(got.length, want.length);
    for (let r = 0; r < want.length; r++) assert.deepEqual(got[r], want[r], `row ${r}`);
    const [meta] = await duckRows(
      `SELECT row_group_id, count(*) AS columns, max(row_group_num_rows) AS rows FROM parquet_metadata(${sqlString(file)}) GROUP BY 1 ORDER BY 1`,
    );
    assert.deepEqual(
      meta!.map((m) => Number(m.rows)),
      [50_000, 23_000],
    );
    // the types a query sees
    const [types] = await duckRows(`DESCRIBE SELECT * FROM read_parquet(${sqlString(file)})`);
    assert.deepEqual(
      types!.map((t) => `${t.column_name} ${t.column_type}`),
      [
        'id UINTEGER',
        'small UTINYINT',
        'port USMALLINT',
        'code UINTEGER',
        'big UINTEGER',
        'ts BIGINT',
        'bytes UBIGINT',
        'flag BOOLEAN',
        'dir VARCHAR',
        'addr VARCHAR',
        'note VARCHAR',
      ],
    );
  } finally {
    done();
  }
});

test('a row group holds in its text dictionary only the values it uses; statistics bound the values', async () => {
  const { file, done } = tmpFile('t.parquet');
  try {
    const w = new TableFile(file, COLUMNS, { rowGroupRows: 4000 });
    const a = rows(4000, 3, 0, 0);
    const b = rows(4000, 5, 4000, 3800);
    w.append(a.batch, 4000);
    w.append(b.batch, 4000);
    w.close();
    const [meta] = await duckRows(
      `SELECT row_group_id, path_in_schema, total_compressed_size AS size, stats_min_value AS lo, stats_max_value AS hi FROM parquet_metadata(${sqlString(file)}) ORDER BY row_group_id, column_id`,
    );
    const of = (g: number, c: string) =>
      meta!.find((m) => Number(m.row_group_id) === g && m.path_in_schema === c)!;
    // the 5000-value list would be ~75 KB in each dictionary; 1200 of them are used in each row group
    for (const g of [0, 1])
      assert.ok(Number(of(g, 'addr').size) < 40_000, `row group ${g}: ${of(g, 'addr').size} bytes`);
    assert.deepEqual([of(0, 'id').lo, of(0, 'id').hi], ['0', '3999']);
    assert.deepEqual([of(1, 'id').lo, of(1, 'id').hi], ['4000', '7999']);
    const got = await readBack(file);
    assert.deepEqual(got, [...a.expected, ...b.expected]);
  } finally {
    done();
  }
});

test('an empty file is a table of no rows; a text id past its values is refused', async () => {
  const { file, done } = tmpFile('t.parquet');
  try {
    const w = new TableFile(file, COLUMNS);
    w.close();
    const [got] = await duckRows(`SELECT count(*) AS n FROM read_parquet(${sqlString(file)})`);
    assert.equal(Number(got![0]!.n), 0);
    const bad = new TableFile(`${file}.2`, [{ kind: 'text', name: 'dir', values: FEW }]);
    assert.throws(
      () => bad.append([{ data: new Uint8Array([0, 1, 3]) }], 3),
      /text id 3 past the column's 3 values/,
    );
    bad.abort();
    const badMany = new TableFile(`${file}.3`, [{ kind: 'text', name: 'addr', values: MANY }]);
    assert.throws(() => badMany.append([{ data: new Uint16Array([5000]) }], 1), /text id 5000 past/);
    badMany.abort();
  } finally {
    done();
  }
});

test('row groups reach their size whatever the batches; runs of wide ids read back', async () => {
  const { file, done } = tmpFile('t.parquet');
  try {
    const values = MANY.slice(0, 300);
    const columns: TableColumn[] = [
      { kind: 'uint', name: 'id', bits: 32 },
      { kind: 'text', name: 'addr', values },
      // runs of 50 equal ports above 255: RLE runs of two-byte values
      { kind: 'uint', name: 'port', bits: 16 },
    ];
    const w = new TableFile(file, columns);
    let next = 0;
    const batch = (n: number): ColumnRows[] => {
      const id = new Uint32Array(n);
      const addr = new Uint16Array(n);
      const port = new Uint16Array(n);
      for (let r = 0; r < n; r++, next++) {
        id[r] = next;
        addr[r] = (next * 7) % values.length;
        port[r] = 1000 + Math.floor(next / 50);
      }
      return [{ data: id }, { data: addr }, { data: port }];
    };
    // a first batch of one row, then one of many pages: the text column's 300 values never outgrow a
    // page's 16-bit ids, so no row group is cut short
    for (const n of [1, 300_000, 10]) w.append(batch(n), n);
    w.close();
    const [meta] = await duckRows(
      `SELECT DISTINCT row_group_id, row_group_num_rows AS rows FROM parquet_metadata(${sqlString(file)}) ORDER BY 1`,
    );
    assert.deepEqual(
      meta!.map((m) => Number(m.rows)),
      [262_144, 37_867],
    );
    const [rows] = await duckRows(`SELECT id, addr, port FROM read_parquet(${sqlString(file)}) ORDER BY id`);
    assert.equal(rows!.length, next);
    const bad = rows!.filter(
      (r, i) =>
        r.id !== i || r.addr !== values[(i * 7) % values.length] || r.port !== 1000 + Math.floor(i / 50),
    );
    assert.deepEqual(bad.slice(0, 3), []);
  } finally {
    done();
  }
});

test('a growing text list: values first used in later batches of the same row group read back; each row group keeps only its own', async () => {
  const { file, done } = tmpFile('t.parquet');
  try {
    const values: string[] = [];
    const columns: TableColumn[] = [
      { kind: 'uint', name: 'id', bits: 32 },
      { kind: 'text', name: 'name', values, nullable: true, growing: true },
    ];
    const w = new TableFile(file, columns, { rowGroupRows: 30_000 });
    const want: (string | null)[] = [];
    const next = lcg(7);
    let id = 0;
    // batches of 1 to ~9 000 rows; each adds new values to the list, which rows of that batch and of
    // later ones use (a few of the first ones, more of the newest), and every 9th row is NULL
    for (let b = 0; b < 40; b++) {
      const n = 1 + (next() % 9000);
      for (let k = 0; k < 500; k++) values.push(`v${values.length}-${'é'.repeat(values.length % 3)}`);
      const ids = new Uint32Array(n);
      const names = new Uint32Array(n);
      const valid = new Uint8Array(n);
      for (let r = 0; r < n; r++, id++) {
        ids[r] = id;
        const v = next() % 4 === 0 ? next() % 20 : values.length - 1 - (next() % 500);
        valid[r] = id % 9 === 0 ? 0 : 1;
        names[r] = v;
        want.push(valid[r] ? values[v]! : null);
      }
      w.append([{ data: ids }, { data: names, valid }], n);
    }
    w.close();
    const [got, meta] = await duckRows(
      `SELECT id, name FROM read_parquet(${sqlString(file)}) ORDER BY id`,
      `SELECT row_group_id, row_group_num_rows AS n FROM parquet_metadata(${sqlString(file)}) WHERE path_in_schema = 'name' ORDER BY 1`,
    );
    assert.equal(got!.length, want.length);
    const bad = got!.filter((r, i) => r.id !== i || r.name !== want[i]);
    assert.deepEqual(bad.slice(0, 3), []);
    assert.ok(meta!.length >= 5, `row groups: ${meta!.length}`);
    // a row group's dictionary holds the values its rows use: fewer than the list's 20 000
    const [dict] = await duckRows(
      `SELECT max(total_compressed_size) AS size FROM parquet_metadata(${sqlString(file)}) WHERE path_in_schema = 'name'`,
    );
    assert.ok(Number(dict![0]!.size) < 20_000 * 8, `largest chunk ${dict![0]!.size} bytes`);
  } finally {
    done();
  }
});
