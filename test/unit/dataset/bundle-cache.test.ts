/**
 * Worker bundles kept on disk (bundle-cache.ts) are used only while every file they were made from is
 * as it was: an edited, grown, touched or removed input, or a cache file that is not ours, means
 * bundling again; a bundle whose inputs changed while it was being made is not kept. And the real
 * path: buildBundle stores what esbuild made, which a later read hands back as it is, until a source
 * of the module changes.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { readCachedBundle, writeCachedBundle } from '../../../ingest/dataset/bundle-cache.ts';
import { buildBundle } from '../../../ingest/dataset/ts-worker.ts';

function scratch(t: { after: (fn: () => void) => void }): { dir: string; cache: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ht-bundle-cache-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return { dir, cache: path.join(dir, 'cache') };
}

/** Sets a file's modification time `secondsAgo` in the past. */
function age(file: string, secondsAgo: number): void {
  const when = new Date(Date.now() - secondsAgo * 1000);
  fs.utimesSync(file, when, when);
}

/** A module `main.ts` of its own in `dir`, saved a minute ago. */
function oneFile(dir: string): { main: string; module: URL } {
  const main = path.join(dir, 'main.ts');
  fs.writeFileSync(main, 'export const a = 1;\n');
  age(main, 60);
  return { main, module: pathToFileURL(main) };
}

/** A module `main.ts` importing `dep.ts` in `dir`, both saved a minute ago. */
function twoFiles(
  dir: string,
  mainText: string,
  depText: string,
): { main: string; dep: string; module: URL } {
  const main = path.join(dir, 'main.ts');
  const dep = path.join(dir, 'dep.ts');
  fs.writeFileSync(main, mainText);
  fs.writeFileSync(dep, depText);
  for (const f of [main, dep]) age(f, 60);
  return { main, dep, module: pathToFileURL(main) };
}

test('a stored bundle is read back while its inputs are unchanged, and not once one changes', async (t) => {
  const { dir, cache } = scratch(t);
  const { main, dep, module } = twoFiles(dir, 'export const a = 1;\n', 'export const b = 2;\n');
  assert.equal(await readCachedBundle(module, cache), null, 'nothing stored yet');

  await writeCachedBundle(module, 'code v1', { files: [main, dep] }, Date.now(), cache);
  assert.equal(await readCachedBundle(module, cache), 'code v1');

  // the same size, another time: a checkout or an editor's save
  fs.utimesSync(dep, new Date(), new Date(Date.now() - 30_000));
  assert.equal(await readCachedBundle(module, cache), null, 'a touched input');

  await writeCachedBundle(module, 'code v2', { files: [main, dep] }, Date.now(), cache);
  assert.equal(await readCachedBundle(module, cache), 'code v2');
  const { mtime } = fs.statSync(dep);
  fs.writeFileSync(dep, 'export const b = 22;\n');
  fs.utimesSync(dep, mtime, mtime);
  assert.equal(await readCachedBundle(module, cache), null, 'a grown input with its old time');

  await writeCachedBundle(module, 'code v3', { files: [main, dep] }, Date.now(), cache);
  assert.equal(await readCachedBundle(module, cache), 'code v3');
  fs.rmSync(dep);
  assert.equal(await readCachedBundle(module, cache), null, 'a removed input');
});

test('a bundle whose inputs changed while it was made is not stored', async (t) => {
  const { dir, cache } = scratch(t);
  const { main, module } = oneFile(dir);
  // the build started a minute ago, and the file was saved after that
  await writeCachedBundle(module, 'stale', { files: [main] }, Date.now() - 120_000, cache);
  assert.equal(await readCachedBundle(module, cache), null);
  // saved a second before the build started: within the file times' margin, maybe read before its save
  const started = Date.now();
  const justBefore = new Date(started - 1000);
  fs.utimesSync(main, justBefore, justBefore);
  await writeCachedBundle(module, 'too close', { files: [main] }, started, cache);
  assert.equal(await readCachedBundle(module, cache), null);
  // an input that is gone by the time it is stamped: nothing stored either
  await writeCachedBundle(module, 'gone', { files: [main, path.join(dir, 'nope.ts')] }, Date.now(), cache);
  assert.equal(await readCachedBundle(module, cache), null);
});

test('a cache file that is not a stored bundle is ignored', async (t) => {
  const { dir, cache } = scratch(t);
  const { main, module } = oneFile(dir);
  await writeCachedBundle(module, 'good', { files: [main] }, Date.now(), cache);
  const [file] = fs.readdirSync(cache);
  assert.ok(file);
  const target = path.join(cache, file);
  const good = JSON.parse(fs.readFileSync(target, 'utf8')) as Record<string, unknown> & {
    stamps: Record<string, unknown>[];
  };
  assert.equal(good['code'], 'good');
  // each a stored entry with one defect, so that each check is what refuses it
  const stamp = good.stamps[0]!;
  const bad: [string, string][] = [
    ['empty', ''],
    ['cut short', JSON.stringify(good).slice(0, 40)],
    ['null', 'null'],
    ['no stamps', JSON.stringify({ ...good, stamps: undefined })],
    ['stamps empty', JSON.stringify({ ...good, stamps: [] })],
    ['a stamp without its file', JSON.stringify({ ...good, stamps: [{ ...stamp, file: 1 }] })],
    ['a stamp without its size', JSON.stringify({ ...good, stamps: [{ ...stamp, size: undefined }] })],
    ['a stamp of another file', JSON.stringify({ ...good, stamps: [{ ...stamp, file: '/etc/hostname' }] })],
    ['code not text', JSON.stringify({ ...good, code: 7 })],
    ['no digest', JSON.stringify({ ...good, sha256: undefined })],
  ];
  for (const [what, text] of bad) {
    fs.writeFileSync(target, text);
    assert.equal(await readCachedBundle(module, cache), null, what);
  }
  // a stored bundle whose code was altered on disk (its stamps still fresh)
  await writeCachedBundle(module, 'good', { files: [main] }, Date.now(), cache);
  const entry = JSON.parse(fs.readFileSync(target, 'utf8')) as { code: string };
  assert.equal(entry.code, 'good');
  entry.code = 'goo';
  fs.writeFileSync(target, JSON.stringify(entry));
  assert.equal(await readCachedBundle(module, cache), null, 'altered code');
  // no temporary files left behind by the writes
  assert.deepEqual(fs.readdirSync(cache), [file]);
});

test("buildBundle stores esbuild's bundle, read back until a source of the module changes", async (t) => {
  const { dir, cache } = scratch(t);
  const { main, dep, module } = twoFiles(
    dir,
    "import { b } from './dep.ts';\nexport const a: number = b + 1;\n",
    'export const b: number = 41;\n',
  );
  const built = await buildBundle(module, cache);
  assert.ok(built?.includes('41'), 'the dependency is in the bundle');
  assert.equal(await readCachedBundle(module, cache), built);
  const stored = JSON.parse(fs.readFileSync(path.join(cache, fs.readdirSync(cache)[0]!), 'utf8')) as {
    stamps: { file: string }[];
  };
  const files = stored.stamps.map((s) => s.file);
  for (const f of [main, dep]) assert.ok(files.includes(f), `${f} is stamped`);
  assert.ok(
    files.some((f) => f.endsWith(`${path.sep}esbuild${path.sep}package.json`)),
    "esbuild's version is stamped",
  );
  fs.writeFileSync(dep, 'export const b: number = 1041;\n');
  assert.equal(await readCachedBundle(module, cache), null);
});
