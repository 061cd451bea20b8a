/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The outer IPv4 header and its Internet checksum. */
#ifndef SLUICE_BPF_CSUM_H
#define SLUICE_BPF_CSUM_H

#include <linux/ip.h>
#include <bpf/bpf_endian.h>

/*
 * Write a 20-byte IPv4 header at @o: no options, id 0 with DF (an atomic
 * datagram, RFC 6864), the given TOS, total length, TTL and protocol, and its
 * checksum. The header is written in 16-bit words and the checksum is summed
 * from the values, not read back from the packet: a 16-bit load of bytes
 * just stored one at a time stalls until they drain (no store forwarding).
 * Sums of memory-order words are byte-order independent (RFC 1071).
 */
static __always_inline void ipv4_hdr_write(struct iphdr *o, __u8 tos, __u16 tot_len,
					   __u8 ttl, __u8 proto, __be32 saddr,
					   __be32 daddr)
{
	__be16 *h = (__be16 *)o;
	__be16 ver_tos = bpf_htons(0x4500 | tos);
	__be16 tot = bpf_htons(tot_len);
	__be16 df = bpf_htons(0x4000);
	__be16 ttl_proto = bpf_htons((__u16)ttl << 8 | proto);
	__u32 sum = (__u32)ver_tos + tot + df + ttl_proto + (saddr & 0xffff) +
		    (saddr >> 16) + (daddr & 0xffff) + (daddr >> 16);

	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	h[0] = ver_tos;
	h[1] = tot;
	h[2] = 0;		/* id */
	h[3] = df;
	h[4] = ttl_proto;
	h[5] = (__u16)~sum;
	o->saddr = saddr;
	o->daddr = daddr;
}

#endif /* SLUICE_BPF_CSUM_H */
