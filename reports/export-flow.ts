/**
 * `exportFlow`: one flow's evidence as a pcapng for Wireshark (issue 7, "Hand-off to Wireshark").
 * Every sighting of the flow's packets (request and reply, every capture point) is listed by the
 * dataset's `sightings` table (file + frame, clock-corrected time); the frames themselves are read
 * again from the bundle's capture files with the project's reader, checked against the `packets`
 * table (so a capture changed since the analysis is refused, not silently mixed in), and written with
 * one IDB per capture point (`if_name` = the point id), in corrected time order, direction in
 * `epb_flags`, the dataset's packet id in `epb_packetid` (equal on every sighting of one packet, so
 * Wireshark's `frame.packet_id` ties them together) and a comment naming point, hop, NAT rewrite and
 * the packet's verdict.
 *
 * The flow's frames are held in memory until written (they must be merged across files by time): a
 * flow is usually small; a bulk transfer of N packets over P points costs about N x P frames.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../cli/usage-error.ts';
import { openDataset } from '../ingest/dataset/open-dataset.ts';
import { readCapture } from '../ingest/read-capture.ts';
import type { InterfaceInfo, PacketRecord, RecordSink } from '../ingest/record.ts';
import { ANALYSIS_JSON, flowOfAnalysisDir } from './analysis-dir.ts';
import { EpbDirection, PcapngWriter } from './pcapng-writer.ts';
import type { Check, VerdictFlow } from './read-verdicts.ts';
import type { InputFlow, ReportInput } from './report-input.ts';

export interface ExportOptions {
  /** pcapng to write; default `flow-<id>.pcapng` in the current folder */
  out?: string;
  /** the capture bundle, when it is no longer where the analysis found it */
  bundle?: string;
}

export interface ExportSummary {
  out: string;
  flow: number;
  frames: number;
  packets: number;
  interfaces: string[];
  bundle: string;
}

/** One row of `sightings` for the flow, as the query below returns it. */
interface SightingRow {
  packet: number;
  hop: number;
  point: string;
  node: string | null;
  kind: string;
  direction: string;
  tsNs: bigint;
  rewrite: string | null;
  file: string;
  frame: number;
  proto: number;
  src: string;
  dst: string;
  ttl: number;
  icmpType: number | null;
  sightings: number;
}

interface Frame {
  data: Uint8Array;
  wirelen: number;
  linkType: number;
  fcsLen: number;
  flags: number;
  rawTsNs: bigint;
}

const SIGHTINGS_SQL = `SELECT s.packet_id, s.hop, s.capture_point, s.node, s.point_kind, s.direction, s.ts_ns, s.rewrite,
    s.file, s.frame, s.ip_proto, s.src_ip, s.dst_ip, s.src_port, s.dst_port, s.ttl, s.icmp_type,
    count(*) OVER (PARTITION BY s.packet_id) AS sightings
  FROM sightings s WHERE s.flow_id = $1 ORDER BY s.ts_ns, s.packet_id, s.hop`;

/** What the analysis recorded of each frame, to check that the capture file is still the same one. */
const PACKETS_SQL = `SELECT p.file, p.frame, p.caplen, p.ts_ns FROM packets p
  SEMI JOIN (SELECT file, frame FROM sightings WHERE flow_id = $1) s ON p.file = s.file AND p.frame = s.frame`;

const endpoint = (ip: string, port: number | null) =>
  port === null ? ip : ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;

async function flowSightings(
  datasetDir: string,
  flow: number,
): Promise<{
  rows: SightingRow[];
  recorded: Map<string, { caplen: number; tsNs: bigint }>;
}> {
  const ds = await openDataset(datasetDir, { memoryLimit: '512MB' });
  try {
    const views = await ds.con.runAndReadAll(`SELECT view_name FROM duckdb_views() WHERE NOT internal`);
    const have = new Set(views.getRowsJS().map((r) => String(r[0])));
    if (!have.has('sightings'))
      throw new UsageError(`${datasetDir}: no sightings table (written by hoptrace analyze)`);
    const reader = await ds.con.runAndReadAll(SIGHTINGS_SQL, [flow]);
    const rows = reader.getRowsJS().map((r): SightingRow => {
      const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
      return {
        packet: Number(r[0]),
        hop: Number(r[1]),
        point: String(r[2]),
        node: r[3] === null ? null : String(r[3]),
        kind: String(r[4]),
        direction: String(r[5]),
        tsNs: BigInt(r[6] as bigint),
        rewrite: r[7] === null ? null : String(r[7]),
        file: String(r[8]),
        frame: Number(r[9]),
        proto: Number(r[10]),
        src: endpoint(String(r[11] ?? '?'), num(r[13])),
        dst: endpoint(String(r[12] ?? '?'), num(r[14])),
        ttl: Number(r[15]),
        icmpType: num(r[16]),
        sightings: Number(r[17]),
      };
    });
    const recorded = new Map<string, { caplen: number; tsNs: bigint }>();
    if (have.has('packets')) {
      const p = await ds.con.runAndReadAll(PACKETS_SQL, [flow]);
      for (const r of p.getRowsJS())
        recorded.set(frameKey(String(r[0]), Number(r[1])), {
          caplen: Number(r[2]),
          tsNs: BigInt(r[3] as bigint),
        });
    }
    return { rows, recorded };
  } finally {
    ds.close();
  }
}

const frameKey = (file: string, frame: number) => `${frame}\0${file}`;

/** Thrown by the sink once every wanted frame of a file is in: ends the read early. */
class AllFramesRead extends Error {}

/** The wanted frames of one capture file, copied out of the reader's buffer. */
async function readFrames(abs: string, display: string, wanted: Set<number>): Promise<Map<number, Frame>> {
  const got = new Map<number, Frame>();
  const ifaces = new Map<number, InterfaceInfo>();
  // a loop, not Math.max(...wanted): a long flow's frames of one file overflow the call's arguments
  let last = -1;
  for (const f of wanted) if (f > last) last = f;
  const sink: RecordSink = {
    container() {},
    interface(info) {
      ifaces.set(info.interfaceIndex, info);
    },
    stats() {},
    warning() {},
    packet(rec: PacketRecord) {
      if (wanted.has(rec.frame)) {
        got.set(rec.frame, {
          // the reader reuses its buffer for the next record: copy
          data: rec.bytes.slice(rec.at, rec.at + rec.caplen),
          wirelen: rec.wirelen,
          linkType: rec.linkType,
          fcsLen: ifaces.get(rec.interfaceIndex)?.fcsLen ?? -1,
          flags: rec.flags,
          rawTsNs: BigInt.asIntN(64, (BigInt(rec.tsHi >>> 0) << 32n) | BigInt(rec.tsLo >>> 0)),
        });
      }
      if (rec.frame >= last && got.size === wanted.size) throw new AllFramesRead();
    },
  };
  try {
    const r = await readCapture(abs, sink, { file: display });
    // a fault after the last wanted frame does not matter; one before it is reported below
    if (r.error !== null && got.size < wanted.size) throw new UsageError(r.error.line());
  } catch (err) {
    if (!(err instanceof AllFramesRead)) throw err;
  }
  const missing = [...wanted].filter((f) => !got.has(f));
  if (missing.length > 0)
    throw new UsageError(
      `${display}: frame${missing.length > 1 ? 's' : ''} ${missing.slice(0, 10).join(', ')} not in the file (changed since the analysis?)`,
    );
  return got;
}

/** The bundle folder: `--bundle`, else where the analysis read it (absolute, then as given). */
async function bundleRoot(input: Pick<ReportInput, 'bundle'>, given: string | undefined): Promise<string> {
  const candidates = given !== undefined ? [given] : [input.bundle.path, input.bundle.dir];
  for (const c of candidates) {
    if (c === undefined || c === null) continue;
    const st = await fs.stat(c).catch(() => null);
    if (st?.isDirectory()) return path.resolve(c);
  }
  const where = given ?? input.bundle.path ?? input.bundle.dir;
  throw new UsageError(
    `capture bundle ${where} not found${given === undefined ? '; pass --bundle <dir>' : ''}`,
  );
}

/** A file name from the dataset, resolved inside the bundle; never a path that leaves it. */
function captureFile(root: string, file: string): string {
  const abs = path.resolve(root, file);
  const rel = path.relative(root, abs);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel))
    throw new UsageError(`capture file ${JSON.stringify(file)} is outside the bundle ${root}`);
  return abs;
}

const PROTO: Record<number, string> = { 1: 'ICMP', 6: 'TCP', 17: 'UDP', 58: 'ICMPv6', 132: 'SCTP' };

/** Was this packet sent by the flow's client (the request leg)? Same rule as report-input.ts. */
function isRequest(first: SightingRow, f: InputFlow): boolean {
  if (first.proto === 1 || first.proto === 58) return first.icmpType === 8 || first.icmpType === 128;
  return first.src === endpoint(f.client.ip, f.client.port);
}

/** The verdict of one sighting: the non-passing checks that cite it, else those that do, else its leg's. */
function sightingVerdict(v: VerdictFlow | null, leg: string, file: string, frame: number): string {
  if (v === null) return 'not evaluated';
  const cites = (c: Check) => c.evidence.some((e) => e.file === file && e.frame === frame);
  const named = v.checks.filter(cites);
  const bad = named.filter((c) => c.status !== 'pass');
  const show = (cs: Check[]) =>
    cs.map((c) => `${c.status} ${c.name}${c.reason ? ` (${c.reason})` : ''}`).join(', ');
  if (bad.length > 0) return show(bad);
  if (named.length > 0) return show(named);
  const ofLeg = v.checks.filter((c) => c.name.endsWith(`.${leg}`));
  const status = ofLeg.some((c) => c.status === 'fail')
    ? 'fail'
    : ofLeg.some((c) => c.status === 'inconclusive')
      ? 'inconclusive'
      : ofLeg.length > 0
        ? 'pass'
        : v.status;
  // no check cites this frame: the packet shares its leg's outcome
  return `${status} (${leg} leg)`;
}

export async function exportFlow(
  dir: string,
  flowId: number,
  opts: ExportOptions = {},
): Promise<ExportSummary> {
  // analysis.json read up to the flow, never whole (a large one is more than a string can hold)
  const found = await flowOfAnalysisDir(dir, flowId);
  const { flow, verdict } = found;
  if (flow === null || found.input === null) {
    // analysis.json lists flows as they ended, out of id order
    throw new UsageError(
      `flow ${flowId}: no such flow in ${path.join(dir, ANALYSIS_JSON)} (${found.flows} flows${found.flows > 0 ? `, ids ${found.low}..${found.high}` : ''})`,
    );
  }
  const input = found.input;
  const { rows, recorded } = await flowSightings(path.join(dir, 'dataset'), flowId);
  if (rows.length === 0) throw new UsageError(`flow ${flowId}: the dataset has no sightings for it`);
  const root = await bundleRoot(input, opts.bundle);

  // read each capture file once, for all its frames of this flow
  const byFile = new Map<string, Set<number>>();
  for (const r of rows) byFile.set(r.file, (byFile.get(r.file) ?? new Set()).add(r.frame));
  const frames = new Map<string, Frame>();
  for (const [file, wanted] of byFile) {
    for (const [n, fr] of await readFrames(captureFile(root, file), file, wanted)) {
      const rec = recorded.get(frameKey(file, n));
      if (rec && (rec.caplen !== fr.data.length || rec.tsNs !== fr.rawTsNs))
        throw new UsageError(`${file} frame ${n}: not the frame the analysis read (capture changed since?)`);
      frames.set(frameKey(file, n), fr);
    }
  }

  // per packet: its leg (from its first sighting) and its sightings in hop order, for NAT text
  const byPacket = new Map<number, SightingRow[]>();
  for (const r of rows) byPacket.set(r.packet, [...(byPacket.get(r.packet) ?? []), r]);
  for (const list of byPacket.values()) list.sort((a, b) => a.hop - b.hop);
  const legOf = new Map<number, 'request' | 'reply'>();
  for (const [p, list] of byPacket) legOf.set(p, isRequest(list[0]!, flow) ? 'request' : 'reply');

  const parts: Uint8Array[] = [];
  const interfaces: string[] = [];
  const w = new PcapngWriter((b) => parts.push(b));
  w.section(
    'hoptrace 0.1.0',
    `hoptrace export: flow ${flowId} (${PROTO[flow.proto] ?? `proto ${flow.proto}`} ${endpoint(flow.client.ip, flow.client.port)} -> ${flow.service ? `${endpoint(flow.service.ip, flow.service.port)} -> ` : ''}${endpoint(flow.server.ip, flow.server.port)}), ${rows.length} sightings of ${byPacket.size} packets; times are clock-corrected; bundle ${input.bundle.dir}`,
  );
  const ifaceOf = new Map<string, number>();
  for (const r of rows) {
    const fr = frames.get(frameKey(r.file, r.frame))!;
    // one IDB per capture point; a second one only if the point's frames come with another link type
    const key = `${r.point}\0${fr.linkType}\0${fr.fcsLen}`;
    let iface = ifaceOf.get(key);
    if (iface === undefined) {
      iface = w.addInterface({
        name: r.point,
        linkType: fr.linkType,
        description: `hoptrace capture point ${r.point} (${r.kind}${r.node ? ` on ${r.node}` : ''})`,
        ...(fr.fcsLen >= 0 ? { fcsLen: fr.fcsLen } : {}),
      });
      ifaceOf.set(key, iface);
      interfaces.push(r.point);
    }
    const leg = legOf.get(r.packet)!;
    const seq = byPacket.get(r.packet)!;
    const prev = seq[seq.indexOf(r) - 1];
    const nat =
      r.rewrite !== null && prev !== undefined
        ? ` | NAT since ${prev.point} ${prev.direction} (${r.rewrite.replaceAll(',', ' ')}): ${prev.src} > ${prev.dst} became ${r.src} > ${r.dst}`
        : '';
    const dirBits =
      r.direction === 'in'
        ? EpbDirection.inbound
        : r.direction === 'out'
          ? EpbDirection.outbound
          : EpbDirection.unknown;
    w.packet({
      iface,
      tsNs: r.tsNs,
      data: fr.data,
      origLen: fr.wirelen,
      // keep the capture's other flag bits (reception type, FCS length, errors); direction is ours.
      // -1: the capture had no epb_flags
      flags: ((fr.flags === -1 ? 0 : fr.flags) & ~3) | dirBits,
      packetId: BigInt(r.packet),
      comments: [
        `hoptrace flow ${flowId} packet ${r.packet} ${leg} | hop ${r.hop} (${seq.indexOf(r) + 1} of ${r.sightings}) at ${r.point} ${r.direction} | ${r.src} > ${r.dst} ttl ${r.ttl}${nat} | verdict: ${sightingVerdict(verdict, leg, r.file, r.frame)} | ${r.file} frame ${r.frame}`,
      ],
    });
  }
  // written whole and renamed into place: Wireshark never opens half a file
  const out = path.resolve(opts.out ?? `flow-${flowId}.pcapng`);
  const tmp = `${out}.tmp-${process.pid}`;
  try {
    await fs.writeFile(tmp, Buffer.concat(parts));
    await fs.rename(tmp, out);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
  return { out, flow: flowId, frames: rows.length, packets: byPacket.size, interfaces, bundle: root };
}
