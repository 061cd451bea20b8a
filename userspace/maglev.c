/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Maglev lookup-table construction (NSDI 2016), extended with weights. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sluice_hash.h"
#include "maglev.h"

/*
 * Seeds of the two permutation hashes. Every balancer must use the same
 * values or their tables disagree: changing them reshuffles every table
 * across a rolling upgrade.
 */
#define MAGLEV_SEED_OFFSET	0x6d676c31U	/* "mgl1" */
#define MAGLEV_SEED_SKIP	0x6d676c32U	/* "mgl2" */

/* Per-backend state while the table fills. */
struct maglev_slot {
	__u32 pos;	/* next entry of this backend's permutation to try */
	__u32 skip;	/* permutation step, 1..m-1 */
	__u32 id;	/* value written into the table */
	__u32 weight;	/* relative share, > 0 */
	__u32 next;	/* next backend due in the same round, or MAGLEV_NONE */
	__u32 dq;	/* wmax / weight: fewest rounds between claims */
	__u32 inv;	/* skip^-1 mod m for the endgame, 0 until needed */
	__u64 due;	/* round of this backend's next claim */
	__u64 den;	/* 2 * weight, the divisor of the round formula */
	__u64 rem;	/* remainder of that division for the next claim */
	__u64 dr;	/* 2 * (wmax % weight): stretches some gaps a round */
};

/* End of a round's list of due backends. */
#define MAGLEV_NONE	UINT32_MAX

/* Returns the hash of @ident with @seed. */
static __u32 maglev_hash(const __u8 ident[20], __u32 seed)
{
	__u32 h = seed;
	int i;

	/* Words built little-endian by hand, so big-endian hosts agree. */
	for (i = 0; i < 20; i += 4)
		h = sl_hash_round(h, (__u32)ident[i] |
				     (__u32)ident[i + 1] << 8 |
				     (__u32)ident[i + 2] << 16 |
				     (__u32)ident[i + 3] << 24);
	return sl_hash_final(h, 20);
}

int maglev_is_prime(__u32 m)
{
	__u32 d;

	if (m < 2)
		return 0;
	if (m % 2 == 0)
		return m == 2;
	/* 64-bit square so d * d cannot wrap for m near UINT32_MAX. */
	for (d = 3; (__u64)d * d <= m; d += 2)
		if (m % d == 0)
			return 0;
	return 1;
}

/* qsort comparator: orders backends by ident. */
static int maglev_cmp_ident(const void *a, const void *b)
{
	const struct maglev_backend *x = a, *y = b;

	return memcmp(x->ident, y->ident, sizeof(x->ident));
}

/*
 * Returns the entry after @pos in a permutation of step @skip, where
 * @back = m - skip: subtracting it instead of adding skip and reducing
 * mod m cannot overflow __u32.
 */
static inline __u32 maglev_step(__u32 pos, __u32 skip, __u32 back)
{
	return pos >= back ? pos - back : pos + skip;
}

/*
 * Every round each backend earns its weight in credit and claims one entry
 * per @wmax of credit. Credit starts at wmax / 2, so claim k (from 1) falls
 * in round ceil((k - 1/2) * wmax / weight) = ceil(((2k - 1) * wmax +
 * 2 * weight - 1) / (2 * weight)) with integer division. Starting at zero
 * instead would put every light backend's claims at the end of its period,
 * and when many light backends share a heavy one the table fills before
 * they get them: 1000 at weight 1 beside one at 65535 got 3 entries of an
 * expected 985. The half start rounds shares to nearest, not down.
 */
static void maglev_first(struct maglev_slot *s, __u32 wmax)
{
	__u64 num = (__u64)wmax + 2 * (__u64)s->weight - 1;

	s->den = 2 * (__u64)s->weight;
	s->due = num / s->den;
	s->rem = num % s->den;
	s->dq = wmax / s->weight;
	s->dr = 2 * (__u64)(wmax % s->weight);
}

/* Advances @s->due to the round of its next claim (numerator += 2 wmax). */
static inline void maglev_next(struct maglev_slot *s)
{
	s->due += s->dq;
	s->rem += s->dr;
	if (s->rem >= s->den) {
		s->rem -= s->den;
		s->due++;
	}
}

/* Returns true when entry @pos is already claimed. */
static inline bool maglev_is_taken(const __u64 *used, __u32 pos)
{
	return used[pos / 64] & (1ULL << (pos % 64));
}

/* Stores the entries of @used (@m bits) still free in @fr; returns how many. */
static __u32 maglev_free_list(const __u64 *used, __u32 m, __u32 *fr)
{
	__u32 pos, nfr = 0;

	for (pos = 0; pos < m; pos++)
		if (!maglev_is_taken(used, pos))
			fr[nfr++] = pos;
	return nfr;
}

/* Returns the inverse of @a modulo prime @m (extended Euclid), a in 1..m-1. */
static __u32 maglev_inverse(__u32 a, __u32 m)
{
	int64_t t = 0, nt = 1, r = m, nr = a, q, tmp;

	while (nr) {
		q = r / nr;
		tmp = t - q * nt;
		t = nt;
		nt = tmp;
		tmp = r - q * nr;
		r = nr;
		nr = tmp;
	}
	return t < 0 ? t + m : t;
}

/*
 * Returns the index in @fr (@nfr free entries) of the first one that @s's
 * permutation reaches from @s->pos: entry e is (e - pos) / skip steps away,
 * mod m. This is what the walk would find, since every entry it passed is
 * taken, but costs nfr multiplications instead of about m / nfr probes,
 * which the last few entries of a table make dear.
 */
static __u32 maglev_nearest(struct maglev_slot *s, const __u32 *fr,
			    __u32 nfr, __u32 m)
{
	__u64 d, dmin = UINT64_MAX;
	__u32 k, best = 0;

	if (!s->inv)
		s->inv = maglev_inverse(s->skip, m);
	for (k = 0; k < nfr; k++) {
		d = (__u64)fr[k] + (fr[k] < s->pos ? m : 0) - s->pos;
		d = d * s->inv % m;
		if (d < dmin) {
			dmin = d;
			best = k;
		}
	}
	return best;
}

/* Appends backend @i to the list of round @r. */
static inline void maglev_due(struct maglev_slot *slot, __u32 *head,
			      __u32 *tail, __u32 r, __u32 i)
{
	slot[i].next = MAGLEV_NONE;
	if (head[r] == MAGLEV_NONE)
		head[r] = i;
	else
		slot[tail[r]].next = i;
	tail[r] = i;
}

int maglev_build(const struct maglev_backend *be, size_t n, __u32 *table,
		 __u32 m)
{
	struct maglev_backend *sorted = NULL;
	struct maglev_slot *slot = NULL;
	__u32 *head = NULL, *tail = NULL;
	__u64 *used = NULL;
	__u32 nh = 0, wmax = 0, filled, rmax, r, i, endgame, nfr = 0;
	__u32 *fr = NULL;
	__u64 wsum = 0, rounds;
	int err;

	/* Slot indices are __u32; nobody has four billion backends. */
	if (!be || !table || n == 0 || n >= MAGLEV_NONE || !maglev_is_prime(m))
		return -EINVAL;

	sorted = calloc(n, sizeof(*sorted));
	slot = calloc(n, sizeof(*slot));
	used = calloc(((size_t)m + 63) / 64, sizeof(*used));
	/*
	 * With F entries free a claim costs about m / F probes by walking, or F
	 * multiply-and-modulo steps of about four probes each by the endgame
	 * scan: they break even near F = sqrt(m) / 2, 128 for 65537.
	 */
	for (endgame = 1; (__u64)(endgame + 1) * (endgame + 1) * 4 <= m;)
		endgame++;
	fr = calloc(endgame, sizeof(*fr));
	if (!sorted || !slot || !used || !fr) {
		err = -ENOMEM;
		goto out;
	}

	/* Sorting makes the table independent of the caller's order. */
	memcpy(sorted, be, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), maglev_cmp_ident);

	for (i = 0; i < n; i++) {
		/* A duplicate would make the result depend on qsort's order. */
		if (i > 0 && !maglev_cmp_ident(&sorted[i - 1], &sorted[i])) {
			err = -EINVAL;
			goto out;
		}
		if (!sorted[i].weight)
			continue;
		slot[nh].pos = maglev_hash(sorted[i].ident,
					   MAGLEV_SEED_OFFSET) % m;
		/* m prime and skip in 1..m-1: the walk visits every entry. */
		slot[nh].skip = maglev_hash(sorted[i].ident,
					    MAGLEV_SEED_SKIP) % (m - 1) + 1;
		slot[nh].id = sorted[i].id;
		slot[nh].weight = sorted[i].weight;
		if (sorted[i].weight > wmax)
			wmax = sorted[i].weight;
		wsum += sorted[i].weight;
		nh++;
	}
	if (nh == 0) {
		err = -EINVAL;
		goto out;
	}

	/*
	 * Rounds needed to fill the table: after R rounds backend i is owed
	 * floor(R * w_i / wmax + 1/2) > R * w_i / wmax - 1 claims, which sum to
	 * at least m once R >= (m + nh) * wmax / wsum. The heaviest backend
	 * claims every round, so never more than m.
	 */
	rmax = m;
	if (wmax <= (UINT64_MAX - wsum) / ((__u64)m + nh)) {
		rounds = (((__u64)m + nh) * wmax + wsum - 1) / wsum;
		if (rounds < m)
			rmax = rounds;
	}
	head = calloc((size_t)rmax + 1, sizeof(*head));
	tail = calloc((size_t)rmax + 1, sizeof(*tail));
	if (!head || !tail) {
		err = -ENOMEM;
		goto out;
	}
	memset(head, 0xff, ((size_t)rmax + 1) * sizeof(*head));

	/*
	 * Walking every backend every round costs nh * rmax, which one heavy
	 * backend among many light ones makes huge; instead each round keeps a
	 * list of the backends due in it. Lists are FIFO and seeded in ident
	 * order, so equal weights take turns exactly as in the paper, and
	 * removing a backend leaves the others' turns in the same order.
	 */
	for (i = 0; i < nh; i++) {
		maglev_first(&slot[i], wmax);
		if (slot[i].due <= rmax)
			maglev_due(slot, head, tail, slot[i].due, i);
	}

	/*
	 * The table is written only from here on, so on error the caller's
	 * table is untouched. Each claim takes the next unclaimed entry of the
	 * backend's own permutation; a bitmap (8 KiB for 65537) instead of a
	 * sentinel in the table keeps the probes in L1 and leaves every __u32
	 * usable as an id. The last @endgame entries are found by scanning the
	 * free ones instead, with the same result.
	 */
	filled = 0;
	for (r = 1; r <= rmax && filled < m; r++) {
		__u32 next;

		for (i = head[r]; i != MAGLEV_NONE && filled < m; i = next) {
			struct maglev_slot *s = &slot[i];
			__u32 pos = s->pos, back = m - s->skip, k;

			next = s->next;
			if (m - filled > endgame) {
				while (maglev_is_taken(used, pos))
					pos = maglev_step(pos, s->skip, back);
				used[pos / 64] |= 1ULL << (pos % 64);
			} else {
				/* The bitmap is not updated from here on. */
				if (!nfr)
					nfr = maglev_free_list(used, m, fr);
				k = maglev_nearest(s, fr, nfr, m);
				pos = fr[k];
				fr[k] = fr[--nfr];
			}
			table[pos] = s->id;
			s->pos = maglev_step(pos, s->skip, back);
			filled++;
			maglev_next(s);
			if (s->due <= rmax)
				maglev_due(slot, head, tail, s->due, i);
		}
	}
	err = 0;
out:
	free(fr);
	free(tail);
	free(head);
	free(used);
	free(slot);
	free(sorted);
	return err;
}
