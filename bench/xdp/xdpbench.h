/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* What the benchmark's BPF programs and xdpbench share: frame size, modes. */
#ifndef XDPBENCH_H
#define XDPBENCH_H

#include <linux/types.h>

/* Every generated frame is exactly this long (Ethernet header included). */
#define XB_PKT_LEN 64

/* How the generator varies the frame it writes (xb_mode). */
#define XB_MODE_FIXED	0	/* the template as it is: one flow */
#define XB_MODE_NEW	1	/* a new flow per packet (32-bit sequence) */
#define XB_MODE_CYCLE	2	/* flow = sequence & xb_flow_mask, cycling */

/* Template offsets of the varied fields (Ethernet + IPv4 / IPv6 + L4). */
#define XB_V4_SADDR_LO	(14 + 12)	/* IPv4 source address */
#define XB_V4_SPORT	(14 + 20)	/* L4 source port after a 20-byte IPv4 header */
#define XB_V6_SADDR_LO	(14 + 8 + 12)	/* last word of the IPv6 source address */
#define XB_V6_SPORT	(14 + 40)	/* L4 source port after the IPv6 header */

/* Slot of the tail-called program in the harness's program array. */
#define XB_TARGET 0

#endif /* XDPBENCH_H */
