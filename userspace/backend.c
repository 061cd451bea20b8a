// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* A backend host's side: load, pin, attach and fill the decapsulator; VIPs on lo; sysctls. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/magic.h>
#include <linux/rtnetlink.h>
#include <libmnl/libmnl.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "backend.h"
#include "decap.skel.h"

struct bk {
	struct decap *skel;	/* loaded program and maps; NULL when from pins */
	int local_fd;		/* sluice_dc_local */
	int vips_fd;		/* sluice_dc_vips */
	int stats_fd;		/* sluice_dc_stats */
	int ncpus;		/* possible CPUs, for per-CPU values */
};

static const char *const reason_names[SL_DC_REASON_MAX] = {
	[SL_DC_PASS_NOT_ENCAP] = "pass_not_encap",
	[SL_DC_PASS_NOT_LOCAL] = "pass_not_local",
	[SL_DC_DECAP_OK] = "decap_ok",
	[SL_DC_DROP_NOT_VIP] = "drop_not_vip",
	[SL_DC_DROP_BAD_OUTER] = "drop_bad_outer",
	[SL_DC_DROP_BAD_INNER] = "drop_bad_inner",
	[SL_DC_DROP_FRAGMENT] = "drop_fragment",
	[SL_DC_DROP_ADJUST] = "drop_adjust",
};

/* The pinned maps, by name; the same names as in bpf/decap.bpf.c. */
#define N_MAPS 3
#define MAP_LOCAL "sluice_dc_local"
#define MAP_VIPS "sluice_dc_vips"
#define MAP_STATS "sluice_dc_stats"

const char *bk_reason_name(__u32 reason)
{
	if (reason >= SL_DC_REASON_MAX || !reason_names[reason])
		return "unknown";
	return reason_names[reason];
}

/* Returns 0 or -errno from a libbpf low-level call's result. */
static int sys_err(int ret)
{
	return ret < 0 ? -errno : 0;
}

/* Returns the inode of a namespace file such as /proc/self/ns/net, or 0. */
static ino_t ns_inode(const char *path)
{
	struct stat st;

	return stat(path, &st) ? 0 : st.st_ino;
}

bool bk_mntns_is_private(void)
{
	char path[64];
	ino_t self, parent;

	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)getppid());
	self = ns_inode("/proc/self/ns/mnt");
	parent = ns_inode(path);
	return self && parent && self != parent;
}

/* Copies to @name the /var/run/netns name of the namespace @ino; 0 or -ENOENT. */
static int netns_name(ino_t ino, char *name, size_t len)
{
	char path[PATH_MAX];
	struct dirent *de;
	int err = -ENOENT;
	DIR *d;

	d = opendir("/var/run/netns");
	if (!d)
		return -ENOENT;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/var/run/netns/%s", de->d_name);
		if (ns_inode(path) == ino && strlen(de->d_name) < len) {
			strcpy(name, de->d_name);
			err = 0;
			break;
		}
	}
	closedir(d);
	return err;
}

/* Returns true for a name that may be one path component. */
static bool is_plain_name(const char *s)
{
	return *s && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
}

int bk_pin_dir(char *buf, size_t len, const char *ifname)
{
	ino_t self = ns_inode("/proc/self/ns/net");
	char ns[NAME_MAX + 1];
	int n;

	if (!is_plain_name(ifname) || strlen(ifname) >= IFNAMSIZ)
		return -EINVAL;
	if (self && !netns_name(self, ns, sizeof(ns)))
		n = snprintf(buf, len, "%s/netns-%s/%s", BK_PIN_ROOT, ns, ifname);
	else
		n = snprintf(buf, len, "%s/%s", BK_PIN_ROOT, ifname);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int bk_bpffs_ensure(bool *mounted)
{
	struct statfs sf;

	*mounted = false;
	if (statfs(BK_BPFFS, &sf))
		return -errno;
	if (sf.f_type == BPF_FS_MAGIC)
		return 0;
	if (mount("bpf", BK_BPFFS, "bpf", 0, "mode=0700"))
		return -errno;
	*mounted = true;
	return 0;
}

/*
 * mkdir -p @path with mode 0700. A concurrent bk_detach() may remove an
 * empty parent between two steps: start over a few times. Returns 0 or -errno.
 */
static int mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);
	int err = 0;

	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	for (int tries = 0; tries < 5; tries++) {
		memcpy(buf, path, len + 1);
		err = 0;
		for (char *p = buf + 1; !err; p++) {
			char c = *p;

			if (c != '/' && c)
				continue;
			*p = 0;
			if (mkdir(buf, 0700) && errno != EEXIST)
				err = -errno;
			*p = c;
			if (!c)
				break;
		}
		if (err != -ENOENT)
			break;
	}
	return err;
}

/* Returns the number of possible CPUs, or -errno. */
static int num_cpus(void)
{
	int n = libbpf_num_possible_cpus();

	return n > 0 ? n : (n ? n : -EINVAL);
}

struct bk *bk_load(const char *pin_dir)
{
	char path[PATH_MAX];
	struct bpf_map *map;
	struct bk *bk;
	int err;

	bk = calloc(1, sizeof(*bk));
	if (!bk)
		return NULL;
	bk->ncpus = num_cpus();
	if (bk->ncpus < 0) {
		err = bk->ncpus;
		goto out_free;
	}
	if (pin_dir) {
		err = mkdir_p(pin_dir);
		if (err)
			goto out_free;
	}
	bk->skel = decap__open();
	if (!bk->skel) {
		err = -errno;
		goto out_free;
	}
	if (pin_dir) {
		/* libbpf reuses a compatible pinned map, or creates and pins one. */
		bpf_object__for_each_map(map, bk->skel->obj) {
			if (bpf_map__is_internal(map))
				continue;
			if (snprintf(path, sizeof(path), "%s/%s", pin_dir,
				     bpf_map__name(map)) >= (int)sizeof(path)) {
				err = -ENAMETOOLONG;
				goto out_destroy;
			}
			err = bpf_map__set_pin_path(map, path);
			if (err)
				goto out_destroy;
		}
	}
	err = decap__load(bk->skel);
	if (err)
		goto out_destroy;
	bk->local_fd = bpf_map__fd(bk->skel->maps.sluice_dc_local);
	bk->vips_fd = bpf_map__fd(bk->skel->maps.sluice_dc_vips);
	bk->stats_fd = bpf_map__fd(bk->skel->maps.sluice_dc_stats);
	return bk;

out_destroy:
	decap__destroy(bk->skel);
out_free:
	free(bk);
	errno = err < 0 ? -err : EINVAL;
	return NULL;
}

/* Open the map pinned as @dir/@name and check its key and value sizes. */
static int map_open_pinned(const char *dir, const char *name, __u32 key_size,
			   __u32 value_size)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		int err = -errno;

		close(fd);
		return err;
	}
	if (info.key_size != key_size || info.value_size != value_size) {
		close(fd);
		return -EPROTO;
	}
	return fd;
}

struct bk *bk_open_pinned(const char *pin_dir)
{
	struct bk *bk;
	int err;

	bk = calloc(1, sizeof(*bk));
	if (!bk)
		return NULL;
	bk->local_fd = bk->vips_fd = bk->stats_fd = -1;
	bk->ncpus = num_cpus();
	if (bk->ncpus < 0) {
		err = bk->ncpus;
		goto out;
	}
	bk->local_fd = map_open_pinned(pin_dir, MAP_LOCAL, sizeof(struct sl_dc_addr), 1);
	if (bk->local_fd < 0) {
		err = bk->local_fd;
		goto out;
	}
	bk->vips_fd = map_open_pinned(pin_dir, MAP_VIPS, sizeof(struct sl_dc_addr), 1);
	if (bk->vips_fd < 0) {
		err = bk->vips_fd;
		goto out;
	}
	bk->stats_fd = map_open_pinned(pin_dir, MAP_STATS, sizeof(__u32),
				       sizeof(struct sl_dc_count));
	if (bk->stats_fd < 0) {
		err = bk->stats_fd;
		goto out;
	}
	return bk;
out:
	bk_close(bk);
	errno = -err;
	return NULL;
}

void bk_close(struct bk *bk)
{
	if (!bk)
		return;
	if (bk->skel) {
		decap__destroy(bk->skel);
	} else {
		if (bk->local_fd >= 0)
			close(bk->local_fd);
		if (bk->vips_fd >= 0)
			close(bk->vips_fd);
		if (bk->stats_fd >= 0)
			close(bk->stats_fd);
	}
	free(bk);
}

int bk_prog_fd(const struct bk *bk)
{
	return bk->skel ? bpf_program__fd(bk->skel->progs.sluice_decap) : -ENOENT;
}

/* Returns the program id behind link @fd (and its ifindex), or -errno. */
static int link_prog(int fd, __u32 *ifindex)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	*ifindex = info.xdp.ifindex;
	return (int)info.prog_id;
}

/* Which program @ifindex runs, in which mode; 0 when none. Returns 0 or -errno. */
static int xdp_prog_of(int ifindex, __u32 *prog_id, bool *generic)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);

	if (bpf_xdp_query(ifindex, 0, &q))
		return -errno;
	*prog_id = q.drv_prog_id ? q.drv_prog_id : q.skb_prog_id;
	*generic = !q.drv_prog_id && q.skb_prog_id;
	return 0;
}

/*
 * Open the pinned link at @path and check it may be taken over for
 * @ifindex. Returns its fd (*@usable: same interface and mode @generic, so
 * the program can be swapped in), -ENOENT when nothing is pinned, -EEXIST
 * when it belongs to another interface, or -errno.
 */
static int link_open(const char *path, int ifindex, bool generic, bool *usable)
{
	__u32 link_ifindex = 0, cur = 0;
	bool cur_generic = false;
	int fd, lp, err;

	*usable = false;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	lp = link_prog(fd, &link_ifindex);
	if (lp < 0) {
		close(fd);
		return lp;
	}
	if (!link_ifindex)
		return fd;	/* defunct: its interface is gone */
	err = ifindex > 0 ? xdp_prog_of(ifindex, &cur, &cur_generic) : 0;
	if (err) {
		close(fd);
		return err;
	}
	/* Ifindexes are per namespace: it is ours only if @ifindex runs its program. */
	if (link_ifindex != (__u32)ifindex || cur != (__u32)lp) {
		close(fd);
		return -EEXIST;
	}
	*usable = cur_generic == generic;
	return fd;
}

/* Returns the path of the pinned link in @pin_dir, in @buf. */
static int link_path(char *buf, size_t len, const char *pin_dir)
{
	if (snprintf(buf, len, "%s/%s", pin_dir, BK_LINK_PIN) >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}

int bk_pin_check(const char *pin_dir, int ifindex)
{
	char path[PATH_MAX];
	bool usable;
	int fd, err;

	err = link_path(path, sizeof(path), pin_dir);
	if (err)
		return err;
	fd = link_open(path, ifindex, false, &usable);
	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

int bk_attach(struct bk *bk, const char *pin_dir, int ifindex, bool generic,
	      __u32 *prog_id)
{
	LIBBPF_OPTS(bpf_link_create_opts, lo);
	struct bpf_prog_info pinfo = {};
	__u32 plen = sizeof(pinfo);
	int prog = bk_prog_fd(bk), fd, err;
	char path[PATH_MAX];
	bool usable;

	if (prog < 0)
		return prog;
	err = link_path(path, sizeof(path), pin_dir);
	if (err)
		return err;
	if (bpf_obj_get_info_by_fd(prog, &pinfo, &plen))
		return -errno;
	*prog_id = pinfo.id;

	fd = link_open(path, ifindex, generic, &usable);
	if (fd >= 0 && usable) {
		/* Same interface and mode: replace the program in one step. */
		err = sys_err(bpf_link_update(fd, prog, NULL));
		close(fd);
		return err;
	}
	if (fd >= 0) {
		/*
		 * Other mode, or defunct: start over. Detach explicitly: the
		 * last reference going with the pin frees the link later, from
		 * a work queue, and the new link would find it still there.
		 */
		bpf_link_detach(fd);
		err = unlink(path) ? -errno : 0;
		close(fd);
		if (err)
			return err;
	} else if (fd != -ENOENT) {
		return fd;
	}

	lo.flags = generic ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
	fd = bpf_link_create(prog, ifindex, BPF_XDP, &lo);
	if (fd < 0)
		return errno == EEXIST ? -EBUSY : -errno;
	err = sys_err(bpf_obj_pin(fd, path));
	close(fd);	/* the pin holds the link from here on */
	return err;
}

int bk_attached(const char *pin_dir, int ifindex, struct bk_attach *out)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd, lp, err;

	memset(out, 0, sizeof(*out));
	err = link_path(path, sizeof(path), pin_dir);
	if (err)
		return err;
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		lp = link_prog(fd, &out->link_ifindex);
		close(fd);
		if (lp < 0)
			return lp;
		out->link_prog = (__u32)lp;
	} else if (errno != ENOENT) {
		return -errno;
	}
	err = xdp_prog_of(ifindex, &out->xdp_prog, &out->generic);
	if (err || !out->xdp_prog)
		return err;
	fd = bpf_prog_get_fd_by_id(out->xdp_prog);
	if (fd < 0)
		return 0;	/* detached meanwhile: no name */
	if (!bpf_obj_get_info_by_fd(fd, &info, &len))
		snprintf(out->xdp_name, sizeof(out->xdp_name), "%s", info.name);
	close(fd);
	return 0;
}

int bk_detach(const char *pin_dir)
{
	static const char *const pins[] = { BK_LINK_PIN, MAP_LOCAL, MAP_VIPS, MAP_STATS };
	size_t root = strlen(BK_PIN_ROOT);
	char path[PATH_MAX];
	int err = 0, fd;
	char *slash;

	/* The link first, detached now rather than when the kernel frees it. */
	if (snprintf(path, sizeof(path), "%s/%s", pin_dir, BK_LINK_PIN) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		/* EINVAL, EOPNOTSUPP: a kernel without link detach; unlink will do. */
		if (bpf_link_detach(fd) && errno != EINVAL && errno != EOPNOTSUPP)
			err = -errno;
		close(fd);
		if (err)
			return err;
	}
	for (size_t i = 0; i < sizeof(pins) / sizeof(pins[0]); i++) {
		if (snprintf(path, sizeof(path), "%s/%s", pin_dir, pins[i]) >=
		    (int)sizeof(path))
			return -ENAMETOOLONG;
		if (unlink(path) && errno != ENOENT && !err)
			err = -errno;
	}
	if (err)
		return err;
	if (rmdir(pin_dir) && errno != ENOENT)
		return -errno;
	/* Empty parents up to the root go too (netns-NAME/, sluice-backend/). */
	if (strncmp(pin_dir, BK_PIN_ROOT, root) || strlen(pin_dir) >= sizeof(path))
		return 0;
	strcpy(path, pin_dir);
	while ((slash = strrchr(path, '/')) && (size_t)(slash - path) >= root) {
		*slash = 0;
		if (rmdir(path))
			break;
	}
	return 0;
}

/* Update-or-delete helpers for the two address sets. */
static int set_add(int fd, const struct sl_dc_addr *a)
{
	__u8 v = SL_DC_PRESENT;

	return sys_err(bpf_map_update_elem(fd, a, &v, BPF_ANY));
}

static int set_del(int fd, const struct sl_dc_addr *a)
{
	return sys_err(bpf_map_delete_elem(fd, a));
}

/* Copies up to @max keys of @fd to @out; returns the count (all of them) or -errno. */
static int set_list(int fd, struct sl_dc_addr *out, size_t max)
{
	struct sl_dc_addr k, next;
	void *prev = NULL;
	size_t n = 0;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		if (n < max)
			out[n] = next;
		n++;
		k = next;
		prev = &k;
	}
	if (errno != ENOENT)
		return -errno;
	return (int)n;
}

int bk_local_add(struct bk *bk, const struct sl_dc_addr *a)
{
	return set_add(bk->local_fd, a);
}

int bk_local_del(struct bk *bk, const struct sl_dc_addr *a)
{
	return set_del(bk->local_fd, a);
}

int bk_local_list(struct bk *bk, struct sl_dc_addr *out, size_t max)
{
	int n = set_list(bk->local_fd, out, max);

	return n < 0 ? n : (int)((size_t)n < max ? (size_t)n : max);
}

bool bk_addr_in(const struct sl_dc_addr *a, const struct sl_dc_addr *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!memcmp(a, &set[i], sizeof(*a)))
			return true;
	return false;
}

int bk_local_sync(struct bk *bk, const char *ifname)
{
	struct sl_dc_addr want[SL_DC_MAX_LOCAL], have[SL_DC_MAX_LOCAL];
	int n, m, err;

	n = bk_if_addrs(ifname, want, SL_DC_MAX_LOCAL);
	if (n < 0)
		return n;
	/* Add first, then remove what went away: no moment with fewer. */
	for (int i = 0; i < n; i++) {
		err = set_add(bk->local_fd, &want[i]);
		if (err)
			return err;
	}
	m = set_list(bk->local_fd, have, SL_DC_MAX_LOCAL);
	if (m < 0)
		return m;
	for (int i = 0; i < m && i < SL_DC_MAX_LOCAL; i++) {
		if (bk_addr_in(&have[i], want, (size_t)n))
			continue;
		err = set_del(bk->local_fd, &have[i]);
		if (err && err != -ENOENT)
			return err;
	}
	return n ? n : -ENOENT;
}

int bk_vip_add(struct bk *bk, const struct sl_dc_addr *vip)
{
	return set_add(bk->vips_fd, vip);
}

int bk_vip_del(struct bk *bk, const struct sl_dc_addr *vip)
{
	return set_del(bk->vips_fd, vip);
}

int bk_vip_has(struct bk *bk, const struct sl_dc_addr *vip)
{
	__u8 v;

	if (!bpf_map_lookup_elem(bk->vips_fd, vip, &v))
		return 1;
	return errno == ENOENT ? 0 : -errno;
}

int bk_stats(struct bk *bk, struct sl_dc_count *out)
{
	struct sl_dc_count *v;
	int err = 0;

	v = calloc((size_t)bk->ncpus, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (__u32 r = 0; r < SL_DC_REASON_MAX; r++) {
		out[r] = (struct sl_dc_count){};
		if (bpf_map_lookup_elem(bk->stats_fd, &r, v)) {
			err = -errno;
			break;
		}
		for (int c = 0; c < bk->ncpus; c++) {
			out[r].packets += v[c].packets;
			out[r].bytes += v[c].bytes;
		}
	}
	free(v);
	return err;
}

int bk_stats_reset(struct bk *bk)
{
	struct sl_dc_count *v;
	int err = 0;

	v = calloc((size_t)bk->ncpus, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (__u32 r = 0; r < SL_DC_REASON_MAX && !err; r++)
		err = sys_err(bpf_map_update_elem(bk->stats_fd, &r, v, BPF_ANY));
	free(v);
	return err;
}

/* Fill @out from a socket address; returns false for other families. */
static bool addr_from_sa(const struct sockaddr *sa, struct sl_dc_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (sa->sa_family == AF_INET) {
		out->family = SL_FAMILY_V4;
		memcpy(out->addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		out->family = SL_FAMILY_V6;
		memcpy(out->addr, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		return true;
	}
	return false;
}

/* Returns true when getifaddrs name @name is @ifname or one of its IPv4 labels. */
static bool is_if_name(const char *name, const char *ifname)
{
	size_t n = strlen(ifname);

	return !strncmp(name, ifname, n) && (name[n] == 0 || name[n] == ':');
}

/*
 * Returns true for an IPv6 link-local address: never a tunnel endpoint (the
 * balancer's configuration refuses link-local backends), and it appears
 * only after link-up, so counting it would make `check` race with `up`.
 */
static bool is_link_local(const struct sl_dc_addr *a)
{
	const __u8 *b = (const __u8 *)a->addr;

	return a->family == SL_FAMILY_V6 && b[0] == 0xfe && (b[1] & 0xc0) == 0x80;
}

int bk_if_addrs(const char *ifname, struct sl_dc_addr *out, size_t max)
{
	struct ifaddrs *ifa, *i;
	struct sl_dc_addr a;
	size_t n = 0;
	int err = 0;

	if (!if_nametoindex(ifname))
		return -ENODEV;
	if (getifaddrs(&ifa))
		return -errno;
	for (i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_addr || !is_if_name(i->ifa_name, ifname) ||
		    !addr_from_sa(i->ifa_addr, &a) || is_link_local(&a) || bk_addr_in(&a, out, n))
			continue;
		if (n == max) {
			err = -ENOSPC;
			break;
		}
		out[n++] = a;
	}
	freeifaddrs(ifa);
	return err ? err : (int)n;
}

int bk_addr_parse(const char *text, struct sl_dc_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, text, out->addr) == 1) {
		out->family = SL_FAMILY_V4;
		return 0;
	}
	if (inet_pton(AF_INET6, text, out->addr) == 1) {
		out->family = SL_FAMILY_V6;
		return 0;
	}
	return -EINVAL;
}

const char *bk_addr_str(const struct sl_dc_addr *a, char *buf, size_t len)
{
	if (!inet_ntop(a->family == SL_FAMILY_V6 ? AF_INET6 : AF_INET, a->addr, buf,
		       (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

/* Send one RTM_NEWADDR/RTM_DELADDR for @vip on lo and wait for the ack. */
static int lo_addr_req(__u16 type, __u16 flags, const struct sl_dc_addr *vip)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl;
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;
	unsigned int seq = (unsigned int)time(NULL), portid;
	size_t alen = vip->family == SL_FAMILY_V6 ? 16 : 4;
	int lo = (int)if_nametoindex("lo");
	int err = 0, ret;

	if (!lo)
		return -ENODEV;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	nlh->nlmsg_seq = seq;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = vip->family == SL_FAMILY_V6 ? AF_INET6 : AF_INET;
	ifa->ifa_prefixlen = (unsigned char)(alen * 8);
	ifa->ifa_flags = vip->family == SL_FAMILY_V6 ? IFA_F_NODAD : 0;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (unsigned int)lo;
	mnl_attr_put(nlh, IFA_LOCAL, alen, vip->addr);
	mnl_attr_put(nlh, IFA_ADDRESS, alen, vip->addr);

	nl = mnl_socket_open(NETLINK_ROUTE);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) ||
	    mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		err = -errno;
		goto out;
	}
	portid = mnl_socket_get_portid(nl);
	do {
		ret = (int)mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (ret < 0) {
			err = -errno;
			break;
		}
		ret = mnl_cb_run(buf, (size_t)ret, seq, portid, NULL, NULL);
		if (ret < 0)
			err = -errno;
	} while (ret > 0);
out:
	mnl_socket_close(nl);
	return err;
}

int bk_lo_add(const struct sl_dc_addr *vip)
{
	return lo_addr_req(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, vip);
}

int bk_lo_del(const struct sl_dc_addr *vip)
{
	int err = lo_addr_req(RTM_DELADDR, 0, vip);

	/* IPv6 answers a missing address with ENODEV/ENOENT, IPv4 with EADDRNOTAVAIL. */
	return err == -ENODEV || err == -ENOENT ? -EADDRNOTAVAIL : err;
}

int bk_lo_has(const struct sl_dc_addr *vip)
{
	struct ifaddrs *ifa, *i;
	struct sl_dc_addr a;
	int found = 0;

	if (getifaddrs(&ifa))
		return -errno;
	for (i = ifa; i && !found; i = i->ifa_next)
		found = i->ifa_addr && is_if_name(i->ifa_name, "lo") &&
			addr_from_sa(i->ifa_addr, &a) && !memcmp(&a, vip, sizeof(a));
	freeifaddrs(ifa);
	return found;
}

/* Path of net.ipv4.conf.@dev.@knob under /proc/sys. Returns 0 or -errno. */
static int sysctl_path(char *buf, size_t len, const char *dev, const char *knob)
{
	if (!is_plain_name(dev) || !is_plain_name(knob))
		return -EINVAL;
	if (snprintf(buf, len, "/proc/sys/net/ipv4/conf/%s/%s", dev, knob) >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}

int bk_sysctl_get(const char *dev, const char *knob)
{
	char path[PATH_MAX];
	int val, err;
	FILE *f;

	err = sysctl_path(path, sizeof(path), dev, knob);
	if (err)
		return err;
	f = fopen(path, "r");
	if (!f)
		return -errno;
	err = fscanf(f, "%d", &val) == 1 && val >= 0 ? 0 : -EINVAL;
	fclose(f);
	return err ? err : val;
}

int bk_sysctl_set(const char *dev, const char *knob, int val)
{
	char path[PATH_MAX], text[16];
	int fd, err, n;

	err = sysctl_path(path, sizeof(path), dev, knob);
	if (err)
		return err;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = snprintf(text, sizeof(text), "%d\n", val);
	err = write(fd, text, (size_t)n) == n ? 0 : -errno;
	if (close(fd) && !err)
		err = -errno;
	return err;
}

int bk_sysctl_raise(const char *ifname, const char *knob, int min)
{
	const char *devs[] = { "all", ifname };
	int v, err;

	for (int i = 0; i < 2; i++) {
		v = bk_sysctl_get(devs[i], knob);
		if (v < 0)
			return v;
		if (v >= min)
			continue;
		err = bk_sysctl_set(devs[i], knob, min);
		if (err)
			return err;
	}
	return 0;
}
