/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Verdict counting: every packet is counted under exactly one reason. */
#ifndef SLUICE_BPF_STATS_H
#define SLUICE_BPF_STATS_H

#include "maps.h"

/*
 * Count one packet under @reason; returns the XDP action the reason implies
 * (for SL_TX_REDIRECT the caller returns bpf_redirect()'s verdict instead).
 */
static __always_inline int verdict(__u32 reason)
{
	struct sl_reason_count *c;

	c = bpf_map_lookup_elem(&sluice_reasons, &reason);
	if (c)
		c->packets++;
	if (reason >= SL_TX_ENCAP)
		return XDP_TX;
	if (reason >= SL_DROP_BAD_IP)
		return XDP_DROP;
	return XDP_PASS;
}

/*
 * Add one forwarded packet of @bytes to its backend slot's counters. VIP
 * figures are the sums of their slots (dp_vip_stats): one counter update
 * per packet instead of two.
 */
static __always_inline void count_forward(__u32 be_id, __u64 bytes, bool is_new)
{
	struct sl_counters *c = bpf_map_lookup_elem(&sluice_be_st, &be_id);

	if (c) {
		c->packets++;
		c->bytes += bytes;
		c->new_flows += is_new;
	}
}

#endif /* SLUICE_BPF_STATS_H */
