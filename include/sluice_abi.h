/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The one definition of everything the XDP program and userspace share. */
#ifndef SLUICE_ABI_H
#define SLUICE_ABI_H

#include <linux/types.h>

/* Limits. Each can be overridden at build time (-DSLUICE_MAX_VIPS=...). */
#ifndef SLUICE_MAX_VIPS
#define SLUICE_MAX_VIPS 1024		/* VIP slots: rings and VIP stats */
#endif
#ifndef SLUICE_MAX_BACKENDS
#define SLUICE_MAX_BACKENDS 16384	/* backend slots, over all VIPs */
#endif
#ifndef SLUICE_RING_SIZE
#define SLUICE_RING_SIZE 65537		/* Maglev table entries; must be prime */
#endif
#ifndef SLUICE_MAX_FLOWS
#define SLUICE_MAX_FLOWS (1U << 20)	/* default flow-table entries */
#endif

/* Bits in sluice_vip_bits: a filter of VIP addresses (power of two). */
#define SL_VIP_BITS 65536

/* Address families as stored in keys and values (not AF_*: BPF has no libc). */
#define SL_FAMILY_V4 4
#define SL_FAMILY_V6 6

/* Outer header sizes added by encapsulation. */
#define SL_ENCAP_V4 20			/* struct iphdr */
#define SL_ENCAP_V6 40			/* struct ipv6hdr */

/*
 * sluice_vips key. Addresses are in network byte order; an IPv4 address sits
 * in addr[0] with addr[1..3] zero. port 0 means every port of the address.
 * proto 0 is the address marker entry: one per distinct VIP address, used to
 * recognise fragments addressed to a VIP.
 */
struct sl_vip_key {
	__be32 addr[4];		/* VIP address */
	__be16 port;		/* L4 destination port, 0 = all ports */
	__u8 proto;		/* IPPROTO_TCP, IPPROTO_UDP, or 0 for the marker */
	__u8 family;		/* SL_FAMILY_V4 or SL_FAMILY_V6 */
};

/* Per-VIP flag bits (sl_vip_meta.flags). */
#define SL_VIP_F_SRC_HASH	(1U << 0)	/* hash the source address only */
#define SL_VIP_F_MARKER		(1U << 1)	/* address marker, not a service */

/* sluice_vips value. */
struct sl_vip_meta {
	__u32 id;		/* slot in sluice_rings and sluice_vip_st */
	__u32 flags;		/* SL_VIP_F_* */
	__be32 src4;		/* outer source for IPv4 backends */
	__be32 src6[4];		/* outer source for IPv6 backends */
};

/* Backend flag bits (sl_backend.flags). */
#define SL_BE_F_DOWN		(1U << 0)	/* failed: flows pinned to it re-pick */
#define SL_BE_F_MAC		(1U << 1)	/* mac[] holds the resolved next hop */

/* sluice_backends value, indexed by backend id. */
struct sl_backend {
	__be32 addr[4];		/* backend address, IPv4 in addr[0] */
	__u8 family;		/* SL_FAMILY_V4 or SL_FAMILY_V6; 0 = slot unused */
	__u8 flags;		/* SL_BE_F_* */
	__u8 mac[6];		/* next-hop Ethernet address toward the backend */
	__u32 gen;		/* bumped each time the slot is given out; kept when freed */
	__u32 vip;		/* id of the VIP it serves (lets a restart adopt it) */
	__u32 ifindex;		/* egress interface toward the next hop; 0 = the receiving one */
	__be32 src[4];		/* outer source: its VIP's source for this family (IPv4 in src[0]) */
};

/* sluice_flows key: the 5-tuple as seen on the wire. */
struct sl_flow_key {
	__be32 src[4];		/* source address */
	__be32 dst[4];		/* destination (VIP) address */
	__be16 sport;		/* source port */
	__be16 dport;		/* destination port */
	__u8 proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	__u8 family;		/* SL_FAMILY_V4 or SL_FAMILY_V6 */
	__u8 pad[2];		/* zero */
};

/* Entries of the per-CPU flow cache in front of sluice_flows: 2^SL_FCACHE_BITS. */
#ifndef SL_FCACHE_BITS
#define SL_FCACHE_BITS 12
#endif
#define SLUICE_FLOW_CACHE (1U << SL_FCACHE_BITS)

/*
 * sluice_fcache value: a direct-mapped, per-CPU copy of a recently used flow
 * with a snapshot of its backend slot, so a hit reads nothing else. Valid
 * only within the second it was filled (seen == sl_clock) and while no
 * backend slot has been written since (epoch == sl_be_epoch); a collision
 * simply overwrites it. Never pinned: each loaded program starts empty.
 */
struct sl_fcache {
	struct sl_flow_key key;	/* the flow */
	__u32 backend;		/* backend id */
	__u32 epoch;		/* sl_be_epoch when filled */
	__u32 seen;		/* sl_clock when filled (sluice_flows refreshed) */
	struct sl_backend be;	/* the backend slot as it was then */
};

/* sluice_flows value. */
struct sl_flow {
	__u32 backend;		/* backend id */
	__u32 gen;		/* sl_backend.gen when chosen; stale if it differs */
	__u32 seen;		/* sl_clock when last seen (seconds, coarse) */
};

/*
 * sluice_vip_bits value: bit sl_vip_bit(addr) is set for every VIP address,
 * so most packets for other addresses pass after one array read. A set bit
 * only means "maybe": the VIP lookup decides.
 */
struct sl_vip_bits {
	__u64 w[SL_VIP_BITS / 64];	/* the bits */
};

/* sluice_rate value (per CPU): flow-table inserts in the current second. */
struct sl_rate {
	__u32 sec;		/* sl_clock of the count */
	__u32 count;		/* inserts in that second */
};

/* Traffic counters, per VIP (sluice_vip_st) and per backend (sluice_be_st). */
struct sl_counters {
	__u64 packets;		/* packets forwarded */
	__u64 bytes;		/* bytes forwarded, as received (before encap) */
	__u64 new_flows;	/* flow-table misses that chose a backend */
};

/*
 * Reasons, one slot each in sluice_reasons: every packet the program sees is
 * counted in exactly one of them. PASS_* return XDP_PASS, DROP_* XDP_DROP,
 * TX_* XDP_TX; the program relies on this order (passes, drops, sends).
 */
enum sl_reason {
	SL_PASS_NOT_IP = 0,	/* not IPv4/IPv6 (ARP, LLDP, ...) */
	SL_PASS_NOT_VIP,	/* IP, but no VIP matches address/port/proto */
	SL_PASS_NOT_L4,		/* to a VIP address, not TCP/UDP (ICMP ...) */
	SL_PASS_FRAGMENT,	/* a fragment not addressed to a VIP */
	SL_PASS_IPV6_EXT,	/* IPv6 with extension headers */
	SL_PASS_SHORT_L2,	/* frame too short for Ethernet/VLAN */
	SL_PASS_L2_MULTICAST,	/* to a VIP, but an Ethernet broadcast/multicast frame */
	SL_DROP_BAD_IP,		/* truncated IP header, IHL < 5, bad length */
	SL_DROP_BAD_L4,		/* TCP/UDP header truncated, to a VIP */
	SL_DROP_FRAGMENT,	/* fragment addressed to a VIP address */
	SL_DROP_NO_RING,	/* VIP has no Maglev table (no usable backend) */
	SL_DROP_NO_BACKEND,	/* table entry names an unused backend slot */
	SL_DROP_FAMILY,		/* IPv6 VIP with an IPv4 backend */
	SL_DROP_TOO_BIG,	/* encapsulated packet would exceed the MTU */
	SL_DROP_NO_NEXTHOP,	/* next-hop MAC unknown and FIB lookup failed */
	SL_DROP_ADJUST,		/* bpf_xdp_adjust_head failed */
	SL_TX_ENCAP,		/* encapsulated and sent back out (XDP_TX) */
	SL_TX_REDIRECT,		/* encapsulated and sent out another interface */
	SL_REASON_MAX,
};

/* sluice_reasons value. */
struct sl_reason_count {
	__u64 packets;		/* packets counted under this reason */
};

#ifndef __bpf__
_Static_assert(sizeof(struct sl_vip_key) == 20, "sl_vip_key layout");
_Static_assert(sizeof(struct sl_vip_meta) == 28, "sl_vip_meta layout");
_Static_assert(sizeof(struct sl_backend) == 52, "sl_backend layout");
_Static_assert(sizeof(struct sl_flow_key) == 40, "sl_flow_key layout");
_Static_assert(sizeof(struct sl_flow) == 12, "sl_flow layout");
_Static_assert(sizeof(struct sl_counters) == 24, "sl_counters layout");
_Static_assert(sizeof(struct sl_rate) == 8, "sl_rate layout");
_Static_assert(sizeof(struct sl_fcache) == 104, "sl_fcache layout");
#endif

#endif /* SLUICE_ABI_H */
