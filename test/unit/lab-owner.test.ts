/**
 * The lab's run lock (lab/state.ts claimOwner): exactly one live owner, a dead owner's claim is taken over,
 * and a refused run learns the live owner's PID (so it waits instead of cleaning someone else's run).
 * No root needed: the lab directory is a temporary one (HT_LAB_DIR).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'ht-lab-owner-'));
process.env['HT_LAB_DIR'] = join(dir, 'lab');
// imported after HT_LAB_DIR is set: LAB_DIR is read once at load
const state = await import('../../lab/state.ts');

after(() => rmSync(dir, { recursive: true, force: true }));

/** A second process that claims the lab, prints the result and stays alive until killed (bounded: 20 s). */
function otherRun(): Promise<{ pid: number; claimed: string; stop: () => Promise<void> }> {
  const code = `import(${JSON.stringify(join(REPO, 'lab', 'state.ts'))}).then((m) => { process.stdout.write(String(m.claimOwner()) + '\\n'); setTimeout(() => {}, 20000); });`;
  const child = spawn(process.execPath, ['--import', 'tsx', '-e', code], {
    env: process.env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((r) => child.on('close', () => r()));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      if (out.includes('\n'))
        resolve({
          pid: child.pid!,
          claimed: out.trim(),
          stop: async () => {
            child.kill('SIGKILL');
            await exited;
          },
        });
    });
    void exited.then(() => reject(new Error(`claimer exited early: ${out}`)));
  });
}

describe('lab run lock', () => {
  it('refuses a second owner while the first lives, and takes over a dead one', async () => {
    const other = await otherRun();
    try {
      assert.equal(other.claimed, 'null', 'the first claim wins');
      assert.equal(state.claimOwner(), other.pid, 'a second run learns the live owner');
      assert.equal(state.liveOwner(), other.pid);
    } finally {
      await other.stop();
    }
    assert.equal(state.liveOwner(), null, 'a dead owner is no owner');
    assert.equal(state.claimOwner(), null, 'its stale claim is taken over');
    // our own claim never refuses ourselves
    assert.equal(state.claimOwner(), null);
  });
});
