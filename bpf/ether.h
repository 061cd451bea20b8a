/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* What the balancer and the backend decapsulator both parse: L2 and IP constants. */
#ifndef SLUICE_BPF_ETHER_H
#define SLUICE_BPF_ETHER_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_endian.h>

/* Returned by helpers that want the caller to carry on (reasons are >= 0). */
#define SL_CONTINUE (-1)

/* Branch hints: the forwarding path is laid out straight, the rest aside. */
#define sl_likely(x)	__builtin_expect(!!(x), 1)
#define sl_unlikely(x)	__builtin_expect(!!(x), 0)

#define SL_IP_MF	0x2000
#define SL_IP_OFFSET	0x1fff
#define SL_IP_DF	0x4000
#define SL_NEXTHDR_FRAG 44

/* 802.1Q / 802.1ad tag as it follows the Ethernet addresses. */
struct sl_vlan_hdr {
	__be16 tci;		/* priority, DEI, VLAN id */
	__be16 proto;		/* encapsulated EtherType */
};

/*
 * Ethernet and one optional 802.1Q/802.1ad tag at @data: returns the
 * EtherType that follows them, with *l2_len set, or 0 when the frame is too
 * short to hold them.
 */
static __always_inline __be16 eth_proto(void *data, void *data_end, __u32 *l2_len)
{
	struct ethhdr *eth = data;
	struct sl_vlan_hdr *vlan;

	if ((void *)(eth + 1) > data_end)
		return 0;
	*l2_len = sizeof(*eth);
	if (eth->h_proto != bpf_htons(ETH_P_8021Q) && eth->h_proto != bpf_htons(ETH_P_8021AD))
		return eth->h_proto;
	vlan = (void *)(eth + 1);
	if ((void *)(vlan + 1) > data_end)
		return 0;
	*l2_len += sizeof(*vlan);
	return vlan->proto;
}

#endif /* SLUICE_BPF_ETHER_H */
