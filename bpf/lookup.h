/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Finding the VIP of a packet and the backend of its flow. */
#ifndef SLUICE_BPF_LOOKUP_H
#define SLUICE_BPF_LOOKUP_H

#include "maps.h"
#include "parse.h"
#include "sluice_hash.h"

/* Set before load through the skeleton; the daemon's hash_seed. */
const volatile __u32 sl_hash_seed = 0;

/*
 * Coarse clock in seconds, written by userspace once a second: flows record
 * when they were last seen without a clock read per packet.
 */
volatile __u32 sl_clock = 0;

/*
 * Bumped by userspace after every write to sluice_backends: flow-cache
 * entries filled before it hold an old copy of their slot and are misses.
 */
volatile __u32 sl_be_epoch = 0;

/*
 * Find the VIP of @p: {address, port, proto} first, then the whole-address
 * entry {address, 0, proto}. Returns the VIP or NULL.
 */
static __always_inline struct sl_vip_meta *vip_lookup(const struct sl_pkt *p)
{
	struct sl_vip_key vk = {};
	struct sl_vip_meta *vip;

	__builtin_memcpy(vk.addr, p->key.dst, sizeof(vk.addr));
	vk.port = p->key.dport;
	vk.proto = p->key.proto;
	vk.family = p->key.family;
	vip = bpf_map_lookup_elem(&sluice_vips, &vk);
	if (vip)
		return vip;
	vk.port = 0;
	return bpf_map_lookup_elem(&sluice_vips, &vk);
}

/* Returns true when the destination of @p is the address of some VIP. */
static __always_inline bool is_vip_address(const struct sl_pkt *p)
{
	struct sl_vip_key vk = {};

	__builtin_memcpy(vk.addr, p->key.dst, sizeof(vk.addr));
	vk.family = p->key.family;
	return bpf_map_lookup_elem(&sluice_vips, &vk) != NULL;
}

/* Set before load: flow-table inserts allowed per CPU per second; 0 = no limit. */
const volatile __u32 sl_flow_limit = 0;

/* Returns true when the destination of @p may be a VIP (one array read). */
static __always_inline bool is_vip_candidate(const struct sl_pkt *p)
{
	__u32 zero = 0, bit = sl_vip_bit(p->key.dst, p->key.family);
	struct sl_vip_bits *b = bpf_map_lookup_elem(&sluice_vip_bits, &zero);

	if (!b)
		return true;
	return (b->w[(bit / 64) & (SL_VIP_BITS / 64 - 1)] >> (bit % 64)) & 1;
}

/* Returns true when backend slot @be still serves a flow recorded with @gen. */
static __always_inline bool is_slot_valid(const struct sl_backend *be, __u32 gen)
{
	return be && be->family && be->gen == gen && !(be->flags & SL_BE_F_DOWN);
}

/*
 * Slot of @k in the flow cache: an xor-fold of the key's 64-bit words (the
 * words the parser wrote, see key_word()) to 32 bits, and one multiply whose
 * top bits are the slot. It only spreads flows over slots (a collision just
 * costs a cache miss), so it need not be as good as the Maglev hash, only
 * short: every packet waits for it before it can read its cache entry.
 */
static __always_inline __u32 fcache_slot(const struct sl_flow_key *k)
{
	const __u64 *w = (const __u64 *)k;
	__u64 x = w[0] ^ w[1] ^ w[2] ^ w[3] ^ w[4];

	return (((__u32)x ^ (__u32)(x >> 32)) * 0x9e3779b1U) >> (32 - SL_FCACHE_BITS);
}

/* Returns true when two flow keys are equal (5 words; no memcmp in BPF). */
static __always_inline bool is_same_flow(const struct sl_flow_key *a,
					 const struct sl_flow_key *b)
{
	const __u64 *x = (const __u64 *)a, *y = (const __u64 *)b;

	return x[0] == y[0] && x[1] == y[1] && x[2] == y[2] && x[3] == y[3] &&
	       x[4] == y[4];
}

/* This CPU's flow-cache entry for flow @k (NULL only if the map is broken). */
static __always_inline struct sl_fcache *fcache_entry(const struct sl_flow_key *k)
{
	__u32 slot = fcache_slot(k);

	return bpf_map_lookup_elem(&sluice_fcache, &slot);
}

/*
 * The fast path: the per-CPU flow cache (one hash of our own, one array
 * read, no locks). A hit carries a copy of the flow's backend slot, so
 * nothing else is read; only VIP flows are ever cached, so a hit needs no
 * VIP filter either. Returns true with *be_id and *be set.
 */
static __always_inline bool fcache_lookup(const struct sl_pkt *p, __u32 *be_id,
					  struct sl_backend **be)
{
	__u32 now = sl_clock, epoch = sl_be_epoch;
	struct sl_fcache *c = fcache_entry(&p->key);

	if (!c || c->seen != now || c->epoch != epoch || !is_same_flow(&c->key, &p->key))
		return false;
	*be_id = c->backend;
	*be = &c->be;
	return true;
}

/*
 * A flow the cache does not hold: the flow table, whose entry is valid only
 * while its backend slot holds the same occupant (gen) and is not down. The
 * entry is touched at most once a second per flow (its "seen" and LRU
 * recency), so live-flow counts and eviction still see cached flows; the
 * cache is filled here. Returns true with *be_id and *be set.
 *
 * The epoch is read before the slot: an entry tagged with an epoch holds the
 * slot as it was at that epoch or later (loads are not reordered on x86).
 */
static __always_inline bool flow_lookup(const struct sl_pkt *p, __u32 *be_id,
					struct sl_backend **be)
{
	__u32 now = sl_clock, epoch = sl_be_epoch;
	struct sl_fcache *c;
	struct sl_flow *f;

	f = bpf_map_lookup_elem(&sluice_flows, &p->key);
	if (!f)
		return false;
	*be_id = f->backend;
	*be = bpf_map_lookup_elem(&sluice_backends, be_id);
	if (!is_slot_valid(*be, f->gen))
		return false;
	/* At most one store per flow and second: keep the line clean. */
	if (f->seen != now)
		f->seen = now;
	c = fcache_entry(&p->key);
	if (c) {
		c->key = p->key;
		c->backend = f->backend;
		c->epoch = epoch;
		c->seen = now;
		c->be = **be;
	}
	return true;
}

/*
 * Returns true while this CPU may insert into the flow table this second.
 * Above the limit a flood of new flows is served from the Maglev table
 * without being remembered: inserting (and evicting) is the most expensive
 * step, and a flow not remembered only moves if the backend set changes.
 */
static __always_inline bool is_insert_allowed(void)
{
	__u32 zero = 0, now = sl_clock;
	struct sl_rate *r;

	if (!sl_flow_limit)
		return true;
	r = bpf_map_lookup_elem(&sluice_rate, &zero);
	if (!r)
		return true;
	if (r->sec != now) {
		r->sec = now;
		r->count = 0;
	}
	return ++r->count <= sl_flow_limit;
}

/*
 * A flow the table does not know (or whose entry went stale): hash into the
 * VIP's Maglev table and remember the choice. Returns SL_CONTINUE with
 * *be_id and *be set, or a drop reason.
 */
static __always_inline int backend_pick(const struct sl_pkt *p,
					const struct sl_vip_meta *vip,
					__u32 *be_id, struct sl_backend **be)
{
	struct sl_flow nf;
	__u32 hash, idx, *slot;
	void *ring;

	if (vip->flags & SL_VIP_F_SRC_HASH)
		hash = sl_hash_src(&p->key, sl_hash_seed);
	else
		hash = sl_hash_flow(&p->key, sl_hash_seed);

	ring = bpf_map_lookup_elem(&sluice_rings, &vip->id);
	if (!ring)
		return SL_DROP_NO_RING;
	idx = hash % SLUICE_RING_SIZE;
	slot = bpf_map_lookup_elem(ring, &idx);
	if (!slot)
		return SL_DROP_NO_RING;
	*be_id = *slot;
	*be = bpf_map_lookup_elem(&sluice_backends, be_id);
	if (!*be || !(*be)->family)
		return SL_DROP_NO_BACKEND;

	if (is_insert_allowed()) {
		nf.backend = *be_id;
		nf.gen = (*be)->gen;
		nf.seen = sl_clock;
		bpf_map_update_elem(&sluice_flows, &p->key, &nf, BPF_ANY);
	}
	return SL_CONTINUE;
}

#endif /* SLUICE_BPF_LOOKUP_H */
