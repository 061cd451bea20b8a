/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Health checks: a target table, one timerfd over a min-heap of deadlines, non-blocking probes. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>

#include "evloop.h"
#include "health.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT	24	/* linux/in.h; glibc may lack it */
#endif

#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

#define HC_CHUNK	256	/* targets per allocation; never moved or freed before hc_close */
#define HC_STATUS_LEN	13	/* "HTTP/1.1 200 ": all that is read of a response */
#define HC_REQ_MAX	1024	/* request: path and host are at most 255 each */
#define HC_LAST_MAX	48	/* last_result text */
#define HC_PASS_MAX	4096	/* deadlines handled per timer event, so the loop stays responsive */
#define HC_TICK_MS	4	/* timer wake-ups are rounded up to this: fewer, fuller passes */
#define HEAP_NONE	UINT32_MAX

/* Where a target's probe is. */
enum probe_state {
	P_IDLE = 0,	/* no socket; the heap holds the next start */
	P_CONNECT,	/* TCP/HTTP: connect in progress, waiting for EPOLLOUT */
	P_SEND,		/* HTTP: request partly sent */
	P_READ,		/* HTTP: reading the status line */
	P_UDP,		/* UDP: datagram sent, waiting for a reply or an ICMP error */
};

/* How a probe ended. */
enum probe_result {
	PR_OK,		/* the backend answered as expected */
	PR_FAIL,		/* the backend failed: counts towards fall */
	PR_LOCAL,	/* we could not probe (fd or port exhaustion ...): not counted */
};

/* One (VIP, backend) pair. Lives in a chunk; reused through the free list. */
struct target {
	struct ev_source src;	/* the probe socket; fd -1 when idle */
	struct hc *hc;		/* owner, for the epoll handler */
	struct target *next;	/* hash chain, or free list */
	__u64 hash;		/* of (vip, addr) */
	__u64 deadline_ms;	/* heap key: next start when idle, probe deadline when not */
	__u64 start_ns;		/* CLOCK_MONOTONIC ns the current or last probe started */
	__u64 changed_at_ms;	/* CLOCK_REALTIME ms of the last verdict change */
	__u64 checks;		/* probes completed */
	__u64 failures;		/* of which failed */
	__u32 heap_idx;		/* position in hc->heap, HEAP_NONE when unscheduled */
	__u32 phase;		/* probes start at times == phase (mod interval) */
	__u32 latency_us;	/* duration of the last completed probe */
	__u32 gen;		/* hc->gen of the last hc_sync that listed it */
	__u16 sent;		/* HTTP request bytes sent */
	__u8 rlen;		/* HTTP status-line bytes in rbuf */
	__u8 pstate;		/* enum probe_state */
	bool in_use;		/* false: on the free list */
	char rbuf[HC_STATUS_LEN];	/* HTTP status line */
	char last[HC_LAST_MAX];	/* last_result */
	char vip[SL_CFG_NAME_MAX];	/* key: VIP name */
	struct sl_addr addr;	/* key: backend address */
	struct hc_sm sm;	/* verdict */
	struct sl_cfg_health h;	/* settings, normalised */
};

struct hc {
	int epfd;			/* the daemon's epoll */
	struct ev_source tsrc;		/* the one timerfd */
	hc_change_fn fn;		/* verdict changes */
	void *ctx;			/* for fn and initially_down */
	hc_probe_fn probe_fn;		/* test hook */
	void *probe_ctx;
	struct sl_addr src4, src6;	/* probe sources; family 0 = unbound */
	struct target **buckets;	/* hash table, nbuckets a power of two */
	__u32 nbuckets;
	__u32 ntargets;
	struct target **heap;		/* min-heap on deadline_ms */
	__u32 heap_len, heap_cap;
	struct target **chunks;		/* nchunks arrays of HC_CHUNK targets */
	__u32 nchunks;
	struct target *free;		/* unused targets */
	__u32 nfree;
	__u64 armed_ms;			/* deadline the timerfd is set to; 0 = none */
	__u32 gen;			/* hc_sync generation */
};

/* ---- clocks ---------------------------------------------------------------- */

static __u64 clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

static __u64 mono_ms(void)
{
	return clock_ns(CLOCK_MONOTONIC) / 1000000ULL;
}

static __u64 real_ms(void)
{
	return clock_ns(CLOCK_REALTIME) / 1000000ULL;
}

/* ---- the state machine ------------------------------------------------------ */

static __u8 count_min1(__u8 n)
{
	return n ? n : 1;
}

void hc_sm_init(struct hc_sm *sm, __u8 rise, __u8 fall, bool up)
{
	memset(sm, 0, sizeof(*sm));
	sm->rise = count_min1(rise);
	sm->fall = count_min1(fall);
	sm->up = up;
}

void hc_sm_set(struct hc_sm *sm, __u8 rise, __u8 fall)
{
	sm->rise = count_min1(rise);
	sm->fall = count_min1(fall);
}

bool hc_sm_is_held(const struct hc_sm *sm, __u64 now_ms)
{
	return sm->held && now_ms < sm->hold_until_ms;
}

/* True when a change now would be the (HC_FLAP_CHANGES + 1)th inside the window. */
static bool sm_is_flapping(const struct hc_sm *sm, __u64 now_ms)
{
	if (sm->n_changes < HC_FLAP_CHANGES)
		return false;
	/* the ring is full: the slot written next holds the oldest change */
	return now_ms < sm->changes[sm->next_change] + HC_FLAP_WINDOW_MS;
}

static void sm_record_change(struct hc_sm *sm, __u64 now_ms)
{
	sm->changes[sm->next_change] = now_ms;
	sm->next_change = (__u8)((sm->next_change + 1) % HC_FLAP_CHANGES);
	if (sm->n_changes < HC_FLAP_CHANGES)
		sm->n_changes++;
}

static void sm_start_hold(struct hc_sm *sm, __u64 now_ms)
{
	/* a repeat offender gets twice the last hold; a reformed one starts over */
	if (sm->hold_ms && now_ms < sm->hold_until_ms + HC_FLAP_FORGET_MS) {
		sm->hold_ms *= 2;
		if (sm->hold_ms > HC_FLAP_HOLD_MAX_MS)
			sm->hold_ms = HC_FLAP_HOLD_MAX_MS;
	} else {
		sm->hold_ms = HC_FLAP_HOLD_MS;
	}
	sm->hold_until_ms = now_ms + sm->hold_ms;
	sm->held = true;
	sm->n_changes = 0;
	sm->next_change = 0;
	sm->streak_ok = 0;
}

int hc_sm_result(struct hc_sm *sm, bool ok, __u64 now_ms)
{
	bool want;

	if (sm->held && now_ms >= sm->hold_until_ms) {
		/* rise counts from the end of the hold, not from inside it */
		sm->held = false;
		sm->streak_ok = 0;
		sm->streak_fail = 0;
	}
	if (ok) {
		if (sm->streak_ok < 255)
			sm->streak_ok++;
		sm->streak_fail = 0;
	} else {
		if (sm->streak_fail < 255)
			sm->streak_fail++;
		sm->streak_ok = 0;
	}

	if (sm->up && sm->streak_fail >= sm->fall)
		want = false;
	else if (!sm->up && !sm->held && sm->streak_ok >= sm->rise)
		want = true;
	else
		return 0;

	if (sm_is_flapping(sm, now_ms)) {
		sm_start_hold(sm, now_ms);
		if (!sm->up)
			return 0;	/* it wanted up: it stays down */
		sm->up = false;
		return 1;
	}
	sm_record_change(sm, now_ms);
	sm->up = want;
	return 1;
}

/* ---- target table ------------------------------------------------------------ */

/* FNV-1a over the key, then a 64-bit finaliser so the low bits (phase) spread. */
static __u64 key_hash(const char *vip, const struct sl_addr *a)
{
	const unsigned char *p;
	__u64 h = 0xcbf29ce484222325ULL;

	for (p = (const unsigned char *)vip; *p; p++)
		h = (h ^ *p) * 0x100000001b3ULL;
	h = (h ^ 0xff) * 0x100000001b3ULL;	/* name terminator */
	h = (h ^ a->family) * 0x100000001b3ULL;
	p = (const unsigned char *)a->addr;
	for (size_t i = 0; i < sizeof(a->addr); i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

static struct target *target_find(const struct hc *hc, const char *vip,
				  const struct sl_addr *a, __u64 h)
{
	struct target *t;

	if (!hc->nbuckets || !vip || !a)
		return NULL;
	for (t = hc->buckets[h & (hc->nbuckets - 1)]; t; t = t->next)
		if (t->hash == h && sl_addr_equal(&t->addr, a) && !strcmp(t->vip, vip))
			return t;
	return NULL;
}

static struct target *target_lookup(const struct hc *hc, const char *vip,
				    const struct sl_addr *a)
{
	if (!vip || !a)
		return NULL;
	return target_find(hc, vip, a, key_hash(vip, a));
}

static void table_insert(struct hc *hc, struct target *t)
{
	struct target **b = &hc->buckets[t->hash & (hc->nbuckets - 1)];

	t->next = *b;
	*b = t;
	hc->ntargets++;
}

static void table_unlink(struct hc *hc, struct target *t)
{
	struct target **pp = &hc->buckets[t->hash & (hc->nbuckets - 1)];

	for (; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			hc->ntargets--;
			return;
		}
	}
}

/* Make room for @n targets: buckets (load <= 1), heap slots and free targets. */
static int table_reserve(struct hc *hc, __u32 n)
{
	__u64 want = (__u64)hc->ntargets + n;

	if (want > UINT32_MAX / 2)
		return -ENOMEM;
	if (want > hc->nbuckets) {
		__u32 nb = hc->nbuckets ? hc->nbuckets : 64;
		struct target **b;

		while (nb < want)
			nb *= 2;
		b = calloc(nb, sizeof(*b));
		if (!b)
			return -ENOMEM;
		for (__u32 i = 0; i < hc->nbuckets; i++) {
			struct target *t = hc->buckets[i], *next;

			for (; t; t = next) {
				next = t->next;
				t->next = b[t->hash & (nb - 1)];
				b[t->hash & (nb - 1)] = t;
			}
		}
		free(hc->buckets);
		hc->buckets = b;
		hc->nbuckets = nb;
	}
	if (want > hc->heap_cap) {
		__u32 cap = hc->heap_cap ? hc->heap_cap : 64;
		struct target **h;

		while (cap < want)
			cap *= 2;
		h = realloc(hc->heap, cap * sizeof(*h));
		if (!h)
			return -ENOMEM;
		hc->heap = h;
		hc->heap_cap = cap;
	}
	while (hc->nfree < n) {
		struct target **c, *chunk;

		c = realloc(hc->chunks, (hc->nchunks + 1) * sizeof(*c));
		if (!c)
			return -ENOMEM;
		hc->chunks = c;
		chunk = calloc(HC_CHUNK, sizeof(*chunk));
		if (!chunk)
			return -ENOMEM;
		hc->chunks[hc->nchunks++] = chunk;
		for (int i = HC_CHUNK - 1; i >= 0; i--) {
			chunk[i].src.fd = -1;
			chunk[i].heap_idx = HEAP_NONE;
			chunk[i].next = hc->free;
			hc->free = &chunk[i];
			hc->nfree++;
		}
	}
	return 0;
}

/* ---- deadline heap and the timerfd ------------------------------------------- */

static void heap_place(struct hc *hc, struct target *t, __u32 i)
{
	hc->heap[i] = t;
	t->heap_idx = i;
}

static void heap_up(struct hc *hc, __u32 i)
{
	struct target *t = hc->heap[i];

	while (i > 0) {
		__u32 p = (i - 1) / 2;

		if (hc->heap[p]->deadline_ms <= t->deadline_ms)
			break;
		heap_place(hc, hc->heap[p], i);
		i = p;
	}
	heap_place(hc, t, i);
}

static void heap_down(struct hc *hc, __u32 i)
{
	struct target *t = hc->heap[i];

	for (;;) {
		__u32 c = 2 * i + 1;

		if (c >= hc->heap_len)
			break;
		if (c + 1 < hc->heap_len && hc->heap[c + 1]->deadline_ms < hc->heap[c]->deadline_ms)
			c++;
		if (t->deadline_ms <= hc->heap[c]->deadline_ms)
			break;
		heap_place(hc, hc->heap[c], i);
		i = c;
	}
	heap_place(hc, t, i);
}

/* Schedule @t at @deadline; capacity was reserved by hc_sync. */
static void heap_set(struct hc *hc, struct target *t, __u64 deadline)
{
	t->deadline_ms = deadline;
	if (t->heap_idx == HEAP_NONE) {
		heap_place(hc, t, hc->heap_len++);
		heap_up(hc, t->heap_idx);
		return;
	}
	heap_up(hc, t->heap_idx);
	heap_down(hc, t->heap_idx);
}

static void heap_del(struct hc *hc, struct target *t)
{
	__u32 i = t->heap_idx;
	struct target *last;

	if (i == HEAP_NONE)
		return;
	t->heap_idx = HEAP_NONE;
	last = hc->heap[--hc->heap_len];
	if (last == t)
		return;
	heap_place(hc, last, i);
	heap_up(hc, i);
	heap_down(hc, last->heap_idx);
}

/*
 * Point the timerfd at the earliest deadline, rounded up to a tick (a probe
 * starts, or times out, at most HC_TICK_MS - 1 late; with 1,000 targets that
 * halves the wake-ups). A later deadline than the armed one is left alone:
 * the timer then fires early, finds nothing due and re-arms, which costs less
 * than a timerfd_settime on every probe completion.
 */
static void timer_arm(struct hc *hc)
{
	__u64 top = hc->heap_len ? hc->heap[0]->deadline_ms : 0;
	struct itimerspec its = { 0 };

	top = (top + HC_TICK_MS - 1) / HC_TICK_MS * HC_TICK_MS;

	if (top == hc->armed_ms || (top && hc->armed_ms && top > hc->armed_ms))
		return;
	if (top) {
		its.it_value.tv_sec = (time_t)(top / 1000);
		its.it_value.tv_nsec = (long)(top % 1000) * 1000000L;
	}
	if (timerfd_settime(hc->tsrc.fd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
		hc->armed_ms = top;
}

/* The first probe start after @x on @t's grid (times == phase mod interval). */
static __u64 grid_after(const struct target *t, __u64 x)
{
	__u64 iv = t->h.interval_ms;
	__u64 g = x - x % iv + t->phase;

	return g > x ? g : g + iv;
}

/* After a probe: the next slot on the grid; after a long stall, the next one from now. */
static void schedule_next(struct hc *hc, struct target *t, __u64 now)
{
	__u64 next = grid_after(t, t->start_ns / 1000000ULL);

	if (next + t->h.interval_ms <= now)
		next = grid_after(t, now);
	heap_set(hc, t, next);
}

/* ---- probes -------------------------------------------------------------------- */

static socklen_t sockaddr_of(const struct sl_addr *a, __u16 port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == SL_FAMILY_V4) {
		struct sockaddr_in *s = (struct sockaddr_in *)ss;

		s->sin_family = AF_INET;
		s->sin_port = htons(port);
		s->sin_addr.s_addr = a->addr[0];
		return sizeof(*s);
	}
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(port);
	memcpy(&s6->sin6_addr, a->addr, sizeof(s6->sin6_addr));
	return sizeof(*s6);
}

/* Errors that say nothing about the backend: we could not send a probe. */
static bool is_local_error(int err)
{
	switch (err) {
	case EMFILE: case ENFILE: case ENOBUFS: case ENOMEM:
	case EADDRNOTAVAIL: case EADDRINUSE: case EAGAIN:
		return true;
	default:
		return false;
	}
}

static const char *err_word(int err)
{
	switch (err) {
	case ECONNREFUSED:	return "refused";
	case ECONNRESET:	return "reset";
	case EPIPE:		return "reset";
	case ETIMEDOUT:		return "timeout";
	case EHOSTUNREACH:	return "host unreachable";
	case ENETUNREACH:	return "network unreachable";
	default:		return strerror(err);
	}
}

static void probe_close(struct hc *hc, struct target *t)
{
	if (t->src.fd >= 0) {
		/* explicit: a forked child holding the file would keep it in the set */
		epoll_ctl(hc->epfd, EPOLL_CTL_DEL, t->src.fd, NULL);
		close(t->src.fd);
		t->src.fd = -1;
	}
	t->pstate = P_IDLE;
}

static void notify(struct hc *hc, struct target *t)
{
	char reason[160];
	const struct hc_sm *sm = &t->sm;

	t->changed_at_ms = real_ms();
	if (!hc->fn)
		return;
	if (sm->up)
		snprintf(reason, sizeof(reason), "%s (%u consecutive successes)", t->last,
			 sm->streak_ok);
	else if (sm->held)
		snprintf(reason, sizeof(reason),
			 "%s (%u consecutive failures); flapping: held down for %u s",
			 t->last, sm->streak_fail, sm->hold_ms / 1000);
	else
		snprintf(reason, sizeof(reason), "%s (%u consecutive failures)", t->last,
			 sm->streak_fail);
	hc->fn(hc->ctx, t->vip, &t->addr, sm->up, reason);
}

/* Close the probe, count @res, maybe report a change, schedule the next start. */
static void probe_end(struct hc *hc, struct target *t, enum probe_result res,
		      const char *what, __u64 now)
{
	probe_close(hc, t);
	if (res == PR_LOCAL) {
		snprintf(t->last, sizeof(t->last), "local error: %s", what);
	} else {
		snprintf(t->last, sizeof(t->last), "%s", what);
		t->latency_us = (__u32)((clock_ns(CLOCK_MONOTONIC) - t->start_ns) / 1000);
		t->checks++;
		if (res == PR_FAIL)
			t->failures++;
		if (hc_sm_result(&t->sm, res == PR_OK, now))
			notify(hc, t);
	}
	schedule_next(hc, t, now);
}

static void probe_end_err(struct hc *hc, struct target *t, int err, __u64 now)
{
	probe_end(hc, t, is_local_error(err) ? PR_LOCAL : PR_FAIL, err_word(err), now);
}

static int probe_watch(struct hc *hc, struct target *t, int op, unsigned int events)
{
	struct epoll_event ev = { .events = events, .data.ptr = &t->src };

	return epoll_ctl(hc->epfd, op, t->src.fd, &ev) ? -errno : 0;
}

/* The request; the same bytes every call, so a partial send can resume. */
static int http_request(const struct target *t, char *buf, size_t len)
{
	char host[SL_HC_HOST_MAX + 16], a[SL_ADDR_STRLEN];
	int n;

	if (t->h.http_host[0]) {
		snprintf(host, sizeof(host), "%s", t->h.http_host);
	} else {
		sl_addr_str(&t->addr, a, sizeof(a));
		n = snprintf(host, sizeof(host), t->addr.family == SL_FAMILY_V6 ? "[%s]" : "%s", a);
		if (t->h.port != 80)
			snprintf(host + n, sizeof(host) - (size_t)n, ":%u", t->h.port);
	}
	n = snprintf(buf, len,
		     "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: sluice-health-check\r\n"
		     "Accept: */*\r\nConnection: close\r\n\r\n", t->h.http_path, host);
	return n > 0 && (size_t)n < len ? n : -ENAMETOOLONG;
}

static void http_send(struct hc *hc, struct target *t, __u64 now)
{
	char req[HC_REQ_MAX];
	int n = http_request(t, req, sizeof(req));
	ssize_t w;

	if (n < 0) {
		probe_end(hc, t, PR_LOCAL, "request too long", now);
		return;
	}
	w = send(t->src.fd, req + t->sent, (size_t)n - t->sent, MSG_NOSIGNAL);
	if (w < 0) {
		if (errno != EAGAIN && errno != EINTR)
			probe_end_err(hc, t, errno, now);
		return;		/* EPOLLOUT is still watched */
	}
	t->sent = (__u16)(t->sent + w);
	if (t->sent < n)
		return;
	if (probe_watch(hc, t, EPOLL_CTL_MOD, EPOLLIN)) {
		probe_end_err(hc, t, errno, now);
		return;
	}
	t->pstate = P_READ;
	t->rlen = 0;
}

/* "HTTP/1.x NNN" followed by a space, CR, LF or the end. Returns NNN or -1. */
static int http_status(const char *b, size_t n)
{
	int s = 0;

	if (n < HC_STATUS_LEN - 1 || memcmp(b, "HTTP/1.", 7) || b[7] < '0' || b[7] > '9' ||
	    b[8] != ' ')
		return -1;
	for (int i = 9; i < 12; i++) {
		if (b[i] < '0' || b[i] > '9')
			return -1;
		s = s * 10 + (b[i] - '0');
	}
	if (n > 12 && b[12] != ' ' && b[12] != '\r' && b[12] != '\n')
		return -1;
	return s < 100 ? -1 : s;
}

static void http_read(struct hc *hc, struct target *t, __u64 now)
{
	char what[HC_LAST_MAX];
	bool eof = false;
	ssize_t r;
	int s;

	r = recv(t->src.fd, t->rbuf + t->rlen, HC_STATUS_LEN - t->rlen, 0);
	if (r < 0) {
		if (errno != EAGAIN && errno != EINTR)
			probe_end_err(hc, t, errno, now);
		return;
	}
	if (r == 0)
		eof = true;
	t->rlen = (__u8)(t->rlen + r);
	if (!eof && t->rlen < HC_STATUS_LEN && !memchr(t->rbuf, '\n', t->rlen))
		return;
	if (!t->rlen) {
		probe_end(hc, t, PR_FAIL, "empty response", now);
		return;
	}
	s = http_status(t->rbuf, t->rlen);
	if (s < 0) {
		probe_end(hc, t, PR_FAIL, "bad response", now);
	} else if (s < t->h.http_status_min || s > t->h.http_status_max) {
		snprintf(what, sizeof(what), "bad status %d", s);
		probe_end(hc, t, PR_FAIL, what, now);
	} else {
		probe_end(hc, t, PR_OK, "ok", now);
	}
}

static void udp_read(struct hc *hc, struct target *t, __u64 now)
{
	char buf[SL_HC_PAYLOAD_MAX];
	size_t el = strlen(t->h.udp_expect);
	ssize_t r;

	/* a connected socket hears the ICMP port unreachable as ECONNREFUSED */
	r = recv(t->src.fd, buf, sizeof(buf), 0);
	if (r < 0) {
		if (errno != EAGAIN && errno != EINTR)
			probe_end_err(hc, t, errno, now);
		return;
	}
	if (el && ((size_t)r < el || memcmp(buf, t->h.udp_expect, el)))
		probe_end(hc, t, PR_FAIL, "unexpected reply", now);
	else
		probe_end(hc, t, PR_OK, "ok", now);
}

/* EPOLLOUT on a connecting socket. Spurious wake-ups are checked with poll(). */
static void probe_connected(struct hc *hc, struct target *t, __u64 now)
{
	struct pollfd p = { .fd = t->src.fd, .events = POLLOUT };
	socklen_t len = sizeof(int);
	int err = 0;

	if (poll(&p, 1, 0) <= 0)
		return;
	/* POLLOUT alone is a completed connect: ask for the error only otherwise */
	if (p.revents != POLLOUT && getsockopt(t->src.fd, SOL_SOCKET, SO_ERROR, &err, &len))
		err = errno;
	if (!err && !(p.revents & POLLOUT))
		err = ECONNRESET;
	if (err) {
		probe_end_err(hc, t, err, now);
		return;
	}
	if (t->h.type == SL_HC_TCP) {
		probe_end(hc, t, PR_OK, "ok", now);
		return;
	}
	t->pstate = P_SEND;
	t->sent = 0;
	http_send(hc, t, now);
}

/* What a socket event means in each probe state. */
static void (*const probe_step[])(struct hc *hc, struct target *t, __u64 now) = {
	[P_CONNECT] = probe_connected,
	[P_SEND] = http_send,
	[P_READ] = http_read,
	[P_UDP] = udp_read,
};

/*
 * The epoll handler of every probe socket. Targets are never freed while hc
 * lives, so an event fetched before its probe ended finds either an idle
 * target or a newer probe, and every step tolerates a spurious wake-up.
 */
static void on_probe(struct ev_source *src, unsigned int events)
{
	struct target *t = container_of(src, struct target, src);

	if (!t->in_use || t->src.fd < 0 || !probe_step[t->pstate])
		return;
	probe_step[t->pstate](t->hc, t, mono_ms());
	timer_arm(t->hc);
}

static int probe_socket(struct hc *hc, struct target *t)
{
	const struct sl_addr *src = t->addr.family == SL_FAMILY_V4 ? &hc->src4 : &hc->src6;
	bool tcp = t->h.type != SL_HC_UDP;
	struct sockaddr_storage ss;
	int fd, one = 1;

	fd = socket(t->addr.family == SL_FAMILY_V4 ? AF_INET : AF_INET6,
		    (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (tcp) {
		/* end with RST: thousands of probes a second must not pile up in TIME_WAIT */
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };

		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	if (src->family) {
		socklen_t sl = sockaddr_of(src, 0, &ss);

		/* choose the port at connect(), so the 4-tuple and not the port must be unique */
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&ss, sl)) {
			int err = errno;

			close(fd);
			return -err;
		}
	}
	return fd;
}

/* Start a probe of @t at @now; on immediate failure it ends at once. */
static void probe_start(struct hc *hc, struct target *t, __u64 now)
{
	struct sockaddr_storage ss;
	socklen_t sl = sockaddr_of(&t->addr, t->h.port, &ss);
	int fd, ret;

	t->start_ns = clock_ns(CLOCK_MONOTONIC);
	t->sent = 0;
	t->rlen = 0;
	if (hc->probe_fn)
		hc->probe_fn(hc->probe_ctx, t->vip, &t->addr, now);
	fd = probe_socket(hc, t);
	if (fd < 0) {
		probe_end(hc, t, PR_LOCAL, strerror(-fd), now);
		return;
	}
	t->src.fd = fd;
	ret = connect(fd, (struct sockaddr *)&ss, sl);
	if (t->h.type == SL_HC_UDP) {
		/* connect() only sets the peer; a route error shows here or at send() */
		if (ret || send(fd, t->h.udp_payload, strlen(t->h.udp_payload), MSG_NOSIGNAL) < 0) {
			probe_end_err(hc, t, errno, now);
			return;
		}
		t->pstate = P_UDP;
		ret = probe_watch(hc, t, EPOLL_CTL_ADD, EPOLLIN);
	} else if (ret && errno != EINPROGRESS) {
		probe_end_err(hc, t, errno, now);
		return;
	} else {
		t->pstate = P_CONNECT;
		ret = probe_watch(hc, t, EPOLL_CTL_ADD, EPOLLOUT);
	}
	if (ret) {
		probe_end(hc, t, PR_LOCAL, strerror(-ret), now);
		return;
	}
	heap_set(hc, t, now + t->h.timeout_ms);
}

static void on_timer(struct ev_source *src, unsigned int events)
{
	struct hc *hc = container_of(src, struct hc, tsrc);
	__u64 exp, now = mono_ms();
	unsigned int n = 0;

	if (read(src->fd, &exp, sizeof(exp)) < 0 && errno != EAGAIN)
		return;
	hc->armed_ms = 0;
	while (hc->heap_len && hc->heap[0]->deadline_ms <= now && n++ < HC_PASS_MAX) {
		struct target *t = hc->heap[0];

		if (t->pstate != P_IDLE)
			probe_end(hc, t, PR_FAIL, "timeout", now);
		else
			probe_start(hc, t, now);
		if (!(n % 64))
			now = mono_ms();
	}
	timer_arm(hc);
}

/* ---- public API ---------------------------------------------------------------- */

struct hc *hc_open(int epfd, hc_change_fn fn, void *ctx)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct hc *hc;
	int err;

	if (epfd < 0) {
		errno = EBADF;
		return NULL;
	}
	hc = calloc(1, sizeof(*hc));
	if (!hc)
		return NULL;
	hc->epfd = epfd;
	hc->fn = fn;
	hc->ctx = ctx;
	hc->tsrc.fn = on_timer;
	hc->tsrc.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	ev.data.ptr = &hc->tsrc;
	if (hc->tsrc.fd >= 0 && !epoll_ctl(epfd, EPOLL_CTL_ADD, hc->tsrc.fd, &ev))
		return hc;
	err = errno;
	if (hc->tsrc.fd >= 0)
		close(hc->tsrc.fd);
	free(hc);
	errno = err;
	return NULL;
}

void hc_close(struct hc *hc)
{
	if (!hc)
		return;
	for (__u32 c = 0; c < hc->nchunks; c++) {
		for (int i = 0; i < HC_CHUNK; i++)
			probe_close(hc, &hc->chunks[c][i]);
		free(hc->chunks[c]);
	}
	epoll_ctl(hc->epfd, EPOLL_CTL_DEL, hc->tsrc.fd, NULL);
	close(hc->tsrc.fd);
	free(hc->chunks);
	free(hc->heap);
	free(hc->buckets);
	free(hc);
}

/* Settings as the module uses them: a probe needs a port, sane times and counts. */
static void health_normalise(struct sl_cfg_health *h, const struct sl_cfg_health *in)
{
	*h = *in;
	if (h->type != SL_HC_TCP && h->type != SL_HC_HTTP && h->type != SL_HC_UDP)
		h->type = SL_HC_NONE;
	if (!h->port)
		h->type = SL_HC_NONE;
	if (!h->interval_ms)
		h->interval_ms = 1;
	if (!h->timeout_ms || h->timeout_ms > h->interval_ms)
		h->timeout_ms = h->interval_ms;
	h->rise = count_min1(h->rise);
	h->fall = count_min1(h->fall);
	h->http_path[sizeof(h->http_path) - 1] = '\0';
	h->http_host[sizeof(h->http_host) - 1] = '\0';
	h->udp_payload[sizeof(h->udp_payload) - 1] = '\0';
	h->udp_expect[sizeof(h->udp_expect) - 1] = '\0';
	if (!h->http_path[0])
		strcpy(h->http_path, "/");
}

/* True when @a and @b would send different probes. */
static bool probe_differs(const struct sl_cfg_health *a, const struct sl_cfg_health *b)
{
	return a->type != b->type || a->port != b->port ||
	       a->http_status_min != b->http_status_min ||
	       a->http_status_max != b->http_status_max ||
	       strcmp(a->http_path, b->http_path) || strcmp(a->http_host, b->http_host) ||
	       strcmp(a->udp_payload, b->udp_payload) || strcmp(a->udp_expect, b->udp_expect);
}

static void target_add(struct hc *hc, const char *vip, const struct sl_cfg_backend *be,
		       const struct sl_cfg_health *h, __u64 hash, bool down, __u64 now)
{
	struct target *t = hc->free;

	hc->free = t->next;
	hc->nfree--;
	memset(t, 0, sizeof(*t));
	t->src.fd = -1;
	t->src.fn = on_probe;
	t->hc = hc;
	t->heap_idx = HEAP_NONE;
	t->in_use = true;
	t->gen = hc->gen;
	t->hash = hash;
	snprintf(t->vip, sizeof(t->vip), "%s", vip);
	t->addr = be->addr;
	t->h = *h;
	t->changed_at_ms = real_ms();
	hc_sm_init(&t->sm, h->rise, h->fall, h->type == SL_HC_NONE || !down);
	strcpy(t->last, h->type == SL_HC_NONE ? "none" : "-");
	t->phase = (__u32)(hash % h->interval_ms);
	table_insert(hc, t);
	if (h->type != SL_HC_NONE)
		heap_set(hc, t, grid_after(t, now));
}

static void target_update(struct hc *hc, struct target *t, const struct sl_cfg_health *h,
			  __u64 now)
{
	bool probe = probe_differs(&t->h, h);
	bool timing = t->h.interval_ms != h->interval_ms || t->h.timeout_ms != h->timeout_ms;
	bool was_none = t->h.type == SL_HC_NONE;

	t->gen = hc->gen;
	hc_sm_set(&t->sm, h->rise, h->fall);
	if (!probe && !timing) {
		t->h = *h;
		return;
	}
	if (probe && t->pstate != P_IDLE)
		probe_close(hc, t);	/* it probed the old settings: not counted */
	t->h = *h;
	t->phase = (__u32)(t->hash % h->interval_ms);
	if (h->type == SL_HC_NONE) {
		heap_del(hc, t);
		if (!was_none) {
			if (!t->sm.up)
				t->changed_at_ms = real_ms();
			hc_sm_init(&t->sm, h->rise, h->fall, true);
			strcpy(t->last, "none");
		}
		return;
	}
	if (was_none)
		strcpy(t->last, "-");
	if (t->pstate == P_IDLE)
		heap_set(hc, t, grid_after(t, now));
	/* else a probe with unchanged settings runs on; its end uses the new grid */
}

static void target_remove(struct hc *hc, struct target *t)
{
	probe_close(hc, t);
	heap_del(hc, t);
	table_unlink(hc, t);
	t->in_use = false;
	t->next = hc->free;
	hc->free = t;
	hc->nfree++;
}

int hc_sync(struct hc *hc, const struct sl_config *cfg,
	    bool (*initially_down)(void *ctx, const char *vip, const struct sl_addr *b))
{
	struct sl_cfg_health h;
	__u64 now = mono_ms();
	__u32 nnew = 0;
	int ret;

	if (!cfg)
		return -EINVAL;
	/* first count the new targets and reserve for them: after that nothing fails */
	for (__u32 i = 0; i < cfg->n_vips; i++) {
		const struct sl_cfg_vip *v = &cfg->vips[i];

		for (__u32 j = 0; j < v->n_backends; j++)
			if (!target_lookup(hc, v->name, &v->backends[j].addr))
				nnew++;
	}
	ret = table_reserve(hc, nnew);
	if (ret)
		return ret;

	hc->gen++;
	for (__u32 i = 0; i < cfg->n_vips; i++) {
		const struct sl_cfg_vip *v = &cfg->vips[i];

		for (__u32 j = 0; j < v->n_backends; j++) {
			const struct sl_cfg_backend *be = &v->backends[j];
			__u64 hash = key_hash(v->name, &be->addr);
			struct target *t = target_find(hc, v->name, &be->addr, hash);

			health_normalise(&h, &be->health);
			if (t)
				target_update(hc, t, &h, now);
			else
				target_add(hc, v->name, be, &h, hash,
					   initially_down && h.type != SL_HC_NONE &&
					   initially_down(hc->ctx, v->name, &be->addr), now);
		}
	}
	for (__u32 c = 0; c < hc->nchunks; c++)
		for (int i = 0; i < HC_CHUNK; i++) {
			struct target *t = &hc->chunks[c][i];

			if (t->in_use && t->gen != hc->gen)
				target_remove(hc, t);
		}
	timer_arm(hc);
	return 0;
}

int hc_set_source(struct hc *hc, const struct sl_addr *src4, const struct sl_addr *src6)
{
	if ((src4 && src4->family && src4->family != SL_FAMILY_V4) ||
	    (src6 && src6->family && src6->family != SL_FAMILY_V6))
		return -EINVAL;
	memset(&hc->src4, 0, sizeof(hc->src4));
	memset(&hc->src6, 0, sizeof(hc->src6));
	if (src4)
		hc->src4 = *src4;
	if (src6)
		hc->src6 = *src6;
	return 0;
}

bool hc_is_up(struct hc *hc, const char *vip, const struct sl_addr *b)
{
	const struct target *t = target_lookup(hc, vip, b);

	return !t || t->sm.up;
}

int hc_info(struct hc *hc, const char *vip, const struct sl_addr *b, struct hc_info *out)
{
	const struct target *t = target_lookup(hc, vip, b);

	if (!t)
		return -ENOENT;
	memset(out, 0, sizeof(*out));
	out->up = t->sm.up;
	out->held = hc_sm_is_held(&t->sm, mono_ms());
	out->last_result = t->last;
	out->latency_us = t->latency_us;
	out->changed_at_ms = t->changed_at_ms;
	out->checks = t->checks;
	out->failures = t->failures;
	out->streak_ok = t->sm.streak_ok;
	out->streak_fail = t->sm.streak_fail;
	return 0;
}

void hc_set_probe_hook(struct hc *hc, hc_probe_fn fn, void *ctx)
{
	hc->probe_fn = fn;
	hc->probe_ctx = ctx;
}
