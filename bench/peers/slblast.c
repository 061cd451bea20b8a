// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Closed-loop load generator for the peer benchmarks: UDP requests/s and TCP connections/s. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

/*
 * Usage:
 *   slblast udp ADDR:PORT [--sockets S] [--window W] [--duration SEC] [--warmup-ms MS]
 *   slblast tcp ADDR:PORT [--conns C] [--duration SEC] [--warmup-ms MS] [--timeout-ms MS]
 *
 * udp: S connected sockets (S source ports, so S flows) keep W requests in
 * flight in all; each reply lets another request go. A socket that hears
 * nothing for 20 ms writes its outstanding requests off as lost.
 * tcp: C connections at a time, each: connect, "hello\n", read the one-line
 * reply, close with RST (no TIME_WAIT); then the slot starts again.
 * Output (stdout): "interval <ok/s> <failed/s> <cpu>" per second after the warm-up,
 * where <cpu> is the busy CPU seconds per second of the whole machine (every
 * core: the client, the balancer and the servers, from /proc/stat),
 * "backend NAME N" per answering backend, and a "total ..." line.
 * Every run is bounded by --duration (at most 60 s) plus the warm-up.
 */

#define MAX_SOCKS	1024
#define BATCH		32
#define MAX_NAMES	16
#define UDP_STALL_MS	20

static volatile sig_atomic_t stop;
static struct sockaddr_storage dst;
static socklen_t dst_len;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_signal(int sig)
{
	stop = 1;
}

static void usage(void)
{
	fprintf(stderr, "usage: slblast udp ADDR:PORT [--sockets S] [--window W] "
			"[--duration SEC] [--warmup-ms MS]\n"
			"       slblast tcp ADDR:PORT [--conns C] [--duration SEC] "
			"[--warmup-ms MS] [--timeout-ms MS]\n");
	exit(2);
}

/* "a.b.c.d:port" or "[v6]:port". Returns 0 or -1. */
static int parse_dst(const char *s)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	int port;

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -1;
	port = atoi(colon + 1);
	if (port <= 0 || port > 65535)
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	memset(&dst, 0, sizeof(dst));
	if (host[0] == '[') {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&dst;
		size_t l = strlen(host);

		if (l < 3 || host[l - 1] != ']')
			return -1;
		host[l - 1] = '\0';
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((unsigned short)port);
		dst_len = sizeof(*a);
		return inet_pton(AF_INET6, host + 1, &a->sin6_addr) == 1 ? 0 : -1;
	}
	struct sockaddr_in *a = (struct sockaddr_in *)&dst;

	a->sin_family = AF_INET;
	a->sin_port = htons((unsigned short)port);
	dst_len = sizeof(*a);
	return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : -1;
}

/* Replies per backend name (the first word of each reply). */
static struct {
	char name[32];
	unsigned long n;
} names[MAX_NAMES];

static void count_name(const char *p, size_t len)
{
	size_t l = 0;

	while (l < len && l < sizeof(names[0].name) - 1 && p[l] != ' ' && p[l] != '\n')
		l++;
	for (int i = 0; i < MAX_NAMES; i++) {
		if (!names[i].name[0]) {
			memcpy(names[i].name, p, l);
			names[i].name[l] = '\0';
		}
		if (strlen(names[i].name) == l && !memcmp(names[i].name, p, l)) {
			names[i].n++;
			return;
		}
	}
}

/* Busy CPU seconds of the whole machine so far (all cores), from /proc/stat. */
static double cpu_busy_s(void)
{
	unsigned long long v[8] = { 0 };
	FILE *f = fopen("/proc/stat", "r");
	int n;

	if (!f)
		return 0;
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
		   &v[3], &v[4], &v[5], &v[6], &v[7]);
	fclose(f);
	if (n < 8)
		return 0;
	/* user, nice, system, irq, softirq; not idle, iowait or steal (the hypervisor's) */
	return (double)(v[0] + v[1] + v[2] + v[5] + v[6]) / (double)sysconf(_SC_CLK_TCK);
}

/* Interval bookkeeping shared by both modes. */
struct meter {
	double start, warm_end, end, next, cpu_i, cpu0;
	unsigned long ok, fail;		/* since the end of the warm-up */
	unsigned long ok_i, fail_i;	/* this interval */
	bool measuring;
};

static void meter_init(struct meter *m, double warm_s, double dur_s)
{
	memset(m, 0, sizeof(*m));
	m->start = now_s();
	m->warm_end = m->start + warm_s;
	m->end = m->warm_end + dur_s;
	m->next = m->warm_end + 1.0;
}

static void meter_count(struct meter *m, unsigned long ok, unsigned long fail)
{
	if (!m->measuring)
		return;
	m->ok += ok;
	m->fail += fail;
	m->ok_i += ok;
	m->fail_i += fail;
}

/* Returns false when the run is over. */
static bool meter_tick(struct meter *m)
{
	double t = now_s();

	if (!m->measuring && t >= m->warm_end) {
		m->measuring = true;
		m->ok_i = m->fail_i = 0;
		m->cpu_i = m->cpu0 = cpu_busy_s();
		for (int i = 0; i < MAX_NAMES; i++)
			names[i].n = 0;
	}
	if (m->measuring && t >= m->next && m->next <= m->end + 1e-9) {
		double c = cpu_busy_s();

		printf("interval %lu %lu %.3f\n", m->ok_i, m->fail_i, c - m->cpu_i);
		m->cpu_i = c;
		m->ok_i = m->fail_i = 0;
		m->next += 1.0;
	}
	return !stop && t < m->end;
}

static void meter_done(struct meter *m, const char *what)
{
	double el = now_s() - m->warm_end;

	for (int i = 0; i < MAX_NAMES && names[i].name[0]; i++)
		printf("backend %s %lu\n", names[i].name, names[i].n);
	printf("total %s ok %lu failed %lu elapsed_s %.3f rate %.1f cpu_s %.2f\n", what, m->ok,
	       m->fail, el, el > 0 ? (double)m->ok / el : 0.0, cpu_busy_s() - m->cpu0);
}

/* ---- UDP ---------------------------------------------------------------------- */

struct usock {
	int fd;
	unsigned int out;	/* requests in flight */
	double last_rx;		/* when it last heard a reply (or started waiting) */
};

static int run_udp(int nsock, int window, double dur, double warm)
{
	static struct usock s[MAX_SOCKS];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	static char rbuf[BATCH][256];
	char req[] = "bench\n";
	struct epoll_event evs[64];
	unsigned int per = (unsigned int)(window / nsock > 0 ? window / nsock : 1);
	unsigned long sent = 0, lost = 0;
	struct meter m;
	int ep = epoll_create1(0);

	for (int i = 0; i < nsock; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (unsigned int)i };
		int buf = 1 << 20;

		s[i].fd = socket(dst.ss_family, SOCK_DGRAM | SOCK_NONBLOCK, 0);
		if (s[i].fd < 0 || connect(s[i].fd, (struct sockaddr *)&dst, dst_len)) {
			perror("slblast: udp socket");
			return 1;
		}
		setsockopt(s[i].fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
		epoll_ctl(ep, EPOLL_CTL_ADD, s[i].fd, &ev);
	}
	meter_init(&m, warm, dur);
	while (meter_tick(&m)) {
		double t = now_s();
		int n;

		for (int i = 0; i < nsock; i++) {
			unsigned int want = per - s[i].out, k;

			if (s[i].out && (t - s[i].last_rx) * 1e3 > UDP_STALL_MS) {
				lost += s[i].out;
				meter_count(&m, 0, s[i].out);
				s[i].out = 0;
				want = per;
			}
			if (!want)
				continue;
			if (want > BATCH)
				want = BATCH;
			for (k = 0; k < want; k++) {
				iov[k].iov_base = req;
				iov[k].iov_len = sizeof(req) - 1;
				memset(&msgs[k], 0, sizeof(msgs[k]));
				msgs[k].msg_hdr.msg_iov = &iov[k];
				msgs[k].msg_hdr.msg_iovlen = 1;
			}
			n = sendmmsg(s[i].fd, msgs, want, MSG_DONTWAIT);
			if (n > 0) {
				if (!s[i].out)
					s[i].last_rx = t;
				s[i].out += (unsigned int)n;
				sent += (unsigned long)n;
			}
		}
		n = epoll_wait(ep, evs, 64, 1);
		for (int e = 0; e < n; e++) {
			struct usock *u = &s[evs[e].data.u32];
			int r;

			for (int k = 0; k < BATCH; k++) {
				iov[k].iov_base = rbuf[k];
				iov[k].iov_len = sizeof(rbuf[k]);
				memset(&msgs[k], 0, sizeof(msgs[k]));
				msgs[k].msg_hdr.msg_iov = &iov[k];
				msgs[k].msg_hdr.msg_iovlen = 1;
			}
			r = recvmmsg(u->fd, msgs, BATCH, MSG_DONTWAIT, NULL);
			if (r <= 0)
				continue;
			for (int k = 0; k < r; k++)
				count_name(rbuf[k], msgs[k].msg_len);
			u->out = u->out > (unsigned int)r ? u->out - (unsigned int)r : 0;
			u->last_rx = now_s();
			meter_count(&m, (unsigned long)r, 0);
		}
	}
	printf("sent %lu lost %lu\n", sent, lost);
	meter_done(&m, "udp");
	return 0;
}

/* ---- TCP ---------------------------------------------------------------------- */

enum { C_IDLE, C_CONNECT, C_READ };

struct tconn {
	int fd;
	int state;
	double deadline;
	size_t got;
	char buf[128];
};

static void tcp_close(int ep, struct tconn *c)
{
	if (c->fd >= 0) {
		epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	c->fd = -1;
	c->state = C_IDLE;
}

/* Start connection @i. Returns 0, or -1 when it failed at once. */
static int tcp_start(int ep, struct tconn *c, unsigned int i, double timeout_s)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	struct epoll_event ev = { .events = EPOLLOUT, .data.u32 = i };
	int one = 1;

	c->fd = socket(dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (c->fd < 0)
		return -1;
	setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	setsockopt(c->fd, IPPROTO_TCP, 1 /* TCP_NODELAY */, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&dst, dst_len) && errno != EINPROGRESS) {
		tcp_close(ep, c);
		return -1;
	}
	epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
	c->state = C_CONNECT;
	c->got = 0;
	c->deadline = now_s() + timeout_s;
	return 0;
}

static int run_tcp(int nconn, double dur, double warm, double timeout_s)
{
	static struct tconn c[MAX_SOCKS];
	struct epoll_event evs[128];
	struct meter m;
	int ep = epoll_create1(0);
	double next_scan = 0;

	for (int i = 0; i < nconn; i++)
		c[i].fd = -1;
	meter_init(&m, warm, dur);
	while (meter_tick(&m)) {
		double t = now_s();
		int n;

		for (int i = 0; i < nconn; i++) {
			if (c[i].state == C_IDLE && tcp_start(ep, &c[i], (unsigned int)i, timeout_s))
				meter_count(&m, 0, 1);
		}
		if (t >= next_scan) {
			for (int i = 0; i < nconn; i++)
				if (c[i].state != C_IDLE && t > c[i].deadline) {
					tcp_close(ep, &c[i]);
					meter_count(&m, 0, 1);
				}
			next_scan = t + 0.01;
		}
		n = epoll_wait(ep, evs, 128, 1);
		for (int e = 0; e < n; e++) {
			struct tconn *k = &c[evs[e].data.u32];
			int err = 0;
			socklen_t el = sizeof(err);
			ssize_t r;

			if (k->state == C_CONNECT) {
				struct epoll_event ev = { .events = EPOLLIN, .data.u32 = evs[e].data.u32 };

				getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &err, &el);
				if (err || send(k->fd, "hello\n", 6, MSG_NOSIGNAL) != 6) {
					tcp_close(ep, k);
					meter_count(&m, 0, 1);
					continue;
				}
				epoll_ctl(ep, EPOLL_CTL_MOD, k->fd, &ev);
				k->state = C_READ;
			} else if (k->state == C_READ) {
				r = recv(k->fd, k->buf + k->got, sizeof(k->buf) - 1 - k->got, 0);
				if (r < 0 && errno == EAGAIN)
					continue;
				if (r <= 0) {
					tcp_close(ep, k);
					meter_count(&m, 0, 1);
					continue;
				}
				k->got += (size_t)r;
				if (!memchr(k->buf, '\n', k->got) && k->got < sizeof(k->buf) - 1)
					continue;
				k->buf[k->got] = '\0';
				if (strstr(k->buf, " hello\n")) {
					if (m.measuring)
						count_name(k->buf, k->got);
					meter_count(&m, 1, 0);
				} else {
					meter_count(&m, 0, 1);
				}
				tcp_close(ep, k);
			}
		}
	}
	for (int i = 0; i < nconn; i++)
		tcp_close(ep, &c[i]);
	meter_done(&m, "tcp");
	return 0;
}

int main(int argc, char **argv)
{
	int sockets = 64, window = 256, conns = 64;
	double dur = 5, warm = 0.5, timeout = 1.0;
	struct rlimit rl = { 65536, 65536 };

	if (argc < 3 || parse_dst(argv[2]))
		usage();
	for (int i = 3; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		if (!strcmp(argv[i], "--sockets"))
			sockets = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--window"))
			window = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--conns"))
			conns = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--duration"))
			dur = atof(argv[++i]);
		else if (!strcmp(argv[i], "--warmup-ms"))
			warm = atof(argv[++i]) / 1000.0;
		else if (!strcmp(argv[i], "--timeout-ms"))
			timeout = atof(argv[++i]) / 1000.0;
		else
			usage();
	}
	if (sockets < 1 || sockets > MAX_SOCKS || conns < 1 || conns > MAX_SOCKS ||
	    window < 1 || dur <= 0 || dur > 60 || warm < 0 || warm > 10 || timeout <= 0)
		usage();
	setrlimit(RLIMIT_NOFILE, &rl);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(argv[1], "udp"))
		return run_udp(sockets, window, dur, warm);
	if (!strcmp(argv[1], "tcp"))
		return run_tcp(conns, dur, warm, timeout);
	usage();
	return 2;
}
