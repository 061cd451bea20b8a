// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* sl-server: a test backend that answers TCP echo lines, HTTP and UDP datagrams with its own name. */
#define _GNU_SOURCE
#include <getopt.h>
#include <unistd.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include "sl-tool.h"

#define NAME_MAX_LEN	64
#define MAX_SOCKS	64
#define RBUF_SIZE	8192		/* longer echo lines are answered in pieces of this size */
#define WBUF_MAX	(1 << 20)	/* stop reading a client that does not read its replies */
#define UDP_MAX		65507		/* largest IPv4 UDP payload; replies are cut to it */
#define HTTP_HDR_MS	10000		/* a request's headers must arrive within this */
#define HTTP_DRAIN_MS	5000		/* after the reply, wait this long for the client to close */
#define ACCEPT_PAUSE_MS	100		/* out of fds: retry accepting after this */
#define EVENTS		256

enum kind { K_LISTEN, K_UDP, K_CONN, K_SIGNAL };

/* First member of everything registered in epoll, so the event tells what it is. */
struct item {
	enum kind kind;
	int fd;
};

struct sock {
	struct item it;
	char text[80];		/* "tcp 127.0.0.1:80", for messages */
	bool paused;		/* listener out of epoll until paused_until */
	uint64_t paused_until;
};

enum cstate {
	C_SNIFF,	/* no full verdict yet on HTTP vs echo */
	C_ECHO,		/* answering lines */
	C_HTTP_HDR,	/* HTTP: waiting for the end of the request headers */
	C_HTTP_DONE,	/* HTTP: reply queued; shut down after it, discard input until EOF */
};

struct conn {
	struct item it;
	struct conn *prev, *next;
	enum cstate st;
	bool eof;		/* peer sent FIN; nothing more to read */
	bool shut;		/* our FIN is sent */
	uint32_t events;	/* what epoll currently watches */
	uint64_t deadline;	/* monotonic ms, 0 = none (echo sessions may idle forever) */
	size_t rlen;
	char *wbuf;
	size_t woff, wlen, wcap;
	char rbuf[RBUF_SIZE];
};

static const char *name;
static size_t name_len;
static int http_status = 200, http_status_cfg = 200;
static const char *pidfile;
static int epfd;
static struct sock socks[MAX_SOCKS];
static int nsocks;
static struct conn *conns;	/* all open connections, for the timeout sweep */
static unsigned long nconns;

static void ep_set(struct item *it, uint32_t events, int op)
{
	struct epoll_event ev = { .events = events, .data.ptr = it };

	if (epoll_ctl(epfd, op, it->fd, &ev) < 0)
		die(1, "epoll_ctl: %s", strerror(errno));
}

static void open_sock(const char *spec, bool tcp)
{
	struct sockaddr_storage ss;
	struct sock *s = &socks[nsocks];
	const char *addr = spec;
	char any[32];
	socklen_t len;
	int fd, one = 1;

	if (nsocks == MAX_SOCKS)
		die(1, "too many sockets (at most %d)", MAX_SOCKS);
	/* "*:port" is every IPv4 address. */
	if (!strncmp(spec, "*:", 2) &&
	    snprintf(any, sizeof(any), "0.0.0.0%s", spec + 1) < (int)sizeof(any))
		addr = any;
	if (parse_addr(addr, true, &ss, &len))
		die(1, "bad address '%s' (want a.b.c.d:port, *:port or [v6]:port)", spec);
	snprintf(s->text, sizeof(s->text), "%s %s", tcp ? "tcp" : "udp", spec);
	fd = socket(ss.ss_family, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die(1, "%s: socket: %s", s->text, strerror(errno));
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		die(1, "%s: SO_REUSEADDR: %s", s->text, strerror(errno));
	/* One family per socket: a v6 wildcard must not take the v4 port another --tcp wants. */
	if (ss.ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)))
		die(1, "%s: IPV6_V6ONLY: %s", s->text, strerror(errno));
	/* UDP replies take their source from the request's destination, even on a wildcard bind. */
	if (!tcp && ss.ss_family == AF_INET &&
	    setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)))
		die(1, "%s: IP_PKTINFO: %s", s->text, strerror(errno));
	if (!tcp && ss.ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one)))
		die(1, "%s: IPV6_RECVPKTINFO: %s", s->text, strerror(errno));
	if (bind(fd, (struct sockaddr *)&ss, len))
		die(1, "%s: bind: %s%s", s->text, strerror(errno),
		    errno == EADDRNOTAVAIL ? " (address not configured here, or IPv6 DAD still running: use nodad)" : "");
	if (tcp && listen(fd, 4096))
		die(1, "%s: listen: %s", s->text, strerror(errno));
	s->it.kind = tcp ? K_LISTEN : K_UDP;
	s->it.fd = fd;
	ep_set(&s->it, EPOLLIN, EPOLL_CTL_ADD);
	nsocks++;
}

static void conn_close(struct conn *c)
{
	close(c->it.fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c->wbuf);
	free(c);
	nconns--;
}

/* Watch what the connection can use now; level-triggered, so a finished side must be unwatched. */
static void conn_update(struct conn *c)
{
	uint32_t ev = 0;

	if (!c->eof && c->wlen - c->woff < WBUF_MAX)
		ev |= EPOLLIN;
	if (c->wlen > c->woff)
		ev |= EPOLLOUT;
	if (ev != c->events) {
		c->events = ev;
		ep_set(&c->it, ev, EPOLL_CTL_MOD);
	}
}

/* Returns false if the connection was closed. */
static bool conn_flush(struct conn *c)
{
	ssize_t n;

	while (c->woff < c->wlen) {
		n = send(c->it.fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			conn_close(c);
			return false;
		}
		c->woff += (size_t)n;
	}
	if (c->woff == c->wlen) {
		c->woff = c->wlen = 0;
		if (c->st == C_HTTP_DONE && !c->shut) {
			/* FIN rather than close: closing with unread input would reset the reply away. */
			shutdown(c->it.fd, SHUT_WR);
			c->shut = true;
		}
		if (c->eof) {
			conn_close(c);
			return false;
		}
	}
	return true;
}

static void conn_queue(struct conn *c, const char *a, size_t alen, const char *b, size_t blen)
{
	size_t need = c->wlen + alen + blen;

	if (need > c->wcap) {
		size_t cap = c->wcap ? c->wcap : 256;
		char *p;

		while (cap < need)
			cap *= 2;
		p = realloc(c->wbuf, cap);
		if (!p)
			die(1, "out of memory");
		c->wbuf = p;
		c->wcap = cap;
	}
	memcpy(c->wbuf + c->wlen, a, alen);
	memcpy(c->wbuf + c->wlen + alen, b, blen);
	c->wlen += alen + blen;
}

static void echo_line(struct conn *c, const char *line, size_t len)
{
	char pre[NAME_MAX_LEN + 2];

	memcpy(pre, name, name_len);
	pre[name_len] = ' ';
	conn_queue(c, pre, name_len + 1, line, len);
	conn_queue(c, "\n", 1, "", 0);
}

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Status";
	}
}

static void http_reply(struct conn *c)
{
	char hdr[256];
	int n;
	bool head = c->rbuf[0] == 'H';

	n = snprintf(hdr, sizeof(hdr),
		     "HTTP/1.0 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
		     "Connection: close\r\n\r\n", http_status, reason(http_status), name_len + 1);
	/* HEAD gets the headers only, as HTTP requires. */
	conn_queue(c, hdr, (size_t)n, name, head ? 0 : name_len);
	if (!head)
		conn_queue(c, "\n", 1, "", 0);
	c->st = C_HTTP_DONE;
	c->deadline = mono_ms() + HTTP_DRAIN_MS;
}

/* Is the buffer a proper prefix of an HTTP method we recognise, so more bytes must decide? */
static bool maybe_http(const char *b, size_t n)
{
	return (n < 4 && !memcmp(b, "GET ", n)) || (n < 5 && !memcmp(b, "HEAD ", n));
}

static void conn_process(struct conn *c)
{
	size_t start = 0;
	char *nl;

	if (c->st == C_SNIFF) {
		if (!c->rlen && !c->eof)
			return;
		if ((c->rlen >= 4 && !memcmp(c->rbuf, "GET ", 4)) ||
		    (c->rlen >= 5 && !memcmp(c->rbuf, "HEAD ", 5))) {
			c->st = C_HTTP_HDR;
			c->deadline = mono_ms() + HTTP_HDR_MS;
		} else if (maybe_http(c->rbuf, c->rlen) && !c->eof) {
			return;
		} else {
			c->st = C_ECHO;
		}
	}
	switch (c->st) {
	case C_HTTP_HDR:
		/* Reply at the blank line; a full buffer or EOF also ends the wait. */
		if (memmem(c->rbuf, c->rlen, "\r\n\r\n", 4) || memmem(c->rbuf, c->rlen, "\n\n", 2) ||
		    c->rlen == RBUF_SIZE || c->eof)
			http_reply(c);
		else
			break;
		/* fall through */
	case C_HTTP_DONE:
		c->rlen = 0;
		break;
	case C_ECHO:
		while ((nl = memchr(c->rbuf + start, '\n', c->rlen - start))) {
			echo_line(c, c->rbuf + start, (size_t)(nl - c->rbuf) - start);
			start = (size_t)(nl - c->rbuf) + 1;
		}
		/* A line that fills the buffer, or ends at EOF without '\n', is still a line. */
		if (start < c->rlen && (c->eof || (start == 0 && c->rlen == RBUF_SIZE))) {
			echo_line(c, c->rbuf + start, c->rlen - start);
			start = c->rlen;
		}
		memmove(c->rbuf, c->rbuf + start, c->rlen - start);
		c->rlen -= start;
		break;
	case C_SNIFF:
		break;
	}
}

static void conn_read(struct conn *c)
{
	ssize_t n;
	int rounds = 16;	/* bounded, so one busy client does not starve the others */

	while (rounds-- > 0 && !c->eof && c->wlen - c->woff < WBUF_MAX) {
		n = recv(c->it.fd, c->rbuf + c->rlen, RBUF_SIZE - c->rlen, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			conn_close(c);
			return;
		}
		if (n == 0)
			c->eof = true;
		c->rlen += (size_t)n;
		conn_process(c);
	}
	if (conn_flush(c))
		conn_update(c);
}

static void do_accept(struct sock *s)
{
	struct conn *c;
	int fd, one = 1, i;

	for (i = 0; i < 256; i++) {
		fd = accept4(s->it.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EPERM || errno == EPROTO)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				/* Level-triggered: left in epoll, the pending connection would spin us. */
				fprintf(stderr, "sl-server: %s: accept: %s (%lu open); pausing\n",
					s->text, strerror(errno), nconns);
				ep_set(&s->it, 0, EPOLL_CTL_MOD);
				s->paused = true;
				s->paused_until = mono_ms() + ACCEPT_PAUSE_MS;
			}
			return;
		}
		c = calloc(1, sizeof(*c));
		if (!c)
			die(1, "out of memory");
		c->it.kind = K_CONN;
		c->it.fd = fd;
		/* Replies are small and each one is awaited: no Nagle delay behind a delayed ACK. */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->events = EPOLLIN;
		ep_set(&c->it, EPOLLIN, EPOLL_CTL_ADD);
		c->next = conns;
		if (conns)
			conns->prev = c;
		conns = c;
		nconns++;
	}
}

/* Control data that makes a reply leave from the address the request was sent to. */
static socklen_t reply_source(struct msghdr *rm, char *buf, size_t len)
{
	struct msghdr sm = { .msg_control = buf, .msg_controllen = len };
	struct cmsghdr *cm, *out = CMSG_FIRSTHDR(&sm);

	for (cm = CMSG_FIRSTHDR(rm); cm; cm = CMSG_NXTHDR(rm, cm)) {
		if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo in, pi = { 0 };

			memcpy(&in, CMSG_DATA(cm), sizeof(in));
			/* ipi_addr is the header's destination: the VIP, not the route's choice. */
			if (IN_MULTICAST(ntohl(in.ipi_addr.s_addr)))
				return 0;
			pi.ipi_spec_dst = in.ipi_addr;
			out->cmsg_level = IPPROTO_IP;
			out->cmsg_type = IP_PKTINFO;
			out->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(out), &pi, sizeof(pi));
			return CMSG_SPACE(sizeof(pi));
		}
		if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo in, pi = { 0 };

			memcpy(&in, CMSG_DATA(cm), sizeof(in));
			if (IN6_IS_ADDR_MULTICAST(&in.ipi6_addr))
				return 0;
			pi.ipi6_addr = in.ipi6_addr;
			/* A link-local source only means something together with its interface. */
			if (IN6_IS_ADDR_LINKLOCAL(&in.ipi6_addr))
				pi.ipi6_ifindex = in.ipi6_ifindex;
			out->cmsg_level = IPPROTO_IPV6;
			out->cmsg_type = IPV6_PKTINFO;
			out->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(out), &pi, sizeof(pi));
			return CMSG_SPACE(sizeof(pi));
		}
	}
	return 0;
}

static void do_udp(struct sock *s)
{
	static char in[65536], out[UDP_MAX];
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(struct in_pktinfo))];
		struct cmsghdr align;
	} rc, sc;
	struct sockaddr_storage peer;
	struct iovec iov, oiov;
	struct msghdr m, sm;
	size_t olen;
	ssize_t n;
	int i;

	for (i = 0; i < 64; i++) {	/* bounded, so TCP clients are served between bursts */
		memset(&m, 0, sizeof(m));
		iov.iov_base = in;
		iov.iov_len = sizeof(in);
		m.msg_name = &peer;
		m.msg_namelen = sizeof(peer);
		m.msg_iov = &iov;
		m.msg_iovlen = 1;
		m.msg_control = rc.buf;
		m.msg_controllen = sizeof(rc.buf);
		n = recvmsg(s->it.fd, &m, 0);
		if (n < 0) {
			/* ICMP errors for earlier replies surface here too: nothing to do about them. */
			if (errno == EAGAIN)
				return;
			continue;
		}
		memcpy(out, name, name_len);
		out[name_len] = ' ';
		olen = name_len + 1 + (size_t)n;
		if (olen > sizeof(out))
			olen = sizeof(out);
		memcpy(out + name_len + 1, in, olen - name_len - 1);

		memset(&sm, 0, sizeof(sm));
		oiov.iov_base = out;
		oiov.iov_len = olen;
		sm.msg_name = &peer;
		sm.msg_namelen = m.msg_namelen;
		sm.msg_iov = &oiov;
		sm.msg_iovlen = 1;
		sm.msg_control = sc.buf;
		sm.msg_controllen = reply_source(&m, sc.buf, sizeof(sc.buf));
		if (!sm.msg_controllen)
			sm.msg_control = NULL;
		if (sendmsg(s->it.fd, &sm, MSG_NOSIGNAL) < 0 && errno != EAGAIN)
			fprintf(stderr, "sl-server: %s: send: %s\n", s->text, strerror(errno));
	}
}

static void sweep(void)
{
	static uint64_t next_sweep;
	uint64_t now = mono_ms();
	struct conn *c, *next;
	int i;

	/* O(connections): run it a few times a second, not after every event batch. */
	if (now < next_sweep)
		return;
	next_sweep = now + 100;

	for (c = conns; c; c = next) {
		next = c->next;
		if (c->deadline && now >= c->deadline)
			conn_close(c);
	}
	for (i = 0; i < nsocks; i++) {
		if (socks[i].paused && now >= socks[i].paused_until) {
			socks[i].paused = false;
			ep_set(&socks[i].it, EPOLLIN, EPOLL_CTL_MOD);
		}
	}
}

static bool do_signal(struct item *it)
{
	struct signalfd_siginfo si;

	while (read(it->fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGUSR1) {
			http_status = http_status == http_status_cfg ? 500 : http_status_cfg;
			fprintf(stderr, "sl-server: %s: http-status %d\n", name, http_status);
			continue;
		}
		return false;
	}
	return true;
}

/* At exit, however it comes, once the pidfile is written. */
static void remove_pidfile(void)
{
	unlink(pidfile);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sl-server --name NAME [--tcp ADDR:PORT]... [--udp ADDR:PORT]...\n"
		"                 [--http-status N] [--pidfile FILE]\n"
		"ADDR:PORT is a.b.c.d:port, *:port or [v6]:port. Prints \"ready\" when listening.\n"
		"TCP: \"GET \"/\"HEAD \" gets one HTTP reply with body NAME; else each line L gets \"NAME L\".\n"
		"UDP: each datagram P gets \"NAME P\" from the address it was sent to.\n"
		"SIGUSR1 toggles the HTTP status between --http-status and 500; SIGTERM/SIGINT exit.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "tcp", required_argument, NULL, 't' },
		{ "udp", required_argument, NULL, 'u' },
		{ "http-status", required_argument, NULL, 's' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *tcp[MAX_SOCKS], *udp[MAX_SOCKS];
	int ntcp = 0, nudp = 0, opt, i, n;
	struct epoll_event evs[EVENTS];
	struct item sig = { .kind = K_SIGNAL };
	char *e;
	long v;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			name = optarg;
			break;
		case 't':
		case 'u':
			if ((opt == 't' ? ntcp : nudp) == MAX_SOCKS)
				die(1, "too many --%s (at most %d)", opt == 't' ? "tcp" : "udp", MAX_SOCKS);
			if (opt == 't')
				tcp[ntcp++] = optarg;
			else
				udp[nudp++] = optarg;
			break;
		case 's':
			errno = 0;
			v = strtol(optarg, &e, 10);
			if (errno || *e || e == optarg || v < 100 || v > 599)
				die(1, "--http-status wants 100..599, not '%s'", optarg);
			http_status = http_status_cfg = (int)v;
			break;
		case 'p':
			pidfile = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || !name || (!ntcp && !nudp)) {
		usage(stderr);
		return 2;
	}
	name_len = strlen(name);
	/* Clients split replies at the first space: the name must be one word. */
	if (!name_len || name_len > NAME_MAX_LEN || strpbrk(name, " \t\r\n"))
		die(1, "--name must be 1..%d characters without whitespace", NAME_MAX_LEN);

	raise_fd_limit();
	sig.fd = signals_to_fd(SIGUSR1);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		die(1, "epoll_create1: %s", strerror(errno));
	ep_set(&sig, EPOLLIN, EPOLL_CTL_ADD);

	for (i = 0; i < ntcp; i++)
		open_sock(tcp[i], true);
	for (i = 0; i < nudp; i++)
		open_sock(udp[i], false);
	if (pidfile) {
		FILE *f = fopen(pidfile, "w");

		if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f))
			die(1, "pidfile %s: %s", pidfile, strerror(errno));
		atexit(remove_pidfile);
	}
	printf("ready\n");
	fflush(stdout);

	for (;;) {
		n = epoll_wait(epfd, evs, EVENTS, 100);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die(1, "epoll_wait: %s", strerror(errno));
		}
		for (i = 0; i < n; i++) {
			struct item *it = evs[i].data.ptr;

			switch (it->kind) {
			case K_LISTEN:
				do_accept((struct sock *)it);
				break;
			case K_UDP:
				do_udp((struct sock *)it);
				break;
			case K_CONN: {
				struct conn *c = (struct conn *)it;

				/* Write first: it frees buffer room, and may close a finished connection. */
				if ((evs[i].events & EPOLLOUT) && !conn_flush(c))
					break;
				if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
					conn_read(c);
				else
					conn_update(c);
				break;
			}
			case K_SIGNAL:
				if (!do_signal(it))
					return 0;
				break;
			}
		}
		sweep();
	}
}
