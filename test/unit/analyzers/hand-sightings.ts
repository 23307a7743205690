import { FrameTable } from '../../../analyzers/correlate/frame-table.ts';
import type { Sightings } from '../../../analyzers/correlate/sightings.ts';
import { PointKind } from '../../../analyzers/topology/model.ts';

/** One frame of a synthetic sighting: its point, file, and addresses (a number: IPv4; a string: IPv6; null: no IP). */
export interface Row {
  point: number;
  file: number;
  src: number | string | null;
  dst: number | string | null;
}

/** Sightings of one row per packet, made by hand: the values the lab bundles do not produce. */
export function sightingsOf(rows: readonly Row[], points: string[], pointNode: (string | null)[]): Sightings {
  const n = rows.length;
  const f = new FrameTable(Math.max(16, n));
  f.baseNs = 1_000n;
  rows.forEach((r, i) => {
    f.point[i] = r.point;
    f.file[i] = r.file;
    f.frame[i] = i + 1;
    const v = r.src === null ? 0 : typeof r.src === 'number' ? 4 : 6;
    f.ipVersion[i] = v;
    f.proto[i] = 17;
    if (v === 4) {
      f.src[i] = r.src as number;
      f.dst[i] = r.dst as number;
    } else if (v === 6) {
      f.src[i] = f.intern6(r.src as string);
      f.dst[i] = f.intern6(r.dst as string);
    }
  });
  f.length = n;
  const seq = (k: number) => Uint32Array.from({ length: k }, (_, i) => i);
  return {
    frames: f,
    points,
    pointNode,
    pointKind: points.map(() => PointKind.other),
    length: n,
    packet: seq(n),
    hop: new Uint16Array(n),
    point: Uint16Array.from(rows, (r) => r.point),
    frame: Int32Array.from(seq(n)),
    count: new Uint32Array(n).fill(1),
    t: Float64Array.from(seq(n)),
    bytes: new Float64Array(n).fill(60),
    role: new Uint8Array(n),
    rewrite: new Uint8Array(n),
    collided: new Uint8Array(n),
    packetStart: Int32Array.from(seq(n + 1)),
    packets: n,
  };
}
