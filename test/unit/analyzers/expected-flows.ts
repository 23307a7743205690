/**
 * Compares flows found by hoptrace with a lab `expected.json`: for every expected flow, the flow with
 * the same protocol and client endpoint must have the same service, server and the exact request and
 * reply paths (capture point and direction, in order). Returns one line per difference.
 */
import fs from 'node:fs';
import type { Flow, PathHop } from '../../../analyzers/flows.ts';

interface ExpectedHop {
  point: string;
  dir: string;
}
interface ExpectedFlow {
  id: string;
  proto: string;
  client: { ip: string; port: number };
  service: { ip: string; port: number } | null;
  server: { ip: string; port: number };
  request: { path: ExpectedHop[] };
  reply: { path: ExpectedHop[] } | null;
}

const PROTO: Record<string, number[]> = { tcp: [6], udp: [17], icmp: [1, 58] };
const pathText = (p: readonly { point: string; dir: string }[]) =>
  p.map((h) => `${h.point}:${h.dir}`).join(' > ');

export function expectedFlows(file: string): ExpectedFlow[] {
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { flows: ExpectedFlow[] }).flows;
}

export function compareFlows(
  expected: ExpectedFlow[],
  flows: Flow[],
): { matched: number; problems: string[] } {
  const problems: string[] = [];
  let matched = 0;
  for (const e of expected) {
    const found = flows.filter(
      (f) =>
        PROTO[e.proto]?.includes(f.proto) && f.client.ip === e.client.ip && f.client.port === e.client.port,
    );
    if (found.length !== 1) {
      problems.push(`${e.id}: ${found.length} flows for client ${e.client.ip}:${e.client.port}`);
      continue;
    }
    const f = found[0]!;
    const diffs: string[] = [];
    const svc = f.service ? `${f.service.ip}:${f.service.port}` : 'none';
    const esvc = e.service ? `${e.service.ip}:${e.service.port}` : 'none';
    if (svc !== esvc) diffs.push(`service ${svc} != ${esvc}`);
    if (`${f.server.ip}:${f.server.port}` !== `${e.server.ip}:${e.server.port}`)
      diffs.push(`server ${f.server.ip}:${f.server.port} != ${e.server.ip}:${e.server.port}`);
    const req = pathText(f.requestPath as PathHop[]);
    if (req !== pathText(e.request.path))
      diffs.push(`request\n    got  ${req}\n    want ${pathText(e.request.path)}`);
    const rep = pathText(f.replyPath as PathHop[]);
    const erep = pathText(e.reply?.path ?? []);
    if (rep !== erep) diffs.push(`reply\n    got  ${rep}\n    want ${erep}`);
    if (diffs.length > 0) problems.push(`${e.id}: ${diffs.join('; ')}`);
    else matched++;
  }
  return { matched, problems };
}
