/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* What sl-client and sl-server share: fatal errors, the clock, addresses, process set-up.
 * Header-only (static inline): each tool is built from its one .c file and libc. */
#ifndef SL_TOOL_H
#define SL_TOOL_H

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>

/* "sl-client: message" on stderr, then exit(code). */
static inline void die(int code, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", program_invocation_short_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

static inline uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t mono_ms(void)
{
	return mono_ns() / 1000000;
}

/* "a.b.c.d:port" or "[v6]:port" (port 1..65535); with want_port false, a bare address
 * (brackets optional for v6). Returns 0 or -1. */
static inline int parse_addr(const char *s, bool want_port, struct sockaddr_storage *ss,
			     socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *h = s, *end, *colon = NULL;
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
	unsigned long port = 0;
	bool v6 = false;
	char *e;

	memset(ss, 0, sizeof(*ss));
	if (*s == '[') {
		end = strchr(s, ']');
		if (!end)
			return -1;
		h = s + 1;
		v6 = true;
		if (want_port) {
			if (end[1] != ':')
				return -1;
			colon = end + 1;
		} else if (end[1]) {
			return -1;
		}
	} else if (want_port) {
		colon = strrchr(s, ':');
		if (!colon)
			return -1;
		end = colon;
	} else {
		end = s + strlen(s);
		v6 = strchr(s, ':') != NULL;
	}
	if ((size_t)(end - h) >= sizeof(host))
		return -1;
	memcpy(host, h, (size_t)(end - h));
	host[end - h] = '\0';
	if (colon) {
		errno = 0;
		port = strtoul(colon + 1, &e, 10);
		if (errno || e == colon + 1 || *e || port == 0 || port > 65535)
			return -1;
	}
	if (v6) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*a6);
		return inet_pton(AF_INET6, host, &a6->sin6_addr) == 1 ? 0 : -1;
	}
	a4->sin_family = AF_INET;
	a4->sin_port = htons((uint16_t)port);
	*len = sizeof(*a4);
	return inet_pton(AF_INET, host, &a4->sin_addr) == 1 ? 0 : -1;
}

/* Many sockets at once: take every fd the hard limit allows. */
static inline void raise_fd_limit(void)
{
	struct rlimit rl;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Block SIGTERM, SIGINT and @extra (0: none) and return a non-blocking signalfd for them, so
 * they arrive as events of the loop and a handler never runs in the middle of an update.
 * SIGPIPE is ignored: a peer that went away shows as EPIPE. */
static inline int signals_to_fd(int extra)
{
	sigset_t mask;
	int fd;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	if (extra)
		sigaddset(&mask, extra);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		die(1, "signalfd: %s", strerror(errno));
	return fd;
}

#endif
