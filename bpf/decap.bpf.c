// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Backend decapsulator: strips IPIP, IP6IP6 and IPv4-in-IPv6 sent here for our VIPs. */
#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "sluice_decap.h"
#include "ether.h"

#define DC_ECN_MASK	0x3
#define DC_ECN_CE	0x3

/* IPv6 fragment header (RFC 8200 4.5). */
struct dc_frag_hdr {
	__u8 nexthdr;		/* header after the fragmentable part */
	__u8 reserved;
	__be16 frag_off;	/* offset, flags */
	__be32 id;		/* identification */
};

/* What the parser learned about one packet. */
struct dc_pkt {
	__u32 l2_len;		/* Ethernet header plus VLAN tag, if any */
	__u32 outer_len;	/* outer IP header bytes to strip */
	__u32 inner_len;	/* bytes after the outer header, from its length field */
	__u8 inner;		/* IPPROTO_IPIP (IPv4 inside) or IPPROTO_IPV6 */
	__u8 outer_ecn;		/* ECN bits of the outer header */
	__be16 l3_proto;	/* EtherType of the outer header */
};

/* This host's addresses on the interface the program is attached to. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_DC_MAX_LOCAL);
	__type(key, struct sl_dc_addr);
	__type(value, __u8);
} sluice_dc_local SEC(".maps");

/* The VIPs this host serves (they also sit on lo). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_DC_MAX_VIPS);
	__type(key, struct sl_dc_addr);
	__type(value, __u8);
} sluice_dc_vips SEC(".maps");

/* Packets and bytes by reason (enum sl_dc_reason). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_DC_REASON_MAX);
	__type(key, __u32);
	__type(value, struct sl_dc_count);
} sluice_dc_stats SEC(".maps");

/* Count one packet of @bytes under @reason; returns the XDP action it implies. */
static __always_inline int dc_verdict(__u32 reason, __u64 bytes)
{
	struct sl_dc_count *c;

	c = bpf_map_lookup_elem(&sluice_dc_stats, &reason);
	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
	return reason >= SL_DC_DROP_NOT_VIP ? XDP_DROP : XDP_PASS;
}

/* Returns true when @addr (4 or 16 bytes) of @family is a key of @map. */
static __always_inline bool dc_addr_in(void *map, const void *addr, __u8 family)
{
	struct sl_dc_addr k = {};

	if (family == SL_FAMILY_V4)
		__builtin_memcpy(k.addr, addr, 4);
	else
		__builtin_memcpy(k.addr, addr, 16);
	k.family = family;
	return bpf_map_lookup_elem(map, &k) != NULL;
}

/* Parse Ethernet and one optional VLAN tag; returns SL_CONTINUE or a reason. */
static __always_inline int dc_parse_l2(struct dc_pkt *p, void *data, void *data_end)
{
	__be16 proto = eth_proto(data, data_end, &p->l2_len);

	if (proto != bpf_htons(ETH_P_IP) && proto != bpf_htons(ETH_P_IPV6))
		return SL_DC_PASS_NOT_ENCAP;
	p->l3_proto = proto;
	return SL_CONTINUE;
}

/*
 * Parse an outer IPv4 header at @l3. Only IPIP to one of our addresses goes
 * on. Options are fine: the outer header is IHL*4 bytes and all of it is
 * stripped. Returns SL_CONTINUE or a reason.
 */
static __always_inline int dc_parse_outer4(struct dc_pkt *p, void *l3, void *data_end)
{
	struct iphdr *iph = l3;
	__u32 hl, tot;

	if ((void *)(iph + 1) > data_end)
		return SL_DC_PASS_NOT_ENCAP;
	if (iph->version != 4 || iph->protocol != IPPROTO_IPIP)
		return SL_DC_PASS_NOT_ENCAP;
	if (!dc_addr_in(&sluice_dc_local, &iph->daddr, SL_FAMILY_V4))
		return SL_DC_PASS_NOT_LOCAL;
	hl = iph->ihl * 4;
	tot = bpf_ntohs(iph->tot_len);
	if (hl < sizeof(*iph) || tot < hl || l3 + tot > data_end)
		return SL_DC_DROP_BAD_OUTER;
	if (iph->frag_off & bpf_htons(SL_IP_MF | SL_IP_OFFSET))
		return SL_DC_DROP_FRAGMENT;
	p->outer_len = hl;
	p->inner_len = tot - hl;
	p->inner = IPPROTO_IPIP;
	p->outer_ecn = iph->tos & DC_ECN_MASK;
	return SL_CONTINUE;
}

/* Returns true for the next-header values that carry IP in IPv6. */
static __always_inline bool is_ip_in_ip6(__u8 nexthdr)
{
	return nexthdr == IPPROTO_IPV6 || nexthdr == IPPROTO_IPIP;
}

/*
 * Parse an outer IPv6 header at @l3: next header 41 (IPv6 inside) or 4
 * (IPv4 inside) directly after the fixed header, to one of our addresses.
 * A fragment header in front of 41/4 is recognised in order to drop it;
 * other extension headers (an encapsulation-limit option, say) are not
 * parsed and the packet passes. Returns SL_CONTINUE or a reason.
 */
static __always_inline int dc_parse_outer6(struct dc_pkt *p, void *l3, void *data_end)
{
	struct ipv6hdr *ip6 = l3;
	struct dc_frag_hdr *fh;
	__u8 nh;

	if ((void *)(ip6 + 1) > data_end)
		return SL_DC_PASS_NOT_ENCAP;
	nh = ip6->nexthdr;
	if (ip6->version != 6 || (!is_ip_in_ip6(nh) && nh != SL_NEXTHDR_FRAG))
		return SL_DC_PASS_NOT_ENCAP;
	if (nh == SL_NEXTHDR_FRAG) {
		/* Every fragment repeats the next header: only ours matter. */
		fh = (void *)(ip6 + 1);
		if ((void *)(fh + 1) > data_end || !is_ip_in_ip6(fh->nexthdr))
			return SL_DC_PASS_NOT_ENCAP;
	}
	if (!dc_addr_in(&sluice_dc_local, &ip6->daddr, SL_FAMILY_V6))
		return SL_DC_PASS_NOT_LOCAL;
	if (l3 + sizeof(*ip6) + bpf_ntohs(ip6->payload_len) > data_end)
		return SL_DC_DROP_BAD_OUTER;
	if (nh == SL_NEXTHDR_FRAG)
		return SL_DC_DROP_FRAGMENT;
	p->outer_len = sizeof(*ip6);
	p->inner_len = bpf_ntohs(ip6->payload_len);
	p->inner = nh;
	p->outer_ecn = (ip6->flow_lbl[0] >> 4) & DC_ECN_MASK;
	return SL_CONTINUE;
}

/*
 * RFC 6040: congestion marked on the outer header is copied to an
 * ECN-capable inner header (whose IPv4 checksum is then updated, RFC 1624).
 * A not-ECN-capable inner packet is left as it is.
 */
static __always_inline void dc_ecn4(struct iphdr *iph, __u8 outer_ecn)
{
	__u16 *word = (__u16 *)iph;	/* version, IHL and TOS */
	__u16 old;
	__u32 sum;

	if (outer_ecn != DC_ECN_CE || !(iph->tos & DC_ECN_MASK))
		return;
	old = *word;
	iph->tos |= DC_ECN_CE;
	sum = (__u16)~iph->check + (__u16)~old + *word;
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	iph->check = (__u16)~sum;
}

/* As dc_ecn4() for an inner IPv6 header: ECN is the low 2 bits of its class. */
static __always_inline void dc_ecn6(struct ipv6hdr *ip6, __u8 outer_ecn)
{
	if (outer_ecn != DC_ECN_CE || !((ip6->flow_lbl[0] >> 4) & DC_ECN_MASK))
		return;
	ip6->flow_lbl[0] |= DC_ECN_CE << 4;
}

/*
 * Check the inner header at @in against the outer payload length: version,
 * IHL, and a length that stays inside what the outer header carries. Then
 * the inner destination must be a VIP we serve. Returns SL_CONTINUE or a
 * reason.
 */
static __always_inline int dc_check_inner(struct dc_pkt *p, void *in, void *data_end)
{
	if (p->inner == IPPROTO_IPIP) {
		struct iphdr *iph = in;
		__u32 hl, tot;

		if ((void *)(iph + 1) > data_end || p->inner_len < sizeof(*iph))
			return SL_DC_DROP_BAD_INNER;
		hl = iph->ihl * 4;
		tot = bpf_ntohs(iph->tot_len);
		if (iph->version != 4 || hl < sizeof(*iph) || tot < hl ||
		    tot > p->inner_len)
			return SL_DC_DROP_BAD_INNER;
		if (!dc_addr_in(&sluice_dc_vips, &iph->daddr, SL_FAMILY_V4))
			return SL_DC_DROP_NOT_VIP;
		dc_ecn4(iph, p->outer_ecn);
	} else {
		struct ipv6hdr *ip6 = in;

		if ((void *)(ip6 + 1) > data_end || p->inner_len < sizeof(*ip6))
			return SL_DC_DROP_BAD_INNER;
		if (ip6->version != 6 ||
		    sizeof(*ip6) + bpf_ntohs(ip6->payload_len) > p->inner_len)
			return SL_DC_DROP_BAD_INNER;
		if (!dc_addr_in(&sluice_dc_vips, &ip6->daddr, SL_FAMILY_V6))
			return SL_DC_DROP_NOT_VIP;
		dc_ecn6(ip6, p->outer_ecn);
	}
	return SL_CONTINUE;
}

/*
 * Remove the outer header: the Ethernet header (and VLAN tag) moves forward
 * by its length with the EtherType set to the inner family, so the frame
 * becomes Ethernet + inner packet. Returns SL_DC_DECAP_OK or a reason.
 */
static __always_inline int dc_strip(struct xdp_md *ctx, const struct dc_pkt *p)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__be16 proto = p->inner == IPPROTO_IPIP ? bpf_htons(ETH_P_IP) :
						  bpf_htons(ETH_P_IPV6);
	struct ethhdr *eth = data, old_eth;
	struct sl_vlan_hdr *vlan, old_vlan = {};
	bool tagged = p->l2_len > sizeof(*eth);

	/* Save the L2 header: adjust_head invalidates every packet pointer. */
	if ((void *)(eth + 1) > data_end)
		return SL_DC_DROP_ADJUST;
	old_eth = *eth;
	if (tagged) {
		vlan = (void *)(eth + 1);
		if ((void *)(vlan + 1) > data_end)
			return SL_DC_DROP_ADJUST;
		old_vlan = *vlan;
		old_vlan.proto = proto;
	} else {
		old_eth.h_proto = proto;
	}

	if (bpf_xdp_adjust_head(ctx, (int)p->outer_len))
		return SL_DC_DROP_ADJUST;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;

	eth = data;
	if ((void *)(eth + 1) > data_end)
		return SL_DC_DROP_ADJUST;
	*eth = old_eth;
	if (tagged) {
		vlan = (void *)(eth + 1);
		if ((void *)(vlan + 1) > data_end)
			return SL_DC_DROP_ADJUST;
		*vlan = old_vlan;
	}
	return SL_DC_DECAP_OK;
}

/* Parse, check that it is ours, check the inner packet, strip, count, pass. */
SEC("xdp")
int sluice_decap(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 bytes = data_end - data;
	struct dc_pkt p = {};
	int rc;

	rc = dc_parse_l2(&p, data, data_end);
	if (rc >= 0)
		return dc_verdict(rc, bytes);
	if (p.l3_proto == bpf_htons(ETH_P_IP))
		rc = dc_parse_outer4(&p, data + p.l2_len, data_end);
	else
		rc = dc_parse_outer6(&p, data + p.l2_len, data_end);
	if (rc >= 0)
		return dc_verdict(rc, bytes);

	rc = dc_check_inner(&p, data + p.l2_len + p.outer_len, data_end);
	if (rc >= 0)
		return dc_verdict(rc, bytes);

	return dc_verdict(dc_strip(ctx, &p), bytes);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
