/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Flow hashing shared by the XDP program and userspace (tests, tools). */
#ifndef SLUICE_HASH_H
#define SLUICE_HASH_H

#include <linux/types.h>
#include "sluice_abi.h"

#ifndef SL_INLINE
#define SL_INLINE static inline __attribute__((always_inline))
#endif

/* One round of a MurmurHash3-style word mix; returns the new state. */
SL_INLINE __u32 sl_hash_round(__u32 h, __u32 k)
{
	k *= 0xcc9e2d51U;
	k = (k << 15) | (k >> 17);
	k *= 0x1b873593U;
	h ^= k;
	h = (h << 13) | (h >> 19);
	return h * 5 + 0xe6546b64U;
}

/* Final avalanche, so that low input bits (even source ports) spread. */
SL_INLINE __u32 sl_hash_final(__u32 h, __u32 len)
{
	h ^= len;
	h ^= h >> 16;
	h *= 0x85ebca6bU;
	h ^= h >> 13;
	h *= 0xc2b2ae35U;
	h ^= h >> 16;
	return h;
}

/* Hash of the 5-tuple in @k with @seed; the value indexes a Maglev table. */
SL_INLINE __u32 sl_hash_flow(const struct sl_flow_key *k, __u32 seed)
{
	__u32 ports = ((__u32)k->sport << 16) | k->dport;
	__u32 h = seed;

	h = sl_hash_round(h, k->src[0]);
	h = sl_hash_round(h, k->dst[0]);
	if (k->family == SL_FAMILY_V6) {
		h = sl_hash_round(h, k->src[1]);
		h = sl_hash_round(h, k->src[2]);
		h = sl_hash_round(h, k->src[3]);
		h = sl_hash_round(h, k->dst[1]);
		h = sl_hash_round(h, k->dst[2]);
		h = sl_hash_round(h, k->dst[3]);
	}
	h = sl_hash_round(h, ports);
	h = sl_hash_round(h, k->proto);
	return sl_hash_final(h, k->family);
}

/* Hash of the source address of @k alone, for source-persistent VIPs. */
SL_INLINE __u32 sl_hash_src(const struct sl_flow_key *k, __u32 seed)
{
	__u32 h = seed;

	h = sl_hash_round(h, k->src[0]);
	if (k->family == SL_FAMILY_V6) {
		h = sl_hash_round(h, k->src[1]);
		h = sl_hash_round(h, k->src[2]);
		h = sl_hash_round(h, k->src[3]);
	}
	return sl_hash_final(h, k->family | 0x100);
}

/* Bit of sluice_vip_bits for destination @addr (family @family). */
SL_INLINE __u32 sl_vip_bit(const __be32 *addr, __u8 family)
{
	__u32 a = addr[0];

	if (family == SL_FAMILY_V6)
		a ^= addr[1] ^ addr[2] ^ addr[3];
	/* Fibonacci hashing: the high bits of the product are well mixed. */
	return (a * 0x9e3779b1U) >> 16;
}

#endif /* SLUICE_HASH_H */
