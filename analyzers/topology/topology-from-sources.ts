/**
 * Merges what each importer produced into one `Topology` (DESIGN §6). Sources are ranked by how close
 * they sit to the datapath: kernel state (`ip -j`) over the Terway daemon's mapping over the Kubernetes
 * API over names. A disagreement is kept as a warning naming both values and the one used; nothing is
 * dropped silently.
 */
import { createHash } from 'node:crypto';
import { kindOf, placeOf } from '../../ingest/capture-points.ts';
import { type IpDocs, ipFactsFromJson, type NodeNet, nodeNetFromIp } from './ip-json.ts';
import { type K8sDocs, k8sFromJson } from './k8s-json.ts';
import {
  ClaimedDatapath,
  emptyTopology,
  type Node,
  type Pod,
  type Point,
  PointKind,
  type Topology,
  type TopologyWarning,
} from './model.ts';
import { capabilitiesFromText, kernelFromUname } from './node-capabilities.ts';
import { terwayMappingFromText } from './terway-mapping.ts';

export interface NodeSources {
  ip: IpDocs;
  uname: string | null;
  capabilities: string | null;
  mapping: string | null;
}

export interface PodSources {
  /** from bundle.json `pods[].node` */
  node: string | null;
  ip: IpDocs;
}

/** A capture point as bundle.json (or ingest) names it. */
export interface PointDecl {
  id: string;
  node: string | null;
  /** `<namespace>/<pod>` */
  pod: string | null;
  iface: string;
  /** the collector's guess from the name */
  kind: string | null;
}

export interface TopologySources {
  nodes: Map<string, NodeSources>;
  pods: Map<string, PodSources>;
  k8s: K8sDocs;
  points: PointDecl[];
}

/** Terway's host veth name: `cali` + 11 hex of sha1("<namespace>.<pod>") (reference §1.1). */
export function terwayVethName(namespace: string, pod: string): string {
  return `cali${createHash('sha1').update(`${namespace}.${pod}`).digest('hex').slice(0, 11)}`;
}

class Merger {
  readonly t: Topology = emptyTopology();
  readonly nets = new Map<string, NodeNet>();

  warn(code: string, message: string, files: string[]): void {
    this.t.warnings.push({ code, message, files });
  }

  pod(key: string): Pod {
    let p = this.t.pods.get(key);
    if (!p) {
      const [namespace = '', name = ''] = key.split('/');
      p = {
        namespace,
        name,
        key,
        node: null,
        ips: [],
        mac: null,
        veth: null,
        vethMac: null,
        eni: null,
        hostNetwork: false,
      };
      this.t.pods.set(key, p);
    }
    return p;
  }

  /** Sets a pod field, warning when a source disagrees with what an earlier (stronger) source set. */
  setPodField(
    p: Pod,
    field: 'node' | 'veth' | 'eni' | 'mac',
    value: string | null,
    source: string,
    files: string[],
  ) {
    if (value === null) return;
    const prev = p[field];
    if (prev === null) p[field] = value;
    else if (prev !== value)
      this.warn(
        `topology.pod-${field}-conflict`,
        `pod ${p.key}: ${field} ${prev} kept, ${source} says ${value}`,
        files,
      );
  }

  addPodIp(p: Pod, ip: string, source: string, files: string[]): void {
    const owner = this.t.podByIp.get(ip);
    if (owner !== undefined && owner !== p.key) {
      this.warn('topology.ip-on-two-pods', `${ip}: pod ${owner} kept, ${source} says ${p.key}`, files);
      return;
    }
    this.t.podByIp.set(ip, p.key);
    if (!p.ips.includes(ip)) p.ips.push(ip);
  }
}

export function topologyFromSources(src: TopologySources): Topology {
  const m = new Merger();
  const t = m.t;

  // 1. kernel state per node
  for (const [name, ns] of [...src.nodes].sort((a, b) => a[0].localeCompare(b[0]))) {
    const ipFile = `nodes/${name}/ip/`;
    const facts = ipFactsFromJson(name, ns.ip);
    const net = nodeNetFromIp(name, facts, ipFile);
    m.nets.set(name, net);
    t.warnings.push(...net.warnings);
    const caps = ns.capabilities !== null ? capabilitiesFromText(ns.capabilities) : null;
    const node: Node = {
      name,
      kernel: ns.uname !== null ? kernelFromUname(ns.uname) : null,
      claimedDatapath: caps?.datapath ?? ClaimedDatapath.unknown,
      capabilities: caps?.values ?? {},
      ips: net.nodeIps,
      primary: net.primary,
      interfaces: facts.interfaces,
      enis: net.enis,
      gatewayMacs: net.gatewayMacs,
    };
    if (caps && caps.datapath === ClaimedDatapath.unknown)
      m.warn(
        'topology.unknown-datapath',
        `node ${name}: node_capabilities datapath '${caps.values['datapath'] ?? ''}' is not one this version knows`,
        [`nodes/${name}/terway/node_capabilities`],
      );
    t.nodes.set(name, node);
    for (const ip of net.nodeIps) {
      const other = t.nodeByIp.get(ip);
      if (other !== undefined && other !== name)
        m.warn('topology.ip-on-two-nodes', `${ip}: on ${other} and ${name}; ${other} kept`, [ipFile]);
      else t.nodeByIp.set(ip, name);
    }
  }

  // 2. Kubernetes objects
  const k8s = k8sFromJson(src.k8s);
  for (const kp of k8s.pods) {
    const p = m.pod(`${kp.namespace}/${kp.name}`);
    p.hostNetwork = kp.hostNetwork;
    m.setPodField(p, 'node', kp.node, Source_k8s, ['k8s/pods.json']);
    // host-network pods carry the node's IP: it is not theirs to own
    if (!kp.hostNetwork) for (const ip of kp.ips) m.addPodIp(p, ip, Source_k8s, ['k8s/pods.json']);
  }
  for (const kn of k8s.nodes) {
    for (const ip of kn.ips) if (!t.nodeByIp.has(ip)) t.nodeByIp.set(ip, kn.name);
    const node = t.nodes.get(kn.name);
    if (node) for (const ip of kn.ips) if (!node.ips.includes(ip)) node.ips.push(ip);
  }
  t.services = k8s.services;
  for (const svc of k8s.services) {
    for (const ip of [...svc.clusterIps, ...svc.externalIps, ...svc.loadBalancerIps]) {
      const other = t.serviceByIp.get(ip);
      if (other !== undefined && other !== svc.key)
        m.warn('topology.vip-on-two-services', `${ip}: service ${other} kept, also ${svc.key}`, [
          'k8s/services.json',
        ]);
      else t.serviceByIp.set(ip, svc.key);
    }
  }

  // 3. bundle.json pods: the collector knows where it captured each pod
  for (const [key, ps] of src.pods)
    m.setPodField(m.pod(key), 'node', ps.node, 'bundle.json', ['bundle.json']);

  // 4. kernel wiring: veth and ENI per pod IP
  for (const [name, net] of m.nets) {
    const node = t.nodes.get(name)!;
    const files = [`nodes/${name}/ip/route.json`, `nodes/${name}/ip/rule.json`];
    for (const [ip, veth] of net.podVeth) {
      const key = t.podByIp.get(ip);
      if (key === undefined) {
        m.warn(
          'topology.veth-without-pod',
          `node ${name}: ${veth} routes ${ip}, which no known pod has`,
          files,
        );
        continue;
      }
      const p = m.pod(key);
      m.setPodField(p, 'veth', veth, 'ip route', files);
      m.setPodField(p, 'node', name, 'ip route', files);
      const expected = terwayVethName(p.namespace, p.name);
      if (veth.startsWith('cali') && veth !== expected)
        m.warn('topology.veth-name', `pod ${key}: veth ${veth}, Terway would name it ${expected}`, files);
      p.vethMac = node.interfaces.find((i) => i.name === veth)?.mac ?? p.vethMac;
      m.setPodField(p, 'mac', net.podMacByVeth.get(veth) ?? null, 'ip neigh', files);
    }
    for (const [ip, eni] of net.podEni) {
      const key = t.podByIp.get(ip);
      if (key !== undefined) m.setPodField(m.pod(key), 'eni', eni, 'ip rule', files);
    }
  }

  // 5. Terway mapping: ENI ids, and a cross-check of pod IP -> ENI
  for (const [name, ns] of src.nodes) {
    if (ns.mapping === null) continue;
    const file = `nodes/${name}/terway/mapping.txt`;
    const mapping = terwayMappingFromText(ns.mapping);
    const node = t.nodes.get(name)!;
    if (mapping.unparsed.length > 0)
      m.warn('topology.mapping-unparsed', `${file}: ${mapping.unparsed.length} line(s) not understood`, [
        file,
      ]);
    for (const me of mapping.enis) {
      const eni = node.enis.find((e) => e.mac !== null && e.mac === me.mac);
      if (eni) eni.eniId = me.eniId ?? eni.eniId;
      for (const mip of me.ips) {
        if (mip.pod === null) continue;
        const key = mip.pod.includes('/') ? mip.pod : (t.podByIp.get(mip.ip) ?? `default/${mip.pod}`);
        const p = m.pod(key);
        if (!t.podByIp.has(mip.ip)) m.addPodIp(p, mip.ip, 'terway-cli mapping', [file]);
        else if (t.podByIp.get(mip.ip) !== key)
          m.warn(
            'topology.ip-on-two-pods',
            `${mip.ip}: pod ${t.podByIp.get(mip.ip)} kept, mapping says ${key}`,
            [file],
          );
        if (!eni) {
          m.warn(
            'topology.mapping-eni-unknown',
            `${file}: ENI ${me.mac ?? me.eniId} is no interface of ${name}`,
            [file],
          );
          continue;
        }
        if (p.eni !== null && p.eni !== eni.iface)
          m.warn(
            'topology.pod-eni-conflict',
            `pod ${key} (${mip.ip}): ip rule says ${p.eni}, terway mapping says ${eni.iface} (${me.mac}); ${p.eni} kept`,
            [file, `nodes/${name}/ip/rule.json`],
          );
        else if (p.eni === null) p.eni = eni.iface;
      }
    }
  }

  // 6. pod namespaces' own link state: the pod MAC as the pod sees it
  for (const [key, ps] of src.pods) {
    const facts = ipFactsFromJson(ps.node ?? '', ps.ip);
    const eth0 = facts.interfaces.find((i) => i.name === 'eth0');
    if (eth0?.mac)
      m.setPodField(m.pod(key), 'mac', eth0.mac, `pods/${key}/ip/link.json`, [`pods/${key}/ip/link.json`]);
  }

  for (const decl of src.points) t.points.set(decl.id, pointFromDecl(decl, t, m));
  return t;
}

const Source_k8s = 'kubectl';

/**
 * Adds a capture point found after the topology was built (a device of a node-wide `any` capture,
 * named by its SLL2 ifindex) and returns it.
 */
export function addPoint(t: Topology, decl: PointDecl): Point {
  const known = t.points.get(decl.id);
  if (known) return known;
  const m = new Merger();
  const point = pointFromDecl(decl, t, m);
  t.warnings.push(...m.t.warnings);
  t.points.set(decl.id, point);
  return point;
}

/** The device with this ifindex on a node (`ip -j link`), or null. */
export function ifnameOf(t: Topology, node: string, ifindex: number): string | null {
  return t.nodes.get(node)?.interfaces.find((i) => i.ifindex === ifindex)?.name ?? null;
}

function pointFromDecl(decl: PointDecl, t: Topology, m: Merger): Point {
  const base: Point = {
    id: decl.id,
    node: decl.node,
    pod: decl.pod,
    iface: decl.iface,
    kind: PointKind.other,
    mac: null,
    peerMac: null,
    ips: [],
  };
  const guessed = (decl.kind ?? kindOf(placeOf(pathOf(decl)), decl.iface)) as Point['kind'];
  const derived = deriveKind(base, t);
  const point = derived ?? { ...base, kind: guessed };
  if (derived && decl.kind && decl.kind !== derived.kind)
    m.warn(
      'topology.point-kind-conflict',
      `${decl.id}: bundle.json says ${decl.kind}, the topology says ${derived.kind}; ${derived.kind} used`,
      ['bundle.json'],
    );
  return point;
}

function pathOf(decl: PointDecl): string {
  return decl.pod
    ? `pods/${decl.pod}/captures/${decl.iface}`
    : `nodes/${decl.node ?? ''}/captures/${decl.iface}`;
}

function deriveKind(p: Point, t: Topology): Point | null {
  if (p.iface === 'any') return { ...p, kind: PointKind.any };
  if (p.pod !== null) {
    const pod = t.pods.get(p.pod);
    if (!pod || p.iface !== 'eth0') return null;
    return {
      ...p,
      node: p.node ?? pod.node,
      kind: PointKind.podEth0,
      mac: pod.mac,
      peerMac: pod.vethMac,
      ips: pod.ips,
    };
  }
  const node = p.node !== null ? t.nodes.get(p.node) : undefined;
  if (!node) return null;
  const iface = node.interfaces.find((i) => i.name === p.iface);
  const pod = [...t.pods.values()].find((x) => x.node === node.name && x.veth === p.iface);
  if (pod)
    return { ...p, pod: pod.key, kind: PointKind.veth, mac: pod.vethMac, peerMac: pod.mac, ips: pod.ips };
  const eni = node.enis.find((e) => e.iface === p.iface);
  if (eni) return { ...p, kind: PointKind.eni, mac: eni.mac, peerMac: eni.gatewayMac, ips: eni.podIps };
  if (iface && p.iface === primaryOf(node))
    return { ...p, kind: PointKind.primary, mac: iface.mac, ips: iface.addresses };
  // known device, no role found: the name-based guess stands
  return null;
}

function primaryOf(node: Node): string | null {
  if (node.primary !== null) return node.primary;
  // no default route recorded: the device holding a node IP that is not a secondary ENI
  const enis = new Set(node.enis.map((e) => e.iface));
  const holder = node.interfaces.find(
    (i) => i.name !== 'lo' && !enis.has(i.name) && i.addresses.some((a) => node.ips.includes(a)),
  );
  return holder?.name ?? null;
}

export type { TopologyWarning };
