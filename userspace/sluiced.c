// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* sluiced: loads the data plane, keeps its maps equal to the config, serves sluicectl. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/timerfd.h>
#include <linux/magic.h>
#include <json-c/json.h>
#include "config.h"
#include "control.h"
#include "dataplane.h"
#include "evloop.h"
#include "health.h"
#include "log.h"
#include "netlink.h"
#include "state.h"

#define DEFAULT_CONFIG "/etc/sluice/sluice.conf"
#define TICK_MS 1000
/* A flow counts as live (status, backend list, drain --wait) for this long after its last packet. */
#define FLOW_LIVE_SECS 10
/* A removed backend's slot is freed when its flows end, or after this long. */
#define RETIRE_MAX_SECS 600

/* What `status` says of a configured interface besides what its pin shows. */
struct iface_status {
	char name[SL_CFG_IFNAME_MAX];
	int ifindex;
	bool generic;
	char error[128];	/* why attaching failed, or "" */
};

struct daemon {
	const char *cfg_path;
	struct sl_config file;		/* the file as last loaded */
	struct sl_config running;	/* what runs: the file plus runtime changes */
	struct dp *dp;
	struct nl *nl;
	struct hc *hc;
	struct rt_state st;
	struct ctl_server *ctl;
	int epfd;
	struct ev_source sig, tick, nlev;
	struct iface_status *ifs;
	__u32 n_ifs;
	time_t started;
	bool applied;		/* running holds an applied state */
	__u32 last_reap;	/* clock of the last look for retired backends' flows */
	bool stop;
	bool teardown;
};

static struct daemon D;

/* Seconds since boot: monotonic, and the same for the next sluiced. */
static __u32 clock_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (__u32)ts.tv_sec;
}

/* Count live flows per backend (see FLOW_LIVE_SECS). */
static int live_flows(struct daemon *d, __u32 *counts, __u64 *total)
{
	__u32 now = clock_now();

	return dp_flow_counts(d->dp, counts, total, now > FLOW_LIVE_SECS ? now - FLOW_LIVE_SECS : 0);
}

/* ---- configuration copies ---------------------------------------------- */

/* Deep copy @src into @dst. Returns 0 or -ENOMEM (dst then zeroed). */
static int cfg_clone(struct sl_config *dst, const struct sl_config *src)
{
	*dst = *src;
	dst->ifaces = NULL;
	dst->vips = NULL;
	dst->n_vips = 0;
	dst->ifaces = calloc(src->n_ifaces ? src->n_ifaces : 1, sizeof(*dst->ifaces));
	dst->vips = calloc(src->n_vips ? src->n_vips : 1, sizeof(*dst->vips));
	if (!dst->ifaces || !dst->vips)
		goto fail;
	memcpy(dst->ifaces, src->ifaces, src->n_ifaces * sizeof(*dst->ifaces));
	for (__u32 i = 0; i < src->n_vips; i++) {
		struct sl_cfg_vip *v = &dst->vips[i];

		*v = src->vips[i];
		v->backends = calloc(v->n_backends ? v->n_backends : 1, sizeof(*v->backends));
		if (!v->backends)
			goto fail;
		memcpy(v->backends, src->vips[i].backends,
		       v->n_backends * sizeof(*v->backends));
		dst->n_vips++;
	}
	return 0;
fail:
	cfg_free(dst);
	return -ENOMEM;
}

/* Returns a writable VIP of @cfg by name, or NULL. */
static struct sl_cfg_vip *cfg_vip_mut(struct sl_config *cfg, const char *name)
{
	return (struct sl_cfg_vip *)cfg_vip_find(cfg, name);
}

/* ---- data plane set-up -------------------------------------------------- */

/* Make sure @dir lives on a bpffs, mounting /sys/fs/bpf when nothing is. */
static int bpffs_prepare(const char *dir)
{
	struct statfs sfs;
	char path[SL_CFG_PATH_MAX];

	if (statfs("/sys/fs/bpf", &sfs) || sfs.f_type != BPF_FS_MAGIC) {
		if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700")) {
			pr_warn("failed to mount bpffs on /sys/fs/bpf: %s", strerror(errno));
			return -errno;
		}
		pr_info("mounted bpffs on /sys/fs/bpf");
	}
	/* mkdir -p */
	snprintf(path, sizeof(path), "%s", dir);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(path, 0700) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(path, 0700) && errno != EEXIST)
		return -errno;
	if (statfs(path, &sfs) || sfs.f_type != BPF_FS_MAGIC) {
		pr_warn("%s is not on a bpffs", path);
		return -EINVAL;
	}
	return 0;
}

static struct dp *open_dataplane(const struct sl_config *cfg)
{
	struct dp_opts o = {
		.pin_dir = cfg->bpffs,
		.hash_seed = cfg->hash_seed,
		.mtu = cfg->mtu,
		.flow_entries = cfg->flow_table_size,
		.flow_limit = cfg->new_flow_limit,
	};
	struct dp *dp = dp_open(&o);

	if (dp)
		dp_clock_set(dp, clock_now());
	state_set_clock(&D.st, clock_now());
	if (!dp)
		pr_warn("failed to load the XDP program with maps pinned in %s: %s%s",
			cfg->bpffs, strerror(errno),
			errno == EINVAL ? " (pinned maps of an incompatible build or size? "
					  "remove them with 'sluiced --teardown')" : "");
	return dp;
}

/* Attach to every configured interface; detach pinned links no longer wanted. */
static int attach_all(struct daemon *d, const struct sl_config *cfg)
{
	struct iface_status *ifs;
	struct dirent *de;
	DIR *dir;
	int failed = 0;

	ifs = calloc(cfg->n_ifaces ? cfg->n_ifaces : 1, sizeof(*ifs));
	if (!ifs)
		return -ENOMEM;
	for (__u32 i = 0; i < cfg->n_ifaces; i++) {
		const struct sl_cfg_iface *ci = &cfg->ifaces[i];
		struct iface_status *s = &ifs[i];
		__u32 prog_id;
		int err;

		snprintf(s->name, sizeof(s->name), "%s", ci->name);
		s->generic = ci->xdp_mode == SL_XDP_GENERIC;
		s->ifindex = (int)if_nametoindex(ci->name);
		if (!s->ifindex) {
			snprintf(s->error, sizeof(s->error), "no such interface");
			pr_warn("failed to attach XDP to %s: no such interface", ci->name);
			failed++;
			continue;
		}
		err = dp_attach(d->dp, cfg->bpffs, ci->name, s->ifindex, s->generic, &prog_id);
		if (err) {
			snprintf(s->error, sizeof(s->error), "%s", strerror(-err));
			pr_warn("failed to attach XDP (%s mode) to %s: %s%s",
				cfg_xdp_mode_name(ci->xdp_mode), ci->name, strerror(-err),
				err == -EOPNOTSUPP || err == -EINVAL ?
					" (does the driver support native XDP? xdp_mode = \"generic\" "
					"works everywhere, slowly)" : "");
			failed++;
			continue;
		}
		pr_info("XDP program %u attached to %s (%s mode)", prog_id, ci->name,
			cfg_xdp_mode_name(ci->xdp_mode));
	}
	/* Links pinned for interfaces the config no longer names. */
	dir = opendir(cfg->bpffs);
	while (dir && (de = readdir(dir))) {
		const char *ifname = NULL;
		bool wanted = false;

		if (!strncmp(de->d_name, "link_", 5))
			ifname = de->d_name + 5;
		else if (!strncmp(de->d_name, "linkg_", 6))
			ifname = de->d_name + 6;
		if (!ifname)
			continue;
		for (__u32 i = 0; i < cfg->n_ifaces; i++)
			wanted |= !strcmp(cfg->ifaces[i].name, ifname);
		if (!wanted) {
			dp_detach(cfg->bpffs, ifname);
			pr_info("detached XDP from %s (no longer configured)", ifname);
		}
	}
	if (dir)
		closedir(dir);
	free(d->ifs);
	d->ifs = ifs;
	d->n_ifs = cfg->n_ifaces;
	return failed ? -ENODEV : 0;
}

/* hc_sync's question: was this backend adopted (or kept) as DOWN? */
static bool is_initially_down(void *ctx, const char *vip, const struct sl_addr *b)
{
	struct daemon *d = ctx;
	struct rt_vip *v = state_vip(&d->st, vip);
	struct rt_backend *rb = v ? state_backend(v, b) : NULL;

	return rb && rb->down;
}

/*
 * Set backend @b of running VIP @cv (@v in the state) down or up and rewrite
 * that VIP alone.
 */
static void set_backend_down(struct daemon *d, const struct sl_cfg_vip *cv, struct rt_vip *v,
			     const struct sl_addr *b, bool down)
{
	struct rt_backend *rb = v ? state_backend(v, b) : NULL;
	char err[256];

	if (!rb || rb->down == down)
		return;
	rb->down = down;
	if (state_apply_vip(&d->st, d->dp, d->nl, &d->running, cv, err, sizeof(err))) {
		/* Not in the maps: keep the old value so the next change retries. */
		rb = state_backend(v, b);
		if (rb)
			rb->down = !down;
		pr_warn("%s", err);
	}
}

/* Bring the health checker in line with the running state, and the DOWN flags with it. */
static void sync_health(struct daemon *d)
{
	int ret;

	if (!d->hc)
		return;
	ret = hc_sync(d->hc, &d->running, is_initially_down);
	if (ret) {
		pr_warn("health checks not updated: %s", strerror(-ret));
		return;
	}
	for (__u32 i = 0; i < d->running.n_vips; i++) {
		const struct sl_cfg_vip *cv = &d->running.vips[i];
		struct rt_vip *v = state_vip(&d->st, cv->name);	/* once per VIP, not per backend */

		if (!v)
			continue;
		for (__u32 j = 0; j < cv->n_backends; j++) {
			const struct sl_addr *a = &cv->backends[j].addr;

			set_backend_down(d, cv, v, a, !hc_is_up(d->hc, cv->name, a));
		}
	}
}

/* A health verdict changed: log it and move traffic. */
static void on_health_change(void *ctx, const char *vip, const struct sl_addr *b, bool up,
			     const char *reason)
{
	struct daemon *d = ctx;
	const struct sl_cfg_vip *cv = cfg_vip_find(&d->running, vip);
	char a[SL_ADDR_STRLEN];

	if (!cv)
		return;
	pr_info("vip %s: backend %s is %s: %s", vip, sl_addr_str(b, a, sizeof(a)),
		up ? "up" : "DOWN", reason);
	set_backend_down(d, cv, state_vip(&d->st, vip), b, !up);
}

/*
 * Apply @cfg as the new running state (taking it over on success). On
 * failure the previous running state is applied again; at start-up there is
 * none, and the maps are left as adopted rather than emptied.
 */
static int apply_running(struct daemon *d, struct sl_config *cfg, char *err, size_t errlen)
{
	int ret = state_apply(&d->st, d->dp, d->nl, cfg, err, errlen);

	if (ret) {
		char err2[256];

		if (!d->applied)
			return ret;
		if (state_apply(&d->st, d->dp, d->nl, &d->running, err2, sizeof(err2)))
			pr_warn("restoring the previous state failed too: %s", err2);
		sync_health(d);
		return ret;
	}
	cfg_free(&d->running);
	d->running = *cfg;
	memset(cfg, 0, sizeof(*cfg));
	d->applied = true;
	sync_health(d);
	if (d->st.unresolved)
		pr_info("%u backend(s) have no resolved next hop yet; using the kernel FIB "
			"meanwhile and retrying", d->st.unresolved);
	return 0;
}

/* Returns true when the program must be reloaded for @n (its constants changed). */
static bool needs_new_program(const struct sl_config *o, const struct sl_config *n)
{
	return o->hash_seed != n->hash_seed || o->mtu != n->mtu ||
	       o->new_flow_limit != n->new_flow_limit;
}

/* Re-read the file and apply it. Returns 0 or -errno with @err set. */
static int reload(struct daemon *d, char *err, size_t errlen)
{
	struct sl_config n = {}, copy = {};
	struct dp *old, *ndp = NULL;
	int ret;

	ret = cfg_load(d->cfg_path, &n, err, errlen);
	if (ret)
		return ret;
	if (strcmp(n.bpffs, d->running.bpffs) ||
	    n.flow_table_size != d->running.flow_table_size) {
		snprintf(err, errlen, "%s: bpffs and flow_table_size cannot change while "
			 "running (restart after 'sluicectl teardown')", d->cfg_path);
		cfg_free(&n);
		return -EINVAL;
	}
	if (strcmp(n.ctl_socket, d->running.ctl_socket) ||
	    strcmp(n.ctl_group, d->running.ctl_group))
		pr_warn("control socket settings change only at restart, ignoring");
	old = d->dp;
	if (needs_new_program(&d->running, &n)) {
		/* Load it beside the attached one; swap only once everything applied. */
		ndp = open_dataplane(&n);
		if (!ndp) {
			snprintf(err, errlen, "loading the program for the new hash_seed/mtu failed");
			cfg_free(&n);
			return -EIO;
		}
		d->dp = ndp;
	}
	ret = cfg_clone(&copy, &n);
	if (!ret)
		ret = apply_running(d, &n, err, errlen);
	if (ret) {
		if (ndp) {
			d->dp = old;
			dp_close(ndp);
		}
		cfg_free(&n);
		cfg_free(&copy);
		return ret;
	}
	cfg_free(&d->file);
	d->file = copy;
	attach_all(d, &d->running);
	if (ndp) {
		dp_close(old);
		pr_info("hash_seed or mtu changed: new program swapped in");
	}
	pr_info("configuration %s applied", d->cfg_path);
	return 0;
}

/*
 * Validate @cand whole, with the same rules as a file (write it, parse it
 * back), then apply it. @cand is consumed. Returns 0 or -errno with @err.
 */
static int runtime_change(struct daemon *d, struct sl_config *cand, char *err, size_t errlen)
{
	struct sl_config v = {};
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int ret;

	f = open_memstream(&buf, &len);
	if (!f) {
		cfg_free(cand);
		return -ENOMEM;
	}
	ret = cfg_write(cand, f);
	fclose(f);
	cfg_free(cand);
	if (ret) {
		free(buf);
		return ret;
	}
	ret = cfg_parse_string(buf, "change", &v, err, errlen);
	free(buf);
	if (ret)
		return ret;
	ret = apply_running(d, &v, err, errlen);
	if (ret)
		cfg_free(&v);
	return ret;
}

/* ---- control handlers ------------------------------------------------------ */

static const char *addr_str(const struct sl_addr *a, char *buf)
{
	return a->family ? sl_addr_str(a, buf, SL_ADDR_STRLEN) : "";
}

/* String argument @key of @args, or NULL with @err set. */
static const char *arg_str(struct json_object *args, const char *key, bool required,
			   char *err, size_t errlen)
{
	struct json_object *o;

	if (!json_object_object_get_ex(args, key, &o) || json_object_is_type(o, json_type_null)) {
		if (required)
			snprintf(err, errlen, "missing argument '%s'", key);
		return NULL;
	}
	if (!json_object_is_type(o, json_type_string)) {
		snprintf(err, errlen, "argument '%s' must be a string", key);
		return NULL;
	}
	return json_object_get_string(o);
}

/* Integer argument @key in [lo, hi]; returns 0, 1 when absent, or -EINVAL. */
static int arg_int(struct json_object *args, const char *key, long lo, long hi, long *out,
		   char *err, size_t errlen)
{
	struct json_object *o;
	const char *s;
	char *end;

	if (!json_object_object_get_ex(args, key, &o) || json_object_is_type(o, json_type_null))
		return 1;
	if (json_object_is_type(o, json_type_int)) {
		*out = (long)json_object_get_int64(o);
	} else if (json_object_is_type(o, json_type_string)) {
		s = json_object_get_string(o);
		errno = 0;
		*out = strtol(s, &end, 0);
		if (errno || end == s || *end) {
			snprintf(err, errlen, "argument '%s': '%s' is not a number", key, s);
			return -EINVAL;
		}
	} else {
		snprintf(err, errlen, "argument '%s' must be a number", key);
		return -EINVAL;
	}
	if (*out < lo || *out > hi) {
		snprintf(err, errlen, "argument '%s': %ld is out of range %ld..%ld", key, *out,
			 lo, hi);
		return -EINVAL;
	}
	return 0;
}

static void jadd_str(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v ? v : ""));
}

static void jadd_int(struct json_object *o, const char *k, int64_t v)
{
	json_object_object_add(o, k, json_object_new_int64(v));
}

/* State name of a backend: up, down or draining. */
static const char *be_state(const struct sl_cfg_backend *cb, const struct rt_backend *rb)
{
	if (rb && rb->down)
		return "down";
	if (!cb->weight)
		return "draining";
	return "up";
}

/* Backend @cb of VIP @cv, which runs as @v (NULL: not running). */
static struct json_object *backend_json(const struct sl_cfg_vip *cv, struct rt_vip *v,
					const struct sl_cfg_backend *cb, const __u32 *flows)
{
	struct rt_backend *rb = v ? state_backend(v, &cb->addr) : NULL;
	struct json_object *o = json_object_new_object();
	char a[SL_ADDR_STRLEN], m[18];

	jadd_str(o, "vip", cv->name);
	jadd_str(o, "address", addr_str(&cb->addr, a));
	jadd_int(o, "weight", cb->weight);
	jadd_str(o, "state", be_state(cb, rb));
	if (flows && !rb)
		jadd_int(o, "flows", 0);
	if (rb) {
		jadd_int(o, "id", rb->id);
		if (flows)
			jadd_int(o, "flows", flows[rb->id]);
		if (rb->has_mac) {
			snprintf(m, sizeof(m), "%02x:%02x:%02x:%02x:%02x:%02x", rb->mac[0],
				 rb->mac[1], rb->mac[2], rb->mac[3], rb->mac[4], rb->mac[5]);
			jadd_str(o, "nexthop_mac", m);
		}
	}
	jadd_str(o, "health", cfg_hc_type_name(cb->health.type));
	return o;
}

static struct json_object *vip_json(const struct sl_cfg_vip *cv, bool full, const __u32 *flows)
{
	struct json_object *o = json_object_new_object();
	struct rt_vip *v = state_vip(&D.st, cv->name);
	char a[SL_ADDR_STRLEN];
	int up = 0;

	jadd_str(o, "name", cv->name);
	jadd_str(o, "address", addr_str(&cv->addr, a));
	jadd_int(o, "port", cv->port);
	jadd_str(o, "protocol", cfg_proto_name(cv->proto));
	jadd_str(o, "hash", cfg_vip_hash_name(cv->hash));
	for (__u32 i = 0; i < cv->n_backends; i++) {
		struct rt_backend *rb = v ? state_backend(v, &cv->backends[i].addr) : NULL;

		up += !strcmp(be_state(&cv->backends[i], rb), "up");
	}
	jadd_int(o, "backends", cv->n_backends);
	jadd_int(o, "up", up);
	if (!full)
		return o;
	jadd_str(o, "mode", cfg_vip_mode_name(cv->mode));
	jadd_str(o, "all_down", cfg_vip_all_down_name(cv->all_down));
	jadd_str(o, "source_ipv4", addr_str(cv->src4.family ? &cv->src4 : &D.running.src4, a));
	jadd_str(o, "source_ipv6", addr_str(cv->src6.family ? &cv->src6 : &D.running.src6, a));
	if (v)
		jadd_int(o, "id", v->id);
	struct json_object *arr = json_object_new_array();

	for (__u32 i = 0; i < cv->n_backends; i++)
		json_object_array_add(arr, backend_json(cv, v, &cv->backends[i], flows));
	json_object_object_add(o, "backends", arr);
	return o;
}

static int h_version(void *ctx, struct json_object *args, struct json_object **data,
		     char *err, size_t errlen)
{
	*data = json_object_new_object();
	jadd_str(*data, "version", SLUICE_VERSION);
	return 0;
}

static int h_status(void *ctx, struct json_object *args, struct json_object **data,
		    char *err, size_t errlen)
{
	struct daemon *d = ctx;
	struct json_object *o = json_object_new_object(), *arr = json_object_new_array();
	struct sl_config f = {};
	char ferr[256] = "";
	__u32 *counts = calloc(SLUICE_MAX_BACKENDS, sizeof(*counts));
	__u64 flows = 0;
	bool differs;

	if (counts)
		live_flows(d, counts, &flows);
	free(counts);
	/* Compare with the file as it is on disk now, not as it was loaded. */
	if (cfg_load(d->cfg_path, &f, ferr, sizeof(ferr))) {
		differs = true;
		jadd_str(o, "config_error", ferr);
	} else {
		differs = !cfg_equal(&f, &d->running);
		cfg_free(&f);
	}
	jadd_str(o, "version", SLUICE_VERSION);
	jadd_int(o, "pid", getpid());
	jadd_int(o, "uptime", time(NULL) - d->started);
	jadd_str(o, "config", d->cfg_path);
	json_object_object_add(o, "config_differs", json_object_new_boolean(differs));
	for (__u32 i = 0; i < d->n_ifs; i++) {
		struct json_object *io = json_object_new_object();
		bool generic = false;
		int id = dp_attached_prog(d->running.bpffs, d->ifs[i].name, &generic);

		jadd_str(io, "name", d->ifs[i].name);
		jadd_int(io, "ifindex", d->ifs[i].ifindex);
		jadd_str(io, "mode", d->ifs[i].generic ? "generic" : "native");
		json_object_object_add(io, "attached", json_object_new_boolean(id > 0));
		jadd_int(io, "prog_id", id > 0 ? id : 0);
		if (d->ifs[i].error[0])
			jadd_str(io, "error", d->ifs[i].error);
		json_object_array_add(arr, io);
	}
	json_object_object_add(o, "interfaces", arr);
	jadd_int(o, "vips", d->running.n_vips);
	jadd_int(o, "backends", d->running.n_backends);
	jadd_int(o, "flows", (int64_t)flows);
	jadd_int(o, "unresolved_nexthops", d->st.unresolved);
	*data = o;
	return 0;
}

static int h_vip_list(void *ctx, struct json_object *args, struct json_object **data,
		      char *err, size_t errlen)
{
	struct daemon *d = ctx;

	*data = json_object_new_array();
	for (__u32 i = 0; i < d->running.n_vips; i++)
		json_object_array_add(*data, vip_json(&d->running.vips[i], false, NULL));
	return 0;
}

/* The running VIP named by args.vip (or args.name), or NULL with @err set. */
static const struct sl_cfg_vip *arg_vip(struct daemon *d, struct json_object *args,
					const char *key, char *err, size_t errlen)
{
	const char *name = arg_str(args, key, true, err, errlen);
	const struct sl_cfg_vip *v;

	if (!name)
		return NULL;
	v = cfg_vip_find(&d->running, name);
	if (!v)
		snprintf(err, errlen, "no VIP named '%s'", name);
	return v;
}

static int h_vip_show(void *ctx, struct json_object *args, struct json_object **data,
		      char *err, size_t errlen)
{
	struct daemon *d = ctx;
	const struct sl_cfg_vip *v = arg_vip(d, args, "name", err, errlen);
	__u32 *counts;
	__u64 total;

	if (!v)
		return -ENOENT;
	counts = calloc(SLUICE_MAX_BACKENDS, sizeof(*counts));
	if (counts && live_flows(d, counts, &total)) {
		free(counts);
		counts = NULL;
	}
	*data = vip_json(v, true, counts);
	free(counts);
	return 0;
}

/* Parse enum-ish string @s against @names; returns the index or -EINVAL. */
static int pick(const char *s, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(s, names[i]))
			return i;
	return -EINVAL;
}

static int h_vip_add(void *ctx, struct json_object *args, struct json_object **data,
		     char *err, size_t errlen)
{
	static const char *const hashes[] = { "5tuple", "source" };
	static const char *const downs[] = { "drop", "all" };
	struct daemon *d = ctx;
	struct sl_config c;
	struct sl_cfg_vip v = {}, *nv;
	const char *name, *addr, *proto, *s;
	long port = 0;
	int ret;

	name = arg_str(args, "name", true, err, errlen);
	addr = name ? arg_str(args, "address", true, err, errlen) : NULL;
	proto = addr ? arg_str(args, "protocol", true, err, errlen) : NULL;
	if (!proto)
		return -EINVAL;
	if (cfg_vip_find(&d->running, name)) {
		snprintf(err, errlen, "a VIP named '%s' exists already", name);
		return -EEXIST;
	}
	if (strlen(name) >= sizeof(v.name)) {
		snprintf(err, errlen, "VIP name '%s' is longer than %zu characters", name,
			 sizeof(v.name) - 1);
		return -EINVAL;
	}
	snprintf(v.name, sizeof(v.name), "%s", name);
	if (sl_addr_parse(addr, &v.addr)) {
		snprintf(err, errlen, "'%s' is not an IPv4 or IPv6 address", addr);
		return -EINVAL;
	}
	ret = arg_int(args, "port", 0, 65535, &port, err, errlen);
	if (ret < 0)
		return ret;
	if (ret) {
		snprintf(err, errlen, "missing argument 'port'");
		return -EINVAL;
	}
	v.port = (__u16)port;
	if (!strcmp(proto, "tcp")) {
		v.proto = 6;
	} else if (!strcmp(proto, "udp")) {
		v.proto = 17;
	} else {
		snprintf(err, errlen, "protocol '%s': expected tcp or udp", proto);
		return -EINVAL;
	}
	if ((s = arg_str(args, "hash", false, err, errlen))) {
		if ((ret = pick(s, hashes, 2)) < 0) {
			snprintf(err, errlen, "hash '%s': expected 5tuple or source", s);
			return ret;
		}
		v.hash = ret;
	}
	if ((s = arg_str(args, "all_down", false, err, errlen))) {
		if ((ret = pick(s, downs, 2)) < 0) {
			snprintf(err, errlen, "all_down '%s': expected drop or all", s);
			return ret;
		}
		v.all_down = ret;
	}
	if ((s = arg_str(args, "source_ipv4", false, err, errlen)) &&
	    (sl_addr_parse(s, &v.src4) || v.src4.family != SL_FAMILY_V4)) {
		snprintf(err, errlen, "source_ipv4 '%s' is not an IPv4 address", s);
		return -EINVAL;
	}
	if ((s = arg_str(args, "source_ipv6", false, err, errlen)) &&
	    (sl_addr_parse(s, &v.src6) || v.src6.family != SL_FAMILY_V6)) {
		snprintf(err, errlen, "source_ipv6 '%s' is not an IPv6 address", s);
		return -EINVAL;
	}
	if (err[0])
		return -EINVAL;
	/* Resolved the way the parser resolves them: per VIP, else global. */
	if (!v.src4.family)
		v.src4 = d->running.src4;
	if (!v.src6.family)
		v.src6 = d->running.src6;
	cfg_vip_health(&d->running, v.proto, v.port, &v.health);
	/* A whole-address VIP added here has no port to probe: no check. */
	if (!v.health.port)
		v.health.type = SL_HC_NONE;

	if (cfg_clone(&c, &d->running))
		return -ENOMEM;
	nv = realloc(c.vips, (c.n_vips + 1) * sizeof(*nv));
	if (!nv) {
		cfg_free(&c);
		return -ENOMEM;
	}
	c.vips = nv;
	v.backends = NULL;
	c.vips[c.n_vips++] = v;
	ret = runtime_change(d, &c, err, errlen);
	if (!ret)
		pr_info("vip %s added", name);
	return ret;
}

static int h_vip_del(void *ctx, struct json_object *args, struct json_object **data,
		     char *err, size_t errlen)
{
	struct daemon *d = ctx;
	const struct sl_cfg_vip *v = arg_vip(d, args, "name", err, errlen);
	struct sl_config c;
	char name[SL_CFG_NAME_MAX];
	__u32 i;
	int ret;

	if (!v)
		return -ENOENT;
	snprintf(name, sizeof(name), "%s", v->name);
	i = (__u32)(v - d->running.vips);	/* the clone keeps the order */
	if (cfg_clone(&c, &d->running))
		return -ENOMEM;
	free(c.vips[i].backends);
	memmove(&c.vips[i], &c.vips[i + 1], (c.n_vips - i - 1) * sizeof(c.vips[0]));
	c.n_vips--;
	ret = runtime_change(d, &c, err, errlen);
	if (!ret)
		pr_info("vip %s removed", name);
	return ret;
}

static int h_backend_list(void *ctx, struct json_object *args, struct json_object **data,
			  char *err, size_t errlen)
{
	struct daemon *d = ctx;
	const struct sl_cfg_vip *only = NULL;
	__u32 *counts;
	__u64 total;

	if (arg_str(args, "vip", false, err, errlen) || err[0]) {
		only = arg_vip(d, args, "vip", err, errlen);
		if (!only)
			return -ENOENT;
	}
	counts = calloc(SLUICE_MAX_BACKENDS, sizeof(*counts));
	if (!counts)
		return -ENOMEM;
	if (live_flows(d, counts, &total)) {
		free(counts);
		counts = NULL;
	}
	*data = json_object_new_array();
	for (__u32 i = 0; i < d->running.n_vips; i++) {
		const struct sl_cfg_vip *cv = &d->running.vips[i];

		if (only && only != cv)
			continue;
		struct rt_vip *v = state_vip(&d->st, cv->name);

		for (__u32 j = 0; j < cv->n_backends; j++)
			json_object_array_add(*data, backend_json(cv, v, &cv->backends[j], counts));
	}
	free(counts);
	return 0;
}

/* Find VIP and backend from args {vip, address} in @c; sets *vi and returns index or -errno. */
static int find_backend(struct sl_config *c, struct json_object *args, struct sl_cfg_vip **vi,
			struct sl_addr *a, char *err, size_t errlen)
{
	const char *vname = arg_str(args, "vip", true, err, errlen);
	const char *addr = vname ? arg_str(args, "address", true, err, errlen) : NULL;

	if (!addr)
		return -EINVAL;
	*vi = cfg_vip_mut(c, vname);
	if (!*vi) {
		snprintf(err, errlen, "no VIP named '%s'", vname);
		return -ENOENT;
	}
	if (sl_addr_parse(addr, a)) {
		snprintf(err, errlen, "'%s' is not an IPv4 or IPv6 address", addr);
		return -EINVAL;
	}
	for (__u32 i = 0; i < (*vi)->n_backends; i++)
		if (sl_addr_equal(&(*vi)->backends[i].addr, a))
			return (int)i;
	snprintf(err, errlen, "VIP '%s' has no backend %s", vname, addr);
	return -ENOENT;
}

static int h_backend_add(void *ctx, struct json_object *args, struct json_object **data,
			 char *err, size_t errlen)
{
	struct daemon *d = ctx;
	struct sl_cfg_backend *nb;
	struct sl_cfg_vip *v;
	struct sl_config c;
	struct sl_addr a;
	long w = SL_CFG_DEF_WEIGHT;
	char vname[SL_CFG_NAME_MAX], abuf[SL_ADDR_STRLEN];
	int ret;

	if (arg_int(args, "weight", 0, 65535, &w, err, errlen) < 0)
		return -EINVAL;
	if (cfg_clone(&c, &d->running))
		return -ENOMEM;
	ret = find_backend(&c, args, &v, &a, err, errlen);
	if (ret >= 0) {
		snprintf(err, errlen, "VIP '%s' has that backend already", v->name);
		cfg_free(&c);
		return -EEXIST;
	}
	if (ret != -ENOENT || !v) {
		cfg_free(&c);
		return ret;
	}
	err[0] = 0;
	nb = realloc(v->backends, (v->n_backends + 1) * sizeof(*nb));
	if (!nb) {
		cfg_free(&c);
		return -ENOMEM;
	}
	v->backends = nb;
	memset(&nb[v->n_backends], 0, sizeof(*nb));
	nb[v->n_backends].addr = a;
	nb[v->n_backends].weight = (__u32)w;
	nb[v->n_backends].health = v->health;
	v->n_backends++;
	c.n_backends++;
	snprintf(vname, sizeof(vname), "%s", v->name);
	ret = runtime_change(d, &c, err, errlen);
	if (!ret)
		pr_info("vip %s: backend %s added", vname, addr_str(&a, abuf));
	return ret;
}

/*
 * Change backend {vip, address} of args in a copy of the running state with
 * @edit (@w: its argument), then validate and apply the copy.
 */
static int backend_change(struct daemon *d, struct json_object *args,
			  void (*edit)(struct sl_config *c, struct sl_cfg_vip *v, int i, long w),
			  long w, char *err, size_t errlen)
{
	struct sl_cfg_vip *v;
	struct sl_config c;
	struct sl_addr a;
	int i;

	if (cfg_clone(&c, &d->running))
		return -ENOMEM;
	i = find_backend(&c, args, &v, &a, err, errlen);
	if (i < 0) {
		cfg_free(&c);
		return i;
	}
	edit(&c, v, i, w);
	return runtime_change(d, &c, err, errlen);
}

static void edit_delete(struct sl_config *c, struct sl_cfg_vip *v, int i, long w)
{
	memmove(&v->backends[i], &v->backends[i + 1],
		(v->n_backends - (__u32)i - 1) * sizeof(v->backends[0]));
	v->n_backends--;
	c->n_backends--;
}

static void edit_weight(struct sl_config *c, struct sl_cfg_vip *v, int i, long w)
{
	v->backends[i].weight = (__u32)w;
}

static int h_backend_del(void *ctx, struct json_object *args, struct json_object **data,
			 char *err, size_t errlen)
{
	return backend_change(ctx, args, edit_delete, 0, err, errlen);
}

/* Set the weight of backend {vip, address} to @w (drain: 0). */
static int set_weight(struct daemon *d, struct json_object *args, long w, char *err,
		      size_t errlen)
{
	return backend_change(d, args, edit_weight, w, err, errlen);
}

static int h_backend_weight(void *ctx, struct json_object *args, struct json_object **data,
			    char *err, size_t errlen)
{
	long w;
	int ret = arg_int(args, "weight", 0, 65535, &w, err, errlen);

	if (ret) {
		if (ret > 0)
			snprintf(err, errlen, "missing argument 'weight'");
		return -EINVAL;
	}
	return set_weight(ctx, args, w, err, errlen);
}

static int h_backend_drain(void *ctx, struct json_object *args, struct json_object **data,
			   char *err, size_t errlen)
{
	return set_weight(ctx, args, 0, err, errlen);
}

static struct json_object *counters_json(const struct sl_counters *c)
{
	struct json_object *o = json_object_new_object();

	jadd_int(o, "packets", (int64_t)c->packets);
	jadd_int(o, "bytes", (int64_t)c->bytes);
	jadd_int(o, "new_flows", (int64_t)c->new_flows);
	return o;
}

static int h_stats(void *ctx, struct json_object *args, struct json_object **data,
		   char *err, size_t errlen)
{
	struct daemon *d = ctx;
	struct json_object *o = json_object_new_object(), *r = json_object_new_object();
	struct json_object *vips = json_object_new_array();
	__u64 reasons[SL_REASON_MAX];
	char a[SL_ADDR_STRLEN];
	int ret;

	*data = o;
	json_object_object_add(o, "reasons", r);
	json_object_object_add(o, "vips", vips);
	ret = dp_reason_stats(d->dp, reasons);
	if (ret)
		return ret;
	for (int i = 0; i < SL_REASON_MAX; i++)
		jadd_int(r, dp_reason_name(i), (int64_t)reasons[i]);
	for (__u32 i = 0; i < d->running.n_vips; i++) {
		const struct sl_cfg_vip *cv = &d->running.vips[i];
		struct rt_vip *v = state_vip(&d->st, cv->name);
		struct json_object *vo, *bes = json_object_new_array();
		struct sl_counters c = {};

		if (v) {
			__u32 *slots = calloc(v->n_be ? v->n_be : 1, sizeof(*slots));

			for (__u32 j = 0; slots && j < v->n_be; j++)
				slots[j] = v->be[j].id;
			if (slots)
				dp_vip_stats(d->dp, v->id, slots, v->n_be, &c);
			free(slots);
		}
		vo = counters_json(&c);
		jadd_str(vo, "name", cv->name);
		for (__u32 j = 0; j < cv->n_backends; j++) {
			struct rt_backend *rb = v ? state_backend(v, &cv->backends[j].addr) : NULL;
			struct sl_counters bc = {};
			struct json_object *bo;

			if (rb)
				dp_backend_stats(d->dp, rb->id, &bc);
			bo = counters_json(&bc);
			jadd_str(bo, "address", addr_str(&cv->backends[j].addr, a));
			json_object_array_add(bes, bo);
		}
		json_object_object_add(vo, "backends", bes);
		json_object_array_add(vips, vo);
	}
	return 0;
}

static int h_health(void *ctx, struct json_object *args, struct json_object **data,
		    char *err, size_t errlen)
{
	struct daemon *d = ctx;
	char a[SL_ADDR_STRLEN];

	*data = json_object_new_array();
	for (__u32 i = 0; i < d->running.n_vips; i++) {
		const struct sl_cfg_vip *cv = &d->running.vips[i];
		struct rt_vip *v = state_vip(&d->st, cv->name);

		for (__u32 j = 0; j < cv->n_backends; j++) {
			const struct sl_cfg_backend *cb = &cv->backends[j];
			struct rt_backend *rb = v ? state_backend(v, &cb->addr) : NULL;
			struct json_object *o = json_object_new_object();
			struct hc_info hi;

			jadd_str(o, "vip", cv->name);
			jadd_str(o, "address", addr_str(&cb->addr, a));
			jadd_str(o, "state", be_state(cb, rb));
			jadd_str(o, "check", cfg_hc_type_name(cb->health.type));
			if (d->hc && !hc_info(d->hc, cv->name, &cb->addr, &hi)) {
				jadd_str(o, "health", hi.up ? "up" : "down");
				jadd_str(o, "last_result", hi.last_result);
				jadd_str(o, "reason", hi.held ? "held down: flapping" : hi.last_result);
				json_object_object_add(o, "latency_ms",
					json_object_new_double(hi.latency_us / 1000.0));
				jadd_int(o, "changed_at", (int64_t)(hi.changed_at_ms / 1000));
				jadd_int(o, "checks", (int64_t)hi.checks);
				jadd_int(o, "failures", (int64_t)hi.failures);
				jadd_int(o, "streak_ok", hi.streak_ok);
				jadd_int(o, "streak_fail", hi.streak_fail);
				json_object_object_add(o, "held", json_object_new_boolean(hi.held));
			}
			json_object_array_add(*data, o);
		}
	}
	return 0;
}

static int h_reload(void *ctx, struct json_object *args, struct json_object **data,
		    char *err, size_t errlen)
{
	return reload(ctx, err, errlen);
}

static int h_config_dump(void *ctx, struct json_object *args, struct json_object **data,
			 char *err, size_t errlen)
{
	struct daemon *d = ctx;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int ret;

	if (!f)
		return -ENOMEM;
	ret = cfg_write(&d->running, f);
	fclose(f);
	if (!ret) {
		*data = json_object_new_object();
		jadd_str(*data, "text", buf);
	}
	free(buf);
	return ret;
}

static int h_teardown(void *ctx, struct json_object *args, struct json_object **data,
		      char *err, size_t errlen)
{
	struct daemon *d = ctx;

	d->teardown = true;
	d->stop = true;
	return 0;
}

static const struct ctl_cmd commands[] = {
	{ "version", h_version },
	{ "status", h_status },
	{ "vip.list", h_vip_list },
	{ "vip.show", h_vip_show },
	{ "vip.add", h_vip_add },
	{ "vip.del", h_vip_del },
	{ "backend.list", h_backend_list },
	{ "backend.add", h_backend_add },
	{ "backend.del", h_backend_del },
	{ "backend.weight", h_backend_weight },
	{ "backend.drain", h_backend_drain },
	{ "stats", h_stats },
	{ "health", h_health },
	{ "reload", h_reload },
	{ "config.dump", h_config_dump },
	{ "teardown", h_teardown },
	{ NULL, NULL },
};

/* ---- event sources ---------------------------------------------------------- */

static void on_signal(struct ev_source *src, unsigned int events)
{
	struct signalfd_siginfo si;
	char err[512];

	while (read(src->fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			pr_info("SIGHUP: reloading %s", D.cfg_path);
			err[0] = 0;
			if (reload(&D, err, sizeof(err)))
				pr_warn("reload failed, running state unchanged: %s", err);
		} else {
			pr_info("signal %u: stopping; the data plane keeps forwarding",
				si.ssi_signo);
			D.stop = true;
		}
	}
}

static void on_tick(struct ev_source *src, unsigned int events)
{
	__u32 before = D.st.unresolved, now;
	__u64 n;

	if (read(src->fd, &n, sizeof(n)) != sizeof(n))
		return;
	now = clock_now();
	dp_clock_set(D.dp, now);
	state_set_clock(&D.st, now);
	/*
	 * A flow stops counting FLOW_LIVE_SECS after its last packet, so looking
	 * more often than every half of that (a scan of the whole flow table)
	 * frees no slot sooner in practice.
	 */
	if (state_retiring(&D.st) && now - D.last_reap >= FLOW_LIVE_SECS / 2) {
		__u32 *counts = calloc(SLUICE_MAX_BACKENDS, sizeof(*counts));
		__u64 total;

		D.last_reap = now;
		if (counts && !live_flows(&D, counts, &total) &&
		    !state_reap(&D.st, D.dp, counts, now, RETIRE_MAX_SECS))
			pr_info("removed backends have no flows left; their slots are free");
		free(counts);
	}
	if (!before)
		return;
	if (state_resolve(&D.st, D.dp, D.nl, false) == 0)
		pr_info("every backend's next hop is resolved now");
}

static void on_netlink(struct ev_source *src, unsigned int events)
{
	__u32 before = D.st.unresolved;
	int ret = nl_events(D.nl);

	if (ret <= 0)
		return;
	/* A link, route or neighbour changed: resolve every next hop again. */
	ret = state_resolve(&D.st, D.dp, D.nl, true);
	if (ret > 0 && (__u32)ret != before)
		pr_info("%d backend(s) without a resolved next hop", ret);
}

static int ev_add(int epfd, struct ev_source *src)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = src };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, src->fd, &ev) ? -errno : 0;
}

static int setup_loop(struct daemon *d)
{
	struct itimerspec its = {
		.it_interval = { .tv_sec = TICK_MS / 1000 },
		.it_value = { .tv_sec = TICK_MS / 1000 },
	};
	sigset_t mask;

	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (d->epfd < 0)
		return -errno;
	sigemptyset(&mask);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	d->sig.fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	d->sig.fn = on_signal;
	d->tick.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	d->tick.fn = on_tick;
	if (d->sig.fd < 0 || d->tick.fd < 0 || timerfd_settime(d->tick.fd, 0, &its, NULL))
		return -errno;
	if (ev_add(d->epfd, &d->sig) || ev_add(d->epfd, &d->tick))
		return -errno;
	if (d->nl) {
		d->nlev.fd = nl_event_fd(d->nl);
		d->nlev.fn = on_netlink;
		if (ev_add(d->epfd, &d->nlev))
			return -errno;
	}
	return 0;
}

static void run_loop(struct daemon *d)
{
	struct epoll_event ev[16];

	while (!d->stop) {
		int n = epoll_wait(d->epfd, ev, 16, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			pr_warn("epoll_wait: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			struct ev_source *src = ev[i].data.ptr;

			src->fn(src, ev[i].events);
		}
	}
}

/* ---- main ------------------------------------------------------------------ */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: sluiced [-c FILE] [-v]... [--teardown] [--check]\n"
		"  -c, --config FILE  configuration (default " DEFAULT_CONFIG ")\n"
		"  -v, --verbose      more logging (-vv: libbpf's too)\n"
		"      --check        validate the configuration and exit\n"
		"      --teardown     detach the program, remove pinned maps and links, exit\n"
		"  -V, --version      print the version and exit\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "teardown", no_argument, NULL, 'T' },
		{ "check", no_argument, NULL, 'C' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	enum log_level lvl = LOG_LVL_INFO;
	bool teardown = false, check = false;
	char err[512] = "";
	int c, ret = 1;

	D.cfg_path = DEFAULT_CONFIG;
	while ((c = getopt_long(argc, argv, "c:vVh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': D.cfg_path = optarg; break;
		case 'v': if (lvl < LOG_LVL_TRACE) lvl++; break;
		case 'T': teardown = true; break;
		case 'C': check = true; break;
		case 'V': printf("sluiced %s\n", SLUICE_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "sluiced: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	log_init(lvl);
	D.started = time(NULL);

	if (cfg_load(D.cfg_path, &D.file, err, sizeof(err))) {
		pr_warn("%s", err);
		return 1;
	}
	if (check) {
		printf("%s: ok\n", D.cfg_path);
		cfg_free(&D.file);
		return 0;
	}
	if (teardown) {
		for (__u32 i = 0; i < D.file.n_ifaces; i++)
			dp_detach(D.file.bpffs, D.file.ifaces[i].name);
		ret = dp_teardown(D.file.bpffs);
		if (ret)
			pr_warn("teardown of %s incomplete: %s", D.file.bpffs, strerror(-ret));
		else
			pr_info("data plane removed (%s)", D.file.bpffs);
		cfg_free(&D.file);
		return ret ? 1 : 0;
	}

	D.nl = nl_open();
	if (!D.nl)
		pr_warn("netlink unavailable (%s); next hops come from the kernel FIB",
			strerror(errno));
	if (setup_loop(&D)) {
		pr_warn("event loop set-up failed: %s", strerror(errno));
		goto out;
	}
	/* The socket first: a second sluiced must fail before touching anything. */
	{
		struct ctl_opts co = {
			.path = D.file.ctl_socket,
			.group = D.file.ctl_group[0] ? D.file.ctl_group : NULL,
			.cmds = commands,
			.ctx = &D,
		};

		D.ctl = ctl_open(D.epfd, &co);
		if (!D.ctl) {
			pr_warn("failed to open control socket %s: %s%s", co.path, strerror(errno),
				errno == EADDRINUSE ? " (another sluiced is running)" : "");
			goto out;
		}
	}
	D.hc = hc_open(D.epfd, on_health_change, &D);
	if (!D.hc) {
		pr_warn("health checker: %s", strerror(errno));
		goto out;
	}
	if (bpffs_prepare(D.file.bpffs))
		goto out;
	D.dp = open_dataplane(&D.file);
	if (!D.dp)
		goto out;
	ret = state_adopt(&D.st, D.dp);
	if (ret) {
		pr_warn("reading the pinned state failed: %s", strerror(-ret));
		ret = 1;
		goto out;
	}
	if (D.st.n_vips)
		pr_info("adopted %u VIP(s) from %s", D.st.n_vips, D.file.bpffs);
	{
		struct sl_config run;

		if (cfg_clone(&run, &D.file) || apply_running(&D, &run, err, sizeof(err))) {
			pr_warn("applying %s failed: %s", D.cfg_path, err);
			cfg_free(&run);
			ret = 1;
			goto out;
		}
	}
	if (attach_all(&D, &D.running))
		pr_warn("not attached everywhere; see 'sluicectl status'");
	pr_info("running: %u VIP(s), %u backend(s), control socket %s", D.running.n_vips,
		D.running.n_backends, D.running.ctl_socket);
	run_loop(&D);
	ret = 0;
out:
	ctl_close(D.ctl);
	hc_close(D.hc);
	if (D.teardown) {
		for (__u32 i = 0; i < D.running.n_ifaces; i++)
			dp_detach(D.running.bpffs, D.running.ifaces[i].name);
	}
	dp_close(D.dp);
	if (D.teardown) {
		int t = dp_teardown(D.running.bpffs);

		if (t)
			pr_warn("teardown incomplete: %s", strerror(-t));
		else
			pr_info("data plane removed");
	}
	nl_close(D.nl);
	state_free(&D.st);
	cfg_free(&D.running);
	cfg_free(&D.file);
	free(D.ifs);
	return ret;
}
