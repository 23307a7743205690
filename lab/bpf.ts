/**
 * Builds lab/bpf/datapath.c, attaches it with tc (clsact, direct action) inside the node namespaces, and
 * fills each node's pinned maps with bpftool. Each node's maps live in their own directory of the lab's
 * bpffs (TC_BPF_MNT), so one node's programs never translate with another node's state.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, runIn } from './exec.ts';
import type { LabNode, LabPlan } from './plan.ts';
import { podByName } from './plan.ts';
import { BPFFS_DIR, BUILD_DIR, ensureLabDir } from './state.ts';
import type { NodeFacts } from './topology.ts';

const SOURCE = join(dirname(fileURLToPath(import.meta.url)), 'bpf', 'datapath.c');
/** Cilium's tc priority in veth mode (Terway forces 25000 so its own VLAN filters still run). */
const TC_PRIO = '25000';

export const CFG_LEGACY = 1;
export const CFG_HOST_DNAT = 2;
const EP_NO_BPF = 1;
/** a node address: the programs hand traffic to it to the stack (kube-proxy's NodePort conntrack) */
const EP_HOST = 2;

export function buildBpf(): string {
  ensureLabDir();
  mkdirSync(BUILD_DIR, { recursive: true });
  const out = join(BUILD_DIR, 'datapath.o');
  const arch = run('uname', ['-m']).stdout.trim();
  run('clang', [
    '-O2',
    '-g',
    '-Wall',
    '-target',
    'bpf',
    `-I/usr/include/${arch}-linux-gnu`,
    '-c',
    SOURCE,
    '-o',
    out,
  ]);
  return out;
}

function bpffsMounted(): boolean {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .some((line) => line.split(' ')[1] === BPFFS_DIR);
}

/** A bpffs of the lab's own: `ip netns exec` remounts /sys, so /sys/fs/bpf would not be shared anyway. */
export function mountBpffs(): void {
  ensureLabDir();
  mkdirSync(BPFFS_DIR, { recursive: true });
  if (!bpffsMounted()) run('mount', ['-t', 'bpf', 'ht-lab-bpffs', BPFFS_DIR]);
}

function nodePinDir(node: string): string {
  return join(BPFFS_DIR, node);
}

function mapPath(node: string, map: string): string {
  // iproute2's libbpf loader pins PIN_BY_NAME maps under <TC_BPF_MNT>/tc/globals/
  return join(nodePinDir(node), 'tc', 'globals', map);
}

export function attach(
  node: LabNode,
  dev: string,
  section: 'from_container' | 'from_netdev',
  obj: string,
): void {
  mkdirSync(nodePinDir(node.name), { recursive: true });
  runIn(node.ns, 'tc', ['qdisc', 'replace', 'dev', dev, 'clsact']);
  runIn(
    node.ns,
    'tc',
    [
      'filter',
      'replace',
      'dev',
      dev,
      'ingress',
      'prio',
      TC_PRIO,
      'handle',
      '1',
      'bpf',
      'da',
      'obj',
      obj,
      'sec',
      `tc/${section}`,
    ],
    { env: { ...process.env, TC_BPF_MNT: nodePinDir(node.name) } },
  );
}

function bytesHex(bytes: number[]): string[] {
  return bytes.map((b) => b.toString(16).padStart(2, '0'));
}

function ip4Bytes(ip: string): number[] {
  return ip.split('.').map(Number);
}

function ip6Bytes(ip: string): number[] {
  const [head = '', tail = ''] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  return groups.flatMap((g) => {
    const v = Number.parseInt(g, 16);
    return [v >> 8, v & 0xff];
  });
}

/** The 16-byte endpoint key: IPv6 as is, IPv4 v4-mapped (::ffff:a.b.c.d). */
export function addrKey(ip: string): number[] {
  return ip.includes(':') ? ip6Bytes(ip) : [...Array(10).fill(0), 0xff, 0xff, ...ip4Bytes(ip)];
}

function macBytes(mac: string): number[] {
  return mac.split(':').map((b) => Number.parseInt(b, 16));
}

function u32le(v: number): number[] {
  return [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff];
}

function u16be(v: number): number[] {
  return [(v >> 8) & 0xff, v & 0xff];
}

const PROTO = { tcp: 6, udp: 17 } as const;

function update(node: string, map: string, key: number[], value: number[]): void {
  run('bpftool', [
    'map',
    'update',
    'pinned',
    mapPath(node, map),
    'key',
    'hex',
    ...bytesHex(key),
    'value',
    'hex',
    ...bytesHex(value),
  ]);
}

export interface NodeBpfConfig {
  cfg: number;
  /** pods whose veth carries no programs (fault no-bpf) */
  noBpf: Set<string>;
}

/** Writes the node's configuration, endpoints, Service table and backend set into its pinned maps. */
export function fillMaps(plan: LabPlan, node: LabNode, facts: NodeFacts, conf: NodeBpfConfig): void {
  update(node.name, 'lab_cfg', u32le(0), u32le(conf.cfg));
  for (const pod of plan.pods.filter((p) => p.node === node.name)) {
    const eniMac = node.enis.find((e) => e.name === pod.eni)!.mac;
    const value = [
      ...u32le(facts.caliIfindex[pod.cali]!),
      ...u32le(facts.eniIfindex[pod.eni]!),
      ...macBytes(pod.mac),
      ...macBytes(pod.caliMac),
      ...macBytes(eniMac),
      conf.noBpf.has(pod.name) ? EP_NO_BPF : 0,
      0,
    ];
    update(node.name, 'lab_endpoints', addrKey(pod.ip4), value);
    if (pod.ip6) update(node.name, 'lab_endpoints', addrKey(pod.ip6), value);
  }
  const hostValue = [...Array(26).fill(0), EP_HOST, 0];
  update(node.name, 'lab_endpoints', addrKey(node.ip4), hostValue);
  update(node.name, 'lab_endpoints', addrKey(node.ip6), hostValue);
  // The ClusterIPs, and the ENI LoadBalancer's address: Terway's in-cluster load balancing treats it like a
  // ClusterIP at the source veth, so pods never reach the SLB (reference §1.2, T-p2).
  const lb = plan.lb;
  const tables = [
    ...[plan.service, plan.selfService].flatMap((svc) =>
      svc.ports.map((p) => ({ ip: svc.clusterIp, ...p, backends: svc.backends })),
    ),
    ...(['tcp', 'udp'] as const).map((proto) => ({
      ip: lb.ip,
      proto,
      port: lb.port,
      targetPort: lb.targetPort,
      backends: [lb.backend],
    })),
  ];
  for (const t of tables) {
    const key = [...ip4Bytes(t.ip), ...u16be(t.port), PROTO[t.proto], 0];
    const backends = t.backends.map((name) => [
      ...ip4Bytes(podByName(plan, name).ip4),
      ...u16be(t.targetPort),
      0,
      0,
    ]);
    while (backends.length < 4) backends.push([0, 0, 0, 0, 0, 0, 0, 0]);
    update(node.name, 'lab_services', key, [...u32le(t.backends.length), ...backends.flat()]);
    for (const name of t.backends) {
      const beKey = [...ip4Bytes(podByName(plan, name).ip4), ...u16be(t.targetPort), PROTO[t.proto], 0];
      update(node.name, 'lab_backends', beKey, u32le(1));
    }
  }
}
