import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { UsageError } from '../../../cli/usage-error.ts';
import { JsonFlows } from '../../../reports/json-flows.ts';

/** Everything `JsonFlows` reads from `file`, in chunks of `chunk` bytes. */
async function readAll(file: string, chunk: number) {
  const r = await JsonFlows.open(file, chunk);
  const before = r.before;
  const flows: unknown[] = [];
  for (let f = await r.next(); f !== null; f = await r.next()) flows.push(f);
  return { before, flows, rest: await r.rest() };
}

// texts with what a scanner must not take for structure: quotes, escapes, brackets, braces, non-ASCII
const text = fc.oneof(
  fc.string(),
  fc.constantFrom('"', '\\', '\\"', '{', '}', '[', ']', ':', ',', 'flows', 'é€😀'),
);
const value = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    text,
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('v'), { maxLength: 3 }),
    fc.dictionary(text, tie('v'), { maxKeys: 3 }),
  ),
})).v;

test('the flows of any document, and its members around them, as JSON.parse reads them, in any chunking', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ht-json-flows-'));
  const file = path.join(dir, 'doc.json');
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(
          text.filter((k) => k !== 'flows'),
          value,
          { maxKeys: 3 },
        ),
        fc.array(fc.dictionary(text, value, { maxKeys: 4 }), { maxLength: 6 }),
        fc.dictionary(
          text.filter((k) => k !== 'flows'),
          value,
          { maxKeys: 3 },
        ),
        fc.constantFrom(0, 2),
        fc.integer({ min: 1, max: 64 }),
        async (head, flows, tail, indent, chunk) => {
          const doc = { ...head, flows, ...tail };
          const written = JSON.stringify(doc, null, indent);
          await fs.writeFile(file, written);
          const got = await readAll(file, chunk);
          const parsed = JSON.parse(written) as Record<string, unknown>;
          assert.deepEqual(got.flows, parsed['flows']);
          assert.deepEqual(got.rest, { ...parsed, flows: [] });
          // the members written ahead of the array (as own properties: `ahead[k] = v` with the key
          // "__proto__" would set the prototype, where JSON.parse and the reader make a member)
          const members = Object.entries(parsed);
          const cut = members.findIndex(([k]) => k === 'flows');
          const ahead = Object.fromEntries(members.slice(0, cut < 0 ? members.length : cut));
          assert.deepEqual(got.before, { ...ahead, flows: [] });
        },
      ),
      { numRuns: 300 },
    );
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('a document larger than a string can be: its flows one by one (no string of the whole)', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ht-json-flows-'));
  const file = path.join(dir, 'big.json');
  try {
    // 600 MB: past V8's string limit (2^29 - 24 characters), so JSON.parse of the file's text cannot be
    const item = `{"flow_id":0,"pad":"${'x'.repeat(60_000)}"}`;
    const n = 10_000;
    const h = await fs.open(file, 'w');
    await h.write('{"schema_version":1,"flows":[');
    for (let i = 0; i < n; i++) await h.write(`${i > 0 ? ',' : ''}${item.replace('0', String(i))}`);
    await h.write('],"nodes":[{"node":"n1"}]}');
    await h.close();
    assert.ok((await fs.stat(file)).size > 2 ** 29);
    const r = await JsonFlows.open(file);
    let count = 0;
    for (let f = await r.next(); f !== null; f = await r.next()) {
      assert.equal((f as { flow_id: number }).flow_id, count);
      count++;
    }
    assert.equal(count, n);
    assert.deepEqual(await r.rest(), { schema_version: 1, flows: [], nodes: [{ node: 'n1' }] });
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('damaged documents: one line naming the file, the byte and what is wrong', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ht-json-flows-'));
  try {
    const cases: [string, RegExp][] = [
      ['{"a":1}', /no "flows" array at byte 7/],
      ['{"flows":[{"a":1},{"b":', /ends inside the "flows" array/],
      ['{"flows":[{"a":1},2]}', /an item of "flows" that is not an object at byte 18/],
      ['{"flows":[{"a":1,}]}', /not JSON .* at byte 10/],
      ['{"flows":[]}}', /an unmatched \} at byte 12/],
      ['{"flows":[], "x": [1', /ends inside the document/],
    ];
    // a folder where the file should be: named, with the cause
    await assert.rejects(
      JsonFlows.open(dir),
      (e: unknown) => e instanceof UsageError && e.message === `${dir}: cannot be read (EISDIR) at byte 0`,
    );
    for (const [k, [doc, why]] of cases.entries()) {
      const file = path.join(dir, `bad-${k}.json`);
      await fs.writeFile(file, doc);
      await assert.rejects(
        async () => {
          const r = await JsonFlows.open(file, 5);
          while ((await r.next()) !== null);
          await r.rest();
        },
        (e: unknown) => e instanceof UsageError && e.message.startsWith(file) && why.test(e.message),
        doc,
      );
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
