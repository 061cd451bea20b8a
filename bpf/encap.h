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
				       const struct sl_backend *be, __u8 *dmac,
				       __u32 *egress)
{
	struct bpf_fib_lookup fib = {};
	int rc;

	fib.ifindex = ctx->ingress_ifindex;
	if (be->family == SL_FAMILY_V4) {
		fib.family = SL_AF_INET;
		fib.ipv4_src = be->src[0];
		fib.ipv4_dst = be->addr[0];
	} else {
		fib.family = SL_AF_INET6;
		__builtin_memcpy(fib.ipv6_src, be->src, sizeof(fib.ipv6_src));
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

/*
 * Write the outer IPv6 header for an IP6IP6 or IPv4-in-IPv6 packet of flow
 * @k, whose inner packet is @l3_len bytes with traffic class @tos.
 */
static __always_inline void outer_ipv6(struct ipv6hdr *o, const struct sl_flow_key *k,
				       __u8 tos, __u32 l3_len, const struct sl_backend *be)
{
	/* A flow label from the ports and source lets routers spread flows. */
	__u32 label = (k->src[3] ^ k->src[0] ^
		       ((__u32)k->sport << 16 | k->dport)) & 0xfffff;

	/* Version, traffic class and flow label: one word, no bitfield writes. */
	*(__be32 *)o = bpf_htonl(6U << 28 | (__u32)tos << 20 | label);
	o->payload_len = bpf_htons(l3_len);
	o->nexthdr = k->family == SL_FAMILY_V4 ? IPPROTO_IPIP : IPPROTO_IPV6;
	o->hop_limit = SL_OUTER_TTL;
	__builtin_memcpy(&o->saddr, be->src, sizeof(o->saddr));
	__builtin_memcpy(&o->daddr, be->addr, sizeof(o->daddr));
}

/*
 * Prepend an outer IP header for @be in front of the IP packet of @p, keeping
 * the Ethernet header (and VLAN tag) in front, addressed to the next hop.
 * The inner packet is not touched; bytes after it (Ethernet padding) are
 * trimmed. Returns SL_TX_ENCAP with *egress set to the interface to send on
 * (0: the receiving one), or a reason.
 *
 * The Ethernet header is moved as 16-bit words (struct ethhdr is packed,
 * which compiles to byte moves).
 */
static __always_inline int encap(struct xdp_md *ctx, const struct sl_pkt *p,
				 const struct sl_backend *be, __u32 *egress)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u16 *eth = data, ours[3], dmac[3], tpid = 0;
	struct sl_vlan_hdr *vlan, old_vlan = {};
	bool v6_outer = be->family == SL_FAMILY_V6;
	int len = v6_outer ? SL_ENCAP_V6 : SL_ENCAP_V4;
	__be16 outer_proto = v6_outer ? bpf_htons(ETH_P_IPV6) : bpf_htons(ETH_P_IP);
	int rc;

	if (!v6_outer && p->key.family == SL_FAMILY_V6)
		return SL_DROP_FAMILY;
	if (p->l3_len + len > sl_mtu)
		return SL_DROP_TOO_BIG;

	/* Save the L2 header: adjust_head invalidates every packet pointer. */
	if ((void *)(eth + ETH_HLEN / 2) > data_end)
		return SL_DROP_ADJUST;
	/* Our MAC (the frame's destination) becomes the source: not a group one. */
	if (*(__u8 *)data & 1)
		return SL_PASS_L2_MULTICAST;
	ours[0] = eth[0];
	ours[1] = eth[1];
	ours[2] = eth[2];

	if (be->flags & SL_BE_F_MAC) {
		const __u16 *m = (const __u16 *)be->mac;

		dmac[0] = m[0];
		dmac[1] = m[1];
		dmac[2] = m[2];
		*egress = be->ifindex;
	} else {
		rc = nexthop_fib(ctx, be, (__u8 *)dmac, egress);
		if (rc >= 0)
			return rc;
	}
	if (p->l2_len > ETH_HLEN) {
		vlan = data + ETH_HLEN;
		if ((void *)(vlan + 1) > data_end)
			return SL_DROP_ADJUST;
		tpid = eth[6];
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
	if ((void *)(eth + ETH_HLEN / 2) > data_end)
		return SL_DROP_ADJUST;
	eth[0] = dmac[0];
	eth[1] = dmac[1];
	eth[2] = dmac[2];
	/* Our own MAC (the frame's old destination), so switches learn us. */
	eth[3] = ours[0];
	eth[4] = ours[1];
	eth[5] = ours[2];
	data += ETH_HLEN;
	if (p->l2_len > ETH_HLEN) {
		eth[6] = tpid;
		vlan = data;
		if ((void *)(vlan + 1) > data_end)
			return SL_DROP_ADJUST;
		vlan->tci = old_vlan.tci;
		vlan->proto = outer_proto;
		data += sizeof(*vlan);
	} else {
		eth[6] = outer_proto;
	}

	if (v6_outer) {
		struct ipv6hdr *o6 = data;

		if ((void *)(o6 + 1) > data_end)
			return SL_DROP_ADJUST;
		outer_ipv6(o6, &p->key, p->tos, p->l3_len, be);
	} else {
		struct iphdr *o4 = data;

		if ((void *)(o4 + 1) > data_end)
			return SL_DROP_ADJUST;
		ipv4_hdr_write(o4, p->tos, p->l3_len + SL_ENCAP_V4, SL_OUTER_TTL,
			       IPPROTO_IPIP, be->src[0], be->addr[0]);
	}
	return SL_TX_ENCAP;
}

#endif /* SLUICE_BPF_ENCAP_H */
