/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Encapsulation toward a backend: IPIP, IP6IP6 and IPv4-in-IPv6. */
#ifndef SLUICE_BPF_ENCAP_H
#define SLUICE_BPF_ENCAP_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "parse.h"
#include "csum.h"

#define SL_OUTER_TTL 64
#define SL_AF_INET 2
#define SL_AF_INET6 10

/* Set before load: largest IP packet we may send after encapsulation. */
const volatile __u32 sl_mtu = 1500;

/*
 * Find the next-hop MAC toward @be when the control plane has not stored
 * one, with the kernel FIB. The kernel answers only where forwarding is on
 * for the receiving interface (net.ipv4.conf.IF.forwarding), even with
 * BPF_FIB_LOOKUP_OUTPUT. Returns SL_CONTINUE with @dmac and @egress filled,
 * or a reason.
 */
static __always_inline int nexthop_fib(struct xdp_md *ctx,
				       const struct sl_backend *be,
				       const struct sl_vip_meta *vip, __u8 *dmac,
				       __u32 *egress)
{
	struct bpf_fib_lookup fib = {};
	int rc;

	fib.ifindex = ctx->ingress_ifindex;
	if (be->family == SL_FAMILY_V4) {
		fib.family = SL_AF_INET;
		fib.ipv4_src = vip->src4;
		fib.ipv4_dst = be->addr[0];
	} else {
		fib.family = SL_AF_INET6;
		__builtin_memcpy(fib.ipv6_src, vip->src6, sizeof(fib.ipv6_src));
		__builtin_memcpy(fib.ipv6_dst, be->addr, sizeof(fib.ipv6_dst));
	}
	/* OUTPUT: look up as the sender (skips the check for an input route). */
	rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), BPF_FIB_LOOKUP_OUTPUT);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return SL_DROP_NO_NEXTHOP;
	__builtin_memcpy(dmac, fib.dmac, ETH_ALEN);
	*egress = fib.ifindex;
	return SL_CONTINUE;
}

/* Write the outer IPv4 header for an IPIP packet. */
static __always_inline void outer_ipv4(struct iphdr *o, const struct sl_pkt *p,
				       const struct sl_vip_meta *vip,
				       const struct sl_backend *be)
{
	o->version = 4;
	o->ihl = 5;
	o->tos = p->tos;
	o->tot_len = bpf_htons(p->l3_len + SL_ENCAP_V4);
	/* DF with id 0: an atomic datagram (RFC 6864); we never fragment. */
	o->id = 0;
	o->frag_off = bpf_htons(SL_IP_DF);
	o->ttl = SL_OUTER_TTL;
	o->protocol = IPPROTO_IPIP;
	o->saddr = vip->src4;
	o->daddr = be->addr[0];
	o->check = 0;
	o->check = csum_ipv4_hdr(o);
}

/* Write the outer IPv6 header for an IP6IP6 or IPv4-in-IPv6 packet. */
static __always_inline void outer_ipv6(struct ipv6hdr *o, const struct sl_pkt *p,
				       const struct sl_vip_meta *vip,
				       const struct sl_backend *be)
{
	/* A flow label from the ports and source lets routers spread flows. */
	__u32 label = (p->key.src[3] ^ p->key.src[0] ^
		       ((__u32)p->key.sport << 16 | p->key.dport)) & 0xfffff;

	o->version = 6;
	o->priority = p->tos >> 4;
	o->flow_lbl[0] = ((p->tos & 0xf) << 4) | (label >> 16);
	o->flow_lbl[1] = label >> 8;
	o->flow_lbl[2] = label;
	o->payload_len = bpf_htons(p->l3_len);
	o->nexthdr = p->key.family == SL_FAMILY_V4 ? IPPROTO_IPIP : IPPROTO_IPV6;
	o->hop_limit = SL_OUTER_TTL;
	__builtin_memcpy(&o->saddr, vip->src6, sizeof(o->saddr));
	__builtin_memcpy(&o->daddr, be->addr, sizeof(o->daddr));
}

/*
 * Prepend an outer IP header for @be in front of the IP packet of @p, keeping
 * the Ethernet header (and VLAN tag) in front, addressed to the next hop.
 * The inner packet is not touched; bytes after it (Ethernet padding) are
 * trimmed. Returns SL_TX_ENCAP with *egress set to the interface to send on
 * (0: the receiving one), or a reason.
 */
static __always_inline int encap(struct xdp_md *ctx, const struct sl_pkt *p,
				 const struct sl_vip_meta *vip,
				 const struct sl_backend *be, __u32 *egress)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data, old_eth;
	struct sl_vlan_hdr *vlan, old_vlan = {};
	__u8 dmac[ETH_ALEN];
	bool v6_outer = be->family == SL_FAMILY_V6;
	int len = v6_outer ? SL_ENCAP_V6 : SL_ENCAP_V4;
	int rc;

	if (!v6_outer && p->key.family == SL_FAMILY_V6)
		return SL_DROP_FAMILY;
	if (p->l3_len + len > sl_mtu)
		return SL_DROP_TOO_BIG;

	/* Save the L2 header: adjust_head invalidates every packet pointer. */
	if ((void *)(eth + 1) > data_end)
		return SL_DROP_ADJUST;
	old_eth = *eth;
	/* Our MAC becomes the source: a group address cannot be one. */
	if (old_eth.h_dest[0] & 1)
		return SL_PASS_L2_MULTICAST;

	if (be->flags & SL_BE_F_MAC) {
		__builtin_memcpy(dmac, be->mac, ETH_ALEN);
		*egress = be->ifindex;
	} else {
		rc = nexthop_fib(ctx, be, vip, dmac, egress);
		if (rc >= 0)
			return rc;
	}
	if (p->l2_len > sizeof(*eth)) {
		vlan = (void *)(eth + 1);
		if ((void *)(vlan + 1) > data_end)
			return SL_DROP_ADJUST;
		old_vlan = *vlan;
	}

	/* Bytes past the IP packet (Ethernet padding) would ride inside the tunnel. */
	if (data_end - data > p->l2_len + p->l3_len &&
	    bpf_xdp_adjust_tail(ctx, (int)(p->l2_len + p->l3_len) - (int)(data_end - data)))
		return SL_DROP_ADJUST;
	if (bpf_xdp_adjust_head(ctx, -len))
		return SL_DROP_ADJUST;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;

	eth = data;
	if ((void *)(eth + 1) > data_end)
		return SL_DROP_ADJUST;
	__builtin_memcpy(eth->h_dest, dmac, ETH_ALEN);
	/* Our own MAC (the frame's old destination), so switches learn us. */
	__builtin_memcpy(eth->h_source, old_eth.h_dest, ETH_ALEN);
	eth->h_proto = old_eth.h_proto;
	data += sizeof(*eth);
	if (p->l2_len > sizeof(*eth)) {
		vlan = data;
		if ((void *)(vlan + 1) > data_end)
			return SL_DROP_ADJUST;
		vlan->tci = old_vlan.tci;
		vlan->proto = v6_outer ? bpf_htons(ETH_P_IPV6) : bpf_htons(ETH_P_IP);
		data += sizeof(*vlan);
	} else {
		eth->h_proto = v6_outer ? bpf_htons(ETH_P_IPV6) : bpf_htons(ETH_P_IP);
	}

	if (v6_outer) {
		struct ipv6hdr *o6 = data;

		if ((void *)(o6 + 1) > data_end)
			return SL_DROP_ADJUST;
		outer_ipv6(o6, p, vip, be);
	} else {
		struct iphdr *o4 = data;

		if ((void *)(o4 + 1) > data_end)
			return SL_DROP_ADJUST;
		outer_ipv4(o4, p, vip, be);
	}
	return SL_TX_ENCAP;
}

#endif /* SLUICE_BPF_ENCAP_H */
