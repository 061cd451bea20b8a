// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The balancer: packets for a VIP are encapsulated toward a Maglev-chosen backend. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "sluice_abi.h"
#include "maps.h"
#include "stats.h"
#include "parse.h"
#include "lookup.h"
#include "encap.h"
#include "fast.h"

/*
 * The full path, for every packet the fast path (fast.h) leaves alone:
 * parse, find the VIP, pick a backend, encapsulate, count, send. Every
 * outcome leaves through the one exit at the end, which counts it: one copy
 * of the counting code instead of one per early return keeps the program
 * small, and the forwarding path straight.
 */
static __always_inline int full_path(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 bytes = data_end - data;
	struct sl_pkt p = {};
	struct sl_backend *be;
	__u32 be_id, egress = 0;
	bool is_new;
	void *l4;
	int rc, act;

	rc = parse_l2(&p, data, data_end);
	if (sl_unlikely(rc >= 0))
		goto out;
	if (p.l3_proto == bpf_htons(ETH_P_IP))
		rc = parse_ipv4(&p, data + p.l2_len, data_end, &l4);
	else
		rc = parse_ipv6(&p, data + p.l2_len, data_end, &l4);
	if (sl_unlikely(rc >= 0))
		goto out;

	if (sl_unlikely(p.is_frag)) {
		rc = is_vip_address(&p) ? SL_DROP_FRAGMENT : SL_PASS_FRAGMENT;
		goto out;
	}
	if (sl_unlikely(p.key.proto != IPPROTO_TCP && p.key.proto != IPPROTO_UDP)) {
		rc = p.key.family == SL_FAMILY_V6 && is_ipv6_ext(p.key.proto) ?
		     SL_PASS_IPV6_EXT : SL_PASS_NOT_L4;
		goto out;
	}
	rc = parse_l4(&p, l4, data + p.l2_len + p.l3_len, data_end);
	if (sl_unlikely(rc >= 0))
		goto out;

	/* A SYN starts a connection: no entry to find, skip the lookups. */
	is_new = false;
	if (sl_unlikely(p.is_syn || !fcache_lookup(&p, &be_id, &be))) {
		rc = SL_PASS_NOT_VIP;
		if (!is_vip_candidate(&p))
			goto out;
		is_new = p.is_syn || !flow_lookup(&p, &be_id, &be);
	}
	if (is_new) {
		struct sl_vip_meta *vip = vip_lookup(&p);

		if (!vip)
			goto out;
		rc = backend_pick(&p, vip, &be_id, &be);
		if (rc >= 0)
			goto out;
	}

	rc = encap(ctx, &p, be, &egress);
	if (sl_unlikely(rc != SL_TX_ENCAP))
		goto out;
	count_forward(be_id, bytes, is_new);
	if (egress && egress != ctx->ingress_ifindex)
		rc = SL_TX_REDIRECT;
out:
	act = verdict(rc);
	return rc == SL_TX_REDIRECT ? bpf_redirect(egress, 0) : act;
}

/* The program: the fast path if it applies, else the full path. */
SEC("xdp")
int sluice_xdp(struct xdp_md *ctx)
{
	int act = fast_path(ctx);

	if (sl_likely(act != SL_CONTINUE))
		return act;
	return full_path(ctx);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
