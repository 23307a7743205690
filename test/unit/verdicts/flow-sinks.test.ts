/** analyze's flow sinks (cli/analyze.ts): a failure opening them leaves nothing open. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mock, test } from 'node:test';
import { VerdictsTableStage } from '../../../analyzers/rules/write-verdicts.ts';
import { FlowSinks } from '../../../cli/analyze.ts';

test('FlowSinks.open: verdicts.json failing to open closes the verdicts table stage already open', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hoptrace-flow-sinks-'));
  const discard = mock.method(VerdictsTableStage.prototype, 'discard');
  try {
    const dataset = path.join(dir, 'dataset');
    fs.mkdirSync(dataset);
    fs.writeFileSync(path.join(dataset, 'report'), ''); // verdicts.json's folder cannot be made
    await assert.rejects(FlowSinks.open(dir, dataset));
    assert.equal(discard.mock.callCount(), 1, 'the table stage (DuckDB) closed');
  } finally {
    discard.mock.restore();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
