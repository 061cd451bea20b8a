/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* A backend host's side: load, pin, attach and fill the decapsulator; VIPs on lo; sysctls. */
#ifndef SLUICE_BACKEND_H
#define SLUICE_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "sluice_decap.h"

/* Where the pins go: BK_PIN_ROOT/IFNAME or BK_PIN_ROOT/netns-NAME/IFNAME (bk_pin_dir). */
#define BK_BPFFS	"/sys/fs/bpf"
#define BK_PIN_ROOT	BK_BPFFS "/sluice-backend"
#define BK_LINK_PIN	"xdp_link"	/* the bpf_link's pin name in the pin dir */
#define BK_PROG_NAME	"sluice_decap"

/* The decapsulator's maps, from a fresh load or from the pins. */
struct bk;

/* What is attached to an interface, as bk_attached() finds it. */
struct bk_attach {
	__u32 link_prog;	/* program behind the pinned link; 0: no pinned link */
	__u32 link_ifindex;	/* interface of the pinned link; 0: link is defunct */
	__u32 xdp_prog;		/* program the interface runs; 0: none */
	bool generic;		/* xdp_prog is attached in generic (skb) mode */
	char xdp_name[16];	/* name of xdp_prog */
};

/*
 * Write the pin directory for @ifname to @buf: BK_PIN_ROOT/netns-NAME/IFNAME
 * when this network namespace is named NAME in /var/run/netns (so that
 * namespaces sharing one bpffs and one interface name do not meet), else
 * BK_PIN_ROOT/IFNAME. Returns 0 or -errno.
 */
int bk_pin_dir(char *buf, size_t len, const char *ifname);

/*
 * Make sure BK_BPFFS is a bpf filesystem, mounting one when it is not (as in
 * `ip netns exec`, which remounts /sys). *@mounted tells whether we did.
 * Returns 0 or -errno.
 */
int bk_bpffs_ensure(bool *mounted);

/*
 * Returns true when this process's mount namespace differs from its
 * parent's, as under `ip netns exec`, which unshares one for the command
 * alone: whatever is mounted there goes away with the command.
 */
bool bk_mntns_is_private(void);

/*
 * Open and load the decapsulator. With a @pin_dir (created if needed) its
 * maps are pinned there, or reused with their contents when already pinned.
 * NULL: no pins (tests). Returns NULL and sets errno on failure.
 */
struct bk *bk_load(const char *pin_dir);

/*
 * Open the maps pinned under @pin_dir, without loading anything (check,
 * stats). Returns NULL and sets errno (ENOENT: nothing pinned).
 */
struct bk *bk_open_pinned(const char *pin_dir);

/* Release our references; pins and the attachment stay. NULL is allowed. */
void bk_close(struct bk *bk);

/* Returns the fd of the loaded program, or -ENOENT when opened from pins. */
int bk_prog_fd(const struct bk *bk);

/*
 * Attach the loaded program to @ifindex through a bpf_link pinned as
 * @pin_dir/BK_LINK_PIN, native mode unless @generic. A pinned link of the
 * same mode on the same interface gets the program swapped in atomically;
 * a link in the other mode, or a defunct one, is replaced. Fails with
 * -EEXIST when the pinned link belongs to another interface (another
 * namespace with the same pin dir), -EBUSY when another XDP program is
 * attached. Returns 0 with *@prog_id set, or -errno.
 */
int bk_attach(struct bk *bk, const char *pin_dir, int ifindex, bool generic,
	      __u32 *prog_id);

/*
 * Check, before touching the maps pinned in @pin_dir, that they are not
 * another interface's: a namespace without a /var/run/netns name shares
 * BK_PIN_ROOT/IFNAME with every other such namespace. @ifindex 0: the
 * interface is gone here, so any live link is someone else's. Returns 0
 * (nothing pinned, a defunct link, or @ifindex's own), -EEXIST, or -errno.
 */
int bk_pin_check(const char *pin_dir, int ifindex);

/* Fill @out with what @ifindex runs and what is pinned in @pin_dir. Returns 0 or -errno. */
int bk_attached(const char *pin_dir, int ifindex, struct bk_attach *out);

/*
 * Detach and unpin the link, unpin the maps under @pin_dir, remove the
 * directory, and its parents up to BK_PIN_ROOT once empty. Nothing pinned
 * is not an error. Call bk_pin_check() first. Returns 0 or -errno.
 */
int bk_detach(const char *pin_dir);

/* Add / remove one address in sluice_dc_local. Returns 0 or -errno (-ENOENT). */
int bk_local_add(struct bk *bk, const struct sl_dc_addr *a);
int bk_local_del(struct bk *bk, const struct sl_dc_addr *a);

/*
 * Make sluice_dc_local hold exactly the addresses of @ifname. Returns the
 * number of addresses, or -errno (-ENOENT when it has none).
 */
int bk_local_sync(struct bk *bk, const char *ifname);

/* Copy up to @max entries of sluice_dc_local to @out. Returns the count or -errno. */
int bk_local_list(struct bk *bk, struct sl_dc_addr *out, size_t max);

/* Add / remove one VIP in sluice_dc_vips. Returns 0 or -errno (-ENOENT). */
int bk_vip_add(struct bk *bk, const struct sl_dc_addr *vip);
int bk_vip_del(struct bk *bk, const struct sl_dc_addr *vip);

/* Returns 1 when @vip is in sluice_dc_vips, 0 when not, or -errno. */
int bk_vip_has(struct bk *bk, const struct sl_dc_addr *vip);

/* Sum the per-CPU counters into @out[SL_DC_REASON_MAX]. Returns 0 or -errno. */
int bk_stats(struct bk *bk, struct sl_dc_count *out);

/* Zero every counter. Returns 0 or -errno. */
int bk_stats_reset(struct bk *bk);

/* Returns the name of a reason slot ("decap_ok", ...), or "unknown". */
const char *bk_reason_name(__u32 reason);

/*
 * Copy the IPv4 and IPv6 addresses of @ifname (aliases included) to @out,
 * at most @max. Returns the count or -errno (-ENODEV: no such interface).
 */
int bk_if_addrs(const char *ifname, struct sl_dc_addr *out, size_t max);

/* Parse an address without a prefix length. Returns 0 or -EINVAL. */
int bk_addr_parse(const char *text, struct sl_dc_addr *out);

/* Write @a as text; returns @buf. @len should be at least 46. */
const char *bk_addr_str(const struct sl_dc_addr *a, char *buf, size_t len);

/* Returns true when @a is one of the @n addresses of @set. */
bool bk_addr_in(const struct sl_dc_addr *a, const struct sl_dc_addr *set, size_t n);

/* Add @vip to lo as /32 or /128 (replacing an identical entry). Returns 0 or -errno. */
int bk_lo_add(const struct sl_dc_addr *vip);

/* Remove @vip/32 or /128 from lo. Returns 0, -EADDRNOTAVAIL when absent, or -errno. */
int bk_lo_del(const struct sl_dc_addr *vip);

/* Returns 1 when @vip is an address of lo, 0 when not, or -errno. */
int bk_lo_has(const struct sl_dc_addr *vip);

/*
 * Read net.ipv4.conf.@dev.@knob (@dev "all", "default" or an interface) in
 * this network namespace. Returns the value (>= 0) or -errno.
 */
int bk_sysctl_get(const char *dev, const char *knob);

/* Write @val to net.ipv4.conf.@dev.@knob. Returns 0 or -errno. */
int bk_sysctl_set(const char *dev, const char *knob, int val);

/*
 * Raise net.ipv4.conf.{all,@ifname}.@knob to @min where lower; a higher
 * (stricter) value is kept. The kernel uses the larger of the two for
 * arp_ignore and arp_announce. Returns 0 or -errno.
 */
int bk_sysctl_raise(const char *ifname, const char *knob, int min);

#endif /* SLUICE_BACKEND_H */
