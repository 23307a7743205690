// SPDX-License-Identifier: GPL-2.0
/*
 * hoptrace lab: a small Terway DataPath V2 (Cilium chained on the host veth) for network namespaces.
 *
 * from_container: tc ingress of every host veth `cali*` (Cilium's cil_from_container, bpf_lxc).
 *   1. per-packet Service LB: ClusterIP:port -> backend:targetPort DNAT with L3/L4 checksum updates,
 *      conntrack entry for the reverse translation;
 *   2. reverse translation of a reply from a local backend to a local client (backend -> VIP);
 *   3. local destination: TTL - 1, L2 `<dst cali MAC> -> <pod MAC>`, bpf_redirect_peer into the pod
 *      (legacy kernel: bpf_redirect to the destination cali, so its egress tap sees the packet);
 *      remote destination: TTL - 1 and bpf_redirect_neigh out of the ENI owning the SOURCE pod IP
 *      (legacy kernel: no TTL change, L2 `<ENI MAC> -> ee:ff:ff:ff:ff:ff` written here, bpf_redirect).
 * from_netdev: tc ingress of every ENI (Cilium's cil_from_netdev, bpf_host): reverse translation of
 *   replies from a remote backend, then local delivery as above; anything else goes to the stack.
 *
 * The maps are pinned per node (the loader points each node at its own directory of the lab's bpffs):
 * one shared map would let the wrong node translate.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <stddef.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

/* lab_cfg[0] bits: the mode of this node */
#define CFG_LEGACY 1    /* datapathv2-legacy-kernel: 4.19 semantics (no redirect_peer/neigh) */
#define CFG_HOST_DNAT 2 /* fault host-dnat: Service traffic is left to iptables in the host stack */

/* ep_val.flags */
#define EP_NO_BPF 1 /* fault no-bpf:<pod>: the pod's veth has no programs; deliver through the stack */
#define EP_HOST 2   /* a node address: Cilium hands host-bound traffic to the stack (NodePort, masqueraded replies) */

/* Cilium's ipv4-service-loopback-address (network order): the source of a hairpin connection after SNAT. */
#define SERVICE_LOOPBACK4 bpf_htonl(0xa9fe2a01) /* 169.254.42.1 */
/* The VPC: Service clients are pods (VPC addresses); an external LoadBalancer client never met the node's DNAT. */
#define VPC_NET4 bpf_htonl(0x0a000000) /* 10.0.0.0/16 */
#define VPC_MASK4 bpf_htonl(0xffff0000)

#define BACKEND_PORT_BASE 40000
#define BACKEND_PORT_SPAN 1000
#define MAX_BACKENDS 4

/* An address of either family; IPv4 is stored v4-mapped (::ffff:a.b.c.d). */
struct addr {
	__u32 w[4];
};

struct ep_val {
	__u32 cali_ifindex;
	__u32 eni_ifindex; /* the ENI that owns the pod's IP (Terway's parent_dev_ifindex) */
	__u8 pod_mac[6];
	__u8 cali_mac[6];
	__u8 eni_mac[6];
	__u8 flags;
	__u8 pad;
};

/* Addresses and ports in network byte order, as in the packet. */
struct svc_key {
	__u32 ip;
	__u16 port;
	__u8 proto;
	__u8 pad;
};

struct backend {
	__u32 ip;
	__u16 port;
	__u16 pad;
};

struct svc_val {
	__u32 count;
	struct backend be[MAX_BACKENDS];
};

struct ct_key {
	__u32 client;
	__u32 backend;
	__u16 cport;
	__u16 bport;
	__u8 proto;
	__u8 pad[3];
};

struct ct_val {
	__u32 vip;
	__u16 vport;
	__u16 pad;
	__u32 client; /* hairpin: the client's own address (the key holds the loopback source); 0 otherwise */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lab_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct addr);
	__type(value, struct ep_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lab_endpoints SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct svc_key);
	__type(value, struct svc_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lab_services SEC(".maps");

/* backend ip:port/proto -> 1; only consulted by the host-dnat fault (replies must reach conntrack). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct svc_key);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lab_backends SEC(".maps");

/* Reverse NAT / conntrack: (client, backend) tuple -> the VIP the client asked for. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct ct_key);
	__type(value, struct ct_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lab_ct SEC(".maps");

struct pkt {
	__u16 eth_proto; /* host order: ETH_P_IP or ETH_P_IPV6 */
	__u8 l4proto;
	__u8 ttl;
	__u8 has_ports;
	__u32 l4off;
	struct addr src;
	struct addr dst;
	__u16 sport; /* network order */
	__u16 dport;
};

#define L3_OFF ETH_HLEN
#define IP_CSUM_OFF (L3_OFF + offsetof(struct iphdr, check))
#define IP_TTL_OFF (L3_OFF + offsetof(struct iphdr, ttl))
#define IP_SRC_OFF (L3_OFF + offsetof(struct iphdr, saddr))
#define IP_DST_OFF (L3_OFF + offsetof(struct iphdr, daddr))
#define IP6_HOP_OFF (L3_OFF + offsetof(struct ipv6hdr, hop_limit))

static const __u8 vpc_gw_mac[6] = {0xee, 0xff, 0xff, 0xff, 0xff, 0xff};

static __always_inline void v4_mapped(struct addr *a, __u32 ip)
{
	a->w[0] = 0;
	a->w[1] = 0;
	a->w[2] = bpf_htonl(0xffff);
	a->w[3] = ip;
}

static __always_inline int parse(struct __sk_buff *skb, struct pkt *p)
{
	struct ethhdr eth;

	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)) < 0)
		return -1;
	p->eth_proto = bpf_ntohs(eth.h_proto);
	p->has_ports = 0;
	if (p->eth_proto == ETH_P_IP) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, L3_OFF, &ip, sizeof(ip)) < 0)
			return -1;
		v4_mapped(&p->src, ip.saddr);
		v4_mapped(&p->dst, ip.daddr);
		p->l4proto = ip.protocol;
		p->ttl = ip.ttl;
		p->l4off = L3_OFF + ip.ihl * 4;
		/* Only first fragments carry ports; later ones are forwarded by address. */
		if (ip.frag_off & bpf_htons(0x1fff))
			return 0;
	} else if (p->eth_proto == ETH_P_IPV6) {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes(skb, L3_OFF, &ip6, sizeof(ip6)) < 0)
			return -1;
		__builtin_memcpy(&p->src, &ip6.saddr, 16);
		__builtin_memcpy(&p->dst, &ip6.daddr, 16);
		p->l4proto = ip6.nexthdr;
		p->ttl = ip6.hop_limit;
		p->l4off = L3_OFF + sizeof(ip6);
	} else {
		return -1;
	}
	if (p->l4proto == IPPROTO_TCP || p->l4proto == IPPROTO_UDP) {
		__u16 ports[2];

		if (bpf_skb_load_bytes(skb, p->l4off, ports, sizeof(ports)) < 0)
			return -1;
		p->sport = ports[0];
		p->dport = ports[1];
		p->has_ports = 1;
	}
	return 0;
}

/* Link-local and multicast (ND, MLD, DHCP, broadcast) always belong to the host stack. */
static __always_inline int for_stack(const struct pkt *p)
{
	if (p->eth_proto == ETH_P_IPV6) {
		__u8 first = p->dst.w[0] & 0xff;
		__u8 second = (p->dst.w[0] >> 8) & 0xff;

		return first == 0xff || (first == 0xfe && (second & 0xc0) == 0x80);
	}
	__u8 first = p->dst.w[3] & 0xff;

	return first >= 224;
}

static __always_inline __u32 config(void)
{
	__u32 key = 0;
	__u32 *cfg = bpf_map_lookup_elem(&lab_cfg, &key);

	return cfg ? *cfg : 0;
}

static __always_inline __u32 l4_csum_off(const struct pkt *p)
{
	return p->l4off + (p->l4proto == IPPROTO_TCP ? 16 : 6);
}

static __always_inline __u64 l4_flags(const struct pkt *p)
{
	/* A UDP checksum of 0 means "none": keep it so, and never produce 0 by accident. */
	return p->l4proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;
}

/* Rewrites the IPv4 address at ip_off and the L4 port at port_off, fixing both checksums. */
static __always_inline int rewrite4(struct __sk_buff *skb, const struct pkt *p, __u32 ip_off, __u32 old_ip,
				    __u32 new_ip, __u32 port_off, __u16 old_port, __u16 new_port)
{
	__u32 csum = l4_csum_off(p);
	__u64 flags = l4_flags(p);

	if (bpf_l4_csum_replace(skb, csum, old_ip, new_ip, flags | BPF_F_PSEUDO_HDR | sizeof(new_ip)) < 0)
		return -1;
	if (bpf_l4_csum_replace(skb, csum, old_port, new_port, flags | sizeof(new_port)) < 0)
		return -1;
	if (bpf_l3_csum_replace(skb, IP_CSUM_OFF, old_ip, new_ip, sizeof(new_ip)) < 0)
		return -1;
	if (bpf_skb_store_bytes(skb, ip_off, &new_ip, sizeof(new_ip), 0) < 0)
		return -1;
	if (bpf_skb_store_bytes(skb, port_off, &new_port, sizeof(new_port), 0) < 0)
		return -1;
	return 0;
}

static __always_inline __u32 pick_backend(__u16 sport_net, __u32 count)
{
	__u32 sport = bpf_ntohs(sport_net);

	if (sport >= BACKEND_PORT_BASE) {
		__u32 slot = (sport - BACKEND_PORT_BASE) / BACKEND_PORT_SPAN;

		if (slot < count)
			return slot;
	}
	return sport % count;
}

/* Per-packet Service load balancing at the source veth; *to_stack asks the caller to leave it to iptables. */
static __always_inline int service_dnat(struct __sk_buff *skb, struct pkt *p, __u32 cfg, int *to_stack)
{
	struct svc_key key = {.ip = p->dst.w[3], .port = p->dport, .proto = p->l4proto};
	struct svc_val *svc = bpf_map_lookup_elem(&lab_services, &key);

	*to_stack = 0;
	if (!svc)
		return 0;
	if (cfg & CFG_HOST_DNAT) {
		*to_stack = 1;
		return 0;
	}
	if (svc->count == 0 || svc->count > MAX_BACKENDS)
		return -1;
	__u32 slot = pick_backend(p->sport, svc->count) & (MAX_BACKENDS - 1);
	struct backend be = svc->be[slot];
	/* Hairpin (the client is the backend): SNAT to the service loopback address so the pod answers a
	 * source other than itself (Cilium's lb4_local loopback; reference S5/S6 "Hairpin"). */
	int hairpin = be.ip == p->src.w[3];
	__u32 client = hairpin ? SERVICE_LOOPBACK4 : p->src.w[3];
	struct ct_key ct = {
		.client = client, .backend = be.ip, .cport = p->sport, .bport = be.port, .proto = p->l4proto};
	struct ct_val rev = {.vip = key.ip, .vport = key.port, .client = hairpin ? p->src.w[3] : 0};

	bpf_map_update_elem(&lab_ct, &ct, &rev, BPF_ANY);
	if (rewrite4(skb, p, IP_DST_OFF, key.ip, be.ip, p->l4off + 2, key.port, be.port) < 0)
		return -1;
	p->dst.w[3] = be.ip;
	p->dport = be.port;
	if (hairpin) {
		if (rewrite4(skb, p, IP_SRC_OFF, p->src.w[3], client, p->l4off, p->sport, p->sport) < 0)
			return -1;
		p->src.w[3] = client;
	}
	return 0;
}

/* A reply from a backend to a client this node translated: restore the VIP as the source. */
static __always_inline int reverse_nat(struct __sk_buff *skb, struct pkt *p)
{
	struct ct_key ct = {
		.client = p->dst.w[3], .backend = p->src.w[3], .cport = p->dport, .bport = p->sport, .proto = p->l4proto};
	struct ct_val *rev = bpf_map_lookup_elem(&lab_ct, &ct);

	if (!rev)
		return 0;
	__u32 vip = rev->vip;
	__u16 vport = rev->vport;
	__u32 client = rev->client;

	if (rewrite4(skb, p, IP_SRC_OFF, p->src.w[3], vip, p->l4off, p->sport, vport) < 0)
		return -1;
	p->src.w[3] = vip;
	p->sport = vport;
	if (client) {
		/* hairpin reply: back from the loopback address to the client's own */
		if (rewrite4(skb, p, IP_DST_OFF, p->dst.w[3], client, p->l4off + 2, p->dport, p->dport) < 0)
			return -1;
		p->dst.w[3] = client;
	}
	return 0;
}

/* host-dnat fault: a reply from a Service backend must meet the conntrack entry iptables made. */
static __always_inline int from_backend(const struct pkt *p)
{
	struct svc_key key = {.ip = p->src.w[3], .port = p->sport, .proto = p->l4proto};

	if ((p->dst.w[3] & VPC_MASK4) != VPC_NET4)
		return 0; /* to an external client (S8a): no node's conntrack saw that connection */
	return bpf_map_lookup_elem(&lab_backends, &key) != NULL;
}

/* Cilium's ipv4_l3()/ipv6_l3(): TTL (hop limit) - 1, with the IPv4 header checksum kept right. */
static __always_inline int dec_ttl(struct __sk_buff *skb, const struct pkt *p)
{
	if (p->eth_proto == ETH_P_IPV6) {
		__u8 hop = p->ttl - 1;

		return bpf_skb_store_bytes(skb, IP6_HOP_OFF, &hop, 1, 0);
	}
	__u16 old_word, new_word;

	if (bpf_skb_load_bytes(skb, IP_TTL_OFF, &old_word, 2) < 0)
		return -1;
	new_word = old_word;
	((__u8 *)&new_word)[0] = p->ttl - 1;
	if (bpf_l3_csum_replace(skb, IP_CSUM_OFF, old_word, new_word, 2) < 0)
		return -1;
	return bpf_skb_store_bytes(skb, IP_TTL_OFF, &new_word, 2, 0);
}

static __always_inline int set_l2(struct __sk_buff *skb, const __u8 *dst, const __u8 *src)
{
	if (bpf_skb_store_bytes(skb, 0, dst, 6, 0) < 0)
		return -1;
	return bpf_skb_store_bytes(skb, 6, src, 6, 0);
}

/* Delivery into a pod on this node (Cilium's ipv4_local_delivery). */
static __always_inline int local_delivery(struct __sk_buff *skb, const struct pkt *p, const struct ep_val *ep,
					  __u32 cfg)
{
	if (ep->flags & EP_NO_BPF)
		return TC_ACT_OK;
	if (p->ttl <= 1)
		return TC_ACT_OK; /* the stack sends the ICMP time-exceeded */
	if (dec_ttl(skb, p) < 0 || set_l2(skb, ep->pod_mac, ep->cali_mac) < 0)
		return TC_ACT_SHOT;
	if (cfg & CFG_LEGACY)
		return bpf_redirect(ep->cali_ifindex, 0);
	return bpf_redirect_peer(ep->cali_ifindex, 0);
}

SEC("tc/from_container")
int from_container(struct __sk_buff *skb)
{
	struct pkt p = {};
	__u32 cfg = config();
	int to_stack = 0;

	if (parse(skb, &p) < 0 || for_stack(&p))
		return TC_ACT_OK;
	if (p.eth_proto == ETH_P_IP && p.has_ports) {
		if (service_dnat(skb, &p, cfg, &to_stack) < 0)
			return TC_ACT_SHOT;
		if (to_stack)
			return TC_ACT_OK;
		if ((cfg & CFG_HOST_DNAT) && from_backend(&p))
			return TC_ACT_OK;
		if (reverse_nat(skb, &p) < 0)
			return TC_ACT_SHOT;
	}
	struct ep_val *dst_ep = bpf_map_lookup_elem(&lab_endpoints, &p.dst);

	if (dst_ep && (dst_ep->flags & EP_HOST))
		return TC_ACT_OK; /* to this node: the stack (conntrack of kube-proxy's NodePort NAT) */
	if (dst_ep)
		return local_delivery(skb, &p, dst_ep, cfg);

	struct ep_val *src_ep = bpf_map_lookup_elem(&lab_endpoints, &p.src);

	if (!src_ep || p.ttl <= 1)
		return TC_ACT_OK;
	if (cfg & CFG_LEGACY) {
		/* Terway <= 1.13 on 4.19: ctx_redirect to the ENI, no TTL change; the lab writes the L2 header
		 * the VPC expects so the frame is accepted (the real one is unverified, reference §1.4). */
		if (set_l2(skb, vpc_gw_mac, src_ep->eni_mac) < 0)
			return TC_ACT_SHOT;
		return bpf_redirect(src_ep->eni_ifindex, 0);
	}
	if (dec_ttl(skb, &p) < 0)
		return TC_ACT_SHOT;
	/* FIB lookup restricted to that ENI, with the pod's source: `ip rule from <podIP>` picks its table. */
	return bpf_redirect_neigh(src_ep->eni_ifindex, NULL, 0, 0);
}

SEC("tc/from_netdev")
int from_netdev(struct __sk_buff *skb)
{
	struct pkt p = {};
	__u32 cfg = config();

	if (parse(skb, &p) < 0 || for_stack(&p))
		return TC_ACT_OK;
	if (p.eth_proto == ETH_P_IP && p.has_ports) {
		if ((cfg & CFG_HOST_DNAT) && from_backend(&p))
			return TC_ACT_OK;
		if (reverse_nat(skb, &p) < 0)
			return TC_ACT_SHOT;
	}
	struct ep_val *dst_ep = bpf_map_lookup_elem(&lab_endpoints, &p.dst);

	if (!dst_ep || (dst_ep->flags & EP_HOST))
		return TC_ACT_OK; /* node IP (NodePort), ARP replies...: the host stack */
	return local_delivery(skb, &p, dst_ep, cfg);
}

char _license[] SEC("license") = "GPL";
