import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import {
  allFacts,
  type ClassifyFacts,
  type ClassifyTopology,
  classifyFacts,
  classifyFlow,
  DECISION_TABLE,
  decisionTableMarkdown,
  rowMatches,
} from '../../../analyzers/classify.ts';
import { parseRole, type RoleFlow, resolveRole } from '../../../analyzers/rules/roles.ts';

const ROOT = path.resolve(import.meta.dirname, '../../..');

function f(over: Partial<ClassifyFacts>): ClassifyFacts {
  return { client: 'pod', server: 'pod', via: 'none', node: 'same', eni: 'same', samePod: false, ...over };
}

/** One example per row, in table order: [facts, outcome (scenario key or unclassified reason), scenario]. */
const ROWS: [ClassifyFacts, string, { id: number; rule: string | null } | null][] = [
  [f({ client: 'unknown', eni: 'n/a' }), 'client-unknown', null],
  [f({ server: 'unknown', eni: 'n/a' }), 'server-unknown', null],
  [f({ server: 'outside', eni: 'n/a' }), 'server-outside-cluster', null],
  [f({ via: 'unknown' }), 'destination-unknown', null],
  [f({ node: 'unknown', eni: 'n/a' }), 'node-unknown', null],
  [f({ samePod: true }), 'same-pod', null],
  [f({ samePod: true, via: 'cluster-ip' }), 'hairpin', { id: 5, rule: 'hairpin' }],
  [f({}), 'S2', { id: 2, rule: null }],
  [f({ eni: 'other' }), 'S3', { id: 3, rule: null }],
  [f({ eni: 'unknown' }), 'S1', { id: 1, rule: null }],
  [f({ node: 'other', eni: 'n/a' }), 'S4', { id: 4, rule: null }],
  [f({ via: 'cluster-ip' }), 'S5', { id: 5, rule: null }],
  [f({ via: 'load-balancer', eni: 'other' }), 'S6', { id: 6, rule: 'in-cluster-lb' }],
  [f({ via: 'cluster-ip', eni: 'unknown' }), 'S1', { id: 1, rule: null }],
  [f({ via: 'external-ip', node: 'other', eni: 'n/a' }), 'S7', { id: 7, rule: 'in-cluster-lb' }],
  [f({ via: 'node-port', node: 'other', eni: 'n/a' }), 'pod-to-node-port', null],
  [f({ server: 'host', eni: 'n/a' }), 'pod-to-host', null],
  [f({ client: 'host', eni: 'n/a', via: 'cluster-ip', node: 'other' }), 'host-network', null],
  [f({ client: 'host', eni: 'n/a', via: 'node-port' }), 'host-to-node-port', null],
  [f({ client: 'host', server: 'host', eni: 'n/a' }), 'host-to-host', null],
  [f({ client: 'external', via: 'load-balancer', node: 'n/a', eni: 'n/a' }), 'S8a', { id: 8, rule: '8a' }],
  [f({ client: 'external', via: 'node-port', node: 'other', eni: 'n/a' }), 'S8b', { id: 8, rule: '8b' }],
  [f({ client: 'external', node: 'n/a', eni: 'n/a' }), 'external-to-pod', null],
  [f({ client: 'external', via: 'cluster-ip', node: 'n/a', eni: 'n/a' }), 'external-to-cluster-ip', null],
  [f({ client: 'external', server: 'host', node: 'n/a', eni: 'n/a' }), 'external-to-host', null],
  [f({ eni: 'n/a' }), 'no-row', null],
];

test('the decision table, row by row', () => {
  assert.equal(ROWS.length, DECISION_TABLE.length);
  ROWS.forEach(([facts, outcome, scenario], i) => {
    const c = classifyFacts(facts);
    assert.equal(c.row, i, `row ${i + 1}: ${JSON.stringify(facts)} hit row ${c.row + 1}`);
    assert.equal(c.status === 'classified' ? c.key : c.reason, outcome, `row ${i + 1}`);
    if (c.status === 'classified') assert.deepEqual(c.scenario, scenario, `row ${i + 1}`);
  });
});

test('exactly one outcome per flow, and only the catch-all row takes inconsistent facts', () => {
  const facts = allFacts();
  assert.ok(facts.length > 100);
  for (const x of facts) {
    const c = classifyFacts(x);
    assert.ok(rowMatches(DECISION_TABLE[c.row]!, x));
    assert.notEqual(c.status === 'unclassified' && c.reason, 'no-row', JSON.stringify(x));
  }
});

test('docs/rules.md carries the decision table as the code has it', () => {
  const doc = fs.readFileSync(path.join(ROOT, 'docs/rules.md'), 'utf8');
  assert.ok(doc.includes(decisionTableMarkdown()), 'regenerate with decisionTableMarkdown()');
});

/** A small cluster: node n1 (pods a, b on eth1, c on eth2, h hostNetwork), node n2 (pod d). */
function topo(): ClassifyTopology {
  const pod = (key: string, node: string, eni: string | null, hostNetwork = false) =>
    [key, { key, node, veth: `cali-${key.split('/')[1]}`, eni, hostNetwork }] as const;
  return {
    pods: new Map([
      pod('ns/a', 'n1', 'eth1'),
      pod('ns/b', 'n1', 'eth1'),
      pod('ns/c', 'n1', 'eth2'),
      pod('ns/h', 'n1', null, true),
      pod('ns/d', 'n2', 'eth1'),
    ]),
    nodes: new Map([
      ['n1', { name: 'n1', kernel: '5.10.134', primary: 'eth0' }],
      ['n2', { name: 'n2', kernel: '4.19.91', primary: 'eth0' }],
    ]),
    points: new Map([['node/n1/any', { id: 'node/n1/any', kind: 'any' }]]),
    podByIp: new Map([
      ['10.1.0.1', 'ns/a'],
      ['10.1.0.2', 'ns/b'],
      ['10.1.0.3', 'ns/c'],
      ['10.0.0.1', 'ns/h'],
      ['10.2.0.1', 'ns/d'],
    ]),
    nodeByIp: new Map([
      ['10.0.0.1', 'n1'],
      ['10.0.0.2', 'n2'],
    ]),
    services: [
      {
        key: 'ns/web',
        clusterIps: ['172.16.0.1'],
        externalIps: [],
        loadBalancerIps: ['192.0.2.1'],
        ports: [{ protocol: 'TCP', port: 80, nodePort: 30080 }],
        backends: [{ ip: '10.2.0.1', port: 8080, protocol: 'TCP' }],
      },
    ],
  };
}

function flow(
  client: string,
  server: string,
  port: number,
  entry: string | null,
  service: string | null = null,
) {
  const t = topo();
  const addr = (a: string | null) =>
    a === null ? null : { ip: a.split(':')[0]!, port: Number(a.split(':')[1]) };
  const c = classifyFlow(
    {
      proto: 'tcp',
      client: { ip: client, pod: null, node: null },
      server: { ip: server, port, pod: null, node: null },
      entry: addr(entry),
      service: addr(service),
    },
    t,
  );
  return c.status === 'classified' ? c.key : c.reason;
}

test('facts from flows and the topology', () => {
  assert.equal(flow('10.1.0.1', '10.1.0.2', 80, '10.1.0.2:80'), 'S2');
  assert.equal(flow('10.1.0.1', '10.1.0.3', 80, null), 'S3');
  assert.equal(flow('10.1.0.1', '10.2.0.1', 8080, '172.16.0.1:80'), 'S7');
  assert.equal(flow('10.1.0.1', '10.2.0.1', 8080, '192.0.2.1:80'), 'S7');
  assert.equal(flow('10.1.0.1', '10.1.0.1', 8080, '172.16.0.9:80'), 'destination-unknown');
  // hostNetwork pod and node IP are both host clients; the VIP known from elsewhere picks the Service rule
  assert.equal(flow('10.0.0.1', '10.2.0.1', 8080, '10.2.0.1:8080', '172.16.0.1:80'), 'host-network');
  assert.equal(flow('10.0.0.2', '10.1.0.1', 80, null), 'host-network');
  // external: the SLB's DNAT is outside the bundle; the first sighting tells 8a from 8b
  assert.equal(flow('198.51.100.7', '10.2.0.1', 8080, '10.2.0.1:8080'), 'S8a');
  assert.equal(flow('198.51.100.7', '10.2.0.1', 8080, '10.0.0.2:30080', '192.0.2.1:80'), 'S8b');
  assert.equal(flow('198.51.100.7', '10.1.0.1', 80, null), 'external-to-pod');
  assert.equal(flow('10.1.0.1', '203.0.113.5', 443, null), 'server-outside-cluster');
  const empty = { ...topo(), pods: new Map(), podByIp: new Map() };
  const c = classifyFlow(
    {
      proto: 'tcp',
      client: { ip: '10.1.0.1', pod: null, node: null },
      server: { ip: '10.1.0.2', port: 80, pod: null, node: null },
      entry: null,
      service: null,
    },
    empty,
  );
  assert.equal(c.status === 'unclassified' && c.reason, 'client-unknown');
});

test('roles resolve to capture point ids, or say why not', () => {
  const t = topo();
  const fl: RoleFlow = {
    client: { pod: 'ns/a', node: null },
    server: { pod: 'ns/d', node: 'n2' },
    serviceNode: null,
  };
  const r = (text: string, x: RoleFlow = fl) => {
    const res = resolveRole(parseRole(text)!, x, t);
    return res.status === 'resolved'
      ? `${res.point} ${res.node} ${res.captured} ${res.anyPoint}`
      : res.reason;
  };
  assert.equal(r('client.pod-eth0:out'), 'pod/ns/a/eth0 n1 false node/n1/any');
  assert.equal(r('client.veth:in'), 'node/n1/cali-a n1 false node/n1/any');
  assert.equal(r('server.eni:in'), 'node/n2/eth1 n2 false null');
  assert.equal(r('backend.primary:out'), 'node/n2/eth0 n2 false null');
  assert.equal(r('client.any:out'), 'node/n1/any n1 true node/n1/any');
  assert.equal(r('service.primary:in'), 'no-service-node');
  assert.equal(r('service.primary:in', { ...fl, serviceNode: 'n2' }), 'node/n2/eth0 n2 false null');
  const ext: RoleFlow = {
    client: { pod: null, node: null },
    server: { pod: 'ns/h', node: null },
    serviceNode: null,
  };
  assert.equal(r('client.veth:in', ext), 'not-a-pod');
  assert.equal(r('client.primary:in', ext), 'node-unknown');
  assert.equal(r('backend.veth:out', ext), 'not-a-pod');
  assert.equal(r('backend.primary:in', ext), 'node/n1/eth0 n1 false node/n1/any');
  assert.equal(r('server.eni:in', { ...fl, server: { pod: 'ns/x', node: 'n2' } }), 'pod-unknown');
  assert.equal(parseRole('backend.pod-eht0:in'), null);
  assert.equal(parseRole('server.veth:out')?.text, 'backend.veth:out');
});
