/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Next-hop resolution and change events, against real kernel objects in a private netns. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/stat.h>

#include <criterion/criterion.h>

#include "netlink.h"
#include "shell.h"

#define WAIT_MS	2000	/* longest any condition may take to become true */
#define STEP_MS	10

/* Name of the second namespace a test created, for peer_ns_del(). */
static char peer_ns[32];

static void msleep(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Polls @expr every STEP_MS for up to WAIT_MS; true once it held. */
#define WAIT_FOR(expr) ({						\
	int __ok = 0;							\
	for (int __i = 0; __i <= WAIT_MS / STEP_MS; __i++) {		\
		if ((expr)) {						\
			__ok = 1;					\
			break;						\
		}							\
		msleep(STEP_MS);					\
	}								\
	__ok;								\
})

/* Writes @val to the sysctl file @path, in this namespace. */
static void sysctl_set(const char *path, const char *val)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	fputs(val, f);
	cr_assert_eq(fclose(f), 0, "%s: %s", path, strerror(errno));
}

/* A veth pair sl-v0/sl-v1, both here and up, sl-v0 with 10.0.0.1/24. */
static void veth_setup(void)
{
	SH("ip link add sl-v0 address 02:00:00:00:00:01 type veth peer name sl-v1 "
	   "address 02:00:00:00:00:fe");
	SH("ip addr add 10.0.0.1/24 dev sl-v0");
	SH("ip -6 addr add 2001:db8::1/64 dev sl-v0 nodad");
	SH("ip link set sl-v0 up");
	SH("ip link set sl-v1 up");
	/* Carrier comes through linkwatch, after `ip link set up` returns. */
	cr_assert(WAIT_FOR(sh("ip link show sl-v0 | grep -q 'state UP'") == 0),
		  "sl-v0 never got carrier");
}

static void peer_ns_del(void)
{
	if (peer_ns[0])
		sh("ip netns del %s 2>/dev/null", peer_ns);
}

/* Parses @str of @family into @buf and returns @buf. */
static void *ip(int family, const char *str, unsigned char buf[16])
{
	memset(buf, 0, 16);
	cr_assert_eq(inet_pton(family, str, buf), 1, "bad address %s", str);
	return buf;
}

static const unsigned char mac_nb[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };
static const unsigned char mac_gw[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x99 };

static struct nl *nl_open_ok(void)
{
	struct nl *nl = nl_open();

	cr_assert_not_null(nl, "nl_open: %s", strerror(errno));
	return nl;
}

/*
 * Checks @nh: out of sl-v0 to @mac, through gateway @gw (an address of
 * @gw_family), or on-link when @gw is NULL.
 */
static void assert_nh(const struct nl_nexthop *nh, const unsigned char mac[6],
		      int gw_family, const char *gw)
{
	static const unsigned char zero[16];
	unsigned char g[16];

	cr_assert_eq(nh->ifindex, (int)if_nametoindex("sl-v0"));
	cr_assert_arr_eq(nh->mac, mac, 6);
	cr_assert_eq(nh->has_gw, gw != NULL);
	cr_assert_eq(nh->gw_family, gw ? gw_family : 0);
	cr_assert_arr_eq(nh->gw, gw ? ip(gw_family, gw, g) : zero, 16);
}

/* Resolves @dst (of @family), which must succeed, and checks it as assert_nh() does. */
static void assert_nexthop(struct nl *nl, int family, const char *dst,
			   const unsigned char mac[6], int gw_family, const char *gw)
{
	struct nl_nexthop nh;
	unsigned char a[16];
	int err;

	/* Poisoned, so that a field nl_nexthop() leaves unset cannot pass. */
	memset(&nh, 0xa5, sizeof(nh));
	err = nl_nexthop(nl, family, ip(family, dst, a), &nh);
	cr_assert_eq(err, 0, "next hop of %s: %s", dst, strerror(-err));
	assert_nh(&nh, mac, gw_family, gw);
}

/* Resolves @dst (of @family) and returns 0 or the -errno nl_nexthop() gave. */
static int nexthop_err(struct nl *nl, int family, const char *dst)
{
	struct nl_nexthop nh;
	unsigned char a[16];

	return nl_nexthop(nl, family, ip(family, dst, a), &nh);
}

Test(netlink, onlink_ipv4_permanent_neighbour)
{
	struct nl *nl;

	netns_private();
	veth_setup();
	SH("ip neigh add 10.0.0.2 lladdr 02:00:00:00:00:02 nud permanent dev sl-v0");
	nl = nl_open_ok();
	assert_nexthop(nl, AF_INET, "10.0.0.2", mac_nb, 0, NULL);
	nl_close(nl);
}

Test(netlink, ipv4_via_gateway)
{
	struct nl *nl;

	netns_private();
	veth_setup();
	SH("ip route add 198.51.100.0/24 via 10.0.0.254");
	SH("ip neigh add 10.0.0.254 lladdr 02:00:00:00:00:99 nud permanent dev sl-v0");
	/* An entry for the destination itself must not be what is returned. */
	SH("ip neigh add 198.51.100.7 lladdr 02:00:00:00:00:02 nud permanent dev sl-v0");
	nl = nl_open_ok();
	assert_nexthop(nl, AF_INET, "198.51.100.7", mac_gw, AF_INET, "10.0.0.254");
	nl_close(nl);
}

Test(netlink, ipv4_via_ipv6_gateway)
{
	struct nl *nl;

	netns_private();
	veth_setup();
	SH("ip route add 198.51.100.0/24 via inet6 fe80::99 dev sl-v0");
	SH("ip -6 neigh add fe80::99 lladdr 02:00:00:00:00:99 nud permanent dev sl-v0");
	nl = nl_open_ok();
	assert_nexthop(nl, AF_INET, "198.51.100.7", mac_gw, AF_INET6, "fe80::99");
	nl_close(nl);
}

Test(netlink, onlink_ipv6)
{
	struct nl *nl;

	netns_private();
	veth_setup();
	SH("ip -6 neigh add 2001:db8::2 lladdr 02:00:00:00:00:02 nud permanent dev sl-v0");
	nl = nl_open_ok();
	assert_nexthop(nl, AF_INET6, "2001:db8::2", mac_nb, 0, NULL);
	nl_close(nl);
}

Test(netlink, ipv6_via_link_local_gateway)
{
	struct nl *nl;

	netns_private();
	veth_setup();
	SH("ip -6 route add 2001:db8:99::/48 via fe80::99 dev sl-v0");
	SH("ip -6 neigh add fe80::99 lladdr 02:00:00:00:00:99 nud permanent dev sl-v0");
	nl = nl_open_ok();
	assert_nexthop(nl, AF_INET6, "2001:db8:99::7", mac_gw, AF_INET6, "fe80::99");
	nl_close(nl);
}

Test(netlink, no_route)
{
	struct nl_nexthop nh;
	unsigned char a[16] = { 0 };
	struct nl *nl;

	netns_private();
	nl = nl_open_ok();

	/* A fresh namespace has no routes at all, not even on lo. */
	cr_assert_eq(nexthop_err(nl, AF_INET, "192.0.2.1"), -ENETUNREACH);
	cr_assert_eq(nexthop_err(nl, AF_INET6, "2001:db8::1"), -ENETUNREACH);
	cr_assert_eq(nl_nexthop(nl, AF_PACKET, a, &nh), -EAFNOSUPPORT);

	SH("ip route add unreachable 203.0.113.0/24");
	cr_assert_eq(nexthop_err(nl, AF_INET, "203.0.113.1"), -EHOSTUNREACH);
	nl_close(nl);
}

Test(netlink, local_address_has_no_next_hop)
{
	struct nl *nl;

	netns_private();
	veth_setup();
	nl = nl_open_ok();
	cr_assert_eq(nexthop_err(nl, AF_INET, "10.0.0.1"), -EHOSTUNREACH);
	nl_close(nl);
}

/* Nobody owns 10.0.0.2 / 2001:db8::2: resolution starts and cannot finish. */
Test(netlink, unresolved_triggers_resolution)
{
	struct nl *nl;

	netns_private();
	veth_setup();
	nl = nl_open_ok();

	cr_assert_eq(sh("ip neigh show to 10.0.0.2 dev sl-v0 | grep -q ."), 1,
		     "a neighbour entry existed before the test");
	cr_assert_eq(nexthop_err(nl, AF_INET, "10.0.0.2"), -EAGAIN);
	cr_assert(WAIT_FOR(sh("ip neigh show to 10.0.0.2 dev sl-v0 | "
			      "grep -Eq 'INCOMPLETE|FAILED'") == 0),
		  "no ARP resolution was started");

	cr_assert_eq(nexthop_err(nl, AF_INET6, "2001:db8::2"), -EAGAIN);
	cr_assert(WAIT_FOR(sh("ip -6 neigh show to 2001:db8::2 dev sl-v0 | "
			      "grep -Eq 'INCOMPLETE|FAILED'") == 0),
		  "no neighbour solicitation was started");
	nl_close(nl);
}

/* Sets up sl-v0 here and its peer sl-v1 in namespace peer_ns, owning .2 and ::2. */
static void peer_setup(void)
{
	/*
	 * A solicitation started through NTF_USE has no packet to take a
	 * source from, so the kernel sends it from sl-v0's link-local address,
	 * and sends nothing while that is missing (it comes with carrier) or
	 * tentative. No DAD, and the wait below, make IPv6 resolve at once
	 * rather than at a retransmission 1-2 s after the link came up.
	 */
	sysctl_set("/proc/sys/net/ipv6/conf/default/accept_dad", "0");
	snprintf(peer_ns, sizeof(peer_ns), "sl-nl-%d", (int)getpid());
	SH("ip netns add %s", peer_ns);
	SH("ip link add sl-v0 type veth peer name sl-v1 netns %s "
	   "address 02:00:00:00:00:02", peer_ns);
	SH("ip addr add 10.0.0.1/24 dev sl-v0");
	SH("ip -6 addr add 2001:db8::1/64 dev sl-v0 nodad");
	SH("ip link set sl-v0 up");
	SH("ip -n %s addr add 10.0.0.2/24 dev sl-v1", peer_ns);
	SH("ip -n %s -6 addr add 2001:db8::2/64 dev sl-v1 nodad", peer_ns);
	SH("ip -n %s link set sl-v1 up", peer_ns);
	cr_assert(WAIT_FOR(sh("ip -6 addr show dev sl-v0 scope link | "
			      "grep -v tentative | grep -q inet6") == 0),
		  "sl-v0 never got a usable link-local address");
	/*
	 * The peer drops multicast solicitations (Ip6InNoRoutes) until its
	 * carrier event has installed ff00::/8, which can be later than ours.
	 */
	cr_assert(WAIT_FOR(sh("ip -n %s -6 route show table local dev sl-v1 | "
			      "grep -q ff00::/8", peer_ns) == 0),
		  "the peer never got its multicast route");
}

/*
 * Asks for the next hop to @addr until it resolves; checks that the first
 * answer was -EAGAIN and that an event announced the change.
 */
static void resolve_from_peer(struct nl *nl, int family, const char *addr)
{
	struct nl_nexthop nh;
	unsigned char a[16];
	int err, ev = 0;

	ip(family, addr, a);
	cr_assert_eq(nl_nexthop(nl, family, a, &nh), -EAGAIN);
	cr_assert(WAIT_FOR((ev |= nl_events(nl) == 1,
			    (err = nl_nexthop(nl, family, a, &nh)) == 0)),
		  "%s never resolved: %d", addr, err);
	cr_assert(ev || nl_events(nl) == 1, "resolving %s sent no event", addr);
	assert_nh(&nh, mac_nb, 0, NULL);
}

Test(netlink, resolves_ipv4_from_peer, .fini = peer_ns_del)
{
	struct nl *nl;

	netns_private();
	peer_setup();
	nl = nl_open_ok();
	resolve_from_peer(nl, AF_INET, "10.0.0.2");
	nl_close(nl);
}

Test(netlink, resolves_ipv6_from_peer, .fini = peer_ns_del)
{
	struct nl *nl;

	netns_private();
	peer_setup();
	nl = nl_open_ok();
	resolve_from_peer(nl, AF_INET6, "2001:db8::2");
	nl_close(nl);
}

/* Waits up to WAIT_MS for nl_events() to report a change. */
static int events_wait(struct nl *nl)
{
	struct pollfd pfd = { .fd = nl_event_fd(nl), .events = POLLIN };
	int ret = 0;

	WAIT_FOR(poll(&pfd, 1, STEP_MS) == 1 && (ret = nl_events(nl)) != 0);
	return ret;
}

Test(netlink, events)
{
	struct nl *nl;
	int fd;

	netns_private();
	/* No IPv6 autoconfiguration to produce events of its own later. */
	sysctl_set("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	sysctl_set("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	SH("ip link add sl-v0 type veth peer name sl-v1");
	SH("ip addr add 10.0.0.1/24 dev sl-v0");
	SH("ip link set sl-v0 up");
	SH("ip link set sl-v1 up");
	cr_assert(WAIT_FOR(sh("ip link show sl-v0 | grep -q 'state UP'") == 0 &&
			   sh("ip link show sl-v1 | grep -q 'state UP'") == 0),
		  "veth never got carrier");

	nl = nl_open_ok();
	fd = nl_event_fd(nl);
	cr_assert(fcntl(fd, F_GETFL) & O_NONBLOCK, "event socket blocks");
	cr_assert_eq(nl_events(nl), 0);

	SH("ip neigh replace 10.0.0.2 lladdr 02:00:00:00:00:02 dev sl-v0");
	cr_assert_eq(events_wait(nl), 1, "no event after ip neigh replace");
	cr_assert_eq(nl_events(nl), 0, "events left after draining");

	SH("ip route add 198.51.100.0/24 via 10.0.0.254");
	cr_assert_eq(events_wait(nl), 1, "no event after ip route add");
	cr_assert_eq(nl_events(nl), 0);

	SH("ip link set sl-v1 down");
	cr_assert_eq(events_wait(nl), 1, "no event after ip link set down");
	nl_close(nl);
}

/* Returns the Drops counter /proc/net/netlink shows for socket @fd, or -1. */
static long netlink_drops(int fd)
{
	unsigned long inode, drops;
	char line[256];
	struct stat st;
	long ret = -1;
	FILE *f;

	if (fstat(fd, &st) < 0)
		return -1;
	f = fopen("/proc/net/netlink", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		/* sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode */
		if (sscanf(line, "%*s %*s %*s %*s %*s %*s %*s %*s %lu %lu",
			   &drops, &inode) == 2 && inode == st.st_ino)
			ret = drops;
	}
	fclose(f);
	return ret;
}

/* More route events than the event socket holds: ENOBUFS must read as 1. */
Test(netlink, overflow_reports_change)
{
	char path[] = "/tmp/sl-nl-batch-XXXXXX";
	struct nl *nl;
	FILE *f;
	int i, fd;

	netns_private();
	veth_setup();
	nl = nl_open_ok();
	cr_assert_eq(nl_events(nl), 0);

	fd = mkstemp(path);
	cr_assert_geq(fd, 0, "mkstemp: %s", strerror(errno));
	f = fdopen(fd, "w");
	cr_assert_not_null(f);
	for (i = 0; i < 30000; i++)
		fprintf(f, "route add 10.%d.%d.0/24 dev sl-v0\n",
			100 + i / 256, i % 256);
	fclose(f);
	i = sh("ip -batch %s", path);
	unlink(path);
	cr_assert_eq(i, 0, "ip -batch failed");

	cr_assert_gt(netlink_drops(nl_event_fd(nl)), 0,
		     "the event socket did not overflow; the test needs more routes");
	cr_assert_eq(nl_events(nl), 1);
	cr_assert_eq(nl_events(nl), 0);
	nl_close(nl);
}
