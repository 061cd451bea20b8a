/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Header parsing: Ethernet, one VLAN tag, IPv4/IPv6, TCP/UDP ports. */
#ifndef SLUICE_BPF_PARSE_H
#define SLUICE_BPF_PARSE_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include "sluice_abi.h"
#include "ether.h"

/* What the parser learned about one packet. */
struct sl_pkt {
	struct sl_flow_key key;	/* 5-tuple, also the flow-table key */
	__u32 l2_len;		/* Ethernet header plus VLAN tag, if any */
	__u32 l3_len;		/* IP packet length from its header */
	__u32 l3_proto;		/* bpf_htons(ETH_P_IP) or bpf_htons(ETH_P_IPV6) */
	__u8 tos;		/* IPv4 TOS or IPv6 traffic class */
	__u8 is_frag;		/* IPv4 or IPv6 fragment */
	__u8 is_syn;		/* TCP SYN without ACK: a connection starts */
};

/*
 * The flow key is read back as 64-bit words (flow-cache slot and compare)
 * right after the parser writes it. A load that spans several narrower
 * stores cannot be forwarded from the store buffer and waits until they
 * drain (a store-forwarding stall); with the key written field by field that
 * stall was the largest single cost of the program. So the parser writes
 * the key in the words it is read in: w[0..1] source, w[2..3] destination,
 * w[4] ports, protocol and family.
 */
static __always_inline __u64 key_word(__u32 first, __u32 second)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return (__u64)second << 32 | first;
#else
	return (__u64)first << 32 | second;
#endif
}

/* Bytes 36..39 of the key (proto, family, zero pad) as one 32-bit word. */
static __always_inline __u32 key_proto_family(__u8 proto, __u8 family)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return proto | (__u32)family << 8;
#else
	return (__u32)proto << 24 | (__u32)family << 16;
#endif
}

/*
 * The flow key of an IPv4 packet, in the words it is read in. @ports: the
 * first 4 bytes of the TCP/UDP header as they lie in the packet (0 until
 * parse_l4 reads them). The full path and the fast path (fast.h) both build
 * keys here, so a cache entry one fills is found by the other.
 */
static __always_inline void key_v4(struct sl_flow_key *k, __be32 saddr, __be32 daddr,
				   __u32 ports, __u8 proto)
{
	__u64 *w = (__u64 *)k;

	w[0] = key_word(saddr, 0);
	w[1] = 0;
	w[2] = key_word(daddr, 0);
	w[3] = 0;
	w[4] = key_word(ports, key_proto_family(proto, SL_FAMILY_V4));
}

/* The same for IPv6; @a: source and destination address as 4 words. */
static __always_inline void key_v6(struct sl_flow_key *k, const __u64 *a, __u32 ports,
				   __u8 proto)
{
	__u64 *w = (__u64 *)k;

	w[0] = a[0];
	w[1] = a[1];
	w[2] = a[2];
	w[3] = a[3];
	w[4] = key_word(ports, key_proto_family(proto, SL_FAMILY_V6));
}

/* The traffic class of an IPv6 header (it straddles two bytes). */
static __always_inline __u8 ipv6_tclass(const struct ipv6hdr *ip6)
{
	return (ip6->priority << 4) | (ip6->flow_lbl[0] >> 4);
}

/* Parse Ethernet and one optional VLAN tag; returns SL_CONTINUE or a reason. */
static __always_inline int parse_l2(struct sl_pkt *p, void *data, void *data_end)
{
	__be16 proto = eth_proto(data, data_end, &p->l2_len);

	if (!proto)
		return SL_PASS_SHORT_L2;
	if (proto != bpf_htons(ETH_P_IP) && proto != bpf_htons(ETH_P_IPV6))
		return SL_PASS_NOT_IP;
	p->l3_proto = proto;
	return SL_CONTINUE;
}

/*
 * Parse an IPv4 header at @l3. Options are allowed (the L4 header starts at
 * IHL*4). Returns SL_CONTINUE with *l4 set, or a reason.
 */
static __always_inline int parse_ipv4(struct sl_pkt *p, void *l3, void *data_end,
				      void **l4)
{
	struct iphdr *iph = l3;
	__u32 ihl, tot;

	if ((void *)(iph + 1) > data_end)
		return SL_DROP_BAD_IP;
	if (iph->version != 4 || iph->ihl < 5)
		return SL_DROP_BAD_IP;
	ihl = iph->ihl * 4;
	tot = bpf_ntohs(iph->tot_len);
	if (tot < ihl || l3 + tot > data_end)
		return SL_DROP_BAD_IP;

	p->l3_len = tot;
	p->tos = iph->tos;
	key_v4(&p->key, iph->saddr, iph->daddr, 0, iph->protocol);
	p->is_frag = (iph->frag_off & bpf_htons(SL_IP_MF | SL_IP_OFFSET)) != 0;
	*l4 = l3 + ihl;
	return SL_CONTINUE;
}

/* Parse a fixed IPv6 header at @l3; returns SL_CONTINUE with *l4 set, or a reason. */
static __always_inline int parse_ipv6(struct sl_pkt *p, void *l3, void *data_end,
				      void **l4)
{
	struct ipv6hdr *ip6 = l3;
	const __u64 *a = (const void *)&ip6->saddr;	/* saddr, daddr: 4 words */
	__u32 tot;

	if ((void *)(ip6 + 1) > data_end)
		return SL_DROP_BAD_IP;
	if (ip6->version != 6)
		return SL_DROP_BAD_IP;
	tot = sizeof(*ip6) + bpf_ntohs(ip6->payload_len);
	if (l3 + tot > data_end)
		return SL_DROP_BAD_IP;

	p->l3_len = tot;
	p->tos = ipv6_tclass(ip6);
	key_v6(&p->key, a, 0, ip6->nexthdr);
	p->is_frag = ip6->nexthdr == SL_NEXTHDR_FRAG;
	*l4 = l3 + sizeof(*ip6);
	return SL_CONTINUE;
}

/* Returns true for the IPv6 extension headers that may precede TCP/UDP. */
static __always_inline bool is_ipv6_ext(__u8 nexthdr)
{
	return nexthdr == 0 || nexthdr == 43 || nexthdr == 60 || nexthdr == 51 ||
	       nexthdr == 135 || nexthdr == 139 || nexthdr == 140;
}

/*
 * Read the ports of a TCP or UDP header at @l4, which must lie inside the IP
 * packet that ends at @l3_end. Returns SL_CONTINUE or SL_DROP_BAD_L4.
 */
static __always_inline int parse_l4(struct sl_pkt *p, void *l4, void *l3_end,
				    void *data_end)
{
	__u64 *w = (__u64 *)&p->key;

	if (p->key.proto == IPPROTO_TCP) {
		struct tcphdr *th = l4;

		if ((void *)(th + 1) > data_end || (void *)(th + 1) > l3_end)
			return SL_DROP_BAD_L4;
		if (th->doff < 5 || (long)th->doff * 4 > (long)(l3_end - l4))
			return SL_DROP_BAD_L4;
		p->is_syn = th->syn && !th->ack;
	} else {
		struct udphdr *uh = l4;
		__u32 len;

		if ((void *)(uh + 1) > data_end || (void *)(uh + 1) > l3_end)
			return SL_DROP_BAD_L4;
		len = bpf_ntohs(uh->len);
		if (len < sizeof(*uh) || l4 + len > l3_end)
			return SL_DROP_BAD_L4;
	}
	/* Source and destination port: the first 4 bytes of TCP and UDP alike. */
	w[4] = key_word(*(__u32 *)l4, *(__u32 *)&p->key.proto);
	return SL_CONTINUE;
}

#endif /* SLUICE_BPF_PARSE_H */
