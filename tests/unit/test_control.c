/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Unit tests for the control socket server: replies, protocol errors, limits, misbehaving peers, permissions. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <json-c/json.h>

#include "control.h"
#include "evloop.h"

#define NOBODY		65534	/* uid and gid of nobody / nogroup on Debian */
#define TEST_GROUP	"daemon"	/* a group every Debian system has (gid 1) */
#define RECV_TIMEOUT_S	5	/* a server that stops answering fails, never hangs */

static char dir[64];
static char sock_path[108];
static int epfd = -1;
static struct ctl_server *srv;
static pthread_t loop_thread;
static atomic_bool loop_stop;
static bool loop_running;
static gid_t test_gid;

/* ---- handlers ---- */

static int h_echo(void *ctx, struct json_object *args, struct json_object **data,
		  char *err, size_t errlen)
{
	*data = json_object_get(args);
	return 0;
}

static int h_fail(void *ctx, struct json_object *args, struct json_object **data,
		  char *err, size_t errlen)
{
	snprintf(err, errlen, "bad thing happened");
	return -EINVAL;
}

static int h_fail_quiet(void *ctx, struct json_object *args, struct json_object **data,
			char *err, size_t errlen)
{
	return -ENOENT;
}

static int h_null(void *ctx, struct json_object *args, struct json_object **data,
		  char *err, size_t errlen)
{
	return 0;
}

/* Counts its calls in *ctx (an int) and replies with the count. */
static int h_ctx(void *ctx, struct json_object *args, struct json_object **data,
		 char *err, size_t errlen)
{
	int *calls = ctx;

	if (!calls)
		return -EFAULT;
	*data = json_object_new_int(++*calls);
	return 0;
}

/* Replies with a string of args.bytes 'x' characters. */
static int h_big(void *ctx, struct json_object *args, struct json_object **data,
		 char *err, size_t errlen)
{
	struct json_object *n;
	size_t len;
	char *s;

	if (!json_object_object_get_ex(args, "bytes", &n))
		return -EINVAL;
	len = json_object_get_int64(n);
	s = malloc(len);
	if (!s)
		return -ENOMEM;
	memset(s, 'x', len);
	*data = json_object_new_string_len(s, len);
	free(s);
	return 0;
}

static const struct ctl_cmd cmds[] = {
	{ "echo", h_echo },
	{ "fail", h_fail },
	{ "fail.quiet", h_fail_quiet },
	{ "null", h_null },
	{ "big", h_big },
	{ "ctx", h_ctx },
	{ NULL, NULL },
};

/* ---- the server and its loop, as sluiced runs them ---- */

static void *loop_fn(void *arg)
{
	struct epoll_event evs[16];
	struct ev_source *src;
	int i, n;

	while (!atomic_load(&loop_stop)) {
		n = epoll_wait(epfd, evs, 16, 20);
		for (i = 0; i < n; i++) {
			src = evs[i].data.ptr;
			src->fn(src, evs[i].events);
		}
	}
	return NULL;
}

static void loop_start(void)
{
	atomic_store(&loop_stop, false);
	cr_assert_eq(pthread_create(&loop_thread, NULL, loop_fn, NULL), 0);
	loop_running = true;
}

static void loop_end(void)
{
	if (!loop_running)
		return;
	atomic_store(&loop_stop, true);
	pthread_join(loop_thread, NULL);
	loop_running = false;
}

static void server_start_opts(const char *group, unsigned int idle_ms)
{
	struct ctl_opts o = {
		.path = sock_path,
		.group = group,
		.cmds = cmds,
		.idle_timeout_ms = idle_ms,
	};

	srv = ctl_open(epfd, &o);
	cr_assert_not_null(srv, "ctl_open: %s", strerror(errno));
	loop_start();
}

static void server_start(void)
{
	server_start_opts(TEST_GROUP, 0);
}

static void server_stop(void)
{
	loop_end();
	ctl_close(srv);
	srv = NULL;
}

static void setup(void)
{
	struct group *gr = getgrnam(TEST_GROUP);

	cr_assert_not_null(gr, "group %s must exist for these tests", TEST_GROUP);
	test_gid = gr->gr_gid;
	cr_assert_eq(geteuid(), 0, "these tests need root (setuid to nobody, chown)");
	snprintf(dir, sizeof(dir), "/tmp/sluice-ctl-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	/* mkdtemp makes it 0700; nobody must reach the socket to test its mode. */
	cr_assert_eq(chmod(dir, 0755), 0);
	/* A missing parent directory, as /run/sluice is after boot. */
	snprintf(sock_path, sizeof(sock_path), "%s/run/sluice.sock", dir);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	cr_assert_geq(epfd, 0);
}

static void teardown(void)
{
	char parent[128];

	server_stop();
	if (epfd >= 0)
		close(epfd);
	/* Tests leave at most the socket path (a socket or a file) and its directory. */
	snprintf(parent, sizeof(parent), "%s/run", dir);
	unlink(sock_path);
	rmdir(parent);
	if (rmdir(dir))
		cr_log_warn("could not remove %s: %s", dir, strerror(errno));
}

TestSuite(control, .init = setup, .fini = teardown, .timeout = 30);

/* ---- client side ---- */

static int client_try_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = RECV_TIMEOUT_S };
	int fd, err;

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	strcpy(sa.sun_path, sock_path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = errno;
		close(fd);
		return -err;
	}
	return fd;
}

static int client_connect(void)
{
	int fd = client_try_connect();

	cr_assert_geq(fd, 0, "connect %s: %s", sock_path, strerror(-fd));
	return fd;
}

static void client_send_len(int fd, const char *msg, size_t len)
{
	ssize_t n = send(fd, msg, len, MSG_NOSIGNAL);

	cr_assert_eq(n, (ssize_t)len, "send: %s", n < 0 ? strerror(errno) : "short");
}

static void client_send(int fd, const char *msg)
{
	client_send_len(fd, msg, strlen(msg));
}

/* Receives one reply the way sluicectl does and returns it parsed. */
static struct json_object *client_recv(int fd)
{
	struct json_object *r;
	ssize_t len, n;
	char *buf;

	len = recv(fd, NULL, 0, MSG_PEEK | MSG_TRUNC);
	cr_assert_gt(len, 0, "no reply: %s", len < 0 ? strerror(errno) : "EOF");
	buf = malloc(len + 1);
	cr_assert_not_null(buf);
	n = recv(fd, buf, len, 0);
	cr_assert_eq(n, len);
	buf[n] = '\0';
	r = json_tokener_parse(buf);
	cr_assert_not_null(r, "reply is not JSON: %.200s", buf);
	free(buf);
	return r;
}

/*
 * Returns true when the server has closed @fd's connection within the
 * timeout: EOF, or ECONNRESET when it closed with our request unread.
 */
static bool client_sees_eof(int fd)
{
	ssize_t n;
	char c;

	n = recv(fd, &c, 1, 0);
	return n == 0 || (n < 0 && errno == ECONNRESET);
}

/* Sends @req on @fd and returns the reply. */
static struct json_object *request(int fd, const char *req)
{
	client_send(fd, req);
	return client_recv(fd);
}

/* One request on a fresh connection. */
static struct json_object *call(const char *req)
{
	struct json_object *r;
	int fd = client_connect();

	r = request(fd, req);
	close(fd);
	return r;
}

static struct json_object *field(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	cr_assert(json_object_object_get_ex(o, key, &v), "no \"%s\" in %s", key,
		  json_object_to_json_string(o));
	return v;
}

static void assert_ok(struct json_object *r)
{
	cr_assert(json_object_get_boolean(field(r, "ok")), "not ok: %s",
		  json_object_to_json_string(r));
}

/* Asserts @r is an error reply whose text starts with @prefix and whose code is @code. */
static void assert_error(struct json_object *r, const char *prefix, int code)
{
	const char *e;

	cr_assert_not(json_object_get_boolean(field(r, "ok")), "ok where an error was due: %s",
		      json_object_to_json_string(r));
	e = json_object_get_string(field(r, "error"));
	cr_assert(!strncmp(e, prefix, strlen(prefix)), "error \"%s\", expected \"%s...\"", e, prefix);
	cr_assert_eq(json_object_get_int(field(r, "code")), code, "code %d, expected %d",
		     json_object_get_int(field(r, "code")), code);
}

/* The next reply on @fd must be ok. */
static void recv_ok(int fd)
{
	struct json_object *r = client_recv(fd);

	assert_ok(r);
	json_object_put(r);
}

/* @req on @fd must be answered ok. */
static void request_ok(int fd, const char *req)
{
	client_send(fd, req);
	recv_ok(fd);
}

/* @req on @fd must be answered with an error @prefix... and @code. */
static void request_error(int fd, const char *req, const char *prefix, int code)
{
	struct json_object *r = request(fd, req);

	assert_error(r, prefix, code);
	json_object_put(r);
}

/* @req on a fresh connection must be answered with an error @prefix... and @code. */
static void call_error(const char *req, const char *prefix, int code)
{
	int fd = client_connect();

	request_error(fd, req, prefix, code);
	close(fd);
}

/* The server still answers a new client. */
static void assert_alive(void)
{
	struct json_object *r = call("{\"cmd\":\"echo\",\"args\":{\"alive\":true}}");

	assert_ok(r);
	cr_assert(json_object_get_boolean(field(field(r, "data"), "alive")));
	json_object_put(r);
}

/* What a child running as another user saw. */
struct child_result {
	int connect_err;	/* 0 or errno of connect() */
	ssize_t len;		/* reply length, or -errno */
	bool eof_after;		/* the server closed the connection after replying */
	char reply[1024];
};

/*
 * Connect as uid nobody with primary group @gid and supplementary groups
 * @groups, send @req, and report what happened. Only system calls in the
 * child: it was forked from a process with threads.
 */
static void as_user(gid_t gid, const gid_t *groups, size_t ngroups, const char *req,
		    struct child_result *out)
{
	struct child_result *res;
	int status, fd;
	pid_t pid;
	char c;

	res = mmap(NULL, sizeof(*res), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(res, MAP_FAILED);
	memset(res, 0, sizeof(*res));
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		if (setgroups(ngroups, groups) || setgid(gid) || setuid(NOBODY))
			_exit(10);
		fd = client_try_connect();
		if (fd < 0) {
			res->connect_err = -fd;
			_exit(0);
		}
		if (send(fd, req, strlen(req), MSG_NOSIGNAL) < 0)
			_exit(11);
		res->len = recv(fd, res->reply, sizeof(res->reply) - 1, 0);
		if (res->len < 0)
			res->len = -errno;
		res->eof_after = recv(fd, &c, 1, 0) == 0;
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed: status %#x", status);
	*out = *res;
	munmap(res, sizeof(*res));
}

/* The reply the child got, parsed: it must have connected and been answered. */
static struct json_object *child_reply(const struct child_result *res)
{
	struct json_object *r;

	cr_assert_eq(res->connect_err, 0, "connect: %s", strerror(res->connect_err));
	cr_assert_gt(res->len, 0, "no reply: %s", res->len < 0 ? strerror(-res->len) : "EOF");
	r = json_tokener_parse(res->reply);
	cr_assert_not_null(r, "reply is not JSON: %.200s", res->reply);
	return r;
}

/* ---- replies ---- */

Test(control, good_request_gets_ok_and_data)
{
	struct json_object *r, *d;

	server_start();
	r = call("{\"cmd\":\"echo\",\"args\":{\"name\":\"web\",\"port\":80}}");
	assert_ok(r);
	d = field(r, "data");
	cr_assert_str_eq(json_object_get_string(field(d, "name")), "web");
	cr_assert_eq(json_object_get_int(field(d, "port")), 80);
	json_object_put(r);
}

Test(control, missing_or_null_args_reach_the_handler_as_empty_object)
{
	static const char *const reqs[] = { "{\"cmd\":\"echo\"}", "{\"cmd\":\"echo\",\"args\":null}" };
	struct json_object *r, *d;
	size_t i;

	server_start();
	for (i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		r = call(reqs[i]);
		assert_ok(r);
		d = field(r, "data");
		cr_assert(json_object_is_type(d, json_type_object), "%s: data %s", reqs[i],
			  json_object_to_json_string(d));
		cr_assert_eq(json_object_object_length(d), 0, "%s: data %s", reqs[i],
			     json_object_to_json_string(d));
		json_object_put(r);
	}
}

Test(control, handler_without_data_replies_null)
{
	struct json_object *r;

	server_start();
	r = call("{\"cmd\":\"null\"}");
	assert_ok(r);
	cr_assert_null(field(r, "data"));
	json_object_put(r);
}

Test(control, handler_error_carries_its_text_and_code)
{
	struct json_object *r;

	server_start();
	r = call("{\"cmd\":\"fail\"}");
	assert_error(r, "bad thing happened", EINVAL);
	cr_assert_str_eq(json_object_get_string(field(r, "error")), "bad thing happened");
	json_object_put(r);
}

Test(control, handler_error_without_text_says_strerror)
{
	server_start();
	call_error("{\"cmd\":\"fail.quiet\"}", "No such file or directory", ENOENT);
}

Test(control, several_requests_on_one_connection)
{
	struct json_object *r;
	char req[64];
	int fd, i;

	server_start();
	fd = client_connect();
	for (i = 0; i < 20; i++) {
		snprintf(req, sizeof(req), "{\"cmd\":\"echo\",\"args\":{\"i\":%d}}", i);
		r = request(fd, req);
		assert_ok(r);
		cr_assert_eq(json_object_get_int(field(field(r, "data"), "i")), i);
		json_object_put(r);
	}
	close(fd);
}

/* ---- protocol errors: each answered, and the server goes on serving ---- */

Test(control, malformed_json)
{
	server_start();
	call_error("{\"cmd\": \"echo\",", "malformed request: ", EINVAL);
	call_error("{cmd: echo}", "malformed request: ", EINVAL);
	call_error("{\"cmd\":\"echo\"} trailing", "malformed request: ", EINVAL);
	assert_alive();
}

Test(control, request_not_an_object)
{
	server_start();
	call_error("[\"echo\"]", "request is not a JSON object", EINVAL);
	call_error("42", "request is not a JSON object", EINVAL);
	assert_alive();
}

Test(control, missing_cmd)
{
	server_start();
	call_error("{\"args\":{}}", "request has no \"cmd\" string", EINVAL);
	call_error("{\"cmd\":7}", "request has no \"cmd\" string", EINVAL);
	assert_alive();
}

Test(control, args_not_an_object)
{
	server_start();
	call_error("{\"cmd\":\"echo\",\"args\":[1,2]}", "request \"args\" is not an object", EINVAL);
	assert_alive();
}

Test(control, unknown_command)
{
	server_start();
	call_error("{\"cmd\":\"vip.frobnicate\"}", "unknown command 'vip.frobnicate'", ENOSYS);
	assert_alive();
}

Test(control, errors_do_not_end_the_connection)
{
	int fd;

	server_start();
	fd = client_connect();
	request_error(fd, "not json", "malformed request: ", EINVAL);
	request_ok(fd, "{\"cmd\":\"echo\"}");
	close(fd);
}

/* ---- limits ---- */

/* An echo request padded with spaces to @len bytes: valid JSON, so only its size can matter. */
static char *padded_echo(size_t len)
{
	static const char req[] = "{\"cmd\":\"echo\"}";
	char *buf;

	cr_assert_geq(len, sizeof(req) - 1);
	buf = malloc(len);
	cr_assert_not_null(buf);
	memset(buf, ' ', len);
	memcpy(buf, req, sizeof(req) - 1);
	return buf;
}

Test(control, oversized_request_is_refused_and_server_lives)
{
	struct json_object *r;
	size_t len = 100 * 1024;
	char *big;
	int fd;

	server_start();
	big = padded_echo(len);
	fd = client_connect();
	client_send_len(fd, big, len);
	r = client_recv(fd);
	assert_error(r, "request too large (max 65536 bytes)", EMSGSIZE);
	json_object_put(r);
	/* The same connection goes on. */
	request_ok(fd, "{\"cmd\":\"echo\"}");
	close(fd);
	free(big);
	assert_alive();
}

Test(control, request_of_exactly_the_maximum_is_served)
{
	char *req;
	int fd;

	server_start();
	req = padded_echo(CTL_MAX_REQUEST);
	fd = client_connect();
	client_send_len(fd, req, CTL_MAX_REQUEST);
	recv_ok(fd);
	close(fd);
	free(req);
}

Test(control, big_reply_arrives_whole)
{
	struct json_object *r;
	size_t sizes[] = { 100000, 1 << 20, 3 << 20 };
	char req[96];
	size_t i;

	server_start();
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		snprintf(req, sizeof(req), "{\"cmd\":\"big\",\"args\":{\"bytes\":%zu}}", sizes[i]);
		r = call(req);
		assert_ok(r);
		cr_assert_eq((size_t)json_object_get_string_len(field(r, "data")), sizes[i]);
		json_object_put(r);
	}
}

Test(control, reply_over_the_limit_becomes_an_error)
{
	char req[96];

	server_start();
	snprintf(req, sizeof(req), "{\"cmd\":\"big\",\"args\":{\"bytes\":%d}}", CTL_MAX_REPLY + 1);
	call_error(req, "reply too large", EMSGSIZE);
	assert_alive();
}

Test(control, clients_beyond_the_cap_are_closed_at_once)
{
	int fds[CTL_MAX_CLIENTS], fd, i;

	server_start();
	/* A reply proves each connection was accepted and counted. */
	for (i = 0; i < CTL_MAX_CLIENTS; i++) {
		fds[i] = client_connect();
		request_ok(fds[i], "{\"cmd\":\"null\"}");
	}
	fd = client_connect();
	send(fd, "{\"cmd\":\"null\"}", 14, MSG_NOSIGNAL);
	cr_assert(client_sees_eof(fd), "connection over the cap was not closed");
	close(fd);

	/* A slot freed is a slot served, once the server has seen the close. */
	close(fds[0]);
	for (i = 0; i < 100; i++) {
		fd = client_connect();
		send(fd, "{\"cmd\":\"null\"}", 14, MSG_NOSIGNAL);
		if (recv(fd, NULL, 0, MSG_PEEK | MSG_TRUNC) > 0)
			break;
		close(fd);
		fd = -1;
		usleep(20 * 1000);
	}
	cr_assert_geq(fd, 0, "no slot freed after a client closed");
	recv_ok(fd);
	close(fd);
	for (i = 1; i < CTL_MAX_CLIENTS; i++)
		close(fds[i]);
}

Test(control, idle_client_is_closed)
{
	struct timespec t0, t1;
	int fd;

	server_start_opts(TEST_GROUP, 300);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fd = client_connect();
	cr_assert(client_sees_eof(fd), "idle connection was not closed");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/*
	 * Not before it was idle for the timeout. Only a lower bound, taken
	 * from before connect(): a slow host can make it later, never earlier.
	 */
	cr_assert_geq(t1.tv_sec - t0.tv_sec + (t1.tv_nsec - t0.tv_nsec) / 1e9, 0.25,
		      "closed before the 300 ms idle timeout");
	close(fd);
	assert_alive();
}

/* ---- peers that misbehave ---- */

Test(control, silent_client_does_not_block_others)
{
	int quiet[3], i;

	server_start();
	for (i = 0; i < 3; i++)
		quiet[i] = client_connect();
	assert_alive();
	/* Half a conversation: a request whose reply is never read. */
	client_send(quiet[0], "{\"cmd\":\"echo\"}");
	assert_alive();
	for (i = 0; i < 3; i++)
		close(quiet[i]);
	assert_alive();
}

Test(control, abrupt_close_does_not_hurt)
{
	int fd, i;

	server_start();
	for (i = 0; i < 50; i++) {
		fd = client_connect();
		if (i % 2)
			client_send(fd, "{\"cmd\":\"big\",\"args\":{\"bytes\":100000}}");
		close(fd);
	}
	assert_alive();
}

Test(control, half_closed_client_still_gets_its_reply)
{
	struct json_object *r;
	int fd;

	server_start();
	fd = client_connect();
	client_send(fd, "{\"cmd\":\"echo\",\"args\":{\"x\":1}}");
	cr_assert_eq(shutdown(fd, SHUT_WR), 0);
	r = client_recv(fd);
	assert_ok(r);
	cr_assert_eq(json_object_get_int(field(field(r, "data"), "x")), 1);
	json_object_put(r);
	cr_assert(client_sees_eof(fd));
	close(fd);
	assert_alive();
}

Test(control, empty_message_ends_the_connection)
{
	int fd;

	server_start();
	fd = client_connect();
	/* On SEQPACKET an empty message reads as end of stream. */
	cr_assert_eq(send(fd, "", 0, MSG_NOSIGNAL), 0);
	cr_assert(client_sees_eof(fd));
	close(fd);
	assert_alive();
}

Test(control, client_that_never_reads_does_not_block_others)
{
	struct pollfd pfd = { .events = POLLOUT };
	struct json_object *r;
	int fd, fl, sent = 0, got, stalls = 0;
	char req[64];
	ssize_t n;

	server_start();
	fd = client_connect();
	pfd.fd = fd;
	fl = fcntl(fd, F_GETFL);
	cr_assert_eq(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
	/*
	 * Push numbered requests until both directions are full: the server
	 * stops reading while its replies cannot go out, so our sends block.
	 * After each refused send, give the server up to 50 ms to make room.
	 */
	while (stalls < 3 && sent < 100000) {
		snprintf(req, sizeof(req), "{\"cmd\":\"echo\",\"args\":{\"i\":%d}}", sent);
		n = send(fd, req, strlen(req), MSG_NOSIGNAL);
		if (n == (ssize_t)strlen(req)) {
			sent++;
			continue;
		}
		cr_assert_eq(errno, EAGAIN, "send: %s", n < 0 ? strerror(errno) : "short");
		stalls++;
		cr_assert_geq(poll(&pfd, 1, 50), 0, "poll: %s", strerror(errno));
	}
	cr_assert_gt(sent, 100);
	assert_alive();

	/* Nothing was lost or reordered while it waited. */
	cr_assert_eq(fcntl(fd, F_SETFL, fl), 0);
	for (got = 0; got < sent; got++) {
		r = client_recv(fd);
		assert_ok(r);
		cr_assert_eq(json_object_get_int(field(field(r, "data"), "i")), got,
			     "reply %d answers request %d", got,
			     json_object_get_int(field(field(r, "data"), "i")));
		json_object_put(r);
	}
	close(fd);
}

/* ---- the socket file ---- */

Test(control, socket_is_0660_root_group_in_a_0755_directory)
{
	char parent[128];
	struct stat st;

	server_start();
	cr_assert_eq(stat(sock_path, &st), 0);
	cr_assert(S_ISSOCK(st.st_mode));
	cr_assert_eq(st.st_mode & 07777, 0660, "mode %o", st.st_mode & 07777);
	cr_assert_eq(st.st_uid, 0);
	cr_assert_eq(st.st_gid, test_gid);
	snprintf(parent, sizeof(parent), "%s/run", dir);
	cr_assert_eq(stat(parent, &st), 0);
	cr_assert(S_ISDIR(st.st_mode));
	cr_assert_eq(st.st_mode & 07777, 0755, "mode %o", st.st_mode & 07777);
}

Test(control, stale_socket_is_replaced)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char parent[128];
	int fd;

	snprintf(parent, sizeof(parent), "%s/run", dir);
	cr_assert_eq(mkdir(parent, 0755), 0);
	/* What a daemon that died leaves: a socket file nobody listens on. */
	fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	strcpy(sa.sun_path, sock_path);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	server_start();
	assert_alive();
}

Test(control, live_socket_is_not_taken_over)
{
	struct ctl_opts o = { .path = sock_path, .cmds = cmds };

	server_start();
	cr_assert_null(ctl_open(epfd, &o));
	cr_assert_eq(errno, EADDRINUSE);
	assert_alive();
}

Test(control, path_that_is_not_a_socket_is_left_alone)
{
	struct ctl_opts o = { .path = sock_path, .cmds = cmds };
	char parent[128];
	struct stat st;
	int fd;

	snprintf(parent, sizeof(parent), "%s/run", dir);
	cr_assert_eq(mkdir(parent, 0755), 0);
	fd = open(sock_path, O_CREAT | O_WRONLY, 0644);
	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_null(ctl_open(epfd, &o));
	cr_assert_eq(errno, EEXIST);
	cr_assert_eq(stat(sock_path, &st), 0);
	cr_assert(S_ISREG(st.st_mode));
}

Test(control, unknown_group_is_enoent)
{
	struct ctl_opts o = { .path = sock_path, .group = "no-such-group-sluice", .cmds = cmds };

	cr_assert_null(ctl_open(epfd, &o));
	cr_assert_eq(errno, ENOENT);
	cr_assert_neq(access(sock_path, F_OK), 0, "socket created despite the error");
}

Test(control, bad_options_are_einval_or_enametoolong)
{
	struct ctl_opts o = { .path = NULL, .cmds = cmds };
	char longpath[200];

	cr_assert_null(ctl_open(epfd, &o));
	cr_assert_eq(errno, EINVAL);
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	o.path = longpath;
	cr_assert_null(ctl_open(epfd, &o));
	cr_assert_eq(errno, ENAMETOOLONG);
}

Test(control, close_disconnects_clients_and_removes_the_socket)
{
	int fd;

	server_start();
	fd = client_connect();
	assert_alive();
	server_stop();
	cr_assert(client_sees_eof(fd));
	close(fd);
	cr_assert_neq(access(sock_path, F_OK), 0);
}

Test(control, close_leaves_a_successors_socket)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	server_start();
	/* Another instance took the path over meanwhile. */
	cr_assert_eq(unlink(sock_path), 0);
	fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	strcpy(sa.sun_path, sock_path);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	server_stop();
	cr_assert_eq(access(sock_path, F_OK), 0, "ctl_close removed a socket it did not make");
	close(fd);
}

/* ---- who may talk ---- */

Test(control, outsider_is_refused_by_the_file_mode)
{
	struct child_result res;
	gid_t none[1];

	server_start();
	as_user(NOBODY, none, 0, "{\"cmd\":\"echo\"}", &res);
	cr_assert_eq(res.connect_err, EACCES, "connect as nobody: %s", strerror(res.connect_err));
	assert_alive();
}

Test(control, outsider_is_refused_by_peer_credentials)
{
	struct child_result res;
	struct json_object *r;
	gid_t none[1];

	server_start();
	/* Someone loosened the file mode: the credential check still holds. */
	cr_assert_eq(chmod(sock_path, 0666), 0);
	as_user(NOBODY, none, 0, "{\"cmd\":\"echo\"}", &res);
	r = child_reply(&res);
	assert_error(r, "permission denied", EACCES);
	json_object_put(r);
	cr_assert(res.eof_after, "connection stayed open after permission denied");
	assert_alive();
}

Test(control, root_only_without_a_group)
{
	struct child_result res;
	struct json_object *r;
	gid_t none[1];
	struct stat st;

	server_start_opts(NULL, 0);
	cr_assert_eq(stat(sock_path, &st), 0);
	cr_assert_eq(st.st_gid, 0);
	cr_assert_eq(chmod(sock_path, 0666), 0);
	/* Even a member of the test group is nobody special now. */
	as_user(test_gid, none, 0, "{\"cmd\":\"echo\"}", &res);
	r = child_reply(&res);
	assert_error(r, "permission denied", EACCES);
	json_object_put(r);
}

Test(control, supplementary_group_member_is_served)
{
	struct child_result res;
	struct json_object *r;
	gid_t groups[1] = { test_gid };

	server_start();
	as_user(NOBODY, groups, 1, "{\"cmd\":\"echo\",\"args\":{\"who\":\"member\"}}", &res);
	r = child_reply(&res);
	assert_ok(r);
	cr_assert_str_eq(json_object_get_string(field(field(r, "data"), "who")), "member");
	json_object_put(r);
}

Test(control, primary_group_member_is_served)
{
	struct child_result res;
	struct json_object *r;
	gid_t none[1];

	server_start();
	as_user(test_gid, none, 0, "{\"cmd\":\"null\"}", &res);
	r = child_reply(&res);
	assert_ok(r);
	json_object_put(r);
}

/* ---- ctl_dispatch alone ---- */

Test(control, dispatch_rejects_what_json_c_would_quietly_accept)
{
	static const struct {
		const char *req;
		size_t len;
		const char *error;
	} cases[] = {
		{ "{\"cmd\":\"echo\"}\0", 15, "malformed request: NUL byte at offset 14" },
		{ "{\"cmd\":\"ec\0ho\"}", 16, "malformed request: NUL byte at offset 10" },
		{ "{\"cmd\":\"echo\"}{}", 16, "malformed request: " },
		{ "null", 4, "request is not a JSON object" },
		{ "", 0, "malformed request: " },
		{ "{\"cmd\":\"\xff\"}", 11, "malformed request: " },
		{ "{\"cmd\":\"echo\",\"args\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
		  0, "malformed request: nesting too deep" },
	};
	struct json_object *r;
	size_t i, len;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		len = cases[i].len ? cases[i].len : strlen(cases[i].req);
		r = ctl_dispatch(cmds, NULL, cases[i].req, len);
		cr_assert_not_null(r);
		assert_error(r, cases[i].error, EINVAL);
		json_object_put(r);
	}
}

Test(control, dispatch_passes_ctx_and_tolerates_trailing_whitespace)
{
	const char *req = "{\"cmd\":\"ctx\"}  \r\n";
	struct json_object *r;
	int calls = 0;

	r = ctl_dispatch(cmds, &calls, req, strlen(req));
	cr_assert_not_null(r);
	assert_ok(r);
	cr_assert_eq(json_object_get_int(field(r, "data")), 1);
	cr_assert_eq(calls, 1);
	json_object_put(r);
}
