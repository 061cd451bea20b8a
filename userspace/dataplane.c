// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Loads the balancer program and keeps its maps; the daemon and tests share it. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "dataplane.h"
#include "maglev.h"
#include "sluice_hash.h"
#include "sluice.skel.h"

/* A dp_vip_apply() queued for dp_batch_commit(). */
struct dp_pending {
	struct sl_vip_key key;		/* the VIP entry to write last */
	struct sl_vip_meta meta;
	struct dp_backend *be;		/* its backends (a copy) */
	size_t n;
	__u32 *table;			/* built by the commit's workers */
	int build_err;			/* 0, -ENOENT (no usable backend) or -errno */
	int ring_fd;			/* filled table to publish, or -1 */
	bool skip;			/* the maps hold exactly this already */
};

struct dp {
	struct sluice *skel;	/* loaded program and maps */
	int ncpus;		/* possible CPUs, for per-CPU values */
	bool batching;		/* between dp_batch_begin() and dp_batch_commit() */
	struct dp_pending *pend;
	size_t n_pend, cap_pend;
};

static void pend_clear(struct dp *dp);

static const char *const reason_names[SL_REASON_MAX] = {
	[SL_PASS_NOT_IP] = "pass_not_ip",
	[SL_PASS_NOT_VIP] = "pass_not_vip",
	[SL_PASS_NOT_L4] = "pass_not_l4",
	[SL_PASS_FRAGMENT] = "pass_fragment",
	[SL_PASS_IPV6_EXT] = "pass_ipv6_ext",
	[SL_PASS_SHORT_L2] = "pass_short_l2",
	[SL_PASS_L2_MULTICAST] = "pass_l2_multicast",
	[SL_DROP_BAD_IP] = "drop_bad_ip",
	[SL_DROP_BAD_L4] = "drop_bad_l4",
	[SL_DROP_FRAGMENT] = "drop_fragment",
	[SL_DROP_NO_RING] = "drop_no_ring",
	[SL_DROP_NO_BACKEND] = "drop_no_backend",
	[SL_DROP_FAMILY] = "drop_family",
	[SL_DROP_TOO_BIG] = "drop_too_big",
	[SL_DROP_NO_NEXTHOP] = "drop_no_nexthop",
	[SL_DROP_ADJUST] = "drop_adjust",
	[SL_TX_ENCAP] = "tx_encap",
	[SL_TX_REDIRECT] = "tx_redirect",
};

const char *dp_reason_name(__u32 reason)
{
	if (reason >= SL_REASON_MAX || !reason_names[reason])
		return "unknown";
	return reason_names[reason];
}

/* Point every map of @skel at a pin under @dir, so load reuses or creates it. */
static int pin_maps(struct sluice *skel, const char *dir)
{
	struct bpf_map *map;
	char path[PATH_MAX];
	int err;

	bpf_object__for_each_map(map, skel->obj) {
		const char *name = bpf_map__name(map);

		/*
		 * The flow cache belongs to one program: a new one starts empty.
		 * Of the global data only .bss is shared (sl_clock, sl_be_epoch):
		 * a program still attached while the next is set up keeps a
		 * ticking clock and sees every slot write, so its cache never
		 * serves a stale slot copy (bpf/lookup.h). .rodata stays per
		 * program: it holds the settings of that load.
		 */
		if (map == skel->maps.sluice_fcache)
			continue;
		if (map == skel->maps.bss)
			name = "sluice_bss";
		else if (bpf_map__is_internal(map))
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
			return -ENAMETOOLONG;
		err = bpf_map__set_pin_path(map, path);
		if (err)
			return err;
	}
	return 0;
}

struct dp *dp_open(const struct dp_opts *opts)
{
	struct dp *dp;
	int err;

	dp = calloc(1, sizeof(*dp));
	if (!dp)
		return NULL;
	dp->ncpus = libbpf_num_possible_cpus();
	if (dp->ncpus <= 0) {
		err = dp->ncpus ? dp->ncpus : -EINVAL;
		goto out_free;
	}
	dp->skel = sluice__open();
	if (!dp->skel) {
		err = -errno;
		goto out_free;
	}
	dp->skel->rodata->sl_hash_seed = opts->hash_seed;
	dp->skel->rodata->sl_mtu = opts->mtu ? opts->mtu : 1500;
	dp->skel->rodata->sl_flow_limit = opts->flow_limit;
	err = bpf_map__set_max_entries(dp->skel->maps.sluice_flows,
				       opts->flow_entries ? opts->flow_entries :
							    SLUICE_MAX_FLOWS);
	if (err)
		goto out_destroy;
	if (opts->pin_dir) {
		err = pin_maps(dp->skel, opts->pin_dir);
		if (err)
			goto out_destroy;
	}
	err = sluice__load(dp->skel);
	if (err)
		goto out_destroy;
	return dp;

out_destroy:
	sluice__destroy(dp->skel);
out_free:
	free(dp);
	errno = err < 0 ? -err : EINVAL;
	return NULL;
}

void dp_close(struct dp *dp)
{
	if (!dp)
		return;
	pend_clear(dp);
	free(dp->pend);
	sluice__destroy(dp->skel);
	free(dp);
}

int dp_prog_fd(const struct dp *dp)
{
	return bpf_program__fd(dp->skel->progs.sluice_xdp);
}

/* Returns 0 or -errno from a libbpf low-level call's result. */
static int sys_err(int ret)
{
	return ret < 0 ? -errno : 0;
}

/* Returns true when some service VIP (not a marker) other than @skip uses @addr. */
static bool has_other_vip(struct dp *dp, const struct sl_vip_key *skip)
{
	int fd = bpf_map__fd(dp->skel->maps.sluice_vips);
	struct sl_vip_key k, next;
	void *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		if (k.proto == 0 || !memcmp(&k, skip, sizeof(k)))
			continue;
		if (k.family == skip->family && !memcmp(k.addr, skip->addr, sizeof(k.addr)))
			return true;
	}
	return false;
}

/* Returns the marker key for the address of @key. */
static struct sl_vip_key marker_key(const struct sl_vip_key *key)
{
	struct sl_vip_key m = {};

	memcpy(m.addr, key->addr, sizeof(m.addr));
	m.family = key->family;
	return m;
}

/*
 * Rewrite the VIP address filter from the VIP map, plus @extra if not NULL.
 * A concurrent reader can only see a torn copy in the bits that change, which
 * belong to the address being added (set before its VIP) or removed (cleared
 * after): every other VIP's bit reads as set throughout.
 */
static int vip_bits_sync(struct dp *dp, const struct sl_vip_key *extra, size_t n_extra)
{
	int fd = bpf_map__fd(dp->skel->maps.sluice_vips);
	struct sl_vip_key k, next;
	struct sl_vip_bits *bits;
	void *prev = NULL;
	__u32 zero = 0, bit;
	int err;

	bits = calloc(1, sizeof(*bits));
	if (!bits)
		return -ENOMEM;
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		bit = sl_vip_bit(k.addr, k.family);
		bits->w[bit / 64] |= 1ULL << (bit % 64);
	}
	for (size_t i = 0; i < n_extra; i++) {
		bit = sl_vip_bit(extra[i].addr, extra[i].family);
		bits->w[bit / 64] |= 1ULL << (bit % 64);
	}
	err = sys_err(bpf_map_update_elem(bpf_map__fd(dp->skel->maps.sluice_vip_bits), &zero,
					  bits, BPF_ANY));
	free(bits);
	return err;
}

/* Write a VIP's marker and its key; the filter must have its bit. */
static int vip_write(struct dp *dp, const struct sl_vip_key *key,
		     const struct sl_vip_meta *meta)
{
	int fd = bpf_map__fd(dp->skel->maps.sluice_vips);
	struct sl_vip_key mk = marker_key(key);
	struct sl_vip_meta mm = { .flags = SL_VIP_F_MARKER };

	if (bpf_map_update_elem(fd, &mk, &mm, BPF_ANY))
		return -errno;
	return sys_err(bpf_map_update_elem(fd, key, meta, BPF_ANY));
}

int dp_vip_set(struct dp *dp, const struct sl_vip_key *key,
	       const struct sl_vip_meta *meta)
{
	int err;

	if (key->proto == 0 || meta->id >= SLUICE_MAX_VIPS)
		return -EINVAL;
	/* The filter's bit before the key: the key must never be filtered out. */
	err = vip_bits_sync(dp, key, 1);
	if (err)
		return err;
	return vip_write(dp, key, meta);
}

int dp_vip_del(struct dp *dp, const struct sl_vip_key *key)
{
	int fd = bpf_map__fd(dp->skel->maps.sluice_vips);
	struct sl_vip_key mk = marker_key(key);

	int err = 0;

	if (key->proto == 0)
		return -EINVAL;
	if (bpf_map_delete_elem(fd, key))
		err = -errno;
	/* Even when the VIP was already gone: a crash may have left the marker. */
	if (!has_other_vip(dp, key) && bpf_map_delete_elem(fd, &mk) && errno != ENOENT)
		return -errno;
	if (!err)
		err = vip_bits_sync(dp, NULL, 0);
	return err;
}

int dp_markers_prune(struct dp *dp)
{
	int fd = bpf_map__fd(dp->skel->maps.sluice_vips);
	struct sl_vip_key k, next, dead[64];
	void *prev = NULL;
	int n = 0;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		if (k.proto == 0 && !has_other_vip(dp, &k) && n < 64)
			dead[n++] = k;
	}
	for (int i = 0; i < n; i++)
		if (bpf_map_delete_elem(fd, &dead[i]) && errno != ENOENT)
			return -errno;
	return vip_bits_sync(dp, NULL, 0);
}

int dp_vip_get(struct dp *dp, const struct sl_vip_key *key, struct sl_vip_meta *meta)
{
	return sys_err(bpf_map_lookup_elem(bpf_map__fd(dp->skel->maps.sluice_vips),
					   key, meta));
}

int dp_backend_set(struct dp *dp, __u32 id, const struct sl_backend *be)
{
	int err;

	if (id >= SLUICE_MAX_BACKENDS)
		return -EINVAL;
	err = sys_err(bpf_map_update_elem(bpf_map__fd(dp->skel->maps.sluice_backends),
					  &id, be, BPF_ANY));
	/* After the write: flow-cache copies of any slot are now stale. Atomic:
	 * a batch writes slots from two threads (dp_batch_commit). */
	if (!err)
		__atomic_add_fetch(&dp->skel->bss->sl_be_epoch, 1, __ATOMIC_SEQ_CST);
	return err;
}

int dp_backend_get(struct dp *dp, __u32 id, struct sl_backend *be)
{
	if (id >= SLUICE_MAX_BACKENDS)
		return -EINVAL;
	return sys_err(bpf_map_lookup_elem(bpf_map__fd(dp->skel->maps.sluice_backends),
					   &id, be));
}

/*
 * The kernel stores array elements 8-byte aligned, so in a mapped table the
 * __u32 entries sit 8 bytes apart.
 */
#define RING_STRIDE 8

/* Bytes of a table mapping, rounded up to whole pages as mmap wants. */
static size_t ring_map_len(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return ((size_t)SLUICE_RING_SIZE * RING_STRIDE + page - 1) / page * page;
}

/* Returns the fd of a new table map holding @table, or -errno. */
static int ring_fill(const __u32 *table)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_MMAPABLE);
	size_t len = ring_map_len();
	void *mem;
	int fd, err;

	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "sluice_ring", sizeof(__u32),
			    sizeof(__u32), SLUICE_RING_SIZE, &opts);
	if (fd < 0)
		return -errno;
	/* Filling through a mapping costs one copy instead of 65537 syscalls. */
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED) {
		err = -errno;
		close(fd);
		return err;
	}
	for (size_t i = 0; i < SLUICE_RING_SIZE; i++)
		*(__u32 *)((char *)mem + i * RING_STRIDE) = table[i];
	munmap(mem, len);
	return fd;
}

int dp_ring_get(struct dp *dp, __u32 vip_id, __u32 *table)
{
	int outer = bpf_map__fd(dp->skel->maps.sluice_rings);
	size_t len = ring_map_len();
	__u32 inner_id;
	void *mem;
	int fd;

	if (vip_id >= SLUICE_MAX_VIPS)
		return -EINVAL;
	if (bpf_map_lookup_elem(outer, &vip_id, &inner_id))
		return -errno;
	fd = bpf_map_get_fd_by_id(inner_id);
	if (fd < 0)
		return -errno;
	mem = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED) {
		int err = -errno;

		close(fd);
		return err;
	}
	for (size_t i = 0; i < SLUICE_RING_SIZE; i++)
		table[i] = *(const __u32 *)((const char *)mem + i * RING_STRIDE);
	munmap(mem, len);
	close(fd);
	return 0;
}

int dp_ring_del(struct dp *dp, __u32 vip_id)
{
	if (vip_id >= SLUICE_MAX_VIPS)
		return -EINVAL;
	return sys_err(bpf_map_delete_elem(bpf_map__fd(dp->skel->maps.sluice_rings),
					   &vip_id));
}

/* Returns true when @b may receive new flows. */
static bool is_backend_usable(const struct dp_backend *b)
{
	return b->weight > 0 && b->be.family && !(b->be.flags & SL_BE_F_DOWN);
}

/* Build @table from the usable backends of @be. Returns 0, -ENOENT (none usable) or -errno. */
static int ring_build(const struct dp_backend *be, size_t n, __u32 *table)
{
	struct maglev_backend *mb;
	size_t i, m = 0;
	int err;

	mb = calloc(n ? n : 1, sizeof(*mb));
	if (!mb)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if (!is_backend_usable(&be[i]))
			continue;
		memcpy(mb[m].ident, be[i].be.addr, sizeof(be[i].be.addr));
		mb[m].ident[16] = be[i].be.family;
		mb[m].id = be[i].id;
		mb[m].weight = be[i].weight;
		m++;
	}
	err = m ? maglev_build(mb, m, table, SLUICE_RING_SIZE) : -ENOENT;
	free(mb);
	return err;
}

/* Returns true when the maps already hold exactly this VIP, slots and table. */
static bool is_vip_current(struct dp *dp, const struct sl_vip_key *key,
			   const struct sl_vip_meta *meta, const struct dp_backend *be,
			   size_t n, const __u32 *table, __u32 *scratch)
{
	struct sl_vip_meta cur;
	struct sl_backend b;

	if (dp_vip_get(dp, key, &cur) || memcmp(&cur, meta, sizeof(cur)))
		return false;
	for (size_t i = 0; i < n; i++)
		if (dp_backend_get(dp, be[i].id, &b) || memcmp(&b, &be[i].be, sizeof(b)))
			return false;
	if (!table)
		return dp_ring_get(dp, meta->id, scratch) == -ENOENT;
	return !dp_ring_get(dp, meta->id, scratch) &&
	       !memcmp(scratch, table, SLUICE_RING_SIZE * sizeof(*table));
}

/*
 * Write backend slots, but a backend going DOWN keeps its old flag until the
 * table without it is live: flagged earlier, its flows would re-pick from the
 * old table and land on it again. Returns 0 or -errno.
 */
static int write_slots(struct dp *dp, const struct dp_backend *be, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct sl_backend v = be[i].be, cur;
		bool have = !dp_backend_get(dp, be[i].id, &cur);
		int err;

		if ((v.flags & SL_BE_F_DOWN) && have && cur.family &&
		    !(cur.flags & SL_BE_F_DOWN))
			v.flags &= (__u8)~SL_BE_F_DOWN;
		/* Unchanged slots are not written: each write stales every CPU's
		 * flow cache (sl_be_epoch). */
		if (have && !memcmp(&cur, &v, sizeof(v)))
			continue;
		err = dp_backend_set(dp, be[i].id, &v);
		if (err)
			return err;
	}
	return 0;
}

/*
 * VIPs published per map update in a batch. Bounds transient kernel memory:
 * with two chunks in flight (one building, one publishing), at most
 * 2 x DP_CHUNK new tables of 512 KiB exist unpublished.
 */
#define DP_CHUNK 64

/* Queue a dp_vip_apply() for the commit. */
static int pend_add(struct dp *dp, const struct sl_vip_key *key,
		    const struct sl_vip_meta *meta, const struct dp_backend *be, size_t n)
{
	struct dp_pending *p;

	if (dp->n_pend == dp->cap_pend) {
		size_t cap = dp->cap_pend ? dp->cap_pend * 2 : 64;

		p = realloc(dp->pend, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		dp->pend = p;
		dp->cap_pend = cap;
	}
	p = &dp->pend[dp->n_pend];
	memset(p, 0, sizeof(*p));
	p->key = *key;
	p->meta = *meta;
	p->ring_fd = -1;
	p->n = n;
	p->be = calloc(n ? n : 1, sizeof(*p->be));
	if (!p->be)
		return -ENOMEM;
	memcpy(p->be, be, n * sizeof(*be));
	/* Each slot carries its VIP's outer source: no VIP read per packet. */
	for (size_t i = 0; i < n; i++) {
		if (p->be[i].be.family == SL_FAMILY_V6)
			memcpy(p->be[i].be.src, meta->src6, sizeof(p->be[i].be.src));
		else
			p->be[i].be.src[0] = meta->src4;
	}
	dp->n_pend++;
	return 0;
}

/* Free what the pending entries hold. */
static void pend_clear(struct dp *dp)
{
	for (size_t i = 0; i < dp->n_pend; i++) {
		if (dp->pend[i].ring_fd >= 0)
			close(dp->pend[i].ring_fd);
		free(dp->pend[i].table);
		free(dp->pend[i].be);
	}
	dp->n_pend = 0;
}

void dp_batch_begin(struct dp *dp)
{
	dp->batching = true;
}

/* Work for one table-building thread: every stride-th job from first. */
struct build_work {
	struct dp *dp;
	struct dp_pending *jobs;
	size_t n, first, stride;
};

/*
 * Build each job's table, compare it with the maps (reads only) and fill a
 * new table map when it differs: all of it independent per VIP.
 */
static void *build_tables(void *arg)
{
	struct build_work *w = arg;
	__u32 *scratch = malloc(SLUICE_RING_SIZE * sizeof(*scratch));

	for (size_t i = w->first; i < w->n; i += w->stride) {
		struct dp_pending *p = &w->jobs[i];
		bool has_table;

		p->table = malloc(SLUICE_RING_SIZE * sizeof(*p->table));
		if (!p->table || !scratch) {
			p->build_err = -ENOMEM;
			continue;
		}
		p->build_err = ring_build(p->be, p->n, p->table);
		if (p->build_err && p->build_err != -ENOENT)
			continue;
		has_table = !p->build_err;
		p->skip = is_vip_current(w->dp, &p->key, &p->meta, p->be, p->n,
					 has_table ? p->table : NULL, scratch);
		if (!p->skip && has_table) {
			p->ring_fd = ring_fill(p->table);
			if (p->ring_fd < 0)
				p->build_err = p->ring_fd;
		}
	}
	free(scratch);
	return NULL;
}

/*
 * Build the tables of @n jobs, on up to DP_BUILD_THREADS cores: a table of
 * 65537 entries takes ~1 ms, so a 1000-VIP load is mostly this.
 */
#define DP_BUILD_THREADS 4
static void build_all(struct dp *dp, struct dp_pending *jobs, size_t n)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t t, threads = cpus > 1 ? (size_t)cpus : 1;
	struct build_work w[DP_BUILD_THREADS];
	pthread_t tid[DP_BUILD_THREADS];
	bool started[DP_BUILD_THREADS] = {};

	if (threads > DP_BUILD_THREADS)
		threads = DP_BUILD_THREADS;
	if (threads > n)
		threads = n ? n : 1;
	for (t = 0; t < threads; t++)
		w[t] = (struct build_work){ .dp = dp, .jobs = jobs, .n = n, .first = t,
					    .stride = threads };
	/* Thread 0's share runs here; if a thread cannot start, its share does too. */
	for (t = 1; t < threads; t++)
		started[t] = !pthread_create(&tid[t], NULL, build_tables, &w[t]);
	build_tables(&w[0]);
	for (t = 1; t < threads; t++) {
		if (started[t])
			pthread_join(tid[t], NULL);
		else
			build_tables(&w[t]);
	}
}

/* One chunk of a batch on its way out: built, then published. */
struct dp_chunk {
	struct dp *dp;
	size_t from, to;		/* jobs [from, to) of dp->pend */
	__u32 keys[DP_CHUNK];		/* VIP ids with a new table */
	__u32 fds[DP_CHUNK];		/* and the tables' map fds */
	__u32 count;
	int err;			/* of chunk_publish() */
};

/* Build the chunk's tables and write its backend slots. Returns 0 or -errno. */
static int chunk_prepare(struct dp_chunk *c)
{
	struct dp *dp = c->dp;
	int err;

	build_all(dp, &dp->pend[c->from], c->to - c->from);
	for (size_t i = c->from; i < c->to; i++) {
		struct dp_pending *p = &dp->pend[i];

		if (p->build_err && p->build_err != -ENOENT)
			return p->build_err;
		if (p->skip)
			continue;
		err = write_slots(dp, p->be, p->n);
		if (err)
			return err;
		if (p->ring_fd >= 0) {
			c->keys[c->count] = p->meta.id;
			c->fds[c->count++] = (__u32)p->ring_fd;
		}
	}
	return 0;
}

/* Publish a prepared chunk: tables, DOWN flags, VIPs. Sets c->err. */
static void *chunk_publish(void *arg)
{
	struct dp_chunk *c = arg;
	struct dp *dp = c->dp;
	int err = 0;

	/* Every table of the chunk in one update: one RCU wait, not one per VIP. */
	if (c->count) {
		LIBBPF_OPTS(bpf_map_batch_opts, o);
		__u32 n = c->count;

		if (bpf_map_update_batch(bpf_map__fd(dp->skel->maps.sluice_rings), c->keys,
					 c->fds, &n, &o)) {
			c->err = -errno;
			return NULL;
		}
	}
	for (size_t i = c->from; i < c->to && !err; i++) {
		struct dp_pending *p = &dp->pend[i];

		if (p->skip)
			continue;
		if (p->ring_fd < 0) {
			err = dp_ring_del(dp, p->meta.id);
			if (err == -ENOENT)
				err = 0;
		}
		for (size_t j = 0; j < p->n && !err; j++)
			if (p->be[j].be.flags & SL_BE_F_DOWN)
				err = dp_backend_set(dp, p->be[j].id, &p->be[j].be);
		if (!err)
			err = vip_write(dp, &p->key, &p->meta);
	}
	c->err = err;
	return NULL;
}

/* Free what a finished chunk's jobs hold: their tables and kernel maps. */
static void chunk_release(struct dp_chunk *c)
{
	for (size_t i = c->from; i < c->to; i++) {
		struct dp_pending *p = &c->dp->pend[i];

		free(p->table);
		p->table = NULL;
		if (p->ring_fd >= 0)
			close(p->ring_fd);
		p->ring_fd = -1;
	}
}

/*
 * Publish the pending VIPs in chunks, pipelined: while one chunk's table
 * update waits for its RCU grace period (8-16 ms here) in a thread, the
 * next chunk's tables are built. Chunks are published in order, one at a
 * time; a failure stops the batch after the chunk in flight.
 */
int dp_batch_commit(struct dp *dp)
{
	struct sl_vip_key *keys;
	struct dp_chunk *ch;
	pthread_t tid;
	bool running = false;
	size_t k = 0;
	int err = 0;

	dp->batching = false;
	if (!dp->n_pend)
		return 0;
	ch = calloc(2, sizeof(*ch));
	keys = calloc(dp->n_pend, sizeof(*keys));
	if (!ch || !keys) {
		free(ch);
		free(keys);
		pend_clear(dp);
		return -ENOMEM;
	}
	/*
	 * One filter rewrite with every address of the batch, before any new
	 * key: a bit set early only makes its address a "maybe" a little
	 * sooner. (Rebuilding it per chunk re-read every VIP key each time.)
	 */
	for (size_t i = 0; i < dp->n_pend; i++)
		keys[i] = dp->pend[i].key;
	err = vip_bits_sync(dp, keys, dp->n_pend);
	free(keys);
	if (err) {
		free(ch);
		pend_clear(dp);
		return err;
	}
	for (size_t from = 0; from < dp->n_pend; from += DP_CHUNK, k ^= 1) {
		struct dp_chunk *c = &ch[k];
		size_t to = from + DP_CHUNK < dp->n_pend ? from + DP_CHUNK : dp->n_pend;

		memset(c, 0, sizeof(*c));
		c->dp = dp;
		c->from = from;
		c->to = to;
		err = chunk_prepare(c);
		if (running) {
			pthread_join(tid, NULL);
			running = false;
			if (!err)
				err = ch[k ^ 1].err;
			chunk_release(&ch[k ^ 1]);
		}
		if (err)
			break;
		/* The last chunk has nothing to overlap with: publish it here. */
		if (to < dp->n_pend && !pthread_create(&tid, NULL, chunk_publish, c)) {
			running = true;
			continue;
		}
		chunk_publish(c);
		err = c->err;
		chunk_release(c);
		if (err)
			break;
	}
	if (running) {
		pthread_join(tid, NULL);
		if (!err)
			err = ch[k ^ 1].err;
	}
	free(ch);
	pend_clear(dp);
	return err;
}

int dp_vip_apply(struct dp *dp, const struct sl_vip_key *key,
		 const struct sl_vip_meta *meta, const struct dp_backend *be,
		 size_t n)
{
	int err;

	if (dp->batching)
		return pend_add(dp, key, meta, be, n);
	/* Alone, it is a batch of one: the same steps in the same order. */
	dp_batch_begin(dp);
	err = pend_add(dp, key, meta, be, n);
	if (err) {
		dp->batching = false;
		pend_clear(dp);
		return err;
	}
	return dp_batch_commit(dp);
}

/* Sum per-CPU sl_counters of @map at @id into @out. */
static int counters_sum(struct dp *dp, struct bpf_map *map, __u32 id,
			struct sl_counters *out)
{
	struct sl_counters *v;
	int i, err = 0;

	v = calloc(dp->ncpus, sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (bpf_map_lookup_elem(bpf_map__fd(map), &id, v)) {
		err = -errno;
		goto out;
	}
	memset(out, 0, sizeof(*out));
	for (i = 0; i < dp->ncpus; i++) {
		out->packets += v[i].packets;
		out->bytes += v[i].bytes;
		out->new_flows += v[i].new_flows;
	}
out:
	free(v);
	return err;
}

int dp_vip_stats(struct dp *dp, __u32 id, const __u32 *slots, size_t n,
		 struct sl_counters *out)
{
	struct sl_counters c = {};
	int err;

	err = counters_sum(dp, dp->skel->maps.sluice_vip_st, id, out);
	for (size_t i = 0; i < n && !err; i++) {
		err = counters_sum(dp, dp->skel->maps.sluice_be_st, slots[i], &c);
		out->packets += c.packets;
		out->bytes += c.bytes;
		out->new_flows += c.new_flows;
	}
	return err;
}

int dp_backend_free(struct dp *dp, __u32 id)
{
	int vfd = bpf_map__fd(dp->skel->maps.sluice_vip_st);
	struct sl_backend cur = {}, freed = {};
	struct sl_counters *v, c;
	int err;

	err = dp_backend_get(dp, id, &cur);
	if (err)
		return err;
	freed.gen = cur.gen;
	err = dp_backend_set(dp, id, &freed);
	if (err || !cur.family || cur.vip >= SLUICE_MAX_VIPS)
		return err;
	/* After the slot is free nothing counts on it: fold, then zero. */
	err = counters_sum(dp, dp->skel->maps.sluice_be_st, id, &c);
	if (err)
		return err;
	v = calloc(dp->ncpus, sizeof(*v));
	if (!v)
		return -ENOMEM;
	err = sys_err(bpf_map_lookup_elem(vfd, &cur.vip, v));
	if (!err) {
		v[0].packets += c.packets;
		v[0].bytes += c.bytes;
		v[0].new_flows += c.new_flows;
		err = sys_err(bpf_map_update_elem(vfd, &cur.vip, v, BPF_ANY));
	}
	free(v);
	return err ? err : dp_backend_stats_reset(dp, id);
}

int dp_backend_stats(struct dp *dp, __u32 id, struct sl_counters *out)
{
	return counters_sum(dp, dp->skel->maps.sluice_be_st, id, out);
}

int dp_reason_stats(struct dp *dp, __u64 *out)
{
	int fd = bpf_map__fd(dp->skel->maps.sluice_reasons);
	struct sl_reason_count *v;
	__u32 r;
	int i, err = 0;

	v = calloc(dp->ncpus, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (r = 0; r < SL_REASON_MAX; r++) {
		if (bpf_map_lookup_elem(fd, &r, v)) {
			err = -errno;
			break;
		}
		out[r] = 0;
		for (i = 0; i < dp->ncpus; i++)
			out[r] += v[i].packets;
	}
	free(v);
	return err;
}

/* Zero the per-CPU values of @map at ids [@from, @to), each @size bytes per CPU. */
static int percpu_zero(struct dp *dp, struct bpf_map *map, __u32 from, __u32 to, size_t size)
{
	void *zero;
	int err = 0;

	zero = calloc(dp->ncpus, size);
	if (!zero)
		return -ENOMEM;
	for (__u32 i = from; i < to && !err; i++)
		err = sys_err(bpf_map_update_elem(bpf_map__fd(map), &i, zero, BPF_ANY));
	free(zero);
	return err;
}

int dp_vip_stats_reset(struct dp *dp, __u32 id)
{
	return percpu_zero(dp, dp->skel->maps.sluice_vip_st, id, id + 1, sizeof(struct sl_counters));
}

int dp_backend_stats_reset(struct dp *dp, __u32 id)
{
	return percpu_zero(dp, dp->skel->maps.sluice_be_st, id, id + 1, sizeof(struct sl_counters));
}

int dp_flow_get(struct dp *dp, const struct sl_flow_key *key, struct sl_flow *flow)
{
	return sys_err(bpf_map_lookup_elem(bpf_map__fd(dp->skel->maps.sluice_flows),
					   key, flow));
}

int dp_vip_foreach(struct dp *dp, dp_vip_fn fn, void *arg)
{
	int fd = bpf_map__fd(dp->skel->maps.sluice_vips);
	struct sl_vip_key k, next;
	struct sl_vip_meta m;
	void *prev = NULL;
	int ret;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		if (k.proto == 0)
			continue;
		if (bpf_map_lookup_elem(fd, &k, &m))
			continue;	/* deleted meanwhile */
		ret = fn(&k, &m, arg);
		if (ret)
			return ret;
	}
	return errno == ENOENT ? 0 : -errno;
}

void dp_clock_set(struct dp *dp, __u32 now)
{
	dp->skel->bss->sl_clock = now;
}

__u32 dp_clock_get(const struct dp *dp)
{
	return dp->skel->bss->sl_clock;
}

int dp_flow_counts(struct dp *dp, __u32 *counts, __u64 *total, __u32 since)
{
	int ffd = bpf_map__fd(dp->skel->maps.sluice_flows);
	const __u32 chunk = 4096;
	struct sl_flow_key *keys;
	struct sl_flow *vals;
	struct sl_backend *be;
	__u64 batch = 0;
	bool first = true;
	int err = 0;
	__u32 i;

	keys = calloc(chunk, sizeof(*keys));
	vals = calloc(chunk, sizeof(*vals));
	be = calloc(SLUICE_MAX_BACKENDS, sizeof(*be));
	if (!keys || !vals || !be) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < SLUICE_MAX_BACKENDS; i++)
		dp_backend_get(dp, i, &be[i]);
	memset(counts, 0, SLUICE_MAX_BACKENDS * sizeof(*counts));
	*total = 0;
	for (;;) {
		LIBBPF_OPTS(bpf_map_batch_opts, o);
		__u32 n = chunk;
		int ret;

		ret = bpf_map_lookup_batch(ffd, first ? NULL : &batch, &batch, keys, vals,
					   &n, &o);
		if (ret && errno != ENOENT) {
			err = -errno;
			break;
		}
		first = false;
		for (i = 0; i < n; i++) {
			__u32 id = vals[i].backend;

			if (id < SLUICE_MAX_BACKENDS && be[id].family &&
			    be[id].gen == vals[i].gen && vals[i].seen >= since) {
				counts[id]++;
				(*total)++;
			}
		}
		if (ret)
			break;	/* ENOENT: that was the last batch */
	}
out:
	free(be);
	free(vals);
	free(keys);
	return err;
}

/* Path of the pinned XDP link of @ifname in @mode ("link" or "linkg"). */
static int link_path(char *buf, size_t len, const char *pin_dir, const char *ifname,
		     bool generic)
{
	if (snprintf(buf, len, "%s/%s_%s", pin_dir, generic ? "linkg" : "link", ifname) >=
	    (int)len)
		return -ENAMETOOLONG;
	return 0;
}

/* Returns the id of the program behind link @fd and its ifindex, or -errno. */
static int link_prog(int fd, __u32 *ifindex)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	if (ifindex)
		*ifindex = info.xdp.ifindex;
	return (int)info.prog_id;
}

int dp_attach(struct dp *dp, const char *pin_dir, const char *ifname, int ifindex,
	      bool generic, __u32 *prog_id)
{
	LIBBPF_OPTS(bpf_link_create_opts, lo);
	struct bpf_prog_info pinfo = {};
	__u32 plen = sizeof(pinfo), link_ifindex = 0;
	char path[PATH_MAX], other[PATH_MAX];
	int prog = dp_prog_fd(dp);
	int fd, err;

	err = link_path(path, sizeof(path), pin_dir, ifname, generic);
	if (!err)
		err = link_path(other, sizeof(other), pin_dir, ifname, !generic);
	if (err)
		return err;
	if (bpf_obj_get_info_by_fd(prog, &pinfo, &plen))
		return -errno;
	*prog_id = pinfo.id;

	/* The other mode cannot be swapped into: detach it first. */
	if (unlink(other) && errno != ENOENT)
		return -errno;

	fd = bpf_obj_get(path);
	if (fd >= 0) {
		if (link_prog(fd, &link_ifindex) >= 0 && link_ifindex == (__u32)ifindex) {
			/* Same interface: replace the program in one step. */
			err = bpf_link_update(fd, prog, NULL) ? -errno : 0;
			close(fd);
			return err;
		}
		/* The interface was re-created or the link is dead: start over. */
		close(fd);
		if (unlink(path))
			return -errno;
	}

	lo.flags = generic ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
	fd = bpf_link_create(prog, ifindex, BPF_XDP, &lo);
	if (fd < 0)
		return -errno;
	err = bpf_obj_pin(fd, path) ? -errno : 0;
	close(fd);	/* the pin holds the link from here on */
	return err;
}

int dp_detach(const char *pin_dir, const char *ifname)
{
	char path[PATH_MAX];
	int err = 0;

	for (int g = 0; g < 2; g++) {
		if (link_path(path, sizeof(path), pin_dir, ifname, g))
			return -ENAMETOOLONG;
		if (unlink(path) && errno != ENOENT)
			err = -errno;
	}
	return err;
}

int dp_attached_prog(const char *pin_dir, const char *ifname, bool *generic)
{
	char path[PATH_MAX];
	int fd, id;

	for (int g = 0; g < 2; g++) {
		if (link_path(path, sizeof(path), pin_dir, ifname, g))
			return -ENAMETOOLONG;
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		id = link_prog(fd, NULL);
		close(fd);
		if (generic)
			*generic = g;
		return id;
	}
	return 0;
}

/* Returns true for the names sluice pins: maps (sluice_*) and links (link*_*). */
static bool is_our_pin(const char *name)
{
	return !strncmp(name, "sluice_", 7) || !strncmp(name, "link_", 5) ||
	       !strncmp(name, "linkg_", 6);
}

int dp_teardown(const char *pin_dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int err = 0;

	d = opendir(pin_dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (!is_our_pin(de->d_name))
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", pin_dir, de->d_name) >=
		    (int)sizeof(path)) {
			err = -ENAMETOOLONG;
			continue;
		}
		if (unlink(path) && errno != ENOENT)
			err = -errno;
	}
	closedir(d);
	if (!err && rmdir(pin_dir) && errno != ENOENT)
		err = -errno;
	return err;
}
