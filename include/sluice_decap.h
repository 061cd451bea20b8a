/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* What the backend decapsulator (bpf/decap.bpf.c) and sluice-backend share. */
#ifndef SLUICE_DECAP_H
#define SLUICE_DECAP_H

#include <linux/types.h>
#include "sluice_abi.h"		/* SL_FAMILY_V4, SL_FAMILY_V6 */

/* Limits. Each can be overridden at build time (-DSL_DC_MAX_VIPS=...). */
#ifndef SL_DC_MAX_LOCAL
#define SL_DC_MAX_LOCAL 256		/* addresses of the interface (outer dst) */
#endif
#ifndef SL_DC_MAX_VIPS
#define SL_DC_MAX_VIPS 1024		/* VIPs this host serves (inner dst) */
#endif

/*
 * Key of sluice_dc_local (this host's addresses on the interface) and
 * sluice_dc_vips (the VIPs it serves). The value of both is a __u8,
 * SL_DC_PRESENT: only the key's presence matters.
 */
struct sl_dc_addr {
	__be32 addr[4];		/* network order; IPv4 in addr[0], addr[1..3] zero */
	__u8 family;		/* SL_FAMILY_V4 or SL_FAMILY_V6 */
	__u8 pad[3];		/* zero */
};

#define SL_DC_PRESENT 1		/* value stored in sluice_dc_local / sluice_dc_vips */

/*
 * Reasons, one slot each in sluice_dc_stats: every packet the decapsulator
 * sees is counted in exactly one. The program relies on this order: the
 * reasons before SL_DC_DROP_NOT_VIP return XDP_PASS, the rest XDP_DROP.
 */
enum sl_dc_reason {
	SL_DC_PASS_NOT_ENCAP = 0,	/* not IP-in-IP (or too short to tell): untouched */
	SL_DC_PASS_NOT_LOCAL,		/* IP-in-IP to an address not ours: untouched */
	SL_DC_DECAP_OK,			/* outer header stripped, inner packet passed */
	SL_DC_DROP_NOT_VIP,		/* to us, inner destination not a VIP we serve */
	SL_DC_DROP_BAD_OUTER,		/* to us, outer IHL < 5 or length past the frame */
	SL_DC_DROP_BAD_INNER,		/* to us, inner header truncated, wrong, too long */
	SL_DC_DROP_FRAGMENT,		/* to us, the outer packet is a fragment */
	SL_DC_DROP_ADJUST,		/* bpf_xdp_adjust_head failed */
	SL_DC_REASON_MAX,
};

/* sluice_dc_stats value. */
struct sl_dc_count {
	__u64 packets;		/* packets counted under this reason */
	__u64 bytes;		/* their frame bytes, as received */
};

#ifndef __bpf__
_Static_assert(sizeof(struct sl_dc_addr) == 20, "sl_dc_addr layout");
_Static_assert(sizeof(struct sl_dc_count) == 16, "sl_dc_count layout");
#endif

#endif /* SLUICE_DECAP_H */
