/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Maglev lookup-table construction (NSDI 2016), extended with weights. */
#ifndef SLUICE_MAGLEV_H
#define SLUICE_MAGLEV_H

#include <stddef.h>
#include <linux/types.h>

/* One backend as Maglev sees it. */
struct maglev_backend {
	__u8 ident[20];		/* identity: sorted on, hashed for the permutation */
	__u32 id;		/* value written into the table (backend slot id) */
	__u32 weight;		/* relative share; 0 = not in the table */
};

/*
 * Fill @table (@m entries, @m prime) from @n backends. The result is a pure
 * function of the set of (ident, id, weight): the order of @be does not
 * matter. Returns 0, or -EINVAL (m not prime, duplicate ident, no backend
 * with weight > 0), -ENOMEM.
 */
int maglev_build(const struct maglev_backend *be, size_t n, __u32 *table, __u32 m);

/* Returns true when @m is prime. */
int maglev_is_prime(__u32 m);

#endif /* SLUICE_MAGLEV_H */
