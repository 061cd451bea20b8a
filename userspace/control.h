/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The control socket: sluicectl's JSON requests in, one reply per request out. */
#ifndef SLUICE_CONTROL_H
#define SLUICE_CONTROL_H

#include <stddef.h>

/* The version sluiced and sluicectl report. */
#define SLUICE_VERSION		"0.1.0"

/* Where sluicectl looks when neither -s nor $SLUICE_SOCKET says otherwise. */
#define CTL_DEFAULT_SOCKET	"/run/sluice/sluice.sock"

/* Largest request message; a longer one gets an error reply (docs/PROTOCOL.md). */
#define CTL_MAX_REQUEST		65536

/*
 * Largest reply message. The kernel builds one AF_UNIX datagram from one
 * kmalloc'd head plus 17 pages, so a message much above 4 MiB fails with
 * ENOBUFS (measured on 6.18); a longer reply becomes an error reply.
 */
#define CTL_MAX_REPLY		(4 << 20)

/* Connections served at once; one more is accepted and closed at once. */
#define CTL_MAX_CLIENTS		64

/* A connection quiet for this long is closed, so idle clients cannot pile up. */
#define CTL_IDLE_TIMEOUT_MS	30000

struct json_object;
struct ctl_server;

/*
 * A command handler. @args is the request's "args" object (an empty object
 * when the request has none), borrowed. On success the handler may set *@data
 * to a new reference, which the reply takes over (left NULL: "data": null),
 * and returns 0. On failure it returns -errno and may write why into @err
 * (@errlen bytes; left empty, the reply says strerror(errno)).
 * A handler must not call ctl_close().
 */
typedef int (*ctl_fn)(void *ctx, struct json_object *args, struct json_object **data,
		      char *err, size_t errlen);

/* One entry of a command table: the request's "cmd" and its handler. */
struct ctl_cmd {
	const char *name;	/* "vip.list" ...; NULL ends the table */
	ctl_fn fn;		/* called with ctl_opts.ctx */
};

/* What ctl_open() sets up. */
struct ctl_opts {
	const char *path;		/* socket path, shorter than sun_path */
	const char *group;		/* group allowed besides root; NULL = root only */
	const struct ctl_cmd *cmds;	/* command table, kept by reference */
	void *ctx;			/* passed to every handler */
	unsigned int idle_timeout_ms;	/* 0 = CTL_IDLE_TIMEOUT_MS */
};

/*
 * Create the socket at o->path (and its parent directory, 0755, when
 * missing), replacing a stale socket file but not a live one, make it 0660
 * root:o->group, and register it in @epfd. Handlers run from the ev_source
 * callbacks, inside the caller's loop. Returns the server, or NULL with errno
 * set: ENOENT for an unknown group, EADDRINUSE when a server already answers
 * on the path, EEXIST when the path is something other than a socket.
 */
struct ctl_server *ctl_open(int epfd, const struct ctl_opts *o);

/*
 * Close every connection, unregister from the loop and remove the socket
 * file (if it is still ours). Call it outside event dispatch: freeing the
 * connections while the loop holds their events in hand would leave it with
 * dangling ev_source pointers. Safe on NULL.
 */
void ctl_close(struct ctl_server *s);

/*
 * Turn one request message into its reply, as the server does after its
 * checks of size and peer. Returns a new reference, or NULL when memory ran
 * out. Exposed for tests and for tools that speak the protocol in-process.
 */
struct json_object *ctl_dispatch(const struct ctl_cmd *cmds, void *ctx,
				 const char *req, size_t len);

/* Returns a new {"ok": false, "error": @msg, "code": @code} object, or NULL. */
struct json_object *ctl_error_reply(int code, const char *msg);

#endif /* SLUICE_CONTROL_H */
