import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import fc from 'fast-check';
import { openDuckDb } from '../../../ingest/dataset/duckdb.ts';
import { macroStatements } from '../../../ingest/dataset/sql-macros.ts';

let db: DuckDBInstance;
let con: DuckDBConnection;

before(async () => {
  db = await openDuckDb({ memoryLimit: '256MB', threads: 1 });
  con = await db.connect();
  for (const sql of macroStatements) await con.run(sql);
});
after(() => {
  con.closeSync();
  db.closeSync();
});

async function scalar(sql: string, params: (string | number | bigint)[] = []): Promise<unknown> {
  const reader = await con.runAndReadAll(sql, params);
  return reader.getRowsJS()[0]?.[0];
}

/** WHATWG URL host serialization is RFC 5952 compression, written independently of our macro. */
function urlIpv6(bytes: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

test('ip6_text matches RFC 5952 (WHATWG URL serializer) for addresses without an embedded IPv4 form', async () => {
  // zero-heavy groups so that runs of zeros, ties and single zero groups all occur
  const group = fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff }));
  const address = fc.array(group, { minLength: 8, maxLength: 8 }).map((gs) => {
    const b = new Uint8Array(16);
    gs.forEach((g, i) => {
      b[2 * i] = g >> 8;
      b[2 * i + 1] = g & 0xff;
    });
    return b;
  });
  const embedsV4 = (b: Uint8Array) =>
    b.subarray(0, 10).every((x) => x === 0) &&
    ((b[10] === 0xff && b[11] === 0xff) || (b[10] === 0 && b[11] === 0 && (b[12] !== 0 || b[13] !== 0)));
  await fc.assert(
    fc.asyncProperty(address, async (b) => {
      fc.pre(!embedsV4(b));
      const text = await scalar(`SELECT ip6_text(from_hex($1))`, [hex(b)]);
      assert.equal(text, urlIpv6(b));
    }),
    { numRuns: 200 },
  );
});

test('ip6_text writes IPv4-mapped and IPv4-compatible addresses with a dotted quad, as inet_ntop does', async () => {
  assert.equal(
    await scalar(`SELECT ip6_text(from_hex('00000000000000000000ffffc0a80001'))`),
    '::ffff:192.168.0.1',
  );
  assert.equal(
    await scalar(`SELECT ip6_text(from_hex('000000000000000000000000c0a80001'))`),
    '::192.168.0.1',
  );
  assert.equal(await scalar(`SELECT ip6_text(from_hex('00000000000000000000000000000001'))`), '::1');
  assert.equal(await scalar(`SELECT ip6_text(from_hex('00000000000000000000000000000000'))`), '::');
  assert.equal(
    await scalar(`SELECT ip6_text(from_hex('20010db8000000000001000000000001'))`),
    '2001:db8::1:0:0:1',
  );
});

test('ip4_text, ip_text and mac_text', async () => {
  assert.equal(await scalar('SELECT ip4_text($1::UINTEGER)', [0xc0a8000a]), '192.168.0.10');
  assert.equal(await scalar('SELECT ip4_text($1::UINTEGER)', [0xffffffff]), '255.255.255.255');
  assert.equal(await scalar('SELECT ip_text(NULL::UINTEGER, NULL::BLOB)'), null);
  assert.equal(
    await scalar('SELECT ip_text(NULL::UINTEGER, from_hex($1))', ['fe800000000000000000000000000001']),
    'fe80::1',
  );
  assert.equal(await scalar('SELECT mac_text($1::UBIGINT)', [0xeeffffffffffn]), 'ee:ff:ff:ff:ff:ff');
  assert.equal(await scalar('SELECT mac_text($1::UBIGINT)', [0x0000000a0b0cn]), '00:00:00:0a:0b:0c');
});
