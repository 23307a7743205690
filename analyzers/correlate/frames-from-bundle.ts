/**
 * Reads a bundle's capture files into one FrameTable with ingest's reader and decoders, resolving each
 * interface to its capture point (ingest/capture-points.ts) and inferring directions the captures did
 * not record from the topology. Also gathers each point's coverage window and drops (DESIGN §3):
 * bundle.json's window when it names the file, else first/last packet.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { placeOf, pointId } from '../../ingest/capture-points.ts';
import { type InterfaceSummary, PacketBatchSink } from '../../ingest/packets-from-capture.ts';
import { type ReadResult, readCapture } from '../../ingest/read-capture.ts';
import { type DirectionResolver, directionResolverFor } from '../topology/direction.ts';
import { isObject, objects, str } from '../topology/json-input.ts';
import { PointKind, type Topology } from '../topology/model.ts';
import { addPoint, ifnameOf } from '../topology/topology-from-sources.ts';
import type { FrameSpool } from './frame-spool.ts';
import { FrameTable } from './frame-table.ts';

/** One capture file's share of a point's coverage: ring-buffer sets leave gaps between files. */
export interface CoverageWindow {
  file: string;
  /** ns since the epoch, on the point's node clock (uncorrected) */
  startNs: bigint | null;
  endNs: bigint | null;
  /** packets this file's capture dropped (when, inside its window, is not known); null: not said */
  drops: number | null;
}

export interface Coverage {
  point: string;
  node: string | null;
  /** ns since the epoch */
  startNs: bigint | null;
  endNs: bigint | null;
  packets: number;
  /** null: the capture did not say */
  drops: number | null;
  files: string[];
  /** per file, in file order: what `flows` judges coverage by (startNs/endNs above are their hull) */
  windows: CoverageWindow[];
}

export interface FrameSet {
  frames: FrameTable;
  /** point ids by FrameTable point number */
  points: string[];
  /** capture files by FrameTable file number (bundle-relative) */
  files: string[];
  coverage: Map<string, Coverage>;
  faults: string[];
}

async function captureFiles(root: string, manifest: unknown): Promise<string[]> {
  if (isObject(manifest)) {
    const listed = objects(manifest['captures'])
      .map((c) => str(c, 'path'))
      .filter((p): p is string => p !== null && !p.split('/').includes('..') && !path.isAbsolute(p));
    if (listed.length > 0) return [...new Set(listed)].sort();
  }
  const entries = await fs.readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile() && /\.(pcap|pcapng)(\.gz|\.zst)?$/.test(e.name))
    .map((e) => path.relative(root, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .filter((rel) => rel.includes('/captures/'))
    .sort();
}

async function readManifest(root: string): Promise<unknown> {
  return fs
    .readFile(path.join(root, 'bundle.json'), 'utf8')
    .then((t) => JSON.parse(t) as unknown)
    .catch(() => undefined);
}

/**
 * Bytes of the bundle's capture files as decoded (compressed files counted at 5x their size, a typical
 * pcap ratio): what decides whether frames fit in memory before reading any.
 */
export async function captureBytes(bundleDir: string): Promise<number> {
  const root = path.resolve(bundleDir);
  let total = 0;
  for (const rel of await captureFiles(root, await readManifest(root))) {
    const size = await fs.stat(path.join(root, rel)).then(
      (st) => st.size,
      () => 0,
    );
    total += /\.(gz|zst)$/.test(rel) ? 5 * size : size;
  }
  return total;
}

/**
 * `spool`: frames go to it (written out chunk by chunk) instead of staying in memory; the FrameSet's
 * `frames` is then the spool's empty table (time base and IPv6 text) and slabs are read from the spool.
 */
export async function framesFromBundle(
  bundleDir: string,
  topology: Topology,
  opts: { spool?: FrameSpool } = {},
): Promise<FrameSet> {
  const root = path.resolve(bundleDir);
  const manifest = await readManifest(root);
  const spool = opts.spool;
  const frames = spool ? spool.table : new FrameTable();
  const points: string[] = [];
  const pointIds = new Map<string, number>();
  const resolvers: (DirectionResolver | null)[] = [];
  const coverage = new Map<string, Coverage>();
  const files = await captureFiles(root, manifest);
  const faults: string[] = [];
  const declared = new Map<string, { start: bigint | null; end: bigint | null; drops: number | null }>();
  if (isObject(manifest))
    for (const c of objects(manifest['captures'])) {
      const p = str(c, 'path');
      const start = str(c, 'start_ns');
      const end = str(c, 'end_ns');
      const drops = c['drops'];
      if (p)
        declared.set(p, {
          start: start ? BigInt(start) : null,
          end: end ? BigInt(end) : null,
          drops: typeof drops === 'number' ? drops : null,
        });
    }

  const localPoint = (id: string): number => {
    let local = pointIds.get(id);
    if (local === undefined) {
      local = points.length;
      points.push(id);
      pointIds.set(id, local);
      const point = topology.points.get(id);
      const node = point?.node ? topology.nodes.get(point.node) : undefined;
      resolvers.push(point ? directionResolverFor(point, node?.gatewayMacs ?? []) : null);
    }
    return local;
  };
  // `any` captures: each frame's SLL2 ifindex names the device, resolved through the node's ip link
  const devices = new Map<number, Map<number, number>>();
  const anyParent = new Map<string, string>();
  const devicePoint = (p: number, ifindex: number): number => {
    const any = topology.points.get(points[p]!);
    if (any?.kind !== PointKind.any || any.node === null) return -1;
    let byIndex = devices.get(p);
    if (!byIndex) {
      byIndex = new Map();
      devices.set(p, byIndex);
    }
    let local = byIndex.get(ifindex);
    if (local === undefined) {
      const name = ifnameOf(topology, any.node, ifindex);
      if (name === null) local = -1;
      else {
        const id = `node/${any.node}/${name}`;
        addPoint(topology, { id, node: any.node, pod: null, iface: name, kind: null });
        local = localPoint(id);
        anyParent.set(id, any.id);
      }
      byIndex.set(ifindex, local);
    }
    return local;
  };
  const ingestToLocal = new Uint16Array(65536);
  for (let fileId = 0; fileId < files.length; fileId++) {
    const rel = files[fileId]!;
    const place = placeOf(rel);
    const sink = new PacketBatchSink({
      fileId,
      pointFor: (info) => localPoint(pointId(place, info.section > 0 && info.name ? info.name : null)),
      onBatch: (b) => {
        // the sink's point ids are already ours; an identity map keeps appendBatch general
        for (let i = 0; i < points.length; i++) ingestToLocal[i] = i;
        frames.appendBatch(b, ingestToLocal, (p) => resolvers[p] ?? null, devicePoint);
        spool?.maybeFlush();
      },
    });
    let result: ReadResult;
    let summaries: InterfaceSummary[];
    try {
      result = await readCapture(path.join(root, rel), sink, { file: rel });
      summaries = sink.finish();
    } finally {
      // an interrupt or a failed spool write leaves the sink unfinished: its batch goes back all the same
      sink.dispose();
    }
    if (result.error) faults.push(result.error.line());
    const d = declared.get(rel);
    // the file's last frames (finish() delivers the partial batch); chunks then never span two files
    spool?.flush();
    for (const s of summaries) {
      const id = points[s.pointId]!;
      const cov = coverage.get(id) ?? {
        point: id,
        node: topology.points.get(id)?.node ?? place.node,
        startNs: null,
        endNs: null,
        packets: 0,
        drops: null,
        files: [],
        windows: [],
      };
      const start = d?.start ?? s.firstNs;
      const end = d?.end ?? s.lastNs;
      if (start !== null && (cov.startNs === null || start < cov.startNs)) cov.startNs = start;
      if (end !== null && (cov.endNs === null || end > cov.endNs)) cov.endNs = end;
      cov.packets += s.packets;
      const isb = s.stats ? (s.stats.ifDrop ?? 0) + (s.stats.osDrop ?? 0) : null;
      const drops = d?.drops ?? (isb === null && s.epbDrops === 0 ? null : (isb ?? 0) + s.epbDrops);
      if (drops !== null) cov.drops = (cov.drops ?? 0) + drops;
      cov.files.push(rel);
      cov.windows.push({ file: rel, startNs: start, endNs: end, drops });
      coverage.set(id, cov);
    }
  }
  // a device of an `any` capture was covered exactly when the capture was
  for (const [id, parent] of anyParent) {
    const cov = coverage.get(parent);
    if (cov) coverage.set(id, { ...cov, point: id, packets: 0 });
  }
  return { frames, points, files, coverage, faults };
}
