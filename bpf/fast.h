/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The fast path: an established IPv4 flow the per-CPU flow cache holds. */
#ifndef SLUICE_BPF_FAST_H
#define SLUICE_BPF_FAST_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
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
 * Almost every packet a balancer sees is of one kind: IPv4 without options
 * or VLAN tag, TCP or UDP, not a fragment, not a SYN, of a flow in this
 * CPU's flow cache, toward an IPv4 backend whose next hop is known and is
 * reached through the receiving interface. fast_v4() checks such a packet as
 * the full path would, then encapsulates and counts it, in one straight pass
 * without struct sl_pkt and without the cases the general code must handle
 * (VLAN, IPv6, padding, FIB, redirect); the compiler then keeps its values in
 * registers instead of the stack. Returns the XDP action, or SL_CONTINUE with
 * the packet untouched and nothing counted: the full path decides those, so
 * this is only a shortcut. The packet tests send every kind of packet
 * through both (every_path_forwards_alike, malformed_in_a_cached_flow).
 */
static __always_inline int fast_v4(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u16 *eth = data, m0, m1, m2;
	struct iphdr *ip = data + ETH_HLEN;
	__u8 *l4 = (__u8 *)(ip + 1);
	struct sl_fcache *c;
	struct sl_flow_key k;
	__u64 *w = (__u64 *)&k;
	__u32 tot;
	__u8 tos;

	/* Room for the ports (the TCP header is checked below). */
	if (l4 + sizeof(struct udphdr) > (__u8 *)data_end)
		return SL_CONTINUE;
	if (eth[6] != bpf_htons(ETH_P_IP) || *(__u8 *)ip != 0x45)
		return SL_CONTINUE;
	if (ip->frag_off & bpf_htons(SL_IP_MF | SL_IP_OFFSET))
		return SL_CONTINUE;
	tot = bpf_ntohs(ip->tot_len);
	/* The IP packet fills the frame: no padding to trim, nothing cut. */
	if (data + ETH_HLEN + tot != data_end)
		return SL_CONTINUE;
	if (ip->protocol == IPPROTO_TCP) {
		struct tcphdr *th = (struct tcphdr *)l4;

		if ((void *)(th + 1) > data_end)
			return SL_CONTINUE;
		if (th->doff < 5 || th->doff * 4 > tot - sizeof(*ip))
			return SL_CONTINUE;
		if (th->syn && !th->ack)
			return SL_CONTINUE;
	} else if (ip->protocol == IPPROTO_UDP) {
		struct udphdr *uh = (struct udphdr *)l4;
		__u32 len = bpf_ntohs(uh->len);

		if (len < sizeof(*uh) || len > tot - sizeof(*ip))
			return SL_CONTINUE;
	} else {
		return SL_CONTINUE;
	}

	w[0] = key_word(ip->saddr, 0);
	w[1] = 0;
	w[2] = key_word(ip->daddr, 0);
	w[3] = 0;
	w[4] = key_word(*(__u32 *)l4, key_proto_family(ip->protocol, SL_FAMILY_V4));
	c = fcache_entry(&k);
	if (!c || c->seen != sl_clock || c->epoch != sl_be_epoch ||
	    !is_same_flow(&c->key, &k))
		return SL_CONTINUE;
	if (c->be.family != SL_FAMILY_V4 || !(c->be.flags & SL_BE_F_MAC))
		return SL_CONTINUE;
	if (tot + SL_ENCAP_V4 > sl_mtu || (*(__u8 *)data & 1))
		return SL_CONTINUE;
	if (c->be.ifindex && c->be.ifindex != ctx->ingress_ifindex)
		return SL_CONTINUE;

	tos = ip->tos;
	m0 = eth[0];
	m1 = eth[1];
	m2 = eth[2];
	if (bpf_xdp_adjust_head(ctx, -SL_ENCAP_V4))
		return verdict(SL_DROP_ADJUST);
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	ip = data + ETH_HLEN;
	if ((void *)(ip + 1) > data_end)
		return verdict(SL_DROP_ADJUST);
	eth[0] = ((__u16 *)c->be.mac)[0];
	eth[1] = ((__u16 *)c->be.mac)[1];
	eth[2] = ((__u16 *)c->be.mac)[2];
	eth[3] = m0;
	eth[4] = m1;
	eth[5] = m2;
	eth[6] = bpf_htons(ETH_P_IP);
	ipv4_hdr_write(ip, tos, tot + SL_ENCAP_V4, SL_OUTER_TTL, IPPROTO_IPIP,
		       c->be.src[0], c->be.addr[0]);
	count_forward(c->backend, ETH_HLEN + tot, false);
	return verdict(SL_TX_ENCAP);
}

#endif /* SLUICE_BPF_FAST_H */
