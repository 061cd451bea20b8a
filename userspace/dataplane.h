/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The data plane as userspace sees it: load, pin, attach, and write the maps. */
#ifndef SLUICE_DATAPLANE_H
#define SLUICE_DATAPLANE_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "sluice_abi.h"

struct dp;

/* How to open the data plane. */
struct dp_opts {
	const char *pin_dir;	/* bpffs directory for the maps; NULL: no pins */
	__u32 hash_seed;	/* flow hash seed (fixed for the program's life) */
	__u32 mtu;		/* largest packet sent after encap; 0 = 1500 */
	__u32 flow_entries;	/* flow-table size; 0 = SLUICE_MAX_FLOWS */
};

/* One backend of a VIP, as dp_vip_apply() takes it. */
struct dp_backend {
	__u32 id;		/* backend slot in sluice_backends */
	struct sl_backend be;	/* what the slot should hold */
	__u32 weight;		/* Maglev weight; 0 = not in the table */
};

/*
 * Open and load the program. With a pin_dir, maps already pinned there are
 * reused (their contents kept) and new ones are pinned. Returns NULL and sets
 * errno on failure.
 */
struct dp *dp_open(const struct dp_opts *opts);

/* Release our references; pinned maps and attached links stay. */
void dp_close(struct dp *dp);

/* Returns the fd of the XDP program. */
int dp_prog_fd(const struct dp *dp);

/* Returns the fd of the map called @name (e.g. "sluice_flows"), or -ENOENT. */
int dp_map_fd(const struct dp *dp, const char *name);

/* Insert or replace a VIP and its address marker. Returns 0 or -errno. */
int dp_vip_set(struct dp *dp, const struct sl_vip_key *key,
	       const struct sl_vip_meta *meta);

/* Remove a VIP (and the address marker if no VIP uses the address any more). */
int dp_vip_del(struct dp *dp, const struct sl_vip_key *key);

/* Read one VIP. Returns 0, -ENOENT or -errno. */
int dp_vip_get(struct dp *dp, const struct sl_vip_key *key, struct sl_vip_meta *meta);

/* Write backend slot @id. Returns 0 or -errno. */
int dp_backend_set(struct dp *dp, __u32 id, const struct sl_backend *be);

/* Read backend slot @id. Returns 0 or -errno. */
int dp_backend_get(struct dp *dp, __u32 id, struct sl_backend *be);

/*
 * Publish a whole new Maglev table for VIP slot @vip_id: a fresh table map is
 * filled completely, then swapped in with one map update, so the packet path
 * sees either the old table or the new one, never a mix. Returns 0 or -errno.
 */
int dp_ring_set(struct dp *dp, __u32 vip_id, const __u32 *table);

/* Copy the current table of @vip_id into @table. Returns 0, -ENOENT or -errno. */
int dp_ring_get(struct dp *dp, __u32 vip_id, __u32 *table);

/* Remove the table of @vip_id (its packets then count as DROP_NO_RING). */
int dp_ring_del(struct dp *dp, __u32 vip_id);

/*
 * Make a VIP forward to @n backends: write the backend slots, build and
 * publish the Maglev table from those with weight > 0 and not down, then
 * write the VIP. Order matters: the VIP appears only once its table exists.
 * Returns 0, -EINVAL (no usable backend) or -errno.
 */
int dp_vip_apply(struct dp *dp, const struct sl_vip_key *key,
		 const struct sl_vip_meta *meta, const struct dp_backend *be,
		 size_t n);

/* Sum the per-CPU counters of VIP @id / backend @id. Returns 0 or -errno. */
int dp_vip_stats(struct dp *dp, __u32 id, struct sl_counters *out);
int dp_backend_stats(struct dp *dp, __u32 id, struct sl_counters *out);

/* Sum the per-CPU reason counters into @out[SL_REASON_MAX]. Returns 0 or -errno. */
int dp_reason_stats(struct dp *dp, __u64 *out);

/* Zero every counter (tests and `stats reset`). Returns 0 or -errno. */
int dp_stats_reset(struct dp *dp);

/* Look a flow up in the flow table. Returns 0, -ENOENT or -errno. */
int dp_flow_get(struct dp *dp, const struct sl_flow_key *key, struct sl_flow *flow);

/* Returns the name of a reason slot ("pass_not_vip", ...), or "unknown". */
const char *dp_reason_name(__u32 reason);

#endif /* SLUICE_DATAPLANE_H */
