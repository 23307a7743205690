/**
 * Importer for `ip -j` output (DESIGN §3 `nodes/<node>/ip/*.json`): links, addresses, routes of every
 * table, policy rules and neighbours become facts, and `nodeNetFromIp` reads Terway's wiring out of
 * them (reference §1.1, §3.3):
 * - main-table host route `<podIP> dev cali*` -> the pod's veth;
 * - `ip rule from <podIP> lookup <table>` + that table's `default ... dev ethN` -> the pod's ENI;
 * - the main table's default route device -> the primary interface;
 * - the neighbour entry of each default gateway -> the gateway MAC.
 */
import { canonicalIp, canonicalMac } from './ip-text.ts';
import { type JsonObject, num, obj, objects, str } from './json-input.ts';
import type { Eni, Interface, TopologyWarning } from './model.ts';

export interface Route {
  dst: string;
  dev: string | null;
  gateway: string | null;
  table: string;
  type: string;
}

export interface Rule {
  priority: number;
  src: string | null;
  dst: string | null;
  table: string;
}

export interface Neighbour {
  ip: string;
  dev: string;
  mac: string | null;
}

export interface IpFacts {
  interfaces: Interface[];
  routes: Route[];
  rules: Rule[];
  neighbours: Neighbour[];
}

/** The parsed documents of one namespace; any may be missing. */
export interface IpDocs {
  link?: unknown;
  addr?: unknown;
  route?: unknown;
  route6?: unknown;
  rule?: unknown;
  rule6?: unknown;
  neigh?: unknown;
}

export function ipFactsFromJson(node: string, docs: IpDocs): IpFacts {
  const byName = new Map<string, Interface>();
  const iface = (o: JsonObject): Interface | null => {
    const name = str(o, 'ifname');
    if (name === null) return null;
    let i = byName.get(name);
    if (!i) {
      i = { node, ifindex: num(o, 'ifindex'), name, mac: null, linkKind: null, addresses: [] };
      byName.set(name, i);
    }
    return i;
  };
  for (const o of objects(docs.link)) {
    const i = iface(o);
    if (!i) continue;
    const mac = str(o, 'address');
    if (mac && str(o, 'link_type') !== 'loopback') i.mac = canonicalMac(mac);
    i.linkKind = str(obj(o, 'linkinfo'), 'info_kind');
  }
  for (const o of objects(docs.addr)) {
    const i = iface(o);
    if (!i) continue;
    if (i.mac === null && str(o, 'link_type') !== 'loopback') i.mac = canonicalMac(str(o, 'address') ?? '');
    for (const a of objects(o['addr_info'])) {
      const ip = canonicalIp(str(a, 'local') ?? '');
      if (ip && !i.addresses.includes(ip)) i.addresses.push(ip);
    }
  }
  const routes: Route[] = [];
  for (const o of [...objects(docs.route), ...objects(docs.route6)]) {
    const dst = str(o, 'dst');
    if (dst === null) continue;
    routes.push({
      dst:
        dst === 'default'
          ? 'default'
          : (canonicalIp(dst) ?? dst) + (dst.includes('/') ? `/${dst.split('/')[1]}` : ''),
      dev: str(o, 'dev'),
      gateway: canonicalIp(str(o, 'gateway') ?? ''),
      // `ip -j route show table all` omits the table for main-table routes
      table: str(o, 'table') ?? 'main',
      type: str(o, 'type') ?? 'unicast',
    });
  }
  const rules: Rule[] = [];
  for (const o of [...objects(docs.rule), ...objects(docs.rule6)]) {
    const src = str(o, 'src');
    const dst = str(o, 'dst');
    rules.push({
      priority: num(o, 'priority') ?? -1,
      src: src && src !== 'all' ? canonicalIp(src) : null,
      dst: dst && dst !== 'all' ? canonicalIp(dst) : null,
      table: str(o, 'table') ?? String(num(o, 'table') ?? 'main'),
    });
  }
  const neighbours: Neighbour[] = [];
  for (const o of objects(docs.neigh)) {
    const ip = canonicalIp(str(o, 'dst') ?? '');
    const dev = str(o, 'dev');
    if (ip && dev) neighbours.push({ ip, dev, mac: canonicalMac(str(o, 'lladdr') ?? '') });
  }
  return { interfaces: [...byName.values()], routes, rules, neighbours };
}

export interface NodeNet {
  /** pod IP -> host-side veth, from main-table host routes */
  podVeth: Map<string, string>;
  /** pod IP -> ENI interface, from `ip rule from <podIP>` and that table's default route */
  podEni: Map<string, string>;
  /** veth name -> pod MAC, from the neighbour entry of the pod IP on that veth */
  podMacByVeth: Map<string, string>;
  enis: Eni[];
  primary: string | null;
  nodeIps: string[];
  gatewayMacs: string[];
  warnings: TopologyWarning[];
}

const isHostRoute = (dst: string): boolean => !dst.includes('/') || /\/(32|128)$/.test(dst);
const hostPart = (dst: string): string => dst.split('/')[0] ?? dst;
/** Addresses a node owns that say nothing about where it lives: loopback, link-local, Cilium/Terway helpers. */
const isNodeAddress = (ip: string): boolean =>
  !ip.startsWith('127.') && ip !== '::1' && !ip.startsWith('fe80:') && !ip.startsWith('169.254.');

export function nodeNetFromIp(node: string, facts: IpFacts, file: string): NodeNet {
  const warnings: TopologyWarning[] = [];
  const defaults = facts.routes.filter((r) => r.dst === 'default' && r.dev !== null && r.type === 'unicast');
  const primary = defaults.find((r) => r.table === 'main')?.dev ?? null;
  const tableDev = new Map<string, Route>();
  for (const r of defaults) {
    if (r.table === 'main' || r.table === 'local' || r.table === 'default') continue;
    const seen = tableDev.get(r.table);
    if (seen && seen.dev !== r.dev) {
      warnings.push({
        code: 'topology.table-two-devices',
        message: `node ${node}: table ${r.table} has default routes through ${seen.dev} and ${r.dev}; using ${seen.dev}`,
        files: [file],
      });
      continue;
    }
    tableDev.set(r.table, r);
  }
  const uplinks = new Set(defaults.map((r) => r.dev));

  const podVeth = new Map<string, string>();
  for (const r of facts.routes) {
    if (r.table !== 'main' || r.type !== 'unicast' || r.dev === null || r.gateway !== null) continue;
    if (r.dst === 'default' || !isHostRoute(r.dst) || uplinks.has(r.dev) || r.dev === 'lo') continue;
    podVeth.set(hostPart(r.dst), r.dev);
  }

  const podEni = new Map<string, string>();
  for (const rule of facts.rules) {
    if (rule.src === null) continue;
    const route = tableDev.get(rule.table);
    if (!route?.dev) {
      warnings.push({
        code: 'topology.rule-table-without-default',
        message: `node ${node}: ip rule from ${rule.src} looks up table ${rule.table}, which has no default route`,
        files: [file],
      });
      continue;
    }
    const prev = podEni.get(rule.src);
    if (prev !== undefined && prev !== route.dev) {
      warnings.push({
        code: 'topology.pod-ip-on-two-enis',
        message: `node ${node}: ${rule.src} has ip rules to ${prev} and ${route.dev}; using ${prev}`,
        files: [file],
      });
      continue;
    }
    podEni.set(rule.src, route.dev);
  }

  const byName = new Map(facts.interfaces.map((i) => [i.name, i]));
  const neighMac = (ip: string | null, dev: string | null): string | null =>
    facts.neighbours.find((n) => n.ip === ip && n.dev === dev)?.mac ?? null;
  const enis: Eni[] = [];
  for (const [table, route] of [...tableDev].sort((a, b) => a[0].localeCompare(b[0]))) {
    const dev = route.dev ?? '';
    if (enis.some((e) => e.iface === dev)) continue;
    enis.push({
      node,
      iface: dev,
      mac: byName.get(dev)?.mac ?? null,
      eniId: null,
      table,
      podIps: [...podEni].filter(([, d]) => d === dev).map(([ip]) => ip),
      gatewayIp: route.gateway,
      gatewayMac: neighMac(route.gateway, dev),
    });
  }

  const podMacByVeth = new Map<string, string>();
  for (const [ip, veth] of podVeth) {
    const mac = neighMac(ip, veth);
    if (mac) podMacByVeth.set(veth, mac);
  }
  const nodeIps = [...new Set(facts.interfaces.flatMap((i) => i.addresses).filter(isNodeAddress))];
  const gatewayMacs = [
    ...new Set(defaults.map((r) => neighMac(r.gateway, r.dev)).filter((m): m is string => m !== null)),
  ];
  return { podVeth, podEni, podMacByVeth, enis, primary, nodeIps, gatewayMacs, warnings };
}
