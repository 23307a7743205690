/**
 * Capture point identities from where a file sits in a bundle (DESIGN §3):
 *   nodes/<node>/captures/<iface>.pcap[ng]          -> node/<node>/<iface>
 *   nodes/<node>/captures/<iface>_<NNNNN>_<stamp>.pcapng (ring file) -> node/<node>/<iface>
 *   pods/<ns>/<pod>/captures/<iface>.pcap[ng]        -> pod/<ns>/<pod>/<iface>
 * A multi-interface pcapng names its interfaces by IDB if_name; an `any` capture is one point.
 * Files outside a bundle layout become `file/<name>` points without a node.
 */

export type PointKind = 'pod-eth0' | 'veth' | 'eni' | 'primary' | 'any' | 'other';

export interface FilePlace {
  /** node name, or null when the file is not inside a bundle's nodes/ folder */
  node: string | null;
  /** `<namespace>/<pod>` for pod captures */
  pod: string | null;
  /** interface named by the file name (without ring suffix and extension) */
  iface: string;
  /** ring-buffer sequence number, when the file name has one */
  ringIndex: number | null;
}

const RING = /^(.+)_(\d{5})_(\d{14})$/;
const CAPTURE_EXT = /(\.pcapng|\.pcap|\.cap)?(\.gz|\.zst)?$/i;

/** Where a capture file sits; `relPath` uses `/` and is relative to the bundle root when there is one. */
export function placeOf(relPath: string): FilePlace {
  const parts = relPath.split('/').filter((p) => p !== '' && p !== '.');
  const base = (parts[parts.length - 1] ?? relPath).replace(CAPTURE_EXT, '');
  const ring = RING.exec(base);
  const iface = ring ? ring[1]! : base;
  const ringIndex = ring ? Number(ring[2]) : null;
  const n = parts.length;
  if (n >= 4 && parts[n - 4] === 'nodes' && parts[n - 2] === 'captures') {
    return { node: parts[n - 3]!, pod: null, iface, ringIndex };
  }
  if (n >= 5 && parts[n - 5] === 'pods' && parts[n - 2] === 'captures') {
    return { node: null, pod: `${parts[n - 4]}/${parts[n - 3]}`, iface, ringIndex };
  }
  return { node: null, pod: null, iface, ringIndex };
}

/**
 * The capture point of one interface of a file. `ifName` is the pcapng if_name (multi-interface
 * files), or null to use the interface named by the file.
 */
export function pointId(place: FilePlace, ifName: string | null): string {
  const iface = ifName ?? place.iface;
  if (place.pod) return `pod/${place.pod}/${iface}`;
  if (place.node) return `node/${place.node}/${iface}`;
  return `file/${iface}`;
}

/**
 * Kind from the interface name alone; the topology (analyzers) refines it from `ip -j link`.
 * Terway names pod veths `cali*`; the primary ENI is eth0 and secondary ENIs eth1.. on the node.
 */
export function kindOf(place: FilePlace, iface: string): PointKind {
  if (iface === 'any') return 'any';
  // outside a bundle nothing says whose interface this was
  if (!place.pod && !place.node) return 'other';
  if (place.pod) return iface === 'eth0' ? 'pod-eth0' : 'other';
  if (iface.startsWith('cali') || iface.startsWith('lxc') || iface.startsWith('veth')) return 'veth';
  if (iface === 'eth0') return 'primary';
  if (/^eth\d+$/.test(iface)) return 'eni';
  return 'other';
}
