/**
 * `hoptrace export` (issue 7, "Hand-off to Wireshark") on the kernel fixture judged by the DataPath V2
 * rules (so flows fail and comments carry failing checks): the pcapng is read back with tshark and with
 * the project's reader, and compared with the dataset's `sightings` of the flow: one frame per
 * sighting, one interface per capture point named by its id, clock-corrected ns timestamps in order,
 * direction in epb_flags, epb_packetid = the dataset's packet id, a comment per frame naming point, hop,
 * NAT rewrite and verdict. tshark is required with CI=true.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { analyzeBundle } from '../../cli/analyze.ts';
import { exportCommand } from '../../cli/export.ts';
import { UsageError } from '../../cli/usage-error.ts';
import { openDataset } from '../../ingest/dataset/open-dataset.ts';
import { readCapture } from '../../ingest/read-capture.ts';
import type { InterfaceInfo, PacketRecord } from '../../ingest/record.ts';
import { exportFlow } from '../../reports/export-flow.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const BUNDLE = path.join(ROOT, 'fixtures', 'kernel', 'bundle');
const ci = process.env['CI'] === 'true';

function haveTshark(): boolean {
  try {
    execFileSync('tshark', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const tshark = haveTshark();

test('tshark is installed (required in CI)', { skip: !ci && !tshark && 'no tshark; CI=true fails' }, () => {
  assert.ok(tshark, 'tshark not found: apt-get install tshark');
});

interface Sighting {
  packet: number;
  hop: number;
  point: string;
  direction: string;
  tsNs: bigint;
  rewrite: string | null;
  file: string;
  frame: number;
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ht-export-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const analysis = path.join(tmp, 'analysis');

async function sightingsOf(flow: number): Promise<Sighting[]> {
  const ds = await openDataset(path.join(analysis, 'dataset'));
  try {
    const r = await ds.con.runAndReadAll(
      `SELECT packet_id, hop, capture_point, direction, ts_ns, rewrite, file, frame FROM sightings
       WHERE flow_id = $1 ORDER BY ts_ns, packet_id, hop`,
      [flow],
    );
    return r.getRowsJS().map((x) => ({
      packet: Number(x[0]),
      hop: Number(x[1]),
      point: String(x[2]),
      direction: String(x[3]),
      tsNs: BigInt(x[4] as bigint),
      rewrite: x[5] === null ? null : String(x[5]),
      file: String(x[6]),
      frame: Number(x[7]),
    }));
  } finally {
    ds.close();
  }
}

/** tshark fields, one line per frame, tab-separated. */
function tsharkFields(file: string, fields: string[]): string[][] {
  const out = execFileSync('tshark', ['-r', file, '-T', 'fields', ...fields.flatMap((f) => ['-e', f])], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  return out
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split('\t'));
}

/** `1795678310.853745708` -> ns */
const epochNs = (s: string) => BigInt(s.replace('.', ''));

describe('hoptrace export', () => {
  let flows: { id: number; status: string; rule: string | null; service: boolean; server: string }[] = [];
  before(async () => {
    const r = await analyzeBundle(BUNDLE, analysis, { datapath: 'datapathv2' });
    flows = r.document.flows.map((f) => ({
      id: f.flow_id,
      status: f.status,
      rule: f.rule_id,
      service: f.service !== null,
      server: `${f.server.ip}:${f.server.port}`,
    }));
  });

  test('every flow: the project reader gets one frame per sighting, at the corrected time', async () => {
    assert.equal(flows.length, 26);
    for (const f of flows) {
      const out = path.join(tmp, `flow-${f.id}.pcapng`);
      const summary = await exportFlow(analysis, f.id, { out });
      const sightings = await sightingsOf(f.id);
      assert.equal(summary.frames, sightings.length);
      const ifaces: InterfaceInfo[] = [];
      const got: { iface: number; ts: bigint; flags: number; frame: number }[] = [];
      const r = await readCapture(out, {
        container() {},
        interface: (i) => ifaces.push(i),
        stats() {},
        warning() {},
        packet: (rec: PacketRecord) =>
          got.push({
            iface: rec.interfaceIndex,
            ts: (BigInt(rec.tsHi >>> 0) << 32n) | BigInt(rec.tsLo >>> 0),
            flags: rec.flags,
            frame: rec.frame,
          }),
      });
      assert.equal(r.error, null, `flow ${f.id}: ${r.error?.line()}`);
      assert.equal(got.length, sightings.length, `flow ${f.id}: frames`);
      assert.ok(ifaces.every((i) => i.tsResolution === '1e-9'));
      // one IDB per capture point (the fixture has one link type per point)
      const names = ifaces.map((i) => i.name);
      assert.deepEqual(new Set(names).size, names.length);
      assert.deepEqual(new Set(names), new Set(sightings.map((s) => s.point)));
      got.forEach((g, i) => {
        const s = sightings[i]!;
        assert.equal(names[g.iface], s.point);
        assert.equal(g.ts, s.tsNs, `flow ${f.id} frame ${i + 1}: corrected time`);
        assert.equal(g.flags & 3, s.direction === 'in' ? 1 : s.direction === 'out' ? 2 : 0);
        if (i > 0) assert.ok(g.ts >= got[i - 1]!.ts, 'time order');
      });
    }
  });

  test('tshark reads a failing Service flow back: names, packet ids, directions, comments', {
    skip: !tshark && 'tshark not installed',
  }, async () => {
    // a Service flow across nodes: DNAT on the way, and failing checks under DataPath V2
    const f = flows.find((x) => x.status === 'fail' && x.service && x.rule?.endsWith('/svc-other-node'));
    assert.ok(f, 'a failing svc-other-node flow');
    const out = path.join(tmp, 'svc.pcapng');
    await exportFlow(analysis, f.id, { out });
    const sightings = await sightingsOf(f.id);
    const rows = tsharkFields(out, [
      'frame.interface_name',
      'frame.packet_id',
      'frame.packet_flags_direction',
      'frame.time_epoch',
      'frame.comment',
    ]);
    assert.equal(rows.length, sightings.length);
    rows.forEach(([name, id, dir, time, c], i) => {
      const s = sightings[i]!;
      const comment = c ?? '';
      assert.equal(name, s.point);
      assert.equal(Number(id), s.packet);
      assert.equal(Number(dir), s.direction === 'in' ? 1 : s.direction === 'out' ? 2 : 0);
      assert.equal(epochNs(time!), s.tsNs);
      assert.ok(comment.startsWith(`hoptrace flow ${f.id} packet ${s.packet} `), comment);
      assert.ok(comment.includes(`hop ${s.hop} `) && comment.includes(` at ${s.point} ${s.direction}`));
      assert.ok(comment.includes(`${s.file} frame ${s.frame}`));
      assert.match(comment, /\| verdict: (pass|fail|inconclusive)/);
      if (s.rewrite !== null && s.hop > 0) assert.match(comment, /\| NAT since \S+ (in|out|unknown) \(/);
      else assert.doesNotMatch(comment, /NAT since/);
    });
    const text = rows.map((r) => r[4]).join('\n');
    assert.match(
      text,
      new RegExp(`NAT since .* became \\S+ > ${f.server.replaceAll('.', '\\.')} \\|`),
      'DNAT to the backend',
    );
    assert.match(text, /verdict: fail bypass\.request \(seen-on-skipped-point\)/);
    // every sighting of one packet carries the same packet id; request and reply both present
    const perPacket = new Map<string, number>();
    for (const r of rows) perPacket.set(r[1]!, (perPacket.get(r[1]!) ?? 0) + 1);
    assert.ok([...perPacket.values()].every((n) => n > 1));
    assert.match(text, / request \|/);
    assert.match(text, / reply \|/);
    // tshark decodes the frames themselves (right link type): IP addresses of the flow
    const ips = tsharkFields(out, ['ip.src', 'ip.dst']).flat();
    assert.ok(ips.includes(f.server.split(':')[0]!));
  });

  test('unknown flow, bad flow number, missing bundle: one line, a usage error (exit 2)', async () => {
    exportCommand.exitOverride();
    const run = (args: string[]) =>
      exportCommand.parseAsync([analysis, ...args], { from: 'user' }).then(
        () => null,
        (e: unknown) => e,
      );
    const unknown = await run(['--flow', '999', '--out', path.join(tmp, 'x.pcapng')]);
    assert.ok(unknown instanceof UsageError, String(unknown));
    assert.match(unknown.message, /^flow 999: no such flow in .* \(26 flows, ids 0\.\.25\)$/);
    assert.ok(!unknown.message.includes('\n'));
    assert.ok(!fs.existsSync(path.join(tmp, 'x.pcapng')));
    const bad = await run(['--flow', 'abc']);
    assert.ok(bad instanceof Error && 'code' in bad && bad.code === 'commander.invalidArgument');
    const moved = await exportFlow(analysis, 0, { bundle: path.join(tmp, 'nowhere') }).catch(
      (e: unknown) => e,
    );
    assert.ok(moved instanceof UsageError);
    assert.match(moved.message, /^capture bundle .*nowhere not found$/);
  });

  test('unknown flow: the ids named are the lowest and highest, in whatever order analysis.json lists its flows', async () => {
    // analyze writes flows as they end, out of id order
    const dir = path.join(tmp, 'ended-out-of-order');
    fs.mkdirSync(path.join(dir, 'dataset'), { recursive: true });
    const json = JSON.parse(fs.readFileSync(path.join(analysis, 'dataset', 'analysis.json'), 'utf8'));
    json.flows.push(json.flows.shift());
    fs.writeFileSync(path.join(dir, 'dataset', 'analysis.json'), JSON.stringify(json));
    const e = await exportFlow(dir, 999).catch((x: unknown) => x);
    assert.ok(e instanceof UsageError, String(e));
    assert.match(e.message, /\(26 flows, ids 0\.\.25\)$/);
  });

  test('--bundle finds a moved bundle; a changed capture file is refused', async () => {
    const copy = path.join(tmp, 'moved-bundle');
    fs.cpSync(BUNDLE, copy, { recursive: true });
    const f = flows[0]!;
    const s = await sightingsOf(f.id);
    const r = await exportFlow(analysis, f.id, { bundle: copy, out: path.join(tmp, 'moved.pcapng') });
    assert.equal(r.frames, s.length);
    // another capture in place of the one the analysis read: frames differ, the export stops
    const victim = s[0]!.file;
    const other = s.find((x) => x.file !== victim)?.file;
    assert.ok(other);
    fs.copyFileSync(path.join(copy, other), path.join(copy, victim));
    const err = await exportFlow(analysis, f.id, {
      bundle: copy,
      out: path.join(tmp, 'changed.pcapng'),
    }).catch((e: unknown) => e);
    assert.ok(err instanceof UsageError, String(err));
    assert.match(err.message, /changed since/);
  });
});
