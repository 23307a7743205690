/**
 * Stand-in verdicts (DESIGN §8 shape) made from the lab's expected.json files, until the evaluator
 * (issue 6) exists, so the report's verdict views (bypassed lanes, unexpected hops, failing checks) are
 * tested on real flows. For a fixture judged against DataPath V2: a hop on the recorded path that the
 * `datapathv2` recording of the same flow does not cross is `unexpected` (the flow fails); a hop the
 * `kernel` recording crosses and this one does not is `skipped` (what the fast path bypassed).
 * This is the lab's knowledge, not rules: only the report's rendering is under test.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { PointRef, VerdictFlow, Verdicts } from '../../reports/read-verdicts.ts';
import type { InputFlow, ReportInput } from '../../reports/report-input.ts';

interface ExpectedHop {
  point: string;
  dir: 'in' | 'out';
}
interface ExpectedFlow {
  id: string;
  scenario: number;
  rule: string | null;
  proto: string;
  client: { ip: string; port: number };
  datapath: string;
  request: { path: ExpectedHop[] };
  reply: { path: ExpectedHop[] };
}
interface Expected {
  flows: ExpectedFlow[];
  kernels: Record<string, string>;
}

const fixtures = path.resolve(import.meta.dirname, '..', '..', 'fixtures');
export const readExpected = (mode: string): Expected =>
  JSON.parse(fs.readFileSync(path.join(fixtures, mode, 'expected.json'), 'utf8')) as Expected;

const PROTO: Record<string, number> = { tcp: 6, udp: 17, icmp: 1, icmpv6: 58 };

function minus(a: ExpectedHop[], b: ExpectedHop[], leg: 'request' | 'reply'): PointRef[] {
  const key = (h: ExpectedHop) => `${h.point}|${h.dir}`;
  const other = new Set(b.map(key));
  return a.filter((h) => !other.has(key(h))).map((h) => ({ point: h.point, dir: h.dir, leg }));
}

function evidenceFor(f: InputFlow, refs: PointRef[]) {
  return f.ladder.flatMap((p) =>
    p.sightings
      .filter((s) => refs.some((r) => r.point === s.point && r.dir === s.dir && r.leg === p.leg))
      .map((s) => ({ point: s.point, file: s.file, frame: s.frame })),
  );
}

export function stubVerdicts(input: ReportInput, mode: string): Verdicts {
  const expected = readExpected(mode);
  const v2 = new Map(readExpected('datapathv2').flows.map((f) => [f.id, f]));
  const kernel = new Map(readExpected('kernel').flows.map((f) => [f.id, f]));
  const byClient = new Map(
    expected.flows.map((f) => [`${PROTO[f.proto]}|${f.client.ip}|${f.client.port}`, f]),
  );
  const flows: VerdictFlow[] = [];
  for (const f of input.flows) {
    const e = byClient.get(`${f.proto}|${f.client.ip}|${f.client.port}`);
    if (!e) continue;
    const good = v2.get(e.id) ?? e;
    const slow = kernel.get(e.id) ?? e;
    const unexpected = [
      ...minus(e.request.path, good.request.path, 'request'),
      ...minus(e.reply.path, good.reply.path, 'reply'),
    ];
    const skipped = [
      ...minus(slow.request.path, e.request.path, 'request'),
      ...minus(slow.reply.path, e.reply.path, 'reply'),
    ];
    const fail = unexpected.length > 0;
    const svc = f.service;
    flows.push({
      flow_id: f.id,
      proto: e.proto,
      client: f.client,
      service: svc ? { ip: svc.ip, port: svc.port, name: svc.name } : null,
      server: f.server,
      scenario: { id: e.scenario, rule: e.rule },
      datapath:
        e.datapath === 'ebpf' || e.datapath === 'kernel' || e.datapath === 'mixed' ? e.datapath : 'unknown',
      request_path: e.request.path.map((h) => h.point),
      reply_path: e.reply.path.map((h) => h.point),
      skipped,
      unexpected,
      not_captured: [],
      service_rewrite: svc
        ? {
            status: 'at-source',
            before: `${svc.ip}:${svc.port}`,
            after: `${f.server.ip}:${f.server.port}`,
            between: [e.request.path[1]?.point ?? '?', e.request.path[2]?.point ?? '?'],
            reverse: { status: 'at-source', before: null, after: null, between: null },
          }
        : null,
      status: fail ? 'fail' : 'pass',
      reason: fail ? 'seen-on-skipped-point' : null,
      checks: [
        {
          name: 'request.path',
          status: unexpected.some((u) => u.leg === 'request') ? 'fail' : 'pass',
          reason: unexpected.some((u) => u.leg === 'request') ? 'seen-on-skipped-point' : null,
          message: unexpected
            .filter((u) => u.leg === 'request')
            .map(
              (u) =>
                `request was seen at ${u.point} (${u.dir}): the kernel path was taken; under DataPath V2 on kernel 5.10+ this hop is bypassed with bpf_redirect_peer`,
            )
            .join('; '),
          evidence: evidenceFor(
            f,
            unexpected.filter((u) => u.leg === 'request'),
          ),
        },
        {
          name: 'reply.path',
          status: unexpected.some((u) => u.leg === 'reply') ? 'fail' : 'pass',
          reason: unexpected.some((u) => u.leg === 'reply') ? 'seen-on-skipped-point' : null,
          message: unexpected
            .filter((u) => u.leg === 'reply')
            .map((u) => `reply was seen at ${u.point} (${u.dir}): not on the DataPath V2 path`)
            .join('; '),
          evidence: evidenceFor(
            f,
            unexpected.filter((u) => u.leg === 'reply'),
          ),
        },
      ],
    });
  }
  // the node-wide answer: what most flows show (NodePort flows take the stack in every mode)
  const kernelFlows = flows.filter((f) => f.datapath === 'kernel').length;
  const observed = kernelFlows * 2 > flows.length ? 'kernel' : 'datapathv2';
  return {
    schema_version: 1,
    flows,
    nodes: input.nodes.map((n) => ({ node: n.name, kernel: n.kernel, claimed: n.claimed, observed })),
    clock_offsets: input.clockOffsets.map((o) => ({
      node: o.node,
      offset_ns: o.offsetNs,
      error_ns: o.errorNs,
    })),
    captures: [],
    warnings: [],
  };
}
