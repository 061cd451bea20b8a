/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Backend health checks (TCP, HTTP, UDP) as non-blocking sockets on sluiced's epoll loop. */
#ifndef SLUICE_HEALTH_H
#define SLUICE_HEALTH_H

#include <stdbool.h>
#include <linux/types.h>
#include "config.h"

/*
 * Flap damping (docs/HEALTH.md). A backend whose up/down state would change
 * for the (HC_FLAP_CHANGES + 1)th time within HC_FLAP_WINDOW_MS is held down
 * for a hold time, and after the hold needs `rise` consecutive successes
 * counted from its end. The first hold lasts HC_FLAP_HOLD_MS; a hold that
 * starts less than HC_FLAP_FORGET_MS after the previous one ended lasts twice
 * as long as that one, up to HC_FLAP_HOLD_MAX_MS.
 */
#ifndef HC_FLAP_CHANGES
#define HC_FLAP_CHANGES		4		/* changes tolerated inside the window */
#endif
#define HC_FLAP_WINDOW_MS	60000U		/* flap detection window */
#define HC_FLAP_HOLD_MS		30000U		/* first hold */
#define HC_FLAP_HOLD_MAX_MS	480000U		/* longest hold (8 min) */
#define HC_FLAP_FORGET_MS	600000U		/* stable this long after a hold: next hold is the first again */

/*
 * The pure up/down state machine of one target: no sockets, no clock (time is
 * passed in, any monotonic millisecond clock). Exposed for unit tests.
 */
struct hc_sm {
	__u64 changes[HC_FLAP_CHANGES];	/* times of recent state changes (ring) */
	__u64 hold_until_ms;	/* end of the current or last hold; 0 = never held */
	__u32 hold_ms;		/* length of the current or last hold; 0 = never held */
	__u8 n_changes;		/* valid entries in changes[] */
	__u8 next_change;	/* ring slot the next change is written to */
	__u8 rise;		/* consecutive successes that mark a down target up */
	__u8 fall;		/* consecutive failures that mark an up target down */
	__u8 streak_ok;		/* current run of successes (saturates at 255) */
	__u8 streak_fail;	/* current run of failures (saturates at 255) */
	bool up;		/* the verdict */
	bool held;		/* a flap hold is (or was, until the next result) in force */
};

/*
 * Start @sm in state @up with empty streaks and no flap history. A target
 * started up goes down after @fall consecutive failures; one started down
 * goes up after @rise consecutive successes. 0 counts are treated as 1.
 */
void hc_sm_init(struct hc_sm *sm, __u8 rise, __u8 fall, bool up);

/* Change the thresholds of @sm, keeping its state, streaks and flap history. */
void hc_sm_set(struct hc_sm *sm, __u8 rise, __u8 fall);

/*
 * Feed one probe result (@ok) observed at @now_ms. A success ends the failure
 * streak and a failure ends the success streak. Returns 1 when sm->up changed,
 * else 0. A change that would be the flapping one starts a hold instead: an up
 * target goes down (returns 1), a down target stays down (returns 0).
 */
int hc_sm_result(struct hc_sm *sm, bool ok, __u64 now_ms);

/* Returns true while a flap hold keeps @sm down at @now_ms. */
bool hc_sm_is_held(const struct hc_sm *sm, __u64 now_ms);

/* The module: one per daemon, owning every probe socket and one timerfd. */
struct hc;

/*
 * Called when a target's up/down verdict changes, from inside the module's
 * epoll handlers (never from hc_sync). @reason is a short phrase for a log
 * line, e.g. "refused (3 consecutive failures)". The callback may call
 * hc_is_up() and hc_info(); it must not call hc_sync() or hc_close().
 */
typedef void (*hc_change_fn)(void *ctx, const char *vip, const struct sl_addr *backend,
			     bool up, const char *reason);

/*
 * Create a health-check module whose sources are added to @epfd. The caller's
 * loop must dispatch epoll_event.data.ptr as a struct ev_source (evloop.h).
 * @fn (may be NULL) hears verdict changes with @ctx. Returns NULL with errno.
 */
struct hc *hc_open(int epfd, hc_change_fn fn, void *ctx);

/*
 * Stop every probe, close every descriptor and free @hc (NULL is fine).
 * Events already returned by epoll_wait must not be dispatched afterwards.
 */
void hc_close(struct hc *hc);

/*
 * Make the target set equal to @cfg's backends (key: VIP name + backend
 * address). New targets start up, or down when @initially_down (called with
 * hc_open's ctx; NULL = none) says so. Targets no longer in @cfg are stopped.
 * Kept targets take their new settings and keep their verdict, streaks and
 * flap history; a probe in flight is dropped uncounted if what it probes
 * changed. Targets with type none are always up and never probed. The change
 * callback is not called: afterwards hc_is_up() is the truth for every
 * backend. Returns 0, or -ENOMEM (-EINVAL for a NULL @cfg) with the target
 * set unchanged.
 */
int hc_sync(struct hc *hc, const struct sl_config *cfg,
	    bool (*initially_down)(void *ctx, const char *vip, const struct sl_addr *b));

/*
 * Bind later probes to @src4 for IPv4 backends and @src6 for IPv6 backends
 * (NULL or family 0: let the kernel choose, the default). Returns 0, or
 * -EINVAL when an address has the wrong family.
 */
int hc_set_source(struct hc *hc, const struct sl_addr *src4, const struct sl_addr *src6);

/* Returns the verdict for backend @b of VIP @vip; true for unknown targets. */
bool hc_is_up(struct hc *hc, const char *vip, const struct sl_addr *b);

/* What hc_info() reports about one target. */
struct hc_info {
	bool up;		/* the verdict */
	bool held;		/* kept down by flap damping */
	const char *last_result;	/* "ok", "timeout", "refused", "bad status 500", ...;
					 * "none" (type none), "-" (no probe yet); valid until the
					 * caller returns to the loop or calls hc_sync() */
	__u32 latency_us;	/* duration of the last completed probe */
	__u64 changed_at_ms;	/* CLOCK_REALTIME ms of the last verdict change (or creation) */
	__u64 checks;		/* probes completed (local errors excluded) */
	__u64 failures;		/* of which failed */
	__u8 streak_ok;		/* current run of successes */
	__u8 streak_fail;	/* current run of failures */
};

/* Fill @out for backend @b of VIP @vip. Returns 0 or -ENOENT. */
int hc_info(struct hc *hc, const char *vip, const struct sl_addr *b, struct hc_info *out);

/*
 * Test and tracing hook: @fn is called with @ctx as each probe starts, with
 * the CLOCK_MONOTONIC ms of the start. NULL removes it.
 */
typedef void (*hc_probe_fn)(void *ctx, const char *vip, const struct sl_addr *b,
			    __u64 mono_ms);
void hc_set_probe_hook(struct hc *hc, hc_probe_fn fn, void *ctx);

#endif /* SLUICE_HEALTH_H */
