import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';

const pkg = JSON.parse(fs.readFileSync('package.json', 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  bin: Record<string, string>;
  scripts: Record<string, string>;
};

test('every dependency is pinned to an exact version', () => {
  for (const [name, version] of Object.entries({ ...pkg.dependencies, ...pkg.devDependencies })) {
    assert.match(version, /^\d+\.\d+\.\d+(-[\w.]+)?$/, `${name}@${version}`);
  }
});

test('runtime dependencies are the agreed list', () => {
  assert.deepEqual(Object.keys(pkg.dependencies).sort(), [
    '@duckdb/node-api',
    '@duckdb/node-bindings',
    'ajv',
    'apache-arrow',
    'commander',
    'esbuild',
    'fzstd',
    'tsx',
    'yaml',
  ]);
  // node-bindings is declared only to call its vector copy directly: it must be the one node-api uses
  const api = JSON.parse(fs.readFileSync('node_modules/@duckdb/node-api/package.json', 'utf8')) as {
    dependencies: Record<string, string>;
  };
  assert.equal(pkg.dependencies['@duckdb/node-bindings'], api.dependencies['@duckdb/node-bindings']);
  // esbuild bundles worker modules (ingest/dataset/ts-worker.ts): the copy tsx runs on, not a second one
  const esbuild = JSON.parse(fs.readFileSync('node_modules/esbuild/package.json', 'utf8')) as {
    version: string;
  };
  assert.equal(esbuild.version, pkg.dependencies['esbuild']);
  assert.ok(!fs.existsSync('node_modules/tsx/node_modules/esbuild'), 'tsx has an esbuild of its own');
});

test('the quick start commands exist', () => {
  assert.ok(pkg.scripts['start'] && pkg.scripts['test'] && pkg.scripts['bench']);
  assert.ok(fs.existsSync(pkg.bin['hoptrace']!));
  const readme = fs.readFileSync('README.md', 'utf8');
  assert.ok(readme.includes('npm ci && npm start') && readme.includes('npm test'));
});
