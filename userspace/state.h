/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The running state: which VIPs and backends hold which map slots, and applying changes. */
#ifndef SLUICE_STATE_H
#define SLUICE_STATE_H

#include <stdbool.h>
#include "config.h"
#include "dataplane.h"

struct nl;

/* A backend as the daemon runs it. */
struct rt_backend {
	struct sl_addr addr;	/* identity within its VIP */
	__u32 id;		/* slot in sluice_backends */
	__u32 gen;		/* slot generation (sl_backend.gen) */
	bool down;		/* health says down */
	bool has_mac;		/* mac[] holds the resolved next hop */
	__u8 mac[6];		/* next-hop MAC */
	__u32 ifindex;		/* interface toward the next hop (0: unknown) */
	bool seen;		/* scratch for state_apply() */
	bool retiring;		/* removed from the config: out of the table, but its
				 * slot stays until its flows end (state_reap) */
	__u32 retired_at;	/* clock (s) when it started retiring */
};

/* A VIP as the daemon runs it. */
struct rt_vip {
	char name[SL_CFG_NAME_MAX];	/* "" while adopted and not yet matched */
	struct sl_vip_key key;		/* map key */
	__u32 id;			/* slot in sluice_rings / sluice_vip_st */
	struct rt_backend *be;		/* backends */
	__u32 n_be, cap_be;
	bool seen;			/* scratch for state_apply() */
	bool fresh;			/* created by this state_apply() */
};

/* Everything the daemon knows about the maps it wrote. */
struct rt_state {
	struct rt_vip *vips;
	__u32 n_vips, cap_vips;
	__u8 vip_used[SLUICE_MAX_VIPS];		/* slot in use */
	__u8 be_used[SLUICE_MAX_BACKENDS];	/* slot in use */
	__u32 next_gen;				/* last generation handed out */
	__u32 unresolved;			/* backends without a next-hop MAC */
	__u32 now;				/* clock for retired_at */
};

/*
 * Rebuild the running state from what the maps hold (after a restart): VIP
 * keys and ids, backend slots, generations and DOWN flags. Returns 0 or -errno.
 */
int state_adopt(struct rt_state *st, struct dp *dp);

/*
 * Make the maps match @cfg: remove what it no longer has, add what is new,
 * and rewrite a VIP only where its entry, backend slots or table differ.
 * Backends that stay keep their slot and generation, so their flows stay.
 * A removed backend leaves the table at once but retires: its slot stays
 * valid, so established flows finish on it, until state_reap() frees it.
 * (A removed VIP goes at once, backends and all.)
 * @nl (may be NULL) resolves next-hop MACs. Returns 0 or -errno with @err set.
 */
int state_apply(struct rt_state *st, struct dp *dp, struct nl *nl,
		const struct sl_config *cfg, char *err, size_t errlen);

/* The clock (seconds) state_apply() stamps retiring backends with. */
void state_set_clock(struct rt_state *st, __u32 now);

/*
 * Resolve next hops again without touching tables: every backend when @all,
 * else only those without a MAC. Slots whose MAC changed are rewritten.
 * Returns the number of backends still unresolved, or -errno.
 */
int state_resolve(struct rt_state *st, struct dp *dp, struct nl *nl, bool all);

/*
 * Rewrite the one VIP @cv (already running) after a backend's DOWN state
 * changed, without looking at the others. Returns 0 or -errno with @err set.
 */
int state_apply_vip(struct rt_state *st, struct dp *dp, struct nl *nl,
		    const struct sl_config *cfg, const struct sl_cfg_vip *cv,
		    char *err, size_t errlen);

/*
 * Free the slots of retiring backends whose live flow count in @counts (per
 * slot) is zero, or that have retired for @max_secs by clock @now. Returns
 * how many are still retiring.
 */
int state_reap(struct rt_state *st, struct dp *dp, const __u32 *counts, __u32 now,
	       __u32 max_secs);

/* Returns the number of retiring backends. */
__u32 state_retiring(const struct rt_state *st);

/* Returns the running VIP called @name, or NULL. */
struct rt_vip *state_vip(struct rt_state *st, const char *name);

/* Returns the backend @addr of @v, or NULL. */
struct rt_backend *state_backend(struct rt_vip *v, const struct sl_addr *addr);

/* Release everything (maps untouched). */
void state_free(struct rt_state *st);

/* Fill a VIP map key from a configured VIP. */
struct sl_vip_key state_vip_key(const struct sl_cfg_vip *v);

#endif /* SLUICE_STATE_H */
