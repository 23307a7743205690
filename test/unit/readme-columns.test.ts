import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { decisionTableMarkdown } from '../../analyzers/classify.ts';
import { packetFields } from '../../ingest/columns/packets-schema.ts';

test('the README documents every column of the packets table', () => {
  const readme = fs.readFileSync('README.md', 'utf8');
  // a table row whose first cell is the column name (the formatter pads cells)
  const missing = packetFields
    .filter((f) => !new RegExp(`^\\| \`${f.name}\` +\\|`, 'm').test(readme))
    .map((f) => f.name);
  assert.deepEqual(missing, []);
});

test('the README prints the scenario decision table as the classifier has it', () => {
  const readme = fs.readFileSync('README.md', 'utf8');
  assert.ok(readme.includes(decisionTableMarkdown().trimEnd()), 'regenerate with decisionTableMarkdown()');
});
