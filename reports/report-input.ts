/**
 * `reportInputFromAnalysis`: what the report needs from one analysis, as plain JSON (`analysis.json`
 * in an analysis folder), so `hoptrace report` rebuilds the page without the bundle, the captures or
 * DuckDB. Flows keep their paths and per-hop latencies; each flow keeps the sightings of its first
 * `ladderPackets` packets (the ladder diagram), never all of them: a bulk transfer would otherwise
 * dominate the file. Times are ns as decimal strings (bigint does not survive JSON) or, inside a flow,
 * ns relative to the flow's first packet as numbers.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { BundleAnalysis } from '../analyzers/analysis-from-bundle.ts';
import type { ClockOffset } from '../analyzers/clock-offsets.ts';
import type { Sightings } from '../analyzers/correlate/sightings.ts';
import { type FlowLadder, LADDER_HEAD, LADDER_ROW } from '../analyzers/flow-builder.ts';
import type { Flow, HopLatency, PathHop } from '../analyzers/flows.ts';
import { ip4Text } from '../analyzers/topology/ip-text.ts';
import type { Topology } from '../analyzers/topology/model.ts';

export const REPORT_INPUT_VERSION = 1;

export interface InputSighting {
  point: string;
  dir: PathHop['dir'];
  /** ns after the flow's first packet, clock-corrected */
  t: number;
  src: string;
  dst: string;
  ttl: number;
  /** `Rewrite` bits (analyzers/correlate/sightings.ts): what changed since the previous sighting */
  rewrite: number;
  file: string;
  frame: number;
  /** frames of this packet at this point (>1: offload segments) */
  frames: number;
}

export interface InputPacket {
  packet: number;
  leg: 'request' | 'reply';
  /** e.g. `SYN`, `PSH,ACK len 100`, `echo request seq 1`, `len 5` */
  summary: string;
  sightings: InputSighting[];
}

export interface InputEndpoint {
  ip: string;
  port: number;
  pod: string | null;
  node: string | null;
}

export interface InputFlow {
  id: number;
  proto: number;
  family: 4 | 6;
  client: InputEndpoint;
  service: { ip: string; port: number; name: string | null; seen: boolean } | null;
  server: InputEndpoint;
  packets: number;
  requestPackets: number;
  replyPackets: number;
  bytes: number;
  firstNs: string;
  lastNs: string;
  communityIdService: string | null;
  communityIdServer: string | null;
  requestPath: PathHop[];
  replyPath: PathHop[];
  hops: HopLatency[];
  /** the first packets of the flow in time order, at most `ladderPackets` */
  ladder: InputPacket[];
}

export interface InputCapture {
  point: string;
  node: string | null;
  kind: string;
  file: string;
  packets: number | null;
  drops: number | null;
  loss: string;
  startNs: string | null;
  endNs: string | null;
  lateStart: boolean;
  endReason: string | null;
}

export interface InputPoint {
  id: string;
  node: string | null;
  pod: string | null;
  iface: string;
  kind: string;
}

export interface ReportInput {
  schema_version: typeof REPORT_INPUT_VERSION;
  bundle: {
    /** as given to the analysis; shown, never opened by the report */
    dir: string;
    /**
     * the same folder made absolute when the analysis ran, so `hoptrace export` finds the capture files
     * from any working directory; absent in analysis.json files written before it existed
     */
    path?: string;
    startedAt: string | null;
    stoppedAt: string | null;
    command: string[] | null;
    tool: string | null;
  };
  nodes: { name: string; kernel: string | null; claimed: string }[];
  points: InputPoint[];
  captures: InputCapture[];
  clockOffsets: Omit<ClockOffset, 'samples'>[];
  warnings: { code: string; message: string }[];
  /** optional bundle parts that are absent, and what that costs the analysis */
  missing: { what: string; cost: string }[];
  ladderPackets: number;
  flows: InputFlow[];
}

/** Packets per flow a ladder shows by default. */
export const DEFAULT_LADDER_PACKETS = 12;

export interface ReportInputOptions {
  /** packets per flow kept for its ladder diagram; default 12 */
  ladderPackets?: number;
}

const TCP_FLAGS = ['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG', 'ECE', 'CWR'] as const;

function packetSummary(s: Sightings, row: number): string {
  const f = s.frames;
  const fr = s.frame[row]!;
  return summaryOf(f.proto[fr]!, f.tcpFlags[fr]!, f.payloadLen[fr]!, f.icmpTypeCode[fr]!);
}

function summaryOf(proto: number, bits: number, len: number, icmpTypeCode: number): string {
  if (proto === 6) {
    const flags = TCP_FLAGS.filter((_, i) => bits & (1 << i)).join(',') || 'no flags';
    return len > 0 ? `${flags} len ${len}` : flags;
  }
  if (proto === 17) return `UDP len ${len}`;
  if (proto === 1 || proto === 58) {
    const type = icmpTypeCode >> 8;
    const echo: Record<number, string> =
      proto === 1 ? { 8: 'echo request', 0: 'echo reply' } : { 128: 'echo request', 129: 'echo reply' };
    return echo[type] ?? `ICMP type ${type}`;
  }
  return `IP proto ${proto}`;
}

/** Is packet p (first sighting `row`) sent by the flow's client? */
function isRequest(s: Sightings, row: number, client: InputEndpoint): boolean {
  const f = s.frames;
  const fr = s.frame[row]!;
  if (f.addrText(fr, 'src') !== client.ip) return false;
  const proto = f.proto[fr]!;
  if (proto === 1 || proto === 58) {
    const type = f.icmpTypeCode[fr]! >> 8;
    return type === 8 || type === 128;
  }
  return f.srcPort[fr] === client.port;
}

function endpointText(s: Sightings, fr: number, which: 'src' | 'dst'): string {
  const f = s.frames;
  return endpointOf(
    f.addrText(fr, which) ?? '?',
    f.proto[fr]!,
    which === 'src' ? f.srcPort[fr]! : f.dstPort[fr]!,
  );
}

function endpointOf(ip: string, proto: number, port: number): string {
  if (proto !== 6 && proto !== 17 && proto !== 132) return ip;
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/**
 * A flow's ladder from the numbers the flow builder kept of its first packets (`FlowLadder`): what
 * `laddersFromSightings` makes from sightings held whole, for an analysis that holds none.
 */
export function ladderOf(l: FlowLadder, client: InputEndpoint, firstNs: bigint): InputPacket[] {
  const r = l.rows;
  const shift = Number(l.baseNs - firstNs);
  const addr = (version: number, a: number) =>
    version === 4 ? ip4Text(a) : version === 6 ? (l.ip6[a] ?? '?') : '?';
  const out: InputPacket[] = [];
  for (let k = 0; k < r.length; ) {
    const [packet, proto, flags, len, typeCode, n] = [
      r[k]!,
      r[k + 1]!,
      r[k + 2]!,
      r[k + 3]!,
      r[k + 4]!,
      r[k + 5]!,
    ];
    k += LADDER_HEAD;
    const sightings: InputSighting[] = [];
    let request = false;
    for (let i = 0; i < n; i++, k += LADDER_ROW) {
      const version = r[k + 2]!;
      const src = addr(version, r[k + 3]!);
      if (i === 0) {
        const type = typeCode >> 8;
        request =
          src === client.ip &&
          (proto === 1 || proto === 58 ? type === 8 || type === 128 : r[k + 5] === client.port);
      }
      sightings.push({
        point: l.points[r[k]!]!,
        dir: DIRS[r[k + 1]!] ?? 'unknown',
        t: Math.round(shift + r[k + 8]!),
        src: endpointOf(src, proto, r[k + 5]!),
        dst: endpointOf(addr(version, r[k + 4]!), proto, r[k + 6]!),
        ttl: r[k + 7]!,
        rewrite: r[k + 9]!,
        file: l.files[r[k + 10]!] ?? '?',
        frame: r[k + 11]!,
        frames: r[k + 12]!,
      });
    }
    out.push({
      packet,
      leg: request ? 'request' : 'reply',
      summary: summaryOf(proto, flags, len, typeCode),
      sightings,
    });
  }
  return out;
}

const DIRS = ['unknown', 'in', 'out'] as const;

/** The first `limit` packets of every flow, in time order, with their sightings. */
function laddersFromSightings(
  a: BundleAnalysis,
  limit: number,
  clients: InputEndpoint[],
  firstNs: bigint[],
): InputPacket[][] {
  const s = a.correlation.sightings;
  const files = a.tables.files;
  const flowOf = a.flows.flowOfPacket;
  const perFlow: number[][] = clients.map(() => []);
  for (let p = 0; p < s.packets; p++) {
    const flow = flowOf[p] ?? -1;
    if (flow >= 0 && s.packetStart[p]! < s.packetStart[p + 1]!) perFlow[flow]!.push(p);
  }
  const base = s.frames.baseNs ?? 0n;
  return perFlow.map((packets, flow) => {
    // a flow without a packet: no sort, no BigInt
    if (packets.length === 0) return [];
    const first = (p: number) => s.t[s.packetStart[p]!]!;
    packets.sort((x, y) => first(x) - first(y) || x - y);
    const shift = Number(base - firstNs[flow]!);
    return packets.slice(0, limit).map((p) => {
      const start = s.packetStart[p]!;
      const sightings: InputSighting[] = [];
      for (let r = start; r < s.packetStart[p + 1]!; r++) {
        const fr = s.frame[r]!;
        sightings.push({
          point: s.points[s.point[r]!]!,
          dir: DIRS[s.frames.dir[fr]!] ?? 'unknown',
          t: Math.round(shift + s.t[r]!),
          src: endpointText(s, fr, 'src'),
          dst: endpointText(s, fr, 'dst'),
          ttl: s.frames.ttl[fr]!,
          rewrite: s.rewrite[r]!,
          file: files[s.frames.file[fr]!] ?? '?',
          frame: s.frames.frame[fr]!,
          frames: s.count[r]!,
        });
      }
      return {
        packet: p,
        leg: isRequest(s, start, clients[flow]!) ? 'request' : 'reply',
        summary: packetSummary(s, start),
        sightings,
      };
    });
  });
}

interface ManifestLike {
  started_at?: unknown;
  stopped_at?: unknown;
  command?: unknown;
  tool?: { name?: unknown; version?: unknown };
  captures?: unknown;
  metadata?: unknown;
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

function readManifest(bundleDir: string): ManifestLike | null {
  try {
    const data: unknown = JSON.parse(fs.readFileSync(path.join(bundleDir, 'bundle.json'), 'utf8'));
    return data !== null && typeof data === 'object' ? (data as ManifestLike) : null;
  } catch {
    return null;
  }
}

/** Optional parts of a bundle and what their absence costs (DESIGN §3: the outputs must say so). */
const OPTIONAL_PARTS: { file: (node: string) => string; what: string; cost: string }[] = [
  {
    file: (n) => `nodes/${n}/ip/rule.json`,
    what: 'ip rule',
    cost: 'which ENI owns each pod IP is unknown: same-node pod flows fall back to scenario 1',
  },
  {
    file: (n) => `nodes/${n}/ip/link.json`,
    what: 'ip link',
    cost: 'interface MACs and ifindexes unknown: directions may stay unknown, `any` captures cannot be split',
  },
  {
    file: (n) => `nodes/${n}/os/uname`,
    what: 'os/uname',
    cost: 'kernel unknown: the rules cannot tell which hops this kernel is able to bypass',
  },
  {
    file: (n) => `nodes/${n}/terway/node_capabilities`,
    what: 'terway node_capabilities',
    cost: 'the datapath the node claims is unknown: claimed vs observed cannot be compared',
  },
];

const K8S_PARTS: { file: string; cost: string }[] = [
  {
    file: 'k8s/pods.json',
    cost: 'pod names unknown: flows show addresses only, pods cannot be told from hosts',
  },
  { file: 'k8s/services.json', cost: 'Service VIPs unknown unless a rewrite is seen on the wire' },
  {
    file: 'k8s/endpointslices.json',
    cost: 'Service backends unknown: a backend cannot be matched to its Service',
  },
];

function missingParts(bundleDir: string, allNodes: string[]): { what: string; cost: string }[] {
  const out: { what: string; cost: string }[] = [];
  // node names come from the bundle: only plain names become path components (never `..` or a `/`)
  const nodes = allNodes.filter((n) => /^[^/\\]+$/.test(n) && n !== '.' && n !== '..');
  const exists = (rel: string) => fs.existsSync(path.join(bundleDir, rel));
  for (const part of K8S_PARTS) if (!exists(part.file)) out.push({ what: part.file, cost: part.cost });
  for (const part of OPTIONAL_PARTS) {
    const absent = nodes.filter((n) => !exists(part.file(n)));
    if (absent.length > 0) out.push({ what: `${part.what} on ${absent.join(', ')}`, cost: part.cost });
  }
  return out;
}

function capturesFromManifest(m: ManifestLike | null): InputCapture[] {
  const list = Array.isArray(m?.captures) ? (m.captures as Record<string, unknown>[]) : [];
  return list
    .filter((c) => c !== null && typeof c === 'object' && typeof c['point'] === 'string')
    .map((c) => ({
      point: c['point'] as string,
      node: str(c['node']),
      kind: str(c['kind']) ?? 'other',
      file: str(c['path']) ?? '',
      packets: num(c['packets']),
      drops: num(c['drops']),
      loss: str(c['loss']) ?? 'unknown',
      startNs: str(c['start_ns']),
      endNs: str(c['end_ns']),
      lateStart: c['late_start'] === true,
      endReason: str(c['end_reason']),
    }));
}

export function reportInputFromAnalysis(
  a: BundleAnalysis,
  bundleDir: string,
  opts: ReportInputOptions = {},
): ReportInput {
  const limit = opts.ladderPackets ?? DEFAULT_LADDER_PACKETS;
  const flows = a.flows.flows;
  const ladders = laddersFromSightings(
    a,
    limit,
    flows.map((f) => f.client),
    flows.map((f) => f.firstNs),
  );
  return {
    ...reportInputHead(
      {
        topology: a.topology,
        clockOffsets: a.correlation.clockOffsets,
        warnings: a.correlation.warnings,
        faults: a.faults,
      },
      bundleDir,
      limit,
    ),
    flows: flows.map((f, i) => inputFlowOf(f, ladders[i] ?? [])),
  };
}

/** What an analysis tells the report besides its flows. */
export interface AnalysisHead {
  topology: Topology;
  clockOffsets: readonly ClockOffset[];
  /** the correlation's warnings */
  warnings: readonly string[];
  /** container faults of capture files */
  faults: readonly string[];
}

/**
 * Every field of the report's input but its flows (analysis.json writes them before its flows, but the
 * warnings, known last, after them).
 */
export function reportInputHead(
  a: AnalysisHead,
  bundleDir: string,
  ladderPackets: number,
): Omit<ReportInput, 'flows'> {
  const m = readManifest(bundleDir);
  const nodes = [...a.topology.nodes.values()].map((n) => ({
    name: n.name,
    kernel: n.kernel,
    claimed: n.claimedDatapath as string,
  }));
  const metadataAbsent = (Array.isArray(m?.metadata) ? (m.metadata as Record<string, unknown>[]) : [])
    .filter((r) => r?.['status'] === 'failed')
    .map((r) => ({ what: String(r['path']), cost: `collection failed: ${String(r['detail'] ?? '')}` }));
  return {
    schema_version: REPORT_INPUT_VERSION,
    bundle: {
      dir: bundleDir,
      path: path.resolve(bundleDir),
      startedAt: str(m?.started_at),
      stoppedAt: str(m?.stopped_at),
      command: Array.isArray(m?.command) ? (m.command as unknown[]).map(String) : null,
      tool: m?.tool ? `${String(m.tool.name)} ${String(m.tool.version)}` : null,
    },
    nodes,
    points: inputPointsOf(a.topology),
    captures: capturesFromManifest(m),
    clockOffsets: a.clockOffsets.map((o) => ({
      node: o.node,
      offsetNs: o.offsetNs,
      errorNs: o.errorNs,
      reference: o.reference,
      matchedFrames: o.matchedFrames,
      via: o.via,
    })),
    warnings: inputWarnings(a),
    missing: [
      ...missingParts(
        bundleDir,
        nodes.map((n) => n.name),
      ),
      ...metadataAbsent,
    ],
    ladderPackets,
  };
}

/** The report's warnings: the topology's, the correlation's and the capture files' faults. */
export function inputWarnings(
  a: Pick<AnalysisHead, 'topology' | 'warnings' | 'faults'>,
): ReportInput['warnings'] {
  return [
    ...a.topology.warnings.map((w) => ({ code: w.code, message: w.message })),
    ...a.warnings.map((w) => ({ code: 'correlate', message: w })),
    ...a.faults.map((w) => ({ code: 'capture-fault', message: w })),
  ];
}

/** The topology's capture points as the report reads them. */
export function inputPointsOf(topology: Topology): InputPoint[] {
  return [...topology.points.values()].map((p) => ({
    id: p.id,
    node: p.node,
    pod: p.pod,
    iface: p.iface,
    kind: p.kind,
  }));
}

/** A flow as the report reads it (its fields in Flow's order), with its ladder. */
export function inputFlowOf(f: Flow, ladder: InputPacket[]): InputFlow {
  return {
    id: f.id,
    proto: f.proto,
    family: f.family,
    client: f.client,
    service: f.service,
    server: f.server,
    packets: f.packets,
    requestPackets: f.requestPackets,
    replyPackets: f.replyPackets,
    bytes: f.bytes,
    firstNs: f.firstNs.toString(),
    lastNs: f.lastNs.toString(),
    communityIdService: f.communityIdService,
    communityIdServer: f.communityIdServer,
    requestPath: f.requestPath,
    replyPath: f.replyPath,
    hops: f.hops,
    ladder,
  };
}
