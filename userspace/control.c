/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The control socket server: sluicectl connections on sluiced's epoll loop, one JSON reply per request. */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/types.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "control.h"
#include "evloop.h"

#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

#define CTL_JSON_DEPTH		32	/* request nesting; bounds json-c's recursion */
#define CTL_ERR_MAX		512	/* handler error text, including the NUL */
#define CTL_ACCEPT_BATCH	16	/* accepts per wakeup, so a flood cannot starve the loop */
#define CTL_TICK_MS		1000	/* idle sweep and accept-retry period */
#define CTL_PEER_GROUPS		64	/* first guess at a peer's group count */

/* One accepted connection. */
struct ctl_client {
	struct ev_source src;		/* the loop hands us &src */
	struct ctl_server *srv;		/* owner */
	struct ctl_client *prev, *next;	/* srv->clients list */
	uint64_t last_ms;		/* monotonic time of the last request or reply */
	bool allowed;			/* peer credentials passed, decided at accept */
	bool shut;			/* idle: shut down, waiting for our own EOF */
	bool grown;			/* send buffer already raised for a big reply */
	bool replaced;			/* the pending reply is already the too-large error */
	bool waiting_out;		/* registered for EPOLLOUT instead of EPOLLIN */
	struct json_object *out_obj;	/* owns out_buf when it is a JSON reply */
	const char *out_buf;		/* reply waiting for room in the socket, or NULL */
	size_t out_len;
};

/* The listening socket, its connections and the idle timer. */
struct ctl_server {
	struct ev_source lsrc;		/* listening socket */
	struct ev_source tsrc;		/* timerfd, armed only while there is work for it */
	int epfd;			/* the caller's loop */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev;			/* identity of the socket file we made, */
	ino_t ino;			/* so ctl_close() never removes a successor's */
	bool has_group;
	gid_t gid;			/* group allowed besides root */
	const struct ctl_cmd *cmds;
	void *ctx;
	uint64_t idle_ms;
	uint64_t tick_ms;
	unsigned int n_clients;
	bool accept_paused;		/* out of fds: listening socket muted until the next tick */
	bool timer_armed;
	bool closing;
	struct ctl_client *clients;
	char buf[CTL_MAX_REQUEST];	/* every request is read here and handled at once */
};

/* The reply sent when even an error reply cannot be built. */
static const char oom_reply[] = "{\"ok\":false,\"error\":\"out of memory\",\"code\":12}";

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct json_object *ctl_error_reply(int code, const char *msg)
{
	struct json_object *r = json_object_new_object();

	if (!r)
		return NULL;
	if (json_object_object_add(r, "ok", json_object_new_boolean(0)) ||
	    json_object_object_add(r, "error", json_object_new_string(msg)) ||
	    json_object_object_add(r, "code", json_object_new_int(code))) {
		json_object_put(r);
		return NULL;
	}
	return r;
}

/* Returns a new {"ok": true, "data": @data} object, taking @data; or NULL. */
static struct json_object *ok_reply(struct json_object *data)
{
	struct json_object *r = json_object_new_object();

	if (!r || json_object_object_add(r, "ok", json_object_new_boolean(1))) {
		json_object_put(r);
		json_object_put(data);
		return NULL;
	}
	if (json_object_object_add(r, "data", data)) {
		json_object_put(data);
		json_object_put(r);
		return NULL;
	}
	return r;
}

/* Returns @cmds' entry called @name, or NULL. */
static const struct ctl_cmd *cmd_find(const struct ctl_cmd *cmds, const char *name)
{
	for (; cmds->name; cmds++)
		if (!strcmp(cmds->name, name))
			return cmds;
	return NULL;
}

/* Returns the parsed request, or NULL with why in @msg. */
static struct json_object *parse_request(const char *req, size_t len, char *msg, size_t msglen)
{
	enum json_tokener_error jerr;
	struct json_tokener *tok;
	struct json_object *root;
	const char *nul;

	/* json-c stops at a NUL as if the input ended there; say what it really is. */
	nul = memchr(req, '\0', len);
	if (nul) {
		snprintf(msg, msglen, "malformed request: NUL byte at offset %zu",
			 (size_t)(nul - req));
		return NULL;
	}
	tok = json_tokener_new_ex(CTL_JSON_DEPTH);
	if (!tok) {
		snprintf(msg, msglen, "out of memory");
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	root = json_tokener_parse_ex(tok, req, (int)len);
	jerr = json_tokener_get_error(tok);
	if (jerr == json_tokener_continue) {
		/*
		 * A bare number or literal could go on in a longer input; a NUL
		 * tells json-c the message is all there is. (Strict mode already
		 * refuses anything but whitespace after the value.)
		 */
		root = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
	}
	json_tokener_free(tok);

	if (jerr != json_tokener_success) {
		snprintf(msg, msglen, "malformed request: %s", json_tokener_error_desc(jerr));
		goto out_put;
	}
	if (!json_object_is_type(root, json_type_object)) {
		snprintf(msg, msglen, "request is not a JSON object");
		goto out_put;
	}
	return root;

out_put:
	json_object_put(root);
	return NULL;
}

struct json_object *ctl_dispatch(const struct ctl_cmd *cmds, void *ctx,
				 const char *req, size_t len)
{
	struct json_object *root, *cmd, *args = NULL, *own_args = NULL, *data = NULL, *reply;
	char msg[CTL_ERR_MAX + 64], err[CTL_ERR_MAX], ebuf[128];
	const struct ctl_cmd *c;
	const char *name;
	int ret;

	root = parse_request(req, len, msg, sizeof(msg));
	if (!root)
		return ctl_error_reply(EINVAL, msg);

	if (!json_object_object_get_ex(root, "cmd", &cmd) ||
	    !json_object_is_type(cmd, json_type_string)) {
		reply = ctl_error_reply(EINVAL, "request has no \"cmd\" string");
		goto out_put;
	}
	name = json_object_get_string(cmd);
	/* "args": null reads as no args, as a client library may write it. */
	if (json_object_object_get_ex(root, "args", &args) && args &&
	    !json_object_is_type(args, json_type_object)) {
		reply = ctl_error_reply(EINVAL, "request \"args\" is not an object");
		goto out_put;
	}
	c = cmd_find(cmds, name);
	if (!c) {
		/* Bounded: the name came from the client. */
		snprintf(msg, sizeof(msg), "unknown command '%.64s%s'", name,
			 strlen(name) > 64 ? "..." : "");
		reply = ctl_error_reply(ENOSYS, msg);
		goto out_put;
	}
	if (!args) {
		/* Handlers may walk args without a NULL check. */
		own_args = args = json_object_new_object();
		if (!args) {
			reply = NULL;
			goto out_put;
		}
	}

	err[0] = '\0';
	ret = c->fn(ctx, args, &data, err, sizeof(err));
	err[sizeof(err) - 1] = '\0';
	if (ret < 0) {
		json_object_put(data);
		if (!err[0])
			snprintf(err, sizeof(err), "%s", strerror_r(-ret, ebuf, sizeof(ebuf)));
		reply = ctl_error_reply(-ret, err);
	} else {
		reply = ok_reply(data);
	}
	json_object_put(own_args);
out_put:
	json_object_put(root);
	return reply;
}

/* Arm the timer while clients exist or accepting is paused; stop it otherwise. */
static void timer_update(struct ctl_server *s)
{
	bool want = !s->closing && (s->n_clients || s->accept_paused);
	struct itimerspec its = {};

	if (want == s->timer_armed)
		return;
	if (want) {
		its.it_value.tv_sec = s->tick_ms / 1000;
		its.it_value.tv_nsec = (s->tick_ms % 1000) * 1000000;
		its.it_interval = its.it_value;
	}
	if (!timerfd_settime(s->tsrc.fd, 0, &its, NULL))
		s->timer_armed = want;
}

static void accept_set(struct ctl_server *s, bool on)
{
	struct epoll_event ev = { .events = on ? EPOLLIN : 0, .data.ptr = &s->lsrc };

	if (!epoll_ctl(s->epfd, EPOLL_CTL_MOD, s->lsrc.fd, &ev))
		s->accept_paused = !on;
	timer_update(s);
}

static void client_watch(struct ctl_client *c, unsigned int events)
{
	struct epoll_event ev = { .events = events, .data.ptr = &c->src };

	epoll_ctl(c->srv->epfd, EPOLL_CTL_MOD, c->src.fd, &ev);
}

static void client_out_free(struct ctl_client *c)
{
	json_object_put(c->out_obj);
	c->out_obj = NULL;
	c->out_buf = NULL;
	c->out_len = 0;
	c->replaced = false;
}

static void client_close(struct ctl_client *c)
{
	struct ctl_server *s = c->srv;

	epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->src.fd, NULL);
	close(c->src.fd);
	client_out_free(c);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c);
	s->n_clients--;
	/* A freed fd is what a paused accept was waiting for. */
	if (s->accept_paused && !s->closing)
		accept_set(s, true);
	timer_update(s);
}

/* Make @reply the pending output of @c, taking it; NULL means out of memory. */
static void client_set_out(struct ctl_client *c, struct json_object *reply)
{
	client_out_free(c);
	if (!reply) {
		c->out_buf = oom_reply;
		c->out_len = sizeof(oom_reply) - 1;
		return;
	}
	c->out_obj = reply;
	c->out_buf = json_object_to_json_string_length(reply,
			JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &c->out_len);
	if (!c->out_buf) {
		client_out_free(c);
		c->out_buf = oom_reply;
		c->out_len = sizeof(oom_reply) - 1;
	}
}

/* Swap the pending reply for an error saying it was too large. */
static void client_out_too_large(struct ctl_client *c)
{
	char msg[96];

	snprintf(msg, sizeof(msg), "reply too large (%zu bytes, max %d)", c->out_len, CTL_MAX_REPLY);
	client_set_out(c, ctl_error_reply(EMSGSIZE, msg));
	c->replaced = true;
}

/*
 * Raise @fd's send buffer so one message of @len bytes fits. Root may exceed
 * net.core.wmem_max; anyone else gets what the sysctl allows.
 */
static void sndbuf_grow(int fd, size_t len)
{
	int sz = (int)(2 * len + 65536);

	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)))
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
}

/*
 * Send the pending reply. Returns 0 when it is gone, -EAGAIN when the socket
 * is full (the client now waits for EPOLLOUT and is not read meanwhile, which
 * is what stops a client that never reads from growing our memory), or
 * another -errno when the connection is broken.
 */
static int client_flush(struct ctl_client *c)
{
	ssize_t n;

	if (c->out_len > CTL_MAX_REPLY && !c->replaced)
		client_out_too_large(c);
	for (;;) {
		n = send(c->src.fd, c->out_buf, c->out_len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n >= 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN) {
			if (!c->waiting_out)
				client_watch(c, EPOLLOUT);
			c->waiting_out = true;
			return -EAGAIN;
		}
		if ((errno == EMSGSIZE || errno == ENOBUFS) && !c->grown) {
			c->grown = true;
			sndbuf_grow(c->src.fd, c->out_len);
			continue;
		}
		if ((errno == EMSGSIZE || errno == ENOBUFS) && !c->replaced) {
			client_out_too_large(c);
			continue;
		}
		return -errno;
	}
	client_out_free(c);
	c->last_ms = now_ms();
	if (c->waiting_out)
		client_watch(c, EPOLLIN);
	c->waiting_out = false;
	return 0;
}

static void client_ev(struct ev_source *src, unsigned int events)
{
	struct ctl_client *c = container_of(src, struct ctl_client, src);
	struct ctl_server *s = c->srv;
	struct json_object *reply;
	ssize_t n;
	int ret;

	if (c->out_buf) {
		ret = client_flush(c);
		if (ret && ret != -EAGAIN)
			client_close(c);
		/* Level-triggered: a queued request wakes us again. */
		return;
	}

	/* MSG_TRUNC: the return value is the whole message's length. */
	n = recv(src->fd, s->buf, sizeof(s->buf), MSG_DONTWAIT | MSG_TRUNC);
	if (n < 0) {
		if ((errno == EAGAIN || errno == EINTR) && !(events & (EPOLLHUP | EPOLLERR)))
			return;
		client_close(c);
		return;
	}
	/* End of stream; an empty SEQPACKET message cannot be told apart from it. */
	if (n == 0) {
		client_close(c);
		return;
	}
	c->last_ms = now_ms();

	if (!c->allowed) {
		client_set_out(c, ctl_error_reply(EACCES, "permission denied"));
		send(src->fd, c->out_buf, c->out_len, MSG_DONTWAIT | MSG_NOSIGNAL);
		client_close(c);
		return;
	}
	if (n > CTL_MAX_REQUEST) {
		char msg[64];

		snprintf(msg, sizeof(msg), "request too large (max %d bytes)", CTL_MAX_REQUEST);
		reply = ctl_error_reply(EMSGSIZE, msg);
	} else {
		reply = ctl_dispatch(s->cmds, s->ctx, s->buf, n);
	}
	client_set_out(c, reply);
	ret = client_flush(c);
	if (ret && ret != -EAGAIN)
		client_close(c);
}

/* Returns true when @gid is among the groups @fd's peer had when it connected. */
static bool peer_has_group(int fd, uid_t uid, gid_t pgid, gid_t gid)
{
	gid_t stack[CTL_PEER_GROUPS], *groups = stack;
	socklen_t len = sizeof(stack);
	bool found = false;
	int i, n, ret;

	/*
	 * SO_PEERGROUPS gives the groups the kernel checked against the socket
	 * file's mode at connect() and costs no NSS lookup, which could block
	 * the whole loop on a directory server.
	 */
	ret = getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len);
	if (ret && errno == ERANGE) {
		groups = malloc(len);
		if (!groups)
			return false;
		ret = getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len);
	}
	if (!ret) {
		for (i = 0; i < (int)(len / sizeof(gid_t)); i++)
			found |= groups[i] == gid;
		goto out;
	}
	if (errno != ENOPROTOOPT)
		goto out;

	/* Kernels before 4.13: the group database's view of the peer's user. */
	{
		char pwbuf[4096];
		struct passwd pw, *pwp = NULL;

		if (getpwuid_r(uid, &pw, pwbuf, sizeof(pwbuf), &pwp) || !pwp)
			goto out;
		n = CTL_PEER_GROUPS;
		if (getgrouplist(pw.pw_name, pgid, stack, &n) < 0) {
			groups = malloc(n * sizeof(gid_t));
			if (!groups || getgrouplist(pw.pw_name, pgid, groups, &n) < 0)
				goto out;
		}
		for (i = 0; i < n; i++)
			found |= groups[i] == gid;
	}
out:
	if (groups != stack)
		free(groups);
	return found;
}

/* Decide once, at accept: peer credentials are fixed at connect(). */
static bool peer_allowed(const struct ctl_server *s, int fd)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len))
		return false;
	if (cr.uid == 0)
		return true;
	if (!s->has_group)
		return false;
	if (cr.gid == s->gid)
		return true;
	return peer_has_group(fd, cr.uid, cr.gid, s->gid);
}

/* Returns 0, or -errno when @fd could not be taken on (the caller closes it). */
static int client_add(struct ctl_server *s, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct ctl_client *c;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->src.fd = fd;
	c->src.fn = client_ev;
	c->srv = s;
	c->last_ms = now_ms();
	c->allowed = peer_allowed(s, fd);
	ev.data.ptr = &c->src;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev)) {
		free(c);
		return -errno;
	}
	c->next = s->clients;
	if (c->next)
		c->next->prev = c;
	s->clients = c;
	s->n_clients++;
	timer_update(s);
	return 0;
}

static void listen_ev(struct ev_source *src, unsigned int events)
{
	struct ctl_server *s = container_of(src, struct ctl_server, lsrc);
	int i, fd;

	for (i = 0; i < CTL_ACCEPT_BATCH; i++) {
		fd = accept4(src->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN)
				return;
			/* The client went away, or was refused by an LSM: next. */
			if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO ||
			    errno == EPERM)
				continue;
			/*
			 * Out of fds or memory: the pending connection keeps the
			 * socket readable, so mute it until a client closes or
			 * the timer ticks instead of spinning on it.
			 */
			accept_set(s, false);
			return;
		}
		/* Over the cap: accepted and closed, so the client sees EOF, not a hang. */
		if (s->n_clients >= CTL_MAX_CLIENTS || client_add(s, fd))
			close(fd);
	}
}

static void timer_ev(struct ev_source *src, unsigned int events)
{
	struct ctl_server *s = container_of(src, struct ctl_server, tsrc);
	struct ctl_client *c;
	uint64_t expirations, now = now_ms();

	if (read(src->fd, &expirations, sizeof(expirations)) < 0 && errno == EAGAIN)
		return;
	if (s->accept_paused)
		accept_set(s, true);
	/*
	 * Freeing a client here could free one whose event the loop already
	 * holds in this batch; shutting it down instead wakes its own
	 * callback, which sees EOF or EPIPE and closes it.
	 */
	for (c = s->clients; c; c = c->next) {
		if (!c->shut && now - c->last_ms >= s->idle_ms) {
			shutdown(c->src.fd, SHUT_RDWR);
			c->shut = true;
		}
	}
}

/* Returns 0 or -errno; @gid gets the id of group @name. */
static int group_lookup(const char *name, gid_t *gid)
{
	struct group gr, *grp = NULL;
	size_t len = 4096;
	char *buf;
	int ret;

	for (;;) {
		buf = malloc(len);
		if (!buf)
			return -ENOMEM;
		ret = getgrnam_r(name, &gr, buf, len, &grp);
		if (ret != ERANGE || len >= (1 << 20))
			break;
		free(buf);
		len *= 4;
	}
	if (!ret && grp)
		*gid = grp->gr_gid;
	free(buf);
	if (ret)
		return -ret;
	return grp ? 0 : -ENOENT;
}

/* Create the directories above @path that are missing, 0755. Returns 0 or -errno. */
static int mkdir_parents(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *p;

	snprintf(dir, sizeof(dir), "%s", path);
	for (p = strchr(dir + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (!mkdir(dir, 0755)) {
			/* The umask may have taken bits group members need to reach the socket. */
			if (chmod(dir, 0755))
				return -errno;
		} else if (errno != EEXIST) {
			return -errno;
		}
		*p = '/';
	}
	return 0;
}

/*
 * Clear @path for bind(): nothing there, or a socket nobody listens on
 * (left by a daemon that died). Returns 0 or -errno.
 */
static int remove_stale(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, ret;

	if (lstat(path, &st))
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	strcpy(sa.sun_path, path);
	ret = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	if (ret)
		ret = -errno;
	close(fd);
	/*
	 * Accepted, or a full backlog (EAGAIN), or a listener of another socket
	 * type (EPROTOTYPE): someone is serving there. Only ECONNREFUSED means
	 * the file has no socket behind it.
	 */
	if (!ret || ret == -EAGAIN || ret == -EPROTOTYPE)
		return -EADDRINUSE;
	if (ret != -ECONNREFUSED)
		return ret;
	if (unlink(path) && errno != ENOENT)
		return -errno;
	return 0;
}

struct ctl_server *ctl_open(int epfd, const struct ctl_opts *o)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct epoll_event ev = { .events = EPOLLIN };
	struct ctl_server *s;
	struct stat st;
	int ret;

	if (epfd < 0 || !o || !o->path || !o->path[0] || !o->cmds) {
		errno = EINVAL;
		return NULL;
	}
	if (strlen(o->path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->epfd = epfd;
	strcpy(s->path, o->path);
	s->cmds = o->cmds;
	s->ctx = o->ctx;
	s->idle_ms = o->idle_timeout_ms ? o->idle_timeout_ms : CTL_IDLE_TIMEOUT_MS;
	s->tick_ms = s->idle_ms / 2 < CTL_TICK_MS ? s->idle_ms / 2 : CTL_TICK_MS;
	if (!s->tick_ms)
		s->tick_ms = 1;
	s->lsrc.fn = listen_ev;
	s->tsrc.fn = timer_ev;
	s->tsrc.fd = -1;

	if (o->group) {
		ret = group_lookup(o->group, &s->gid);
		if (ret)
			goto out_free;
		s->has_group = true;
	}
	ret = mkdir_parents(s->path);
	if (ret)
		goto out_free;
	ret = remove_stale(s->path);
	if (ret)
		goto out_free;

	s->lsrc.fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->lsrc.fd < 0) {
		ret = -errno;
		goto out_free;
	}
	/*
	 * bind() gives the file the socket inode's mode less the umask, so
	 * setting it first leaves no moment in which the file is open to all.
	 */
	fchmod(s->lsrc.fd, 0660);
	strcpy(sa.sun_path, s->path);
	if (bind(s->lsrc.fd, (struct sockaddr *)&sa, sizeof(sa))) {
		ret = -errno;
		goto out_close;
	}
	if (stat(s->path, &st) || chmod(s->path, 0660) ||
	    (s->has_group && chown(s->path, (uid_t)-1, s->gid))) {
		ret = -errno;
		goto out_unlink;
	}
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	if (listen(s->lsrc.fd, CTL_MAX_CLIENTS)) {
		ret = -errno;
		goto out_unlink;
	}

	s->tsrc.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->tsrc.fd < 0) {
		ret = -errno;
		goto out_unlink;
	}
	ev.data.ptr = &s->tsrc;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, s->tsrc.fd, &ev)) {
		ret = -errno;
		goto out_timer;
	}
	ev.data.ptr = &s->lsrc;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, s->lsrc.fd, &ev)) {
		ret = -errno;
		goto out_del_timer;
	}
	return s;

out_del_timer:
	epoll_ctl(epfd, EPOLL_CTL_DEL, s->tsrc.fd, NULL);
out_timer:
	close(s->tsrc.fd);
out_unlink:
	unlink(s->path);
out_close:
	close(s->lsrc.fd);
out_free:
	free(s);
	errno = -ret;
	return NULL;
}

void ctl_close(struct ctl_server *s)
{
	struct stat st;

	if (!s)
		return;
	s->closing = true;
	while (s->clients)
		client_close(s->clients);
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->lsrc.fd, NULL);
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->tsrc.fd, NULL);
	close(s->lsrc.fd);
	close(s->tsrc.fd);
	if (!lstat(s->path, &st) && st.st_dev == s->dev && st.st_ino == s->ino)
		unlink(s->path);
	free(s);
}
