/**
 * The lab's flows against the classifier and the rule sets: every flow of every fixture's expected.json
 * (written from the lab's own hop model, lab/expected.ts, never from these rules) gets the lab's scenario,
 * and the rule it selects predicts the lab's path, TTLs, skipped points and rewrite places exactly, except on
 * the legs the lab marks as visibly changed by a fault (`fault_visible: true`), where it must disagree.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import {
  type ClassifyTopology,
  classifyFlow,
  type ScenarioKey,
  serviceNodeOf,
} from '../../../analyzers/classify.ts';
import {
  effectiveLeg,
  loadRulePaths,
  parseKernelVersion,
  type Rule,
  type RuleLeg,
  ruleMatches,
} from '../../../analyzers/rules/load-rules.ts';
import { type RoleFlow, type RolePod, resolveRole } from '../../../analyzers/rules/roles.ts';
import type { ExpectedFile, ExpectedFlow, ExpectedLeg } from '../../../lab/expected.ts';
import { labPlan, SERVICE_LOOPBACK4 } from '../../../lab/plan.ts';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const FIXTURES = path.join(ROOT, 'fixtures');

function fixtures(): { mode: string; expected: ExpectedFile }[] {
  if (!fs.existsSync(FIXTURES)) return [];
  return fs
    .readdirSync(FIXTURES)
    .sort()
    .filter((m) => fs.existsSync(path.join(FIXTURES, m, 'expected.json')))
    .map((mode) => ({
      mode,
      expected: JSON.parse(
        fs.readFileSync(path.join(FIXTURES, mode, 'expected.json'), 'utf8'),
      ) as ExpectedFile,
    }));
}

/** The lab plan as the topology importers would see it (lab/plan.ts is the lab's single source of names). */
function labTopology(kernels: Record<string, string>, opts: { enis: boolean }): ClassifyTopology {
  const plan = labPlan();
  const pods = new Map<string, RolePod>();
  const podByIp = new Map<string, string>();
  for (const p of plan.pods) {
    const key = `${p.namespace}/${p.name}`;
    pods.set(key, { key, node: p.node, veth: p.cali, eni: opts.enis ? p.eni : null, hostNetwork: false });
    podByIp.set(p.ip4, key);
    if (p.ip6) podByIp.set(p.ip6, key);
  }
  const nodes = new Map(
    plan.nodes.map((n) => [n.name, { name: n.name, kernel: kernels[n.name] ?? null, primary: 'eth0' }]),
  );
  const nodeByIp = new Map(plan.nodes.flatMap((n) => [[n.ip4, n.name] as const, [n.ip6, n.name] as const]));
  const ip = (pod: string) => plan.pods.find((p) => p.name === pod)!.ip4;
  const clusterIp = (svc: typeof plan.service) => ({
    key: `${svc.namespace}/${svc.name}`,
    clusterIps: [svc.clusterIp],
    externalIps: [],
    loadBalancerIps: [],
    ports: svc.ports.map((p) => ({ protocol: p.proto.toUpperCase(), port: p.port, nodePort: null })),
    backends: svc.backends.flatMap((b) =>
      svc.ports.map((p) => ({ ip: ip(b), port: p.targetPort, protocol: p.proto.toUpperCase() })),
    ),
  });
  const { lb, nodePortLb: ecs } = plan;
  return {
    pods,
    nodes,
    points: new Map(),
    podByIp,
    nodeByIp,
    services: [
      clusterIp(plan.service),
      clusterIp(plan.selfService),
      {
        key: `${lb.namespace}/${lb.name}`,
        clusterIps: [],
        externalIps: [],
        loadBalancerIps: [lb.ip],
        ports: ['TCP', 'UDP'].map((protocol) => ({ protocol, port: lb.port, nodePort: null })),
        backends: ['TCP', 'UDP'].map((protocol) => ({ ip: ip(lb.backend), port: lb.targetPort, protocol })),
      },
      {
        key: `${ecs.namespace}/${ecs.name}`,
        clusterIps: [],
        externalIps: [],
        loadBalancerIps: [ecs.ip],
        ports: (['tcp', 'udp'] as const).map((p) => ({
          protocol: p.toUpperCase(),
          port: ecs.port,
          nodePort: ecs.nodePorts[p],
        })),
        backends: ['TCP', 'UDP'].map((protocol) => ({ ip: ip(ecs.backend), port: ecs.targetPort, protocol })),
      },
    ],
  };
}

/** What the flows analyzer knows: the addresses of the request's first sighting, and optionally the Service. */
function flowInput(f: ExpectedFlow, withService = true) {
  const first = f.request.path[0]!.dst;
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(first);
  return {
    proto: f.proto,
    client: { ip: f.client.ip, pod: f.client.pod, node: f.client.node },
    server: { ip: f.server.ip, port: f.server.port, pod: f.server.pod, node: f.server.node },
    entry: m ? { ip: m[1]!, port: Number(m[2]) } : { ip: first, port: 0 },
    service: withService && f.service ? { ip: f.service.ip, port: f.service.port } : null,
  };
}

function labKey(f: ExpectedFlow): ScenarioKey {
  if (f.rule === 'hairpin') return 'hairpin';
  return (f.rule === '8a' || f.rule === '8b' ? `S${f.rule}` : `S${f.scenario}`) as ScenarioKey;
}

const all = fixtures();

test('fixtures are present', () => {
  assert.ok(all.length >= 5, `fixtures found: ${all.map((f) => f.mode).join(', ')}`);
});

test('every lab flow is classified to the scenario the lab says', () => {
  for (const { mode, expected } of all) {
    const topo = labTopology(expected.kernels, { enis: true });
    for (const f of expected.flows) {
      const c = classifyFlow(flowInput(f), topo);
      assert.equal(c.status === 'classified' ? c.key : c.reason, labKey(f), `${mode} ${f.id}`);
      if (c.status === 'classified') assert.deepEqual(c.scenario, { id: f.scenario, rule: f.rule });
      // from the bundle alone (no Service name): 8a/8b still tell apart by the first sighting
      const seen = classifyFlow(flowInput(f, false), topo);
      assert.equal(
        seen.status === 'classified' ? seen.key : seen.reason,
        labKey(f),
        `${mode} ${f.id} bundle only`,
      );
    }
  }
});

test('without ENI data, same-node flows are scenario 1 (lab/flows.ts: "an analyzer ... would call them 1")', () => {
  for (const { expected } of all.slice(0, 1)) {
    const topo = labTopology(expected.kernels, { enis: false });
    for (const f of expected.flows) {
      const c = classifyFlow(flowInput(f), topo);
      const want = [2, 3, 5, 6].includes(f.scenario) && f.rule !== 'hairpin' ? 'S1' : labKey(f);
      assert.equal(c.status === 'classified' ? c.key : c.reason, want, f.id);
    }
  }
});

function addr(ip: string, port: number, proto: string): string {
  if (proto === 'icmp') return ip;
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** What the rule predicts for one leg, compared with what the lab wrote; one string per disagreement. */
function compareLeg(
  leg: RuleLeg,
  lab: ExpectedLeg,
  f: ExpectedFlow,
  kernels: Record<string, string>,
): string[] {
  const topo = labTopology(kernels, { enis: true });
  const c = classifyFlow(flowInput(f), topo);
  const flow: RoleFlow = {
    client: { pod: f.client.pod, node: f.client.node },
    server: { pod: f.server.pod, node: f.server.node },
    serviceNode: serviceNodeOf(flowInput(f), c.facts, topo),
  };
  const nodeOf = (e: string) =>
    e === 'client' ? f.client.node : e === 'backend' ? f.server.node : flow.serviceNode;
  const eff = effectiveLeg(leg, (e) => parseKernelVersion(kernels[nodeOf(e) ?? ''] ?? null));
  const pointOf = (role: Parameters<typeof resolveRole>[0]) => {
    const r = resolveRole(role, flow, topo);
    return r.status === 'resolved' ? `${r.point}:${role.dir}` : `unresolved(${r.reason})`;
  };
  const out: string[] = [];
  const predicted = eff.path.map((h) => pointOf(h.role));
  const seen = lab.path.map((h) => `${h.point}:${h.dir}`);
  if (predicted.join(' ') !== seen.join(' ')) {
    out.push(`path: rule ${predicted.join(' ')} / lab ${seen.join(' ')}`);
    return out;
  }
  let ttl = lab.path[0]!.ttl;
  eff.path.forEach((h, i) => {
    if (i > 0 && h.ttlDecrement !== null) ttl -= h.ttlDecrement;
    if (i > 0 && h.ttlDecrement !== null && ttl !== lab.path[i]!.ttl)
      out.push(`ttl at ${seen[i]}: rule ${ttl} / lab ${lab.path[i]!.ttl}`);
    ttl = lab.path[i]!.ttl;
  });
  const silent = new Set(lab.not_seen.map((n) => `${n.point}:${n.dir}`));
  for (const s of eff.skipped)
    if (!silent.has(pointOf(s.role))) out.push(`skipped ${pointOf(s.role)} not silent in the lab`);
  const entry = flowInput(f).entry;
  const nodeIps = new Set(labPlan().nodes.flatMap((n) => [n.ip4, n.ip6]));
  const ipOf = (a: string) => a.replace(/^\[?([^\]]*?)\]?:[^:]*$/, '$1');
  const matches = (name: string, shown: string): boolean => {
    switch (name) {
      case 'client':
        return shown === addr(f.client.ip, f.client.port, f.proto);
      case 'backend':
        return shown === addr(f.server.ip, f.server.port, f.proto);
      case 'service':
        return f.service !== null && shown === addr(f.service.ip, f.service.port, f.proto);
      case 'node-port':
        return shown === addr(entry.ip, entry.port, f.proto);
      case 'node-ip': // MASQUERADE --random-fully: the lab writes the port as '*'
        return nodeIps.has(ipOf(shown));
      case 'service-loopback':
        return ipOf(shown) === SERVICE_LOOPBACK4;
      default:
        return false;
    }
  };
  for (const rw of leg.rewrites) {
    if (!rw.between) continue;
    const [a, b] = rw.between.map((r) => seen.indexOf(pointOf(r))) as [number, number];
    const before = lab.path[a]![rw.field];
    const after = lab.path[b]![rw.field];
    if (!matches(rw.from, before)) out.push(`${rw.kind}: ${seen[a]} shows ${before}, not ${rw.from}`);
    if (!matches(rw.to, after)) out.push(`${rw.kind}: ${seen[b]} shows ${after}, not ${rw.to}`);
    // "no later sighting shows the VIP" (reference "decisions"), and nothing after it shows `from` again
    for (const h of lab.path.slice(b + 1))
      if (matches(rw.from, h[rw.field]) && !matches(rw.to, h[rw.field]))
        out.push(`${rw.kind}: ${h.point}:${h.dir} shows ${rw.from} again`);
  }
  return out;
}

test('rule paths, TTLs, skipped points and rewrites agree with the lab, except where a fault shows', () => {
  const sets = new Map<string, Rule[]>();
  for (const r of loadRulePaths([path.join(ROOT, 'rules')]).rules)
    sets.set(r.set, [...(sets.get(r.set) ?? []), r]);
  const report: string[] = [];
  for (const { mode, expected } of all) {
    const set = expected.datapath === 'kernel' ? 'kernel-routing' : 'terway-v2';
    const topo = labTopology(expected.kernels, { enis: true });
    for (const f of expected.flows) {
      const c = classifyFlow(flowInput(f), topo);
      assert.equal(c.status, 'classified');
      if (c.status !== 'classified') continue;
      const rules = sets.get(set)!.filter((r) => ruleMatches(r, c.key, c.facts));
      assert.equal(rules.length, 1, `${mode} ${f.id}: ${rules.map((r) => r.id).join(', ')}`);
      const rule = rules[0]!;
      for (const legName of ['request', 'reply'] as const) {
        const lab = f[legName];
        const diff = compareLeg(rule[legName], lab, f, expected.kernels);
        const where = `${mode} ${f.id} ${legName} (${set}/${rule.id})`;
        if (lab.fault_visible === true) assert.notDeepEqual(diff, [], `${where}: the fault should show`);
        else assert.deepEqual(diff, [], where);
        if (diff.length > 0) report.push(`${where}: ${diff[0]}`);
      }
    }
  }
  // the disagreements are exactly the faults' visible legs
  const faulty = new Set(all.filter((x) => x.expected.faults.length > 0).map((x) => x.mode));
  for (const line of report) assert.ok(faulty.has(line.split(' ')[0]!), line);
  if (process.env['HOPTRACE_PRINT_DISAGREEMENTS']) process.stdout.write(`${report.join('\n')}\n`);
});

test('the kernel fixture judged by the DataPath V2 rules: every flow but the host-stack ones disagrees', () => {
  const rules = loadRulePaths([path.join(ROOT, 'rules/terway-v2')]).rules;
  const kernel = all.find((x) => x.mode === 'kernel');
  assert.ok(kernel);
  const agree: string[] = [];
  for (const f of kernel.expected.flows) {
    const topo = labTopology(kernel.expected.kernels, { enis: true });
    const c = classifyFlow(flowInput(f), topo);
    if (c.status !== 'classified') continue;
    const rule = rules.find((r) => ruleMatches(r, c.key, c.facts))!;
    const diffs = (['request', 'reply'] as const).flatMap((l) =>
      compareLeg(rule[l], f[l], f, kernel.expected.kernels),
    );
    if (diffs.length === 0) agree.push(f.id);
  }
  // S8b is kube-proxy in the host stack under both datapaths (reference §2 S8 (b)): same path either way
  assert.deepEqual(agree, ['s8b-tcp', 's8b-udp']);
});
