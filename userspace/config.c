/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Parse and validate the sluiced libconfig file into a desired state, and write it back. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

#define CFG_FILE_MAX	(64U << 20)	/* refuse to slurp anything larger */
#define FLOWS_MIN	1024U
#define FLOWS_MAX	(1U << 26)
#define MTU_MIN		576U		/* the IPv4 minimum datagram size */
#define MTU_MAX		9000U
#define MTU_MIN_V6	1280U		/* IPv6 links must carry this much */
#define HC_MS_MIN	10U		/* below this, timer slack dominates */
#define HC_MS_MAX	3600000U	/* one hour */
#define HC_COUNT_MAX	100
#define WEIGHT_MAX	65535

/* Built-in health defaults; HAProxy's inter/rise/fall, a 1 s timeout. */
#define HC_DEF_INTERVAL	2000U
#define HC_DEF_TIMEOUT	1000U
#define HC_DEF_RISE	2
#define HC_DEF_FALL	3

/* ---- addresses ---------------------------------------------------------- */

int sl_addr_parse(const char *s, struct sl_addr *a)
{
	struct sl_addr t;

	/* zero padding too, so callers may hash or memcmp the struct */
	memset(&t, 0, sizeof(t));
	if (!s)
		return -EINVAL;
	if (inet_pton(AF_INET, s, &t.addr[0]) == 1)
		t.family = SL_FAMILY_V4;
	else if (inet_pton(AF_INET6, s, t.addr) == 1)
		t.family = SL_FAMILY_V6;
	else
		return -EINVAL;
	memcpy(a, &t, sizeof(t));
	return 0;
}

const char *sl_addr_str(const struct sl_addr *a, char *buf, size_t len)
{
	int af;

	if (a->family == SL_FAMILY_V4)
		af = AF_INET;
	else if (a->family == SL_FAMILY_V6)
		af = AF_INET6;
	else {
		errno = EAFNOSUPPORT;
		return NULL;
	}
	if (len > (socklen_t)-1)
		len = (socklen_t)-1;
	return inet_ntop(af, a->addr, buf, (socklen_t)len);
}

int sl_addr_cmp(const struct sl_addr *a, const struct sl_addr *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	return memcmp(a->addr, b->addr, sizeof(a->addr));
}

bool sl_addr_equal(const struct sl_addr *a, const struct sl_addr *b)
{
	return sl_addr_cmp(a, b) == 0;
}

/*
 * Returns why @a cannot be a VIP, backend or outer source (as a phrase), or
 * NULL when it is an ordinary unicast address.
 */
static const char *addr_unusable(const struct sl_addr *a)
{
	const __u8 *b = (const __u8 *)a->addr;
	static const __u8 zero[16];
	static const __u8 mapped[12] = { [10] = 0xff, [11] = 0xff };

	if (a->family == SL_FAMILY_V4) {
		if (!memcmp(b, zero, 4))
			return "the unspecified address";
		if (b[0] == 0)
			return "in 0.0.0.0/8, which is not routable";
		if (b[0] == 127)
			return "a loopback address";
		if (b[0] >= 224 && b[0] <= 239)
			return "a multicast address";
		if (b[0] == 255 && b[1] == 255 && b[2] == 255 && b[3] == 255)
			return "the broadcast address";
		return NULL;
	}
	if (!memcmp(b, zero, 16))
		return "the unspecified address";
	if (!memcmp(b, zero, 15) && b[15] == 1)
		return "the loopback address";
	if (b[0] == 0xff)
		return "a multicast address";
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
		return "a link-local address, which would need an interface scope";
	if (!memcmp(b, mapped, 12))
		return "an IPv4-mapped address (write the IPv4 address itself)";
	return NULL;
}

/* ---- names of enumerations, as written in the file ---------------------- */

static const char *const xdp_mode_names[] = {
	[SL_XDP_NATIVE] = "native", [SL_XDP_GENERIC] = "generic", NULL
};
static const char *const vip_mode_names[] = {
	[SL_VIP_MODE_ENCAP] = "encap", NULL
};
static const char *const vip_hash_names[] = {
	[SL_VIP_HASH_5TUPLE] = "5tuple", [SL_VIP_HASH_SOURCE] = "source", NULL
};
static const char *const all_down_names[] = {
	[SL_VIP_ALL_DOWN_DROP] = "drop", [SL_VIP_ALL_DOWN_ALL] = "all", NULL
};
static const char *const hc_type_names[] = {
	[SL_HC_NONE] = "none", [SL_HC_TCP] = "tcp", [SL_HC_HTTP] = "http",
	[SL_HC_UDP] = "udp", NULL
};
static const char *const proto_names[] = { "tcp", "udp", NULL };
static const __u8 proto_values[] = { IPPROTO_TCP, IPPROTO_UDP };

/* Returns names[i] when @i is in the NULL-terminated table, else "unknown". */
static const char *name_of(const char *const *names, size_t n, unsigned int i)
{
	return i < n - 1 ? names[i] : "unknown";
}

#define NAME_OF(tab, i) name_of(tab, sizeof(tab) / sizeof(tab[0]), (unsigned int)(i))

const char *cfg_xdp_mode_name(enum sl_xdp_mode m) { return NAME_OF(xdp_mode_names, m); }
const char *cfg_vip_mode_name(enum sl_vip_mode m) { return NAME_OF(vip_mode_names, m); }
const char *cfg_vip_hash_name(enum sl_vip_hash h) { return NAME_OF(vip_hash_names, h); }
const char *cfg_vip_all_down_name(enum sl_vip_all_down a) { return NAME_OF(all_down_names, a); }
const char *cfg_hc_type_name(enum sl_hc_type t) { return NAME_OF(hc_type_names, t); }

const char *cfg_proto_name(__u8 proto)
{
	for (size_t i = 0; i < sizeof(proto_values); i++)
		if (proto_values[i] == proto)
			return proto_names[i];
	return "unknown";
}

/* ---- pre-scan of the raw text ------------------------------------------- */

/*
 * What libconfig 1.5 would accept but we must not: it truncates integer
 * literals beyond 32 bits without a word (4294967376 reads as 80), and it
 * opens @include files while parsing. Both are found here, on the text,
 * following libconfig's own lexical rules for comments and strings.
 */
struct prescan {
	unsigned int include_line;	/* first @include, 0 = none */
	unsigned int int_line;		/* first integer literal that does not fit */
	char int_text[32];		/* that literal, possibly cut */
	unsigned int last_line;		/* the file's last line, for "missing" errors */
};

static bool is_name_start(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '*';
}

static bool is_name_char(char ch)
{
	return is_name_start(ch) || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
}

static bool is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static bool is_xdigit(char ch)
{
	return is_digit(ch) || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

/* The characters of VIP and group names: [A-Za-z0-9_.-]. */
static bool is_label_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || is_digit(ch) ||
	       ch == '_' || ch == '.' || ch == '-';
}

/* A VIP or group name: one or more label characters (the length is the buffer's). */
static bool is_label(const char *n)
{
	if (!*n)
		return false;
	for (; *n; n++)
		if (!is_label_char(*n))
			return false;
	return true;
}

/* Returns true when the integer literal [@p, @end) does not fit libconfig's type. */
static bool int_overflows(const char *p, const char *end, bool hex, bool wide)
{
	const char *q = p;
	size_t sig = 0;

	if (*q == '+' || *q == '-')
		q++;
	if (hex) {
		for (q += 2; q < end && *q == '0'; q++)
			;
		for (; q < end && is_xdigit(*q); q++)
			sig++;
		return sig > (wide ? 16 : 8);
	} else {
		char buf[32];
		size_t n = (size_t)(end - p);
		long long v;
		char *e;

		if (n >= sizeof(buf))
			return true;
		memcpy(buf, p, n);
		buf[n] = '\0';
		errno = 0;
		v = strtoll(buf, &e, 10);
		if (errno == ERANGE)
			return true;
		return !wide && (v < INT32_MIN || v > INT32_MAX);
	}
}

static void prescan(const char *p, struct prescan *ps)
{
	unsigned int line = 1;
	bool bol = true;	/* only blanks so far on this line */

	memset(ps, 0, sizeof(*ps));
	while (*p) {
		char ch = *p;

		if (ch == '\n') {
			line++;
			bol = true;
			p++;
			continue;
		}
		if (ch == ' ' || ch == '\t' || ch == '\r') {
			p++;
			continue;
		}
		if (bol && !strncmp(p, "@include", 8) && !ps->include_line)
			ps->include_line = line;
		bol = false;
		if (ch == '#' || (ch == '/' && p[1] == '/')) {
			while (*p && *p != '\n')
				p++;
		} else if (ch == '/' && p[1] == '*') {
			for (p += 2; *p && !(p[0] == '*' && p[1] == '/'); p++)
				if (*p == '\n')
					line++;
			if (*p)
				p += 2;
		} else if (ch == '"') {
			for (p++; *p && *p != '"'; p++) {
				if (*p == '\\' && p[1])
					p++;
				if (*p == '\n')
					line++;
			}
			if (*p)
				p++;
		} else if (is_name_start(ch)) {
			while (is_name_char(*p))
				p++;
		} else if (is_digit(ch) || ((ch == '-' || ch == '+' || ch == '.') &&
					    (is_digit(p[1]) || p[1] == '.'))) {
			const char *start = p, *q = p;
			bool hex, wide = false, flt = false;

			if (*q == '-' || *q == '+')
				q++;
			hex = q[0] == '0' && (q[1] == 'x' || q[1] == 'X');
			if (hex) {
				for (q += 2; is_xdigit(*q); q++)
					;
			} else {
				while (is_digit(*q))
					q++;
				if (*q == '.' || *q == 'e' || *q == 'E')
					flt = true;
				while (is_digit(*q) || *q == '.' || *q == 'e' || *q == 'E' ||
				       ((*q == '-' || *q == '+') && (q[-1] == 'e' || q[-1] == 'E')))
					q++;
			}
			p = q;
			if (*p == 'L') {
				wide = true;
				while (*p == 'L')
					p++;
			}
			if (!flt && !ps->int_line && int_overflows(start, q, hex, wide)) {
				size_t n = (size_t)(q - start);

				if (n >= sizeof(ps->int_text))
					n = sizeof(ps->int_text) - 4;
				memcpy(ps->int_text, start, n);
				strcpy(ps->int_text + n, n < (size_t)(q - start) ? "..." : "");
				ps->int_line = line;
			}
		} else {
			p++;
		}
	}
	ps->last_line = line > 1 && p[-1] == '\n' ? line - 1 : line;
}

/* ---- error reporting ----------------------------------------------------- */

/* Parse state: where messages go and what they are called. */
struct pctx {
	const char *name;	/* file name used in messages */
	char *err;		/* message buffer, may be NULL */
	size_t errlen;
	unsigned int last_line;	/* for settings missing from the top level */
};

/* The contract is one line, whatever the file name holds. */
static void one_line(char *s)
{
	for (; *s; s++)
		if (*s == '\n' || *s == '\r')
			*s = ' ';
}

/* Write "NAME:LINE: message" into the error buffer; returns -EINVAL. */
static int __attribute__((format(printf, 3, 4)))
fail(struct pctx *c, unsigned int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!c->err || !c->errlen)
		return -EINVAL;
	n = snprintf(c->err, c->errlen, "%s:%u: ", c->name, line);
	if (n >= 0 && (size_t)n < c->errlen) {
		va_start(ap, fmt);
		vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	one_line(c->err);
	return -EINVAL;
}

/* Write "NAME: what: strerror" for failures that are not the file's fault. */
static int fail_errno(struct pctx *c, int err, const char *what)
{
	if (c->err && c->errlen) {
		snprintf(c->err, c->errlen, "%s: %s: %s", c->name, what, strerror(-err));
		one_line(c->err);
	}
	return err;
}

/* A user string made safe for a one-line message: quoted, escaped, cut. */
struct quoted {
	char s[80];
};

static const char *quote(struct quoted *qb, const char *s)
{
	size_t o = 0, max = sizeof(qb->s) - 6;	/* room for ...", NUL */

	qb->s[o++] = '"';
	for (; *s && o < max; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\') {
			qb->s[o++] = '\\';
			qb->s[o++] = (char)ch;
		} else if (ch < 0x20 || ch == 0x7f) {
			o += (size_t)snprintf(qb->s + o, sizeof(qb->s) - o, "\\x%02x", ch);
		} else {
			qb->s[o++] = (char)ch;
		}
	}
	if (*s) {
		memcpy(qb->s + o, "...", 3);
		o += 3;
	}
	qb->s[o++] = '"';
	qb->s[o] = '\0';
	return qb->s;
}

/* Setting paths as shown in messages: "vips[1].backends[0].address". */
struct spath {
	char s[128];
};

/* A cut path still reads well in a message, so truncation is only noted. */
static const char *pkey(struct spath *out, const char *parent, const char *key)
{
	if (snprintf(out->s, sizeof(out->s), "%s%s%s", parent, *parent ? "." : "", key) >=
	    (int)sizeof(out->s))
		strcpy(out->s + sizeof(out->s) - 4, "...");
	return out->s;
}

static const char *pidx(struct spath *out, const char *parent, unsigned int i)
{
	if (snprintf(out->s, sizeof(out->s), "%s[%u]", parent, i) >= (int)sizeof(out->s))
		strcpy(out->s + sizeof(out->s) - 4, "...");
	return out->s;
}

static unsigned int line_of(const config_setting_t *s)
{
	return config_setting_source_line(s);
}

static const char *type_name(const config_setting_t *s)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_GROUP:
		return "a group { ... }";
	case CONFIG_TYPE_ARRAY:
		return "an array [ ... ]";
	case CONFIG_TYPE_LIST:
		return "a list ( ... )";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		return "an integer";
	case CONFIG_TYPE_FLOAT:
		return "a float";
	case CONFIG_TYPE_STRING:
		return "a string";
	case CONFIG_TYPE_BOOL:
		return "a boolean";
	}
	return "an unknown type";
}

static int fail_type(struct pctx *c, const config_setting_t *s, const char *path,
		     const char *expected)
{
	return fail(c, line_of(s), "%s: expected %s, got %s", path, expected, type_name(s));
}

/* Levenshtein distance, capped: only used to suggest a near key. */
static unsigned int edit_distance(const char *a, const char *b)
{
	unsigned int row[33], la = (unsigned int)strlen(a), lb = (unsigned int)strlen(b);

	if (la > 32 || lb > 32)
		return UINT_MAX;
	for (unsigned int j = 0; j <= lb; j++)
		row[j] = j;
	for (unsigned int i = 1; i <= la; i++) {
		unsigned int diag = row[0];

		row[0] = i;
		for (unsigned int j = 1; j <= lb; j++) {
			unsigned int up = row[j], best;

			best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			diag = up;
			row[j] = best;
		}
	}
	return row[lb];
}

/* Fail on the first member of group @g whose name is not in @keys. */
static int check_keys(struct pctx *c, const config_setting_t *g, const char *path,
		      const char *const *keys)
{
	int n = config_setting_length(g);

	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned int)i);
		const char *name = config_setting_name(s), *best = NULL;
		unsigned int best_d = 3;	/* suggest only near misses */
		char valid[256] = "";
		const char *const *k;
		struct spath p;

		for (k = keys; *k && strcmp(*k, name); k++)
			;
		if (*k)
			continue;
		for (k = keys; *k; k++) {
			unsigned int d = edit_distance(name, *k);

			if (d < best_d && d < strlen(name)) {
				best_d = d;
				best = *k;
			}
			snprintf(valid + strlen(valid), sizeof(valid) - strlen(valid), "%s%s",
				 k == keys ? "" : ", ", *k);
		}
		if (best)
			return fail(c, line_of(s), "%s: unknown setting (did you mean \"%s\"?); valid here: %s",
				    pkey(&p, path, name), best, valid);
		return fail(c, line_of(s), "%s: unknown setting; valid here: %s",
			    pkey(&p, path, name), valid);
	}
	return 0;
}

/* Fail unless every key in @keys is present in group @g. */
static int check_required(struct pctx *c, const config_setting_t *g, const char *path,
			  const char *const *keys)
{
	for (const char *const *k = keys; *k; k++)
		if (!config_setting_get_member(g, *k))
			return fail(c, line_of(g), "%s: required setting \"%s\" is missing", path, *k);
	return 0;
}

/* Fail unless @g is a group (@what in the message) of only @keys, with all of @required. */
static int check_group(struct pctx *c, const config_setting_t *g, const char *path,
		       const char *what, const char *const *keys, const char *const *required)
{
	int ret;

	if (!config_setting_is_group(g))
		return fail_type(c, g, path, what);
	ret = check_keys(c, g, path, keys);
	if (!ret && required)
		ret = check_required(c, g, path, required);
	return ret;
}

/* ---- typed getters ------------------------------------------------------- */

static int get_int(struct pctx *c, const config_setting_t *s, const char *path,
		   long long min, long long max, long long *out)
{
	long long v;

	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
		v = config_setting_get_int(s);
		/* libconfig stores 0x80000000..0xffffffff as negative ints */
		if (config_setting_get_format(s) == CONFIG_FORMAT_HEX)
			v = (__u32)v;
		break;
	case CONFIG_TYPE_INT64:
		v = config_setting_get_int64(s);
		break;
	default:
		return fail_type(c, s, path, "an integer");
	}
	if (v < min || v > max)
		return fail(c, line_of(s), "%s: %lld is out of range (%lld..%lld)", path, v, min, max);
	*out = v;
	return 0;
}

static int get_string(struct pctx *c, const config_setting_t *s, const char *path,
		      const char **out)
{
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return fail_type(c, s, path, "a string");
	*out = config_setting_get_string(s);
	return 0;
}

/* A string copied into @dst (of @len bytes, NUL included). */
static int get_string_buf(struct pctx *c, const config_setting_t *s, const char *path,
			  char *dst, size_t len)
{
	struct quoted q;
	const char *v = NULL;
	int ret;

	ret = get_string(c, s, path, &v);
	if (ret)
		return ret;
	if (strlen(v) >= len)
		return fail(c, line_of(s), "%s: %s is too long (at most %zu characters)",
			    path, quote(&q, v), len - 1);
	strcpy(dst, v);
	return 0;
}

/* Seconds, integer or float, into milliseconds. */
static int get_seconds(struct pctx *c, const config_setting_t *s, const char *path, __u32 *ms)
{
	double v;

	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
		v = config_setting_get_int(s);
		break;
	case CONFIG_TYPE_INT64:
		v = (double)config_setting_get_int64(s);
		break;
	case CONFIG_TYPE_FLOAT:
		v = config_setting_get_float(s);
		break;
	default:
		return fail_type(c, s, path, "a number of seconds");
	}
	/* written so that NaN fails too */
	if (!(v >= HC_MS_MIN / 1000.0 && v <= HC_MS_MAX / 1000.0))
		return fail(c, line_of(s), "%s: %g seconds is out of range (%g..%g)",
			    path, v, HC_MS_MIN / 1000.0, HC_MS_MAX / 1000.0);
	*ms = (__u32)(v * 1000.0 + 0.5);
	return 0;
}

static int get_enum(struct pctx *c, const config_setting_t *s, const char *path,
		    const char *const *names, int *out)
{
	char valid[128] = "";
	struct quoted q;
	const char *v = NULL;
	int ret;

	ret = get_string(c, s, path, &v);
	if (ret)
		return ret;
	for (int i = 0; names[i]; i++) {
		if (!strcmp(v, names[i])) {
			*out = i;
			return 0;
		}
		snprintf(valid + strlen(valid), sizeof(valid) - strlen(valid), "%s\"%s\"",
			 i ? (names[i + 1] ? ", " : " or ") : "", names[i]);
	}
	return fail(c, line_of(s), "%s: %s is not valid; expected %s", path, quote(&q, v), valid);
}

/* An address of @family (0: either), usable as VIP, backend or source. */
static int get_addr(struct pctx *c, const config_setting_t *s, const char *path,
		    int family, struct sl_addr *a)
{
	struct quoted q;
	const char *v = NULL, *why;
	int ret;

	ret = get_string(c, s, path, &v);
	if (ret)
		return ret;
	if (sl_addr_parse(v, a))
		return fail(c, line_of(s), "%s: %s is not an %s address", path, quote(&q, v),
			    family == SL_FAMILY_V4 ? "IPv4" : family == SL_FAMILY_V6 ? "IPv6" :
			    "IPv4 or IPv6");
	if (family && a->family != family)
		return fail(c, line_of(s), "%s: %s is an IPv%d address; expected IPv%d",
			    path, quote(&q, v), a->family, family);
	why = addr_unusable(a);
	if (why)
		return fail(c, line_of(s), "%s: %s is %s; expected a unicast address",
			    path, quote(&q, v), why);
	return 0;
}

/* An absolute path of printable characters with no "." or ".." component. */
static int get_path(struct pctx *c, const config_setting_t *s, const char *path,
		    char *dst, size_t len)
{
	struct quoted q;
	int ret;

	ret = get_string_buf(c, s, path, dst, len);
	if (ret)
		return ret;
	if (dst[0] != '/')
		return fail(c, line_of(s), "%s: %s is not an absolute path", path, quote(&q, dst));
	for (const char *p = dst; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return fail(c, line_of(s), "%s: %s contains a control character",
				    path, quote(&q, dst));
		if (p[0] == '/' && p[1] == '.' &&
		    (p[2] == '/' || !p[2] || (p[2] == '.' && (p[3] == '/' || !p[3]))))
			return fail(c, line_of(s), "%s: %s has a \".\" or \"..\" component",
				    path, quote(&q, dst));
	}
	return 0;
}

/*
 * Optional settings: member @key of group @g, named @parent.@key in messages,
 * read into @dst; an absent one leaves @dst as it is.
 */
static int opt_u32(struct pctx *c, const config_setting_t *g, const char *parent,
		   const char *key, long long min, long long max, __u32 *dst)
{
	const config_setting_t *s = config_setting_get_member(g, key);
	struct spath kp;
	long long v;
	int ret;

	if (!s)
		return 0;
	ret = get_int(c, s, pkey(&kp, parent, key), min, max, &v);
	if (!ret)
		*dst = (__u32)v;
	return ret;
}

static int opt_enum(struct pctx *c, const config_setting_t *g, const char *parent,
		    const char *key, const char *const *names, int *dst)
{
	const config_setting_t *s = config_setting_get_member(g, key);
	struct spath kp;

	return s ? get_enum(c, s, pkey(&kp, parent, key), names, dst) : 0;
}

static int opt_addr(struct pctx *c, const config_setting_t *g, const char *parent,
		    const char *key, int family, struct sl_addr *dst)
{
	const config_setting_t *s = config_setting_get_member(g, key);
	struct spath kp;

	return s ? get_addr(c, s, pkey(&kp, parent, key), family, dst) : 0;
}

static int opt_path(struct pctx *c, const config_setting_t *g, const char *parent,
		    const char *key, char *dst, size_t len)
{
	const config_setting_t *s = config_setting_get_member(g, key);
	struct spath kp;

	return s ? get_path(c, s, pkey(&kp, parent, key), dst, len) : 0;
}

/* ---- health checks ------------------------------------------------------- */

enum hc_key {
	HC_TYPE, HC_PORT, HC_INTERVAL, HC_TIMEOUT, HC_RISE, HC_FALL, HC_HTTP_PATH,
	HC_HTTP_HOST, HC_HTTP_STATUS, HC_UDP_PAYLOAD, HC_UDP_EXPECT, HC_NKEYS
};

static const char *const hc_keys[HC_NKEYS + 1] = {
	[HC_TYPE] = "type", [HC_PORT] = "port", [HC_INTERVAL] = "interval",
	[HC_TIMEOUT] = "timeout", [HC_RISE] = "rise", [HC_FALL] = "fall",
	[HC_HTTP_PATH] = "http_path", [HC_HTTP_HOST] = "http_host",
	[HC_HTTP_STATUS] = "http_status", [HC_UDP_PAYLOAD] = "udp_payload",
	[HC_UDP_EXPECT] = "udp_expect", [HC_NKEYS] = NULL,
};

/* Health settings while they are being inherited down the levels. */
struct hc_state {
	struct sl_cfg_health h;
	bool timeout_set;	/* else timeout follows min(1 s, interval) */
	bool type_set;		/* else a UDP VIP gets type none, not the tcp default */
};

static void hc_defaults(struct hc_state *st)
{
	memset(st, 0, sizeof(*st));
	st->h.type = SL_HC_TCP;
	st->h.interval_ms = HC_DEF_INTERVAL;
	st->h.timeout_ms = HC_DEF_TIMEOUT;
	st->h.rise = HC_DEF_RISE;
	st->h.fall = HC_DEF_FALL;
	st->h.http_status_min = 200;
	st->h.http_status_max = 399;
	strcpy(st->h.http_path, "/");
}

/*
 * A VIP's starting point before its own health block, also for VIPs added at
 * run time: the default TCP connect cannot judge a UDP service, so a UDP VIP
 * gets no check unless the global block named a type.
 */
void cfg_vip_health(const struct sl_config *cfg, __u8 proto, __u16 port,
		    struct sl_cfg_health *out)
{
	*out = cfg->health;
	if (proto == IPPROTO_UDP && !cfg->health_type_set)
		out->type = SL_HC_NONE;
	if (!out->port)
		out->port = port;
}

static bool status_code(const char *p, __u16 *out)
{
	if (!is_digit(p[0]) || !is_digit(p[1]) || !is_digit(p[2]))
		return false;
	*out = (__u16)((p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0'));
	return *out >= 100 && *out <= 599;
}

static int get_status(struct pctx *c, const config_setting_t *s, const char *path,
		      struct sl_cfg_health *h)
{
	struct quoted q;
	const char *v = NULL;
	__u16 lo, hi;
	int ret;

	ret = get_string(c, s, path, &v);
	if (ret)
		return ret;
	if (strlen(v) == 3 && status_code(v, &lo)) {
		hi = lo;
	} else if (strlen(v) == 7 && v[3] == '-' && status_code(v, &lo) &&
		   status_code(v + 4, &hi)) {
		if (lo > hi)
			return fail(c, line_of(s), "%s: %s is an empty range (%u > %u)",
				    path, quote(&q, v), lo, hi);
	} else {
		return fail(c, line_of(s), "%s: %s is not a status; expected \"NNN\" or \"NNN-NNN\" with codes 100..599",
			    path, quote(&q, v));
	}
	h->http_status_min = lo;
	h->http_status_max = hi;
	return 0;
}

/* Text that goes into an HTTP request line or header: visible ASCII only. */
static int check_http_token(struct pctx *c, const config_setting_t *s, const char *path,
			    const char *v)
{
	struct quoted q;

	for (const char *p = v; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return fail(c, line_of(s), "%s: %s may hold only visible ASCII characters, no spaces",
				    path, quote(&q, v));
	return 0;
}

static void fmt_secs(char *buf, size_t len, __u32 ms)
{
	size_t n;

	snprintf(buf, len, "%u.%03u", ms / 1000, ms % 1000);
	n = strlen(buf);
	while (n > 0 && buf[n - 1] == '0' && buf[n - 2] != '.')
		buf[--n] = '\0';
}

/*
 * Apply the health group @g (NULL: nothing) over the inherited @st. Each
 * check that involves two keys runs only at a level that set one of them,
 * so the message points at the line that broke it.
 */
static int hc_apply(struct pctx *c, const config_setting_t *g, const char *path,
		    struct hc_state *st)
{
	const config_setting_t *ivl, *tmo;
	struct sl_cfg_health *h = &st->h;
	struct spath kp;
	long long v;
	int ret = 0, e;

	if (!g)
		return 0;
	ret = check_group(c, g, path, "a group { ... }", hc_keys, NULL);
	if (ret)
		return ret;
	for (int k = 0; k < HC_NKEYS && !ret; k++) {
		const config_setting_t *s = config_setting_get_member(g, hc_keys[k]);
		const char *kpath = pkey(&kp, path, hc_keys[k]);

		if (!s)
			continue;
		switch (k) {
		case HC_TYPE:
			ret = get_enum(c, s, kpath, hc_type_names, &e);
			if (!ret) {
				h->type = (enum sl_hc_type)e;
				st->type_set = true;
			}
			break;
		case HC_PORT:
			ret = get_int(c, s, kpath, 1, 65535, &v);
			if (!ret)
				h->port = (__u16)v;
			break;
		case HC_INTERVAL:
			ret = get_seconds(c, s, kpath, &h->interval_ms);
			break;
		case HC_TIMEOUT:
			ret = get_seconds(c, s, kpath, &h->timeout_ms);
			st->timeout_set = true;
			break;
		case HC_RISE:
		case HC_FALL:
			ret = get_int(c, s, kpath, 1, HC_COUNT_MAX, &v);
			if (!ret)
				*(k == HC_RISE ? &h->rise : &h->fall) = (__u8)v;
			break;
		case HC_HTTP_PATH:
			ret = get_string_buf(c, s, kpath, h->http_path, sizeof(h->http_path));
			if (!ret && h->http_path[0] != '/') {
				struct quoted q;

				ret = fail(c, line_of(s), "%s: %s must start with \"/\"",
					   kpath, quote(&q, h->http_path));
			}
			if (!ret)
				ret = check_http_token(c, s, kpath, h->http_path);
			break;
		case HC_HTTP_HOST:
			ret = get_string_buf(c, s, kpath, h->http_host, sizeof(h->http_host));
			if (!ret)
				ret = check_http_token(c, s, kpath, h->http_host);
			break;
		case HC_HTTP_STATUS:
			ret = get_status(c, s, kpath, h);
			break;
		case HC_UDP_PAYLOAD:
			ret = get_string_buf(c, s, kpath, h->udp_payload, sizeof(h->udp_payload));
			break;
		case HC_UDP_EXPECT:
			ret = get_string_buf(c, s, kpath, h->udp_expect, sizeof(h->udp_expect));
			break;
		}
	}
	if (ret)
		return ret;
	if (!st->timeout_set)
		h->timeout_ms = h->interval_ms < HC_DEF_TIMEOUT ? h->interval_ms : HC_DEF_TIMEOUT;
	ivl = config_setting_get_member(g, "interval");
	tmo = config_setting_get_member(g, "timeout");
	if ((ivl || tmo) && h->timeout_ms > h->interval_ms) {
		char t[24], i[24];

		fmt_secs(t, sizeof(t), h->timeout_ms);
		fmt_secs(i, sizeof(i), h->interval_ms);
		if (tmo)
			return fail(c, line_of(tmo), "%s: timeout %s s is longer than the interval %s s%s",
				    pkey(&kp, path, "timeout"), t, i, ivl ? "" : " (inherited)");
		return fail(c, line_of(ivl), "%s: interval %s s is shorter than the timeout %s s (inherited)",
			    pkey(&kp, path, "interval"), i, t);
	}
	return 0;
}

/*
 * Apply the health group of the VIP or backend @g (at @path) over the
 * inherited @st. A probe needs a port: the VIP's unless one is set, so a
 * port-0 VIP must not leave a real check without one.
 */
static int hc_inherit(struct pctx *c, const config_setting_t *g, const char *path,
		      struct hc_state *st)
{
	const config_setting_t *s = config_setting_get_member(g, "health");
	struct spath kp;
	int ret;

	ret = hc_apply(c, s, pkey(&kp, path, "health"), st);
	if (ret || st->h.port || st->h.type == SL_HC_NONE)
		return ret;
	return fail(c, line_of(s ? s : g), "%s.port: required: the VIP has port 0 (all ports), so a %s check needs a port (or type = \"none\")",
		    kp.s, cfg_hc_type_name(st->h.type));
}

/* ---- the document -------------------------------------------------------- */

static const char *const top_keys[] = {
	"hash_seed", "bpffs", "flow_table_size", "mtu", "new_flow_limit", "interfaces", "control",
	"source", "health", "vips", NULL
};
static const char *const iface_keys[] = { "name", "xdp_mode", NULL };
static const char *const iface_required[] = { "name", NULL };
static const char *const control_keys[] = { "socket", "group", NULL };
static const char *const source_keys[] = { "ipv4", "ipv6", NULL };
static const char *const vip_keys[] = {
	"name", "address", "port", "protocol", "mode", "hash", "source_ipv4",
	"source_ipv6", "all_down", "health", "backends", NULL
};
static const char *const vip_required[] = {
	"name", "address", "port", "protocol", "backends", NULL
};
static const char *const backend_keys[] = { "address", "weight", "health", NULL };
static const char *const backend_required[] = { "address", NULL };

/* Document-wide state used while parsing. */
struct doc {
	struct sl_config *cfg;
	struct hc_state global_hc;
	const config_setting_t *vips;	/* the vips list, for lines of earlier VIPs */
	const config_setting_t *first_v6_be;	/* first IPv6 backend, for the MTU check */
	unsigned int first_v6_vip;
};

/* A list of groups; an empty array "[]" counts as an empty list. */
static int get_list(struct pctx *c, const config_setting_t *s, const char *path,
		    unsigned int *n)
{
	if (config_setting_is_array(s) && config_setting_length(s) == 0) {
		*n = 0;
		return 0;
	}
	if (!config_setting_is_list(s))
		return fail_type(c, s, path, "a list ( { ... }, ... )");
	*n = (unsigned int)config_setting_length(s);
	return 0;
}

static bool valid_ifname(const char *n)
{
	/* the kernel's dev_valid_name(), minus its length check */
	if (!*n || !strcmp(n, ".") || !strcmp(n, ".."))
		return false;
	for (; *n; n++)
		if (*n == '/' || *n == ':' || (unsigned char)*n <= 0x20 || *n == 0x7f)
			return false;
	return true;
}

static int parse_ifaces(struct pctx *c, const config_setting_t *root, struct sl_config *cfg)
{
	const config_setting_t *list = config_setting_get_member(root, "interfaces");
	unsigned int n = 0;
	int ret;

	if (!list)
		return fail(c, c->last_line, "interfaces: required setting is missing; e.g. interfaces = ( { name = \"eth0\"; } );");
	ret = get_list(c, list, "interfaces", &n);
	if (ret)
		return ret;
	if (n == 0)
		return fail(c, line_of(list), "interfaces: at least one interface is required");
	if (n > SL_CFG_MAX_IFACES)
		return fail(c, line_of(config_setting_get_elem(list, SL_CFG_MAX_IFACES)),
			    "interfaces: more than %d interfaces", SL_CFG_MAX_IFACES);
	cfg->ifaces = calloc(n, sizeof(*cfg->ifaces));
	if (!cfg->ifaces)
		return fail_errno(c, -ENOMEM, "parsing");
	cfg->n_ifaces = n;
	for (unsigned int i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(list, i), *s;
		struct sl_cfg_iface *ifc = &cfg->ifaces[i];
		struct spath ip, kp;
		struct quoted q;
		int mode = SL_XDP_NATIVE;

		pidx(&ip, "interfaces", i);
		ret = check_group(c, g, ip.s, "a group { name = ...; }", iface_keys, iface_required);
		if (ret)
			return ret;
		s = config_setting_get_member(g, "name");
		pkey(&kp, ip.s, "name");
		ret = get_string_buf(c, s, kp.s, ifc->name, sizeof(ifc->name));
		if (ret)
			return ret;
		if (!valid_ifname(ifc->name))
			return fail(c, line_of(s), "%s: %s is not a valid interface name",
				    kp.s, quote(&q, ifc->name));
		for (unsigned int j = 0; j < i; j++)
			if (!strcmp(cfg->ifaces[j].name, ifc->name))
				return fail(c, line_of(s), "%s: %s is already listed as interfaces[%u] (line %u)",
					    kp.s, quote(&q, ifc->name), j,
					    line_of(config_setting_get_elem(list, j)));
		ret = opt_enum(c, g, ip.s, "xdp_mode", xdp_mode_names, &mode);
		if (ret)
			return ret;
		ifc->xdp_mode = (enum sl_xdp_mode)mode;
	}
	return 0;
}

static int parse_control(struct pctx *c, const config_setting_t *root, struct sl_config *cfg)
{
	const config_setting_t *g = config_setting_get_member(root, "control"), *s;
	struct quoted q;
	int ret;

	if (!g)
		return 0;
	ret = check_group(c, g, "control", "a group { ... }", control_keys, NULL);
	if (!ret)
		ret = opt_path(c, g, "control", "socket", cfg->ctl_socket, sizeof(cfg->ctl_socket));
	if (ret)
		return ret;
	s = config_setting_get_member(g, "group");
	if (!s)
		return 0;
	ret = get_string_buf(c, s, "control.group", cfg->ctl_group, sizeof(cfg->ctl_group));
	if (ret)
		return ret;
	/* a group name (or a numeric gid) as useradd(8) would accept it */
	if (cfg->ctl_group[0] == '-' || !is_label(cfg->ctl_group))
		return fail(c, line_of(s), "control.group: %s is not a valid group name (1..32 of A-Z a-z 0-9 _ . -, not starting with -)",
			    quote(&q, cfg->ctl_group));
	return 0;
}

static int parse_source(struct pctx *c, const config_setting_t *root, struct sl_config *cfg)
{
	const config_setting_t *g = config_setting_get_member(root, "source");
	int ret;

	if (!g)
		return 0;
	ret = check_group(c, g, "source", "a group { ... }", source_keys, NULL);
	if (!ret)
		ret = opt_addr(c, g, "source", "ipv4", SL_FAMILY_V4, &cfg->src4);
	if (!ret)
		ret = opt_addr(c, g, "source", "ipv6", SL_FAMILY_V6, &cfg->src6);
	return ret;
}

/* Backends by address, then file order: duplicates end up side by side. */
struct be_ref {
	const struct sl_addr *addr;
	unsigned int idx;
};

static int be_ref_cmp(const void *a, const void *b)
{
	const struct be_ref *x = a, *y = b;
	int r = sl_addr_cmp(x->addr, y->addr);

	if (r)
		return r;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int check_dup_backends(struct pctx *c, const config_setting_t *list, const char *path,
			      const struct sl_cfg_vip *vip)
{
	unsigned int n = vip->n_backends, dup = UINT_MAX, orig = 0;
	const config_setting_t *s;
	char a[SL_ADDR_STRLEN];
	struct be_ref *refs;
	struct spath p;

	if (n < 2)
		return 0;
	refs = calloc(n, sizeof(*refs));
	if (!refs)
		return fail_errno(c, -ENOMEM, "parsing");
	for (unsigned int i = 0; i < n; i++) {
		refs[i].addr = &vip->backends[i].addr;
		refs[i].idx = i;
	}
	qsort(refs, n, sizeof(*refs), be_ref_cmp);
	/* report the earliest repeat in file order, against its first use */
	for (unsigned int i = 1, first = 0; i < n; i++) {
		if (sl_addr_cmp(refs[i].addr, refs[first].addr)) {
			first = i;
			continue;
		}
		if (refs[i].idx < dup) {
			dup = refs[i].idx;
			orig = refs[first].idx;
		}
	}
	free(refs);
	if (dup == UINT_MAX)
		return 0;
	s = config_setting_get_member(config_setting_get_elem(list, dup), "address");
	sl_addr_str(&vip->backends[dup].addr, a, sizeof(a));
	pidx(&p, path, dup);
	return fail(c, line_of(s), "%s.address: backend \"%s\" is already listed as backends[%u] (line %u)",
		    p.s, a, orig, line_of(config_setting_get_elem(list, orig)));
}

static int parse_backends(struct pctx *c, struct doc *d, const config_setting_t *vg,
			  const char *vpath, struct sl_cfg_vip *vip, const struct hc_state *vip_hc)
{
	const config_setting_t *list = config_setting_get_member(vg, "backends");
	const config_setting_t *first4 = NULL, *first6 = NULL;
	struct sl_config *cfg = d->cfg;
	struct spath lp;
	unsigned int n = 0;
	int ret;

	pkey(&lp, vpath, "backends");
	ret = get_list(c, list, lp.s, &n);
	if (ret || n == 0)
		return ret;
	if (n > SLUICE_MAX_BACKENDS - cfg->n_backends)
		return fail(c, line_of(config_setting_get_elem(list, SLUICE_MAX_BACKENDS - cfg->n_backends)),
			    "%s: more than %d backends in all VIPs together (SLUICE_MAX_BACKENDS)",
			    lp.s, SLUICE_MAX_BACKENDS);
	vip->backends = calloc(n, sizeof(*vip->backends));
	if (!vip->backends)
		return fail_errno(c, -ENOMEM, "parsing");
	vip->n_backends = n;
	cfg->n_backends += n;

	for (unsigned int i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(list, i), *a;
		struct sl_cfg_backend *be = &vip->backends[i];
		struct hc_state st = *vip_hc;
		struct spath bp, kp;

		pidx(&bp, lp.s, i);
		ret = check_group(c, g, bp.s, "a group { address = ...; }", backend_keys,
				  backend_required);
		if (ret)
			return ret;
		a = config_setting_get_member(g, "address");
		ret = get_addr(c, a, pkey(&kp, bp.s, "address"), 0, &be->addr);
		if (ret)
			return ret;
		if (vip->addr.family == SL_FAMILY_V6 && be->addr.family == SL_FAMILY_V4) {
			char b[SL_ADDR_STRLEN];

			return fail(c, line_of(a), "%s: IPv4 backend \"%s\" cannot serve an IPv6 VIP: encap cannot carry IPv6 inside IPv4",
				    kp.s, sl_addr_str(&be->addr, b, sizeof(b)));
		}
		if (sl_addr_equal(&be->addr, &vip->addr))
			return fail(c, line_of(a), "%s: a backend cannot be the VIP address itself", kp.s);
		if (be->addr.family == SL_FAMILY_V4 && !first4)
			first4 = a;
		if (be->addr.family == SL_FAMILY_V6 && !first6)
			first6 = a;

		be->weight = SL_CFG_DEF_WEIGHT;
		ret = opt_u32(c, g, bp.s, "weight", 0, WEIGHT_MAX, &be->weight);
		if (!ret)
			ret = hc_inherit(c, g, bp.s, &st);
		if (ret)
			return ret;
		be->health = st.h;
	}

	ret = check_dup_backends(c, list, lp.s, vip);
	if (ret)
		return ret;
	if (first4 && !vip->src4.family)
		return fail(c, line_of(first4), "%s: IPv4 backend but no IPv4 outer source; set source.ipv4 or %s.source_ipv4",
			    vpath, vpath);
	if (first6 && !vip->src6.family)
		return fail(c, line_of(first6), "%s: IPv6 backend but no IPv6 outer source; set source.ipv6 or %s.source_ipv6",
			    vpath, vpath);
	if (first6 && !d->first_v6_be) {
		d->first_v6_be = first6;
		d->first_v6_vip = (unsigned int)(vip - cfg->vips);
	}
	return 0;
}

static int parse_vip(struct pctx *c, struct doc *d, unsigned int i)
{
	const config_setting_t *g = config_setting_get_elem(d->vips, i), *s, *name_s, *addr_s;
	struct sl_cfg_vip *vip = &d->cfg->vips[i];
	int mode = SL_VIP_MODE_ENCAP, hash = SL_VIP_HASH_5TUPLE, all_down = SL_VIP_ALL_DOWN_DROP;
	struct hc_state st = d->global_hc;
	struct spath vp, kp;
	struct quoted q;
	long long v;
	int ret, e;

	pidx(&vp, "vips", i);
	ret = check_group(c, g, vp.s, "a group { name = ...; }", vip_keys, vip_required);
	if (ret)
		return ret;

	name_s = config_setting_get_member(g, "name");
	ret = get_string_buf(c, name_s, pkey(&kp, vp.s, "name"), vip->name, sizeof(vip->name));
	if (ret)
		return ret;
	if (!is_label(vip->name))
		return fail(c, line_of(name_s), "%s: %s is not a valid VIP name (1..31 of A-Z a-z 0-9 _ . -)",
			    kp.s, quote(&q, vip->name));
	for (unsigned int j = 0; j < i; j++)
		if (!strcmp(d->cfg->vips[j].name, vip->name))
			return fail(c, line_of(name_s), "%s: %s is already the name of vips[%u] (line %u)",
				    kp.s, quote(&q, vip->name), j,
				    line_of(config_setting_get_elem(d->vips, j)));

	addr_s = config_setting_get_member(g, "address");
	ret = get_addr(c, addr_s, pkey(&kp, vp.s, "address"), 0, &vip->addr);
	if (ret)
		return ret;
	s = config_setting_get_member(g, "port");
	ret = get_int(c, s, pkey(&kp, vp.s, "port"), 0, 65535, &v);
	if (ret)
		return ret;
	vip->port = (__u16)v;
	s = config_setting_get_member(g, "protocol");
	ret = get_enum(c, s, pkey(&kp, vp.s, "protocol"), proto_names, &e);
	if (ret)
		return ret;
	vip->proto = proto_values[e];
	for (unsigned int j = 0; j < i; j++) {
		const struct sl_cfg_vip *o = &d->cfg->vips[j];
		char a[SL_ADDR_STRLEN];

		if (sl_addr_equal(&o->addr, &vip->addr) && o->port == vip->port &&
		    o->proto == vip->proto)
			return fail(c, line_of(addr_s), "%s: %s port %u %s is already served by vips[%u] \"%s\" (line %u)",
				    pkey(&kp, vp.s, "address"), sl_addr_str(&vip->addr, a, sizeof(a)),
				    vip->port, cfg_proto_name(vip->proto), j, o->name,
				    line_of(config_setting_get_elem(d->vips, j)));
	}

	ret = opt_enum(c, g, vp.s, "mode", vip_mode_names, &mode);
	if (!ret)
		ret = opt_enum(c, g, vp.s, "hash", vip_hash_names, &hash);
	if (!ret)
		ret = opt_enum(c, g, vp.s, "all_down", all_down_names, &all_down);
	if (ret)
		return ret;
	vip->mode = (enum sl_vip_mode)mode;
	vip->hash = (enum sl_vip_hash)hash;
	vip->all_down = (enum sl_vip_all_down)all_down;

	vip->src4 = d->cfg->src4;
	vip->src6 = d->cfg->src6;
	ret = opt_addr(c, g, vp.s, "source_ipv4", SL_FAMILY_V4, &vip->src4);
	if (!ret)
		ret = opt_addr(c, g, vp.s, "source_ipv6", SL_FAMILY_V6, &vip->src6);
	if (ret)
		return ret;

	cfg_vip_health(d->cfg, vip->proto, vip->port, &st.h);
	ret = hc_inherit(c, g, vp.s, &st);
	if (ret)
		return ret;
	vip->health = st.h;

	return parse_backends(c, d, g, vp.s, vip, &st);
}

static int parse_vips(struct pctx *c, struct doc *d, const config_setting_t *root)
{
	unsigned int n = 0;
	int ret;

	d->vips = config_setting_get_member(root, "vips");
	if (!d->vips)
		return 0;
	ret = get_list(c, d->vips, "vips", &n);
	if (ret || n == 0)
		return ret;
	if (n > SLUICE_MAX_VIPS)
		return fail(c, line_of(config_setting_get_elem(d->vips, SLUICE_MAX_VIPS)),
			    "vips: more than %d VIPs (SLUICE_MAX_VIPS)", SLUICE_MAX_VIPS);
	d->cfg->vips = calloc(n, sizeof(*d->cfg->vips));
	if (!d->cfg->vips)
		return fail_errno(c, -ENOMEM, "parsing");
	d->cfg->n_vips = n;
	for (unsigned int i = 0; i < n; i++) {
		ret = parse_vip(c, d, i);
		if (ret)
			return ret;
	}
	return 0;
}

static int parse_root(struct pctx *c, const config_setting_t *root, struct sl_config *cfg)
{
	struct doc d = { .cfg = cfg };
	int ret;

	ret = check_keys(c, root, "", top_keys);
	if (ret)
		return ret;

	cfg->hash_seed = SL_CFG_DEF_HASH_SEED;
	cfg->flow_table_size = SL_CFG_DEF_FLOWS;
	cfg->mtu = SL_CFG_DEF_MTU;
	cfg->new_flow_limit = SL_CFG_DEF_FLOW_LIMIT;
	strcpy(cfg->bpffs, SL_CFG_DEF_BPFFS);
	strcpy(cfg->ctl_socket, SL_CFG_DEF_SOCKET);

	ret = opt_u32(c, root, "", "hash_seed", 0, UINT32_MAX, &cfg->hash_seed);
	if (!ret)
		ret = opt_path(c, root, "", "bpffs", cfg->bpffs, sizeof(cfg->bpffs));
	if (!ret)
		ret = opt_u32(c, root, "", "flow_table_size", FLOWS_MIN, FLOWS_MAX,
			      &cfg->flow_table_size);
	if (!ret)
		ret = opt_u32(c, root, "", "new_flow_limit", 0, 100000000, &cfg->new_flow_limit);
	if (!ret)
		ret = opt_u32(c, root, "", "mtu", MTU_MIN, MTU_MAX, &cfg->mtu);
	if (!ret)
		ret = parse_ifaces(c, root, cfg);
	if (!ret)
		ret = parse_control(c, root, cfg);
	if (!ret)
		ret = parse_source(c, root, cfg);
	if (ret)
		return ret;

	hc_defaults(&d.global_hc);
	ret = hc_apply(c, config_setting_get_member(root, "health"), "health", &d.global_hc);
	if (ret)
		return ret;
	cfg->health = d.global_hc.h;
	cfg->health_type_set = d.global_hc.type_set;

	ret = parse_vips(c, &d, root);
	if (ret)
		return ret;

	if (d.first_v6_be && cfg->mtu < MTU_MIN_V6) {
		const config_setting_t *mtu_s = config_setting_get_member(root, "mtu");

		return fail(c, mtu_s ? line_of(mtu_s) : c->last_line, "mtu: %u is below %u, the IPv6 minimum, but vips[%u] has IPv6 backends (line %u)",
			    cfg->mtu, MTU_MIN_V6, d.first_v6_vip, line_of(d.first_v6_be));
	}
	return 0;
}

int cfg_parse_string(const char *text, const char *name, struct sl_config *out,
		     char *err, size_t errlen)
{
	struct pctx c = { .name = name ? name : "<string>", .err = err, .errlen = errlen };
	struct sl_config cfg;
	struct prescan ps;
	config_t lc;
	int ret;

	if (err && errlen)
		err[0] = '\0';
	if (!text || !out)
		return fail_errno(&c, -EINVAL, "no text to parse");

	prescan(text, &ps);
	c.last_line = ps.last_line;
	/* before libconfig runs: it would open the included file right away */
	if (ps.include_line)
		return fail(&c, ps.include_line, "@include is not supported; keep the configuration in one file");

	memset(&cfg, 0, sizeof(cfg));
	config_init(&lc);
	config_set_auto_convert(&lc, CONFIG_FALSE);
	if (!config_read_string(&lc, text)) {
		const char *why = config_error_text(&lc);

		ret = fail(&c, (unsigned int)config_error_line(&lc), "%s", why ? why : "syntax error");
		goto out;
	}
	if (ps.int_line) {
		ret = fail(&c, ps.int_line, "integer %s does not fit in 32 bits (libconfig would truncate it; add an L suffix for 64 bits)",
			   ps.int_text);
		goto out;
	}
	ret = parse_root(&c, config_root_setting(&lc), &cfg);
	if (ret)
		cfg_free(&cfg);
	else
		*out = cfg;
out:
	config_destroy(&lc);
	return ret;
}

int cfg_load(const char *path, struct sl_config *out, char *err, size_t errlen)
{
	struct pctx c = { .name = path ? path : "(null)", .err = err, .errlen = errlen };
	size_t len = 0, cap = 0;
	char *buf = NULL, *nul;
	struct stat st;
	int fd, ret;

	if (err && errlen)
		err[0] = '\0';
	if (!path || !out)
		return fail_errno(&c, -EINVAL, "cannot read");
	/* read it ourselves: errno stays exact, and there is no second open to race */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail_errno(&c, -errno, "cannot open");
	if (fstat(fd, &st) < 0) {
		ret = fail_errno(&c, -errno, "cannot read");
		goto out_close;
	}
	if (S_ISDIR(st.st_mode)) {
		ret = fail_errno(&c, -EISDIR, "cannot read");
		goto out_close;
	}
	for (;;) {
		ssize_t n;

		if (cap - len < 2) {
			char *nb;

			if (cap >= CFG_FILE_MAX) {
				ret = fail_errno(&c, -EFBIG, "cannot read");
				goto out_free;
			}
			cap = cap ? cap * 2 : 16384;
			nb = realloc(buf, cap);
			if (!nb) {
				ret = fail_errno(&c, -ENOMEM, "cannot read");
				goto out_free;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = fail_errno(&c, -errno, "cannot read");
			goto out_free;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	/* libconfig would silently stop at the first NUL and ignore the rest */
	nul = memchr(buf, '\0', len);
	if (nul) {
		unsigned int line = 1;

		for (const char *p = buf; p < nul; p++)
			line += *p == '\n';
		ret = fail(&c, line, "the file contains a NUL byte; is it a text file?");
		goto out_free;
	}
	ret = cfg_parse_string(buf, path, out, err, errlen);
out_free:
	free(buf);
out_close:
	close(fd);
	return ret;
}

void cfg_free(struct sl_config *cfg)
{
	if (!cfg)
		return;
	for (unsigned int i = 0; i < cfg->n_vips; i++)
		free(cfg->vips[i].backends);
	free(cfg->vips);
	free(cfg->ifaces);
	memset(cfg, 0, sizeof(*cfg));
}

const struct sl_cfg_vip *cfg_vip_find(const struct sl_config *cfg, const char *name)
{
	if (!cfg || !name)
		return NULL;
	for (unsigned int i = 0; i < cfg->n_vips; i++)
		if (!strcmp(cfg->vips[i].name, name))
			return &cfg->vips[i];
	return NULL;
}

/* ---- comparison ---------------------------------------------------------- */

static bool health_equal(const struct sl_cfg_health *a, const struct sl_cfg_health *b)
{
	return a->type == b->type && a->port == b->port &&
	       a->http_status_min == b->http_status_min &&
	       a->http_status_max == b->http_status_max &&
	       a->rise == b->rise && a->fall == b->fall &&
	       a->interval_ms == b->interval_ms && a->timeout_ms == b->timeout_ms &&
	       !strcmp(a->http_path, b->http_path) && !strcmp(a->http_host, b->http_host) &&
	       !strcmp(a->udp_payload, b->udp_payload) && !strcmp(a->udp_expect, b->udp_expect);
}

static bool vip_equal(const struct sl_cfg_vip *a, const struct sl_cfg_vip *b)
{
	if (strcmp(a->name, b->name) || !sl_addr_equal(&a->addr, &b->addr) ||
	    a->port != b->port || a->proto != b->proto || a->mode != b->mode ||
	    a->hash != b->hash || a->all_down != b->all_down ||
	    !sl_addr_equal(&a->src4, &b->src4) || !sl_addr_equal(&a->src6, &b->src6) ||
	    !health_equal(&a->health, &b->health) || a->n_backends != b->n_backends)
		return false;
	for (unsigned int i = 0; i < a->n_backends; i++) {
		const struct sl_cfg_backend *x = &a->backends[i], *y = &b->backends[i];

		if (!sl_addr_equal(&x->addr, &y->addr) || x->weight != y->weight ||
		    !health_equal(&x->health, &y->health))
			return false;
	}
	return true;
}

bool cfg_equal(const struct sl_config *a, const struct sl_config *b)
{
	if (a->hash_seed != b->hash_seed || a->flow_table_size != b->flow_table_size ||
	    a->mtu != b->mtu || a->new_flow_limit != b->new_flow_limit ||
	    a->health_type_set != b->health_type_set ||
	    strcmp(a->bpffs, b->bpffs) ||
	    strcmp(a->ctl_socket, b->ctl_socket) || strcmp(a->ctl_group, b->ctl_group) ||
	    !sl_addr_equal(&a->src4, &b->src4) || !sl_addr_equal(&a->src6, &b->src6) ||
	    !health_equal(&a->health, &b->health) || a->n_ifaces != b->n_ifaces ||
	    a->n_vips != b->n_vips || a->n_backends != b->n_backends)
		return false;
	for (unsigned int i = 0; i < a->n_ifaces; i++)
		if (strcmp(a->ifaces[i].name, b->ifaces[i].name) ||
		    a->ifaces[i].xdp_mode != b->ifaces[i].xdp_mode)
			return false;
	for (unsigned int i = 0; i < a->n_vips; i++)
		if (!vip_equal(&a->vips[i], &b->vips[i]))
			return false;
	return true;
}

/* ---- writing ------------------------------------------------------------- */

/* A libconfig string literal: quotes, backslashes and control bytes escaped. */
static void put_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			fprintf(f, "\\x%02x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static void put_addr(FILE *f, const struct sl_addr *a)
{
	char buf[SL_ADDR_STRLEN];

	put_str(f, sl_addr_str(a, buf, sizeof(buf)) ? buf : "");
}

/*
 * Write the health keys of @h that differ from @base (all of them when
 * @base is NULL), each as "<pre>key = value;<post>". The port is compared
 * with @def_port, what the reader would fill in. Returns how many keys
 * there are; with @f NULL it only counts.
 */
static int put_health(FILE *f, const struct sl_cfg_health *h, const struct sl_cfg_health *base,
		      bool type_set, __u16 def_port, const char *pre, const char *post)
{
	char buf[24];
	int n = 0;

#define HC_DIFF(cond) (!base || (cond))
#define HC_OUT(...) do { n++; if (f) { fputs(pre, f); __VA_ARGS__; fputs(post, f); } } while (0)
	/* Without a base (the global block) the type is written only if it was named. */
	if (base ? h->type != base->type : type_set)
		HC_OUT(fprintf(f, "type = \"%s\";", cfg_hc_type_name(h->type)));
	if (h->port != def_port)
		HC_OUT(fprintf(f, "port = %u;", h->port));
	if (HC_DIFF(h->interval_ms != base->interval_ms)) {
		fmt_secs(buf, sizeof(buf), h->interval_ms);
		HC_OUT(fprintf(f, "interval = %s;", buf));
	}
	if (HC_DIFF(h->timeout_ms != base->timeout_ms)) {
		fmt_secs(buf, sizeof(buf), h->timeout_ms);
		HC_OUT(fprintf(f, "timeout = %s;", buf));
	}
	if (HC_DIFF(h->rise != base->rise))
		HC_OUT(fprintf(f, "rise = %u;", h->rise));
	if (HC_DIFF(h->fall != base->fall))
		HC_OUT(fprintf(f, "fall = %u;", h->fall));
	if (HC_DIFF(strcmp(h->http_path, base->http_path)))
		HC_OUT(fputs("http_path = ", f); put_str(f, h->http_path); fputc(';', f));
	if (HC_DIFF(strcmp(h->http_host, base->http_host)))
		HC_OUT(fputs("http_host = ", f); put_str(f, h->http_host); fputc(';', f));
	if (HC_DIFF(h->http_status_min != base->http_status_min ||
		    h->http_status_max != base->http_status_max)) {
		if (h->http_status_min == h->http_status_max)
			HC_OUT(fprintf(f, "http_status = \"%u\";", h->http_status_min));
		else
			HC_OUT(fprintf(f, "http_status = \"%u-%u\";", h->http_status_min,
				       h->http_status_max));
	}
	if (HC_DIFF(strcmp(h->udp_payload, base->udp_payload)))
		HC_OUT(fputs("udp_payload = ", f); put_str(f, h->udp_payload); fputc(';', f));
	if (HC_DIFF(strcmp(h->udp_expect, base->udp_expect)))
		HC_OUT(fputs("udp_expect = ", f); put_str(f, h->udp_expect); fputc(';', f));
#undef HC_OUT
#undef HC_DIFF
	return n;
}

static void put_vip(FILE *f, const struct sl_config *cfg, const struct sl_cfg_vip *v)
{
	__u16 def_port = cfg->health.port ? cfg->health.port : v->port;

	fputs("\t{\n\t\tname = ", f);
	put_str(f, v->name);
	fputs(";\n\t\taddress = ", f);
	put_addr(f, &v->addr);
	fprintf(f, ";\n\t\tport = %u;\n\t\tprotocol = \"%s\";\n", v->port, cfg_proto_name(v->proto));
	fprintf(f, "\t\tmode = \"%s\";\n\t\thash = \"%s\";\n\t\tall_down = \"%s\";\n",
		cfg_vip_mode_name(v->mode), cfg_vip_hash_name(v->hash),
		cfg_vip_all_down_name(v->all_down));
	/* only what the global source would not give by itself */
	if (!sl_addr_equal(&v->src4, &cfg->src4)) {
		fputs("\t\tsource_ipv4 = ", f);
		put_addr(f, &v->src4);
		fputs(";\n", f);
	}
	if (!sl_addr_equal(&v->src6, &cfg->src6)) {
		fputs("\t\tsource_ipv6 = ", f);
		put_addr(f, &v->src6);
		fputs(";\n", f);
	}
	if (put_health(NULL, &v->health, &cfg->health, true, def_port, "", "")) {
		fputs("\t\thealth = {\n", f);
		put_health(f, &v->health, &cfg->health, true, def_port, "\t\t\t", "\n");
		fputs("\t\t};\n", f);
	}
	fputs("\t\tbackends = (", f);
	for (unsigned int i = 0; i < v->n_backends; i++) {
		const struct sl_cfg_backend *b = &v->backends[i];

		fputs(i ? ",\n\t\t\t{ address = " : "\n\t\t\t{ address = ", f);
		put_addr(f, &b->addr);
		fprintf(f, "; weight = %u;", b->weight);
		if (put_health(NULL, &b->health, &v->health, true, v->health.port, "", "")) {
			fputs(" health = {", f);
			put_health(f, &b->health, &v->health, true, v->health.port, " ", "");
			fputs(" };", f);
		}
		fputs(" }", f);
	}
	fputs(v->n_backends ? "\n\t\t);\n\t}" : ");\n\t}", f);
}

int cfg_write(const struct sl_config *cfg, FILE *f)
{
	fputs("# sluice configuration (see docs/CONFIG.md)\n", f);
	fprintf(f, "hash_seed = 0x%08x;\n", cfg->hash_seed);
	fputs("bpffs = ", f);
	put_str(f, cfg->bpffs);
	fprintf(f, ";\nflow_table_size = %u;\nmtu = %u;\nnew_flow_limit = %u;\n",
		cfg->flow_table_size, cfg->mtu, cfg->new_flow_limit);

	fputs("interfaces = (\n", f);
	for (unsigned int i = 0; i < cfg->n_ifaces; i++) {
		fputs("\t{ name = ", f);
		put_str(f, cfg->ifaces[i].name);
		fprintf(f, "; xdp_mode = \"%s\"; }%s\n", cfg_xdp_mode_name(cfg->ifaces[i].xdp_mode),
			i + 1 < cfg->n_ifaces ? "," : "");
	}
	fputs(");\n", f);

	fputs("control = {\n\tsocket = ", f);
	put_str(f, cfg->ctl_socket);
	fputs(";\n", f);
	if (cfg->ctl_group[0]) {
		fputs("\tgroup = ", f);
		put_str(f, cfg->ctl_group);
		fputs(";\n", f);
	}
	fputs("};\n", f);

	if (cfg->src4.family || cfg->src6.family) {
		fputs("source = {\n", f);
		if (cfg->src4.family) {
			fputs("\tipv4 = ", f);
			put_addr(f, &cfg->src4);
			fputs(";\n", f);
		}
		if (cfg->src6.family) {
			fputs("\tipv6 = ", f);
			put_addr(f, &cfg->src6);
			fputs(";\n", f);
		}
		fputs("};\n", f);
	}

	fputs("health = {\n", f);
	put_health(f, &cfg->health, NULL, cfg->health_type_set, 0, "\t", "\n");
	fputs("};\n", f);

	fputs("vips = (\n", f);
	for (unsigned int i = 0; i < cfg->n_vips; i++) {
		put_vip(f, cfg, &cfg->vips[i]);
		fputs(i + 1 < cfg->n_vips ? ",\n" : "\n", f);
	}
	fputs(");\n", f);

	if (fflush(f) == EOF || ferror(f))
		return -EIO;
	return 0;
}
