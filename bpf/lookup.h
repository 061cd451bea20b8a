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

/*
 * Returns true when a flow-table entry may still be used: same slot
 * occupant, not down, and still a backend of the VIP the packet matched (a
 * more specific VIP added later takes its flows over).
 */
static __always_inline bool is_flow_valid(const struct sl_flow *f,
					  const struct sl_backend *be,
					  const struct sl_vip_meta *vip)
{
	return be->family && be->gen == f->gen && be->vip == vip->id &&
	       !(be->flags & SL_BE_F_DOWN);
}

/*
 * Choose the backend for @p: the flow table first; on a miss (or an entry
 * whose backend went down or was replaced) hash into the VIP's Maglev table
 * and remember the choice. Returns SL_CONTINUE with *be_id, *be and *is_new
 * set, or a drop reason.
 */
static __always_inline int backend_pick(const struct sl_pkt *p,
					const struct sl_vip_meta *vip,
					__u32 *be_id, struct sl_backend **be,
					bool *is_new)
{
	struct sl_flow *f, nf;
	__u32 hash, idx, *slot;
	void *ring;

	f = bpf_map_lookup_elem(&sluice_flows, &p->key);
	if (f) {
		*be_id = f->backend;
		*be = bpf_map_lookup_elem(&sluice_backends, be_id);
		if (*be && is_flow_valid(f, *be, vip)) {
			__u32 now = sl_clock;

			/* At most one store per flow and second: keep the line clean. */
			if (f->seen != now)
				f->seen = now;
			*is_new = false;
			return SL_CONTINUE;
		}
	}

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

	nf.backend = *be_id;
	nf.gen = (*be)->gen;
	nf.seen = sl_clock;
	bpf_map_update_elem(&sluice_flows, &p->key, &nf, BPF_ANY);
	*is_new = true;
	return SL_CONTINUE;
}

#endif /* SLUICE_BPF_LOOKUP_H */
