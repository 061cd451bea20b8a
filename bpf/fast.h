/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The fast path: established flows that the per-CPU flow cache holds. */
#ifndef SLUICE_BPF_FAST_H
#define SLUICE_BPF_FAST_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "maps.h"
#include "stats.h"
#include "parse.h"
#include "lookup.h"
#include "encap.h"

/*
 * Almost every packet a balancer sees is of one kind: IPv4 without options,
 * or IPv6 without extension headers, no VLAN tag, TCP or UDP, not a
 * fragment, not a SYN, of a flow in this CPU's flow cache, toward a backend
 * whose next hop is known and reached through the receiving interface.
 * fast_path() checks such a packet as the full path would, then
 * encapsulates (IPIP, IP6IP6 or IPv4 in IPv6) and counts it in one straight
 * pass, without struct sl_pkt and without the cases the general code must
 * handle (VLAN, padding, FIB, redirect); the compiler then keeps its values
 * in registers instead of the stack. It returns the XDP action, or
 * SL_CONTINUE with the packet untouched and nothing counted: the full path
 * decides those, so this is only a shortcut. The packet tests send every
 * kind of packet through both (every_path_forwards_alike,
 * malformed_in_a_cached_flow).
 */

/*
 * True when the TCP or UDP header at @l4, in an IP payload of @l4_len bytes
 * that ends the frame, is one the full path accepts (parse_l4) and does not
 * start a connection (a SYN without ACK re-picks its backend).
 */
static __always_inline bool fast_l4_ok(void *l4, void *data_end, __u8 proto,
				       __u32 l4_len)
{
	if (proto == IPPROTO_TCP) {
		struct tcphdr *th = l4;

		if ((void *)(th + 1) > data_end)
			return false;
		if (th->doff < 5 || th->doff * 4 > l4_len)
			return false;
		return !(th->syn && !th->ack);
	}
	if (proto == IPPROTO_UDP) {
		struct udphdr *uh = l4;
		__u32 len;

		if ((void *)(uh + 1) > data_end)
			return false;
		len = bpf_ntohs(uh->len);
		return len >= sizeof(*uh) && len <= l4_len;
	}
	return false;
}

/*
 * This CPU's cache entry for flow @k when it is valid (as fcache_lookup)
 * and the fast path can send to its slot copy: an IPv6 backend, or an IPv4
 * one for an IPv4 flow, with a known MAC, reached through the receiving
 * interface, with room for @l3_len bytes plus the outer header under
 * sl_mtu. Else NULL.
 */
static __always_inline struct sl_fcache *fast_entry(struct xdp_md *ctx,
						    const struct sl_flow_key *k,
						    __u32 l3_len)
{
	struct sl_fcache *c = fcache_entry(k);

	if (!c || c->seen != sl_clock || c->epoch != sl_be_epoch ||
	    !is_same_flow(&c->key, k))
		return NULL;
	/* An IPv6 flow cannot ride in IPv4: the full path drops it (DROP_FAMILY). */
	if (c->be.family != SL_FAMILY_V6 &&
	    (c->be.family != SL_FAMILY_V4 || k->family != SL_FAMILY_V4))
		return NULL;
	if (!(c->be.flags & SL_BE_F_MAC))
		return NULL;
	if (l3_len + (c->be.family == SL_FAMILY_V6 ? SL_ENCAP_V6 : SL_ENCAP_V4) > sl_mtu)
		return NULL;
	if (c->be.ifindex && c->be.ifindex != ctx->ingress_ifindex)
		return NULL;
	return c;
}

/*
 * Make room for an outer header of @len bytes and write the Ethernet header
 * in front of it: to @be's next hop, from our own MAC @m (the frame's old
 * destination, as 3 words), EtherType @proto. Returns the outer header, or
 * NULL when the packet could not grow.
 */
static __always_inline void *fast_push(struct xdp_md *ctx, int len,
				       const struct sl_backend *be,
				       __u16 m0, __u16 m1, __u16 m2, __be16 proto)
{
	const __u16 *mac = (const __u16 *)be->mac;
	void *data, *data_end;
	__u16 *eth;

	if (bpf_xdp_adjust_head(ctx, -len))
		return NULL;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	if (data + ETH_HLEN + len > data_end)
		return NULL;
	eth[0] = mac[0];
	eth[1] = mac[1];
	eth[2] = mac[2];
	eth[3] = m0;
	eth[4] = m1;
	eth[5] = m2;
	eth[6] = proto;
	return data + ETH_HLEN;
}

/*
 * Encapsulate the @tot-byte IP packet of flow @k toward the backend of
 * cache entry @c (IPIP, or IPv6 outer for an IPv6 backend), from our MAC
 * @m0..@m2, and count it. Returns the XDP action.
 */
static __always_inline int fast_send(struct xdp_md *ctx, const struct sl_fcache *c,
				     const struct sl_flow_key *k, __u8 tos, __u32 tot,
				     __u16 m0, __u16 m1, __u16 m2)
{
	struct ipv6hdr *o6;
	struct iphdr *o;

	if (c->be.family == SL_FAMILY_V6) {
		o6 = fast_push(ctx, SL_ENCAP_V6, &c->be, m0, m1, m2, bpf_htons(ETH_P_IPV6));
		if (!o6)
			return verdict(SL_DROP_ADJUST);
		outer_ipv6(o6, k, tos, tot, &c->be);
	} else {
		o = fast_push(ctx, SL_ENCAP_V4, &c->be, m0, m1, m2, bpf_htons(ETH_P_IP));
		if (!o)
			return verdict(SL_DROP_ADJUST);
		ipv4_hdr_write(o, tos, tot + SL_ENCAP_V4, SL_OUTER_TTL, IPPROTO_IPIP,
			       c->be.src[0], c->be.addr[0]);
	}
	count_forward(c->backend, ETH_HLEN + tot, false);
	return verdict(SL_TX_ENCAP);
}

/* IPv4 with a 20-byte header. */
static __always_inline int fast_v4(struct xdp_md *ctx, void *data, void *data_end)
{
	__u16 *eth = data;
	struct iphdr *ip = data + ETH_HLEN;
	struct sl_fcache *c;
	struct sl_flow_key k;
	__u32 tot;

	if ((void *)(ip + 1) > data_end)
		return SL_CONTINUE;
	if (*(__u8 *)ip != 0x45 || (ip->frag_off & bpf_htons(SL_IP_MF | SL_IP_OFFSET)))
		return SL_CONTINUE;
	tot = bpf_ntohs(ip->tot_len);
	/* The IP packet fills the frame: no padding to trim, nothing cut. */
	if (data + ETH_HLEN + tot != data_end)
		return SL_CONTINUE;
	if (!fast_l4_ok(ip + 1, data_end, ip->protocol, tot - sizeof(*ip)))
		return SL_CONTINUE;
	key_v4(&k, ip->saddr, ip->daddr, *(__u32 *)(ip + 1), ip->protocol);
	c = fast_entry(ctx, &k, tot);
	if (!c)
		return SL_CONTINUE;
	return fast_send(ctx, c, &k, ip->tos, tot, eth[0], eth[1], eth[2]);
}

/* IPv6 with TCP or UDP right after the fixed header. */
static __always_inline int fast_v6(struct xdp_md *ctx, void *data, void *data_end)
{
	__u16 *eth = data;
	struct ipv6hdr *ip6 = data + ETH_HLEN;
	struct sl_fcache *c;
	struct sl_flow_key k;
	__u32 tot;

	if ((void *)(ip6 + 1) > data_end)
		return SL_CONTINUE;
	if (ip6->version != 6)
		return SL_CONTINUE;
	tot = sizeof(*ip6) + bpf_ntohs(ip6->payload_len);
	if (data + ETH_HLEN + tot != data_end)
		return SL_CONTINUE;
	/* Extension headers (fragments among them) are the full path's. */
	if (!fast_l4_ok(ip6 + 1, data_end, ip6->nexthdr, tot - sizeof(*ip6)))
		return SL_CONTINUE;
	key_v6(&k, (const __u64 *)&ip6->saddr, *(__u32 *)(ip6 + 1), ip6->nexthdr);
	/* fast_entry gives an IPv6 flow only an IPv6 backend: IP6IP6. */
	c = fast_entry(ctx, &k, tot);
	if (!c)
		return SL_CONTINUE;
	return fast_send(ctx, c, &k, ipv6_tclass(ip6), tot, eth[0], eth[1], eth[2]);
}

/* The fast path for the frame of @ctx: an XDP action, or SL_CONTINUE. */
static __always_inline int fast_path(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u16 *eth = data;

	/* Our MAC becomes the source: never a group address. */
	if ((void *)(eth + ETH_HLEN / 2) > data_end || (*(__u8 *)data & 1))
		return SL_CONTINUE;
	if (eth[6] == bpf_htons(ETH_P_IP))
		return fast_v4(ctx, data, data_end);
	if (eth[6] == bpf_htons(ETH_P_IPV6))
		return fast_v6(ctx, data, data_end);
	return SL_CONTINUE;
}

#endif /* SLUICE_BPF_FAST_H */
