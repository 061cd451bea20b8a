/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Internet checksum of the outer IPv4 header. */
#ifndef SLUICE_BPF_CSUM_H
#define SLUICE_BPF_CSUM_H

#include <linux/ip.h>

/* Returns the checksum of a 20-byte IPv4 header whose check field is zero. */
static __always_inline __u16 csum_ipv4_hdr(const struct iphdr *iph)
{
	const __u16 *w = (const __u16 *)iph;
	__u32 sum = 0;

#pragma unroll
	for (int i = 0; i < (int)(sizeof(*iph) / 2); i++)
		sum += w[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

#endif /* SLUICE_BPF_CSUM_H */
