/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* rtnetlink lookups and change events that find the Ethernet next hop to a backend. */
#ifndef SLUICE_NETLINK_H
#define SLUICE_NETLINK_H

/* A request socket and an event socket, both in the caller's network namespace. */
struct nl;

/* Where to send a frame for one destination, as the kernel would. */
struct nl_nexthop {
	int ifindex;		/* outgoing interface */
	unsigned char mac[6];	/* Ethernet address of the next hop */
	unsigned char gw[16];	/* gateway, network order; zero when !has_gw */
	int gw_family;		/* AF_INET or AF_INET6 when has_gw, else 0 */
	int has_gw;		/* 1: routed via gw; 0: destination on-link */
};

/*
 * Opens a request socket and a non-blocking event socket subscribed to link,
 * neighbour and IPv4/IPv6 route changes. Returns NULL and sets errno on
 * failure.
 */
struct nl *nl_open(void);

/* Closes both sockets and frees @nl; NULL is allowed. */
void nl_close(struct nl *nl);

/* Returns the non-blocking event socket, to wait on with epoll/poll. */
int nl_event_fd(const struct nl *nl);

/*
 * Drains pending events without blocking. Returns 1 when a link, route or
 * neighbour change that may move a next hop was seen, or the event socket
 * overflowed (ENOBUFS: events were lost, so re-resolve everything); 0 when
 * nothing relevant happened; -errno on error.
 */
int nl_events(struct nl *nl);

/*
 * Resolves the next hop toward @addr (4 or 16 bytes, network order, for
 * @family AF_INET or AF_INET6) through the kernel's routing and neighbour
 * tables. Returns 0 with *@out filled when the neighbour has a usable link
 * address (REACHABLE, STALE, DELAY, PROBE, PERMANENT, NOARP); -EAGAIN when it
 * is not resolved yet, after asking the kernel to resolve it (a change event
 * follows when it does); -ENETUNREACH or -EHOSTUNREACH when no route leads
 * there, or the route is local, broadcast or multicast; -EOPNOTSUPP when the
 * next hop is not on an Ethernet-like device; other -errno on failure.
 */
int nl_nexthop(struct nl *nl, int family, const void *addr, struct nl_nexthop *out);

#endif /* SLUICE_NETLINK_H */
