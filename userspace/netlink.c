/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* rtnetlink lookups and change events that find the Ethernet next hop to a backend. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/if_arp.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <libmnl/libmnl.h>

#include "netlink.h"

/*
 * Large enough for one datagram of any dump: the kernel sizes dump datagrams
 * from the reader's buffer, and a truncated datagram would lose messages.
 */
#define NL_BUF_SIZE	32768

/* Asked of the event socket; a burst beyond it costs one full re-resolve. */
#define NL_EV_RCVBUF	(1 << 20)

struct nl {
	struct mnl_socket *req;		/* request/reply; never subscribed */
	struct mnl_socket *ev;		/* multicast events only; non-blocking */
	unsigned int req_portid;	/* our address on the request socket */
	unsigned int seq;		/* sequence of the last request sent */
	char buf[NL_BUF_SIZE];		/* receive buffer for both sockets */
};

/* An attribute table for mnl_attr_parse(): slots 0..max. */
struct nl_attrs {
	const struct nlattr **tb;
	unsigned int max;
};

/* Stores each attribute in its slot; ones newer than the table are skipped. */
static int nl_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nl_attrs *a = data;
	unsigned int type = mnl_attr_get_type(attr);

	if (type <= a->max)
		a->tb[type] = attr;
	return MNL_CB_OK;
}

/* Fills @tb[0..@max] from the attributes after a @hdrlen-byte header. */
static int nl_parse(const struct nlmsghdr *nlh, size_t hdrlen,
		    const struct nlattr **tb, unsigned int max)
{
	struct nl_attrs a = { .tb = tb, .max = max };

	memset(tb, 0, (max + 1) * sizeof(*tb));
	if (mnl_nlmsg_get_payload_len(nlh) < hdrlen)
		return -EBADMSG;
	if (mnl_attr_parse(nlh, hdrlen, nl_attr_cb, &a) < 0)
		return -EBADMSG;
	return 0;
}

/* Returns the address length for @family, or 0 when it is not IPv4/IPv6. */
static size_t nl_addr_len(int family)
{
	if (family == AF_INET)
		return 4;
	if (family == AF_INET6)
		return 16;
	return 0;
}

/* Starts a request of @type with @flags on the request socket's buffer. */
static struct nlmsghdr *nl_msg(struct nl *nl, unsigned short type,
			       unsigned short flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(nl->buf);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = ++nl->seq;
	return nlh;
}

/*
 * Sends the request in nl->buf and feeds every reply to @cb until the kernel's
 * ACK or NLMSG_DONE. Callbacks must return MNL_CB_OK and keep their own
 * verdict, so the whole reply is always read and none is left to confuse the
 * next request. Returns 0 or the kernel's -errno.
 */
static int nl_talk(struct nl *nl, mnl_cb_t cb, void *data)
{
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)nl->buf;
	unsigned int seq = nlh->nlmsg_seq;
	ssize_t n;
	int ret;

	if (mnl_socket_sendto(nl->req, nlh, nlh->nlmsg_len) < 0)
		return -errno;

	for (;;) {
		n = mnl_socket_recvfrom(nl->req, nl->buf, sizeof(nl->buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		ret = mnl_cb_run(nl->buf, n, seq, nl->req_portid, cb, data);
		if (ret == MNL_CB_STOP)
			return 0;
		if (ret < 0) {
			/* A reply to an earlier, abandoned request: skip it. */
			if (errno == ESRCH)
				continue;
			return -errno;
		}
	}
}

struct nl *nl_open(void)
{
	static const unsigned int groups[] = {
		RTNLGRP_LINK, RTNLGRP_NEIGH,
		RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE,
	};
	int rcvbuf = NL_EV_RCVBUF;
	struct nl *nl;
	unsigned int i;
	int err;

	nl = calloc(1, sizeof(*nl));
	if (!nl)
		return NULL;

	nl->req = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl->req)
		goto out_err;
	if (mnl_socket_bind(nl->req, 0, MNL_SOCKET_AUTOPID) < 0)
		goto out_err;
	nl->req_portid = mnl_socket_get_portid(nl->req);
	nl->seq = time(NULL);

	nl->ev = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (!nl->ev)
		goto out_err;
	/*
	 * Beyond rmem_max only with CAP_NET_ADMIN; without it the default
	 * buffer still works, bursts just overflow sooner (ENOBUFS).
	 */
	if (setsockopt(mnl_socket_get_fd(nl->ev), SOL_SOCKET, SO_RCVBUFFORCE,
		       &rcvbuf, sizeof(rcvbuf)) < 0)
		setsockopt(mnl_socket_get_fd(nl->ev), SOL_SOCKET, SO_RCVBUF,
			   &rcvbuf, sizeof(rcvbuf));
	if (mnl_socket_bind(nl->ev, 0, MNL_SOCKET_AUTOPID) < 0)
		goto out_err;
	for (i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		if (mnl_socket_setsockopt(nl->ev, NETLINK_ADD_MEMBERSHIP,
					  (void *)&groups[i], sizeof(groups[i])) < 0)
			goto out_err;
	}
	return nl;

out_err:
	err = errno;
	nl_close(nl);
	errno = err;
	return NULL;
}

void nl_close(struct nl *nl)
{
	if (!nl)
		return;
	if (nl->ev)
		mnl_socket_close(nl->ev);
	if (nl->req)
		mnl_socket_close(nl->req);
	free(nl);
}

int nl_event_fd(const struct nl *nl)
{
	return mnl_socket_get_fd(nl->ev);
}

/* Sets *data when @nlh is a change that may move an IPv4/IPv6 next hop. */
static int nl_event_cb(const struct nlmsghdr *nlh, void *data)
{
	size_t len = mnl_nlmsg_get_payload_len(nlh);
	const void *p = mnl_nlmsg_get_payload(nlh);
	int *changed = data;

	switch (nlh->nlmsg_type) {
	case RTM_NEWLINK:
	case RTM_DELLINK:
		/* AF_BRIDGE ones report bridge port state, not interfaces. */
		if (len >= sizeof(struct ifinfomsg) &&
		    ((const struct ifinfomsg *)p)->ifi_family != AF_BRIDGE)
			*changed = 1;
		break;
	case RTM_NEWNEIGH:
	case RTM_DELNEIGH:
		/* Bridge FDB learning shares this group and can be a flood. */
		if (len >= sizeof(struct ndmsg) &&
		    nl_addr_len(((const struct ndmsg *)p)->ndm_family))
			*changed = 1;
		break;
	case RTM_NEWROUTE:
	case RTM_DELROUTE:
		if (len >= sizeof(struct rtmsg) &&
		    nl_addr_len(((const struct rtmsg *)p)->rtm_family))
			*changed = 1;
		break;
	}
	return MNL_CB_OK;
}

int nl_events(struct nl *nl)
{
	int changed = 0;
	ssize_t n;

	for (;;) {
		n = mnl_socket_recvfrom(nl->ev, nl->buf, sizeof(nl->buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			/*
			 * Events were dropped, we cannot know which: report a
			 * change so the caller re-resolves everything, and
			 * keep draining what is still queued.
			 */
			if (errno == ENOBUFS) {
				changed = 1;
				continue;
			}
			return -errno;
		}
		/* Events carry other senders' seq/portid: check neither. */
		if (mnl_cb_run(nl->buf, n, 0, 0, nl_event_cb, &changed) < 0)
			return -errno;
	}
	return changed;
}

/* The answer to RTM_GETROUTE for one destination. */
struct nl_route {
	int found;			/* an RTM_NEWROUTE was seen */
	unsigned char type;		/* RTN_UNICAST, RTN_LOCAL, ... */
	int oif;			/* output interface */
	int gw_family;			/* 0: on-link; else family of gw */
	unsigned char gw[16];
};

static int nl_route_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[RTA_MAX + 1];
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	struct nl_route *r = data;
	size_t alen;

	if (nlh->nlmsg_type != RTM_NEWROUTE || r->found ||
	    nl_parse(nlh, sizeof(*rtm), tb, RTA_MAX) < 0)
		return MNL_CB_OK;

	r->found = 1;
	r->type = rtm->rtm_type;
	if (tb[RTA_OIF] && mnl_attr_get_payload_len(tb[RTA_OIF]) == 4)
		r->oif = mnl_attr_get_u32(tb[RTA_OIF]);

	alen = nl_addr_len(rtm->rtm_family);
	if (tb[RTA_GATEWAY] && alen &&
	    mnl_attr_get_payload_len(tb[RTA_GATEWAY]) == alen) {
		r->gw_family = rtm->rtm_family;
		memcpy(r->gw, mnl_attr_get_payload(tb[RTA_GATEWAY]), alen);
	} else if (tb[RTA_VIA] &&
		   mnl_attr_get_payload_len(tb[RTA_VIA]) >= sizeof(struct rtvia)) {
		/* An IPv4 route via an IPv6 gateway (RFC 5549). */
		const struct rtvia *via = mnl_attr_get_payload(tb[RTA_VIA]);

		alen = nl_addr_len(via->rtvia_family);
		if (alen && mnl_attr_get_payload_len(tb[RTA_VIA]) ==
			    sizeof(*via) + alen) {
			r->gw_family = via->rtvia_family;
			memcpy(r->gw, via->rtvia_addr, alen);
		}
	}
	return MNL_CB_OK;
}

/* Asks the kernel which route it would use to send to @addr from this host. */
static int nl_route_get(struct nl *nl, int family, const void *addr,
			struct nl_route *r)
{
	size_t alen = nl_addr_len(family);
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;
	int err;

	nlh = nl_msg(nl, RTM_GETROUTE, NLM_F_ACK);
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = family;
	rtm->rtm_dst_len = alen * 8;
	mnl_attr_put(nlh, RTA_DST, alen, addr);

	memset(r, 0, sizeof(*r));
	err = nl_talk(nl, nl_route_cb, r);
	if (err)
		return err;
	return r->found ? 0 : -EBADMSG;
}

/* The answer to RTM_GETNEIGH for one address on one interface. */
struct nl_neigh {
	int found;			/* an RTM_NEWNEIGH was seen */
	unsigned short state;		/* NUD_* */
	int lladdr_len;			/* 0 when it has none */
	unsigned char lladdr[6];
};

static int nl_neigh_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[NDA_MAX + 1];
	const struct ndmsg *ndm = mnl_nlmsg_get_payload(nlh);
	struct nl_neigh *n = data;

	if (nlh->nlmsg_type != RTM_NEWNEIGH || n->found ||
	    nl_parse(nlh, sizeof(*ndm), tb, NDA_MAX) < 0)
		return MNL_CB_OK;

	n->found = 1;
	n->state = ndm->ndm_state;
	if (tb[NDA_LLADDR]) {
		n->lladdr_len = mnl_attr_get_payload_len(tb[NDA_LLADDR]);
		if (n->lladdr_len == 6)
			memcpy(n->lladdr, mnl_attr_get_payload(tb[NDA_LLADDR]), 6);
	}
	return MNL_CB_OK;
}

/* Starts a neighbour request of @type about @addr on @ifindex; returns its header. */
static struct ndmsg *nl_neigh_msg(struct nl *nl, unsigned short type, unsigned short flags,
				  int family, int ifindex, const void *addr)
{
	struct nlmsghdr *nlh = nl_msg(nl, type, flags);
	struct ndmsg *ndm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ndm));

	ndm->ndm_family = family;
	ndm->ndm_ifindex = ifindex;
	mnl_attr_put(nlh, NDA_DST, nl_addr_len(family), addr);
	return ndm;
}

/* Reads the neighbour entry for @addr on @ifindex: 0, -ENOENT, or -errno. */
static int nl_neigh_get(struct nl *nl, int family, int ifindex,
			const void *addr, struct nl_neigh *n)
{
	int err;

	nl_neigh_msg(nl, RTM_GETNEIGH, NLM_F_ACK, family, ifindex, addr);
	memset(n, 0, sizeof(*n));
	err = nl_talk(nl, nl_neigh_cb, n);
	if (err)
		return err;
	return n->found ? 0 : -ENOENT;
}

/*
 * Makes the kernel resolve @addr on @ifindex as if a packet were waiting for
 * it: RTM_NEWNEIGH with NTF_USE and NLM_F_CREATE creates the entry when it is
 * missing and calls neigh_event_send(), which sends the ARP request or
 * neighbour solicitation (NONE/FAILED -> INCOMPLETE; STALE -> DELAY). Measured
 * to work on 6.18 for IPv4 and IPv6; the outcome arrives as an RTM_NEWNEIGH
 * event. Nothing is sent toward the backend itself. With no packet to take a
 * source from, IPv6 solicits from the link-local address, and sends nothing
 * while the interface has none that is past DAD; the kernel's retransmissions
 * (once a second) pick it up when it is.
 */
static int nl_neigh_kick(struct nl *nl, int family, int ifindex,
			 const void *addr)
{
	struct ndmsg *ndm = nl_neigh_msg(nl, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_ACK,
					 family, ifindex, addr);

	ndm->ndm_state = NUD_NONE;
	ndm->ndm_flags = NTF_USE;
	return nl_talk(nl, NULL, NULL);
}

/*
 * Fallback when NTF_USE is refused: a zero-length UDP datagram to the
 * destination itself (discard port) is routed like real traffic and parks on
 * the next hop's neighbour entry, which starts resolution there. Unlike
 * NTF_USE it does put a packet on the wire toward the backend.
 */
static int nl_neigh_kick_udp(int family, const void *addr, int ifindex)
{
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} sa;
	socklen_t salen;
	int fd, err = 0;

	memset(&sa, 0, sizeof(sa));
	if (family == AF_INET) {
		sa.in.sin_family = AF_INET;
		sa.in.sin_port = htons(9);
		memcpy(&sa.in.sin_addr, addr, 4);
		salen = sizeof(sa.in);
	} else {
		sa.in6.sin6_family = AF_INET6;
		sa.in6.sin6_port = htons(9);
		memcpy(&sa.in6.sin6_addr, addr, 16);
		/* A link-local destination is meaningless without its link. */
		if (IN6_IS_ADDR_LINKLOCAL(&sa.in6.sin6_addr))
			sa.in6.sin6_scope_id = ifindex;
		salen = sizeof(sa.in6);
	}

	fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, &sa.sa, salen) < 0 || send(fd, "", 0, MSG_DONTWAIT) < 0)
		err = -errno;
	close(fd);
	/* A full neighbour queue still means resolution is under way. */
	return err == -EAGAIN ? 0 : err;
}

int nl_nexthop(struct nl *nl, int family, const void *addr,
	       struct nl_nexthop *out)
{
	const unsigned int usable = NUD_REACHABLE | NUD_STALE | NUD_DELAY |
				    NUD_PROBE | NUD_PERMANENT | NUD_NOARP;
	size_t alen = nl_addr_len(family);
	struct nl_route r;
	struct nl_neigh n;
	int nfamily, err;
	const void *naddr;

	if (!alen)
		return -EAFNOSUPPORT;
	if (!addr || !out)
		return -EINVAL;

	err = nl_route_get(nl, family, addr, &r);
	if (err)
		return err;
	/*
	 * Local, broadcast, multicast, blackhole...: nothing the balancer can
	 * forward a frame to.
	 */
	if (r.type != RTN_UNICAST || r.oif <= 0)
		return -EHOSTUNREACH;

	if (r.gw_family) {
		nfamily = r.gw_family;
		naddr = r.gw;
	} else {
		nfamily = family;
		naddr = addr;
	}

	err = nl_neigh_get(nl, nfamily, r.oif, naddr, &n);
	if (err && err != -ENOENT)
		return err;
	if (!err && (n.state & usable)) {
		/* A device without link addresses (tun, wireguard...). */
		if (n.lladdr_len != 6)
			return -EOPNOTSUPP;
		memset(out, 0, sizeof(*out));
		out->ifindex = r.oif;
		memcpy(out->mac, n.lladdr, 6);
		if (r.gw_family) {
			out->has_gw = 1;
			out->gw_family = r.gw_family;
			memcpy(out->gw, r.gw, nl_addr_len(r.gw_family));
		}
		return 0;
	}

	/* Missing, INCOMPLETE, FAILED or NONE: have the kernel (re)try. */
	err = nl_neigh_kick(nl, nfamily, r.oif, naddr);
	if (err && err != -ENOBUFS)
		err = nl_neigh_kick_udp(family, addr, r.oif);
	return err ? err : -EAGAIN;
}
