/**
 * Layer codes and the wire-code tables that name the next layer (gopacket's `enums_generated.go` shape).
 *
 * Every table covers its field's whole code space and starts filled with `Layer.Unsupported`, so a lookup
 * never misses: an unknown code stops decoding with `unsupported:<what>=<code>` in `decode_error`.
 * Link types are 16 bits in `PacketRecord` (FCS bits removed); the table covers all of them, never a
 * narrowed byte (gopacket's uint8 `LinkType` turns LINUX_SLL2, 276, into 20).
 */
export const Layer = {
  /** nothing more to decode */
  Done: 0,
  /** a table entry for a code we do not decode; the caller writes the error with the code */
  Unsupported: 1,
  Ethernet: 2,
  /** one 802.1Q / 802.1ad / QinQ tag */
  Vlan: 3,
  Sll: 4,
  Sll2: 5,
  /** BSD loopback (DLT_NULL, host order) and OpenBSD loop (DLT_LOOP, network order): same decoder */
  Null: 6,
  /** raw IP whose version nibble picks IPv4 or IPv6 */
  RawIp: 7,
  Ipv4: 8,
  Ipv6: 9,
  Nflog: 10,
  /** PPP (DLT 9) and PPP in HDLC framing (DLT 50) */
  Ppp: 11,
  /** Cisco HDLC (DLT 104) */
  Chdlc: 12,
  Tcp: 13,
  Udp: 14,
  Icmp: 15,
  Icmpv6: 16,
  Vxlan: 17,
  Geneve: 18,
  /** a non-first IP fragment: its bytes are L4 payload of a packet whose header is elsewhere */
  Fragment: 19,
  /** IP-in-IP (proto 4) and IPv6-in-IP (proto 41): the inner header goes to the inner_* columns */
  InnerIp: 20,
  /** IPv6 "no next header" (59), or a mobility header (135, its payload field must be 59): not an error */
  NoNext: 21,
  Gre: 22,
  Mpls: 23,
  /** 802.1ah provider backbone bridging: I-TAG and the customer's MACs, then an EtherType */
  Pbb: 24,
  /** IPsec AH after an IPv4 header (IPv6 walks AH in its extension chain) */
  Ah: 25,
} as const;

export type LayerCode = (typeof Layer)[keyof typeof Layer];

/** By link type (LINKTYPE_* values as stored in pcap/pcapng). */
export const LINK_NEXT = new Uint8Array(65536).fill(Layer.Unsupported);
LINK_NEXT[0] = Layer.Null; // NULL
LINK_NEXT[1] = Layer.Ethernet; // ETHERNET
LINK_NEXT[9] = Layer.Ppp; // PPP
LINK_NEXT[12] = Layer.RawIp; // RAW (DLT 12 on most BSDs)
LINK_NEXT[14] = Layer.RawIp; // RAW (DLT 14 on OpenBSD)
LINK_NEXT[50] = Layer.Ppp; // PPP_HDLC
LINK_NEXT[101] = Layer.RawIp; // LINKTYPE_RAW
LINK_NEXT[104] = Layer.Chdlc; // C_HDLC
LINK_NEXT[108] = Layer.Null; // LOOP
LINK_NEXT[113] = Layer.Sll; // LINUX_SLL
LINK_NEXT[228] = Layer.Ipv4; // IPV4
LINK_NEXT[229] = Layer.Ipv6; // IPV6
LINK_NEXT[239] = Layer.Nflog; // NFLOG
LINK_NEXT[276] = Layer.Sll2; // LINUX_SLL2

/** By EtherType (Ethernet, VLAN, SLL/SLL2 protocol, Cisco HDLC protocol). */
export const ETHERTYPE_NEXT = new Uint8Array(65536).fill(Layer.Unsupported);
ETHERTYPE_NEXT[0x0800] = Layer.Ipv4;
ETHERTYPE_NEXT[0x86dd] = Layer.Ipv6;
ETHERTYPE_NEXT[0x8100] = Layer.Vlan; // 802.1Q
ETHERTYPE_NEXT[0x88a8] = Layer.Vlan; // 802.1ad service tag
ETHERTYPE_NEXT[0x9100] = Layer.Vlan; // pre-standard QinQ
ETHERTYPE_NEXT[0x8847] = Layer.Mpls; // unicast
ETHERTYPE_NEXT[0x8848] = Layer.Mpls; // multicast
ETHERTYPE_NEXT[0x88e7] = Layer.Pbb;

/** By IP protocol / IPv6 upper-layer next header. */
export const PROTO_NEXT = new Uint8Array(256).fill(Layer.Unsupported);
PROTO_NEXT[1] = Layer.Icmp;
PROTO_NEXT[4] = Layer.InnerIp;
PROTO_NEXT[6] = Layer.Tcp;
PROTO_NEXT[17] = Layer.Udp;
PROTO_NEXT[41] = Layer.InnerIp;
PROTO_NEXT[47] = Layer.Gre;
PROTO_NEXT[51] = Layer.Ah;
PROTO_NEXT[58] = Layer.Icmpv6;
PROTO_NEXT[59] = Layer.NoNext;
PROTO_NEXT[135] = Layer.NoNext;

/**
 * By UDP port. Zero means "plain UDP payload": unlike the other tables an unknown port is not an error.
 * 8472 is the port the Linux kernel (and Flannel) use for VXLAN; tshark only binds 4789 by default.
 * Fixed at load: the capture kernel (kernel/pcap-kernel.ts) copies it into its memory once, so a port
 * made a tunnel's later would be decoded as one by the TypeScript decoders only.
 */
export const UDP_PORT_NEXT = new Uint8Array(65536);
UDP_PORT_NEXT[4789] = Layer.Vxlan;
UDP_PORT_NEXT[8472] = Layer.Vxlan;
UDP_PORT_NEXT[6081] = Layer.Geneve;

/** IPv6 extension headers that share the generic `(len + 1) * 8` layout (RFC 8200 §4). The mobility header (135) ends the chain: RFC 6275 requires its payload field to be 59,
 * and tshark stops there too. */
export const IPV6_GENERIC_EXT = new Uint8Array(256);
IPV6_GENERIC_EXT[0] = 1; // hop-by-hop options
IPV6_GENERIC_EXT[43] = 1; // routing
IPV6_GENERIC_EXT[60] = 1; // destination options
IPV6_GENERIC_EXT[139] = 1; // HIP
IPV6_GENERIC_EXT[140] = 1; // shim6
