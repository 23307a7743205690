import type { InputError } from './errors.ts';
import { readCapture } from './read-capture.ts';
import type { ContainerInfo, InterfaceInfo, InterfaceStats, RecordSink } from './record.ts';
import { formatEpochNs, formatIsoNs, lanesToBigInt } from './timestamp.ts';

/** What `hoptrace info` shows about one capture file (capinfos-like). */
export interface CaptureInfo {
  file: string;
  container: ContainerInfo;
  interfaces: (InterfaceInfo & { linkTypeName: string; packets: number })[];
  packets: number;
  /** Captured bytes of all packets. */
  dataBytes: number;
  /** Decompressed bytes read. */
  fileBytes: number;
  /** Earliest and latest packet time in ns (packets without a timestamp are left out), null without any. */
  firstNs: bigint | null;
  lastNs: bigint | null;
  /** Latest ISB per interface (ISB counters are cumulative). */
  stats: InterfaceStats[];
  drops: { ifDrop: number | null; osDrop: number | null };
  warnings: { fileOffset: number; code: string; detail: string }[];
}

/** LINKTYPE_* names for the link types a Kubernetes node capture is likely to hold. */
const LINK_NAMES: Record<number, string> = {
  0: 'NULL',
  1: 'ETHERNET',
  9: 'PPP',
  12: 'RAW',
  14: 'RAW',
  101: 'RAW',
  104: 'C_HDLC',
  105: 'IEEE802_11',
  108: 'LOOP',
  113: 'LINUX_SLL',
  127: 'IEEE802_11_RADIOTAP',
  228: 'IPV4',
  229: 'IPV6',
  239: 'NFLOG',
  253: 'NETLINK',
  274: 'ETHERNET_MPACKET',
  276: 'LINUX_SLL2',
};

export function linkTypeName(linkType: number): string {
  return LINK_NAMES[linkType] ?? `LINKTYPE_${linkType}`;
}

/** Read a whole capture and summarise it. A container fault is thrown as the InputError. */
export async function captureInfo(path: string, file = path): Promise<CaptureInfo> {
  const interfaces: CaptureInfo['interfaces'] = [];
  const lastStats = new Map<number, InterfaceStats>();
  let first: bigint | null = null;
  let last: bigint | null = null;
  let dataBytes = 0;
  const noop = () => {};
  const sink: RecordSink = {
    container: noop,
    warning: noop,
    interface: (i) => interfaces.push({ ...i, linkTypeName: linkTypeName(i.linkType), packets: 0 }),
    stats: (s) => lastStats.set(s.interfaceIndex, s),
    packet: (r) => {
      dataBytes += r.caplen;
      const iface = interfaces[r.interfaceIndex];
      if (iface !== undefined) iface.packets++;
      if (!r.tsValid) return;
      const ns = lanesToBigInt(r.tsLo, r.tsHi);
      if (first === null || ns < first) first = ns;
      if (last === null || ns > last) last = ns;
    },
  };
  const res = await readCapture(path, sink, { file });
  if (res.error !== null) throw res.error satisfies InputError;
  if (res.container === null) throw new Error(`${file}: read ended without a container`);
  const stats = [...lastStats.values()];
  const sum = (key: 'ifDrop' | 'osDrop') =>
    stats.some((s) => s[key] !== null) ? stats.reduce((n, s) => n + (s[key] ?? 0), 0) : null;
  return {
    file,
    container: res.container,
    interfaces,
    packets: res.records,
    dataBytes,
    fileBytes: res.bytes,
    firstNs: first,
    lastNs: last,
    stats,
    drops: { ifDrop: sum('ifDrop'), osDrop: sum('osDrop') },
    warnings: res.warnings,
  };
}

/** Human-readable report, one `name: value` line per fact. */
export function formatInfo(info: CaptureInfo): string {
  const c = info.container;
  const lines: [string, string][] = [
    ['File', info.file],
    ['Format', `${c.format} ${c.versionMajor}.${c.versionMinor}, ${c.bigEndian ? 'big' : 'little'}-endian`],
    ['Compression', c.compression],
    ['Sections', String(c.sections)],
    ['Interfaces', String(info.interfaces.length)],
  ];
  for (const i of info.interfaces) {
    const where = i.section > 0 ? ` (section ${i.section}, id ${i.interfaceId})` : '';
    const parts = [
      `link type ${i.linkType} (${i.linkTypeName})`,
      `snaplen ${i.snaplen}`,
      `ts resolution ${i.tsResolution}`,
      ...(i.tsOffsetSec !== 0 ? [`ts offset ${i.tsOffsetSec} s`] : []),
      ...(i.fcsLen >= 0 ? [`FCS ${i.fcsLen} bytes`] : []),
      `${i.packets} packets`,
    ];
    lines.push([`  #${i.interfaceIndex}${i.name !== null ? ` ${i.name}` : ''}${where}`, parts.join(', ')]);
  }
  lines.push(['Packets', String(info.packets)], ['Data bytes', String(info.dataBytes)]);
  if (info.firstNs !== null && info.lastNs !== null) {
    lines.push(
      ['First packet', formatIsoNs(info.firstNs)],
      ['Last packet', formatIsoNs(info.lastNs)],
      ['Duration', `${formatEpochNs(info.lastNs - info.firstNs)} s`],
    );
  }
  if (info.drops.ifDrop !== null) lines.push(['Dropped (ISB if_drop)', String(info.drops.ifDrop)]);
  if (info.drops.osDrop !== null) lines.push(['Dropped (ISB os_drop)', String(info.drops.osDrop)]);
  for (const w of info.warnings) lines.push(['Warning', `byte ${w.fileOffset}: ${w.detail} (${w.code})`]);
  // Interface lines are indented under "Interfaces" and do not set the column.
  const width = Math.max(...lines.filter(([k]) => !k.startsWith(' ')).map(([k]) => k.length)) + 2;
  const line = ([k, v]: [string, string]) =>
    k.startsWith(' ') ? `${k}: ${v}` : `${`${k}:`.padEnd(width)}${v}`;
  return `${lines.map(line).join('\n')}\n`;
}

/** JSON form: exact ns as decimal strings. */
export function infoJson(info: CaptureInfo): unknown {
  const ns = (v: bigint | null) => (v === null ? null : v.toString());
  return {
    ...info,
    firstNs: ns(info.firstNs),
    lastNs: ns(info.lastNs),
    first: info.firstNs === null ? null : formatIsoNs(info.firstNs),
    last: info.lastNs === null ? null : formatIsoNs(info.lastNs),
    durationNs: info.firstNs === null || info.lastNs === null ? null : ns(info.lastNs - info.firstNs),
  };
}
