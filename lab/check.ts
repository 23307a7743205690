/**
 * Checks expected.json against the recorded captures, read with the project's own reader (readCapture).
 * The lab's frames are all Ethernet, so a minimal header parse is enough here; direction comes from the MACs
 * the lab assigned (a pod's frames leave its eth0 with its own MAC as source; an ENI sends with its MAC and
 * receives from ee:ff:ff:ff:ff:ff). Disagreements are findings about the reference or the lab, reported as is.
 */
import { join } from 'node:path';
import type { BundleManifest } from '../collectors/bundle-manifest.ts';
import { readCapture } from '../ingest/read-capture.ts';
import type { PacketRecord } from '../ingest/record.ts';
import type { ExpectedFlow, ExpectedHop } from './expected.ts';
import type { LabPlan } from './plan.ts';

interface Seen {
  dir: 'in' | 'out' | null;
  ttl: number;
  src: string;
  dst: string;
  proto: number;
  len: number;
}

function mac(b: Uint8Array, at: number): string {
  return Array.from(b.subarray(at, at + 6), (x) => x.toString(16).padStart(2, '0')).join(':');
}

function ip4(b: Uint8Array, at: number): string {
  return Array.from(b.subarray(at, at + 4)).join('.');
}

function ip6(b: Uint8Array, at: number): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[at + i]! << 8) | b[at + i + 1]!).toString(16));
  // Canonical compression of the longest zero run, enough for the lab's own addresses.
  const text = groups.join(':');
  const runs = [...text.matchAll(/(^|:)0(:0)+(:|$)/g)].sort((x, y) => y[0].length - x[0].length);
  const longest = runs[0];
  if (!longest || longest.index === undefined) return text;
  return `${text.slice(0, longest.index)}::${text.slice(longest.index + longest[0].length)}`;
}

function parse(rec: PacketRecord, local: Set<string>): Seen | null {
  const b = rec.bytes.subarray(rec.at, rec.at + rec.caplen);
  if (b.length < 34) return null;
  const type = (b[12]! << 8) | b[13]!;
  const srcMac = mac(b, 6);
  const dir = local.has(srcMac) ? 'out' : 'in';
  let l4 = 0;
  let proto = 0;
  let ttl = 0;
  let src = '';
  let dst = '';
  if (type === 0x0800) {
    l4 = 14 + (b[14]! & 0x0f) * 4;
    proto = b[23]!;
    ttl = b[22]!;
    src = ip4(b, 26);
    dst = ip4(b, 30);
  } else if (type === 0x86dd && b.length >= 54) {
    l4 = 54;
    proto = b[20]!;
    ttl = b[21]!;
    src = ip6(b, 22);
    dst = ip6(b, 38);
  } else return null;
  const wrap = (ip: string) => (ip.includes(':') ? `[${ip}]` : ip);
  if ((proto === 6 || proto === 17) && b.length >= l4 + 4) {
    src = `${wrap(src)}:${(b[l4]! << 8) | b[l4 + 1]!}`;
    dst = `${wrap(dst)}:${(b[l4 + 2]! << 8) | b[l4 + 3]!}`;
  }
  return { dir, ttl, src, dst, proto, len: rec.wirelen };
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

export async function checkBundle(
  plan: LabPlan,
  bundleDir: string,
  manifest: BundleManifest,
  flows: ExpectedFlow[],
): Promise<CheckResult> {
  const macs = localMacs(plan);
  const seenAt = new Map<string, Seen[]>();
  for (const cap of manifest.captures) {
    const local = macs.get(cap.point);
    if (!local) continue;
    const list: Seen[] = [];
    // On a cali, frames from the pod MAC are pod -> host ("in"); everything else was sent towards the pod.
    const podMac = plan.pods.find((p) => cap.point === `node/${p.node}/${p.cali}`)?.mac;
    await readCapture(join(bundleDir, cap.path), {
      container: () => {},
      interface: () => {},
      stats: () => {},
      warning: () => {},
      packet: (rec) => {
        const s = parse(rec, local);
        if (!s) return;
        if (podMac) s.dir = mac(rec.bytes, rec.at + 6) === podMac ? 'in' : 'out';
        list.push(s);
      },
    });
    seenAt.set(cap.point, list);
  }
  const disagreements: string[] = [];
  const bulkSizes: Record<string, number> = {};
  const matches = (s: Seen, h: { src: string; dst: string }) => s.src === h.src && s.dst === h.dst;
  for (const flow of flows) {
    for (const [legName, leg] of [
      ['request', flow.request],
      ['reply', flow.reply],
    ] as const) {
      const srcs = new Set(leg.path.map((h: ExpectedHop) => h.src));
      const dsts = new Set(leg.path.map((h: ExpectedHop) => h.dst));
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
          (s) => s.dir === ns.dir && srcs.has(s.src) && dsts.has(s.dst),
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
