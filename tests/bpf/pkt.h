/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Packet building and checking helpers for the packet tests. */
#ifndef SLUICE_TEST_PKT_H
#define SLUICE_TEST_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/types.h>

#define PKT_MAX 2048

/* What to put in a test packet. */
struct pkt_spec {
	int family;		/* 4 or 6 */
	char src[48];		/* source address, text */
	char dst[48];		/* destination address, text */
	__u16 sport, dport;	/* host order */
	__u8 proto;		/* IPPROTO_TCP / IPPROTO_UDP / other */
	__u16 vlan;		/* 0 = untagged, else the VLAN id */
	__u16 payload;		/* L4 payload bytes */
	__u8 tos;		/* IPv4 TOS / IPv6 traffic class */
	__u8 ip_opt_words;	/* IPv4 option words (IHL = 5 + this) */
	bool frag;		/* IPv4 MF / IPv6 fragment header */
};

/* Fixed MACs used as the client's router (source) and our interface (dest). */
static const __u8 pkt_mac_lb[6] = { 0x02, 0x5e, 0x00, 0x00, 0x00, 0x01 };
/* No 16-bit word in common with pkt_mac_lb: a mixed-up word shows. */
static const __u8 pkt_mac_peer[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x02 };

/* RFC 1071 sum over @len bytes, not folded. */
static inline __u32 pkt_sum(const void *p, size_t len, __u32 sum)
{
	const __u8 *b = p;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (__u32)(b[i] << 8 | b[i + 1]);
	if (len & 1)
		sum += (__u32)b[len - 1] << 8;
	return sum;
}

/* Fold a sum and complement it; returns host-order checksum. */
static inline __u16 pkt_fold(__u32 sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

static inline void put16(__u8 *p, __u16 v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static inline __u16 get16(const __u8 *p)
{
	return (__u16)(p[0] << 8 | p[1]);
}

/* Build the packet of @s into @buf; returns its length. */
static inline size_t pkt_build(const struct pkt_spec *s, __u8 *buf)
{
	size_t off = 0, l3, l4, l4len, iplen, hl;
	__u8 src[16] = {}, dst[16] = {};
	int af = s->family == 6 ? AF_INET6 : AF_INET;

	memset(buf, 0, PKT_MAX);
	inet_pton(af, s->src, src);
	inet_pton(af, s->dst, dst);
	memcpy(buf, pkt_mac_lb, 6);
	memcpy(buf + 6, pkt_mac_peer, 6);
	off = 12;
	if (s->vlan) {
		put16(buf + off, 0x8100);
		put16(buf + off + 2, s->vlan);
		off += 4;
	}
	put16(buf + off, s->family == 6 ? 0x86dd : 0x0800);
	off += 2;
	l3 = off;
	l4len = (s->proto == 6 ? 20 : s->proto == 17 ? 8 : 8) + s->payload;
	if (s->family == 4) {
		hl = 20 + 4 * s->ip_opt_words;
		iplen = hl + l4len;
		buf[l3] = 0x40 | (__u8)(hl / 4);
		buf[l3 + 1] = s->tos;
		put16(buf + l3 + 2, (__u16)iplen);
		put16(buf + l3 + 4, 0x1234);
		put16(buf + l3 + 6, s->frag ? 0x2000 : 0x4000);
		buf[l3 + 8] = 61;
		buf[l3 + 9] = s->proto;
		memcpy(buf + l3 + 12, src, 4);
		memcpy(buf + l3 + 16, dst, 4);
		for (size_t i = 20; i < hl; i++)
			buf[l3 + i] = 0x01;	/* NOP options */
		put16(buf + l3 + 10, pkt_fold(pkt_sum(buf + l3, hl, 0)));
		l4 = l3 + hl;
	} else {
		hl = 40 + (s->frag ? 8 : 0);
		iplen = hl + l4len;
		buf[l3] = 0x60 | (s->tos >> 4);
		buf[l3 + 1] = (__u8)(s->tos << 4);
		put16(buf + l3 + 4, (__u16)(iplen - 40));
		buf[l3 + 6] = s->frag ? 44 : s->proto;
		buf[l3 + 7] = 61;
		memcpy(buf + l3 + 8, src, 16);
		memcpy(buf + l3 + 24, dst, 16);
		if (s->frag) {
			buf[l3 + 40] = s->proto;
			put16(buf + l3 + 42, 0x0001);	/* offset 0, M=1 */
		}
		l4 = l3 + hl;
	}
	put16(buf + l4, s->sport);
	put16(buf + l4 + 2, s->dport);
	if (s->proto == 6) {
		buf[l4 + 12] = 5 << 4;
		buf[l4 + 13] = 0x10;	/* ACK */
	} else if (s->proto == 17) {
		put16(buf + l4 + 4, (__u16)l4len);
	}
	for (size_t i = 0; i < s->payload; i++)
		buf[l4 + (s->proto == 6 ? 20 : 8) + i] = (__u8)(i * 7 + 3);
	return l3 + iplen;
}

#endif /* SLUICE_TEST_PKT_H */
