import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { SqlSession, statementComplete } from '../../../cli/sql-session.ts';
import { type OpenDataset, openDataset } from '../../../ingest/dataset/open-dataset.ts';
import { ingestToDataset } from '../../../ingest/dataset/write-dataset.ts';
import { pcapFile } from '../ingest/capture-builder.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ht-sql-'));
let ds: OpenDataset;

/** Three UDP frames 10.0.0.1 -> 10.0.0.2, ports 5000..5002 -> 53. */
function writeCapture(file: string): void {
  const recs = [0, 1, 2].map((i) => ({
    sec: 1_700_000_000 + i,
    frac: 0,
    data: Buffer.from(
      `020000000001020000000002080045000020000${i}0000401100000a0000010a000002${(5000 + i).toString(16)}0035000c0000ab`,
      'hex',
    ),
  }));
  fs.writeFileSync(file, pcapFile(true, {}, recs));
}

before(async () => {
  writeCapture(path.join(tmp, 'udp.pcap'));
  await ingestToDataset([path.join(tmp, 'udp.pcap')], {
    outDir: path.join(tmp, 'ds'),
    memoryLimit: '256MB',
    threads: 1,
  });
  ds = await openDataset(path.join(tmp, 'ds'));
});
after(() => {
  ds.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('statementComplete: a ; outside quotes and comments ends a statement', () => {
  assert.equal(statementComplete('SELECT 1;'), true);
  assert.equal(statementComplete('SELECT 1; \n'), true);
  assert.equal(statementComplete('SELECT 1'), false);
  assert.equal(statementComplete("SELECT ';'"), false);
  assert.equal(statementComplete('SELECT "a;b"'), false);
  assert.equal(statementComplete('SELECT 1 -- done;\n'), false);
  assert.equal(statementComplete('SELECT 1 /* ; */'), false);
  assert.equal(statementComplete('SELECT 1 /* ; */;'), true);
});

test('a statement over several lines runs when its ; arrives', async () => {
  const s = new SqlSession(ds.con, 'csv');
  assert.equal(await s.line('SELECT src_port'), '');
  assert.equal(s.pending, true);
  assert.equal(await s.line('FROM packets ORDER BY 1;'), 'src_port\n5000\n5001\n5002\n');
  assert.equal(s.pending, false);
});

test('dot commands: .tables, .schema, .format, unknown, .quit', async () => {
  const s = new SqlSession(ds.con, 'csv');
  const tables = await s.line('.tables');
  assert.match(tables, /^name\n/);
  assert.match(tables, /\npackets\n/);
  assert.match(tables, /\ncaptures\n/);
  const schema = await s.line('.schema packets');
  assert.match(schema, /\npackets,src_ip,VARCHAR\n/);
  assert.ok(!schema.includes('captures,'), 'only the named view');
  assert.equal(await s.line('.format json'), '');
  assert.equal(await s.line('SELECT count(*) AS n FROM packets;'), '{"n":3}\n');
  assert.match(await s.line('.nope'), /^error: unknown command \.nope/);
  await s.line('.quit');
  assert.equal(s.done, true);
});

test('errors are one line and the session goes on; writes are refused', async () => {
  const s = new SqlSession(ds.con, 'csv');
  assert.match(await s.line('SELEC 1;'), /^error: SQL: .*\n$/);
  assert.match(
    await s.line('DROP VIEW packets;'),
    /^error: SQL: statement 1 is DROP; the dataset is read-only/,
  );
  assert.equal(await s.line('SELECT count(*) AS n FROM packets;'), 'n\n3\n');
});

test('end of input runs a last statement without ;', async () => {
  const s = new SqlSession(ds.con, 'csv');
  await s.line('SELECT 42 AS answer');
  assert.equal(await s.end(), 'answer\n42\n');
});

test('--format parquet --output writes the result through a separate database', async () => {
  const out = path.join(tmp, 'result.parquet');
  const r = spawnSync(
    process.execPath,
    [
      path.resolve('bin/hoptrace.js'),
      'sql',
      path.join(tmp, 'ds'),
      'SELECT src_ip, src_port FROM packets ORDER BY 2',
      '--format',
      'parquet',
      '-o',
      out,
    ],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  const db = await DuckDBInstance.create(':memory:');
  const con = await db.connect();
  const rows = (await con.runAndReadAll(`SELECT * FROM read_parquet('${out}')`)).getRowsJS();
  assert.deepEqual(rows, [
    ['10.0.0.1', 5000],
    ['10.0.0.1', 5001],
    ['10.0.0.1', 5002],
  ]);
  con.closeSync();
  db.closeSync();
});

test('the prompt on a terminal: multi-line statement, .tables, Ctrl-D', () => {
  // a real pty, so stdin.isTTY is true as for a person at a terminal
  const script = `
import os, pty, sys, time, select
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
out = b''
def pump(t):
    global out
    end = time.time() + t
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try: out += os.read(fd, 65536)
            except OSError: return
for line in [b'SELECT 6 *\\r', b'7 AS answer;\\r', b'.tables\\r', b'\\x04']:
    pump(1.5); os.write(fd, line)
pump(3)
sys.stdout.write(out.decode('utf8', 'replace'))
`;
  const r = spawnSync(
    'python3',
    ['-c', script, process.execPath, path.resolve('bin/hoptrace.js'), 'sql', path.join(tmp, 'ds')],
    { encoding: 'utf8', timeout: 60_000, env: { ...process.env, HOME: tmp } },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /hoptrace> /);
  assert.match(r.stdout, /\.\.\.> /);
  assert.match(r.stdout, /answer\s*\r?\n-+\s*\r?\n42/);
  assert.match(r.stdout, /captures/);
  assert.ok(fs.readFileSync(path.join(tmp, '.hoptrace_history'), 'utf8').includes('.tables'));
});
