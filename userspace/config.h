/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The sluiced configuration file turned into a validated desired state. */
#ifndef SLUICE_CONFIG_H
#define SLUICE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <linux/types.h>
#include "sluice_abi.h"

/* Buffer sizes, each including the terminating NUL. */
#define SL_ADDR_STRLEN		46	/* INET6_ADDRSTRLEN */
#define SL_CFG_NAME_MAX		32	/* VIP names: 1..31 of [A-Za-z0-9_.-] */
#define SL_CFG_IFNAME_MAX	16	/* IFNAMSIZ */
#define SL_CFG_PATH_MAX		256	/* bpffs pin directory */
#define SL_CFG_SOCK_MAX		108	/* sizeof(sockaddr_un.sun_path) */
#define SL_CFG_GROUP_MAX	33	/* group names are at most 32 characters */
#define SL_HC_PATH_MAX		256	/* http_path */
#define SL_HC_HOST_MAX		256	/* http_host */
#define SL_HC_PAYLOAD_MAX	128	/* udp_payload, udp_expect */

/* Interfaces the program may be attached to (not a map limit, a sanity bound). */
#define SL_CFG_MAX_IFACES	64

/* An IPv4 or IPv6 address, stored the way sluice_abi.h stores addresses. */
struct sl_addr {
	__u8 family;		/* SL_FAMILY_V4, SL_FAMILY_V6, or 0 = none */
	__be32 addr[4];		/* network order; IPv4 in addr[0], rest zero */
};

/* How the XDP program is attached to an interface. */
enum sl_xdp_mode {
	SL_XDP_NATIVE = 0,	/* driver mode (the default) */
	SL_XDP_GENERIC,		/* skb mode, for drivers without XDP */
};

/* How a VIP forwards; only encapsulation exists so far. */
enum sl_vip_mode {
	SL_VIP_MODE_ENCAP = 0,	/* IPIP / IP6IP6 / IPv4-in-IPv6 */
};

/* What a VIP hashes to choose a backend. */
enum sl_vip_hash {
	SL_VIP_HASH_5TUPLE = 0,	/* the whole 5-tuple (default) */
	SL_VIP_HASH_SOURCE,	/* the source address only: client persistence */
};

/* What a VIP does when every backend is down. */
enum sl_vip_all_down {
	SL_VIP_ALL_DOWN_DROP = 0,	/* drop its traffic (default) */
	SL_VIP_ALL_DOWN_ALL,		/* use every backend as if healthy */
};

/* Health-check kinds. */
enum sl_hc_type {
	SL_HC_NONE = 0,		/* no check: the backend is always up */
	SL_HC_TCP,		/* TCP connect */
	SL_HC_HTTP,		/* HTTP GET, status within a range */
	SL_HC_UDP,		/* UDP datagram out, a reply back */
};

/*
 * Health-check settings. In sl_cfg_backend these are fully resolved (global
 * defaults <- VIP <- backend); strings are always NUL-terminated.
 */
struct sl_cfg_health {
	enum sl_hc_type type;		/* kind of probe */
	__u16 port;			/* probe port; 0 only with SL_HC_NONE on a port-0 VIP,
					 * and in sl_config.health meaning "the VIP's port" */
	__u16 http_status_min;		/* lowest status that counts as up */
	__u16 http_status_max;		/* highest status that counts as up */
	__u8 rise;			/* consecutive successes to mark up, 1..100 */
	__u8 fall;			/* consecutive failures to mark down, 1..100 */
	__u32 interval_ms;		/* time between probe starts */
	__u32 timeout_ms;		/* probe deadline, <= interval_ms */
	char http_path[SL_HC_PATH_MAX];		/* request path, starts with '/' */
	char http_host[SL_HC_HOST_MAX];		/* Host header; "" = backend address */
	char udp_payload[SL_HC_PAYLOAD_MAX];	/* datagram sent; "" = empty datagram */
	char udp_expect[SL_HC_PAYLOAD_MAX];	/* reply must start with it; "" = any */
};

/* One interface to attach to. */
struct sl_cfg_iface {
	char name[SL_CFG_IFNAME_MAX];	/* kernel interface name */
	enum sl_xdp_mode xdp_mode;	/* attach mode */
};

/* One backend of a VIP. */
struct sl_cfg_backend {
	struct sl_addr addr;		/* where encapsulated packets go */
	__u32 weight;			/* Maglev weight 0..65535; 0 = drained */
	struct sl_cfg_health health;	/* resolved health-check settings */
};

/* One virtual service. */
struct sl_cfg_vip {
	char name[SL_CFG_NAME_MAX];	/* unique handle for sluicectl and logs */
	struct sl_addr addr;		/* VIP address */
	__u16 port;			/* host order; 0 = every port of the address */
	__u8 proto;			/* IPPROTO_TCP or IPPROTO_UDP */
	enum sl_vip_mode mode;		/* forwarding method */
	enum sl_vip_hash hash;		/* hash input */
	enum sl_vip_all_down all_down;	/* behaviour with no healthy backend */
	struct sl_addr src4;		/* resolved outer IPv4 source; family 0 = none */
	struct sl_addr src6;		/* resolved outer IPv6 source; family 0 = none */
	struct sl_cfg_health health;	/* global <- VIP, for backends added at run time */
	struct sl_cfg_backend *backends;	/* n_backends entries, in file order */
	__u32 n_backends;		/* may be 0: backends can be added at run time */
};

/* The whole validated desired state. Owns its arrays: release with cfg_free(). */
struct sl_config {
	__u32 hash_seed;		/* flow hash seed */
	__u32 flow_table_size;		/* sluice_flows entries */
	__u32 mtu;			/* largest IP packet emitted after encapsulation */
	__u32 new_flow_limit;		/* flow-table inserts per CPU per second; 0 = no limit */
	char bpffs[SL_CFG_PATH_MAX];	/* absolute pin directory */
	char ctl_socket[SL_CFG_SOCK_MAX];	/* absolute control socket path */
	char ctl_group[SL_CFG_GROUP_MAX];	/* group allowed on the socket; "" = root only */
	struct sl_addr src4;		/* global outer IPv4 source; family 0 = none */
	struct sl_addr src6;		/* global outer IPv6 source; family 0 = none */
	struct sl_cfg_health health;	/* global defaults as resolved; port 0 = VIP's port */
	bool health_type_set;		/* the global health block names a type */
	struct sl_cfg_iface *ifaces;	/* n_ifaces entries, at least one */
	__u32 n_ifaces;
	struct sl_cfg_vip *vips;	/* n_vips entries, in file order */
	__u32 n_vips;
	__u32 n_backends;		/* sum of vips[].n_backends */
};

/* Defaults for optional settings (docs/CONFIG.md lists them all). */
#define SL_CFG_DEF_HASH_SEED	0x5eed1ceU
#define SL_CFG_DEF_BPFFS	"/sys/fs/bpf/sluice"
#define SL_CFG_DEF_FLOWS	SLUICE_MAX_FLOWS
#define SL_CFG_DEF_MTU		1500
#define SL_CFG_DEF_FLOW_LIMIT	65536
#define SL_CFG_DEF_SOCKET	"/run/sluice/sluice.sock"
#define SL_CFG_DEF_WEIGHT	100

/*
 * Parse and validate the file at @path into @out. Returns 0, -EINVAL for a bad
 * configuration, or -errno when the file cannot be read. On failure @err gets
 * one line, "FILE:LINE: message" ("FILE: message" for I/O errors), and @out is
 * not touched. On success @out is overwritten (not freed) with a state the
 * caller owns.
 */
int cfg_load(const char *path, struct sl_config *out, char *err, size_t errlen);

/* As cfg_load(), from @text; @name stands for the file name in messages. */
int cfg_parse_string(const char *text, const char *name, struct sl_config *out,
		     char *err, size_t errlen);

/* Release what @cfg owns and zero it. Safe on a zeroed struct. */
void cfg_free(struct sl_config *cfg);

/*
 * The health settings a VIP of @proto and @port gets from @cfg's global
 * defaults, by the same rule the parser applies: a UDP VIP gets no check
 * unless the global block names a type; port 0 becomes the VIP's port.
 */
void cfg_vip_health(const struct sl_config *cfg, __u8 proto, __u16 port,
		    struct sl_cfg_health *out);

/* Returns the VIP called @name, or NULL. */
const struct sl_cfg_vip *cfg_vip_find(const struct sl_config *cfg, const char *name);

/* Returns true when @a and @b describe the same desired state. */
bool cfg_equal(const struct sl_config *a, const struct sl_config *b);

/*
 * Write @cfg to @f as a configuration file that parses back to an equal
 * state. Returns 0 or -errno.
 */
int cfg_write(const struct sl_config *cfg, FILE *f);

/* Names as written in the file ("native", "encap", "5tuple", "tcp" ...). */
const char *cfg_xdp_mode_name(enum sl_xdp_mode m);
const char *cfg_vip_mode_name(enum sl_vip_mode m);
const char *cfg_vip_hash_name(enum sl_vip_hash h);
const char *cfg_vip_all_down_name(enum sl_vip_all_down a);
const char *cfg_hc_type_name(enum sl_hc_type t);
const char *cfg_proto_name(__u8 proto);

/* Parse a literal IPv4 or IPv6 address (no scope, no prefix). Returns 0 or -EINVAL. */
int sl_addr_parse(const char *s, struct sl_addr *a);

/*
 * Format @a into @buf (SL_ADDR_STRLEN is enough). Returns @buf, or NULL with
 * errno set (EAFNOSUPPORT for family 0, ENOSPC for a short buffer).
 */
const char *sl_addr_str(const struct sl_addr *a, char *buf, size_t len);

/* Returns true when @a and @b are the same address (family and bytes). */
bool sl_addr_equal(const struct sl_addr *a, const struct sl_addr *b);

/* Total order on addresses (family, then bytes), for sorting. */
int sl_addr_cmp(const struct sl_addr *a, const struct sl_addr *b);

#endif /* SLUICE_CONFIG_H */
