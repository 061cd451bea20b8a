/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Configuration parsing: the good and bad corpora, inheritance, limits and round trips. */
#define _GNU_SOURCE	/* asprintf, open_memstream */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "config.h"

/* The tests/ directory: $SLUICE_TEST_DIR, or tests/ under the cwd (the repo root). */
static const char *test_dir(void)
{
	const char *d = getenv("SLUICE_TEST_DIR");

	return d && *d ? d : "tests";
}

static char *corpus_path(const char *sub, const char *file)
{
	char *p;

	cr_assert(asprintf(&p, "%s/config/%s/%s", test_dir(), sub, file) > 0);
	return p;
}

/* Load a file that must be good; fails the test with the parser's message. */
static void load_ok(const char *path, struct sl_config *cfg)
{
	char err[512];
	int ret;

	memset(cfg, 0, sizeof(*cfg));
	ret = cfg_load(path, cfg, err, sizeof(err));
	cr_assert_eq(ret, 0, "%s: cfg_load returned %d: %s", path, ret, err);
}

static void load_good(const char *file, struct sl_config *cfg)
{
	char *p = corpus_path("good", file);

	load_ok(p, cfg);
	free(p);
}

static int parse(const char *text, struct sl_config *cfg, char *err, size_t errlen)
{
	memset(cfg, 0, sizeof(*cfg));
	return cfg_parse_string(text, "test.conf", cfg, err, errlen);
}

/* Returns true when every one of the @n bytes at @p is @v. */
static bool all_bytes(const void *p, size_t n, unsigned char v)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i] != v)
			return false;
	return true;
}

/* A pattern no parse writes: output left alone by a failure still holds it. */
#define POISON 0xa5

static const char *astr(const struct sl_addr *a, char *buf)
{
	return sl_addr_str(a, buf, SL_ADDR_STRLEN) ? buf : "(none)";
}

/* Names of the *.conf files in @dir, sorted; returns how many. */
static int list_conf(const char *dir, char ***names)
{
	struct dirent **ents;
	int n, k = 0;

	n = scandir(dir, &ents, NULL, alphasort);
	cr_assert_geq(n, 0, "cannot list %s: %s (run from the repo root or set SLUICE_TEST_DIR)",
		      dir, strerror(errno));
	*names = calloc((size_t)n + 1, sizeof(char *));
	for (int i = 0; i < n; i++) {
		size_t len = strlen(ents[i]->d_name);

		if (len > 5 && !strcmp(ents[i]->d_name + len - 5, ".conf"))
			(*names)[k++] = strdup(ents[i]->d_name);
		free(ents[i]);
	}
	free(ents);
	return k;
}

static void free_names(char **names)
{
	for (char **n = names; *n; n++)
		free(*n);
	free(names);
}

/* ---- the good corpus ------------------------------------------------------ */

Test(config, minimal_gets_defaults)
{
	struct sl_config c;

	load_good("minimal.conf", &c);
	cr_assert_eq(c.hash_seed, SL_CFG_DEF_HASH_SEED);
	cr_assert_eq(c.flow_table_size, SLUICE_MAX_FLOWS);
	cr_assert_eq(c.mtu, 1500);
	cr_assert_str_eq(c.bpffs, "/sys/fs/bpf/sluice");
	cr_assert_str_eq(c.ctl_socket, "/run/sluice/sluice.sock");
	cr_assert_str_eq(c.ctl_group, "");
	cr_assert_eq(c.src4.family, 0);
	cr_assert_eq(c.src6.family, 0);
	cr_assert_eq(c.n_ifaces, 1);
	cr_assert_str_eq(c.ifaces[0].name, "eth0");
	cr_assert_eq(c.ifaces[0].xdp_mode, SL_XDP_NATIVE);
	cr_assert_eq(c.n_vips, 0);
	cr_assert_eq(c.n_backends, 0);
	cr_assert_eq(c.health.type, SL_HC_TCP);
	cr_assert_eq(c.health.port, 0);
	cr_assert_eq(c.health.interval_ms, 2000);
	cr_assert_eq(c.health.timeout_ms, 1000);
	cr_assert_eq(c.health.rise, 2);
	cr_assert_eq(c.health.fall, 3);
	cr_assert_str_eq(c.health.http_path, "/");
	cr_assert_eq(c.health.http_status_min, 200);
	cr_assert_eq(c.health.http_status_max, 399);
	cfg_free(&c);
	cr_assert(all_bytes(&c, sizeof(c), 0), "cfg_free leaves the struct zeroed");
}

Test(config, full_sets_everything)
{
	const struct sl_cfg_vip *v;
	struct sl_config c;
	char b[SL_ADDR_STRLEN];

	load_good("full.conf", &c);
	cr_assert_eq(c.hash_seed, 0xdeadbeef, "hex above INT32_MAX is read as unsigned");
	cr_assert_str_eq(c.bpffs, "/sys/fs/bpf/sluice-test");
	cr_assert_eq(c.flow_table_size, 65536);
	cr_assert_eq(c.mtu, 9000);
	cr_assert_eq(c.n_ifaces, 2);
	cr_assert_str_eq(c.ifaces[1].name, "veth-lb.1");
	cr_assert_eq(c.ifaces[1].xdp_mode, SL_XDP_GENERIC);
	cr_assert_str_eq(c.ctl_socket, "/run/sluice-test/ctl.sock");
	cr_assert_str_eq(c.ctl_group, "sluice-ops");
	cr_assert_str_eq(astr(&c.src4, b), "192.0.2.1");
	cr_assert_str_eq(astr(&c.src6, b), "2001:db8::1");
	cr_assert_eq(c.health.type, SL_HC_HTTP);
	cr_assert_eq(c.health.port, 8080);
	cr_assert_eq(c.health.interval_ms, 3000, "an integer interval is seconds");
	cr_assert_eq(c.health.timeout_ms, 1500);
	cr_assert_eq(c.health.http_status_min, 204);
	cr_assert_eq(c.health.http_status_max, 204);
	cr_assert_str_eq(c.health.udp_payload, "hello\n");
	cr_assert_str_eq(c.health.udp_expect, "ok \"quoted\" \\");
	cr_assert_eq(c.n_vips, 2);
	cr_assert_eq(c.n_backends, 4);

	v = cfg_vip_find(&c, "web_1.prod-a");
	cr_assert_not_null(v);
	cr_assert_eq(v, &c.vips[0]);
	cr_assert_eq(v->proto, IPPROTO_TCP);
	cr_assert_eq(v->port, 443);
	cr_assert_eq(v->hash, SL_VIP_HASH_SOURCE);
	cr_assert_eq(v->all_down, SL_VIP_ALL_DOWN_ALL);
	cr_assert_eq(v->mode, SL_VIP_MODE_ENCAP);
	cr_assert_str_eq(astr(&v->src4, b), "192.0.2.2", "per-VIP source overrides the global one");
	cr_assert_str_eq(astr(&v->src6, b), "2001:db8::2");
	cr_assert_eq(v->backends[0].weight, 0);
	cr_assert_eq(v->backends[1].weight, 65535);
	cr_assert_eq(v->backends[2].addr.family, SL_FAMILY_V6);
	cr_assert_eq(v->backends[0].health.type, SL_HC_TCP);
	cr_assert_eq(v->backends[0].health.port, 443);
	cr_assert_eq(v->backends[2].health.type, SL_HC_HTTP);
	cr_assert_eq(v->backends[2].health.http_status_min, 200);
	cr_assert_eq(v->backends[2].health.http_status_max, 204);
	cr_assert_str_eq(v->backends[2].health.http_host, "lb.example", "global http_host inherited");

	v = cfg_vip_find(&c, "udp-svc");
	cr_assert_not_null(v);
	cr_assert_eq(v->proto, IPPROTO_UDP);
	cr_assert_eq(v->port, 65535);
	cr_assert_str_eq(astr(&v->src4, b), "192.0.2.1", "global source when not overridden");
	cr_assert_eq(v->health.port, 8080, "a global health port applies to every VIP");
	cr_assert_str_eq(v->backends[0].health.udp_payload, "\x01\x02");
	cr_assert_str_eq(v->backends[0].health.udp_expect, "");
	cr_assert_null(cfg_vip_find(&c, "nope"));
	cfg_free(&c);
}

Test(config, ipv6)
{
	struct sl_config c;
	char b[SL_ADDR_STRLEN];

	load_good("ipv6.conf", &c);
	cr_assert_eq(c.n_vips, 1);
	cr_assert_eq(c.vips[0].addr.family, SL_FAMILY_V6);
	cr_assert_str_eq(astr(&c.vips[0].addr, b), "fd00:100::80");
	cr_assert_eq(c.vips[0].src4.family, 0);
	cr_assert_str_eq(astr(&c.vips[0].src6, b), "fd00::1");
	cr_assert_eq(c.vips[0].n_backends, 2);
	cr_assert_eq(c.vips[0].backends[1].weight, 200);
	cr_assert_eq(c.vips[0].backends[0].weight, SL_CFG_DEF_WEIGHT);
	cfg_free(&c);
}

Test(config, mixed_4in6)
{
	const struct sl_cfg_vip *v;
	struct sl_config c;
	char b[SL_ADDR_STRLEN];

	load_good("mixed-4in6.conf", &c);
	v = &c.vips[0];
	cr_assert_eq(v->addr.family, SL_FAMILY_V4);
	cr_assert_eq(v->backends[0].addr.family, SL_FAMILY_V4);
	cr_assert_eq(v->backends[1].addr.family, SL_FAMILY_V6);
	cr_assert_str_eq(astr(&v->src4, b), "10.0.0.1");
	cr_assert_str_eq(astr(&v->src6, b), "fd00::1");
	cr_assert_eq(c.src6.family, 0, "the VIP's own IPv6 source is not global");
	cfg_free(&c);
}

Test(config, source_hash)
{
	struct sl_config c;

	load_good("source-hash.conf", &c);
	cr_assert_eq(c.vips[0].hash, SL_VIP_HASH_SOURCE);
	cr_assert_eq(c.vips[0].all_down, SL_VIP_ALL_DOWN_DROP);
	cfg_free(&c);
}

Test(config, port0_vips)
{
	const struct sl_cfg_vip *v;
	struct sl_config c;

	load_good("port0.conf", &c);
	v = cfg_vip_find(&c, "all-tcp");
	cr_assert_eq(v->port, 0);
	cr_assert_eq(v->health.port, 22);
	cr_assert_eq(v->backends[0].health.port, 22);
	v = cfg_vip_find(&c, "all-udp");
	cr_assert_eq(v->health.type, SL_HC_NONE);
	cr_assert_eq(v->health.port, 0);
	cr_assert_eq(v->backends[0].health.type, SL_HC_NONE);
	cr_assert_eq(v->backends[1].health.type, SL_HC_UDP);
	cr_assert_eq(v->backends[1].health.port, 53);
	v = cfg_vip_find(&c, "ssh");
	cr_assert_eq(v->port, 22);
	cr_assert_eq(v->health.port, 22, "the check port defaults to the VIP port");
	cfg_free(&c);
}

Test(config, health_inheritance)
{
	const struct sl_cfg_health *h;
	const struct sl_cfg_vip *v;
	struct sl_config c;

	load_good("health-overrides.conf", &c);
	/* global: built-in defaults <- health { } */
	h = &c.health;
	cr_assert_eq(h->type, SL_HC_HTTP);
	cr_assert_eq(h->interval_ms, 5000);
	cr_assert_eq(h->timeout_ms, 1000, "an unset timeout is min(1 s, interval)");
	cr_assert_eq(h->rise, 3);
	cr_assert_eq(h->fall, 3);
	cr_assert_str_eq(h->http_path, "/ping");

	/* VIP level */
	v = cfg_vip_find(&c, "inherit");
	h = &v->health;
	cr_assert_eq(h->type, SL_HC_HTTP);
	cr_assert_eq(h->port, 80);
	cr_assert_eq(h->interval_ms, 500);
	cr_assert_eq(h->timeout_ms, 500, "the unset timeout follows a shorter interval");
	cr_assert_eq(h->rise, 3);
	cr_assert_eq(h->fall, 7);
	cr_assert_str_eq(h->http_path, "/ping");
	cr_assert_str_eq(h->http_host, "inherit.example");

	/* backend without overrides: exactly the VIP's */
	h = &v->backends[0].health;
	cr_assert_eq(h->type, SL_HC_HTTP);
	cr_assert_eq(h->port, 80);
	cr_assert_eq(h->interval_ms, 500);
	cr_assert_eq(h->fall, 7);
	cr_assert_str_eq(h->http_host, "inherit.example");

	/* backend overriding type, port and rise; the rest from the VIP and global */
	h = &v->backends[1].health;
	cr_assert_eq(h->type, SL_HC_TCP);
	cr_assert_eq(h->port, 8080);
	cr_assert_eq(h->rise, 1);
	cr_assert_eq(h->fall, 7);
	cr_assert_eq(h->interval_ms, 500);
	cr_assert_eq(h->timeout_ms, 500);
	cr_assert_str_eq(h->http_path, "/ping");

	/* backend overriding http details and the timeout */
	h = &v->backends[2].health;
	cr_assert_eq(h->type, SL_HC_HTTP);
	cr_assert_str_eq(h->http_path, "/deep");
	cr_assert_eq(h->http_status_min, 200);
	cr_assert_eq(h->http_status_max, 200);
	cr_assert_eq(h->timeout_ms, 250);
	cr_assert_eq(h->interval_ms, 500);
	cr_assert_str_eq(h->http_host, "inherit.example");

	/* a VIP without a health group gets the global settings and its own port */
	v = cfg_vip_find(&c, "defaults");
	h = &v->backends[0].health;
	cr_assert_eq(h->type, SL_HC_HTTP);
	cr_assert_eq(h->port, 8443);
	cr_assert_eq(h->interval_ms, 5000);
	cr_assert_eq(h->timeout_ms, 1000);
	cr_assert_eq(h->rise, 3);
	cr_assert_str_eq(h->http_path, "/ping");
	cfg_free(&c);
}

Test(config, empty_backends)
{
	struct sl_config c;

	/* the file sets no outer source: loading it shows none is needed without backends */
	load_good("empty-backends.conf", &c);
	cr_assert_eq(c.n_vips, 2);
	cr_assert_eq(c.vips[0].n_backends, 0);
	cr_assert_null(c.vips[0].backends);
	cr_assert_eq(c.vips[1].n_backends, 0);
	cfg_free(&c);
}

/* The whole good corpus loads in good_corpus_loads_and_round_trips. */
Test(config, example_config)
{
	struct sl_config c;
	char *example;

	cr_assert(asprintf(&example, "%s/../configs/sluice.conf", test_dir()) > 0);
	load_ok(example, &c);
	cr_assert_not_null(cfg_vip_find(&c, "web"));
	cr_assert_eq(cfg_vip_find(&c, "dns")->backends[1].health.port, 5353);
	cfg_free(&c);
	free(example);
}

/* ---- the bad corpus -------------------------------------------------------- */

/*
 * Every file under bad/ starts with "# expect: LINE: substring": loading it
 * must fail with -EINVAL and one line "PATH:LINE: ...substring...".
 */
Test(config, bad_corpus_is_rejected_with_file_and_line)
{
	char dir[512], **names;
	int n;

	snprintf(dir, sizeof(dir), "%s/config/bad", test_dir());
	n = list_conf(dir, &names);
	cr_assert_geq(n, 60, "bad corpus has %d files", n);
	for (int i = 0; i < n; i++) {
		char path[1024], first[512], err[1024], prefix[1100], *sub, *nl;
		struct sl_config c;
		unsigned int line;
		int off = 0, ret;
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		f = fopen(path, "r");
		cr_assert_not_null(f, "%s: %s", path, strerror(errno));
		cr_assert_not_null(fgets(first, sizeof(first), f), "%s: empty", path);
		fclose(f);
		nl = strchr(first, '\n');
		if (nl)
			*nl = '\0';
		if (sscanf(first, "# expect: %u: %n", &line, &off) != 1 || !off) {
			cr_expect_fail("%s: first line must be \"# expect: LINE: substring\"", path);
			continue;
		}
		sub = first + off;

		memset(&c, POISON, sizeof(c));
		ret = cfg_load(path, &c, err, sizeof(err));
		cr_expect_eq(ret, -EINVAL, "%s: expected -EINVAL, got %d (%s)", path, ret, err);
		snprintf(prefix, sizeof(prefix), "%s:%u: ", path, line);
		cr_expect(!strncmp(err, prefix, strlen(prefix)),
			  "%s: message should start with \"%s\": %s", path, prefix, err);
		cr_expect_not_null(strstr(err, sub), "%s: message should contain \"%s\": %s",
				   path, sub, err);
		cr_expect_null(strchr(err, '\n'), "%s: message must be one line", path);
		cr_expect(all_bytes(&c, sizeof(c), POISON), "%s: output touched on failure", path);
		if (!ret)
			cfg_free(&c);
	}
	free_names(names);
}

Test(config, failure_leaves_output_untouched)
{
	struct sl_config c;
	char err[256];

	memset(&c, POISON, sizeof(c));
	cr_assert_eq(cfg_parse_string("interfaces = ( { name = \"eth0\"; } );\n"
				      "vips = ( { name = \"a\"; address = \"10.0.0.1\"; port = 1;"
				      " protocol = \"tcp\"; backends = ( { address = \"10.0.0.2\"; } ); } );\n",
				      "x.conf", &c, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "x.conf:2: vips[0]: IPv4 backend but no IPv4 outer source; set source.ipv4 or vips[0].source_ipv4");
	cr_assert(all_bytes(&c, sizeof(c), POISON), "a failed parse must not write *out");
}

/* ---- I/O and API edges ----------------------------------------------------- */

Test(config, missing_file)
{
	struct sl_config c;
	char err[256];

	memset(&c, POISON, sizeof(c));
	cr_assert_eq(cfg_load("/nonexistent/sluice.conf", &c, err, sizeof(err)), -ENOENT);
	cr_assert_str_eq(err, "/nonexistent/sluice.conf: cannot open: No such file or directory");
	cr_assert(all_bytes(&c, sizeof(c), POISON), "a failed load must not write *out");
}

Test(config, directory_is_not_a_file)
{
	struct sl_config c = { 0 };
	char err[256];

	cr_assert_eq(cfg_load(test_dir(), &c, err, sizeof(err)), -EISDIR);
	cr_assert_not_null(strstr(err, "Is a directory"), "%s", err);
}

Test(config, parse_string_names_the_source)
{
	struct sl_config c;
	char err[256];

	cr_assert_eq(parse("mtu = 1;\n", &c, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "test.conf:1: mtu: 1 is out of range (576..9000)");
	memset(&c, 0, sizeof(c));
	cr_assert_eq(cfg_parse_string("a b c", NULL, &c, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "<string>:1: syntax error");
	/* a tiny buffer is cut, not overrun; a NULL one is allowed */
	cr_assert_eq(parse("mtu = 1;\n", &c, err, 8), -EINVAL);
	cr_assert_eq(strlen(err), 7);
	cr_assert_eq(parse("mtu = 1;\n", &c, NULL, 0), -EINVAL);
}

Test(config, hash_seed_full_u32_range)
{
	static const struct {
		const char *lit;
		__u32 seed;
	} ok[] = { { "0xffffffff", 0xffffffffU }, { "4294967295L", 0xffffffffU }, { "0", 0 } };
	struct sl_config c;
	char text[128], err[256];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(text, sizeof(text), "hash_seed = %s; interfaces = ( { name = \"lo0\"; } );",
			 ok[i].lit);
		cr_assert_eq(parse(text, &c, err, sizeof(err)), 0, "%s: %s", ok[i].lit, err);
		cr_assert_eq(c.hash_seed, ok[i].seed, "hash_seed = %s", ok[i].lit);
		cfg_free(&c);
	}
	/* decimal beyond INT32_MAX is what libconfig 1.5 silently truncates */
	cr_assert_eq(parse("hash_seed = 4294967295; interfaces = ( { name = \"lo0\"; } );",
			   &c, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "does not fit in 32 bits"), "%s", err);
}

Test(config, numbers_inside_strings_and_comments_are_not_integers)
{
	struct sl_config c;
	char err[256];

	/* 11 digits would not fit in 32 bits, but none of these is an integer */
	cr_assert_eq(parse("# 99999999999 in a comment\n/* 99999999999 */ // 99999999999\n"
			   "interfaces = ( { name = \"e9999999999\"; } );\n"
			   "health = { udp_payload = \"99999999999\"; interval = 1e1; timeout = .5; };\n",
			   &c, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.health.interval_ms, 10000);
	cr_assert_eq(c.health.timeout_ms, 500);
	cfg_free(&c);
}

/* ---- limits ------------------------------------------------------------------ */

/* Text with @nvips VIPs of @per backends each, one backend per line. */
static char *gen_config(unsigned int nvips, unsigned int per, unsigned int *last_line)
{
	unsigned int line = 1;
	size_t len;
	char *text;
	FILE *f;

	f = open_memstream(&text, &len);
	cr_assert_not_null(f);
	fputs("interfaces = ( { name = \"eth0\"; } );\n"
	      "source = { ipv4 = \"10.255.255.1\"; };\n"
	      "vips = (\n", f);
	line += 3;
	for (unsigned int v = 0; v < nvips; v++) {
		fprintf(f, "{ name = \"v%u\"; address = \"10.%u.%u.1\"; port = 80; protocol = \"tcp\";\n"
			"  backends = (\n", v, v >> 8, v & 255);
		line += 2;
		for (unsigned int b = 0; b < per; b++) {
			*last_line = line;
			fprintf(f, "    { address = \"172.%u.%u.%u\"; }%s\n",
				16 + (b >> 16), (b >> 8) & 255, b & 255, b + 1 < per ? "," : "");
			line++;
		}
		if (!per)
			*last_line = line - 2;
		fprintf(f, "  ); }%s\n", v + 1 < nvips ? "," : "");
		line++;
	}
	fputs(");\n", f);
	fclose(f);
	return text;
}

Test(config, vip_limit)
{
	struct sl_config c;
	char err[256], want[128];
	unsigned int last;
	char *text;

	text = gen_config(SLUICE_MAX_VIPS, 0, &last);
	cr_assert_eq(parse(text, &c, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.n_vips, SLUICE_MAX_VIPS);
	cfg_free(&c);
	free(text);

	text = gen_config(SLUICE_MAX_VIPS + 1, 0, &last);
	cr_assert_eq(parse(text, &c, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "test.conf:%u: vips: more than %d VIPs", last, SLUICE_MAX_VIPS);
	cr_assert(!strncmp(err, want, strlen(want)), "want \"%s\", got \"%s\"", want, err);
	free(text);
}

Test(config, backend_limit)
{
	unsigned int per = SLUICE_MAX_BACKENDS / 4, last;
	struct sl_config c;
	char err[256], want[160];
	char *text;

	cr_assert_eq(SLUICE_MAX_BACKENDS % 4, 0);
	text = gen_config(4, per, &last);
	cr_assert_eq(parse(text, &c, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.n_backends, SLUICE_MAX_BACKENDS);
	cfg_free(&c);
	free(text);

	/* one backend more, in the last VIP: the error is at that backend */
	text = gen_config(5, per, &last);
	cr_assert_eq(parse(text, &c, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "test.conf:%u: vips[4].backends: more than %d backends",
		 last - per + 1, SLUICE_MAX_BACKENDS);
	cr_assert(!strncmp(err, want, strlen(want)), "want \"%s\", got \"%s\"", want, err);
	free(text);
}

/* ---- round trip ------------------------------------------------------------ */

static char *write_text(const struct sl_config *c)
{
	char *text;
	size_t len;
	FILE *f;

	f = open_memstream(&text, &len);
	cr_assert_not_null(f);
	cr_assert_eq(cfg_write(c, f), 0);
	fclose(f);
	return text;
}

static void round_trip(const char *path)
{
	struct sl_config a, b;
	char err[512], *t1, *t2;

	load_ok(path, &a);
	t1 = write_text(&a);
	memset(&b, 0, sizeof(b));
	cr_assert_eq(cfg_parse_string(t1, "dump", &b, err, sizeof(err)), 0,
		     "%s: the written config does not parse: %s\n%s", path, err, t1);
	cr_assert(cfg_equal(&a, &b), "%s: parse(write(x)) differs from x:\n%s", path, t1);
	t2 = write_text(&b);
	cr_assert_str_eq(t1, t2, "%s: writing is not stable", path);
	free(t1);
	free(t2);
	cfg_free(&a);
	cfg_free(&b);
}

/* Every good file and the shipped example loads, and cfg_write gives it back. */
Test(config, good_corpus_loads_and_round_trips)
{
	char dir[512], path[1024], **names;
	int n;

	snprintf(dir, sizeof(dir), "%s/config/good", test_dir());
	n = list_conf(dir, &names);
	cr_assert_geq(n, 8, "good corpus has %d files", n);
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		round_trip(path);
	}
	free_names(names);
	snprintf(path, sizeof(path), "%s/../configs/sluice.conf", test_dir());
	round_trip(path);
}

Test(config, cfg_equal_sees_differences)
{
	struct sl_config a, b;

	load_good("health-overrides.conf", &a);
	load_good("health-overrides.conf", &b);
	cr_assert(cfg_equal(&a, &b));
	b.vips[0].backends[2].health.http_path[1] = 'D';
	cr_assert_not(cfg_equal(&a, &b));
	b.vips[0].backends[2].health.http_path[1] = 'd';
	cr_assert(cfg_equal(&a, &b));
	b.vips[1].backends[0].weight++;
	cr_assert_not(cfg_equal(&a, &b));
	cfg_free(&a);
	cfg_free(&b);
}

/* ---- address helpers --------------------------------------------------------- */

Test(config, addr_helpers)
{
	struct sl_addr a, b;
	char buf[SL_ADDR_STRLEN];

	cr_assert_eq(sl_addr_parse("10.1.2.3", &a), 0);
	cr_assert_eq(a.family, SL_FAMILY_V4);
	cr_assert_eq(a.addr[0], htonl(0x0a010203), "IPv4 sits in addr[0], network order");
	cr_assert_eq(a.addr[1] | a.addr[2] | a.addr[3], 0);
	cr_assert_str_eq(sl_addr_str(&a, buf, sizeof(buf)), "10.1.2.3");

	cr_assert_eq(sl_addr_parse("2001:DB8:0:0::1", &b), 0);
	cr_assert_eq(b.family, SL_FAMILY_V6);
	cr_assert_eq(b.addr[0], htonl(0x20010db8));
	cr_assert_eq(b.addr[3], htonl(1));
	cr_assert_str_eq(sl_addr_str(&b, buf, sizeof(buf)), "2001:db8::1");
	cr_assert_lt(sl_addr_cmp(&a, &b), 0, "IPv4 sorts before IPv6");
	cr_assert_not(sl_addr_equal(&a, &b));

	cr_assert_eq(sl_addr_parse("10.0.0.300", &a), -EINVAL);
	cr_assert_eq(sl_addr_parse("10.1", &a), -EINVAL, "no inet_aton shorthand");
	cr_assert_eq(sl_addr_parse("fe80::1%eth0", &a), -EINVAL, "no scope");
	cr_assert_eq(sl_addr_parse("", &a), -EINVAL);

	memset(&a, 0, sizeof(a));
	errno = 0;
	cr_assert_null(sl_addr_str(&a, buf, sizeof(buf)));
	cr_assert_eq(errno, EAFNOSUPPORT);
	cr_assert_eq(sl_addr_parse("fd00::1", &a), 0);
	cr_assert_null(sl_addr_str(&a, buf, 4));
	cr_assert_eq(errno, ENOSPC);
}

Test(config, enum_names)
{
	cr_assert_str_eq(cfg_hc_type_name(SL_HC_HTTP), "http");
	cr_assert_str_eq(cfg_vip_hash_name(SL_VIP_HASH_5TUPLE), "5tuple");
	cr_assert_str_eq(cfg_xdp_mode_name(SL_XDP_GENERIC), "generic");
	cr_assert_str_eq(cfg_vip_all_down_name(SL_VIP_ALL_DOWN_ALL), "all");
	cr_assert_str_eq(cfg_vip_mode_name(SL_VIP_MODE_ENCAP), "encap");
	cr_assert_str_eq(cfg_proto_name(IPPROTO_UDP), "udp");
	cr_assert_str_eq(cfg_proto_name(1), "unknown");
	cr_assert_str_eq(cfg_hc_type_name((enum sl_hc_type)42), "unknown");
}

Test(config, udp_vips_are_not_tcp_checked_by_default)
{
	const char *base =
		"interfaces = ( { name = \"eth0\"; } );\n"
		"source = { ipv4 = \"10.0.0.1\"; };\n"
		"%s\n"
		"vips = ( { name = \"u\"; address = \"10.0.0.100\"; port = 53; protocol = \"udp\";\n"
		"           backends = ( { address = \"10.1.0.1\"; } ); },\n"
		"         { name = \"t\"; address = \"10.0.0.100\"; port = 80; protocol = \"tcp\";\n"
		"           backends = ( { address = \"10.1.0.1\"; } ); } );\n";
	struct sl_config c = {};
	char text[1024], err[256];

	snprintf(text, sizeof(text), base, "");
	cr_assert_eq(parse(text, &c, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.vips[0].backends[0].health.type, SL_HC_NONE, "UDP VIP got a TCP check");
	cr_assert_eq(c.vips[1].backends[0].health.type, SL_HC_TCP, "TCP VIP lost its default");
	/* A VIP added at run time resolves the same way, also after a dump. */
	struct sl_cfg_health h;
	struct sl_config back = {};
	char *buf = NULL;
	size_t blen = 0;
	FILE *f = open_memstream(&buf, &blen);

	cr_assert_eq(cfg_write(&c, f), 0);
	fclose(f);
	cr_assert_eq(parse(buf, &back, err, sizeof(err)), 0, "%s", err);
	free(buf);
	cfg_vip_health(&back, IPPROTO_UDP, 5353, &h);
	cr_assert_eq(h.type, SL_HC_NONE, "the dump made the global TCP type explicit");
	cr_assert_eq(h.port, 5353);
	cfg_vip_health(&back, IPPROTO_TCP, 8080, &h);
	cr_assert_eq(h.type, SL_HC_TCP);
	cfg_free(&back);
	cfg_free(&c);
	/* Asked for explicitly, even globally, it is honoured. */
	snprintf(text, sizeof(text), base, "health = { type = \"tcp\"; port = 53; };");
	cr_assert_eq(parse(text, &c, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.vips[0].backends[0].health.type, SL_HC_TCP);
	cfg_vip_health(&c, IPPROTO_UDP, 5353, &h);
	cr_assert_eq(h.type, SL_HC_TCP, "a named global type applies to UDP VIPs too");
	cfg_free(&c);
}
