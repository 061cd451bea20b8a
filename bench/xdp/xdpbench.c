// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Data-plane benchmark: packet rate of sluice and of three baselines through a
 * veth pair (live-frame generator, native XDP, XDP_TX back), and program cost
 * per packet through BPF_PROG_TEST_RUN. Run it through bench/xdp/run.sh,
 * which builds the namespaces and removes them again.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "dataplane.h"
#include "xdpbench.h"
#include "gen.skel.h"
#include "baselines.skel.h"

#define MAX_TRIALS 25
#define N_BACKENDS 10
#define HASH_SEED 0x5eed1ceU
#define SMALL_FLOWS 65536		/* flow table of the many-flows case */
#define MANY_FLOWS (1U << 20)		/* distinct flows it cycles through */
#define GEN_CALL_PKTS 200000000		/* one generator call; stopped by a signal */
#define GEN_MAX_CALLS 64		/* bound on calls in one measurement */

#ifndef XDP_ABORTED_
#define XDP_ABORTED_ 0
#define XDP_DROP_ 1
#define XDP_PASS_ 2
#define XDP_TX_ 3
#endif

static int verbose;

/* Log to stderr; level 1 messages only with -v. */
static void pr(int level, const char *fmt, ...)
{
	va_list ap;

	if (level > verbose)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG || (level == LIBBPF_INFO && verbose < 2))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* ---- frames ---- */

/* The kinds of frame the cases send. */
enum pkt_kind {
	PKT_TCP4_ACK,	/* 198.18.0.2:40000 -> VIP 198.19.0.10:80, ACK */
	PKT_TCP4_SYN,	/* same, SYN */
	PKT_UDP4,	/* 198.18.0.2:40000 -> VIP 198.19.0.10:53 */
	PKT_UDP6,	/* [2001:2:0:1::2]:40000 -> VIP [2001:2::10]:53 */
	PKT_UDP4_OTHER,	/* 198.18.0.2:40000 -> 198.18.255.1:53, no VIP */
};

#define CLIENT4 "198.18.0.2"
#define VIP4 "198.19.0.10"
#define OTHER4 "198.18.255.1"
#define SRC4 "198.19.0.1"
#define CLIENT6 "2001:2:0:1::2"
#define VIP6 "2001:2::10"
#define SRC6 "2001:2::1"

static __u8 mac_gen[6], mac_lb[6];	/* generator-side and LB-side veth */
static __u32 lb_ifindex;		/* LB-side veth: the backends' egress, as sluiced sets it */

static void put16(__u8 *p, __u16 v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

/* RFC 1071 checksum of @len bytes; returns it in host order. */
static __u16 csum(const __u8 *p, size_t len, __u32 sum)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (__u32)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (__u32)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/*
 * Build a XB_PKT_LEN-byte frame of @kind from the generator to the LB side,
 * the IP packet filling the frame (payload bytes make up the rest), with
 * valid IPv4 and L4 checksums. Returns true for IPv6.
 */
static bool frame_build(enum pkt_kind kind, __u8 *f)
{
	bool v6 = kind == PKT_UDP6, udp = kind >= PKT_UDP4;
	size_t l3 = 14, hl = v6 ? 40 : 20, l4 = l3 + hl, l4len = XB_PKT_LEN - l4;
	__u8 src[16] = {}, dst[16] = {};
	__u32 sum = 0;

	memset(f, 0, XB_PKT_LEN);
	memcpy(f, mac_lb, 6);
	memcpy(f + 6, mac_gen, 6);
	put16(f + 12, v6 ? 0x86dd : 0x0800);
	if (v6) {
		inet_pton(AF_INET6, CLIENT6, src);
		inet_pton(AF_INET6, VIP6, dst);
		f[l3] = 0x60;
		put16(f + l3 + 4, (__u16)l4len);
		f[l3 + 6] = 17;
		f[l3 + 7] = 64;
		memcpy(f + l3 + 8, src, 16);
		memcpy(f + l3 + 24, dst, 16);
	} else {
		inet_pton(AF_INET, CLIENT4, src);
		inet_pton(AF_INET, kind == PKT_UDP4_OTHER ? OTHER4 : VIP4, dst);
		f[l3] = 0x45;
		put16(f + l3 + 2, (__u16)(XB_PKT_LEN - l3));
		put16(f + l3 + 6, 0x4000);
		f[l3 + 8] = 64;
		f[l3 + 9] = udp ? 17 : 6;
		memcpy(f + l3 + 12, src, 4);
		memcpy(f + l3 + 16, dst, 4);
		put16(f + l3 + 10, csum(f + l3, 20, 0));
	}
	put16(f + l4, 40000);
	put16(f + l4 + 2, kind == PKT_TCP4_ACK || kind == PKT_TCP4_SYN ? 80 : 53);
	if (udp) {
		put16(f + l4 + 4, (__u16)l4len);
		for (size_t i = 8; i < l4len; i++)
			f[l4 + i] = (__u8)i;
	} else {
		put16(f + l4 + 4, 0x1000);	/* sequence number */
		f[l4 + 12] = 5 << 4;
		f[l4 + 13] = kind == PKT_TCP4_SYN ? 0x02 : 0x10;
		put16(f + l4 + 14, 64240);	/* window */
		for (size_t i = 20; i < l4len; i++)
			f[l4 + i] = (__u8)i;
	}
	/* Pseudo-header, then the L4 segment. */
	if (v6) {
		sum += csum(src, 16, 0) ^ 0xffff;
		sum += csum(dst, 16, 0) ^ 0xffff;
	} else {
		sum += csum(src, 4, 0) ^ 0xffff;
		sum += csum(dst, 4, 0) ^ 0xffff;
	}
	sum += (udp ? 17 : 6) + (__u32)l4len;
	put16(f + l4 + (udp ? 6 : 16), csum(f + l4, l4len, sum));
	return v6;
}

/* ---- cases ---- */

/* The programs a case can run on the LB side. */
enum prog_kind { PROG_DROP, PROG_PASS, PROG_MACSWAP, PROG_ENCAP, PROG_SLUICE, PROG_SLUICE_SMALL };

/* Where the rate of a case is counted. */
enum count_at {
	AT_PEER,	/* xb_count on the generator-side veth (forwarded frames) */
	AT_SEEN,	/* the baseline's own xb_seen counter (drop, pass) */
	AT_PASS_NOT_VIP,/* sluice_reasons[PASS_NOT_VIP] */
};

/* Results of one case over the trials. */
struct series {
	double v[MAX_TRIALS];
	int n;
};

/* One benchmark case: what runs on the LB side, what is sent, how it is counted. */
struct bcase {
	const char *name;	/* JSON name after "rate." / "cost." */
	const char *what;	/* one line for the human table */
	enum prog_kind prog;
	enum pkt_kind pkt;
	__u32 mode;		/* XB_MODE_* */
	__u32 flow_mask;	/* XB_MODE_CYCLE */
	enum count_at at;
	__u32 expect;		/* XDP action the program must return */
	__u32 vip_id;		/* sluice VIP for the flow checks, 0 = none */
	const char *rate_base;	/* name of the rate baseline, NULL = none */
	const char *cost_base;	/* name of the cost baseline, NULL = none */
	double target;		/* ratio the issue asks for, 0 = none */
	struct series rate;	/* Mpps received per second of forwarding-core CPU time */
	struct series wall;	/* Mpps received per second of wall-clock time */
	struct series busy;	/* share of the window the forwarding threads ran */
	struct series offered;	/* Mpps the generator wrote */
	struct series cost;	/* program ns per packet */
	double ok_frac;		/* last trial: share counted under the expected reason */
	double new_frac;	/* last trial: share of packets that made a new flow */
};

static struct bcase cases[] = {
	{ "baseline_drop", "XDP_DROP (receive ceiling)", PROG_DROP, PKT_TCP4_ACK,
	  XB_MODE_FIXED, 0, AT_SEEN, XDP_DROP_, 0, "baseline_macswap", "baseline_encap" },
	{ "baseline_macswap", "swap MACs + XDP_TX (forwarding ceiling)", PROG_MACSWAP,
	  PKT_TCP4_ACK, XB_MODE_FIXED, 0, AT_PEER, XDP_TX_, 0, NULL, "baseline_encap" },
	{ "baseline_encap", "minimal IPIP encap, no lookups", PROG_ENCAP, PKT_TCP4_ACK,
	  XB_MODE_FIXED, 0, AT_PEER, XDP_TX_, 0, "baseline_macswap", NULL },
	{ "baseline_pass", "XDP_PASS to the stack", PROG_PASS, PKT_UDP4_OTHER,
	  XB_MODE_FIXED, 0, AT_SEEN, XDP_PASS_, 0, "baseline_macswap", "baseline_encap" },
	{ "tcp4_established", "sluice TCP v4, one established flow", PROG_SLUICE,
	  PKT_TCP4_ACK, XB_MODE_FIXED, 0, AT_PEER, XDP_TX_, 1, "baseline_macswap",
	  "baseline_encap", 0.83 },
	{ "udp4", "sluice UDP v4, one flow", PROG_SLUICE, PKT_UDP4, XB_MODE_FIXED, 0,
	  AT_PEER, XDP_TX_, 2, "baseline_macswap", "baseline_encap", 0.83 },
	{ "udp6", "sluice UDP v6 (IP6IP6), one flow", PROG_SLUICE, PKT_UDP6,
	  XB_MODE_FIXED, 0, AT_PEER, XDP_TX_, 3, "baseline_macswap", "baseline_encap" },
	{ "tcp4_syn_new_flow", "sluice TCP v4 SYN, every packet a new flow", PROG_SLUICE,
	  PKT_TCP4_SYN, XB_MODE_NEW, 0, AT_PEER, XDP_TX_, 1, "baseline_macswap",
	  "baseline_encap", 0.55 },
	{ "tcp4_many_flows", "sluice TCP v4, 1M flows cycling, 64K flow table",
	  PROG_SLUICE_SMALL, PKT_TCP4_ACK, XB_MODE_CYCLE, MANY_FLOWS - 1, AT_PEER, XDP_TX_,
	  1, "baseline_macswap", "baseline_encap" },
	{ "pass_not_vip", "sluice, UDP v4 to a non-VIP address (XDP_PASS)", PROG_SLUICE,
	  PKT_UDP4_OTHER, XB_MODE_FIXED, 0, AT_PASS_NOT_VIP, XDP_PASS_, 0, "baseline_pass",
	  "baseline_encap" },
};

#define N_CASES (sizeof(cases) / sizeof(cases[0]))

static struct bcase *case_find(const char *name)
{
	for (size_t i = 0; i < N_CASES; i++)
		if (name && !strcmp(cases[i].name, name))
			return &cases[i];
	return NULL;
}

/* ---- setup ---- */

struct bench {
	struct gen *gen;		/* generator, cost harness, receive counter */
	struct baselines *base;		/* drop, pass, macswap, encap */
	struct dp *dp;			/* sluice, default flow table */
	struct dp *dp_small;		/* sluice, SMALL_FLOWS flow table */
	int ncpus;
	int ns_lb, ns_gen;		/* netns fds */
	int if_lb, if_gen;		/* ifindexes, each in its own namespace */
	bool lb_attached, gen_attached;
	int napi_tid;			/* threaded NAPI of the LB side, -1 = inline */
	int ksoftirqd_tid;		/* ksoftirqd of the forwarding core */
};

static int prog_fd(struct bench *b, enum prog_kind k)
{
	switch (k) {
	case PROG_DROP: return bpf_program__fd(b->base->progs.xb_drop);
	case PROG_PASS: return bpf_program__fd(b->base->progs.xb_pass);
	case PROG_MACSWAP: return bpf_program__fd(b->base->progs.xb_macswap);
	case PROG_ENCAP: return bpf_program__fd(b->base->progs.xb_encap);
	case PROG_SLUICE: return dp_prog_fd(b->dp);
	case PROG_SLUICE_SMALL: return dp_prog_fd(b->dp_small);
	}
	return -1;
}

static struct dp *case_dp(struct bench *b, const struct bcase *c)
{
	return c->prog == PROG_SLUICE_SMALL ? b->dp_small : b->dp;
}

/* Sum a per-CPU __u64 slot. Returns the sum (0 on error, after a warning). */
static __u64 percpu_sum(struct bench *b, int map_fd, __u32 key)
{
	__u64 v[b->ncpus], s = 0;

	if (bpf_map_lookup_elem(map_fd, &key, v)) {
		pr(0, "reading a per-CPU counter failed: %s\n", strerror(errno));
		return 0;
	}
	for (int i = 0; i < b->ncpus; i++)
		s += v[i];
	return s;
}

/* Returns the packets counted so far for @c's counting method. */
static __u64 rx_count(struct bench *b, const struct bcase *c)
{
	__u64 r[SL_REASON_MAX] = {};

	switch (c->at) {
	case AT_PEER:
		return percpu_sum(b, bpf_map__fd(b->gen->maps.xb_rx), 0);
	case AT_SEEN:
		return percpu_sum(b, bpf_map__fd(b->base->maps.xb_seen), 0);
	case AT_PASS_NOT_VIP:
		dp_reason_stats(case_dp(b, c), r);
		return r[SL_PASS_NOT_VIP];
	}
	return 0;
}

static int str_addr(const char *s, __be32 *a)
{
	return inet_pton(strchr(s, ':') ? AF_INET6 : AF_INET, s, a) == 1 ? 0 : -EINVAL;
}

/*
 * Give @dp one VIP with N_BACKENDS backends whose next hop is the
 * generator-side veth, the way sluiced's state_apply() does it.
 */
static int vip_add(struct dp *dp, __u32 id, const char *addr, __u16 port, __u8 proto)
{
	struct dp_backend be[N_BACKENDS] = {};
	struct sl_vip_key key = {};
	struct sl_vip_meta meta = { .id = id };
	bool v6 = strchr(addr, ':');
	char ba[64];
	int err;

	key.family = v6 ? SL_FAMILY_V6 : SL_FAMILY_V4;
	key.port = htons(port);
	key.proto = proto;
	if (str_addr(addr, key.addr) || str_addr(SRC4, &meta.src4) ||
	    str_addr(SRC6, meta.src6))
		return -EINVAL;
	for (__u32 i = 0; i < N_BACKENDS; i++) {
		snprintf(ba, sizeof(ba), v6 ? "2001:2:0:2::%u" : "198.19.1.%u", i + 1);
		be[i].id = id * 100 + i;
		be[i].weight = 1;
		be[i].be.family = key.family;
		if (str_addr(ba, be[i].be.addr))
			return -EINVAL;
		be[i].be.flags = SL_BE_F_MAC;
		memcpy(be[i].be.mac, mac_gen, 6);
		be[i].be.ifindex = lb_ifindex;
		be[i].be.gen = 1;
		be[i].be.vip = id;
	}
	err = dp_vip_apply(dp, &key, &meta, be, N_BACKENDS);
	if (err)
		pr(0, "dp_vip_apply %s:%u: %s\n", addr, port, strerror(-err));
	return err;
}

/* Open sluice as sluiced does (dp_open with its options, clock set, VIPs applied). */
static struct dp *sluice_open(__u32 flow_entries, bool all_vips)
{
	/* new_flow_limit as sluiced's default (SL_CFG_DEF_FLOW_LIMIT in userspace/config.h). */
	struct dp_opts o = { .hash_seed = HASH_SEED, .mtu = 1500, .flow_entries = flow_entries,
			     .flow_limit = 65536 };
	struct dp *dp = dp_open(&o);

	if (!dp) {
		pr(0, "loading build/sluice.bpf.o (flow_entries %u) failed: %s\n", flow_entries,
		   strerror(errno));
		return NULL;
	}
	dp_clock_set(dp, (__u32)time(NULL));
	if (vip_add(dp, 1, VIP4, 80, 6) ||
	    (all_vips && (vip_add(dp, 2, VIP4, 53, 17) || vip_add(dp, 3, VIP6, 53, 17)))) {
		dp_close(dp);
		return NULL;
	}
	return dp;
}

/* Read the MAC of @ifname in the current network namespace. */
static int if_mac(const char *ifname, __u8 *mac)
{
	struct ifreq ifr = {};
	int fd = socket(AF_INET, SOCK_DGRAM, 0), err = 0;

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr))
		err = -errno;
	else
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	close(fd);
	return err;
}

/* Enter the network namespace @fd (this thread only). Returns 0 or -errno. */
static int ns_enter(int fd)
{
	return setns(fd, CLONE_NEWNET) ? -errno : 0;
}

/* Attach @fd in native mode to @ifindex of namespace @ns; fd -1 detaches. */
static int xdp_set(struct bench *b, int ns, int ifindex, int fd)
{
	int err, err2;

	err = ns_enter(ns);
	if (err)
		return err;
	if (fd < 0)
		err = bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE, NULL);
	else
		err = bpf_xdp_attach(ifindex, fd, XDP_FLAGS_DRV_MODE, NULL);
	err2 = ns_enter(b->ns_lb);
	return err ? err : err2;
}

static void pin_cpu(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		pr(0, "pinning to CPU %d failed: %s, ignoring\n", cpu, strerror(errno));
}

/* Returns the pid of a process (kernel thread) whose comm line starts with @prefix, or -1. */
static int thread_find(const char *prefix)
{
	char path[300], comm[64];
	struct dirent *de;
	int found = -1;
	DIR *d = opendir("/proc");
	FILE *f;

	if (!d)
		return -1;
	while (found < 0 && (de = readdir(d))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) && !strncmp(comm, prefix, strlen(prefix)))
			found = atoi(de->d_name);
		fclose(f);
	}
	closedir(d);
	return found;
}

/* Returns the CPU time (ns) thread @tid has run, from schedstat; 0 if unknown. */
static __u64 thread_runtime(int tid)
{
	char path[64];
	unsigned long long run = 0;
	FILE *f;

	if (tid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/schedstat", tid, tid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%llu", &run) != 1)
		run = 0;
	fclose(f);
	return run;
}

/* ---- the generator ---- */

struct gen_run {
	struct bench *b;
	const __u8 *frame;
	int cpu;		/* CPU to pin the generator to, -1: any */
	__u32 batch;		/* frames per batch (1..256) */
	volatile int stop;
	volatile int done;
	volatile int tid;	/* the generator thread's id, once it runs */
	int err;		/* 0 or -errno of the call that failed */
	pthread_t th;
};

static void on_sigusr1(int sig)
{
	(void)sig;	/* only interrupts BPF_PROG_TEST_RUN */
}

/*
 * Generator thread: in the generator's namespace, run xb_gen with live
 * frames out of the generator-side veth until told to stop. Each call is
 * long (about 20 ms of set-up per call) and ends early on SIGUSR1.
 */
static void *gen_main(void *arg)
{
	struct gen_run *g = arg;
	struct xdp_md ctx = { .data_end = XB_PKT_LEN, .ingress_ifindex = g->b->if_gen };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = g->frame, .data_size_in = XB_PKT_LEN,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = GEN_CALL_PKTS,
		    .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .batch_size = g->batch);
	int fd = bpf_program__fd(g->b->gen->progs.xb_gen);

	g->tid = (int)gettid();
	g->err = ns_enter(g->b->ns_gen);
	pin_cpu(g->cpu);
	for (int calls = 0; !g->err && !g->stop && calls < GEN_MAX_CALLS; calls++) {
		if (bpf_prog_test_run_opts(fd, &o)) {
			if (errno != EINTR)
				g->err = -errno;
			break;
		}
	}
	g->done = 1;
	return NULL;
}

static int gen_start(struct gen_run *g)
{
	int err;

	g->stop = g->done = g->tid = 0;
	g->err = 0;
	err = pthread_create(&g->th, NULL, gen_main, g);
	return -err;
}

/* Stop the generator: signal it until its call returns (bounded). */
static int gen_stop(struct gen_run *g)
{
	g->stop = 1;
	for (int i = 0; i < 500 && !g->done; i++) {
		pthread_kill(g->th, SIGUSR1);
		sleep_s(0.01);
	}
	if (!g->done) {
		pr(0, "the generator does not stop\n");
		return -ETIMEDOUT;
	}
	pthread_join(g->th, NULL);
	return g->err;
}

/* Load the frame of @c into the generator / harness and set its mode. */
static void gen_setup(struct bench *b, const struct bcase *c, __u8 *frame)
{
	struct gen__bss *bss = b->gen->bss;
	bool v6 = frame_build(c->pkt, frame);

	memcpy((void *)bss->xb_tmpl, frame, XB_PKT_LEN);
	bss->xb_mode = c->mode;
	bss->xb_flow_mask = c->flow_mask;
	bss->xb_v6 = v6;
}

/* ---- measurements ---- */

struct opts {
	int trials;
	double warmup, window;	/* seconds */
	int cost_repeat;
	int gen_cpu, fwd_cpu;	/* generator, cost runs */
	int napi_cpu;		/* LB side's threaded NAPI, -1 = inline in softirq */
	__u32 batch;
	bool no_rate, no_cost;
	const char *only;	/* comma-separated case names, NULL = all */
};

/* Returns true when case @c is to run under --case. */
static bool is_selected(const struct opts *o, const struct bcase *c)
{
	size_t n = strlen(c->name);

	for (const char *p = o->only; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : "")
		if (!strncmp(p, c->name, n) && (p[n] == ',' || !p[n]))
			return true;
	return !o->only;
}

/* Sluice's reason, VIP and flow counters, to check a case does what it says. */
struct snap {
	__u64 reasons[SL_REASON_MAX];
	struct sl_counters vip;
};

static void snap_take(struct bench *b, const struct bcase *c, struct snap *s)
{
	memset(s, 0, sizeof(*s));
	if (c->prog != PROG_SLUICE && c->prog != PROG_SLUICE_SMALL)
		return;
	dp_reason_stats(case_dp(b, c), s->reasons);
	if (c->vip_id) {
		__u32 slots[N_BACKENDS];

		for (__u32 i = 0; i < N_BACKENDS; i++)
			slots[i] = c->vip_id * 100 + i;	/* as vip_add() numbers them */
		dp_vip_stats(case_dp(b, c), c->vip_id, slots, N_BACKENDS, &s->vip);
	}
}

/* Record in @c which share of the packets took the expected path and made new flows. */
static void snap_check(struct bcase *c, const struct snap *a, const struct snap *z)
{
	__u64 all = 0, ok, pkts;
	__u32 want = c->expect == XDP_PASS_ ? SL_PASS_NOT_VIP : SL_TX_ENCAP;

	if (c->prog != PROG_SLUICE && c->prog != PROG_SLUICE_SMALL)
		return;
	for (int i = 0; i < SL_REASON_MAX; i++)
		all += z->reasons[i] - a->reasons[i];
	ok = z->reasons[want] - a->reasons[want];
	c->ok_frac = all ? (double)ok / all : 0;
	pkts = z->vip.packets - a->vip.packets;
	c->new_frac = pkts ? (double)(z->vip.new_flows - a->vip.new_flows) / pkts : 0;
}

/*
 * CPU time (ns) spent so far by the threads that do the forwarding: the
 * generator thread, whose softirqs run the veth NAPIs inline, or the LB
 * side's NAPI thread; plus that core's ksoftirqd, which takes over softirq
 * work that runs too long.
 */
static __u64 fwd_runtime(struct bench *b, const struct gen_run *g)
{
	return thread_runtime(b->napi_tid > 0 ? b->napi_tid : g->tid) +
	       thread_runtime(b->ksoftirqd_tid);
}

/*
 * One rate trial of @c: attach, warm up, count over the window. The rate is
 * packets per second of CPU time of the forwarding core's threads (see
 * docs/BENCH-XDP.md: it removes time other tenants took from that core);
 * the wall-clock rate is kept beside it. Returns 0 or -errno.
 */
static int rate_trial(struct bench *b, struct bcase *c, const struct opts *o)
{
	struct gen_run g = { .b = b, .cpu = o->gen_cpu, .batch = o->batch };
	__u8 frame[XB_PKT_LEN];
	__u64 c0, c1, q0, q1, r0, r1;
	struct snap s0, s1;
	double t0, t1, busy;
	int err;

	gen_setup(b, c, frame);
	g.frame = frame;
	err = xdp_set(b, b->ns_lb, b->if_lb, prog_fd(b, c->prog));
	if (err) {
		pr(0, "attaching %s to the LB-side veth failed: %s\n", c->name, strerror(-err));
		return err;
	}
	b->lb_attached = true;
	err = gen_start(&g);
	if (err)
		return err;
	sleep_s(o->warmup);
	snap_take(b, c, &s0);
	r0 = fwd_runtime(b, &g);
	c0 = rx_count(b, c);
	q0 = b->gen->bss->xb_seq;
	t0 = now_s();
	sleep_s(o->window);
	c1 = rx_count(b, c);
	q1 = b->gen->bss->xb_seq;
	t1 = now_s();
	r1 = fwd_runtime(b, &g);
	snap_take(b, c, &s1);
	err = gen_stop(&g);
	if (err) {
		pr(0, "generator for %s failed: %s\n", c->name, strerror(-err));
		return err;
	}
	if (!r0 || r1 <= r0) {
		pr(0, "no CPU time of the forwarding threads for %s\n", c->name);
		return -ESRCH;
	}
	busy = (r1 - r0) / 1e9;
	if (c->rate.n < MAX_TRIALS) {
		c->rate.v[c->rate.n++] = (double)(c1 - c0) / busy / 1e6;
		c->wall.v[c->wall.n++] = (double)(c1 - c0) / (t1 - t0) / 1e6;
		c->busy.v[c->busy.n++] = busy / (t1 - t0);
		c->offered.v[c->offered.n++] = (double)(__u32)(q1 - q0) / (t1 - t0) / 1e6;
	}
	snap_check(c, &s0, &s1);
	pr(1, "  rate %-20s %7.3f Mpps per busy second, %7.3f wall (generator %.3f, busy %.0f%%)\n",
	   c->name, c->rate.v[c->rate.n - 1], c->wall.v[c->wall.n - 1],
	   c->offered.v[c->offered.n - 1], 100 * c->busy.v[c->busy.n - 1]);
	return 0;
}

/*
 * Time @repeat runs of the harness (frame rewrite + tail call into slot 0).
 * Returns 0 or -errno; *ns is the time per run, *ret the last verdict.
 */
static int harness_run(struct bench *b, const __u8 *frame, int repeat, double *ns, __u32 *ret)
{
	/* Received on the LB-side veth, as in the rate trials. */
	struct xdp_md ctx = { .data_end = XB_PKT_LEN, .ingress_ifindex = b->if_lb };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = XB_PKT_LEN,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = repeat);

	if (bpf_prog_test_run_opts(bpf_program__fd(b->gen->progs.xb_wrap), &o))
		return -errno;
	/*
	 * The kernel's figure: it times only the runs (each call also spends
	 * milliseconds in set-up) and leaves out time scheduled away. Whole ns.
	 */
	*ns = o.duration;
	*ret = o.retval;
	return 0;
}

static struct series harness_ns;

/* One cost trial: the empty harness, then every case. Returns 0 or -errno. */
static int cost_round(struct bench *b, const struct opts *o)
{
	int map = bpf_map__fd(b->gen->maps.xb_progs);
	__u32 slot = XB_TARGET, ret;
	__u8 frame[XB_PKT_LEN];
	struct snap s0, s1;
	double base, ns;
	int err;

	/* Empty slot: the tail call falls through; what every case pays on top. */
	bpf_map_delete_elem(map, &slot);
	gen_setup(b, &cases[0], frame);
	err = harness_run(b, frame, o->cost_repeat, &base, &ret);
	if (err)
		return err;
	if (ret != XDP_ABORTED_) {
		pr(0, "cost harness: verdict %u with an empty slot\n", ret);
		return -EPROTO;
	}
	if (harness_ns.n < MAX_TRIALS)
		harness_ns.v[harness_ns.n++] = base;

	for (size_t i = 0; i < N_CASES; i++) {
		struct bcase *c = &cases[i];
		int fd = prog_fd(b, c->prog);

		if (!is_selected(o, c))
			continue;
		if (bpf_map_update_elem(map, &slot, &fd, BPF_ANY))
			return -errno;
		gen_setup(b, c, frame);
		/* A few runs first, so an established flow is in the table. */
		err = harness_run(b, frame, 16, &ns, &ret);
		snap_take(b, c, &s0);
		if (!err)
			err = harness_run(b, frame, o->cost_repeat, &ns, &ret);
		if (err)
			return err;
		snap_take(b, c, &s1);
		if (c->rate.n == 0)
			snap_check(c, &s0, &s1);
		if (ret != c->expect) {
			pr(0, "cost %s: verdict %u, expected %u\n", c->name, ret, c->expect);
			return -EPROTO;
		}
		if (c->cost.n < MAX_TRIALS)
			c->cost.v[c->cost.n++] = ns - base;
		pr(1, "  cost %-20s %7.2f ns (harness %.2f)\n", c->name, ns - base, base);
	}
	bpf_map_delete_elem(map, &slot);
	return 0;
}

/* ---- statistics and output ---- */

static int dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct stat3 {
	double min, median, max;
};

static struct stat3 stats(const struct series *s)
{
	double v[MAX_TRIALS];
	struct stat3 r = { NAN, NAN, NAN };

	if (!s->n)
		return r;
	memcpy(v, s->v, s->n * sizeof(v[0]));
	qsort(v, s->n, sizeof(v[0]), dcmp);
	r.min = v[0];
	r.max = v[s->n - 1];
	r.median = s->n % 2 ? v[s->n / 2] : (v[s->n / 2 - 1] + v[s->n / 2]) / 2;
	return r;
}

/*
 * Ratio of @s to @base: the median of the per-round ratios when both were
 * measured in the same rounds (each case runs right after its baseline in
 * every round, so a slow minute of this shared machine slows both), else the
 * ratio of the medians. NAN when either has no value.
 */
static double ratio_of(const struct series *s, const struct series *base)
{
	struct series r = { .n = 0 };

	if (!s->n || !base || !base->n)
		return NAN;
	if (s->n != base->n)
		return stats(s).median / stats(base).median;
	for (int i = 0; i < s->n; i++)
		r.v[r.n++] = s->v[i] / base->v[i];
	return stats(&r).median;
}

static void json_line(const char *kind, const char *name, const char *unit,
		      const struct series *s, const char *base_name, const struct series *base)
{
	struct stat3 st = stats(s);

	if (!s->n)
		return;
	printf("{\"name\": \"%s.%s\", \"value\": %.4f, \"unit\": \"%s\", ", kind, name,
	       st.median, unit);
	if (base && base->n) {
		printf("\"baseline\": \"%s.%s\", \"ratio\": %.4f, ", kind, base_name,
		       ratio_of(s, base));
	} else {
		printf("\"baseline\": null, \"ratio\": null, ");
	}
	printf("\"min\": %.4f, \"median\": %.4f, \"max\": %.4f}\n", st.min, st.median, st.max);
}

/* Median of @c's series @s, NAN when it has none. */
static double median_of(const struct bcase *c, const struct series *s)
{
	return c && s->n ? stats(s).median : NAN;
}

static void report(const char *fwd_desc)
{
	struct stat3 h = stats(&harness_ns);

	for (size_t i = 0; i < N_CASES; i++) {
		struct bcase *c = &cases[i], *rb = case_find(c->rate_base);

		json_line("rate", c->name, "Mpps", &c->rate, c->rate_base, rb ? &rb->rate : NULL);
	}
	for (size_t i = 0; i < N_CASES; i++) {
		struct bcase *c = &cases[i], *cb = case_find(c->cost_base);

		json_line("cost", c->name, "ns/pkt", &c->cost, c->cost_base, cb ? &cb->cost : NULL);
	}
	json_line("cost", "harness_overhead", "ns/pkt", &harness_ns, NULL, NULL);
	fflush(stdout);

	fprintf(stderr, "\n%-18s %20s %6s %6s %6s %5s | %17s %6s | %5s %5s\n", "case",
		"Mpps min/MED/max", "ratio", "+ns", "wall", "busy", "ns/pkt min/MED/max", "ratio",
		"exp%", "new%");
	for (size_t i = 0; i < N_CASES; i++) {
		struct bcase *c = &cases[i], *rb = case_find(c->rate_base),
			     *cb = case_find(c->cost_base);
		struct stat3 r = stats(&c->rate), k = stats(&c->cost);
		double rbm = rb ? median_of(rb, &rb->rate) : NAN;

		fprintf(stderr, "%-18s %6.2f/%6.2f/%6.2f %6.3f %6.1f %6.2f %4.0f%% | %5.1f/%5.1f/%5.1f %6.2f",
			c->name, r.min, r.median, r.max, rb ? ratio_of(&c->rate, &rb->rate) : NAN,
			1e3 / r.median - 1e3 / rbm, median_of(c, &c->wall),
			100 * median_of(c, &c->busy), k.min, k.median, k.max,
			cb ? ratio_of(&c->cost, &cb->cost) : NAN);
		if (c->prog == PROG_SLUICE || c->prog == PROG_SLUICE_SMALL)
			fprintf(stderr, " | %5.1f %5.1f", 100 * c->ok_frac, 100 * c->new_frac);
		fprintf(stderr, "\n");
	}
	fprintf(stderr,
		"rate: Mpps counted at the receiver per second of CPU time of the forwarding core\n"
		"  (%s); ratio and +ns (ns per packet added) against\n"
		"  baseline_macswap, pass_not_vip against baseline_pass; wall: Mpps over wall-clock\n"
		"  time; busy: share of the wall-clock window the forwarding threads had the core.\n"
		"cost: program ns per packet (harness overhead %.1f/%.1f/%.1f ns subtracted),\n"
		"  ratio against baseline_encap.\n"
		"exp%%: sluice packets counted under the expected reason (tx_encap or\n"
		"  pass_not_vip); new%%: sluice packets that created a flow-table entry.\n",
		fwd_desc, h.min, h.median, h.max);
	for (size_t i = 0; i < N_CASES; i++) {
		struct bcase *c = &cases[i], *rb = case_find(c->rate_base);
		double rr;

		if (!c->target || !c->rate.n || !rb || !rb->rate.n)
			continue;
		rr = ratio_of(&c->rate, &rb->rate);
		fprintf(stderr, "target: %s >= %.2f x %s: %.3f, %s\n", c->name, c->target,
			rb->name, rr, rr >= c->target ? "met" : "MISSED");
	}
	for (size_t i = 0; i < N_CASES; i++)
		fprintf(stderr, "%s%-18s %s\n", i ? "" : "cases:\n", cases[i].name, cases[i].what);
}

/* ---- main ---- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: xdpbench --gen-ns NAME --lb-if IF --gen-if IF [options]\n"
		"Run in the LB-side namespace; the generator side is entered by name.\n"
		"  --trials N       rounds of every case (default 5, max %d)\n"
		"  --warmup MS      generator running before counting (default 300)\n"
		"  --window MS      counting window per rate trial (default 1000)\n"
		"  --cost-repeat N  runs per cost measurement (default 2000000)\n"
		"  --gen-cpu N      pin the generator to CPU N (default 1)\n"
		"  --cost-cpu N     pin the cost runs to CPU N (default 1)\n"
		"  --napi-cpu N     the LB side's NAPI runs threaded on CPU N (set up by run.sh)\n"
		"  --batch N        live-frame batch size 1..256 (default 256)\n"
		"  --no-rate, --no-cost   skip a part\n"
		"  --case A,B,...   only these cases (names as in the JSON)\n"
		"  -v               per-trial figures (twice: libbpf info)\n", MAX_TRIALS);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "gen-ns", required_argument, NULL, 'G' },
		{ "lb-if", required_argument, NULL, 'L' },
		{ "gen-if", required_argument, NULL, 'I' },
		{ "trials", required_argument, NULL, 't' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "window", required_argument, NULL, 'W' },
		{ "cost-repeat", required_argument, NULL, 'r' },
		{ "gen-cpu", required_argument, NULL, 'g' },
		{ "cost-cpu", required_argument, NULL, 'c' },
		{ "napi-cpu", required_argument, NULL, 'n' },
		{ "batch", required_argument, NULL, 'b' },
		{ "no-rate", no_argument, NULL, 'R' },
		{ "no-cost", no_argument, NULL, 'C' },
		{ "case", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { .trials = 5, .warmup = 0.3, .window = 1.0, .cost_repeat = 2000000,
			  .gen_cpu = 1, .fwd_cpu = 1, .napi_cpu = -1, .batch = 256 };
	const char *gen_ns = NULL, *lb_if = NULL, *gen_if = NULL;
	struct sigaction sa = { .sa_handler = on_sigusr1 };	/* no SA_RESTART */
	struct bench b = { .ns_lb = -1, .ns_gen = -1 };
	char name[64], fwd_desc[128] = "not measured";
	cpu_set_t all_cpus;
	int fwd_cpu;
	char path[256];
	int opt, err = 0;

	while ((opt = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
		switch (opt) {
		case 'G': gen_ns = optarg; break;
		case 'L': lb_if = optarg; break;
		case 'I': gen_if = optarg; break;
		case 't': o.trials = atoi(optarg); break;
		case 'w': o.warmup = atoi(optarg) / 1e3; break;
		case 'W': o.window = atoi(optarg) / 1e3; break;
		case 'r': o.cost_repeat = atoi(optarg); break;
		case 'g': o.gen_cpu = atoi(optarg); break;
		case 'c': o.fwd_cpu = atoi(optarg); break;
		case 'n': o.napi_cpu = atoi(optarg); break;
		case 'b': o.batch = (__u32)atoi(optarg); break;
		case 'R': o.no_rate = true; break;
		case 'C': o.no_cost = true; break;
		case 'k': o.only = optarg; break;
		case 'v': verbose++; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!gen_ns || !lb_if || !gen_if) {
		usage(stderr);
		return 2;
	}
	if (o.trials < 1 || o.trials > MAX_TRIALS || o.window <= 0 || o.warmup < 0 ||
	    o.cost_repeat < 1000 || o.batch < 1 || o.batch > 256) {
		fprintf(stderr, "xdpbench: --trials 1..%d, --window > 0, --cost-repeat >= 1000, "
			"--batch 1..256\n", MAX_TRIALS);
		return 2;
	}
	libbpf_set_print(libbpf_print);
	sigaction(SIGUSR1, &sa, NULL);
	/* A hard bound on the whole run, whatever happens below. */
	alarm((unsigned)(60 + o.trials * N_CASES * (o.warmup + o.window + 1.5) +
			 o.trials * (N_CASES + 1) * (o.cost_repeat / 5e6 + 0.5)));

	sched_getaffinity(0, sizeof(all_cpus), &all_cpus);
	b.ncpus = libbpf_num_possible_cpus();
	b.ns_lb = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), "/var/run/netns/%s", gen_ns);
	b.ns_gen = open(path, O_RDONLY | O_CLOEXEC);
	if (b.ncpus <= 0 || b.ns_lb < 0 || b.ns_gen < 0) {
		fprintf(stderr, "xdpbench: opening the namespaces (%s) failed: %s\n", path,
			strerror(errno));
		return 1;
	}
	b.if_lb = (int)if_nametoindex(lb_if);
	lb_ifindex = (__u32)b.if_lb;
	err = if_mac(lb_if, mac_lb);
	if (!b.if_lb || err) {
		fprintf(stderr, "xdpbench: no interface %s here\n", lb_if);
		return 1;
	}
	if (ns_enter(b.ns_gen) || !(b.if_gen = (int)if_nametoindex(gen_if)) ||
	    if_mac(gen_if, mac_gen) || ns_enter(b.ns_lb)) {
		fprintf(stderr, "xdpbench: no interface %s in %s\n", gen_if, gen_ns);
		return 1;
	}

	b.gen = gen__open_and_load();
	b.base = baselines__open();
	if (!b.gen || !b.base) {
		fprintf(stderr, "xdpbench: loading the benchmark programs failed\n");
		err = -EINVAL;
		goto out;
	}
	memcpy(b.base->bss->xb_be_mac, mac_gen, 6);
	str_addr(SRC4, &b.base->bss->xb_src);
	str_addr("198.19.1.1", &b.base->bss->xb_dst);
	err = baselines__load(b.base);
	if (err) {
		fprintf(stderr, "xdpbench: loading the baselines failed: %s\n", strerror(-err));
		goto out;
	}
	b.dp = sluice_open(0, true);
	b.dp_small = sluice_open(SMALL_FLOWS, false);
	if (!b.dp || !b.dp_small) {
		err = -EINVAL;
		goto out;
	}

	if (!o.no_cost) {
		pin_cpu(o.fwd_cpu);
		pr(0, "cost: %d rounds of %d runs per case, CPU %d\n", o.trials, o.cost_repeat,
		   o.fwd_cpu);
		for (int t = 0; t < o.trials && !err; t++)
			err = cost_round(&b, &o);
		if (err) {
			fprintf(stderr, "xdpbench: cost run failed: %s\n", strerror(-err));
			goto out;
		}
	}

	if (!o.no_rate) {
		sched_setaffinity(0, sizeof(all_cpus), &all_cpus);	/* main thread: anywhere */
		fwd_cpu = o.napi_cpu >= 0 ? o.napi_cpu : o.gen_cpu;
		snprintf(name, sizeof(name), "ksoftirqd/%d\n", fwd_cpu);
		b.ksoftirqd_tid = thread_find(name);
		b.napi_tid = -1;
		if (o.napi_cpu >= 0) {
			snprintf(name, sizeof(name), "napi/%s-", lb_if);
			b.napi_tid = thread_find(name);
			if (b.napi_tid < 0) {
				fprintf(stderr, "xdpbench: --napi-cpu: no thread %s* (make the "
					"NAPI of %s threaded first)\n", name, lb_if);
				err = -ESRCH;
				goto out;
			}
			snprintf(fwd_desc, sizeof(fwd_desc), "NAPI thread %s* on CPU %d",
				 name, fwd_cpu);
		} else {
			snprintf(fwd_desc, sizeof(fwd_desc),
				 "CPU %d: generator thread, veth NAPIs in its softirqs", fwd_cpu);
		}
		err = xdp_set(&b, b.ns_gen, b.if_gen, bpf_program__fd(b.gen->progs.xb_count));
		if (err) {
			fprintf(stderr, "xdpbench: attaching the counter to %s failed: %s\n",
				gen_if, strerror(-err));
			goto out;
		}
		b.gen_attached = true;
		pr(0, "rate: %d rounds, %.0f ms warm-up + %.0f ms window per case, "
		   "generator on CPU %d, batch %u\n", o.trials, o.warmup * 1e3, o.window * 1e3,
		   o.gen_cpu, o.batch);
		for (int t = 0; t < o.trials && !err; t++)
			for (size_t i = 0; i < N_CASES && !err; i++)
				if (is_selected(&o, &cases[i]))
					err = rate_trial(&b, &cases[i], &o);
		if (err) {
			fprintf(stderr, "xdpbench: rate run failed: %s\n", strerror(-err));
			goto out;
		}
	}
	report(fwd_desc);

out:
	if (b.lb_attached)
		xdp_set(&b, b.ns_lb, b.if_lb, -1);
	if (b.gen_attached)
		xdp_set(&b, b.ns_gen, b.if_gen, -1);
	dp_close(b.dp);
	dp_close(b.dp_small);
	baselines__destroy(b.base);
	gen__destroy(b.gen);
	return err ? 1 : 0;
}
