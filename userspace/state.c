// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Applies a desired configuration to the maps as a difference, keeping slots stable. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include "state.h"
#include "netlink.h"

struct sl_vip_key state_vip_key(const struct sl_cfg_vip *v)
{
	struct sl_vip_key k = {};

	memcpy(k.addr, v->addr.addr, sizeof(k.addr));
	k.family = v->addr.family;
	k.port = htons(v->port);
	k.proto = v->proto;
	return k;
}

struct rt_vip *state_vip(struct rt_state *st, const char *name)
{
	for (__u32 i = 0; i < st->n_vips; i++)
		if (st->vips[i].name[0] && !strcmp(st->vips[i].name, name))
			return &st->vips[i];
	return NULL;
}

struct rt_backend *state_backend(struct rt_vip *v, const struct sl_addr *addr)
{
	for (__u32 i = 0; i < v->n_be; i++)
		if (sl_addr_equal(&v->be[i].addr, addr))
			return &v->be[i];
	return NULL;
}

/* Returns a free slot index in @used[@n] (marking it), or -ENOSPC. */
static int slot_alloc(__u8 *used, __u32 n)
{
	for (__u32 i = 0; i < n; i++) {
		if (!used[i]) {
			used[i] = 1;
			return (int)i;
		}
	}
	return -ENOSPC;
}

/* Append a zeroed VIP; returns it or NULL. Pointers into vips[] may move. */
static struct rt_vip *vip_append(struct rt_state *st)
{
	if (st->n_vips == st->cap_vips) {
		__u32 cap = st->cap_vips ? st->cap_vips * 2 : 16;
		struct rt_vip *v = realloc(st->vips, cap * sizeof(*v));

		if (!v)
			return NULL;
		st->vips = v;
		st->cap_vips = cap;
	}
	memset(&st->vips[st->n_vips], 0, sizeof(st->vips[0]));
	return &st->vips[st->n_vips++];
}

/* Append a zeroed backend to @v; returns it or NULL. */
static struct rt_backend *be_append(struct rt_vip *v)
{
	if (v->n_be == v->cap_be) {
		__u32 cap = v->cap_be ? v->cap_be * 2 : 8;
		struct rt_backend *b = realloc(v->be, cap * sizeof(*b));

		if (!b)
			return NULL;
		v->be = b;
		v->cap_be = cap;
	}
	memset(&v->be[v->n_be], 0, sizeof(v->be[0]));
	return &v->be[v->n_be++];
}

/* Free backend slot @id in the map and in @st. */
static void be_release(struct rt_state *st, struct dp *dp, __u32 id)
{
	/*
	 * family 0 turns every flow entry naming the slot into a miss; the
	 * generation stays, so a restarted daemon never hands it out again;
	 * its counters stay with its VIP.
	 */
	dp_backend_free(dp, id);
	st->be_used[id] = 0;
}

/* Remove VIP index @i from the maps and from @st. */
static void vip_remove(struct rt_state *st, struct dp *dp, __u32 i)
{
	struct rt_vip *v = &st->vips[i];

	dp_vip_del(dp, &v->key);
	dp_ring_del(dp, v->id);
	for (__u32 j = 0; j < v->n_be; j++)
		be_release(st, dp, v->be[j].id);
	st->vip_used[v->id] = 0;
	free(v->be);
	st->vips[i] = st->vips[--st->n_vips];
}

struct adopt_ctx {
	struct rt_state *st;
	int err;
};

static int adopt_vip(const struct sl_vip_key *key, const struct sl_vip_meta *meta,
		     void *arg)
{
	struct adopt_ctx *c = arg;
	struct rt_vip *v;

	if (meta->id >= SLUICE_MAX_VIPS)
		return 0;
	v = vip_append(c->st);
	if (!v) {
		c->err = -ENOMEM;
		return 1;
	}
	v->key = *key;
	v->id = meta->id;
	c->st->vip_used[meta->id] = 1;
	return 0;
}

int state_adopt(struct rt_state *st, struct dp *dp)
{
	struct adopt_ctx c = { .st = st };
	struct sl_backend b;
	int err;

	err = dp_vip_foreach(dp, adopt_vip, &c);
	if (c.err)
		return c.err;
	if (err < 0)
		return err;
	for (__u32 id = 0; id < SLUICE_MAX_BACKENDS; id++) {
		struct rt_vip *v = NULL;
		struct rt_backend *rb;

		if (dp_backend_get(dp, id, &b))
			continue;
		/* Free slots too: a generation must never come back. */
		if (b.gen > st->next_gen)
			st->next_gen = b.gen;
		if (!b.family)
			continue;
		for (__u32 i = 0; i < st->n_vips; i++)
			if (st->vips[i].id == b.vip)
				v = &st->vips[i];
		if (!v) {
			be_release(st, dp, id);	/* orphan of a VIP that is gone */
			continue;
		}
		rb = be_append(v);
		if (!rb)
			return -ENOMEM;
		rb->addr.family = b.family;
		memcpy(rb->addr.addr, b.addr, sizeof(b.addr));
		rb->id = id;
		rb->gen = b.gen;
		rb->down = b.flags & SL_BE_F_DOWN;
		rb->has_mac = b.flags & SL_BE_F_MAC;
		memcpy(rb->mac, b.mac, sizeof(rb->mac));
		rb->ifindex = b.ifindex;
		st->be_used[id] = 1;
	}
	dp_markers_prune(dp);
	return 0;
}

/* Try to resolve the next hop of @b. Returns true when it has a MAC now. */
static bool be_resolve(struct nl *nl, struct rt_backend *b)
{
	struct nl_nexthop nh;

	if (!nl)
		return b->has_mac;
	if (nl_nexthop(nl, b->addr.family == SL_FAMILY_V6 ? AF_INET6 : AF_INET,
		       b->addr.addr, &nh))
		return b->has_mac;	/* keep what we had; retried later */
	memcpy(b->mac, nh.mac, sizeof(b->mac));
	b->ifindex = (__u32)nh.ifindex;
	b->has_mac = true;
	return true;
}

/* The map value for backend @b of VIP @v. */
static struct sl_backend be_value(const struct rt_vip *v, const struct rt_backend *b,
				  bool ignore_down)
{
	struct sl_backend s = {};

	memcpy(s.addr, b->addr.addr, sizeof(s.addr));
	s.family = b->addr.family;
	s.flags = (b->down && !ignore_down ? SL_BE_F_DOWN : 0) |
		  (b->has_mac ? SL_BE_F_MAC : 0);
	if (b->has_mac)
		memcpy(s.mac, b->mac, sizeof(s.mac));
	s.gen = b->gen;
	s.vip = v->id;
	s.ifindex = b->has_mac ? b->ifindex : 0;
	return s;
}

/* Bring VIP @v's backends and map entries in line with @cv. */
static int vip_sync(struct rt_state *st, struct dp *dp, struct nl *nl,
		    const struct sl_config *cfg, const struct sl_cfg_vip *cv,
		    struct rt_vip *v, char *err, size_t errlen)
{
	struct sl_vip_meta meta = { .id = v->id };
	struct dp_backend *dbe;
	bool any_up = false;
	__u32 i, n;
	int ret;

	for (i = 0; i < v->n_be; i++)
		v->be[i].seen = false;
	for (i = 0; i < cv->n_backends; i++) {
		const struct sl_cfg_backend *cb = &cv->backends[i];
		struct rt_backend *b = state_backend(v, &cb->addr);

		if (b && b->retiring)
			b->retiring = false;	/* back before its flows ended: same slot */
		if (!b) {
			int id = slot_alloc(st->be_used, SLUICE_MAX_BACKENDS);

			if (id < 0) {
				snprintf(err, errlen, "vip %s: no free backend slot", cv->name);
				return id;
			}
			b = be_append(v);
			if (!b) {
				st->be_used[id] = 0;
				return -ENOMEM;
			}
			b->addr = cb->addr;
			b->id = (__u32)id;
			b->gen = ++st->next_gen;
			dp_backend_stats_reset(dp, b->id);	/* not the last occupant's */
		}
		b->seen = true;
	}
	/* Gone from the config: out of the table now, slot kept for its flows. */
	for (i = 0; i < v->n_be; i++) {
		if (!v->be[i].seen && !v->be[i].retiring) {
			v->be[i].retiring = true;
			v->be[i].retired_at = st->now;
		}
	}

	/* Retiring backends come along with weight 0: out of the table, but
	 * their slots still serve flows and must follow the VIP (its source). */
	dbe = calloc(v->n_be ? v->n_be : 1, sizeof(*dbe));
	if (!dbe)
		return -ENOMEM;
	for (i = 0; i < cv->n_backends; i++) {
		struct rt_backend *b = state_backend(v, &cv->backends[i].addr);

		/* Resolved next hops are kept fresh by netlink events (state_resolve). */
		if (!b->has_mac)
			be_resolve(nl, b);
		if (!b->down && cv->backends[i].weight)
			any_up = true;
	}
	for (i = 0; i < cv->n_backends; i++) {
		struct rt_backend *b = state_backend(v, &cv->backends[i].addr);

		dbe[i].id = b->id;
		dbe[i].weight = cv->backends[i].weight;
		/* all_down = all: with nobody up, everybody serves. */
		dbe[i].be = be_value(v, b, !any_up && cv->all_down == SL_VIP_ALL_DOWN_ALL);
	}
	n = cv->n_backends;
	for (i = 0; i < v->n_be; i++) {
		if (!v->be[i].retiring)
			continue;
		dbe[n].id = v->be[i].id;
		dbe[n].weight = 0;
		dbe[n++].be = be_value(v, &v->be[i], false);
	}

	meta.flags = cv->hash == SL_VIP_HASH_SOURCE ? SL_VIP_F_SRC_HASH : 0;
	if (cv->src4.family)
		meta.src4 = cv->src4.addr[0];
	else if (cfg->src4.family)
		meta.src4 = cfg->src4.addr[0];
	if (cv->src6.family)
		memcpy(meta.src6, cv->src6.addr, sizeof(meta.src6));
	else if (cfg->src6.family)
		memcpy(meta.src6, cfg->src6.addr, sizeof(meta.src6));

	ret = dp_vip_apply(dp, &v->key, &meta, dbe, n);
	free(dbe);
	if (ret)
		snprintf(err, errlen, "vip %s: writing the maps failed: %s", cv->name,
			 strerror(-ret));
	return ret;
}

/* Backends without a resolved next hop. */
static __u32 count_unresolved(const struct rt_state *st)
{
	__u32 n = 0;

	for (__u32 i = 0; i < st->n_vips; i++)
		for (__u32 j = 0; j < st->vips[i].n_be; j++)
			n += !st->vips[i].be[j].has_mac && !st->vips[i].be[j].retiring;
	return n;
}

/*
 * Check, before anything is written, that @cfg fits in the free VIP and
 * backend slots (counting what its removals free). VIPs are matched as
 * state_apply() matches them (the 'seen' marks must be set). Returns 0 or
 * -ENOSPC with @err set.
 */
static int plan_capacity(struct rt_state *st, const struct sl_config *cfg, char *err,
			 size_t errlen)
{
	long free_vips = 0, free_be = 0, need_vips = 0, need_be = 0;

	for (__u32 i = 0; i < SLUICE_MAX_VIPS; i++)
		free_vips += !st->vip_used[i];
	for (__u32 i = 0; i < SLUICE_MAX_BACKENDS; i++)
		free_be += !st->be_used[i];
	for (__u32 i = 0; i < st->n_vips; i++) {
		if (st->vips[i].seen)
			continue;
		free_vips++;
		free_be += st->vips[i].n_be;	/* removed with its VIP */
	}
	for (__u32 i = 0; i < cfg->n_vips; i++) {
		struct rt_vip *v = state_vip(st, cfg->vips[i].name);

		if (v && !v->seen)
			v = NULL;	/* re-keyed: removed, then made anew */
		need_vips += !v;
		for (__u32 j = 0; j < cfg->vips[i].n_backends; j++)
			need_be += !v || !state_backend(v, &cfg->vips[i].backends[j].addr);
	}
	if (need_vips > free_vips) {
		snprintf(err, errlen, "not enough free VIP slots: %ld needed, %ld free (SLUICE_MAX_VIPS %d)",
			 need_vips, free_vips, SLUICE_MAX_VIPS);
		return -ENOSPC;
	}
	if (need_be > free_be) {
		snprintf(err, errlen, "not enough free backend slots: %ld needed, %ld free "
			 "(SLUICE_MAX_BACKENDS %d; removed backends keep theirs until their flows end)",
			 need_be, free_be, SLUICE_MAX_BACKENDS);
		return -ENOSPC;
	}
	return 0;
}

/*
 * VIP @nv was just created. If a whole-address VIP of the same address and
 * protocol exists, its flows for @nv's port must now reach @nv, but known
 * flows skip the VIP lookup: give the wildcard's backends new generations,
 * which turns its flow entries into misses (they re-hash to the same
 * backends through Maglev, except those that now belong to @nv).
 */
static void renew_wildcard(struct rt_state *st, struct dp *dp, const struct rt_vip *nv)
{
	struct sl_vip_key wk = nv->key;

	if (!nv->key.port)
		return;
	wk.port = 0;
	for (__u32 i = 0; i < st->n_vips; i++) {
		struct rt_vip *w = &st->vips[i];

		if (memcmp(&w->key, &wk, sizeof(wk)))
			continue;
		for (__u32 j = 0; j < w->n_be; j++) {
			struct sl_backend cur;

			w->be[j].gen = ++st->next_gen;
			if (!dp_backend_get(dp, w->be[j].id, &cur) && cur.family) {
				cur.gen = w->be[j].gen;
				dp_backend_set(dp, w->be[j].id, &cur);
			}
		}
	}
}

int state_apply(struct rt_state *st, struct dp *dp, struct nl *nl,
		const struct sl_config *cfg, char *err, size_t errlen)
{
	__u32 i;
	int ret;

	/* Which running VIPs stay: same name and key, or adopted with that key. */
	for (i = 0; i < st->n_vips; i++)
		st->vips[i].seen = false;
	for (i = 0; i < cfg->n_vips; i++) {
		const struct sl_cfg_vip *cv = &cfg->vips[i];
		struct sl_vip_key key = state_vip_key(cv);
		struct rt_vip *v = state_vip(st, cv->name);

		if (v && !memcmp(&v->key, &key, sizeof(key))) {
			v->seen = true;
			continue;
		}
		for (__u32 j = 0; j < st->n_vips; j++) {
			struct rt_vip *a = &st->vips[j];

			if (!a->seen && !a->name[0] && !memcmp(&a->key, &key, sizeof(key))) {
				snprintf(a->name, sizeof(a->name), "%s", cv->name);
				a->seen = true;
				break;
			}
		}
	}
	ret = plan_capacity(st, cfg, err, errlen);
	if (ret)
		return ret;
	/* Remove first, so a key that moves to a new name is free again. */
	for (i = 0; i < st->n_vips;) {
		if (st->vips[i].seen)
			i++;
		else
			vip_remove(st, dp, i);
	}
	st->unresolved = 0;
	dp_batch_begin(dp);
	for (i = 0; i < cfg->n_vips; i++) {
		const struct sl_cfg_vip *cv = &cfg->vips[i];
		struct rt_vip *v = state_vip(st, cv->name);

		if (!v) {
			int id = slot_alloc(st->vip_used, SLUICE_MAX_VIPS);

			if (id < 0) {
				snprintf(err, errlen, "vip %s: no free VIP slot", cv->name);
				dp_batch_commit(dp);
				return id;
			}
			v = vip_append(st);
			if (!v) {
				st->vip_used[id] = 0;
				dp_batch_commit(dp);
				return -ENOMEM;
			}
			snprintf(v->name, sizeof(v->name), "%s", cv->name);
			v->key = state_vip_key(cv);
			v->id = (__u32)id;
			v->fresh = true;
			dp_vip_stats_reset(dp, v->id);
		}
		ret = vip_sync(st, dp, nl, cfg, cv, v, err, errlen);
		if (ret) {
			dp_batch_commit(dp);
			return ret;
		}
	}
	ret = dp_batch_commit(dp);
	if (ret) {
		snprintf(err, errlen, "publishing the tables failed: %s", strerror(-ret));
		return ret;
	}
	/* After the commit: the new VIPs must exist before wildcard flows re-hash. */
	for (i = 0; i < cfg->n_vips; i++) {
		struct rt_vip *v = state_vip(st, cfg->vips[i].name);

		if (v && v->fresh) {
			renew_wildcard(st, dp, v);
			v->fresh = false;
		}
	}
	st->unresolved = count_unresolved(st);
	return 0;
}

void state_set_clock(struct rt_state *st, __u32 now)
{
	st->now = now;
}

__u32 state_retiring(const struct rt_state *st)
{
	__u32 n = 0;

	for (__u32 i = 0; i < st->n_vips; i++)
		for (__u32 j = 0; j < st->vips[i].n_be; j++)
			n += st->vips[i].be[j].retiring;
	return n;
}

int state_reap(struct rt_state *st, struct dp *dp, const __u32 *counts, __u32 now,
	       __u32 max_secs)
{
	int left = 0;

	for (__u32 i = 0; i < st->n_vips; i++) {
		struct rt_vip *v = &st->vips[i];

		for (__u32 j = 0; j < v->n_be;) {
			struct rt_backend *b = &v->be[j];

			if (!b->retiring) {
				j++;
				continue;
			}
			if (counts[b->id] && now - b->retired_at < max_secs) {
				left++;
				j++;
				continue;
			}
			be_release(st, dp, b->id);
			v->be[j] = v->be[--v->n_be];
		}
	}
	return left;
}

int state_apply_vip(struct rt_state *st, struct dp *dp, struct nl *nl,
		    const struct sl_config *cfg, const struct sl_cfg_vip *cv,
		    char *err, size_t errlen)
{
	struct rt_vip *v = state_vip(st, cv->name);

	if (!v) {
		snprintf(err, errlen, "vip %s is not running", cv->name);
		return -ENOENT;
	}
	return vip_sync(st, dp, nl, cfg, cv, v, err, errlen);
}

int state_resolve(struct rt_state *st, struct dp *dp, struct nl *nl, bool all)
{
	__u32 unresolved = 0;

	for (__u32 i = 0; i < st->n_vips; i++) {
		struct rt_vip *v = &st->vips[i];

		for (__u32 j = 0; j < v->n_be; j++) {
			struct rt_backend *b = &v->be[j];
			struct sl_backend cur;
			__u32 old_if = b->ifindex;
			__u8 old[6];
			bool had = b->has_mac;

			if (b->has_mac && !all)
				continue;
			memcpy(old, b->mac, sizeof(old));
			if (!be_resolve(nl, b)) {
				unresolved++;
				continue;
			}
			if (had && !memcmp(old, b->mac, sizeof(old)) && old_if == b->ifindex)
				continue;
			/* Only the next hop changed: patch the slot, keep the rest. */
			if (dp_backend_get(dp, b->id, &cur))
				continue;
			memcpy(cur.mac, b->mac, sizeof(cur.mac));
			cur.ifindex = b->ifindex;
			cur.flags |= SL_BE_F_MAC;
			dp_backend_set(dp, b->id, &cur);
		}
	}
	st->unresolved = unresolved;
	return (int)unresolved;
}

void state_free(struct rt_state *st)
{
	for (__u32 i = 0; i < st->n_vips; i++)
		free(st->vips[i].be);
	free(st->vips);
	memset(st, 0, sizeof(*st));
}
