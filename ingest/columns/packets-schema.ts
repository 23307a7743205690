/**
 * The one list of the `packets` table's columns. The DuckDB staging table, the Parquet files, the
 * `packets` SQL view, the Arrow schema and the README's column table are all made from it.
 *
 * Three layers, each a projection of the one before:
 * - storage: the typed arrays of `PacketColumns` (what decoders write);
 * - Parquet: what any engine (DuckDB, Spark, Trino) reads on disk: addresses as integers/bytes;
 * - view: what `hoptrace sql` shows: addresses, MACs and directions as text.
 */
import type { PacketColumns } from './packet-columns.ts';

/** Keys of PacketColumns that hold a typed array of one of these element types. */
type KeysOf<T> = { [K in keyof PacketColumns]: PacketColumns[K] extends T ? K : never }[keyof PacketColumns];
export type U8Key = KeysOf<Uint8Array>;
export type U16Key = KeysOf<Uint16Array>;
export type U32Key = KeysOf<Uint32Array>;

/**
 * How a staging column is read from storage.
 * - `u8|u16|u32`: one element per row.
 * - `u64`: two uint32 lanes per row (lo, hi) read as one 64-bit value.
 * - `f64`: one float64 per row (exact integers below 2^53).
 * - `ip6`: 16 bytes per row, staged as a BLOB.
 * - `vlan`: the k-th of the four interleaved VLAN ids.
 * Validity: `valid` names a byte array (1 = present); `whenIpVersion` makes a column present only
 * where the (inner) IP version matches; neither means never NULL.
 */
export type StageSource =
  | { kind: 'u8'; data: U8Key }
  | { kind: 'u16'; data: U16Key }
  | { kind: 'u32'; data: U32Key }
  | { kind: 'u64'; data: U32Key }
  | { kind: 'f64'; data: 'fileOffset' }
  | { kind: 'ip6'; data: U8Key }
  | { kind: 'vlan'; index: number };

export type StageType = 'UTINYINT' | 'USMALLINT' | 'UINTEGER' | 'UBIGINT' | 'BIGINT' | 'DOUBLE' | 'BLOB';

export interface StageColumn {
  name: string;
  type: StageType;
  source: StageSource;
  valid?: U8Key;
  whenIpVersion?: { column: 'ipVersion' | 'innerIpVersion'; version: 4 | 6 };
}

const u8 = (name: string, data: U8Key, valid?: U8Key): StageColumn => ({
  name,
  type: 'UTINYINT',
  source: { kind: 'u8', data },
  ...(valid ? { valid } : {}),
});
const u16 = (name: string, data: U16Key, valid?: U8Key): StageColumn => ({
  name,
  type: 'USMALLINT',
  source: { kind: 'u16', data },
  ...(valid ? { valid } : {}),
});
const u32 = (name: string, data: U32Key, valid?: U8Key): StageColumn => ({
  name,
  type: 'UINTEGER',
  source: { kind: 'u32', data },
  ...(valid ? { valid } : {}),
});
const u64 = (
  name: string,
  data: U32Key,
  valid: U8Key,
  type: 'UBIGINT' | 'BIGINT' = 'UBIGINT',
): StageColumn => ({
  name,
  type,
  source: { kind: 'u64', data },
  valid,
});
const ip4 = (name: string, data: U32Key, column: 'ipVersion' | 'innerIpVersion'): StageColumn => ({
  name,
  type: 'UINTEGER',
  source: { kind: 'u32', data },
  whenIpVersion: { column, version: 4 },
});
const ip6 = (name: string, data: U8Key, column: 'ipVersion' | 'innerIpVersion'): StageColumn => ({
  name,
  type: 'BLOB',
  source: { kind: 'ip6', data },
  whenIpVersion: { column, version: 6 },
});

/** The staging table: storage copied as-is, vector by vector. */
export const stageColumns: readonly StageColumn[] = [
  u16('point_id', 'point'),
  u16('file_id', 'file'),
  u32('frame', 'frame'),
  { name: 'file_offset', type: 'DOUBLE', source: { kind: 'f64', data: 'fileOffset' } },
  u64('ts_ns', 'ts', 'tsValid', 'BIGINT'),
  u32('caplen', 'caplen'),
  u32('wirelen', 'wirelen'),
  u8('direction', 'direction'),
  u32('interface_id', 'interfaceId', 'interfaceIdValid'),
  u32('section', 'section', 'sectionValid'),
  u16('link_type', 'linkType'),
  u64('src_mac', 'srcMac', 'srcMacValid'),
  u64('dst_mac', 'dstMac', 'dstMacValid'),
  u8('vlan_count', 'vlanCount'),
  { name: 'vlan0', type: 'USMALLINT', source: { kind: 'vlan', index: 0 } },
  { name: 'vlan1', type: 'USMALLINT', source: { kind: 'vlan', index: 1 } },
  { name: 'vlan2', type: 'USMALLINT', source: { kind: 'vlan', index: 2 } },
  { name: 'vlan3', type: 'USMALLINT', source: { kind: 'vlan', index: 3 } },
  u16('ethertype', 'ethertype', 'ethertypeValid'),
  u32('sll_ifindex', 'ifindex', 'ifindexValid'),
  u8('ip_version', 'ipVersion'),
  ip4('src_ip4', 'srcIp4', 'ipVersion'),
  ip4('dst_ip4', 'dstIp4', 'ipVersion'),
  ip6('src_ip6', 'srcIp6', 'ipVersion'),
  ip6('dst_ip6', 'dstIp6', 'ipVersion'),
  u8('ip_proto', 'ipProto', 'ipProtoValid'),
  u32('ip_id', 'ipId', 'ipIdValid'),
  u8('ttl', 'ttl', 'ttlValid'),
  u8('dscp', 'dscp', 'dscpValid'),
  u16('frag_offset', 'fragOffset', 'fragOffsetValid'),
  u8('more_fragments', 'moreFragments', 'moreFragmentsValid'),
  u32('ip_payload_len', 'ipPayloadLen', 'ipPayloadLenValid'),
  u32('flow_label', 'flowLabel', 'flowLabelValid'),
  u16('src_port', 'srcPort', 'portsValid'),
  u16('dst_port', 'dstPort', 'portsValid'),
  u32('tcp_seq', 'tcpSeq', 'tcpValid'),
  u32('tcp_ack', 'tcpAck', 'tcpValid'),
  u16('tcp_flags', 'tcpFlags', 'tcpValid'),
  u8('tcp_hdr_len', 'tcpHdrLen', 'tcpValid'),
  u16('tcp_window', 'tcpWindow', 'tcpValid'),
  u32('tcp_payload_len', 'tcpPayloadLen', 'tcpPayloadLenValid'),
  u32('payload_len', 'payloadLen', 'payloadLenValid'),
  u8('icmp_type', 'icmpType', 'icmpValid'),
  u8('icmp_code', 'icmpCode', 'icmpValid'),
  u16('icmp_id', 'icmpId', 'icmpEchoValid'),
  u16('icmp_seq', 'icmpSeq', 'icmpEchoValid'),
  u32('vni', 'vni', 'vniValid'),
  u8('inner_ip_version', 'innerIpVersion'),
  ip4('inner_src_ip4', 'innerSrcIp4', 'innerIpVersion'),
  ip4('inner_dst_ip4', 'innerDstIp4', 'innerIpVersion'),
  ip6('inner_src_ip6', 'innerSrcIp6', 'innerIpVersion'),
  ip6('inner_dst_ip6', 'innerDstIp6', 'innerIpVersion'),
  u8('inner_ip_proto', 'innerIpProto', 'innerIpProtoValid'),
  u16('inner_src_port', 'innerSrcPort', 'innerPortsValid'),
  u16('inner_dst_port', 'innerDstPort', 'innerPortsValid'),
  u64('payload_hash', 'payloadHash', 'payloadHashValid'),
  u64('fingerprint', 'fingerprint', 'fingerprintValid'),
  u16('decode_error_id', 'decodeError'),
];

/**
 * A public column: its Parquet expression over the staging table `s` (joined with the point
 * dictionary `p`, the file dictionary `f` and the error dictionary `e`), and its view expression
 * over the Parquet columns. `doc` goes to the README.
 */
export interface PacketField {
  name: string;
  doc: string;
  /** SQL over the staging table; default: the same-named staging column; null: computed in the view only */
  parquet?: string | null;
  /** SQL over the Parquet columns in the `packets` view; default: the column itself; null: not in the view */
  view?: string | null;
}

export const packetFields: readonly PacketField[] = [
  {
    name: 'capture_point',
    doc: 'capture point id: `node/<node>/<iface>` or `pod/<ns>/<pod>/<iface>`',
    parquet: 'p.capture_point',
  },
  {
    name: 'file',
    doc: 'capture file, relative to the bundle (or as named on the command line)',
    parquet: 'f.file',
  },
  { name: 'frame', doc: '1-based number of the packet record in its file (other blocks not counted)' },
  {
    name: 'file_offset',
    doc: 'byte offset of the record in the (decompressed) file',
    parquet: 's.file_offset::UBIGINT',
  },
  {
    name: 'ts_ns',
    doc: 'capture time, ns since the Unix epoch (exact); NULL for records without a timestamp',
  },
  { name: 'caplen', doc: 'captured length in bytes' },
  { name: 'wirelen', doc: 'original length on the wire in bytes' },
  {
    name: 'direction',
    doc: '`in` or `out` as the capture recorded it (pcapng epb_flags, SLL packet type); NULL when unknown',
    parquet: "CASE s.direction WHEN 1 THEN 'in' WHEN 2 THEN 'out' END",
  },
  { name: 'interface_id', doc: 'pcapng interface id within its section (0-based); NULL for pcap' },
  { name: 'section', doc: 'pcapng section number (1-based); NULL for pcap' },
  { name: 'link_type', doc: 'link-layer type (LINKTYPE_*) of the record' },
  { name: 'src_mac', doc: 'source MAC, lowercase `aa:bb:cc:dd:ee:ff`', view: 'mac_text(src_mac)' },
  { name: 'dst_mac', doc: 'destination MAC, lowercase', view: 'mac_text(dst_mac)' },
  {
    name: 'vlan_ids',
    doc: '802.1Q/802.1ad VLAN ids, outermost first (the first four); NULL when untagged',
    parquet:
      'CASE WHEN s.vlan_count = 0 THEN NULL ELSE list_slice([s.vlan0, s.vlan1, s.vlan2, s.vlan3], 1, least(s.vlan_count, 4)) END',
  },
  { name: 'vlan_count', doc: 'number of VLAN tags (may exceed the four listed in `vlan_ids`)' },
  { name: 'ethertype', doc: 'EtherType (or SLL protocol) of the layer above the link layer' },
  { name: 'sll_ifindex', doc: 'interface index from a LINUX_SLL2 header' },
  { name: 'ip_version', doc: '4 or 6; NULL without an IP layer', parquet: 'nullif(s.ip_version, 0)' },
  {
    name: 'src_ip',
    doc: 'source address as text (dotted IPv4, RFC 5952 IPv6); stored as `src_ip4` (uint32) or `src_ip6` (16 bytes)',
    parquet: null,
    view: 'ip_text(src_ip4, src_ip6)',
  },
  { name: 'dst_ip', doc: 'destination address as text', parquet: null, view: 'ip_text(dst_ip4, dst_ip6)' },
  { name: 'src_ip4', doc: 'IPv4 source address as uint32 (Parquet storage of `src_ip`)' },
  { name: 'dst_ip4', doc: 'IPv4 destination address as uint32' },
  { name: 'src_ip6', doc: 'IPv6 source address, 16 bytes' },
  { name: 'dst_ip6', doc: 'IPv6 destination address, 16 bytes' },
  { name: 'ip_proto', doc: 'IPv4 protocol, or the IPv6 upper-layer header after extension headers' },
  { name: 'ip_id', doc: 'IPv4 identification (IPv6: fragment-header identification, if any)' },
  { name: 'ttl', doc: 'IPv4 TTL or IPv6 hop limit' },
  { name: 'dscp', doc: 'DSCP (traffic class >> 2)' },
  { name: 'frag_offset', doc: 'fragment offset in 8-byte units' },
  { name: 'more_fragments', doc: 'MF flag', parquet: 's.more_fragments::BOOLEAN' },
  {
    name: 'ip_payload_len',
    doc: 'IP payload length from the header (IPv4 total length - header; IPv6 payload length)',
  },
  { name: 'flow_label', doc: 'IPv6 flow label' },
  { name: 'src_port', doc: 'TCP/UDP source port' },
  { name: 'dst_port', doc: 'TCP/UDP destination port' },
  { name: 'tcp_seq', doc: 'raw TCP sequence number' },
  { name: 'tcp_ack', doc: 'raw TCP acknowledgement number' },
  { name: 'tcp_flags', doc: 'TCP flags (12 bits, as tshark tcp.flags)' },
  { name: 'tcp_hdr_len', doc: 'TCP header length in bytes' },
  { name: 'tcp_window', doc: 'raw TCP window' },
  { name: 'tcp_payload_len', doc: 'TCP payload length (IP payload - TCP header)' },
  { name: 'payload_len', doc: 'L4 payload length on the wire (TCP, UDP, ICMP data)' },
  { name: 'icmp_type', doc: 'ICMP or ICMPv6 type' },
  { name: 'icmp_code', doc: 'ICMP or ICMPv6 code' },
  { name: 'icmp_id', doc: 'ICMP echo identifier' },
  { name: 'icmp_seq', doc: 'ICMP echo sequence number' },
  { name: 'vni', doc: 'VXLAN or Geneve VNI' },
  {
    name: 'inner_ip_version',
    doc: 'inner IP version: of the frame inside VXLAN/Geneve, or of the header quoted by an ICMP error',
    parquet: 'nullif(s.inner_ip_version, 0)',
  },
  {
    name: 'inner_src_ip',
    doc: 'inner source address as text',
    parquet: null,
    view: 'ip_text(inner_src_ip4, inner_src_ip6)',
  },
  {
    name: 'inner_dst_ip',
    doc: 'inner destination address as text',
    parquet: null,
    view: 'ip_text(inner_dst_ip4, inner_dst_ip6)',
  },
  { name: 'inner_src_ip4', doc: 'inner IPv4 source as uint32' },
  { name: 'inner_dst_ip4', doc: 'inner IPv4 destination as uint32' },
  { name: 'inner_src_ip6', doc: 'inner IPv6 source, 16 bytes' },
  { name: 'inner_dst_ip6', doc: 'inner IPv6 destination, 16 bytes' },
  { name: 'inner_ip_proto', doc: 'inner IP protocol' },
  { name: 'inner_src_port', doc: 'inner TCP/UDP source port' },
  { name: 'inner_dst_port', doc: 'inner TCP/UDP destination port' },
  { name: 'payload_hash', doc: '64-bit hash of a bounded L4 payload prefix (NULL when the snaplen cut it)' },
  {
    name: 'fingerprint',
    doc: 'packet identity across capture points (DESIGN §5): hash of NAT-invariant fields',
  },
  {
    name: 'decode_error',
    doc: 'why decoding stopped early: `truncated:<layer>`, `<layer>.<problem>`, `unsupported:<what>=<code>`',
    parquet: 'e.message',
  },
];

/** Columns that exist in the view only (computed from stored columns). */
export function isViewOnly(field: PacketField): boolean {
  return field.parquet === null;
}
