import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject } from 'ajv';
import type { PointKind } from './iface-match.ts';
import type { NsTarget } from './netns.ts';

/** bundle.json (DESIGN §3). The JSON Schema in bundle.schema.json is the reference; these types mirror it. */
export const bundleSchemaVersion = 1;

export type NetnsRecord = { kind: 'own' } | { kind: 'netns'; name: string } | { kind: 'pid'; pid: number };

export interface CaptureRecord {
  point: string;
  node: string;
  pod: { namespace: string; name: string } | null;
  iface: string;
  kind: PointKind;
  path: string;
  format: 'pcap' | 'pcapng';
  ring_index: number | null;
  start_ns: string;
  end_ns: string;
  late_start: boolean;
  end_reason: 'stopped' | 'limit' | 'vanished' | 'rotated' | 'error';
  packets: number;
  engine_received: number | null;
  drops: number | null;
  loss: 'none' | 'dropped' | 'unknown';
  filter: string | null;
  snaplen: number | null;
}

/** A matching interface without a capture from start_ns to end_ns (see bundle.schema.json). */
export interface NotCapturedRecord {
  point: string;
  node: string;
  pod: { namespace: string; name: string } | null;
  iface: string;
  kind: PointKind;
  reason: 'down' | 'failed';
  detail: string;
  start_ns: string;
  end_ns: string;
  captured_later: boolean;
}

export interface MetadataRecord {
  path: string;
  source: string;
  status: 'ok' | 'absent' | 'failed';
  detail?: string;
}

export interface BundleManifest {
  schema_version: typeof bundleSchemaVersion;
  tool: { name: string; version: string };
  command: string[];
  engine: { name: 'dumpcap' | 'tcpdump' | 'other'; version: string } | null;
  started_at: string;
  stopped_at: string;
  start_ns: string;
  end_ns: string;
  stop_reason: 'signal' | 'duration' | 'limit' | 'interfaces-gone';
  nodes: { name: string; netns: NetnsRecord; hostname?: string }[];
  pods: { namespace: string; name: string; node: string; netns: NetnsRecord }[];
  captures: CaptureRecord[];
  metadata: MetadataRecord[];
  warnings: string[];
  /** Optional (readers may ignore it, so schema_version stays 1): points with no coverage for a while. */
  not_captured?: NotCapturedRecord[];
  /** Present and true when a second signal forced the stop: counts are what was known then. */
  interrupted?: boolean;
}

export function netnsRecord(target: NsTarget): NetnsRecord {
  return target.kind === 'own'
    ? { kind: 'own' }
    : target.kind === 'netns'
      ? { kind: 'netns', name: target.name }
      : { kind: 'pid', pid: target.pid };
}

export const schemaPath = new URL('./bundle.schema.json', import.meta.url);

let validator: (((data: unknown) => boolean) & { errors?: ErrorObject[] | null }) | null = null;

/** Validates a parsed bundle.json; returns one line per problem (`/captures/0/packets: must be integer`). */
export function validateManifest(data: unknown): string[] {
  if (validator === null) {
    const ajv = new Ajv({
      allErrors: true,
      strict: true,
      // The only format we use; a regex keeps ajv-formats (not a dependency) out.
      formats: { 'date-time': /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/ },
    });
    validator = ajv.compile(JSON.parse(readFileSync(schemaPath, 'utf8')) as object);
  }
  if (validator(data)) return [];
  return (validator.errors ?? []).map((e) => {
    const where = e.instancePath === '' ? '(top level)' : e.instancePath;
    const extra = e.keyword === 'additionalProperties' ? ` '${String(e.params['additionalProperty'])}'` : '';
    return `bundle.json ${where}: ${e.message ?? e.keyword}${extra}`;
  });
}
