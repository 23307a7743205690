import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ReaderRecord } from '../../../ingest/read-capture.ts';
import type {
  ContainerInfo,
  InterfaceInfo,
  InterfaceStats,
  PacketRecord,
  RecordSink,
} from '../../../ingest/record.ts';
import { lanesToBigInt } from '../../../ingest/timestamp.ts';

/** A plain copy of what a sink sees for one record (the reader's own object is reused). */
export interface Rec {
  frame: number;
  caplen: number;
  wirelen: number;
  ns: bigint | null;
  linkType: number;
  interfaceIndex: number;
  interfaceId: number;
  section: number;
  flags: number;
  dropCount: number;
  fileOffset: number;
  data: string;
  packetId: bigint | null;
  hashLen: number;
}

export interface Collected {
  containers: ContainerInfo[];
  interfaces: InterfaceInfo[];
  stats: InterfaceStats[];
  records: Rec[];
  warnings: string[];
}

export function collector(): { sink: RecordSink; got: Collected } {
  const got: Collected = { containers: [], interfaces: [], stats: [], records: [], warnings: [] };
  const sink: RecordSink = {
    container: (c) => got.containers.push({ ...c }),
    interface: (i) => got.interfaces.push({ ...i }),
    stats: (s) => got.stats.push({ ...s }),
    warning: (at, code, detail) => got.warnings.push(`${at} ${code} ${detail}`),
    packet: (r: PacketRecord) => {
      const x = r as ReaderRecord;
      got.records.push({
        frame: r.frame,
        caplen: r.caplen,
        wirelen: r.wirelen,
        ns: r.tsValid ? lanesToBigInt(r.tsLo, r.tsHi) : null,
        linkType: r.linkType,
        interfaceIndex: r.interfaceIndex,
        interfaceId: r.interfaceId,
        section: r.section,
        flags: r.flags,
        dropCount: r.dropCount,
        fileOffset: r.fileOffset,
        data: Buffer.from(r.bytes.subarray(r.at, r.at + r.caplen)).toString('hex'),
        packetId: x.packetIdLo === -1 ? null : (BigInt(x.packetIdHi) << 32n) | BigInt(x.packetIdLo),
        hashLen: x.hashLen,
      });
    },
  };
  return { sink, got };
}

/** A sink that only counts (for throughput and fuzzing). */
export function counter(): { sink: RecordSink; n: { packets: number; bytes: number } } {
  const n = { packets: 0, bytes: 0 };
  const noop = () => {};
  return {
    n,
    sink: {
      container: noop,
      interface: noop,
      stats: noop,
      warning: noop,
      packet: (r) => {
        n.packets++;
        n.bytes += r.caplen;
      },
    },
  };
}

const here = dirname(fileURLToPath(import.meta.url));
export const projectRoot = resolve(here, '../../..');
export const corpusRoot = resolve(projectRoot, '../shared/corpus');

/**
 * The corpus lives outside the repo. Locally a missing corpus skips; in CI (CI=true) it fails, so a
 * broken checkout cannot pass by testing nothing.
 */
export function corpusOrSkip(): string | null {
  if (existsSync(resolve(corpusRoot, 'reference/STATUS.tsv'))) return corpusRoot;
  if (process.env['CI'] === 'true')
    throw new Error(`corpus not found at ${corpusRoot} (required when CI=true)`);
  return null;
}
