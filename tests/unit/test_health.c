/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Health checks: the pure up/down state machine, then real probes against loopback servers. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "config.h"
#include "evloop.h"
#include "health.h"

/* ==== the state machine: no sockets, time passed in ============================ */

/* Feed @seq ('o' success, 'x' failure) one second apart from *@now; returns the changes. */
static int feed(struct hc_sm *sm, const char *seq, __u64 *now)
{
	int changes = 0;

	for (; *seq; seq++, *now += 1000)
		changes += hc_sm_result(sm, *seq == 'o', *now);
	return changes;
}

#define UP	true
#define DOWN	false

/* feed() @seq, which must make @changes verdict changes and leave @sm @up. */
static void feed_expect(struct hc_sm *sm, const char *seq, __u64 *now, int changes, bool up)
{
	int got = feed(sm, seq, now);

	cr_assert_eq(got, changes, "\"%s\": %d changes, expected %d", seq, got, changes);
	cr_assert_eq(sm->up, up, "\"%s\" left it %s", seq, sm->up ? "up" : "down");
}

Test(health, sm_fall_counts_consecutive_failures)
{
	struct hc_sm sm;
	__u64 now = 1000;

	hc_sm_init(&sm, 2, 3, true);
	/* five failures in all, never three in a row: a cumulative count would say down */
	feed_expect(&sm, "xxoxx", &now, 0, UP);
	cr_assert_eq(sm.streak_fail, 2);
	/* the third failure in a row marks it down */
	feed_expect(&sm, "x", &now, 1, DOWN);
	cr_assert_eq(sm.streak_fail, 3);
	cr_assert_eq(sm.streak_ok, 0);
}

Test(health, sm_rise_counts_consecutive_successes)
{
	struct hc_sm sm;
	__u64 now = 1000;

	hc_sm_init(&sm, 3, 2, true);
	feed_expect(&sm, "xx", &now, 1, DOWN);
	/* two, a failure, two: not three in a row */
	feed_expect(&sm, "ooxoo", &now, 0, DOWN);
	feed_expect(&sm, "o", &now, 1, UP);
	cr_assert_eq(sm.streak_ok, 3);
	/* single failures never reach fall = 2 */
	feed_expect(&sm, "xoxoxo", &now, 0, UP);
}

Test(health, sm_initial_states)
{
	struct hc_sm sm;
	__u64 now = 1000;

	/* a new backend starts up: traffic flows until fall probes fail */
	hc_sm_init(&sm, 2, 3, true);
	cr_assert(sm.up);
	feed_expect(&sm, "xx", &now, 0, UP);
	feed_expect(&sm, "x", &now, 1, DOWN);

	/* one adopted as down needs rise successes */
	hc_sm_init(&sm, 2, 3, false);
	cr_assert_not(sm.up);
	feed_expect(&sm, "o", &now, 0, DOWN);
	feed_expect(&sm, "o", &now, 1, UP);

	/* zero thresholds act as one */
	hc_sm_init(&sm, 0, 0, true);
	cr_assert_eq(sm.rise, 1);
	cr_assert_eq(sm.fall, 1);
	feed_expect(&sm, "x", &now, 1, DOWN);
	feed_expect(&sm, "o", &now, 1, UP);
	cr_assert_not(sm.held);
}

Test(health, sm_set_keeps_state_and_streaks)
{
	struct hc_sm sm;
	__u64 now = 1000;

	hc_sm_init(&sm, 2, 3, true);
	feed_expect(&sm, "xx", &now, 0, UP);
	hc_sm_set(&sm, 4, 5);
	cr_assert(sm.up);
	cr_assert_eq(sm.streak_fail, 2);
	/* fall is 5 now: two more are four in a row, the fifth marks it down */
	feed_expect(&sm, "xx", &now, 0, UP);
	feed_expect(&sm, "x", &now, 1, DOWN);
	/* rise is 4 now */
	feed_expect(&sm, "ooo", &now, 0, DOWN);
	feed_expect(&sm, "o", &now, 1, UP);
}

Test(health, sm_damping_holds_flapping_backend_down)
{
	struct hc_sm sm;
	__u64 now = 5000, held_at;

	hc_sm_init(&sm, 2, 1, true);
	/* four changes inside the window are tolerated ... */
	feed_expect(&sm, "xooxoo", &now, 4, UP);
	cr_assert_not(sm.held);
	/* ... the fifth is flapping: down, and held */
	held_at = now;
	feed_expect(&sm, "x", &now, 1, DOWN);
	cr_assert(sm.held);
	cr_assert(hc_sm_is_held(&sm, held_at));
	cr_assert_eq(sm.hold_ms, HC_FLAP_HOLD_MS);

	/* successes during the hold do not bring it up */
	feed_expect(&sm, "oooooo", &now, 0, DOWN);
	now = held_at + HC_FLAP_HOLD_MS - 1;
	cr_assert_eq(hc_sm_result(&sm, true, now), 0);
	cr_assert(hc_sm_is_held(&sm, now));
	cr_assert_not(sm.up);

	/* after the hold, rise (2) successes counted from its end */
	now = held_at + HC_FLAP_HOLD_MS;
	cr_assert_not(hc_sm_is_held(&sm, now));
	cr_assert_eq(hc_sm_result(&sm, true, now), 0, "the first success after the hold is 1 of 2");
	cr_assert_not(sm.held);
	cr_assert_eq(hc_sm_result(&sm, true, now + 1000), 1);
	cr_assert(sm.up);
}

Test(health, sm_damping_keeps_a_recovering_backend_down)
{
	struct hc_sm sm;
	__u64 now = 0;

	/* the fifth change would bring it up: it stays down, held */
	hc_sm_init(&sm, 1, 1, false);
	feed_expect(&sm, "oxox", &now, 4, DOWN);
	feed_expect(&sm, "o", &now, 0, DOWN);
	cr_assert(sm.held);
	now += HC_FLAP_HOLD_MS;
	cr_assert_eq(hc_sm_result(&sm, true, now), 1, "rise = 1 after the hold");
	cr_assert(sm.up);
}

Test(health, sm_slow_changes_are_not_flapping)
{
	struct hc_sm sm;
	__u64 now = 0;

	hc_sm_init(&sm, 1, 1, true);
	/* one change every HC_FLAP_WINDOW_MS / HC_FLAP_CHANGES: never five in a window */
	for (int i = 0; i < 20; i++) {
		cr_assert_eq(hc_sm_result(&sm, i % 2, now), 1, "change %d", i);
		cr_assert_not(sm.held);
		now += HC_FLAP_WINDOW_MS / HC_FLAP_CHANGES;
	}
}

/* Alternate results until a hold starts (bounded); returns the hold length. */
static __u32 flap_until_held(struct hc_sm *sm, __u64 *now)
{
	for (int i = 0; i < 4 * HC_FLAP_CHANGES && !sm->held; i++, *now += 1000)
		hc_sm_result(sm, !sm->up, *now);
	cr_assert(sm->held, "flapping did not start a hold");
	return (__u32)(sm->hold_until_ms - (*now - 1000));
}

Test(health, sm_hold_doubles_up_to_a_cap_and_is_forgotten)
{
	__u32 want = HC_FLAP_HOLD_MS;
	struct hc_sm sm;
	__u64 now = 0;

	hc_sm_init(&sm, 1, 1, true);
	for (int round = 0; round < 8; round++) {
		__u32 hold = flap_until_held(&sm, &now);

		cr_assert_eq(hold, want, "round %d: hold %u, expected %u", round, hold, want);
		cr_assert_eq(sm.hold_ms, want);
		/* the hold ends; it comes back and flaps again soon: the next hold doubles */
		now = sm.hold_until_ms;
		cr_assert_eq(hc_sm_result(&sm, true, now), 1);
		now += 1000;
		want = want * 2 > HC_FLAP_HOLD_MAX_MS ? HC_FLAP_HOLD_MAX_MS : want * 2;
	}
	cr_assert_eq(want, HC_FLAP_HOLD_MAX_MS, "the cap was reached");

	/* stable for HC_FLAP_FORGET_MS after the last hold: back to the first hold */
	now = sm.hold_until_ms + HC_FLAP_FORGET_MS;
	cr_assert_eq(flap_until_held(&sm, &now), HC_FLAP_HOLD_MS);
}

/* ==== real probes on loopback ===================================================== */

#define MAX_CHANGES	1024

struct change {
	char vip[SL_CFG_NAME_MAX];
	struct sl_addr addr;
	bool up;
	char reason[160];
	__u8 streak_fail;	/* hc_info() as seen from inside the callback */
	__u8 streak_ok;
};

static struct {
	int epfd;
	struct hc *hc;
	struct change changes[MAX_CHANGES];
	int nchanges;
} W;

static __u64 now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000 + (__u64)ts.tv_nsec / 1000000;
}

static struct sl_addr addr(const char *s)
{
	struct sl_addr a;

	cr_assert_eq(sl_addr_parse(s, &a), 0, "bad address %s", s);
	return a;
}

static void on_change(void *ctx, const char *vip, const struct sl_addr *b, bool up,
		      const char *reason)
{
	struct change *c;
	struct hc_info info;

	cr_assert_eq(ctx, &W);
	/* the callback may look, and sees the new state */
	cr_assert_eq(hc_is_up(W.hc, vip, b), up);
	cr_assert_eq(hc_info(W.hc, vip, b, &info), 0);
	cr_assert_eq(info.up, up);
	cr_assert_lt(W.nchanges, MAX_CHANGES);
	c = &W.changes[W.nchanges++];
	snprintf(c->vip, sizeof(c->vip), "%s", vip);
	c->addr = *b;
	c->up = up;
	snprintf(c->reason, sizeof(c->reason), "%s", reason);
	c->streak_fail = info.streak_fail;
	c->streak_ok = info.streak_ok;
}

/* The last change reported for (@vip, @a), or NULL. */
static const struct change *last_change(const char *vip, const struct sl_addr *a)
{
	for (int i = W.nchanges - 1; i >= 0; i--)
		if (!strcmp(W.changes[i].vip, vip) && sl_addr_equal(&W.changes[i].addr, a))
			return &W.changes[i];
	return NULL;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	cr_assert_not_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void world_open(void)
{
	srand((unsigned int)getpid() ^ (unsigned int)now_ms());
	W.epfd = epoll_create1(EPOLL_CLOEXEC);
	cr_assert_geq(W.epfd, 0);
	W.hc = hc_open(W.epfd, on_change, &W);
	cr_assert_not_null(W.hc, "hc_open: %s", strerror(errno));
	W.nchanges = 0;
}

static void world_close(void)
{
	hc_close(W.hc);
	W.hc = NULL;
	close(W.epfd);
}

/* One epoll_wait of at most @max_ms, dispatching as sluiced does. */
static void pump(int max_ms)
{
	struct epoll_event ev[64];
	int n = epoll_wait(W.epfd, ev, 64, max_ms);

	cr_assert(n >= 0 || errno == EINTR, "epoll_wait: %s", strerror(errno));
	for (int i = 0; i < n; i++) {
		struct ev_source *s = ev[i].data.ptr;

		s->fn(s, ev[i].events);
	}
}

/* Run the loop until @cond(@arg) or @max_ms passed. Returns whether @cond held. */
static bool run_until(bool (*cond)(const void *), const void *arg, int max_ms)
{
	__u64 end = now_ms() + (__u64)max_ms;

	while (!cond(arg)) {
		__u64 now = now_ms();

		if (now >= end)
			return false;
		pump(end - now < 20 ? (int)(end - now) : 20);
	}
	return true;
}

static bool never(const void *arg)
{
	return false;
}

static void run_for(int ms)
{
	run_until(never, NULL, ms);
}

/* A target and the verdict waited for. */
struct want {
	const char *vip;
	struct sl_addr a;
	bool up;
	__u64 checks;		/* with cond_checks: at least this many probes */
};

static bool cond_state(const void *arg)
{
	const struct want *w = arg;

	return hc_is_up(W.hc, w->vip, &w->a) == w->up;
}

static bool cond_checks(const void *arg)
{
	const struct want *w = arg;
	struct hc_info i;

	return !hc_info(W.hc, w->vip, &w->a, &i) && i.checks >= w->checks;
}

/* Wait (bounded by @max_ms) until (@vip, @a) is @up. */
static void wait_state(const char *vip, const struct sl_addr *a, bool up, int max_ms)
{
	struct want w = { .vip = vip, .a = *a, .up = up };
	struct hc_info i = { 0 };

	if (!run_until(cond_state, &w, max_ms)) {
		hc_info(W.hc, vip, a, &i);
		cr_assert_fail("%s: not %s after %d ms (last %s, checks %llu)", vip,
			       up ? "up" : "down", max_ms, i.last_result,
			       (unsigned long long)i.checks);
	}
}

/* Wait (bounded by 5 s) until (@vip, @a) has completed at least @n probes. */
static void wait_checks(const char *vip, const struct sl_addr *a, __u64 n)
{
	struct want w = { .vip = vip, .a = *a, .checks = n };
	struct hc_info i = { 0 };

	if (!run_until(cond_checks, &w, 5000)) {
		hc_info(W.hc, vip, a, &i);
		cr_assert_fail("%s: %llu probes completed, waited for %llu", vip,
			       (unsigned long long)i.checks, (unsigned long long)n);
	}
}

static void info_of(const char *vip, const struct sl_addr *a, struct hc_info *i)
{
	cr_assert_eq(hc_info(W.hc, vip, a, i), 0, "no target %s", vip);
}

/* ---- configurations built in memory ---- */

static struct sl_cfg_health health(enum sl_hc_type type, __u16 port, __u32 interval_ms,
				   __u32 timeout_ms, __u8 rise, __u8 fall)
{
	struct sl_cfg_health h;

	memset(&h, 0, sizeof(h));
	h.type = type;
	h.port = port;
	h.interval_ms = interval_ms;
	h.timeout_ms = timeout_ms;
	h.rise = rise;
	h.fall = fall;
	h.http_status_min = 200;
	h.http_status_max = 399;
	strcpy(h.http_path, "/");
	return h;
}

/* Append backend @a with @h to VIP @vip of @c (created on first use). */
static void cfg_add(struct sl_config *c, const char *vip, const char *a,
		    const struct sl_cfg_health *h)
{
	struct sl_cfg_vip *v = NULL;
	struct sl_cfg_backend *b;

	for (__u32 i = 0; i < c->n_vips; i++)
		if (!strcmp(c->vips[i].name, vip))
			v = &c->vips[i];
	if (!v) {
		c->vips = realloc(c->vips, (c->n_vips + 1) * sizeof(*c->vips));
		cr_assert_not_null(c->vips);
		v = &c->vips[c->n_vips++];
		memset(v, 0, sizeof(*v));
		snprintf(v->name, sizeof(v->name), "%s", vip);
		v->health = *h;
	}
	v->backends = realloc(v->backends, (v->n_backends + 1) * sizeof(*v->backends));
	cr_assert_not_null(v->backends);
	b = &v->backends[v->n_backends++];
	memset(b, 0, sizeof(*b));
	b->addr = addr(a);
	b->weight = 100;
	b->health = *h;
	c->n_backends++;
}

static bool all_down(void *ctx, const char *vip, const struct sl_addr *b)
{
	return true;
}

static void sync_ok(const struct sl_config *c,
		    bool (*down)(void *ctx, const char *vip, const struct sl_addr *b))
{
	int ret = hc_sync(W.hc, c, down);

	cr_assert_eq(ret, 0, "hc_sync: %s", strerror(-ret));
}

/* ---- test servers on the same loop ---- */

enum srv_kind { SRV_TCP, SRV_HTTP, SRV_HTTP_GARBAGE, SRV_UDP_ECHO };

struct srv {
	struct ev_source src;
	enum srv_kind kind;
	int status;			/* HTTP status to answer */
	unsigned int requests;		/* accepted connections or datagrams */
	char last_req[1024];		/* HTTP: the last request head */
	struct sockaddr_storage peer;	/* the last client */
	__u16 port;
};

struct conn {
	struct ev_source src;
	struct srv *s;
	char buf[1024];
	size_t len;
};

/*
 * A socket bound to @ip on a random port below the ephemeral range, so a
 * closed one is not reused by a probe's own source port (a TCP self-connect).
 */
static int bound_socket(const char *ip, int type, __u16 *port)
{
	struct sl_addr a = addr(ip);
	int af = a.family == SL_FAMILY_V4 ? AF_INET : AF_INET6;

	for (int i = 0; i < 1000; i++) {
		struct sockaddr_storage ss = { 0 };
		socklen_t len;
		__u16 p = (__u16)(10000 + rand() % 20000);
		int fd = socket(af, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		cr_assert_geq(fd, 0);
		if (af == AF_INET) {
			struct sockaddr_in *s = (struct sockaddr_in *)&ss;

			s->sin_family = AF_INET;
			s->sin_port = htons(p);
			s->sin_addr.s_addr = a.addr[0];
			len = sizeof(*s);
		} else {
			struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;

			s->sin6_family = AF_INET6;
			s->sin6_port = htons(p);
			memcpy(&s->sin6_addr, a.addr, 16);
			len = sizeof(*s);
		}
		if (!bind(fd, (struct sockaddr *)&ss, len)) {
			*port = p;
			return fd;
		}
		close(fd);
	}
	cr_assert_fail("no free port on %s", ip);
	return -1;
}

/* A port on @ip where nothing of @type (SOCK_STREAM, SOCK_DGRAM) listens. */
static __u16 closed_port(const char *ip, int type)
{
	__u16 p;

	close(bound_socket(ip, type, &p));
	return p;
}

static void srv_watch(int fd, struct ev_source *src, void (*fn)(struct ev_source *, unsigned int))
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = src };

	src->fd = fd;
	src->fn = fn;
	cr_assert_eq(epoll_ctl(W.epfd, EPOLL_CTL_ADD, fd, &ev), 0);
}

static void conn_close(struct conn *c)
{
	epoll_ctl(W.epfd, EPOLL_CTL_DEL, c->src.fd, NULL);
	close(c->src.fd);
	free(c);
}

static void on_conn(struct ev_source *src, unsigned int events)
{
	struct conn *c = (struct conn *)src;
	char resp[128];
	ssize_t r;

	r = recv(src->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, 0);
	if (r < 0 && errno == EAGAIN)
		return;
	if (r <= 0) {
		conn_close(c);
		return;
	}
	c->len += (size_t)r;
	c->buf[c->len] = '\0';
	if (!strstr(c->buf, "\r\n\r\n") && c->len < sizeof(c->buf) - 1)
		return;
	snprintf(c->s->last_req, sizeof(c->s->last_req), "%s", c->buf);
	if (c->s->kind == SRV_HTTP_GARBAGE)
		snprintf(resp, sizeof(resp), "SSH-2.0-OpenSSH_9.2\r\n");
	else
		snprintf(resp, sizeof(resp),
			 "HTTP/1.1 %d Whatever\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
			 c->s->status);
	cr_assert_gt(send(src->fd, resp, strlen(resp), MSG_NOSIGNAL), 0);
	shutdown(src->fd, SHUT_WR);
	conn_close(c);
}

static void on_listen(struct ev_source *src, unsigned int events)
{
	struct srv *s = (struct srv *)src;
	socklen_t len = sizeof(s->peer);
	int fd;

	while ((fd = accept4(src->fd, (struct sockaddr *)&s->peer, &len,
			     SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		s->requests++;
		len = sizeof(s->peer);
		if (s->kind == SRV_TCP) {
			close(fd);
		} else {
			struct conn *c = calloc(1, sizeof(*c));

			cr_assert_not_null(c);
			c->s = s;
			srv_watch(fd, &c->src, on_conn);
		}
	}
}

static void on_udp(struct ev_source *src, unsigned int events)
{
	struct srv *s = (struct srv *)src;
	char buf[512];
	socklen_t len = sizeof(s->peer);
	ssize_t r;

	while ((r = recvfrom(src->fd, buf, sizeof(buf), 0, (struct sockaddr *)&s->peer, &len)) >= 0) {
		s->requests++;
		sendto(src->fd, buf, (size_t)r, 0, (struct sockaddr *)&s->peer, len);
		len = sizeof(s->peer);
	}
}

static void srv_start(struct srv *s, enum srv_kind kind, const char *ip)
{
	int fd;

	memset(s, 0, sizeof(*s));
	s->kind = kind;
	s->status = 200;
	if (kind == SRV_UDP_ECHO) {
		fd = bound_socket(ip, SOCK_DGRAM, &s->port);
		srv_watch(fd, &s->src, on_udp);
		return;
	}
	fd = bound_socket(ip, SOCK_STREAM, &s->port);
	cr_assert_eq(listen(fd, 512), 0);
	srv_watch(fd, &s->src, on_listen);
}

static void srv_stop(struct srv *s)
{
	epoll_ctl(W.epfd, EPOLL_CTL_DEL, s->src.fd, NULL);
	close(s->src.fd);
	s->src.fd = -1;
}

/* ---- the tests ---- */

Test(health, tcp_up_then_down_when_listener_closes, .timeout = 30)
{
	const __u32 iv = 50, fall = 3;
	struct sl_config c = { 0 };
	struct sl_cfg_health h;
	struct sl_addr a = addr("127.0.0.1");
	const struct change *ch;
	struct hc_info i;
	struct srv s;

	world_open();
	srv_start(&s, SRV_TCP, "127.0.0.1");
	h = health(SL_HC_TCP, s.port, iv, iv, 2, fall);
	cfg_add(&c, "web", "127.0.0.1", &h);
	sync_ok(&c, all_down);
	cr_assert_not(hc_is_up(W.hc, "web", &a), "adopted down");

	wait_state("web", &a, true, 5000);
	info_of("web", &a, &i);
	cr_assert_str_eq(i.last_result, "ok");
	cr_assert_geq(i.checks, 2);
	cr_assert_geq(i.streak_ok, 2);
	cr_assert_gt(i.latency_us, 0);
	cr_assert_gt(s.requests, 0);
	ch = last_change("web", &a);
	cr_assert(ch && ch->up);
	cr_assert_eq(ch->streak_ok, 2, "up after exactly rise successes");

	srv_stop(&s);
	wait_state("web", &a, false, 5000);
	info_of("web", &a, &i);
	cr_assert_str_eq(i.last_result, "refused");
	cr_assert_not(i.up);
	cr_assert_not(i.held);
	cr_assert_geq(i.failures, fall);
	ch = last_change("web", &a);
	cr_assert(ch && !ch->up);
	cr_assert_eq(ch->streak_fail, fall, "down after exactly fall failures");
	cr_assert(strstr(ch->reason, "refused"), "reason: %s", ch->reason);

	cfg_free(&c);
	world_close();
}

Test(health, http_status_decides, .timeout = 30)
{
	struct sl_config c = { 0 };
	struct sl_cfg_health h;
	struct sl_addr a = addr("127.0.0.1");
	char host[64];
	const struct change *ch;
	struct hc_info i;
	struct srv s, g;

	world_open();
	srv_start(&s, SRV_HTTP, "127.0.0.1");
	srv_start(&g, SRV_HTTP_GARBAGE, "127.0.0.1");
	h = health(SL_HC_HTTP, s.port, 60, 60, 2, 2);
	strcpy(h.http_path, "/healthz?deep=1");
	h.http_status_min = 200;
	h.http_status_max = 299;
	cfg_add(&c, "web", "127.0.0.1", &h);
	h.port = g.port;
	cfg_add(&c, "garbage", "127.0.0.1", &h);
	sync_ok(&c, all_down);

	wait_state("web", &a, true, 5000);
	info_of("web", &a, &i);
	cr_assert_str_eq(i.last_result, "ok");
	cr_assert(!strncmp(s.last_req, "GET /healthz?deep=1 HTTP/1.1\r\n", 30), "%s", s.last_req);
	snprintf(host, sizeof(host), "\r\nHost: 127.0.0.1:%u\r\n", s.port);
	cr_assert(strstr(s.last_req, host), "%s", s.last_req);
	cr_assert(strstr(s.last_req, "\r\nConnection: close\r\n"), "%s", s.last_req);

	s.status = 500;
	wait_state("web", &a, false, 5000);
	info_of("web", &a, &i);
	cr_assert_str_eq(i.last_result, "bad status 500");
	ch = last_change("web", &a);
	cr_assert(ch && !ch->up);
	cr_assert(strstr(ch->reason, "500"), "reason: %s", ch->reason);

	/* not an HTTP status line at all: rise (2) probes would have brought it up */
	wait_checks("garbage", &a, 2);
	info_of("garbage", &a, &i);
	cr_assert_not(i.up);
	cr_assert_str_eq(i.last_result, "bad response");

	s.status = 204;
	wait_state("web", &a, true, 5000);

	cfg_free(&c);
	world_close();
}

Test(health, udp_echo_closed_port_and_wrong_reply, .timeout = 30)
{
	struct sl_config c = { 0 };
	struct sl_cfg_health h;
	struct sl_addr a4 = addr("127.0.0.1"), a6 = addr("::1");
	const struct change *ch;
	struct hc_info i;
	struct srv s;

	world_open();
	srv_start(&s, SRV_UDP_ECHO, "127.0.0.1");
	h = health(SL_HC_UDP, s.port, 60, 60, 2, 2);
	strcpy(h.udp_payload, "ping");
	strcpy(h.udp_expect, "ping");
	cfg_add(&c, "echo", "127.0.0.1", &h);
	strcpy(h.udp_expect, "pong");
	cfg_add(&c, "wrong", "127.0.0.1", &h);
	h.port = closed_port("::1", SOCK_DGRAM);
	strcpy(h.udp_expect, "");
	cfg_add(&c, "closed", "::1", &h);
	/* all start up */
	sync_ok(&c, NULL);
	cr_assert_eq(hc_sync(W.hc, &c, NULL), 0, "a second identical sync");
	cr_assert(hc_is_up(W.hc, "closed", &a6), "a second identical sync changed a verdict");

	wait_state("closed", &a6, false, 5000);
	info_of("closed", &a6, &i);
	/* not "timeout": the ICMP error ended the probe before its timeout did */
	cr_assert_str_eq(i.last_result, "refused", "ICMP port unreachable: %s", i.last_result);
	ch = last_change("closed", &a6);
	cr_assert(ch && strstr(ch->reason, "refused"));

	wait_state("wrong", &a4, false, 5000);
	info_of("wrong", &a4, &i);
	cr_assert_str_eq(i.last_result, "unexpected reply");

	info_of("echo", &a4, &i);
	cr_assert(i.up, "echo: %s", i.last_result);
	cr_assert_str_eq(i.last_result, "ok");
	cr_assert_eq(i.failures, 0);
	cr_assert_gt(s.requests, 0);

	cfg_free(&c);
	world_close();
}

Test(health, timeouts_mark_down, .timeout = 30)
{
	struct sl_config c = { 0 };
	struct sl_cfg_health h;
	struct sl_addr a4 = addr("127.0.0.1"), a6 = addr("::1");
	struct pollfd p;
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6 };
	const struct change *ch;
	struct hc_info i;
	__u16 udp_port, tcp_port;
	int silent, lfd, filler;
	__u64 t0;

	world_open();
	/* a UDP server that never replies */
	silent = bound_socket("127.0.0.1", SOCK_DGRAM, &udp_port);
	/* a TCP listener that never accepts, its backlog full: SYNs are dropped */
	lfd = bound_socket("::1", SOCK_STREAM, &tcp_port);
	cr_assert_eq(listen(lfd, 0), 0);
	filler = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0);
	sa.sin6_port = htons(tcp_port);
	sa.sin6_addr = in6addr_loopback;
	cr_assert(connect(filler, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno == EINPROGRESS);
	p = (struct pollfd){ .fd = filler, .events = POLLOUT };
	cr_assert_eq(poll(&p, 1, 5000), 1, "the filler connection did not complete");

	h = health(SL_HC_UDP, udp_port, 100, 60, 1, 2);
	cfg_add(&c, "udp", "127.0.0.1", &h);
	h = health(SL_HC_TCP, tcp_port, 100, 60, 1, 2);
	cfg_add(&c, "tcp", "::1", &h);
	t0 = now_ms();
	sync_ok(&c, NULL);

	wait_state("udp", &a4, false, 5000);
	info_of("udp", &a4, &i);
	cr_assert_str_eq(i.last_result, "timeout");
	/* not before the 60 ms timeout, and within what this test saw pass (+1 ms rounding) */
	cr_assert_geq(i.latency_us, 55000, "a timeout took only %u us", i.latency_us);
	cr_assert_leq(i.latency_us, (now_ms() - t0 + 1) * 1000, "latency %u us is longer than the test",
		      i.latency_us);

	wait_state("tcp", &a6, false, 5000);
	info_of("tcp", &a6, &i);
	cr_assert_str_eq(i.last_result, "timeout");
	ch = last_change("tcp", &a6);
	cr_assert(ch && strstr(ch->reason, "timeout"), "reason: %s", ch ? ch->reason : "no change");

	cfg_free(&c);
	close(filler);
	close(lfd);
	close(silent);
	world_close();
}

static bool only_b_down(void *ctx, const char *vip, const struct sl_addr *b)
{
	return !strcmp(vip, "b");
}

static unsigned int probes_seen;

static void count_probe(void *ctx, const char *vip, const struct sl_addr *b, __u64 ms)
{
	probes_seen++;
}

Test(health, sync_adds_removes_and_keeps_state, .timeout = 30)
{
	struct sl_config c1 = { 0 }, c2 = { 0 }, empty = { 0 };
	struct sl_cfg_health h, none;
	struct sl_addr x = addr("127.0.0.1"), y = addr("127.0.0.2"), z = addr("127.0.0.3");
	struct hc_info i, before;
	struct srv s;
	unsigned int seen;
	int fds;

	fds = count_fds();
	world_open();
	hc_set_probe_hook(W.hc, count_probe, NULL);
	srv_start(&s, SRV_TCP, "0.0.0.0");
	h = health(SL_HC_TCP, s.port, 50, 50, 2, 2);
	none = health(SL_HC_NONE, 0, 2000, 1000, 2, 3);

	cfg_add(&c1, "a", "127.0.0.1", &h);
	cfg_add(&c1, "a", "127.0.0.2", &none);
	cfg_add(&c1, "b", "127.0.0.1", &h);
	sync_ok(&c1, only_b_down);
	cr_assert(hc_is_up(W.hc, "a", &x));
	cr_assert_not(hc_is_up(W.hc, "b", &x), "same address, other VIP: another target");
	cr_assert(hc_is_up(W.hc, "a", &y), "type none is always up");
	info_of("a", &y, &i);
	cr_assert_str_eq(i.last_result, "none");
	cr_assert(hc_is_up(W.hc, "nosuch", &x), "unknown targets count as up");
	cr_assert_eq(hc_info(W.hc, "nosuch", &x, &i), -ENOENT);
	cr_assert_eq(hc_info(W.hc, "a", &z, &i), -ENOENT);

	wait_state("b", &x, true, 5000);
	wait_checks("a", &x, 4);
	info_of("a", &y, &i);
	cr_assert_eq(i.checks, 0, "type none is never probed");

	/* a: x stays with new settings, y goes, z comes; b goes */
	info_of("a", &x, &before);
	h.fall = 5;
	h.interval_ms = 60;
	h.timeout_ms = 40;
	cfg_add(&c2, "a", "127.0.0.1", &h);
	cfg_add(&c2, "a", "127.0.0.3", &h);
	sync_ok(&c2, all_down);
	cr_assert_eq(hc_info(W.hc, "a", &y, &i), -ENOENT);
	cr_assert_eq(hc_info(W.hc, "b", &x, &i), -ENOENT);
	/* no loop pass since before: everything is as it was */
	info_of("a", &x, &i);
	cr_assert(i.up);
	cr_assert_eq(i.checks, before.checks, "counters kept");
	cr_assert_geq(i.streak_ok, 2);
	cr_assert_eq(i.streak_ok, before.streak_ok, "streak kept");
	cr_assert_eq(i.changed_at_ms, before.changed_at_ms);
	cr_assert_not(hc_is_up(W.hc, "a", &z), "new target, adopted down");
	wait_state("a", &z, true, 5000);
	/* x goes on probing */
	wait_checks("a", &x, i.checks + 3);

	/* everything removed: no more probes */
	sync_ok(&empty, NULL);
	cr_assert_eq(hc_info(W.hc, "a", &x, &i), -ENOENT);
	/* an absence can only be watched for: five of their intervals, the loop running */
	seen = probes_seen;
	run_for(5 * h.interval_ms);
	cr_assert_eq(probes_seen, seen, "a removed target was probed");

	/* and back: the recycled slots work */
	sync_ok(&c2, NULL);
	wait_checks("a", &x, 2);

	srv_stop(&s);
	cfg_free(&c1);
	cfg_free(&c2);
	world_close();
	cr_assert_eq(count_fds(), fds, "descriptors leaked");
}

Test(health, probes_bind_the_source_address, .timeout = 30)
{
	struct sl_config c = { 0 };
	struct sl_cfg_health h;
	struct sl_addr src4 = addr("127.0.0.5"), src6 = addr("::1");
	struct sl_addr a4 = addr("127.0.0.1"), a6 = addr("::1");
	struct sockaddr_in *peer;
	struct srv s4, s6;

	world_open();
	cr_assert_eq(hc_set_source(W.hc, &src6, NULL), -EINVAL);
	cr_assert_eq(hc_set_source(W.hc, NULL, &src4), -EINVAL);
	cr_assert_eq(hc_set_source(W.hc, &src4, &src6), 0);
	srv_start(&s4, SRV_TCP, "127.0.0.1");
	srv_start(&s6, SRV_TCP, "::1");
	h = health(SL_HC_TCP, s4.port, 50, 50, 1, 1);
	cfg_add(&c, "v4", "127.0.0.1", &h);
	h.port = s6.port;
	cfg_add(&c, "v6", "::1", &h);
	sync_ok(&c, all_down);
	wait_state("v4", &a4, true, 5000);
	wait_state("v6", &a6, true, 5000);
	peer = (struct sockaddr_in *)&s4.peer;
	cr_assert_eq(peer->sin_family, AF_INET);
	cr_assert_eq(peer->sin_addr.s_addr, src4.addr[0], "probe came from %s",
		     inet_ntoa(peer->sin_addr));
	cfg_free(&c);
	world_close();
}

#define SPREAD_N		200

static __u64 first_probe[SPREAD_N];
static unsigned int n_first;

static void note_first_probe(void *ctx, const char *vip, const struct sl_addr *b, __u64 ms)
{
	unsigned int k = ((const __u8 *)b->addr)[2] * 256 + ((const __u8 *)b->addr)[3] - 1;

	cr_assert_lt(k, SPREAD_N);
	if (!first_probe[k]) {
		first_probe[k] = ms;
		n_first++;
	}
}

static bool cond_all_probed(const void *arg)
{
	return n_first == SPREAD_N;
}

static int cmp_u64(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return x < y ? -1 : x > y;
}

Test(health, probes_spread_over_the_interval, .timeout = 30)
{
	struct sl_config c = { 0 };
	struct sl_cfg_health h = health(SL_HC_TCP, closed_port("127.0.0.1", SOCK_STREAM), 1000, 500, 2, 3);
	unsigned int most = 0;
	char ip[32];

	world_open();
	hc_set_probe_hook(W.hc, note_first_probe, NULL);
	for (int k = 0; k < SPREAD_N; k++) {
		snprintf(ip, sizeof(ip), "127.1.%d.%d", (k + 1) / 256, (k + 1) % 256);
		cfg_add(&c, "spread", ip, &h);
	}
	sync_ok(&c, NULL);
	cr_assert(run_until(cond_all_probed, NULL, 5000), "only %u of %d probed", n_first, SPREAD_N);

	qsort(first_probe, SPREAD_N, sizeof(first_probe[0]), cmp_u64);
	for (unsigned int lo = 0, hi = 0; lo < SPREAD_N; lo++) {
		while (hi < SPREAD_N && first_probe[hi] < first_probe[lo] + 100)
			hi++;
		if (hi - lo > most)
			most = hi - lo;
	}
	cr_assert_leq(most, SPREAD_N * 30 / 100, "%u of %d probes started in one 100 ms window",
		      most, SPREAD_N);
	cr_assert_geq(first_probe[SPREAD_N - 1] - first_probe[0], 500,
		      "first probes span only %llu ms",
		      (unsigned long long)(first_probe[SPREAD_N - 1] - first_probe[0]));
	cfg_free(&c);
	world_close();
}
