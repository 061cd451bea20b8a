// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Baselines for the XDP benchmark: receive ceiling, forwarding ceiling, ideal encap. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "csum.h"	/* the balancer's own checksum, so the ideal pays the same */

/*
 * Outer header of the minimal encapsulator, written by userspace before the
 * run (plain globals: a const volatile array would be read byte by byte).
 */
__u16 xb_be_mac[3] = {};	/* next hop toward the backend, as 3 words */
__be32 xb_src = 0;		/* outer source */
__be32 xb_dst = 0;		/* outer destination (the backend) */

/* Frames seen by the programs that keep them (drop, pass), per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} xb_seen SEC(".maps");

/* Count one frame in xb_seen. */
static __always_inline void count(void)
{
	__u32 k = 0;
	__u64 *c = bpf_map_lookup_elem(&xb_seen, &k);

	if (c)
		(*c)++;
}

/* Receive ceiling: count and drop. */
SEC("xdp")
int xb_drop(struct xdp_md *ctx)
{
	count();
	return XDP_DROP;
}

/* Pass-through ceiling: count and hand to the stack. */
SEC("xdp")
int xb_pass(struct xdp_md *ctx)
{
	count();
	return XDP_PASS;
}

/* Forwarding ceiling: swap the Ethernet addresses and send back out. */
SEC("xdp")
int xb_macswap(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u16 *p = data, t0, t1, t2;	/* as words, like the kernel's xdp2 sample */

	if (data + ETH_HLEN > data_end)
		return XDP_DROP;
	t0 = p[0];
	t1 = p[1];
	t2 = p[2];
	p[0] = p[3];
	p[1] = p[4];
	p[2] = p[5];
	p[3] = t0;
	p[4] = t1;
	p[5] = t2;
	return XDP_TX;
}

/*
 * The ideal for a balancer: IPIP toward one fixed backend, no lookups. It
 * still reads what a correct outer header needs (inner length and TOS) and
 * computes the header checksum.
 */
SEC("xdp")
int xb_encap(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	/* The Ethernet header as 16-bit words: struct ethhdr is packed (byte moves). */
	__u16 *eth = data, m0, m1, m2;
	struct iphdr *in = data + ETH_HLEN, *o;
	__u16 tot;
	__u8 tos;

	if ((void *)(in + 1) > data_end)
		return XDP_PASS;
	if (eth[6] != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	tot = bpf_ntohs(in->tot_len);
	tos = in->tos;
	m0 = eth[0];	/* our MAC: the old destination */
	m1 = eth[1];
	m2 = eth[2];

	if (bpf_xdp_adjust_head(ctx, -(int)sizeof(*o)))
		return XDP_DROP;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	o = data + ETH_HLEN;
	if ((void *)(o + 1) > data_end)
		return XDP_DROP;

	eth[0] = xb_be_mac[0];
	eth[1] = xb_be_mac[1];
	eth[2] = xb_be_mac[2];
	eth[3] = m0;
	eth[4] = m1;
	eth[5] = m2;
	eth[6] = bpf_htons(ETH_P_IP);
	ipv4_hdr_write(o, tos, tot + sizeof(*o), 64, IPPROTO_IPIP, xb_src, xb_dst);
	return XDP_TX;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
