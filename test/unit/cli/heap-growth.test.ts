import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { boundHeapGrowth } from '../../../cli/heap-growth.ts';

// Some 140 MB stay alive while objects that live long enough to be promoted keep dying: the peak of
// the used heap is what the growing factor allows past the live set (V8's own factor let it reach
// about 530 MB here; bounded to 50%, about 225 MB).
const WORKLOAD = `
  const v8 = await import('node:v8');
  const live = [];
  for (let i = 0; i < 1_000_000; i++) live.push({ a: i, b: [i, i] });
  const window = [];
  let peak = 0;
  for (let i = 0; i < 6_000_000; i++) {
    window.push({ a: i, b: [i, i] });
    if (window.length > 200_000) window.splice(0, 100_000);
    if ((i & 4095) === 0) peak = Math.max(peak, v8.getHeapStatistics().used_heap_size);
  }
  console.log(JSON.stringify({ peak, live: live.length }));
`;

function peakMb(bound: boolean): number {
  const pre = bound
    ? `const { boundHeapGrowth } = await import(${JSON.stringify(new URL('../../../cli/heap-growth.ts', import.meta.url).href)}); boundHeapGrowth();`
    : '';
  // V8 caps its own growing factor by the heap's limit: a fixed limit makes the comparison the same on any machine
  const r = spawnSync(
    process.execPath,
    ['--max-old-space-size=4096', '--import', 'tsx', '--input-type=module', '-e', pre + WORKLOAD],
    {
      encoding: 'utf8',
    },
  );
  assert.equal(r.status, 0, r.stderr);
  const { peak } = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { peak: number };
  return peak / 2 ** 20;
}

test('bounded heap growth keeps the peak near what is alive, where V8 alone lets it double', () => {
  const bounded = peakMb(true);
  const free = peakMb(false);
  assert.ok(bounded < 320, `bounded peak ${bounded.toFixed(0)} MB`);
  assert.ok(free > 1.4 * bounded, `V8's own factor: ${free.toFixed(0)} MB against ${bounded.toFixed(0)} MB`);
});

test('heap growth takes a whole percentage', () => {
  assert.throws(() => boundHeapGrowth(0), /whole percentage/);
  assert.throws(() => boundHeapGrowth(12.5), /whole percentage/);
});
