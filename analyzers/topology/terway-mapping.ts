/**
 * Importer for `terway-cli mapping` text (reference §3.2), in its three historical formats:
 * - v1.17.1+: one pterm tree per ENI (`ENI: <id>`, `MAC:`, `Status:`, `Type:`, `IPs` with
 *   `<ip>  <ns/pod>  <status>` lines), then `Resource DB (N entries)` with `<ns>/<pod> -> <eni> <ips>`;
 * - v1.7-v1.16: a bullet list per ENI slot (`• slot N`, `- eni-…`, `- <mac>`, `- <status>`, `- Type x`,
 *   then `• <ip>  <ns/pod>  <status>`);
 * - <=v1.6: a table `Status | Pod Name | Res ID | Factory Res ID`, Res ID `<ENI MAC>.<ip>`.
 * pterm styles values with ANSI colour codes; they are stripped first. Lines are parsed by dropping the
 * tree glyphs and splitting on runs of two or more spaces, as the reference advises.
 */
import { canonicalIp, canonicalMac } from './ip-text.ts';

export const MappingFormat = Object.freeze({
  tree: 'v1.17+ tree',
  bullets: 'v1.7-v1.16 bullet list',
  table: '<=v1.6 table',
  /** text that matches none of the formats */
  unknown: 'unknown',
} as const);
export type MappingFormat = (typeof MappingFormat)[keyof typeof MappingFormat];

export interface MappingIp {
  ip: string;
  /** `<namespace>/<pod>`, or `<pod>` alone in the table format; null for an idle IP */
  pod: string | null;
  status: string | null;
}

export interface MappingEni {
  eniId: string | null;
  mac: string | null;
  status: string | null;
  type: string | null;
  ips: MappingIp[];
}

export interface TerwayMapping {
  format: MappingFormat;
  enis: MappingEni[];
  /** Resource DB lines (tree format only) */
  resources: { pod: string; eniId: string; ips: string[] }[];
  /** lines that were not understood, kept for a warning */
  unparsed: string[];
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escape sequences are what we strip
const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;
const GLYPHS = /^[\s├└│─┬•*-]+/u;

export function stripAnsi(text: string): string {
  return text.replace(ANSI, '');
}

function ipLine(fields: string[]): MappingIp | null {
  const ip = canonicalIp(fields[0] ?? '');
  if (!ip) return null;
  const rest = fields.slice(1);
  // an idle IP has an empty pod field: `10.0.1.22    Valid`
  const status = rest.length > 0 ? (rest[rest.length - 1] ?? null) : null;
  const pod = rest.length > 1 ? (rest[0] ?? null) : null;
  return { ip, pod: pod === '' ? null : pod, status };
}

const splitFields = (line: string): string[] =>
  line
    .replace(GLYPHS, '')
    .trim()
    .split(/\s{2,}/)
    .filter((f) => f !== '');

function parseTree(lines: string[], out: TerwayMapping): void {
  let eni: MappingEni | null = null;
  let inResources = false;
  for (const raw of lines) {
    const line = raw.replace(GLYPHS, '').trim();
    if (line === '') continue;
    const head = /^ENI:\s*(\S+)/.exec(line);
    if (head) {
      eni = { eniId: head[1] ?? null, mac: null, status: null, type: null, ips: [] };
      out.enis.push(eni);
      inResources = false;
      continue;
    }
    if (/^Resource DB/.test(line)) {
      inResources = true;
      continue;
    }
    if (inResources) {
      const m = /^(\S+)\s+->\s+(\S+)\s+(\S+)/.exec(line);
      if (m) {
        const ips = (m[3] ?? '').split(',').map(canonicalIp);
        out.resources.push({
          pod: m[1] ?? '',
          eniId: m[2] ?? '',
          ips: ips.filter((x): x is string => x !== null),
        });
      } else out.unparsed.push(raw);
      continue;
    }
    const kv = /^(MAC|Status|Type|InhibitExpireAt):\s*(.*)$/.exec(line);
    if (kv && eni) {
      if (kv[1] === 'MAC') eni.mac = canonicalMac(kv[2] ?? '');
      else if (kv[1] === 'Status') eni.status = kv[2] ?? null;
      else if (kv[1] === 'Type') eni.type = kv[2] ?? null;
      continue;
    }
    if (/^(IPs|IPv4 Prefixes|IPv6 Prefixes)$/.test(line)) continue;
    const ip = ipLine(splitFields(raw));
    if (ip && eni) eni.ips.push(ip);
    else out.unparsed.push(raw);
  }
}

function parseBullets(lines: string[], out: TerwayMapping): void {
  let eni: MappingEni | null = null;
  for (const raw of lines) {
    const line = raw.replace(GLYPHS, '').trim();
    if (line === '') continue;
    if (/^slot\s+\d+$/.test(line)) {
      eni = { eniId: null, mac: null, status: null, type: null, ips: [] };
      out.enis.push(eni);
      continue;
    }
    if (!eni) {
      out.unparsed.push(raw);
      continue;
    }
    const mac = canonicalMac(line);
    const ip = ipLine(splitFields(raw));
    if (/^eni-\S+$/.test(line)) eni.eniId = line;
    else if (mac) eni.mac = mac;
    else if (/^Type\s+/.test(line)) eni.type = line.replace(/^Type\s+/, '');
    else if (/^InhibitExpireAt\b/.test(line)) continue;
    else if (ip) eni.ips.push(ip);
    else if (/^[A-Za-z]+$/.test(line)) eni.status = line;
    else out.unparsed.push(raw);
  }
}

function parseTable(lines: string[], out: TerwayMapping): void {
  const byMac = new Map<string, MappingEni>();
  for (const raw of lines.slice(1)) {
    const cols = raw.split('|').map((c) => c.trim());
    if (cols.length < 3) {
      if (raw.trim() !== '') out.unparsed.push(raw);
      continue;
    }
    // Res ID is `<ENI MAC>.<ip>`: the MAC has no dots, so the IP starts after the 17th character
    const res = /^([0-9a-fA-F:]{17})\.(.+)$/.exec(cols[2] ?? '');
    const mac = res ? canonicalMac(res[1] ?? '') : null;
    const ip = res ? canonicalIp(res[2] ?? '') : null;
    if (!mac || !ip) {
      out.unparsed.push(raw);
      continue;
    }
    let eni = byMac.get(mac);
    if (!eni) {
      eni = { eniId: null, mac, status: null, type: null, ips: [] };
      byMac.set(mac, eni);
      out.enis.push(eni);
    }
    eni.ips.push({ ip, pod: cols[1] === '' ? null : (cols[1] ?? null), status: cols[0] ?? null });
  }
}

export function terwayMappingFromText(text: string): TerwayMapping {
  const lines = stripAnsi(text).split(/\r?\n/);
  const out: TerwayMapping = { format: MappingFormat.unknown, enis: [], resources: [], unparsed: [] };
  const first = lines.find((l) => l.trim() !== '')?.trim() ?? '';
  if (/^Status\s*\|\s*Pod Name\s*\|/.test(first)) {
    out.format = MappingFormat.table;
    parseTable(lines.slice(lines.indexOf(lines.find((l) => l.trim() !== '') ?? '')), out);
  } else if (/^ENI:\s/.test(first)) {
    out.format = MappingFormat.tree;
    parseTree(lines, out);
  } else if (/^[•*]\s*slot\s+\d+/u.test(first)) {
    out.format = MappingFormat.bullets;
    parseBullets(lines, out);
  } else if (first !== '') {
    out.unparsed.push(...lines.filter((l) => l.trim() !== ''));
  }
  return out;
}
