// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Control-plane benchmarks: Maglev builds, config load/apply, table switches, health-check CPU. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <bpf/libbpf.h>

#include "config.h"
#include "dataplane.h"
#include "evloop.h"
#include "health.h"
#include "maglev.h"
#include "state.h"

/* Targets from the issue; ratio = value / target (<= 1 is met). */
#define TARGET_MAGLEV_N100_MS	2.0
#define TARGET_CFG_TOTAL_MS	1000.0

#define HC_PORT		80		/* probed port, one listener for every address */
#define HC_NET		"10.99.0.0/18"	/* 16384 addresses made local in the namespace */
#define MAX_SAMPLES	256

static bool quick;
static char ns_name[64];		/* "" when no namespace of ours exists */
static pid_t listener_pid;

/* ---- time and statistics ------------------------------------------------------ */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Samples of one measurement; the record's value is their median. */
struct samples {
	double v[MAX_SAMPLES];
	int n;
};

static void sample_add(struct samples *s, double v)
{
	if (s->n < MAX_SAMPLES)
		s->v[s->n++] = v;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Sorts @s; fills min, median, max. Returns the median (NAN when empty). */
static double sample_stats(struct samples *s, double *min, double *med, double *max)
{
	if (!s->n) {
		*min = *med = *max = NAN;
		return NAN;
	}
	qsort(s->v, (size_t)s->n, sizeof(s->v[0]), cmp_double);
	*min = s->v[0];
	*max = s->v[s->n - 1];
	*med = s->n % 2 ? s->v[s->n / 2] : (s->v[s->n / 2 - 1] + s->v[s->n / 2]) / 2;
	return *med;
}

/* ---- output --------------------------------------------------------------------- */

static void json_num(const char *key, double v, bool last)
{
	if (isnan(v))
		printf("\"%s\":null%s", key, last ? "" : ",");
	else
		printf("\"%s\":%.6g%s", key, v, last ? "" : ",");
}

/*
 * One record: JSON on stdout, a table row on stderr. @baseline names what the
 * ratio divides by ("target" or another record's name), NULL for none.
 */
static void emit(const char *name, const char *unit, struct samples *s,
		 const char *baseline, double base_value)
{
	double min, med, max, ratio;

	sample_stats(s, &min, &med, &max);
	ratio = baseline && base_value > 0 ? med / base_value : NAN;
	printf("{\"name\":\"%s\",", name);
	json_num("value", med, false);
	printf("\"unit\":\"%s\",", unit);
	if (baseline)
		printf("\"baseline\":\"%s\",", baseline);
	else
		printf("\"baseline\":null,");
	json_num("ratio", ratio, false);
	json_num("min", min, false);
	json_num("median", med, false);
	json_num("max", max, true);
	printf("}\n");
	fflush(stdout);
	fprintf(stderr, "%-34s %12.4g %-15s %-24s %8.3g  [%.4g .. %.4g] n=%d\n", name, med, unit,
		baseline ? baseline : "-", ratio, min, max, s->n);
}

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "ctlbench: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static int libbpf_quiet(enum libbpf_print_level lvl, const char *fmt, va_list ap)
{
	return lvl == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

/* ---- configuration text --------------------------------------------------------- */

struct buf {
	char *p;
	size_t len, cap;
};

static void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			die("vsnprintf failed");
		if ((size_t)n < b->cap - b->len)
			break;
		b->cap = (b->cap + (size_t)n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			die("out of memory");
	}
	b->len += (size_t)n;
}

/* Backend @i (0-based, < 16384) of the whole config: one address of HC_NET each. */
static void backend_addr(unsigned int i, char *s, size_t len)
{
	i += 1;	/* skip 10.99.0.0 */
	snprintf(s, len, "10.99.%u.%u", i >> 8, i & 255);
}

/*
 * A configuration of @nv TCP VIPs with @nb backends each, every backend a
 * distinct address, TCP health checks every second on HC_PORT. Caller frees.
 */
static char *config_text(unsigned int nv, unsigned int nb)
{
	struct buf b = { 0 };
	char a[32];

	buf_printf(&b, "bpffs = \"/sys/fs/bpf/sl-bench\";\n"
		       "interfaces = ( { name = \"eth0\"; } );\n"
		       "source = { ipv4 = \"10.98.0.1\"; };\n"
		       "health = { type = \"tcp\"; port = %d; interval = 1.0; timeout = 0.5; };\n"
		       "vips = (\n", HC_PORT);
	for (unsigned int v = 0; v < nv; v++) {
		buf_printf(&b, "  { name = \"vip%u\"; address = \"10.200.%u.%u\"; port = 80; "
			       "protocol = \"tcp\";\n    backends = (", v, v >> 8, v & 255);
		for (unsigned int j = 0; j < nb; j++) {
			backend_addr(v * nb + j, a, sizeof(a));
			buf_printf(&b, "%s{ address = \"%s\"; }", j ? ", " : " ", a);
		}
		buf_printf(&b, " ); }%s\n", v + 1 < nv ? "," : "");
	}
	buf_printf(&b, ");\n");
	return b.p;
}

static void config_parse(const char *text, struct sl_config *cfg)
{
	char err[512];
	int ret = cfg_parse_string(text, "bench.conf", cfg, err, sizeof(err));

	if (ret)
		die("generated config rejected: %s", err);
}

static struct dp *dp_fresh(__u32 flow_entries)
{
	struct dp_opts o = { .hash_seed = SL_CFG_DEF_HASH_SEED, .flow_entries = flow_entries };
	struct dp *dp = dp_open(&o);

	if (!dp)
		die("dp_open: %s (run as root)", strerror(errno));
	return dp;
}

/* ---- 1. Maglev builds --------------------------------------------------------- */

static double bench_maglev(unsigned int n, int trials)
{
	struct maglev_backend *be = calloc(n, sizeof(*be));
	__u32 *table = malloc(SLUICE_RING_SIZE * sizeof(*table));
	struct samples s = { 0 };
	char name[64], a[32];
	double med, lo, hi;

	if (!be || !table)
		die("out of memory");
	for (unsigned int i = 0; i < n; i++) {
		struct in_addr ia;

		backend_addr(i, a, sizeof(a));
		inet_pton(AF_INET, a, &ia);
		memcpy(be[i].ident, &ia, sizeof(ia));
		be[i].ident[16] = SL_FAMILY_V4;
		be[i].id = i;
		be[i].weight = 100;
	}
	for (int t = -1; t < trials; t++) {	/* one warm-up build, not counted */
		double t0 = now_s();

		if (maglev_build(be, n, table, SLUICE_RING_SIZE))
			die("maglev_build(%u) failed", n);
		if (t >= 0)
			sample_add(&s, (now_s() - t0) * 1e3);
	}
	snprintf(name, sizeof(name), "ctl.maglev_build.n%u", n);
	if (n == 100)
		emit(name, "ms", &s, "target", TARGET_MAGLEV_N100_MS);
	else
		emit(name, "ms", &s, NULL, 0);
	sample_stats(&s, &lo, &med, &hi);
	free(be);
	free(table);
	return med;
}

/* ---- 2. Loading a big configuration --------------------------------------------- */

static void bench_config(int parse_trials, int apply_trials)
{
	struct samples sp = { 0 }, sa = { 0 }, so = { 0 }, st = { 0 };
	char *text = config_text(1000, 10);
	struct sl_config cfg;
	char err[512];

	/* parse only */
	for (int t = 0; t < parse_trials; t++) {
		double t0 = now_s();

		config_parse(text, &cfg);
		sample_add(&sp, (now_s() - t0) * 1e3);
		cfg_free(&cfg);
	}
	/* the whole load: parse, a freshly loaded program (timed apart), apply */
	for (int t = 0; t < apply_trials; t++) {
		struct rt_state *rs = calloc(1, sizeof(*rs));
		double t0, t1, t2, t3;
		struct dp *dp;
		int ret;

		if (!rs)
			die("out of memory");
		t0 = now_s();
		config_parse(text, &cfg);
		t1 = now_s();
		dp = dp_fresh(cfg.flow_table_size);
		t2 = now_s();
		ret = state_apply(rs, dp, NULL, &cfg, err, sizeof(err));
		t3 = now_s();
		if (ret)
			die("state_apply (1000 x 10): %s", err);
		sample_add(&sp, (t1 - t0) * 1e3);
		sample_add(&so, (t2 - t1) * 1e3);
		sample_add(&sa, (t3 - t2) * 1e3);
		sample_add(&st, (t1 - t0 + t3 - t2) * 1e3);
		state_free(rs);
		free(rs);
		dp_close(dp);
		cfg_free(&cfg);
	}
	free(text);
	emit("ctl.config_parse.1000x10", "ms", &sp, NULL, 0);
	emit("ctl.config_apply.1000x10", "ms", &sa, NULL, 0);
	emit("ctl.config_total.1000x10", "ms", &st, "target", TARGET_CFG_TOTAL_MS);
	emit("ctl.dp_open", "ms", &so, NULL, 0);
}

/* ---- 3. A backend goes down: time until the new table is live ------------------- */

static void bench_switch(unsigned int nb, int trials, double maglev_ms)
{
	char *text = config_text(1, nb), err[512], name[64], base[64];
	struct rt_state *rs = calloc(1, sizeof(*rs));
	struct samples s = { 0 };
	struct sl_config cfg;
	struct rt_vip *v;
	struct dp *dp;

	if (!rs)
		die("out of memory");
	config_parse(text, &cfg);
	dp = dp_fresh(1024);
	if (state_apply(rs, dp, NULL, &cfg, err, sizeof(err)))
		die("state_apply (1 x %u): %s", nb, err);
	v = state_vip(rs, cfg.vips[0].name);
	if (!v)
		die("VIP not running after state_apply");
	for (int t = 0; t < trials; t++) {
		struct rt_backend *b = &v->be[(unsigned int)t % v->n_be];
		double t0;

		/* as sluiced's health callback does: mark down, rewrite that one VIP */
		b->down = true;
		t0 = now_s();
		if (state_apply_vip(rs, dp, NULL, &cfg, &cfg.vips[0], err, sizeof(err)))
			die("state_apply_vip: %s", err);
		sample_add(&s, (now_s() - t0) * 1e3);
		b->down = false;
		if (state_apply_vip(rs, dp, NULL, &cfg, &cfg.vips[0], err, sizeof(err)))
			die("state_apply_vip: %s", err);
	}
	snprintf(name, sizeof(name), "ctl.backend_down_switch.n%u", nb);
	snprintf(base, sizeof(base), "ctl.maglev_build.n%u", nb);
	emit(name, "ms", &s, maglev_ms > 0 ? base : NULL, maglev_ms);
	state_free(rs);
	free(rs);
	dp_close(dp);
	cfg_free(&cfg);
	free(text);
}

/* ---- 4. Health-check CPU with 10,000 backends --------------------------------- */

static void ns_cleanup(void)
{
	char cmd[160];

	if (listener_pid > 0) {
		kill(listener_pid, SIGKILL);
		waitpid(listener_pid, NULL, 0);
		listener_pid = 0;
	}
	if (ns_name[0]) {
		snprintf(cmd, sizeof(cmd), "ip netns del %s 2>/dev/null", ns_name);
		if (system(cmd) != 0)
			fprintf(stderr, "ctlbench: could not delete namespace %s\n", ns_name);
		ns_name[0] = '\0';
	}
}

static void on_fatal(int sig)
{
	ns_cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void run(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		die("command failed: %s", cmd);
}

static void write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, val, strlen(val)) < 0)
		fprintf(stderr, "ctlbench: cannot write %s, ignoring\n", path);
	if (fd >= 0)
		close(fd);
}

/* The backends' side: accept and close, so handshakes never wait on a full queue. */
static void listener_main(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(HC_PORT) };
	int one = 1, fd;

	/* the parent owns the namespace: a signal here must not remove it */
	ns_name[0] = '\0';
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 65535)) {
		perror("ctlbench: listener");
		_exit(1);
	}
	for (;;) {
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

		if (c >= 0)
			close(c);
	}
}

/* Accumulates 1 s windows of CPU use (and a counter's rate) after a warm-up. */
struct cpu_meter {
	struct samples cpu, rate;
	double warm, t_win, c_win, t_end;
	__u64 p_win;
	bool warming;
};

static void cpu_meter_start(struct cpu_meter *m, double warm, double seconds, __u64 count)
{
	memset(m, 0, sizeof(*m));
	m->warm = warm;
	m->warming = true;
	m->t_win = now_s();
	m->t_end = m->t_win + warm + seconds;
	m->c_win = cpu_s();
	m->p_win = count;
}

/* Returns false when the run is over. */
static bool cpu_meter_tick(struct cpu_meter *m, __u64 count)
{
	double t = now_s();

	if (t - m->t_win >= (m->warming ? m->warm : 1.0)) {
		double c = cpu_s();

		if (!m->warming) {
			sample_add(&m->cpu, 100.0 * (c - m->c_win) / (t - m->t_win));
			sample_add(&m->rate, (double)(count - m->p_win) / (t - m->t_win));
		}
		m->warming = false;
		m->t_win = t;
		m->c_win = c;
		m->p_win = count;
	}
	return t < m->t_end;
}

static __u64 probes_started;

static void on_probe_start(void *ctx, const char *vip, const struct sl_addr *b, __u64 ms)
{
	probes_started++;
}

/* The health checker itself: 10,000 TCP targets at 1 s, driven like sluiced drives it. */
static void run_health(const struct sl_config *cfg, double warm, double seconds,
		       struct cpu_meter *m, __u64 *checks, __u64 *failures)
{
	struct epoll_event evs[256];
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	struct hc *hc = epfd >= 0 ? hc_open(epfd, NULL, NULL) : NULL;

	if (!hc)
		die("hc_open: %s", strerror(errno));
	hc_set_probe_hook(hc, on_probe_start, NULL);
	if (hc_sync(hc, cfg, NULL))
		die("hc_sync failed");
	cpu_meter_start(m, warm, seconds, probes_started);
	while (cpu_meter_tick(m, probes_started)) {
		int n = epoll_wait(epfd, evs, 256, 50);

		for (int i = 0; i < n; i++) {
			struct ev_source *src = evs[i].data.ptr;

			src->fn(src, evs[i].events);
		}
	}
	*checks = *failures = 0;
	for (__u32 i = 0; i < cfg->n_vips; i++)
		for (__u32 j = 0; j < cfg->vips[i].n_backends; j++) {
			struct hc_info inf;

			if (!hc_info(hc, cfg->vips[i].name, &cfg->vips[i].backends[j].addr, &inf)) {
				*checks += inf.checks;
				*failures += inf.failures;
			}
		}
	hc_close(hc);
	close(epfd);
}

/*
 * The same-run baseline: the bare kernel work of the same probes. Every
 * millisecond a timerfd starts the next 1/1000 of the targets; each is a
 * non-blocking connect that is closed with RST once it completes, exactly
 * what a TCP probe does, without the module's bookkeeping.
 */
#define BARE_MAX_FD	65536
static unsigned char bare_open[BARE_MAX_FD];	/* fds of connects in flight */

static void run_bare(unsigned int ntargets, double warm, double seconds, struct cpu_meter *m)
{
	struct itimerspec its = { .it_interval = { 0, 1000000 }, .it_value = { 0, 1000000 } };
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = -1 }, evs[256];
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	__u64 done = 0, ticks = 0;
	unsigned int next = 0;
	char a[32];

	if (epfd < 0 || tfd < 0 || timerfd_settime(tfd, 0, &its, NULL) ||
	    epoll_ctl(epfd, EPOLL_CTL_ADD, tfd, &ev))
		die("bare connect loop: %s", strerror(errno));
	cpu_meter_start(m, warm, seconds, 0);
	while (cpu_meter_tick(m, done)) {
		int n = epoll_wait(epfd, evs, 256, 50);

		for (int i = 0; i < n; i++) {
			__u64 exp;

			if (evs[i].data.fd >= 0) {	/* a connect finished: RST it */
				int fd = evs[i].data.fd, err = 0;
				socklen_t l = sizeof(err);

				getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l);
				epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
				close(fd);
				bare_open[fd] = 0;
				done++;
				continue;
			}
			if (read(tfd, &exp, sizeof(exp)) != sizeof(exp))
				continue;
			ticks += exp;
			/* start the targets due by now: ntargets per 1000 ticks */
			while (next < ticks * ntargets / 1000) {
				struct sockaddr_in sa = { .sin_family = AF_INET,
							  .sin_port = htons(HC_PORT) };
				struct epoll_event pev = { .events = EPOLLOUT };
				int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

				backend_addr(next++ % ntargets, a, sizeof(a));
				inet_pton(AF_INET, a, &sa.sin_addr);
				if (fd < 0)
					continue;
				if (fd >= BARE_MAX_FD) {
					close(fd);
					continue;
				}
				setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
				pev.data.fd = fd;
				if ((connect(fd, (struct sockaddr *)&sa, sizeof(sa)) &&
				     errno != EINPROGRESS) ||
				    epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &pev))
					close(fd);
				else
					bare_open[fd] = 1;
			}
		}
	}
	close(tfd);
	close(epfd);
	for (int fd = 0; fd < BARE_MAX_FD; fd++)	/* connects still in flight */
		if (bare_open[fd])
			close(fd);
	memset(bare_open, 0, sizeof(bare_open));
}

static void bench_health(double seconds)
{
	struct cpu_meter hm, bm;
	struct samples fails = { 0 };
	__u64 checks, failures;
	double warm = quick ? 0.5 : 1.0, lo, hi, bare_med;
	int ns_fd, home_fd;
	struct sl_config cfg;
	char path[128], *text;

	snprintf(ns_name, sizeof(ns_name), "sl-bench-%d-hc", (int)getpid());
	run("ip netns add %s", ns_name);
	run("ip -n %s link set lo up", ns_name);
	/* Every address of HC_NET is local: one address per backend, no 10,000 ip-addr calls. */
	run("ip -n %s route add local %s dev lo", ns_name, HC_NET);

	home_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), "/var/run/netns/%s", ns_name);
	ns_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (home_fd < 0 || ns_fd < 0 || setns(ns_fd, CLONE_NEWNET))
		die("entering namespace %s: %s", ns_name, strerror(errno));
	close(ns_fd);
	write_file("/proc/sys/net/core/somaxconn", "65535");
	write_file("/proc/sys/net/ipv4/ip_local_port_range", "1024 65000");

	listener_pid = fork();
	if (listener_pid < 0)
		die("fork: %s", strerror(errno));
	if (listener_pid == 0)
		listener_main();
	usleep(100000);		/* the listener binds in well under 100 ms */

	text = config_text(1000, 10);
	config_parse(text, &cfg);
	free(text);
	run_health(&cfg, warm, seconds, &hm, &checks, &failures);
	run_bare(cfg.n_backends, warm, quick ? 2.0 : 5.0, &bm);
	cfg_free(&cfg);
	if (setns(home_fd, CLONE_NEWNET))
		die("leaving namespace: %s", strerror(errno));
	close(home_fd);
	ns_cleanup();

	sample_add(&fails, checks ? 100.0 * (double)failures / (double)checks : 100.0);
	sample_stats(&bm.cpu, &lo, &bare_med, &hi);
	emit("ctl.health_cpu_bare.10k_tcp_1s", "% of one core", &bm.cpu, NULL, 0);
	emit("ctl.health_cpu.10k_tcp_1s", "% of one core", &hm.cpu,
	     "ctl.health_cpu_bare.10k_tcp_1s", bare_med);
	emit("ctl.health_probes.10k_tcp_1s", "probes/s", &hm.rate, NULL, 0);
	emit("ctl.health_fail.10k_tcp_1s", "% of probes", &fails, NULL, 0);
	if (checks == 0 || failures * 100 > checks)
		fprintf(stderr, "ctlbench: %llu of %llu probes failed: the CPU figure is suspect\n",
			(unsigned long long)failures, (unsigned long long)checks);
}

int main(int argc, char **argv)
{
	const char *q = getenv("QUICK");
	double m10, m100;

	quick = q && *q && strcmp(q, "0");
	if (geteuid() != 0)
		die("must run as root (BPF maps, network namespaces)");
	libbpf_set_print(libbpf_quiet);
	atexit(ns_cleanup);
	signal(SIGINT, on_fatal);
	signal(SIGTERM, on_fatal);
	signal(SIGSEGV, on_fatal);
	signal(SIGABRT, on_fatal);
	setvbuf(stdout, NULL, _IOLBF, 0);
	fprintf(stderr, "%-34s %12s %-15s %-24s %8s  [min .. max] trials\n", "name", "median",
		"unit", "baseline", "ratio");

	m10 = bench_maglev(10, quick ? 5 : 30);
	m100 = bench_maglev(100, quick ? 5 : 30);
	bench_maglev(1000, quick ? 3 : 15);
	bench_config(quick ? 2 : 5, quick ? 1 : 3);
	bench_switch(10, quick ? 10 : 50, m10);
	bench_switch(100, quick ? 10 : 50, m100);
	bench_health(quick ? 3.0 : 10.0);
	return 0;
}
