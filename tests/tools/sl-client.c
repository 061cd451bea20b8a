// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* sl-client: bounded TCP/UDP traffic to a VIP that reports which backend answered and fails loudly. */
#define _GNU_SOURCE
#include <getopt.h>
#include <poll.h>
#include <unistd.h>
#include <sys/epoll.h>
#include "sl-tool.h"

#define MAX_COUNT	1000000
#define MAX_DURATION_S	600
#define MAX_CONNS	100000		/* tcp-long: one fd and one source port each */
#define MAX_RATE	100000.0	/* tcp-stream connections per second */
#define MAX_INFLIGHT	50000		/* tcp-stream: beyond this a start counts as failed */
#define MAX_TIMEOUT_MS	60000
#define MAX_INTERVAL_MS	600000
#define NAME_LEN	64		/* sl-server's limit on --name */
#define MAX_BACKENDS	256
#define FAIL_PRINT_MAX	50		/* spread/stream: failure lines on stdout before going quiet */
#define BURST		1000		/* connections started per loop pass, so events are still served */
#define EVENTS		256

enum mode { M_TCP_SPREAD, M_UDP_SPREAD, M_TCP_LONG, M_TCP_STREAM, M_NR };

static const char *const mode_names[M_NR] = { "tcp-spread", "udp-spread", "tcp-long", "tcp-stream" };

static struct {
	enum mode mode;
	struct sockaddr_storage vip;
	socklen_t vip_len;
	struct sockaddr_storage src;
	socklen_t src_len;
	bool has_src;
	long count, timeout_ms, same_port, port_base, conns, interval_ms, duration_s;
	double rate;
	const char *status_file, *log_file;
} o = { .timeout_ms = 2000, .same_port = -1, .port_base = -1, .duration_s = -1 };

struct backend {
	char name[NAME_LEN + 1];
	unsigned long n;	/* successes (spread/stream) or connections (long) */
	unsigned long sec;	/* tcp-stream: successes in the current second */
	unsigned long lines;	/* tcp-long: good lines */
};

static struct backend backends[MAX_BACKENDS];
static int nbackends;
static int epfd, sigfd;
static int signals;		/* SIGTERM/SIGINT received */
static uint64_t t0_ns;
static unsigned long n_ok, n_failed, fails_printed;
static FILE *fail_log;		/* --log */

static unsigned long long wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (unsigned long long)ts.tv_sec * 1000 + (unsigned long long)ts.tv_nsec / 1000000;
}

static double elapsed_s(void)
{
	return (double)(mono_ns() - t0_ns) / 1e9;
}

/* Milliseconds from now until t (monotonic ms), as an epoll timeout. */
static int wait_ms(uint64_t t, uint64_t now)
{
	if (t <= now)
		return 0;
	return t - now > 1000 ? 1000 : (int)(t - now);
}

static void set_port(struct sockaddr_storage *ss, unsigned port)
{
	if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
	else
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
}

/* Source port of operation @i: --same-port, --src-port-base + i (wrapping), or 0 (the kernel picks). */
static unsigned source_port(unsigned long i)
{
	if (o.same_port >= 0)
		return (unsigned)o.same_port;
	if (o.port_base >= 0)
		return (unsigned)(o.port_base + (long)(i % (unsigned long)(65536 - o.port_base)));
	return 0;
}

/* Bind to --src and/or source port @port, if either is set. Returns 0 or -1 with errno set. */
static int bind_source(int fd, unsigned port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1;

	if (!o.has_src && !port)
		return 0;
	if (o.has_src) {
		ss = o.src;
		len = o.src_len;
	} else {
		memset(&ss, 0, sizeof(ss));
		ss.ss_family = o.vip.ss_family;
		len = o.vip_len;
	}
	set_port(&ss, port);
	/* --same-port: the port is taken again as soon as the previous operation ends. */
	if (o.same_port >= 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		return -1;
	return bind(fd, (struct sockaddr *)&ss, len);
}

/* A non-blocking socket of @type (SOCK_STREAM, SOCK_DGRAM) for operation @i, connected (TCP:
 * connecting) to the VIP. Returns the fd, or -1 with errno set and *step naming the failed call. */
static int open_to_vip(int type, unsigned long i, const char **step)
{
	int fd, err;

	*step = "socket";
	fd = socket(o.vip.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	*step = "bind";
	if (!bind_source(fd, source_port(i))) {
		*step = "connect";
		if (!connect(fd, (struct sockaddr *)&o.vip, o.vip_len) || errno == EINPROGRESS)
			return fd;
	}
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

/* A non-blocking connect has finished: 0, or why it failed. */
static int connect_result(int fd)
{
	socklen_t len = sizeof(int);
	int err = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len))
		return errno;
	return err;
}

static struct backend *backend_find(const char *name, size_t len)
{
	int i;

	for (i = 0; i < nbackends; i++)
		if (strlen(backends[i].name) == len && !memcmp(backends[i].name, name, len))
			return &backends[i];
	return NULL;
}

static struct backend *backend_get(const char *name, size_t len)
{
	struct backend *b = backend_find(name, len);

	if (b)
		return b;
	/* More names than expected means something is badly wrong; still count them, in the last slot. */
	if (nbackends >= MAX_BACKENDS - 1) {
		name = "(other)";
		len = strlen(name);
		b = backend_find(name, len);
		if (b)
			return b;
	}
	b = &backends[nbackends++];
	memcpy(b->name, name, len);
	b->name[len] = '\0';
	return b;
}

static int backend_cmp(const void *a, const void *b)
{
	return strcmp(((const struct backend *)a)->name, ((const struct backend *)b)->name);
}

/* A reply is "NAME PAYLOAD": returns the length of NAME, or -1 if it is not that. */
static int check_reply(const char *r, size_t rlen, const char *payload, size_t plen)
{
	const char *sp = memchr(r, ' ', rlen);
	size_t nlen;

	if (!sp)
		return -1;
	nlen = (size_t)(sp - r);
	if (!nlen || nlen > NAME_LEN || rlen - nlen - 1 != plen || memcmp(sp + 1, payload, plen))
		return -1;
	return (int)nlen;
}

/* Quote a reply for a message: printable, short. */
static const char *quote(const char *r, size_t len)
{
	static char buf[72];
	size_t i, n = len < 60 ? len : 60;

	for (i = 0; i < n; i++)
		buf[i] = r[i] >= 0x20 && r[i] < 0x7f ? r[i] : '.';
	strcpy(buf + n, len > n ? "..." : "");
	return buf;
}

/* One failed operation: counted, printed (spread/stream: only the first ones), logged. */
static void failure(unsigned long id, unsigned long long start_wall, const char *fmt, ...)
{
	unsigned long long now_wall = wall_ms();
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	n_failed++;
	if (fail_log)
		fprintf(fail_log, "%llu start=%llu conn=%lu %s\n", now_wall, start_wall, id, msg);
	if (fails_printed < FAIL_PRINT_MAX)
		printf("fail t=%.3f wall=%llu conn=%lu %s\n", elapsed_s(), now_wall, id, msg);
	else if (fails_printed == FAIL_PRINT_MAX)
		printf("fail t=%.3f further failures are counted but not printed\n", elapsed_s());
	fails_printed++;
}

/* Returns true once SIGTERM/SIGINT has arrived (counted in signals). */
static bool read_signals(void)
{
	struct signalfd_siginfo si;

	while (read(sigfd, &si, sizeof(si)) == sizeof(si))
		signals++;
	return signals > 0;
}

static void print_summary(unsigned long total)
{
	int i;

	qsort(backends, (size_t)nbackends, sizeof(backends[0]), backend_cmp);
	for (i = 0; i < nbackends; i++)
		printf("backend %s %lu\n", backends[i].name, backends[i].n);
	printf("total %lu ok %lu failed %lu\n", total, n_ok, n_failed);
}

/* Spread modes: the --count - @attempted operations never tried (time ran out, or a signal)
 * count as failed; then the summary and the exit code. */
static int spread_end(unsigned long attempted, const char *what)
{
	unsigned long left = (unsigned long)o.count - attempted;

	if (left) {
		n_failed += left;
		printf("fail t=%.3f %lu %s not attempted (%s)\n", elapsed_s(), left, what,
		       signals ? "interrupted" : "--duration reached");
	}
	print_summary((unsigned long)o.count);
	return n_failed ? 1 : 0;
}

/* ---- tcp-spread and tcp-stream: short connections, "hello\n" -> "NAME hello\n" ---- */

enum { S_CONNECT, S_REPLY };

struct sconn {
	struct sconn *prev, *next;	/* in-flight list, oldest first: same timeout, so deadline order */
	int fd;
	int state;
	unsigned long id;
	uint64_t start_ms;
	unsigned long long start_wall;
	unsigned rlen;
	char rbuf[128];
};

static struct sconn *sc_head, *sc_tail;
static unsigned long inflight;

static void sc_done(struct sconn *c, const char *name, int nlen, const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	if (c->fd >= 0)
		close(c->fd);	/* SO_LINGER {1,0}: RST, no TIME_WAIT eating source ports */
	if (c->prev)
		c->prev->next = c->next;
	else
		sc_head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		sc_tail = c->prev;
	inflight--;
	if (name) {
		struct backend *b = backend_get(name, (size_t)nlen);

		b->n++;
		b->sec++;
		n_ok++;
	} else {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		failure(c->id, c->start_wall, "%s", msg);
	}
	free(c);
}

static void sc_start(unsigned long id)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	struct epoll_event ev = { .events = EPOLLOUT };
	struct sconn *c = calloc(1, sizeof(*c));
	const char *step;

	if (!c)
		die(1, "out of memory");
	c->id = id;
	c->start_ms = mono_ms();
	c->start_wall = wall_ms();
	c->state = S_CONNECT;
	c->prev = sc_tail;
	if (sc_tail)
		sc_tail->next = c;
	else
		sc_head = c;
	sc_tail = c;
	inflight++;

	c->fd = open_to_vip(SOCK_STREAM, id, &step);
	if (c->fd < 0) {
		sc_done(c, NULL, 0, "%s: %s", step, strerror(errno));
		return;
	}
	/* Reset on close: the next connection may reuse the port (--same-port) at once. */
	setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	ev.data.ptr = c;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev))
		die(1, "epoll_ctl: %s", strerror(errno));
}

static void sc_event(struct sconn *c)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
	char *nl;
	ssize_t n;
	int err;

	if (c->state == S_CONNECT) {
		err = connect_result(c->fd);
		if (err) {
			sc_done(c, NULL, 0, "connect: %s", strerror(err));
			return;
		}
		n = send(c->fd, "hello\n", 6, MSG_NOSIGNAL);
		if (n != 6) {
			sc_done(c, NULL, 0, "send: %s", n < 0 ? strerror(errno) : "short");
			return;
		}
		c->state = S_REPLY;
		epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
		return;
	}
	for (;;) {
		n = recv(c->fd, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				sc_done(c, NULL, 0, "recv: %s", strerror(errno));
			return;
		}
		if (n == 0) {
			sc_done(c, NULL, 0, "connection closed before the reply ('%s')",
				quote(c->rbuf, c->rlen));
			return;
		}
		c->rlen += (unsigned)n;
		nl = memchr(c->rbuf, '\n', c->rlen);
		if (nl) {
			int nlen = check_reply(c->rbuf, (size_t)(nl - c->rbuf), "hello", 5);

			if (nlen < 0 || (size_t)(nl - c->rbuf) + 1 != c->rlen)
				sc_done(c, NULL, 0, "bad reply '%s'", quote(c->rbuf, c->rlen));
			else
				sc_done(c, c->rbuf, nlen, NULL);
			return;
		}
		if (c->rlen == sizeof(c->rbuf)) {
			sc_done(c, NULL, 0, "reply too long ('%s')", quote(c->rbuf, c->rlen));
			return;
		}
	}
}

static void sc_expire(uint64_t now)
{
	while (sc_head && sc_head->start_ms + (uint64_t)o.timeout_ms <= now)
		sc_done(sc_head, NULL, 0, "timeout after %ld ms %s", o.timeout_ms,
			sc_head->state == S_CONNECT ? "connecting" : "waiting for the reply");
}

/* tcp-stream: the line for second @t, the completions since the previous line. */
static void stream_second(unsigned long t, unsigned long *ok, unsigned long *failed, unsigned long *started)
{
	char list[4096];
	size_t len = 0;
	int i;

	list[0] = '\0';
	for (i = 0; i < nbackends; i++) {
		if (!backends[i].sec)
			continue;
		if (len < sizeof(list) - 1)
			len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s:%lu",
						len ? "," : "", backends[i].name, backends[i].sec);
		backends[i].sec = 0;
	}
	printf("t=%lu ok=%lu failed=%lu backends=%s started=%lu inflight=%lu\n",
	       t, n_ok - *ok, n_failed - *failed, list, *started, inflight);
	fflush(stdout);
	*ok = n_ok;
	*failed = n_failed;
	*started = 0;
}

static int run_short(bool stream)
{
	struct epoll_event evs[EVENTS];
	unsigned long started = 0, sec_ok = 0, sec_failed = 0, sec_started = 0, sec = 1;
	uint64_t now, end, next;
	double run_s = 0;
	bool stopping = false;
	int i, n, burst;

	end = t0_ns / 1000000 + (uint64_t)o.duration_s * 1000;
	for (;;) {
		now = mono_ms();
		if (!stopping && (signals || now >= end || (!stream && started == (unsigned long)o.count))) {
			stopping = true;
			run_s = elapsed_s();
		}
		if (!stopping) {
			for (burst = 0; burst < BURST; burst++) {
				if (stream) {
					unsigned long due = (unsigned long)((double)(mono_ns() - t0_ns) / 1e9 * o.rate) + 1;

					if (started >= due)
						break;
				} else if (inflight || started == (unsigned long)o.count) {
					break;
				}
				started++;
				sec_started++;
				if (inflight >= MAX_INFLIGHT) {
					failure(started - 1, wall_ms(), "not started: %d connections in flight",
						MAX_INFLIGHT);
					continue;
				}
				sc_start(started - 1);
			}
		}
		if (stopping && !inflight)
			break;

		next = stopping ? now + 1000 : end;
		if (sc_head && sc_head->start_ms + (uint64_t)o.timeout_ms < next)
			next = sc_head->start_ms + (uint64_t)o.timeout_ms;
		if (stream) {
			uint64_t ns = t0_ns + (uint64_t)((double)started / o.rate * 1e9);

			if (!stopping && ns / 1000000 < next)
				next = ns / 1000000;
			if (t0_ns / 1000000 + sec * 1000 < next)
				next = t0_ns / 1000000 + sec * 1000;
		} else if (!stopping && !inflight) {
			next = now;
		}
		n = epoll_wait(epfd, evs, EVENTS, wait_ms(next, now));
		if (n < 0 && errno != EINTR)
			die(1, "epoll_wait: %s", strerror(errno));
		for (i = 0; i < n; i++) {
			if (evs[i].data.ptr)
				sc_event(evs[i].data.ptr);
			else
				read_signals();
		}
		/* A second signal: stop waiting for the connections in flight. */
		if (signals > 1)
			while (sc_head)
				sc_done(sc_head, NULL, 0, "interrupted");
		sc_expire(mono_ms());
		while (stream && mono_ns() >= t0_ns + sec * 1000000000ull)
			stream_second(sec++, &sec_ok, &sec_failed, &sec_started);
	}
	if (stream) {
		/* The second in progress (possibly partial): always labelled by its end. */
		if (n_ok != sec_ok || n_failed != sec_failed || sec_started)
			stream_second(sec, &sec_ok, &sec_failed, &sec_started);
		print_summary(started);
		printf("elapsed_s %.3f started %lu rate %.1f/s\n", run_s, started,
		       run_s > 0 ? (double)started / run_s : 0.0);
		return n_failed ? 1 : 0;
	}
	return spread_end(started, "connections");
}

/* ---- udp-spread: one datagram per source port, "hello I\n" -> "NAME hello I\n" ---- */

static int run_udp(void)
{
	uint64_t end = mono_ms() + (uint64_t)o.duration_s * 1000, deadline, now;
	unsigned long i, stale;
	char payload[32], rbuf[256];
	struct pollfd pfd[2];
	const char *step;
	int fd, plen, nlen;
	ssize_t n;

	for (i = 0; i < (unsigned long)o.count; i++) {
		unsigned long long start_wall = wall_ms();

		if (read_signals() || mono_ms() >= end)
			break;
		/* Connected: only datagrams from the VIP itself are accepted, as a real client would. */
		fd = open_to_vip(SOCK_DGRAM, i, &step);
		if (fd < 0) {
			failure(i, start_wall, "%s (source port %u): %s", step, source_port(i),
				strerror(errno));
			continue;
		}
		plen = snprintf(payload, sizeof(payload), "hello %lu\n", i);
		if (send(fd, payload, (size_t)plen, 0) != plen) {
			failure(i, start_wall, "send: %s", strerror(errno));
			close(fd);
			continue;
		}
		deadline = mono_ms() + (uint64_t)o.timeout_ms;
		stale = 0;
		for (;;) {
			now = mono_ms();
			if (now >= deadline) {
				failure(i, start_wall, "timeout after %ld ms waiting for the reply%s",
					o.timeout_ms, stale ? " (only stale/bad replies)" : "");
				break;
			}
			pfd[0] = (struct pollfd){ .fd = fd, .events = POLLIN };
			pfd[1] = (struct pollfd){ .fd = sigfd, .events = POLLIN };
			if (poll(pfd, 2, (int)(deadline - now)) < 0 && errno != EINTR)
				die(1, "poll: %s", strerror(errno));
			if (pfd[1].revents && read_signals()) {
				failure(i, start_wall, "interrupted");
				break;
			}
			if (!pfd[0].revents)
				continue;
			n = recv(fd, rbuf, sizeof(rbuf), 0);
			if (n < 0) {
				if (errno == EAGAIN || errno == EINTR)
					continue;
				failure(i, start_wall, "recv: %s%s", strerror(errno),
					errno == ECONNREFUSED ? " (ICMP port unreachable)" : "");
				break;
			}
			nlen = check_reply(rbuf, (size_t)n, payload, (size_t)plen);
			if (nlen < 0) {
				/* A late answer to an earlier datagram on a reused port: not ours. */
				stale++;
				continue;
			}
			backend_get(rbuf, (size_t)nlen)->n++;
			n_ok++;
			break;
		}
		close(fd);
		if (signals)
			break;
	}
	return spread_end(i, "datagrams");
}

/* ---- tcp-long: C connections, a numbered line every I ms, same backend throughout ---- */

enum { L_CONNECT, L_IDLE, L_WAIT, L_DEAD, L_DONE };

struct lconn {
	int fd;
	int state;
	unsigned id;
	unsigned long seq, ok;
	uint64_t start_ms, sent_ms, next_send, deadline;
	char be[NAME_LEN + 1];		/* the first backend that answered */
	unsigned rlen, elen;
	char expect[48];		/* the line in flight, without '\n' */
	char rbuf[160];
};

static struct lconn *lc;
static unsigned long ok_lines, failed_conns;
static uint64_t wake;		/* earliest time the scan must look at the connections again */

static void wake_at(uint64_t t)
{
	if (t < wake)
		wake = t;
}

static void lc_fail(struct lconn *c, const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	printf("fail t=%.3f wall=%llu conn=%u backend=%s seq=%lu %s\n", elapsed_s(), wall_ms(), c->id,
	       c->be[0] ? c->be : "-", c->seq, msg);
	fflush(stdout);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->state = L_DEAD;
	failed_conns++;
	wake_at(0);	/* rescan: this may have been the last live connection */
}

static void lc_finish(struct lconn *c)
{
	close(c->fd);
	c->fd = -1;
	c->state = L_DONE;
	wake_at(0);
}

static void lc_send(struct lconn *c, uint64_t now)
{
	char line[64];
	int n;
	ssize_t w;

	c->seq++;
	n = snprintf(c->expect, sizeof(c->expect), "conn %u seq %lu", c->id, c->seq);
	c->elen = (unsigned)n;
	memcpy(line, c->expect, (size_t)n);
	line[n] = '\n';
	/* One line in flight at a time, so the socket buffer is empty and this is all or nothing. */
	w = send(c->fd, line, (size_t)n + 1, MSG_NOSIGNAL);
	if (w != n + 1) {
		lc_fail(c, "send: %s", w < 0 ? strerror(errno) : "short");
		return;
	}
	c->state = L_WAIT;
	c->sent_ms = now;
	c->deadline = now + (uint64_t)o.timeout_ms;
	wake_at(c->deadline);
}

static void lc_line(struct lconn *c, const char *r, size_t len, bool stopping, uint64_t now)
{
	int nlen;

	if (c->state != L_WAIT) {
		lc_fail(c, "unexpected data '%s'", quote(r, len));
		return;
	}
	nlen = check_reply(r, len, c->expect, c->elen);
	if (nlen < 0) {
		lc_fail(c, "bad reply '%s'", quote(r, len));
		return;
	}
	if (!c->be[0]) {
		memcpy(c->be, r, (size_t)nlen);
		c->be[nlen] = '\0';
	} else if (strlen(c->be) != (size_t)nlen || memcmp(c->be, r, (size_t)nlen)) {
		char other[NAME_LEN + 1];

		memcpy(other, r, (size_t)nlen);
		other[nlen] = '\0';
		lc_fail(c, "backend changed from %s to %s", c->be, other);
		return;
	}
	c->ok++;
	ok_lines++;
	c->state = L_IDLE;
	c->next_send = c->sent_ms + (uint64_t)o.interval_ms;
	if (stopping)
		lc_finish(c);
	else if (c->next_send <= now)
		lc_send(c, now);
	else
		wake_at(c->next_send);
}

static void lc_event(struct lconn *c, bool stopping)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
	uint64_t now = mono_ms();
	char *nl;
	ssize_t n;
	int err;

	if (c->state == L_CONNECT) {
		err = connect_result(c->fd);
		if (err) {
			lc_fail(c, "connect: %s", strerror(err));
			return;
		}
		/* Watch input while idle too: a close or reset shows at once, not at the next line. */
		epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
		if (stopping) {
			lc_finish(c);
			return;
		}
		c->state = L_IDLE;
		/* Spread the first lines over one interval rather than all at once. */
		c->next_send = c->start_ms + (uint64_t)o.interval_ms * c->id / (uint64_t)o.conns;
		if (c->next_send <= now)
			lc_send(c, now);
		else
			wake_at(c->next_send);
		return;
	}
	while (c->state == L_IDLE || c->state == L_WAIT) {
		n = recv(c->fd, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				lc_fail(c, "recv: %s", strerror(errno));
			return;
		}
		if (n == 0) {
			lc_fail(c, "connection closed by the server");
			return;
		}
		c->rlen += (unsigned)n;
		while (c->fd >= 0 && (nl = memchr(c->rbuf, '\n', c->rlen))) {
			size_t len = (size_t)(nl - c->rbuf);

			lc_line(c, c->rbuf, len, stopping, now);
			memmove(c->rbuf, nl + 1, c->rlen - len - 1);
			c->rlen -= (unsigned)len + 1;
		}
		if (c->fd >= 0 && c->rlen == sizeof(c->rbuf)) {
			lc_fail(c, "reply too long ('%s')", quote(c->rbuf, c->rlen));
			return;
		}
	}
}

static void write_status(void)
{
	char tmp[4096];
	FILE *f;

	if (!o.status_file)
		return;
	/* Write aside and rename, so a reader never sees a half-written line. */
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", o.status_file, (int)getpid());
	f = fopen(tmp, "w");
	if (!f) {
		fprintf(stderr, "sl-client: %s: %s\n", tmp, strerror(errno));
		return;
	}
	fprintf(f, "%lu %lu %lu\n", (unsigned long)elapsed_s(), ok_lines, failed_conns);
	if (fclose(f) || rename(tmp, o.status_file))
		fprintf(stderr, "sl-client: %s: %s\n", o.status_file, strerror(errno));
}

static int run_long(void)
{
	struct epoll_event evs[EVENTS];
	uint64_t now, end, next_status;
	unsigned long i, live;
	bool stopping = false;
	const char *step;
	int n, k;

	lc = calloc((size_t)o.conns, sizeof(*lc));
	if (!lc)
		die(1, "out of memory");
	now = mono_ms();
	end = now + (uint64_t)o.duration_s * 1000;
	next_status = now + 1000;
	write_status();
	for (i = 0; i < (unsigned long)o.conns; i++) {
		struct lconn *c = &lc[i];
		struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };

		c->id = (unsigned)i;
		c->start_ms = now;
		c->deadline = now + (uint64_t)o.timeout_ms;
		c->state = L_CONNECT;
		c->fd = open_to_vip(SOCK_STREAM, i, &step);
		if (c->fd < 0) {
			lc_fail(c, "%s: %s", step, strerror(errno));
			continue;
		}
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev))
			die(1, "epoll_ctl: %s", strerror(errno));
	}
	wake = now;
	for (;;) {
		now = mono_ms();
		if (!stopping && (signals || now >= end)) {
			stopping = true;
			wake = now;
		}
		if (now >= wake) {
			wake = UINT64_MAX;
			live = 0;
			for (i = 0; i < (unsigned long)o.conns; i++) {
				struct lconn *c = &lc[i];

				switch (c->state) {
				case L_CONNECT:
				case L_WAIT:
					if (now >= c->deadline) {
						lc_fail(c, "timeout after %ld ms %s", o.timeout_ms,
							c->state == L_CONNECT ? "connecting" : "waiting for the reply");
						break;
					}
					wake_at(c->deadline);
					live++;
					break;
				case L_IDLE:
					if (stopping) {
						lc_finish(c);
						break;
					}
					if (now >= c->next_send)
						lc_send(c, now);
					else
						wake_at(c->next_send);
					live++;
					break;
				}
			}
			/* Done: time is up and nothing is in flight, or every connection failed. */
			if ((stopping && !live) || live == 0)
				break;
		}
		if (now >= next_status) {
			write_status();
			next_status += 1000;
		}
		k = wait_ms(wake < next_status ? wake : next_status, now);
		if (!stopping && end < now + (uint64_t)k)
			k = wait_ms(end, now);
		n = epoll_wait(epfd, evs, EVENTS, k);
		if (n < 0 && errno != EINTR)
			die(1, "epoll_wait: %s", strerror(errno));
		for (k = 0; k < n; k++) {
			struct lconn *c = evs[k].data.ptr;

			if (!c) {
				read_signals();
				continue;
			}
			/* An fd closed earlier in this batch (failure) must not be touched again. */
			if (c->state == L_DEAD || c->state == L_DONE)
				continue;
			lc_event(c, stopping);
		}
		if (signals > 1)
			break;	/* a second signal: do not wait for lines in flight */
	}
	write_status();

	for (i = 0; i < (unsigned long)o.conns; i++) {
		struct lconn *c = &lc[i];

		printf("conn %u backend %s lines %lu %s\n", c->id, c->be[0] ? c->be : "-", c->ok,
		       c->state == L_DEAD ? "failed" : "ok");
		if (c->be[0]) {
			struct backend *b = backend_get(c->be, strlen(c->be));

			b->n++;
			b->lines += c->ok;
		}
	}
	qsort(backends, (size_t)nbackends, sizeof(backends[0]), backend_cmp);
	for (k = 0; k < nbackends; k++)
		printf("backend %s conns %lu lines %lu\n", backends[k].name, backends[k].n, backends[k].lines);
	printf("total conns %ld ok_lines %lu failed_conns %lu\n", o.conns, ok_lines, failed_conns);
	return failed_conns ? 1 : 0;
}

/* ---- command line ---- */

#define MB(m) (1u << (m))
#define ALL (MB(M_TCP_SPREAD) | MB(M_UDP_SPREAD) | MB(M_TCP_LONG) | MB(M_TCP_STREAM))

static const struct option opts[] = {
	{ "count", required_argument, NULL, 'c' },
	{ "timeout-ms", required_argument, NULL, 'T' },
	{ "src", required_argument, NULL, 's' },
	{ "same-port", required_argument, NULL, 'P' },
	{ "src-port-base", required_argument, NULL, 'B' },
	{ "conns", required_argument, NULL, 'C' },
	{ "interval-ms", required_argument, NULL, 'I' },
	{ "duration", required_argument, NULL, 'd' },
	{ "status-file", required_argument, NULL, 'f' },
	{ "rate", required_argument, NULL, 'r' },
	{ "log", required_argument, NULL, 'l' },
	{ "help", no_argument, NULL, 'h' },
	{ 0 }
};

/* Which modes take each option. */
static unsigned opt_modes(int c)
{
	switch (c) {
	case 'c': return MB(M_TCP_SPREAD) | MB(M_UDP_SPREAD);
	case 'P': return MB(M_TCP_SPREAD) | MB(M_UDP_SPREAD);
	case 'B': return MB(M_UDP_SPREAD);
	case 'C': case 'I': case 'f': return MB(M_TCP_LONG);
	case 'r': case 'l': return MB(M_TCP_STREAM);
	default: return ALL;
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sl-client MODE VIP:PORT [options]      (VIP:PORT: a.b.c.d:port or [v6]:port)\n"
		"  tcp-spread --count N [--same-port P] [--src ADDR] [--timeout-ms T] [--duration S]\n"
		"  udp-spread --count N [--src-port-base B | --same-port P] [--src ADDR] [--timeout-ms T] [--duration S]\n"
		"  tcp-long   --conns C --interval-ms I --duration S [--status-file F] [--src ADDR] [--timeout-ms T]\n"
		"  tcp-stream --rate R --duration S [--log F] [--src ADDR] [--timeout-ms T]\n"
		"Defaults: --timeout-ms 2000, --duration 600 (the cap) for the spread modes.\n"
		"Exit 0 only if every operation succeeded; 1 on failures; 2 on bad usage.\n");
}

static long num(const char *s, const char *opt, long min, long max)
{
	char *e;
	long v;

	errno = 0;
	v = strtol(s, &e, 10);
	if (errno || e == s || *e || v < min || v > max)
		die(2, "--%s wants %ld..%ld, not '%s'", opt, min, max, s);
	return v;
}

int main(int argc, char **argv)
{
	const char *vip = NULL;
	int opt, i, rc;
	char *e;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	for (i = 0; i < M_NR && strcmp(argv[1], mode_names[i]); i++)
		;
	if (i == M_NR)
		die(2, "unknown mode '%s' (tcp-spread, udp-spread, tcp-long, tcp-stream)", argv[1]);
	o.mode = (enum mode)i;
	argv[1] = argv[0];
	argc--;
	argv++;
	while ((opt = getopt_long(argc, argv, "", opts, &i)) != -1) {
		if (opt == 'h') {
			usage(stdout);
			return 0;
		}
		if (opt == '?')
			die(2, "bad option (see --help)");
		if (!(opt_modes(opt) & MB(o.mode)))
			die(2, "--%s does not apply to %s", opts[i].name, mode_names[o.mode]);
		switch (opt) {
		case 'c': o.count = num(optarg, "count", 1, MAX_COUNT); break;
		case 'T': o.timeout_ms = num(optarg, "timeout-ms", 1, MAX_TIMEOUT_MS); break;
		case 'P': o.same_port = num(optarg, "same-port", 1, 65535); break;
		case 'B': o.port_base = num(optarg, "src-port-base", 1, 65535); break;
		case 'C': o.conns = num(optarg, "conns", 1, MAX_CONNS); break;
		case 'I': o.interval_ms = num(optarg, "interval-ms", 1, MAX_INTERVAL_MS); break;
		case 'd': o.duration_s = num(optarg, "duration", 1, MAX_DURATION_S); break;
		case 'f': o.status_file = optarg; break;
		case 'l': o.log_file = optarg; break;
		case 's':
			if (parse_addr(optarg, false, &o.src, &o.src_len))
				die(2, "--src wants an address (a.b.c.d or v6), not '%s'", optarg);
			o.has_src = true;
			break;
		case 'r':
			errno = 0;
			o.rate = strtod(optarg, &e);
			if (errno || e == optarg || *e || !(o.rate > 0) || o.rate > MAX_RATE)
				die(2, "--rate wants a number in (0, %.0f], not '%s'", MAX_RATE, optarg);
			break;
		}
	}
	if (optind != argc - 1)
		die(2, "want exactly one VIP:PORT (see --help)");
	vip = argv[optind];
	if (parse_addr(vip, true, &o.vip, &o.vip_len))
		die(2, "bad VIP '%s' (want a.b.c.d:port or [v6]:port)", vip);
	if (o.has_src && o.src.ss_family != o.vip.ss_family)
		die(2, "--src and the VIP are of different address families");
	if (o.same_port >= 0 && o.port_base >= 0)
		die(2, "--same-port and --src-port-base exclude each other");
	switch (o.mode) {
	case M_TCP_SPREAD:
	case M_UDP_SPREAD:
		if (!o.count)
			die(2, "%s needs --count", mode_names[o.mode]);
		if (o.duration_s < 0)
			o.duration_s = MAX_DURATION_S;
		break;
	case M_TCP_LONG:
		if (!o.conns || !o.interval_ms || o.duration_s < 0)
			die(2, "tcp-long needs --conns, --interval-ms and --duration");
		break;
	case M_TCP_STREAM:
		if (!(o.rate > 0) || o.duration_s < 0)
			die(2, "tcp-stream needs --rate and --duration");
		break;
	default:
		break;
	}

	raise_fd_limit();
	/* Signals arrive as events, so every mode can stop between operations and report. */
	sigfd = signals_to_fd(0);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		die(1, "epoll_create1: %s", strerror(errno));
	{
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

		if (epoll_ctl(epfd, EPOLL_CTL_ADD, sigfd, &ev))
			die(1, "epoll_ctl: %s", strerror(errno));
	}
	if (o.log_file) {
		fail_log = fopen(o.log_file, "w");
		if (!fail_log)
			die(1, "--log %s: %s", o.log_file, strerror(errno));
		setvbuf(fail_log, NULL, _IOLBF, 0);
	}
	/* Lines reach a pipe promptly, so a test can follow progress. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	t0_ns = mono_ns();

	switch (o.mode) {
	case M_TCP_SPREAD:
		rc = run_short(false);
		break;
	case M_TCP_STREAM:
		rc = run_short(true);
		break;
	case M_UDP_SPREAD:
		rc = run_udp();
		break;
	default:
		rc = run_long();
		break;
	}
	if (fail_log && fclose(fail_log))
		fprintf(stderr, "sl-client: --log %s: %s\n", o.log_file, strerror(errno));
	return rc;
}
