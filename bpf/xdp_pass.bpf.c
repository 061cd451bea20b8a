// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* XDP_PASS only: a veth peer needs a native XDP program to receive XDP_TX frames. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
