/**
 * Checks expected.json against the recorded captures, read with the project's own reader (readCapture) and
 * decoded with its own layered decoders (decodeFrame), so a `-i any` capture (LINUX_SLL2) is read exactly as
 * the ingest reads it. Direction: in an SLL2 capture the kernel's packet type says it and the ifindex names
 * the interface (through the node's ip/link.json); in an Ethernet capture it comes from the MACs the lab
 * assigned (a pod's frames leave its eth0 with its own MAC as source; an ENI sends with its MAC and receives
 * from ee:ff:ff:ff:ff:ff). Disagreements are findings about the reference or the lab, reported as is.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ip4Text, ip6Text, macTextFromLanes } from '../analyzers/topology/ip-text.ts';
import type { BundleManifest } from '../collectors/bundle-manifest.ts';
import { Direction, PacketColumns } from '../ingest/columns/packet-columns.ts';
import { createDecodeState, decodeFrame } from '../ingest/decode/decode-frame.ts';
import { readCapture } from '../ingest/read-capture.ts';
import type { PacketRecord } from '../ingest/record.ts';
import type { ExpectedFile, ExpectedFlow, ExpectedHop } from './expected.ts';
import type { LabPlan } from './plan.ts';

const LINKTYPE_ETHERNET = 1;
const LINKTYPE_LINUX_SLL2 = 276;
/** Link header bytes per link type: frame sizes are reported as Ethernet would carry them (1514 = MTU). */
const LINK_HEADER: Record<number, number> = { [LINKTYPE_ETHERNET]: 14, [LINKTYPE_LINUX_SLL2]: 20 };

interface Seen {
  dir: 'in' | 'out' | null;
  ttl: number;
  src: string;
  dst: string;
  proto: number;
  len: number;
}

/** What the decoders wrote into row 0, as the lab's text forms; null for frames that are not IP. */
interface Decoded {
  srcMac: string | null;
  dir: 'in' | 'out' | null;
  ifindex: number | null;
  seen: Seen;
}

/** One decoder state and a one-row batch, reused for every frame (the lab's captures are small). */
class FrameDecoder {
  private readonly state = createDecodeState();
  private readonly c = new PacketColumns(1);

  decode(rec: PacketRecord): Decoded | null {
    const c = this.c;
    c.reset();
    decodeFrame(this.state, rec, c, 0);
    const version = c.ipVersion[0];
    if (version !== 4 && version !== 6) return null;
    let src = version === 4 ? ip4Text(c.srcIp4[0]!) : ip6Text(c.srcIp6);
    let dst = version === 4 ? ip4Text(c.dstIp4[0]!) : ip6Text(c.dstIp6);
    const proto = c.ipProtoValid[0] ? c.ipProto[0]! : 0;
    if ((proto === 6 || proto === 17) && c.portsValid[0]) {
      const wrap = (ip: string) => (version === 6 ? `[${ip}]` : ip);
      src = `${wrap(src)}:${c.srcPort[0]}`;
      dst = `${wrap(dst)}:${c.dstPort[0]}`;
    }
    const d = c.direction[0];
    const header = LINK_HEADER[rec.linkType] ?? 14;
    return {
      srcMac: c.srcMacValid[0] ? macTextFromLanes(c.srcMac[0]!, c.srcMac[1]!) : null,
      dir: d === Direction.in ? 'in' : d === Direction.out ? 'out' : null,
      ifindex: c.ifindexValid[0] ? c.ifindex[0]! : null,
      seen: {
        dir: null,
        ttl: c.ttlValid[0] ? c.ttl[0]! : 0,
        src,
        dst,
        proto,
        len: rec.wirelen - header + 14,
      },
    };
  }
}

/** ifindex -> interface name of a node's namespace, from the bundle's `ip -j link` (an `any` capture). */
function ifnames(bundleDir: string, node: string): Map<number, string> {
  const links = JSON.parse(readFileSync(join(bundleDir, 'nodes', node, 'ip', 'link.json'), 'utf8')) as Array<{
    ifindex: number;
    ifname: string;
  }>;
  return new Map(links.map((l) => [l.ifindex, l.ifname]));
}

/** The MACs that mean "leaving this point" for each capture point. */
function localMacs(plan: LabPlan): Map<string, Set<string>> {
  const m = new Map<string, Set<string>>();
  for (const pod of plan.pods) {
    m.set(`pod/${pod.namespace}/${pod.name}/eth0`, new Set([pod.mac]));
    // On a cali the direction is decided by the pod MAC instead (see checkBundle).
    m.set(`node/${pod.node}/${pod.cali}`, new Set([pod.caliMac]));
  }
  for (const node of plan.nodes)
    for (const eni of node.enis) m.set(`node/${node.name}/${eni.name}`, new Set([eni.mac]));
  return m;
}

export interface CheckResult {
  flows: number;
  disagreements: string[];
  /** bulk: largest frame per point (super-segments vs MTU-sized) */
  bulkSizes: Record<string, number>;
}

/**
 * Every frame of every capture the lab knows, per capture point, with direction and addresses as seen there.
 * An `any` capture is split into the points its ifindexes name, so it is checked exactly like per-interface
 * files.
 */
export async function readPoints(
  plan: LabPlan,
  bundleDir: string,
  manifest: BundleManifest,
): Promise<{ seenAt: Map<string, Seen[]>; unreadable: string[] }> {
  const macs = localMacs(plan);
  const unreadable: string[] = [];
  const seenAt = new Map<string, Seen[]>();
  const add = (point: string, s: Seen) => {
    const list = seenAt.get(point) ?? [];
    list.push(s);
    seenAt.set(point, list);
  };
  const decoder = new FrameDecoder();
  for (const cap of manifest.captures) {
    const any = cap.kind === 'any';
    const names = any && cap.node ? ifnames(bundleDir, cap.node) : null;
    const local = macs.get(cap.point);
    if (!any && !local) continue;
    if (!any) seenAt.set(cap.point, seenAt.get(cap.point) ?? []);
    // On a cali, frames from the pod MAC are pod -> host ("in"); everything else was sent towards the pod.
    const podMac = plan.pods.find((p) => cap.point === `node/${p.node}/${p.cali}`)?.mac;
    const res = await readCapture(join(bundleDir, cap.path), {
      container: () => {},
      interface: () => {},
      stats: () => {},
      warning: () => {},
      packet: (rec) => {
        const d = decoder.decode(rec);
        if (!d) return;
        if (names) {
          // SLL2: the ifindex names the point, the packet type gives the direction (as on a real node)
          const ifname = d.ifindex === null ? undefined : names.get(d.ifindex);
          const point = ifname ? `node/${cap.node}/${ifname}` : null;
          if (!point || !macs.has(point) || d.dir === null) return;
          add(point, { ...d.seen, dir: d.dir });
          return;
        }
        if (d.srcMac === null) return;
        const dir = podMac ? (d.srcMac === podMac ? 'in' : 'out') : local!.has(d.srcMac) ? 'out' : 'in';
        add(cap.point, { ...d.seen, dir });
      },
    });
    // A capture the reader cannot read proves nothing either way: say so instead of "not seen".
    if (res.error) unreadable.push(`${cap.path}: unreadable: ${res.error.message}`);
  }
  return { seenAt, unreadable };
}

/** `ip:*` in expected.json: the port is chosen at run time (kube-proxy's MASQUERADE --random-fully). */
function addrMatch(seen: string, expected: string): boolean {
  return expected.endsWith(':*') ? seen.startsWith(expected.slice(0, -1)) : seen === expected;
}

export async function checkBundle(
  plan: LabPlan,
  bundleDir: string,
  manifest: BundleManifest,
  flows: ExpectedFlow[],
): Promise<CheckResult> {
  const { seenAt, unreadable } = await readPoints(plan, bundleDir, manifest);
  const disagreements: string[] = [...unreadable];
  const bulkSizes: Record<string, number> = {};
  const matches = (s: Seen, h: { src: string; dst: string }) =>
    addrMatch(s.src, h.src) && addrMatch(s.dst, h.dst);
  for (const flow of flows) {
    for (const [legName, leg] of [
      ['request', flow.request],
      ['reply', flow.reply],
    ] as const) {
      const srcs = leg.path.map((h: ExpectedHop) => h.src);
      const dsts = leg.path.map((h: ExpectedHop) => h.dst);
      for (const hop of leg.path) {
        const at = (seenAt.get(hop.point) ?? []).filter((s) => s.dir === hop.dir && matches(s, hop));
        if (at.length === 0)
          disagreements.push(
            `${flow.id} ${legName}: not seen at ${hop.point} ${hop.dir} (${hop.src} -> ${hop.dst})`,
          );
        else if (!at.some((s) => s.ttl === hop.ttl)) {
          disagreements.push(
            `${flow.id} ${legName}: ${hop.point} ${hop.dir} TTL ${at[0]!.ttl}, expected ${hop.ttl}`,
          );
        }
        if (flow.bulk && legName === 'request') bulkSizes[hop.point] = Math.max(0, ...at.map((s) => s.len));
      }
      for (const ns of leg.not_seen) {
        const hit = (seenAt.get(ns.point) ?? []).find(
          (s) =>
            s.dir === ns.dir &&
            srcs.some((x) => addrMatch(s.src, x)) &&
            dsts.some((x) => addrMatch(s.dst, x)),
        );
        if (hit)
          disagreements.push(
            `${flow.id} ${legName}: seen at ${ns.point} ${ns.dir}, expected not (${hit.src} -> ${hit.dst})`,
          );
      }
    }
  }
  return { flows: flows.length, disagreements, bulkSizes };
}

/** A recorded bundle and its expected.json, checked again later (fixtures, CI): no root, no lab needed. */
export async function checkRecorded(
  plan: LabPlan,
  bundleDir: string,
  expectedPath: string,
): Promise<CheckResult & { expected: ExpectedFile }> {
  const manifest = JSON.parse(readFileSync(join(bundleDir, 'bundle.json'), 'utf8')) as BundleManifest;
  const expected = JSON.parse(readFileSync(expectedPath, 'utf8')) as ExpectedFile;
  return { ...(await checkBundle(plan, bundleDir, manifest, expected.flows)), expected };
}

/**
 * The flow/path structure of an expected.json without what legitimately changes between recordings (TTL
 * values stay: they are the datapath's signature; kernel versions, outcomes and times go): two recordings of
 * one mode must give the same flows crossing the same must and must-not points.
 */
export function flowStructure(expected: ExpectedFile): Record<string, unknown> {
  const leg = (l: ExpectedFlow['request']) => ({
    path: l.path.map((h) => `${h.point} ${h.dir} ttl=${h.ttl} ${h.src} -> ${h.dst}`),
    not_seen: l.not_seen.map((n) => `${n.point} ${n.dir}`).sort(),
    handled_by: l.handled_by.map((h) => `${h.node}:${h.by}`),
    fault_visible: l.fault_visible,
  });
  return Object.fromEntries(
    expected.flows.map((f) => [
      f.id,
      {
        scenario: f.scenario,
        rule: f.rule,
        backend: f.backend,
        datapath: f.datapath,
        request: leg(f.request),
        reply: leg(f.reply),
      },
    ]),
  );
}
