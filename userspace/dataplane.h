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
	__u32 flow_limit;	/* flow-table inserts per CPU per second; 0 = no limit */
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

/* Copy the current table of @vip_id into @table. Returns 0, -ENOENT or -errno. */
int dp_ring_get(struct dp *dp, __u32 vip_id, __u32 *table);

/* Remove the table of @vip_id (its packets then count as DROP_NO_RING). */
int dp_ring_del(struct dp *dp, __u32 vip_id);

/*
 * Make a VIP forward to @n backends: write the backend slots, build and
 * publish the Maglev table from those with weight > 0 and not down, then
 * write the VIP. Order matters: the VIP appears only once its table exists.
 * With no usable backend the VIP gets no table, so its packets are dropped
 * (DROP_NO_RING). When the maps already hold exactly this, nothing is
 * written. Returns 0 or -errno.
 */
int dp_vip_apply(struct dp *dp, const struct sl_vip_key *key,
		 const struct sl_vip_meta *meta, const struct dp_backend *be,
		 size_t n);

/*
 * Batch several dp_vip_apply() calls: between begin and commit, each call
 * writes its backend slots at once but queues its table, DOWN flags and VIP
 * entry; the commit publishes every table in one map update (the kernel
 * waits ~10 ms for RCU after each update of a map of maps, so 1000 VIPs
 * one by one take seconds) and then writes the rest, VIP entries last.
 * Returns 0 or -errno.
 */
void dp_batch_begin(struct dp *dp);
int dp_batch_commit(struct dp *dp);

/*
 * Sum the per-CPU counters of backend slot @id, or of VIP @id: the program
 * counts per backend slot only, so a VIP's figures are what its freed slots
 * left (dp_backend_free) plus its @n current slots @slots (retiring ones
 * included). Returns 0 or -errno.
 */
int dp_vip_stats(struct dp *dp, __u32 id, const __u32 *slots, size_t n,
		 struct sl_counters *out);
int dp_backend_stats(struct dp *dp, __u32 id, struct sl_counters *out);

/*
 * Free backend slot @id: family 0 (every flow naming it turns into a miss),
 * generation kept, and its counters folded into its VIP's. Returns 0 or -errno.
 */
int dp_backend_free(struct dp *dp, __u32 id);

/* Sum the per-CPU reason counters into @out[SL_REASON_MAX]. Returns 0 or -errno. */
int dp_reason_stats(struct dp *dp, __u64 *out);

/* Zero the counters of one VIP / backend slot (a slot given to someone new). */
int dp_vip_stats_reset(struct dp *dp, __u32 id);
int dp_backend_stats_reset(struct dp *dp, __u32 id);

/* Remove address markers no service VIP uses (left by a crash). Returns 0 or -errno. */
int dp_markers_prune(struct dp *dp);

/* Look a flow up in the flow table. Returns 0, -ENOENT or -errno. */
int dp_flow_get(struct dp *dp, const struct sl_flow_key *key, struct sl_flow *flow);

/* Called by dp_vip_foreach() for each service VIP; non-zero stops the walk. */
typedef int (*dp_vip_fn)(const struct sl_vip_key *key, const struct sl_vip_meta *meta,
			 void *arg);

/* Walk the service VIPs (markers skipped). Returns 0, the callback's value, or -errno. */
int dp_vip_foreach(struct dp *dp, dp_vip_fn fn, void *arg);

/*
 * Count live flow-table entries per backend into @counts[SLUICE_MAX_BACKENDS]
 * and their sum into @total: entries seen at or after clock @since (see
 * dp_clock_set) whose backend slot was not reused since. Returns 0 or -errno.
 */
int dp_flow_counts(struct dp *dp, __u32 *counts, __u64 *total, __u32 since);

/* Set the program's coarse clock (seconds) that flows record as "seen". */
void dp_clock_set(struct dp *dp, __u32 now);

/* Returns the program's coarse clock. */
__u32 dp_clock_get(const struct dp *dp);

/*
 * Attach the program to @ifname (@ifindex) through a bpf_link pinned under
 * @pin_dir. An existing pinned link for that interface and mode gets the
 * program swapped atomically (no moment without a program); one pinned for
 * the other mode is removed first. Returns 0 or -errno; *prog_id is set.
 */
int dp_attach(struct dp *dp, const char *pin_dir, const char *ifname, int ifindex,
	      bool generic, __u32 *prog_id);

/* Detach from @ifname by removing its pinned link(s). Returns 0 or -errno. */
int dp_detach(const char *pin_dir, const char *ifname);

/*
 * Returns the id of the program attached through the pinned link for
 * @ifname, 0 when none is pinned, or -errno.
 */
int dp_attached_prog(const char *pin_dir, const char *ifname, bool *generic);

/*
 * Remove the data plane: every pinned link (detaching the program) and map
 * under @pin_dir, then the directory. Returns 0 or -errno.
 */
int dp_teardown(const char *pin_dir);

/* Returns the name of a reason slot ("pass_not_vip", ...), or "unknown". */
const char *dp_reason_name(__u32 reason);

#endif /* SLUICE_DATAPLANE_H */
