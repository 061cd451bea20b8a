// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Traffic generator, cost harness and receive counter for the XDP benchmark. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "xdpbench.h"

/*
 * The frame to send, written by userspace between runs. __u64 words so the
 * copy into the packet is eight 8-byte moves (x86 allows unaligned packet
 * stores).
 */
__u64 xb_tmpl[XB_PKT_LEN / 8] = {};
__u32 xb_mode = XB_MODE_FIXED;		/* XB_MODE_* */
__u32 xb_flow_mask = 0;			/* XB_MODE_CYCLE: flows - 1 (a power of two) */
__u32 xb_v6 = 0;			/* template is IPv6: where the varied fields are */
__u32 xb_seq = 0;			/* frames written; one generator CPU at a time */

/* Frames that reached the counting program, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} xb_rx SEC(".maps");

/* The program under test, for the cost harness. */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} xb_progs SEC(".maps");

/*
 * Write the template into the frame and vary its source for the mode.
 * Frames are reused without reset (and the program under test rewrote them),
 * so every byte anyone reads is written again. Returns 0, or -1 if the frame
 * is not XB_PKT_LEN long.
 */
static __always_inline int frame_write(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 *w = data;
	__u32 seq, flow;
	__be32 *saddr;
	__be16 *sport;

	if (data + XB_PKT_LEN > data_end)
		return -1;
#pragma unroll
	for (int i = 0; i < XB_PKT_LEN / 8; i++)
		w[i] = xb_tmpl[i];

	seq = xb_seq++;
	if (xb_mode == XB_MODE_FIXED)
		return 0;
	flow = xb_mode == XB_MODE_CYCLE ? seq & xb_flow_mask : seq;
	/* 65536 ports per source address, then the next address. */
	if (xb_v6) {
		saddr = data + XB_V6_SADDR_LO;
		sport = data + XB_V6_SPORT;
	} else {
		saddr = data + XB_V4_SADDR_LO;
		sport = data + XB_V4_SPORT;
	}
	*sport = bpf_htons((__u16)flow);
	*saddr = bpf_htonl(bpf_ntohl(*saddr) + (flow >> 16));
	return 0;
}

/* Live-frame generator: write the frame and send it out of the veth. */
SEC("xdp")
int xb_gen(struct xdp_md *ctx)
{
	if (frame_write(ctx))
		return XDP_ABORTED;
	return XDP_TX;
}

/*
 * Cost harness: with repeat > 1 BPF_PROG_TEST_RUN hands the same buffer to
 * every run, so undo the previous run's head adjustment (encapsulation only
 * prepends; data_end does not move), rewrite the frame, then tail-call the
 * program under test.
 */
SEC("xdp")
int xb_wrap(struct xdp_md *ctx)
{
	int len = (int)(ctx->data_end - ctx->data);

	if (len != XB_PKT_LEN && bpf_xdp_adjust_head(ctx, len - XB_PKT_LEN))
		return XDP_ABORTED;
	if (frame_write(ctx))
		return XDP_ABORTED;
	bpf_tail_call(ctx, &xb_progs, XB_TARGET);
	return XDP_ABORTED;	/* empty slot: the harness's own cost */
}

/* Receive counter on the generator-side peer: count the frame, drop it. */
SEC("xdp")
int xb_count(struct xdp_md *ctx)
{
	__u32 k = 0;
	__u64 *c = bpf_map_lookup_elem(&xb_rx, &k);

	if (c)
		(*c)++;
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
