import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { DirCode, directionResolverFor } from '../../../analyzers/topology/direction.ts';
import { ipFactsFromJson, nodeNetFromIp } from '../../../analyzers/topology/ip-json.ts';
import { canonicalIp, ip6Text, macKeyFromText, parseIp6 } from '../../../analyzers/topology/ip-text.ts';
import { k8sFromJson } from '../../../analyzers/topology/k8s-json.ts';
import { ClaimedDatapath, PointKind } from '../../../analyzers/topology/model.ts';
import {
  capabilitiesFromText,
  kernelFromUname,
  kernelVersion,
} from '../../../analyzers/topology/node-capabilities.ts';
import { MappingFormat, terwayMappingFromText } from '../../../analyzers/topology/terway-mapping.ts';
import { topologyFromBundle } from '../../../analyzers/topology/topology-from-bundle.ts';
import { terwayVethName } from '../../../analyzers/topology/topology-from-sources.ts';
import { labBundles, requireBundles } from './lab-bundle.ts';

const NS = `ht-an-topo-${process.pid}`;

function netnsPrerequisite(): string | null {
  if (process.getuid?.() !== 0) return 'needs root for a network namespace';
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    return 'ip (iproute2) not installed';
  }
  return null;
}

const netnsWhy = netnsPrerequisite();
if (netnsWhy !== null && process.env['CI'] === 'true')
  throw new Error(`topology test prerequisite missing in CI: ${netnsWhy}`);

const inNs = (...args: string[]): string =>
  execFileSync('ip', ['netns', 'exec', NS, 'ip', ...args], { encoding: 'utf8' });

describe('ip -j importer on real iproute2 output', { skip: netnsWhy ?? false }, () => {
  const pod = '10.9.0.5';
  const pod6 = 'fd00:9::5';
  const veth = terwayVethName('default', 'web-1');
  before(() => {
    execFileSync('ip', ['netns', 'add', NS]);
    const cmds = [
      ['link', 'set', 'lo', 'up'],
      // veth pairs stand in for NICs: this kernel may lack the dummy driver, and the lab uses veths too
      ['link', 'add', 'eth0', 'address', '00:16:3e:09:00:00', 'type', 'veth', 'peer', 'name', 'vpc0'],
      ['link', 'add', 'eth1', 'address', '00:16:3e:09:00:01', 'type', 'veth', 'peer', 'name', 'vpc1'],
      ['link', 'add', veth, 'address', '02:ca:11:09:00:05', 'type', 'veth', 'peer', 'name', 'peer0'],
      ['link', 'set', 'eth0', 'up'],
      ['link', 'set', 'eth1', 'up'],
      ['link', 'set', veth, 'up'],
      ['link', 'set', 'peer0', 'up'],
      ['addr', 'add', '10.9.0.10/24', 'dev', 'eth0'],
      ['addr', 'add', '10.9.0.10/32', 'dev', 'eth1'],
      ['-6', 'addr', 'add', 'fd00:9::10/128', 'dev', 'eth0', 'nodad'],
      ['route', 'add', 'default', 'via', '10.9.0.253', 'dev', 'eth0', 'onlink'],
      ['route', 'add', 'default', 'via', '10.9.0.253', 'dev', 'eth1', 'onlink', 'table', '1003'],
      ['-6', 'route', 'add', 'default', 'via', 'fd00:9::fffd', 'dev', 'eth1', 'onlink', 'table', '1003'],
      ['route', 'add', pod, 'dev', veth, 'scope', 'link'],
      ['-6', 'route', 'add', pod6, 'dev', veth],
      ['rule', 'add', 'to', pod, 'lookup', 'main', 'priority', '512'],
      ['rule', 'add', 'from', pod, 'lookup', '1003', 'priority', '2048'],
      ['-6', 'rule', 'add', 'from', pod6, 'lookup', '1003', 'priority', '2048'],
      ['neigh', 'add', '10.9.0.253', 'lladdr', 'ee:ff:ff:ff:ff:ff', 'dev', 'eth1', 'nud', 'permanent'],
      ['neigh', 'add', '10.9.0.253', 'lladdr', 'ee:ff:ff:ff:ff:ff', 'dev', 'eth0', 'nud', 'permanent'],
      ['neigh', 'add', pod, 'lladdr', '02:00:00:09:00:05', 'dev', veth, 'nud', 'permanent'],
    ];
    for (const c of cmds) inNs(...c);
  });
  after(() => {
    execFileSync('ip', ['netns', 'del', NS], { stdio: 'ignore' });
  });

  test('pod veth, pod ENI, primary, node IPs, gateway MAC', () => {
    const docs = {
      link: JSON.parse(inNs('-j', '-d', 'link', 'show')) as unknown,
      addr: JSON.parse(inNs('-j', 'addr', 'show')) as unknown,
      route: JSON.parse(inNs('-j', 'route', 'show', 'table', 'all')) as unknown,
      route6: JSON.parse(inNs('-j', '-6', 'route', 'show', 'table', 'all')) as unknown,
      rule: JSON.parse(inNs('-j', 'rule', 'show')) as unknown,
      rule6: JSON.parse(inNs('-j', '-6', 'rule', 'show')) as unknown,
      neigh: JSON.parse(inNs('-j', 'neigh', 'show')) as unknown,
    };
    const facts = ipFactsFromJson('n9', docs);
    const net = nodeNetFromIp('n9', facts, 'nodes/n9/ip/');
    assert.deepEqual(net.warnings, []);
    assert.equal(net.podVeth.get(pod), veth);
    assert.equal(net.podVeth.get(pod6), veth);
    assert.equal(net.podEni.get(pod), 'eth1');
    assert.equal(net.podEni.get(pod6), 'eth1');
    assert.equal(net.primary, 'eth0');
    assert.equal(net.podMacByVeth.get(veth), '02:00:00:09:00:05');
    assert.deepEqual(net.gatewayMacs, ['ee:ff:ff:ff:ff:ff']);
    const eni = net.enis.find((e) => e.iface === 'eth1');
    assert.equal(eni?.table, '1003');
    assert.equal(eni?.mac, '00:16:3e:09:00:01');
    assert.deepEqual(eni?.podIps.sort(), [pod, pod6].sort());
    assert.ok(net.nodeIps.includes('10.9.0.10') && net.nodeIps.includes('fd00:9::10'));
    assert.equal(facts.interfaces.find((i) => i.name === veth)?.linkKind, 'veth');
  });

  test('a pod IP whose rules point at two ENIs is a warning, the first kept', () => {
    inNs('link', 'add', 'eth2', 'type', 'veth', 'peer', 'name', 'vpc2');
    inNs('link', 'set', 'eth2', 'up');
    inNs('route', 'add', 'default', 'via', '10.9.0.253', 'dev', 'eth2', 'onlink', 'table', '1004');
    inNs('rule', 'add', 'from', pod, 'lookup', '1004', 'priority', '2049');
    const facts = ipFactsFromJson('n9', {
      route: JSON.parse(inNs('-j', 'route', 'show', 'table', 'all')) as unknown,
      rule: JSON.parse(inNs('-j', 'rule', 'show')) as unknown,
    });
    const net = nodeNetFromIp('n9', facts, 'nodes/n9/ip/');
    assert.equal(net.podEni.get(pod), 'eth1');
    assert.deepEqual(
      net.warnings.map((w) => w.code),
      ['topology.pod-ip-on-two-enis'],
    );
  });
});

describe('kubectl get -o json Lists', () => {
  const list = (items: unknown[]) => ({
    apiVersion: 'v1',
    items,
    kind: 'List',
    metadata: { resourceVersion: '' },
  });
  test('pods, services with named targetPort, endpointslices, nodes', () => {
    const facts = k8sFromJson({
      pods: list([
        {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'web-1', namespace: 'shop', uid: 'u1' },
          spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'x' }] },
          status: {
            phase: 'Running',
            podIP: '10.0.1.5',
            podIPs: [{ ip: '10.0.1.5' }, { ip: 'FD00:10:1:0::5' }],
          },
        },
        {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'agent', namespace: 'kube-system' },
          spec: { nodeName: 'n1', hostNetwork: true },
          status: { podIP: '10.0.1.10', podIPs: [{ ip: '10.0.1.10' }] },
        },
      ]),
      services: list([
        {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name: 'web', namespace: 'shop' },
          spec: {
            type: 'LoadBalancer',
            clusterIP: '172.21.0.10',
            clusterIPs: ['172.21.0.10'],
            externalIPs: ['203.0.113.9'],
            ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 'web', nodePort: 30080 }],
          },
          status: { loadBalancer: { ingress: [{ ip: '192.168.100.10', ipMode: 'VIP' }] } },
        },
      ]),
      endpointslices: {
        apiVersion: 'v1',
        kind: 'List',
        metadata: { resourceVersion: '' },
        items: [
          {
            addressType: 'IPv4',
            apiVersion: 'discovery.k8s.io/v1',
            endpoints: [
              {
                addresses: ['10.0.1.5'],
                conditions: { ready: true },
                nodeName: 'n1',
                targetRef: { kind: 'Pod', name: 'web-1', namespace: 'shop' },
              },
            ],
            kind: 'EndpointSlice',
            metadata: { labels: { 'kubernetes.io/service-name': 'web' }, name: 'web-abc', namespace: 'shop' },
            ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
          },
        ],
      },
      nodes: list([
        {
          kind: 'Node',
          metadata: { name: 'n1' },
          status: {
            addresses: [
              { type: 'InternalIP', address: '10.0.1.10' },
              { type: 'Hostname', address: 'n1' },
            ],
          },
        },
      ]),
    });
    assert.deepEqual(facts.pods[0], {
      namespace: 'shop',
      name: 'web-1',
      node: 'n1',
      ips: ['10.0.1.5', 'fd00:10:1::5'],
      hostNetwork: false,
    });
    assert.equal(facts.pods[1]?.hostNetwork, true);
    const svc = facts.services[0]!;
    assert.deepEqual(svc.clusterIps, ['172.21.0.10']);
    assert.deepEqual(svc.externalIps, ['203.0.113.9']);
    assert.deepEqual(svc.loadBalancerIps, ['192.168.100.10']);
    assert.deepEqual(svc.ports, [
      { name: 'http', protocol: 'TCP', port: 80, targetPort: 8080, nodePort: 30080 },
    ]);
    assert.deepEqual(svc.backends, [
      {
        ip: '10.0.1.5',
        port: 8080,
        protocol: 'TCP',
        portName: 'http',
        pod: 'shop/web-1',
        node: 'n1',
        ready: true,
      },
    ]);
    assert.deepEqual(facts.nodes, [{ name: 'n1', ips: ['10.0.1.10'] }]);
  });
});

describe('terway-cli mapping, three formats with ANSI colour codes', () => {
  const y = (s: string) => `\x1b[93m${s}\x1b[0m`;
  test('v1.17+ tree', () => {
    const text = [
      `ENI: ${y('eni-bp1aaaa')}`,
      `├─MAC: ${y('00:16:3E:0A:BB:CC')}`,
      `├─Status: ${y('InUse')}`,
      `├─Type: ${y('secondary')}`,
      '├─InhibitExpireAt: 0001-01-01 00:00:00 +0000 UTC',
      '└─┬IPs',
      `  ├──${y('10.0.1.23')}  ${y('default/nginx-7f9c5')}  ${y('Valid')}`,
      `  └──${y('10.0.1.22')}    ${y('Valid')}`,
      'Resource DB (1 entries)',
      '└──default/nginx-7f9c5 -> eni-bp1aaaa 10.0.1.23,fd00::17',
      '',
    ].join('\n');
    const m = terwayMappingFromText(text);
    assert.equal(m.format, MappingFormat.tree);
    assert.deepEqual(m.unparsed, []);
    assert.deepEqual(m.enis, [
      {
        eniId: 'eni-bp1aaaa',
        mac: '00:16:3e:0a:bb:cc',
        status: 'InUse',
        type: 'secondary',
        ips: [
          { ip: '10.0.1.23', pod: 'default/nginx-7f9c5', status: 'Valid' },
          { ip: '10.0.1.22', pod: null, status: 'Valid' },
        ],
      },
    ]);
    assert.deepEqual(m.resources, [
      { pod: 'default/nginx-7f9c5', eniId: 'eni-bp1aaaa', ips: ['10.0.1.23', 'fd00::17'] },
    ]);
  });

  test('v1.7-v1.16 bullet list', () => {
    const text = [
      `\x1b[1m•\x1b[0m slot 0`,
      `  - ${y('eni-bp1aaaa')}`,
      `  - ${y('00:16:3e:0a:bb:cc')}`,
      `  - ${y('InUse')}`,
      '  - Type secondary',
      '  - InhibitExpireAt 0001-01-01 00:00:00 +0000 UTC',
      `    • ${y('10.0.1.23')}  default/nginx-7f9c5  Valid`,
    ].join('\n');
    const m = terwayMappingFromText(text);
    assert.equal(m.format, MappingFormat.bullets);
    assert.deepEqual(m.unparsed, []);
    assert.deepEqual(m.enis[0], {
      eniId: 'eni-bp1aaaa',
      mac: '00:16:3e:0a:bb:cc',
      status: 'InUse',
      type: 'secondary',
      ips: [{ ip: '10.0.1.23', pod: 'default/nginx-7f9c5', status: 'Valid' }],
    });
  });

  test('<=v1.6 table', () => {
    const text = [
      'Status | Pod Name                    | Res ID                          | Factory Res ID',
      '\x1b[0mNormal | node-problem-detector-l5h52 | 00:16:10:48:3e:37.10.244.18.167 | 00:16:10:48:3e:37.10.244.18.167\x1b[0m',
      '\x1b[0;34mIdle   |                             | 00:16:10:48:3e:37.10.244.18.132 | 00:16:10:48:3e:37.10.244.18.132\x1b[0m',
    ].join('\n');
    const m = terwayMappingFromText(text);
    assert.equal(m.format, MappingFormat.table);
    assert.deepEqual(m.unparsed, []);
    assert.deepEqual(m.enis, [
      {
        eniId: null,
        mac: '00:16:10:48:3e:37',
        status: null,
        type: null,
        ips: [
          { ip: '10.244.18.167', pod: 'node-problem-detector-l5h52', status: 'Normal' },
          { ip: '10.244.18.132', pod: null, status: 'Idle' },
        ],
      },
    ]);
  });

  test('unknown text is kept as unparsed', () => {
    const m = terwayMappingFromText('error while dialing to daemon\n');
    assert.equal(m.format, MappingFormat.unknown);
    assert.equal(m.unparsed.length, 1);
  });
});

describe('node_capabilities, uname, addresses', () => {
  test('INI keys and the claimed datapath', () => {
    const c = capabilitiesFromText(
      'datapath = datapathv2\nhas_cilium_chainer = true\n# comment\nkube_proxy_replacement=false\n',
    );
    assert.equal(c.datapath, ClaimedDatapath.datapathv2);
    assert.equal(c.values['has_cilium_chainer'], 'true');
    assert.equal(c.values['kube_proxy_replacement'], 'false');
    assert.equal(capabilitiesFromText('datapath = exotic\n').datapath, ClaimedDatapath.unknown);
    assert.equal(capabilitiesFromText('').datapath, ClaimedDatapath.unknown);
  });
  test('kernel release', () => {
    assert.equal(kernelFromUname('\n4.19.91-26.al7.x86_64\n'), '4.19.91-26.al7.x86_64');
    assert.deepEqual(kernelVersion('5.10.134-16.al8.x86_64'), [5, 10]);
    assert.equal(kernelVersion(null), null);
  });
  test('canonical addresses', () => {
    assert.equal(canonicalIp('FD00:10:1:0:0:0:0:101'), 'fd00:10:1::101');
    assert.equal(canonicalIp('10.0.1.5/32'), '10.0.1.5');
    assert.equal(canonicalIp('2001:db8:0:0:1:0:0:1'), '2001:db8::1:0:0:1');
    assert.equal(ip6Text(parseIp6('::')!), '::');
    assert.equal(canonicalIp('not-an-ip'), null);
  });
  test('Terway veth names', () => {
    // the lab names its veths the same way; value checked against `printf default.client | sha1sum`
    assert.equal(terwayVethName('default', 'client'), 'calia7a3e029a7b');
  });
});

describe('direction from MACs and addresses', () => {
  const point = {
    id: 'node/n1/cali1',
    node: 'n1',
    pod: 'default/a',
    iface: 'cali1',
    kind: PointKind.veth,
    mac: '02:ca:11:00:00:01',
    peerMac: '02:00:00:00:00:01',
    ips: ['10.0.1.5'],
  };
  const r = directionResolverFor(point, []);
  const none = () => null;
  test('veth: pod MAC as source is in, own MAC as source is out, addresses otherwise', () => {
    assert.equal(
      r.infer(macKeyFromText('02:00:00:00:00:01'), macKeyFromText('02:ca:11:00:00:01'), none, none),
      DirCode.in,
    );
    assert.equal(
      r.infer(macKeyFromText('02:ca:11:00:00:01'), macKeyFromText('02:00:00:00:00:01'), none, none),
      DirCode.out,
    );
    assert.equal(
      r.infer(
        -1,
        -1,
        () => '10.0.1.5',
        () => '10.0.2.5',
      ),
      DirCode.in,
    );
    assert.equal(r.infer(-1, -1, none, none), DirCode.unknown);
  });
  test('ENI: the gateway MAC as source is in', () => {
    const eni = directionResolverFor(
      { ...point, kind: PointKind.eni, mac: '00:16:3e:00:00:01', peerMac: null },
      ['ee:ff:ff:ff:ff:ff'],
    );
    assert.equal(
      eni.infer(macKeyFromText('ee:ff:ff:ff:ff:ff'), macKeyFromText('00:16:3e:00:00:09'), none, none),
      DirCode.in,
    );
    assert.equal(
      eni.infer(macKeyFromText('00:16:3e:00:00:09'), macKeyFromText('ee:ff:ff:ff:ff:ff'), none, none),
      DirCode.out,
    );
  });
});

describe('topology of lab bundles', requireBundles(), () => {
  for (const lab of labBundles()) {
    test(`${lab.mode}: every capture point has a kind, pods have veth, ENI and MACs, no warnings`, async () => {
      const t = await topologyFromBundle(lab.bundle);
      assert.deepEqual(t.warnings, []);
      for (const p of t.points.values()) {
        assert.notEqual(p.kind, PointKind.other, p.id);
        if (p.kind === PointKind.veth) assert.ok(p.pod && p.mac && p.peerMac, p.id);
      }
      for (const pod of t.pods.values()) assert.ok(pod.veth && pod.eni && pod.mac && pod.node, pod.key);
      for (const n of t.nodes.values()) {
        assert.ok(n.kernel);
        assert.notEqual(n.claimedDatapath, ClaimedDatapath.unknown);
        assert.deepEqual(n.gatewayMacs, ['ee:ff:ff:ff:ff:ff']);
      }
      assert.ok(t.serviceByIp.size >= 2);
    });
  }
});
