/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* sluicectl: the operator's command-line client for sluiced's control socket. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "config.h"
#include "control.h"

/* Exit statuses scripts can rely on (docs/sluicectl.md). */
enum {
	EXIT_DAEMON = 1,	/* sluiced answered with an error, or a wait failed */
	EXIT_USAGE = 2,		/* bad command line */
	EXIT_UNREACHABLE = 3,	/* no usable answer from the socket */
	EXIT_INTERRUPTED = 130,	/* internal: Ctrl-C during a watch or wait */
};

#define REPLY_TIMEOUT_S		60	/* a reload of a big config may take a while */
#define DRAIN_POLL_S		0.5
#define DRAIN_TIMEOUT_S		60.0
#define TBL_MAX_COLS		10
#define CELL_MAX		256

#define JSON_OUT_FLAGS	(JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | \
			 JSON_C_TO_STRING_NOSLASHESCAPE)
#define JSON_LINE_FLAGS	(JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

static const char *sock_path;
static bool json_mode;
static volatile sig_atomic_t interrupted;

struct cmd;
typedef int (*cmd_fn)(const struct cmd *c, int argc, char **argv);

/* One line of the command table, which is also the help text. */
struct cmd {
	const char *obj;	/* first word */
	const char *verb;	/* second word; NULL when the object is the whole command */
	const char *args;	/* argument synopsis */
	const char *help;	/* one line */
	cmd_fn fn;		/* argv[0] is the first argument after the command */
};

/* ---- errors ---- */

static void verror(int code, const char *fmt, va_list ap)
{
	struct json_object *o;
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (!json_mode) {
		fflush(stdout);	/* keep the order when both go to one terminal or file */
		fprintf(stderr, "Error: %s\n", msg);
		return;
	}
	/* In JSON mode a script reads errors where it reads results. */
	o = json_object_new_object();
	json_object_object_add(o, "error", json_object_new_string(msg));
	if (code)
		json_object_object_add(o, "code", json_object_new_int(code));
	puts(json_object_to_json_string_ext(o, JSON_OUT_FLAGS));
	json_object_put(o);
}

/* Report an error; returns @status for the caller to exit with. */
static int __attribute__((format(printf, 2, 3))) fail(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror(0, fmt, ap);
	va_end(ap);
	return status;
}

static int __attribute__((format(printf, 3, 4))) fail_code(int status, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror(code, fmt, ap);
	va_end(ap);
	return status;
}

/* "vip add", "status": how messages name a command. */
static const char *cmd_name(const struct cmd *c)
{
	static char buf[64];

	snprintf(buf, sizeof(buf), "%s%s%s", c->obj, c->verb ? " " : "", c->verb ? c->verb : "");
	return buf;
}

static int arg_missing(const struct cmd *c, const char *what)
{
	char name[64];

	snprintf(name, sizeof(name), "%s", cmd_name(c));
	return fail(EXIT_USAGE, "%s: missing %s (usage: sluicectl %s %s)", name, what, name, c->args);
}

static int arg_extra(const struct cmd *c, const char *arg)
{
	bool global = !strcmp(arg, "-j") || !strcmp(arg, "--json") || !strcmp(arg, "-s") ||
		      !strncmp(arg, "--socket", 8);

	return fail(EXIT_USAGE, "%s: unexpected argument '%s'%s", cmd_name(c), arg,
		    global ? " (global options go before OBJECT)" : "");
}

/* ---- argument checks ---- */

/* Returns true when @s is a decimal integer within 0..@max; *@out gets it. */
static bool parse_uint(const char *s, long max, long *out)
{
	char *end;
	long v;

	if (!*s || *s == '-' || *s == '+')
		return false;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v > max)
		return false;
	*out = v;
	return true;
}

/* Returns true when @s is a positive number of seconds, at most a day. */
static bool parse_seconds(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v > 0) || v > 86400)
		return false;
	*out = v;
	return true;
}

/* Returns true when @s is a literal address of @family (AF_UNSPEC: either). */
static bool is_addr(const char *s, int family)
{
	unsigned char buf[16];

	if (family != AF_INET6 && inet_pton(AF_INET, s, buf) == 1)
		return true;
	return family != AF_INET && inet_pton(AF_INET6, s, buf) == 1;
}

/* Returns true when @a and @b spell the same address ("2001:db8::1" = "2001:DB8:0::1"). */
static bool addr_same(const char *a, const char *b)
{
	unsigned char x[16], y[16];

	if (inet_pton(AF_INET, a, x) == 1)
		return inet_pton(AF_INET, b, y) == 1 && !memcmp(x, y, 4);
	if (inet_pton(AF_INET6, a, x) == 1)
		return inet_pton(AF_INET6, b, y) == 1 && !memcmp(x, y, 16);
	return !strcmp(a, b);
}

/*
 * Match @arg against the long option @name, taking a value as "--name V" or
 * "--name=V". Returns 1 on a match (*@val set when @val is given), 0 when
 * @arg is another option, -1 when the value is missing.
 */
static int opt_match(int argc, char **argv, int *i, const char *name, const char **val)
{
	size_t n = strlen(name);
	const char *arg = argv[*i];

	if (strncmp(arg, name, n) || (arg[n] && arg[n] != '='))
		return 0;
	if (!val)
		return arg[n] ? -1 : 1;
	if (arg[n] == '=') {
		*val = arg + n + 1;
		return 1;
	}
	if (*i + 1 >= argc)
		return -1;
	*val = argv[++*i];
	return 1;
}

/* ---- talking to sluiced ---- */

static const char *connect_hint(int err)
{
	switch (err) {
	case ENOENT:
	case ECONNREFUSED:
		return " (is sluiced running?)";
	case EACCES:
	case EPERM:
		return " (root or the control group may use it)";
	default:
		return "";
	}
}

/*
 * Send @cmd with @args (taken; NULL for none) and wait for the reply.
 * Returns 0 with *@reply set (the caller puts it), or an exit status with
 * @err saying why and *@code the daemon's error code (0 when it gave none).
 */
static int request(const char *cmd, struct json_object *args, struct json_object **reply,
		   char *err, size_t errlen, int *code)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = REPLY_TIMEOUT_S };
	struct json_object *req, *root = NULL, *ok, *v;
	struct json_tokener *tok;
	char *buf = NULL;
	ssize_t len, n;
	const char *out;
	size_t outlen;
	int fd, ret;

	*reply = NULL;
	*code = 0;
	req = json_object_new_object();
	if (!req || json_object_object_add(req, "cmd", json_object_new_string(cmd)) ||
	    (args && json_object_object_add(req, "args", args))) {
		json_object_put(req);
		snprintf(err, errlen, "out of memory");
		return EXIT_DAEMON;
	}
	out = json_object_to_json_string_length(req, JSON_LINE_FLAGS, &outlen);

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create a socket: %s", strerror(errno));
		ret = EXIT_UNREACHABLE;
		goto out_put;
	}
	strcpy(sa.sun_path, sock_path);	/* length checked in main() */
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		if (errno == EINTR && !interrupted)
			continue;
		ret = errno == EINTR ? EXIT_INTERRUPTED : EXIT_UNREACHABLE;
		snprintf(err, errlen, "cannot connect to %s: %s%s", sock_path, strerror(errno),
			 connect_hint(errno));
		goto out_close;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));

	while (send(fd, out, outlen, MSG_NOSIGNAL) < 0) {
		if (errno == EINTR && !interrupted)
			continue;
		ret = errno == EINTR ? EXIT_INTERRUPTED : EXIT_UNREACHABLE;
		snprintf(err, errlen, "cannot send to %s: %s", sock_path, strerror(errno));
		goto out_close;
	}

	/* A reply can be megabytes: ask its size first (MSG_TRUNC), then read it whole. */
	while ((len = recv(fd, NULL, 0, MSG_PEEK | MSG_TRUNC)) < 0) {
		if (errno == EINTR && !interrupted)
			continue;
		ret = errno == EINTR ? EXIT_INTERRUPTED : EXIT_UNREACHABLE;
		if (errno == EAGAIN)
			snprintf(err, errlen, "no reply from sluiced on %s within %d s", sock_path,
				 REPLY_TIMEOUT_S);
		else
			snprintf(err, errlen, "cannot read from %s: %s", sock_path, strerror(errno));
		goto out_close;
	}
	ret = EXIT_UNREACHABLE;
	if (len == 0) {
		snprintf(err, errlen, "sluiced closed the connection on %s without replying", sock_path);
		goto out_close;
	}
	buf = malloc(len);
	if (!buf) {
		snprintf(err, errlen, "out of memory for a %zd-byte reply", len);
		goto out_close;
	}
	n = recv(fd, buf, len, 0);
	if (n != len) {
		snprintf(err, errlen, "cannot read from %s: %s", sock_path,
			 n < 0 ? strerror(errno) : "short reply");
		goto out_close;
	}

	tok = json_tokener_new();
	if (tok) {
		root = json_tokener_parse_ex(tok, buf, (int)len);
		json_tokener_free(tok);
	}
	if (!json_object_is_type(root, json_type_object) ||
	    !json_object_object_get_ex(root, "ok", &ok) ||
	    !json_object_is_type(ok, json_type_boolean)) {
		snprintf(err, errlen, "malformed reply from sluiced on %s", sock_path);
		goto out_close;
	}
	if (!json_object_get_boolean(ok)) {
		snprintf(err, errlen, "%s",
			 json_object_object_get_ex(root, "error", &v) && json_object_is_type(v, json_type_string) ?
			 json_object_get_string(v) : "sluiced reported an error without saying which");
		if (json_object_object_get_ex(root, "code", &v))
			*code = json_object_get_int(v);
		ret = EXIT_DAEMON;
		goto out_close;
	}
	*reply = root;
	root = NULL;
	ret = 0;
out_close:
	close(fd);
out_put:
	free(buf);
	json_object_put(root);
	json_object_put(req);
	return ret;
}

/* As request(), reporting a failure; EXIT_INTERRUPTED is left to the caller. */
static int call(const char *cmd, struct json_object *args, struct json_object **reply)
{
	char err[1024];
	int code, ret;

	ret = request(cmd, args, reply, err, sizeof(err), &code);
	if (ret && ret != EXIT_INTERRUPTED)
		return fail_code(ret, code, "%s", err);
	return ret;
}

/* The reply's "data", borrowed; NULL when absent or null. */
static struct json_object *reply_data(struct json_object *reply)
{
	struct json_object *d = NULL;

	json_object_object_get_ex(reply, "data", &d);
	return d;
}

static void print_json(struct json_object *o)
{
	puts(o ? json_object_to_json_string_ext(o, JSON_OUT_FLAGS) : "null");
}

/* Returns a new object from @key, @value pairs, NULL-terminated; NULL values are left out. */
static struct json_object *args_of(const char *key, ...)
{
	struct json_object *o = json_object_new_object(), *v;
	va_list ap;

	va_start(ap, key);
	for (; key; key = va_arg(ap, const char *)) {
		v = va_arg(ap, struct json_object *);
		if (v)
			json_object_object_add(o, key, v);
	}
	va_end(ap);
	return o;
}

static struct json_object *jstr(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

/* ---- reading reply data ---- */

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (!json_object_is_type(o, json_type_object))
		return NULL;
	json_object_object_get_ex(o, key, &v);
	return v;
}

static const char *get_str(struct json_object *o, const char *key)
{
	struct json_object *v = get(o, key);

	return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static bool get_num(struct json_object *o, const char *key, double *out)
{
	struct json_object *v = get(o, key);

	if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
		return false;
	*out = json_object_get_double(v);
	return true;
}

/* Copy @s into @buf with control characters made visible, so a cell stays one line. */
static const char *cell_copy(const char *s, char *buf, size_t len)
{
	size_t i;

	snprintf(buf, len, "%s", s);
	for (i = 0; buf[i]; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			buf[i] = '?';
	return buf;
}

/* @v as table text: "-" when missing or null. */
static const char *val_of(struct json_object *v, char *buf, size_t len)
{
	switch (json_object_get_type(v)) {
	case json_type_null:
		return "-";
	case json_type_boolean:
		return json_object_get_boolean(v) ? "yes" : "no";
	case json_type_int:
		snprintf(buf, len, "%" PRId64, json_object_get_int64(v));
		return buf;
	case json_type_double:
		snprintf(buf, len, "%g", json_object_get_double(v));
		return buf;
	case json_type_string:
		/* An empty cell would shift the columns after it. */
		if (!json_object_get_string_len(v))
			return "-";
		return cell_copy(json_object_get_string(v), buf, len);
	default:
		return cell_copy(json_object_to_json_string_ext(v, JSON_LINE_FLAGS), buf, len);
	}
}

static const char *val(struct json_object *o, const char *key, char *buf, size_t len)
{
	return val_of(get(o, key), buf, len);
}

/* Seconds as "3d 4h 5m 6s", leading zero units left out. */
static const char *fmt_duration(struct json_object *o, const char *key, char *buf, size_t len)
{
	uint64_t s, d, h, m;
	double v;

	if (!get_num(o, key, &v) || v < 0)
		return val(o, key, buf, len);
	s = (uint64_t)v;
	d = s / 86400;
	h = s / 3600 % 24;
	m = s / 60 % 60;
	s %= 60;
	if (d)
		snprintf(buf, len, "%" PRIu64 "d %" PRIu64 "h %" PRIu64 "m %" PRIu64 "s", d, h, m, s);
	else if (h)
		snprintf(buf, len, "%" PRIu64 "h %" PRIu64 "m %" PRIu64 "s", h, m, s);
	else if (m)
		snprintf(buf, len, "%" PRIu64 "m %" PRIu64 "s", m, s);
	else
		snprintf(buf, len, "%" PRIu64 "s", s);
	return buf;
}

/* Unix seconds as local ISO 8601 (one word, for tables); 0 means never. */
static const char *fmt_time(struct json_object *o, const char *key, char *buf, size_t len)
{
	struct tm tm;
	time_t t;
	double v;

	if (!get_num(o, key, &v))
		return val(o, key, buf, len);
	t = (time_t)v;
	if (v <= 0 || !localtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm))
		return "-";
	return buf;
}

static const char *fmt_ms(struct json_object *o, const char *key, char *buf, size_t len)
{
	double v;

	if (!get_num(o, key, &v))
		return val(o, key, buf, len);
	snprintf(buf, len, "%.1fms", v);
	return buf;
}

/* A port; 0 is the whole address. */
static const char *fmt_port(struct json_object *o, const char *key, char *buf, size_t len)
{
	double v;

	if (get_num(o, key, &v) && v == 0)
		return "*";
	return val(o, key, buf, len);
}

/* A rate with an SI suffix: 950, 12.3k, 4.56M. */
static const char *fmt_rate(double v, char *buf, size_t len)
{
	static const char units[] = " kMGTP";
	int u = 0;

	if (v < 0)
		return "-";
	if (v < 10) {
		snprintf(buf, len, "%.1f", v);
		return buf;
	}
	while (v >= 1000 && u < 5) {
		v /= 1000;
		u++;
	}
	if (!u)
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, v < 10 ? "%.2f%c" : v < 100 ? "%.1f%c" : "%.0f%c", v, units[u]);
	return buf;
}

/* ---- text tables ---- */

struct table {
	int ncols;
	const char *head[TBL_MAX_COLS];
	bool right[TBL_MAX_COLS];	/* numbers line up on the right */
	char **cells;			/* nrows * ncols, owned */
	int nrows, cap;
};

static void tbl_col(struct table *t, const char *head, bool right)
{
	t->head[t->ncols] = head;
	t->right[t->ncols++] = right;
}

/* Add a row of the t->ncols strings @cells (copied). */
static void tbl_add(struct table *t, const char *const *cells)
{
	if (t->nrows == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 16;
		t->cells = realloc(t->cells, sizeof(char *) * t->cap * t->ncols);
		if (!t->cells) {
			perror("sluicectl");
			exit(EXIT_DAEMON);
		}
	}
	for (int i = 0; i < t->ncols; i++)
		t->cells[t->nrows * t->ncols + i] = strdup(cells[i] ? cells[i] : "-");
	t->nrows++;
}

/* Add a row of t->ncols strings (copied). */
static void tbl_row(struct table *t, ...)
{
	const char *cells[TBL_MAX_COLS];
	va_list ap;

	va_start(ap, t);
	for (int i = 0; i < t->ncols; i++)
		cells[i] = va_arg(ap, const char *);
	va_end(ap);
	tbl_add(t, cells);
}

/* Print with aligned columns, then free the rows. */
static void tbl_print(struct table *t)
{
	int w[TBL_MAX_COLS], r, i, len;
	const char *s;

	for (i = 0; i < t->ncols; i++) {
		w[i] = strlen(t->head[i]);
		for (r = 0; r < t->nrows; r++) {
			s = t->cells[r * t->ncols + i];
			len = s ? (int)strlen(s) : 1;
			if (len > w[i])
				w[i] = len;
		}
	}
	for (r = -1; r < t->nrows; r++) {
		for (i = 0; i < t->ncols; i++) {
			s = r < 0 ? t->head[i] : t->cells[r * t->ncols + i];
			if (!s)
				s = "-";
			if (t->right[i])
				printf("%*s", w[i], s);
			else if (i == t->ncols - 1)
				fputs(s, stdout);	/* no trailing blanks */
			else
				printf("%-*s", w[i], s);
			if (i < t->ncols - 1)
				fputs("  ", stdout);
		}
		putchar('\n');
	}
	for (r = 0; r < t->nrows * t->ncols; r++)
		free(t->cells[r]);
	free(t->cells);
	t->cells = NULL;
	t->nrows = t->cap = 0;
}

/* One column of a table of reply objects: its heading and how to show @key. */
struct col {
	const char *head;
	const char *key;
	const char *(*fmt)(struct json_object *o, const char *key, char *buf, size_t len);
	bool right;		/* numbers line up on the right */
};

/* Print the objects of array @arr as a table of the @ncols columns @cols. */
static void tbl_objects(struct json_object *arr, const struct col *cols, int ncols)
{
	char b[TBL_MAX_COLS][CELL_MAX];
	const char *cells[TBL_MAX_COLS];
	struct table t = {};

	for (int i = 0; i < ncols; i++)
		tbl_col(&t, cols[i].head, cols[i].right);
	for (size_t k = 0; k < json_object_array_length(arr); k++) {
		struct json_object *o = json_object_array_get_idx(arr, k);

		for (int i = 0; i < ncols; i++)
			cells[i] = (cols[i].fmt ? cols[i].fmt : val)(o, cols[i].key, b[i], CELL_MAX);
		tbl_add(&t, cells);
	}
	tbl_print(&t);
}

/* "label:  value" lines, aligned by the caller's label width. */
static void kv(const char *label, const char *value)
{
	printf("%-10s %s\n", label, value);
}

/* ---- renderers: one per reply shape (docs/PROTOCOL.md) ---- */

/* A program id; 0 is none. */
static const char *fmt_id(struct json_object *o, const char *key, char *buf, size_t len)
{
	double v;

	if (get_num(o, key, &v) && v == 0)
		return "-";
	return val(o, key, buf, len);
}

static void render_status(struct json_object *d)
{
	static const struct col if_cols[] = {
		{ "INTERFACE", "name" }, { "IFINDEX", "ifindex", NULL, true }, { "MODE", "mode" },
		{ "ATTACHED", "attached" }, { "PROG_ID", "prog_id", fmt_id, true },
		{ "ERROR", "error" },	/* only when an interface has one */
	};
	struct json_object *ifs = get(d, "interfaces");
	char b[2][CELL_MAX], cfg[2 * CELL_MAX + 96];
	const char *cerr = get_str(d, "config_error");
	bool errors = false;
	double n;
	size_t k;

	kv("version:", val(d, "version", b[0], CELL_MAX));
	kv("pid:", val(d, "pid", b[0], CELL_MAX));
	kv("uptime:", fmt_duration(d, "uptime", b[0], CELL_MAX));
	if (cerr)
		snprintf(cfg, sizeof(cfg), "%s (the file does not load now: %s)",
			 val(d, "config", b[0], CELL_MAX), cell_copy(cerr, b[1], CELL_MAX));
	else
		snprintf(cfg, sizeof(cfg), "%s%s", val(d, "config", b[0], CELL_MAX),
			 json_object_get_boolean(get(d, "config_differs")) ?
			 " (the file differs from the running state; 'sluicectl reload' applies it)" : "");
	kv("config:", cfg);
	kv("vips:", val(d, "vips", b[0], CELL_MAX));
	kv("backends:", val(d, "backends", b[0], CELL_MAX));
	kv("flows:", val(d, "flows", b[0], CELL_MAX));
	/* Worth a line only when something is wrong. */
	if (get_num(d, "unresolved_nexthops", &n) && n > 0) {
		snprintf(cfg, sizeof(cfg), "%.0f unresolved (MAC from the kernel FIB meanwhile)", n);
		kv("nexthops:", cfg);
	}
	if (!json_object_is_type(ifs, json_type_array))
		return;
	for (k = 0; k < json_object_array_length(ifs); k++)
		errors |= get_str(json_object_array_get_idx(ifs, k), "error") != NULL;
	putchar('\n');
	tbl_objects(ifs, if_cols, errors ? 6 : 5);
}

static void render_vip_list(struct json_object *d)
{
	static const struct col cols[] = {
		{ "NAME", "name" }, { "ADDRESS", "address" }, { "PORT", "port", fmt_port, true },
		{ "PROTO", "protocol" }, { "HASH", "hash" }, { "BACKENDS", "backends", NULL, true },
		{ "UP", "up", NULL, true },
	};

	tbl_objects(d, cols, 7);
}

/* backend list's columns; vip show leaves out the first. */
static const struct col backend_cols[] = {
	{ "VIP", "vip" }, { "ADDRESS", "address" }, { "WEIGHT", "weight", NULL, true },
	{ "STATE", "state" }, { "FLOWS", "flows", NULL, true }, { "ID", "id", NULL, true },
};

static void render_backend_list(struct json_object *d)
{
	tbl_objects(d, backend_cols, 6);
}

static void render_vip_show(struct json_object *d)
{
	struct json_object *bes = get(d, "backends");
	char b[CELL_MAX];

	kv("name:", val(d, "name", b, sizeof(b)));
	kv("address:", val(d, "address", b, sizeof(b)));
	kv("port:", fmt_port(d, "port", b, sizeof(b)));
	kv("protocol:", val(d, "protocol", b, sizeof(b)));
	kv("hash:", val(d, "hash", b, sizeof(b)));
	kv("all-down:", val(d, "all_down", b, sizeof(b)));
	kv("source4:", val(d, "source_ipv4", b, sizeof(b)));
	kv("source6:", val(d, "source_ipv6", b, sizeof(b)));
	kv("id:", val(d, "id", b, sizeof(b)));
	if (!json_object_is_type(bes, json_type_array))
		return;
	putchar('\n');
	tbl_objects(bes, backend_cols + 1, 5);
}

static void render_health(struct json_object *d)
{
	static const struct col cols[] = {
		{ "VIP", "vip" }, { "ADDRESS", "address" }, { "STATE", "state" },
		{ "LAST", "last_result" }, { "LATENCY", "latency_ms", fmt_ms, true },
		{ "CHANGED", "changed_at", fmt_time }, { "CHECKS", "checks", NULL, true },
		{ "FAILURES", "failures", NULL, true },
		{ "REASON", "reason" },	/* free text, so last */
	};

	tbl_objects(d, cols, 9);
}

static void render_stats(struct json_object *d)
{
	struct json_object *vips = get(d, "vips"), *reasons = get(d, "reasons"), *v, *be, *bes;
	char b[4][CELL_MAX], name[CELL_MAX + 2];
	struct table t = {};
	size_t k, j;

	tbl_col(&t, "VIP/BACKEND", false);
	tbl_col(&t, "PACKETS", true);
	tbl_col(&t, "BYTES", true);
	tbl_col(&t, "NEW_FLOWS", true);
	for (k = 0; k < json_object_array_length(vips); k++) {
		v = json_object_array_get_idx(vips, k);
		tbl_row(&t, val(v, "name", b[0], CELL_MAX), val(v, "packets", b[1], CELL_MAX),
			val(v, "bytes", b[2], CELL_MAX), val(v, "new_flows", b[3], CELL_MAX));
		bes = get(v, "backends");
		for (j = 0; j < json_object_array_length(bes); j++) {
			be = json_object_array_get_idx(bes, j);
			snprintf(name, sizeof(name), "  %s", val(be, "address", b[0], CELL_MAX));
			tbl_row(&t, name, val(be, "packets", b[1], CELL_MAX),
				val(be, "bytes", b[2], CELL_MAX), val(be, "new_flows", b[3], CELL_MAX));
		}
	}
	tbl_print(&t);
	if (!json_object_is_type(reasons, json_type_object))
		return;
	putchar('\n');
	t = (struct table){};
	tbl_col(&t, "REASON", false);
	tbl_col(&t, "PACKETS", true);
	{
		json_object_object_foreach(reasons, key, cnt)
			tbl_row(&t, cell_copy(key, b[0], CELL_MAX), val_of(cnt, b[1], CELL_MAX));
	}
	tbl_print(&t);
}

/* ---- commands ---- */

/*
 * Send @req with @args, then print its data: as JSON with -j, else through
 * @render when the data has the shape it expects (@type), else as JSON.
 */
static int run(const char *req, struct json_object *args, json_type type,
	       void (*render)(struct json_object *))
{
	struct json_object *reply, *d;
	int ret;

	ret = call(req, args, &reply);
	if (ret)
		return ret;
	d = reply_data(reply);
	if (json_mode)
		print_json(d);
	else if (render && json_object_is_type(d, type))
		render(d);
	else if (render && d)
		print_json(d);	/* a shape this sluicectl does not know: show it all */
	json_object_put(reply);
	return 0;
}

/* Fail on arguments beyond the @n a command takes. */
static int no_more(const struct cmd *c, int argc, char **argv, int n)
{
	return argc > n ? arg_extra(c, argv[n]) : 0;
}

static int do_status(const struct cmd *c, int argc, char **argv)
{
	return no_more(c, argc, argv, 0) ?: run("status", NULL, json_type_object, render_status);
}

static int do_version(const struct cmd *c, int argc, char **argv)
{
	struct json_object *reply = NULL, *o;
	const char *dv = NULL;
	char err[1024];
	int code, ret;

	ret = no_more(c, argc, argv, 0);
	if (ret)
		return ret;
	ret = request("version", NULL, &reply, err, sizeof(err), &code);
	if (!ret)
		dv = get_str(reply_data(reply), "version");
	if (json_mode) {
		o = json_object_new_object();
		json_object_object_add(o, "sluicectl", json_object_new_string(SLUICE_VERSION));
		json_object_object_add(o, "sluiced", jstr(dv));
		if (ret)
			json_object_object_add(o, "sluiced_error", json_object_new_string(err));
		print_json(o);
		json_object_put(o);
	} else {
		printf("sluicectl %s\n", SLUICE_VERSION);
		fflush(stdout);
		if (!ret)
			printf("sluiced %s\n", dv ? dv : "-");
		else
			fprintf(stderr, "sluiced: %s\n", err);
	}
	json_object_put(reply);
	/* The daemon's version is a bonus: only an error it answered with fails. */
	return ret == EXIT_DAEMON ? EXIT_DAEMON : 0;
}

static int do_vip_list(const struct cmd *c, int argc, char **argv)
{
	return no_more(c, argc, argv, 0) ?: run("vip.list", NULL, json_type_array, render_vip_list);
}

static int do_vip_show(const struct cmd *c, int argc, char **argv)
{
	if (argc < 1)
		return arg_missing(c, "NAME");
	return no_more(c, argc, argv, 1) ?:
	       run("vip.show", args_of("name", jstr(argv[0]), NULL), json_type_object,
		   render_vip_show);
}

static int do_vip_add(const struct cmd *c, int argc, char **argv)
{
	const char *hash = NULL, *src4 = NULL, *src6 = NULL, *all_down = NULL, *k, *v;
	static const char *const what[] = { "NAME", "ADDRESS", "PORT", "PROTO" };
	struct json_object *args;
	long port;
	int i;

	if (argc < 4)
		return arg_missing(c, what[argc]);
	if (!is_addr(argv[1], AF_UNSPEC))
		return fail(EXIT_USAGE, "vip add: '%s' is not an IPv4 or IPv6 address", argv[1]);
	if (!parse_uint(argv[2], 65535, &port))
		return fail(EXIT_USAGE, "vip add: invalid port '%s' (0..65535, 0 = every port)", argv[2]);
	if (strcmp(argv[3], "tcp") && strcmp(argv[3], "udp"))
		return fail(EXIT_USAGE, "vip add: invalid protocol '%s' (tcp or udp)", argv[3]);

	for (i = 4; i < argc; i += 2) {
		k = argv[i];
		v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(k, "hash") && strcmp(k, "source4") && strcmp(k, "source6") &&
		    strcmp(k, "all-down"))
			return fail(EXIT_USAGE, "vip add: unexpected argument '%s' "
				    "(expected hash, source4, source6 or all-down)", k);
		if (!v)
			return fail(EXIT_USAGE, "vip add: %s needs a value", k);
		if (!strcmp(k, "hash")) {
			if (strcmp(v, "5tuple") && strcmp(v, "source"))
				return fail(EXIT_USAGE, "vip add: invalid hash '%s' (5tuple or source)", v);
			hash = v;
		} else if (!strcmp(k, "source4")) {
			if (!is_addr(v, AF_INET))
				return fail(EXIT_USAGE, "vip add: source4 '%s' is not an IPv4 address", v);
			src4 = v;
		} else if (!strcmp(k, "source6")) {
			if (!is_addr(v, AF_INET6))
				return fail(EXIT_USAGE, "vip add: source6 '%s' is not an IPv6 address", v);
			src6 = v;
		} else {
			if (strcmp(v, "drop") && strcmp(v, "all"))
				return fail(EXIT_USAGE, "vip add: invalid all-down '%s' (drop or all)", v);
			all_down = v;
		}
	}
	/* Settings left out stay out, so the daemon's defaults apply. */
	args = args_of("name", jstr(argv[0]), "address", jstr(argv[1]),
		       "port", json_object_new_int(port), "protocol", jstr(argv[3]),
		       "hash", jstr(hash), "source_ipv4", jstr(src4), "source_ipv6", jstr(src6),
		       "all_down", jstr(all_down), NULL);
	return run("vip.add", args, json_type_null, NULL);
}

static int do_vip_del(const struct cmd *c, int argc, char **argv)
{
	if (argc < 1)
		return arg_missing(c, "NAME");
	return no_more(c, argc, argv, 1) ?:
	       run("vip.del", args_of("name", jstr(argv[0]), NULL), json_type_null, NULL);
}

static int do_backend_list(const struct cmd *c, int argc, char **argv)
{
	return no_more(c, argc, argv, 1) ?:
	       run("backend.list", args_of("vip", jstr(argc ? argv[0] : NULL), NULL),
		   json_type_array, render_backend_list);
}

/* Checks VIP ADDRESS, the first two arguments of most backend commands. */
static int vip_address(const struct cmd *c, int argc, char **argv)
{
	if (argc < 1)
		return arg_missing(c, "VIP");
	if (argc < 2)
		return arg_missing(c, "ADDRESS");
	if (!is_addr(argv[1], AF_UNSPEC))
		return fail(EXIT_USAGE, "%s: '%s' is not an IPv4 or IPv6 address", cmd_name(c), argv[1]);
	return 0;
}

static int parse_weight(const struct cmd *c, const char *s, long *w)
{
	if (!parse_uint(s, 65535, w))
		return fail(EXIT_USAGE, "%s: invalid weight '%s' (0..65535)", cmd_name(c), s);
	return 0;
}

static int do_backend_add(const struct cmd *c, int argc, char **argv)
{
	struct json_object *weight = NULL;
	long w;
	int ret;

	ret = vip_address(c, argc, argv);
	if (ret)
		return ret;
	if (argc > 2) {
		if (strcmp(argv[2], "weight"))
			return arg_extra(c, argv[2]);
		if (argc < 4)
			return fail(EXIT_USAGE, "backend add: weight needs a value");
		ret = parse_weight(c, argv[3], &w) ?: no_more(c, argc, argv, 4);
		if (ret)
			return ret;
		weight = json_object_new_int(w);
	}
	return run("backend.add", args_of("vip", jstr(argv[0]), "address", jstr(argv[1]),
					  "weight", weight, NULL), json_type_null, NULL);
}

static int do_backend_del(const struct cmd *c, int argc, char **argv)
{
	return vip_address(c, argc, argv) ?: no_more(c, argc, argv, 2) ?:
	       run("backend.del", args_of("vip", jstr(argv[0]), "address", jstr(argv[1]), NULL),
		   json_type_null, NULL);
}

static int do_backend_weight(const struct cmd *c, int argc, char **argv)
{
	long w;
	int ret;

	ret = vip_address(c, argc, argv);
	if (ret)
		return ret;
	if (argc < 3)
		return arg_missing(c, "W");
	ret = parse_weight(c, argv[2], &w) ?: no_more(c, argc, argv, 3);
	if (ret)
		return ret;
	return run("backend.weight", args_of("vip", jstr(argv[0]), "address", jstr(argv[1]),
					     "weight", json_object_new_int(w), NULL),
		   json_type_null, NULL);
}

static void on_signal(int sig)
{
	interrupted = 1;
}

/* Ctrl-C ends a watch or a wait cleanly: no SA_RESTART, so blocking calls return EINTR. */
static void catch_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Sleep @s seconds. Returns false when interrupted. */
static bool sleep_s(double s)
{
	struct timespec ts = { .tv_sec = (time_t)s, .tv_nsec = (long)((s - (time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts)) {
		if (errno != EINTR || interrupted)
			return false;
	}
	return !interrupted;
}

/* The entry for @address in a backend.list reply, or NULL. */
static struct json_object *backend_find(struct json_object *list, const char *address)
{
	struct json_object *be;
	const char *a;
	size_t k;

	for (k = 0; k < json_object_array_length(list); k++) {
		be = json_object_array_get_idx(list, k);
		a = get_str(be, "address");
		if (a && addr_same(a, address))
			return be;
	}
	return NULL;
}

static int do_backend_drain(const struct cmd *c, int argc, char **argv)
{
	struct json_object *args, *reply, *be = NULL;
	double timeout = DRAIN_TIMEOUT_S, deadline, flows = -1;
	const char *v, *vip = argv[0], *addr = argv[1];
	bool wait = false;
	int i, m, ret;

	ret = vip_address(c, argc, argv);
	if (ret)
		return ret;
	for (i = 2; i < argc; i++) {
		if ((m = opt_match(argc, argv, &i, "--wait", NULL))) {
			if (m < 0)
				return fail(EXIT_USAGE, "backend drain: --wait takes no value");
			wait = true;
		} else if ((m = opt_match(argc, argv, &i, "--timeout", &v))) {
			if (m < 0)
				return fail(EXIT_USAGE, "backend drain: --timeout needs a value in seconds");
			if (!parse_seconds(v, &timeout))
				return fail(EXIT_USAGE, "backend drain: invalid timeout '%s' (seconds, > 0)", v);
			wait = true;	/* a timeout only means something for a wait */
		} else {
			return arg_extra(c, argv[i]);
		}
	}

	args = args_of("vip", jstr(vip), "address", jstr(addr), NULL);
	if (!wait)
		return run("backend.drain", args, json_type_null, NULL);
	ret = call("backend.drain", args, &reply);
	if (ret)
		return ret;
	json_object_put(reply);

	catch_signals();
	deadline = now_s() + timeout;
	for (;;) {
		ret = call("backend.list", args_of("vip", jstr(vip), NULL), &reply);
		if (ret == EXIT_INTERRUPTED)
			break;
		if (ret)
			return ret;
		be = backend_find(reply_data(reply), addr);
		/* Gone (deleted meanwhile) has no flows left either. */
		if (!be || (get_num(be, "flows", &flows) && flows == 0)) {
			if (json_mode)
				print_json(be);
			json_object_put(reply);
			return 0;
		}
		json_object_put(reply);
		if (flows < 0)
			return fail(EXIT_DAEMON,
				    "backend drain: sluiced does not report flows for %s in %s, cannot wait",
				    addr, vip);
		if (now_s() >= deadline)
			return fail(EXIT_DAEMON, "backend %s of %s still has %.0f flows after %g s",
				    addr, vip, flows, timeout);
		if (!sleep_s(DRAIN_POLL_S))
			break;
	}
	return fail(EXIT_DAEMON, "interrupted: backend %s of %s is draining, not yet drained", addr, vip);
}

/* Per-second rate of @key between @prev and @cur; -1 when either lacks it. */
static double rate(struct json_object *prev, struct json_object *cur, const char *key, double dt)
{
	double a, b;

	if (!get_num(prev, key, &a) || !get_num(cur, key, &b))
		return -1;
	/* A counter that went down was reset (daemon restart): count from zero. */
	return (b >= a ? b - a : b) / dt;
}

/* A rate for JSON output: null when unknown, else to a thousandth, not to 17 digits. */
static struct json_object *rate_json(double r)
{
	char buf[64];

	if (r < 0)
		return NULL;
	snprintf(buf, sizeof(buf), "%.3f", r);
	return json_object_new_double_s(r, buf);
}

/* The element of array @arr whose @key is the string @want, or NULL. */
static struct json_object *find_by(struct json_object *arr, const char *key, const char *want)
{
	struct json_object *e;
	const char *s;
	size_t k;

	for (k = 0; want && k < json_object_array_length(arr); k++) {
		e = json_object_array_get_idx(arr, k);
		s = get_str(e, key);
		if (s && !strcmp(s, want))
			return e;
	}
	return NULL;
}

/* One watch sample: rates between two stats replies @dt seconds apart. */
static void print_rates(struct json_object *prev, struct json_object *cur, double dt)
{
	struct json_object *pv, *cv, *pb, *cb, *pr, *cr, *out = NULL, *ovips = NULL, *o, *obes = NULL;
	char b[4][CELL_MAX], name[CELL_MAX + 2], when[32];
	double r[3];
	struct table t = {};
	struct timeval tv;
	struct tm tm;
	size_t k, j;

	gettimeofday(&tv, NULL);
	if (json_mode) {
		out = json_object_new_object();
		json_object_object_add(out, "time", rate_json(tv.tv_sec + tv.tv_usec / 1e6));
		json_object_object_add(out, "interval", rate_json(dt));
		ovips = json_object_new_array();
	} else {
		localtime_r(&tv.tv_sec, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		printf("%s (%.2f s)\n", when, dt);
		tbl_col(&t, "VIP/BACKEND", false);
		tbl_col(&t, "PKT/S", true);
		tbl_col(&t, "BYTES/S", true);
		tbl_col(&t, "NEW_FLOWS/S", true);
	}

	cv = get(cur, "vips");
	for (k = 0; k < json_object_array_length(cv); k++) {
		struct json_object *c = json_object_array_get_idx(cv, k);
		const char *vname = get_str(c, "name");

		pv = find_by(get(prev, "vips"), "name", vname);
		r[0] = rate(pv, c, "packets", dt);
		r[1] = rate(pv, c, "bytes", dt);
		r[2] = rate(pv, c, "new_flows", dt);
		if (json_mode) {
			o = args_of("name", jstr(vname), "packets", rate_json(r[0]),
				    "bytes", rate_json(r[1]), "new_flows", rate_json(r[2]), NULL);
			obes = json_object_new_array();
			json_object_object_add(o, "backends", obes);
			json_object_array_add(ovips, o);
		} else {
			tbl_row(&t, cell_copy(vname ? vname : "-", b[0], CELL_MAX),
				fmt_rate(r[0], b[1], CELL_MAX), fmt_rate(r[1], b[2], CELL_MAX),
				fmt_rate(r[2], b[3], CELL_MAX));
		}
		cb = get(c, "backends");
		for (j = 0; j < json_object_array_length(cb); j++) {
			struct json_object *be = json_object_array_get_idx(cb, j);
			const char *addr = get_str(be, "address");

			pb = find_by(get(pv, "backends"), "address", addr);
			r[0] = rate(pb, be, "packets", dt);
			r[1] = rate(pb, be, "bytes", dt);
			r[2] = rate(pb, be, "new_flows", dt);
			if (json_mode) {
				json_object_array_add(obes, args_of("address", jstr(addr),
					"packets", rate_json(r[0]), "bytes", rate_json(r[1]),
					"new_flows", rate_json(r[2]), NULL));
			} else {
				snprintf(name, sizeof(name), "  %s",
					 cell_copy(addr ? addr : "-", b[0], CELL_MAX));
				tbl_row(&t, name, fmt_rate(r[0], b[1], CELL_MAX),
					fmt_rate(r[1], b[2], CELL_MAX), fmt_rate(r[2], b[3], CELL_MAX));
			}
		}
	}

	pr = get(prev, "reasons");
	cr = get(cur, "reasons");
	if (json_mode) {
		json_object_object_add(out, "vips", ovips);
		o = json_object_new_object();
		if (json_object_is_type(cr, json_type_object)) {
			json_object_object_foreach(cr, key, cnt) {
				(void)cnt;
				json_object_object_add(o, key, rate_json(rate(pr, cr, key, dt)));
			}
		}
		json_object_object_add(out, "reasons", o);
		/* One object a line, so a watch can be read as it runs. */
		puts(json_object_to_json_string_ext(out, JSON_LINE_FLAGS));
		json_object_put(out);
		return;
	}
	tbl_print(&t);
	if (json_object_is_type(cr, json_type_object)) {
		t = (struct table){};
		tbl_col(&t, "REASON", false);
		tbl_col(&t, "PKT/S", true);
		{
			/* Only what is happening: most reasons are idle most of the time. */
			json_object_object_foreach(cr, key, cnt) {
				double rr = rate(pr, cr, key, dt);

				(void)cnt;
				if (rr != 0)
					tbl_row(&t, cell_copy(key, b[0], CELL_MAX),
						fmt_rate(rr, b[1], CELL_MAX));
			}
		}
		if (t.nrows) {
			putchar('\n');
			tbl_print(&t);
		}
	}
	putchar('\n');
}

static int do_stats(const struct cmd *c, int argc, char **argv)
{
	struct json_object *prev = NULL, *cur = NULL;
	double interval = 1, t0, t1;
	bool watch = false;
	long count = 0;
	const char *v;
	int i, m, n, ret;

	for (i = 0; i < argc; i++) {
		if ((m = opt_match(argc, argv, &i, "--watch", NULL))) {
			if (m < 0)
				return fail(EXIT_USAGE, "stats: --watch takes no value");
			watch = true;
		} else if ((m = opt_match(argc, argv, &i, "--interval", &v))) {
			if (m < 0)
				return fail(EXIT_USAGE, "stats: --interval needs a value in seconds");
			if (!parse_seconds(v, &interval))
				return fail(EXIT_USAGE, "stats: invalid interval '%s' (seconds, > 0)", v);
			watch = true;
		} else if ((m = opt_match(argc, argv, &i, "--count", &v))) {
			if (m < 0)
				return fail(EXIT_USAGE, "stats: --count needs a number");
			if (!parse_uint(v, 1000000000, &count) || !count)
				return fail(EXIT_USAGE, "stats: invalid count '%s' (a positive number)", v);
			watch = true;
		} else {
			return arg_extra(c, argv[i]);
		}
	}
	if (!watch)
		return run("stats", NULL, json_type_object, render_stats);

	catch_signals();
	ret = call("stats", NULL, &prev);
	if (ret)
		return ret == EXIT_INTERRUPTED ? 0 : ret;
	t0 = now_s();
	for (n = 0; !count || n < count; n++) {
		if (!sleep_s(interval))
			break;
		ret = call("stats", NULL, &cur);
		if (ret == EXIT_INTERRUPTED)
			break;
		if (ret) {
			json_object_put(prev);
			return ret;
		}
		t1 = now_s();
		print_rates(reply_data(prev), reply_data(cur), t1 - t0);
		fflush(stdout);
		json_object_put(prev);
		prev = cur;
		t0 = t1;
	}
	json_object_put(prev);
	return 0;
}

static int do_health(const struct cmd *c, int argc, char **argv)
{
	return no_more(c, argc, argv, 0) ?: run("health", NULL, json_type_array, render_health);
}

static int do_reload(const struct cmd *c, int argc, char **argv)
{
	return no_more(c, argc, argv, 0) ?: run("reload", NULL, json_type_null, NULL);
}

static int do_config_check(const struct cmd *c, int argc, char **argv)
{
	struct sl_config cfg;
	struct json_object *o;
	char err[1024];
	int ret;

	if (argc < 1)
		return arg_missing(c, "FILE");
	ret = no_more(c, argc, argv, 1);
	if (ret)
		return ret;
	memset(&cfg, 0, sizeof(cfg));
	if (cfg_load(argv[0], &cfg, err, sizeof(err))) {
		if (json_mode)
			return fail(EXIT_DAEMON, "%s", err);
		/* Already "FILE:LINE: message", the form editors jump to. */
		fprintf(stderr, "%s\n", err);
		return EXIT_DAEMON;
	}
	cfg_free(&cfg);
	if (json_mode) {
		o = args_of("file", jstr(argv[0]), "ok", json_object_new_boolean(1), NULL);
		print_json(o);
		json_object_put(o);
	} else {
		printf("%s: ok\n", argv[0]);
	}
	return 0;
}

static int do_config_dump(const struct cmd *c, int argc, char **argv)
{
	struct json_object *reply;
	const char *text;
	int ret;

	ret = no_more(c, argc, argv, 0) ?: call("config.dump", NULL, &reply);
	if (ret)
		return ret;
	if (json_mode) {
		print_json(reply_data(reply));
	} else {
		text = get_str(reply_data(reply), "text");
		if (!text) {
			json_object_put(reply);
			return fail(EXIT_DAEMON, "sluiced sent no configuration text");
		}
		fputs(text, stdout);
	}
	json_object_put(reply);
	return 0;
}

static int do_teardown(const struct cmd *c, int argc, char **argv)
{
	return no_more(c, argc, argv, 0) ?: run("teardown", NULL, json_type_null, NULL);
}

static int do_help(const struct cmd *c, int argc, char **argv);

static const struct cmd cmds[] = {
	{ "status", NULL, "", "daemon, interfaces and counts", do_status },
	{ "version", NULL, "", "versions of sluicectl and sluiced", do_version },
	{ "vip", "list", "", "list VIPs", do_vip_list },
	{ "vip", "show", "NAME", "one VIP and its backends", do_vip_show },
	{ "vip", "add", "NAME ADDRESS PORT PROTO [hash 5tuple|source] [source4 ADDR] "
			"[source6 ADDR] [all-down drop|all]",
	  "add a VIP; PORT 0 means every port", do_vip_add },
	{ "vip", "del", "NAME", "delete a VIP", do_vip_del },
	{ "backend", "list", "[VIP]", "list backends, of one VIP or all", do_backend_list },
	{ "backend", "add", "VIP ADDRESS [weight W]", "add a backend (W 0..65535)", do_backend_add },
	{ "backend", "del", "VIP ADDRESS", "delete a backend", do_backend_del },
	{ "backend", "weight", "VIP ADDRESS W", "change a backend's weight", do_backend_weight },
	{ "backend", "drain", "VIP ADDRESS [--wait] [--timeout S]",
	  "no new flows; --wait for old ones to end", do_backend_drain },
	{ "stats", NULL, "[--watch [--interval S] [--count N]]",
	  "counters; --watch: rates every S seconds", do_stats },
	{ "health", NULL, "", "health-check state of every backend", do_health },
	{ "reload", NULL, "", "re-read the configuration file and apply it", do_reload },
	{ "config", "check", "FILE", "validate a configuration file (locally)", do_config_check },
	{ "config", "dump", "", "print the running configuration", do_config_dump },
	{ "teardown", NULL, "", "remove the data plane and stop sluiced", do_teardown },
	{ "help", NULL, "", "this help", do_help },
	{}
};

/* ---- help, generated from the table ---- */

#define HELP_COL	36	/* where the one-line descriptions start */
#define HELP_WRAP	78	/* longest help line */

/* Print the commands of @obj (NULL: all). */
static void print_commands(FILE *f, const char *obj)
{
	const struct cmd *c;
	char syn[256], *p, *brk;
	int indent;

	for (c = cmds; c->obj; c++) {
		if (obj && strcmp(obj, c->obj))
			continue;
		snprintf(syn, sizeof(syn), "%s%s%s%s%s", c->obj, c->verb ? " " : "",
			 c->verb ? c->verb : "", c->args[0] ? " " : "", c->args);
		if (strlen(syn) + 2 < HELP_COL) {
			fprintf(f, "  %-*s%s\n", HELP_COL - 2, syn, c->help);
			continue;
		}
		/* A long synopsis wraps at a blank, continuation indented. */
		for (p = syn, indent = 2; strlen(p) + indent > HELP_WRAP; p = brk + 1) {
			/* Prefer to break before a "[", keeping an option whole. */
			for (brk = p + HELP_WRAP - indent; brk > p && (brk[0] != ' ' || brk[1] != '['); brk--)
				;
			if (brk == p)
				for (brk = p + HELP_WRAP - indent; brk > p && *brk != ' '; brk--)
					;
			if (brk == p)
				break;
			fprintf(f, "%*s%.*s\n", indent, "", (int)(brk - p), p);
			indent = 6;
		}
		fprintf(f, "%*s%s\n  %-*s%s\n", indent, "", p, HELP_COL - 2, "", c->help);
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: sluicectl [-s SOCKET] [-j] [-h] OBJECT COMMAND [ARGS]\n"
		"\n"
		"Commands (OBJECT and COMMAND may be shortened to any unique prefix):\n");
	print_commands(f, NULL);
	fprintf(f,
		"\n"
		"Options:\n"
		"  -s, --socket SOCKET  control socket; default $SLUICE_SOCKET, else\n"
		"                       %s\n"
		"  -j, --json           print the daemon's data, and errors, as JSON on stdout\n"
		"  -h, --help           show this help\n"
		"\n"
		"Exit status: 0 success, 1 sluiced answered with an error, 2 usage error,\n"
		"3 sluiced cannot be reached.\n",
		CTL_DEFAULT_SOCKET);
}

static int do_help(const struct cmd *c, int argc, char **argv)
{
	usage(stdout);
	return 0;
}

/* ---- dispatch ---- */

/*
 * The table entry @word names: an exact name wins, else the one entry it is
 * a prefix of. @obj NULL matches objects (distinct first words), otherwise
 * the verbs of @obj. Returns NULL after reporting an error.
 */
static const struct cmd *cmd_match(const char *obj, const char *word)
{
	const struct cmd *c, *found = NULL;
	char names[512] = "";
	size_t len = strlen(word);
	int n = 0;

	for (c = cmds; c->obj; c++) {
		const char *name = obj ? c->verb : c->obj;

		if (obj && strcmp(c->obj, obj))
			continue;
		/* Objects repeat once per verb: count each name once. */
		if (!obj && c != cmds && !strcmp(c[-1].obj, c->obj))
			continue;
		if (!strcmp(name, word))
			return c;
		if (len && !strncmp(name, word, len)) {
			found = c;
			n++;
			snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
				 n > 1 ? ", " : "", name);
		}
	}
	if (n == 1)
		return found;
	if (n > 1)
		fail(EXIT_USAGE, "ambiguous %s '%s': %s", obj ? "command" : "object", word, names);
	else if (obj)
		fail(EXIT_USAGE, "unknown command '%s' for %s (try 'sluicectl %s help')", word, obj, obj);
	else
		fail(EXIT_USAGE, "unknown object '%s' (try 'sluicectl help')", word);
	return NULL;
}

/* The verbs of @obj, "list, show, add", for a message. */
static const char *verbs_of(const char *obj)
{
	static char buf[256];
	const struct cmd *c;

	buf[0] = '\0';
	for (c = cmds; c->obj; c++)
		if (!strcmp(c->obj, obj) && c->verb)
			snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s",
				 buf[0] ? ", " : "", c->verb);
	return buf;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const struct cmd *c;
	const char *env;
	int opt;

	env = getenv("SLUICE_SOCKET");
	sock_path = env && *env ? env : CTL_DEFAULT_SOCKET;

	opterr = 0;	/* our messages, in JSON when -j came first */
	/* '+': stop at OBJECT, so command options such as --wait are left alone. */
	while ((opt = getopt_long(argc, argv, "+s:jh", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			sock_path = optarg;
			break;
		case 'j':
			json_mode = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			if (optopt == 's' || (optopt == 0 && !strcmp(argv[optind - 1], "--socket")))
				return fail(EXIT_USAGE, "option %s needs a SOCKET path", argv[optind - 1]);
			return fail(EXIT_USAGE, "unknown option '%s' (try 'sluicectl help')",
				    argv[optind - 1]);
		}
	}
	if (!*sock_path || strlen(sock_path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return fail(EXIT_USAGE, "socket path '%s' is empty or longer than %zu bytes", sock_path,
			    sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}

	c = cmd_match(NULL, argv[optind]);
	if (!c)
		return EXIT_USAGE;
	optind++;
	if (c->verb) {
		if (optind < argc && !strcmp(argv[optind], "help")) {
			print_commands(stdout, c->obj);
			return 0;
		}
		if (optind >= argc) {
			/* As ip(8): an object alone lists it. */
			if (!strstr(verbs_of(c->obj), "list"))
				return fail(EXIT_USAGE, "%s: missing command (%s)", c->obj,
					    verbs_of(c->obj));
			c = cmd_match(c->obj, "list");
		} else {
			c = cmd_match(c->obj, argv[optind++]);
			if (!c)
				return EXIT_USAGE;
		}
	}
	return c->fn(c, argc - optind, argv + optind);
}
