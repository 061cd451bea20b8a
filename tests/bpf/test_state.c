// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The running state against the real maps: slots kept, tables rebuilt on health changes, adoption. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"
#include "dataplane.h"
#include "state.h"

static struct dp *dp;
static struct rt_state st;
static struct sl_config cfg;
static __u32 table[SLUICE_RING_SIZE];

#define CONF(extra, all_down)                                                   \
	"interfaces = ( { name = \"lo\"; } );\n"                                \
	"source = { ipv4 = \"10.0.0.1\"; };\n"                                  \
	"vips = ( { name = \"web\"; address = \"10.0.0.100\"; port = 80;\n"      \
	"  protocol = \"tcp\"; all_down = \"" all_down "\";\n"                   \
	"  health = { type = \"none\"; };\n"                                    \
	"  backends = ( { address = \"10.1.0.1\"; }, { address = \"10.1.0.2\"; },\n" \
	"               { address = \"10.1.0.3\"; } " extra " ); } );\n"

/* The base configuration without its third backend, 10.1.0.3. */
#define WITHOUT_THIRD                                                           \
	"interfaces = ( { name = \"lo\"; } );\n"                                \
	"source = { ipv4 = \"10.0.0.1\"; };\n"                                  \
	"vips = ( { name = \"web\"; address = \"10.0.0.100\"; port = 80;\n"      \
	"  protocol = \"tcp\"; health = { type = \"none\"; };\n"                \
	"  backends = ( { address = \"10.1.0.1\"; }, { address = \"10.1.0.2\"; } ); } );\n"

static void load(const char *text)
{
	char err[256];

	cfg_free(&cfg);
	cr_assert_eq(cfg_parse_string(text, "t.conf", &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(state_apply(&st, dp, NULL, &cfg, err, sizeof(err)), 0, "%s", err);
}

static void setup(void)
{
	struct dp_opts o = { .flow_entries = 4096 };

	dp = dp_open(&o);
	cr_assert_not_null(dp, "dp_open: %s", strerror(errno));
	memset(&st, 0, sizeof(st));
	load(CONF("", "drop"));
}

static void teardown(void)
{
	state_free(&st);
	cfg_free(&cfg);
	dp_close(dp);
}

TestSuite(state, .init = setup, .fini = teardown);

static struct rt_backend *be(const char *addr)
{
	struct sl_addr a;

	cr_assert_eq(sl_addr_parse(addr, &a), 0);
	return state_backend(state_vip(&st, "web"), &a);
}

/* Table entries naming backend slot @id. */
static unsigned entries_of(__u32 id)
{
	unsigned n = 0;

	cr_assert_eq(dp_ring_get(dp, state_vip(&st, "web")->id, table), 0);
	for (__u32 i = 0; i < SLUICE_RING_SIZE; i++)
		n += table[i] == id;
	return n;
}

Test(state, reapply_and_additions_keep_slots_and_generations)
{
	__u32 id1 = be("10.1.0.1")->id, gen1 = be("10.1.0.1")->gen;

	load(CONF("", "drop"));
	load(CONF(", { address = \"10.1.0.4\"; }", "drop"));
	cr_assert_eq(be("10.1.0.1")->id, id1);
	cr_assert_eq(be("10.1.0.1")->gen, gen1);
	cr_assert_gt(entries_of(be("10.1.0.4")->id), 0, "new backend in the table");
}

Test(state, a_down_backend_leaves_the_table_and_is_flagged)
{
	struct rt_backend *b = be("10.1.0.2");
	struct sl_backend v;
	char err[256];

	cr_assert_gt(entries_of(b->id), 0);
	b->down = true;
	cr_assert_eq(state_apply_vip(&st, dp, NULL, &cfg, &cfg.vips[0], err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(entries_of(b->id), 0, "down backend still in the table");
	cr_assert_eq(dp_backend_get(dp, b->id, &v), 0);
	cr_assert(v.flags & SL_BE_F_DOWN, "slot not flagged DOWN: its flows would stay");
	cr_assert_gt(entries_of(be("10.1.0.1")->id), SLUICE_RING_SIZE / 3,
		     "the others took over its share");
	b->down = false;
	cr_assert_eq(state_apply_vip(&st, dp, NULL, &cfg, &cfg.vips[0], err, sizeof(err)), 0);
	cr_assert_gt(entries_of(b->id), 0, "back in the table when up");
}

Test(state, all_down_with_drop_removes_the_table)
{
	char err[256];

	be("10.1.0.1")->down = be("10.1.0.2")->down = be("10.1.0.3")->down = true;
	cr_assert_eq(state_apply_vip(&st, dp, NULL, &cfg, &cfg.vips[0], err, sizeof(err)), 0);
	cr_assert_eq(dp_ring_get(dp, state_vip(&st, "web")->id, table), -ENOENT,
		     "a table is left: traffic would go to dead backends");
}

Test(state, all_down_with_all_keeps_every_backend)
{
	char err[256];
	struct sl_backend v;

	load(CONF("", "all"));
	be("10.1.0.1")->down = be("10.1.0.2")->down = be("10.1.0.3")->down = true;
	cr_assert_eq(state_apply_vip(&st, dp, NULL, &cfg, &cfg.vips[0], err, sizeof(err)), 0);
	for (int i = 1; i <= 3; i++) {
		char a[16];

		snprintf(a, sizeof(a), "10.1.0.%d", i);
		cr_assert_gt(entries_of(be(a)->id), 0, "%s out of the table", a);
		cr_assert_eq(dp_backend_get(dp, be(a)->id, &v), 0);
		cr_assert_not(v.flags & SL_BE_F_DOWN, "%s flagged down", a);
	}
}

Test(state, a_removed_backend_retires_until_its_flows_end)
{
	__u32 id3 = be("10.1.0.3")->id;
	__u32 counts[SLUICE_MAX_BACKENDS] = {};
	struct sl_backend v;

	state_set_clock(&st, 100);
	load(WITHOUT_THIRD);
	cr_assert_eq(entries_of(id3), 0, "removed backend still gets new flows");
	cr_assert_eq(dp_backend_get(dp, id3, &v), 0);
	cr_assert_neq(v.family, 0, "slot freed while flows may still use it");
	cr_assert_eq(state_retiring(&st), 1);
	counts[id3] = 5;
	cr_assert_eq(state_reap(&st, dp, counts, 150, 600), 1, "reaped with live flows");
	counts[id3] = 0;
	cr_assert_eq(state_reap(&st, dp, counts, 151, 600), 0);
	cr_assert_eq(dp_backend_get(dp, id3, &v), 0);
	cr_assert_eq(v.family, 0, "slot not freed after the flows ended");
}

Test(state, adoption_rebuilds_slots_from_the_maps)
{
	struct rt_state again = {};
	char err[256];
	__u32 id2 = be("10.1.0.2")->id, gen2 = be("10.1.0.2")->gen;

	be("10.1.0.2")->down = true;
	cr_assert_eq(state_apply_vip(&st, dp, NULL, &cfg, &cfg.vips[0], err, sizeof(err)), 0);
	cr_assert_eq(state_adopt(&again, dp), 0);
	cr_assert_eq(again.n_vips, 1);
	cr_assert_eq(again.vips[0].n_be, 3);
	cr_assert_eq(state_apply(&again, dp, NULL, &cfg, err, sizeof(err)), 0, "%s", err);
	struct sl_addr a;
	sl_addr_parse("10.1.0.2", &a);
	struct rt_backend *b = state_backend(state_vip(&again, "web"), &a);
	cr_assert_not_null(b, "adopted VIP not matched to its name");
	cr_assert_eq(b->id, id2);
	cr_assert_eq(b->gen, gen2);
	cr_assert(b->down, "DOWN flag not adopted");
	state_free(&again);
}

Test(state, a_freed_slot_never_gets_an_old_generation_back)
{
	__u32 counts[SLUICE_MAX_BACKENDS] = {};
	__u32 gen3 = be("10.1.0.3")->gen;
	struct rt_state again = {};

	/* 10.1.0.3 leaves the config and is reaped: its slot is free. */
	load(WITHOUT_THIRD);
	cr_assert_eq(state_reap(&st, dp, counts, 1, 600), 0);
	/* A restarted daemon adopts the maps and hands out a new slot. */
	cr_assert_eq(state_adopt(&again, dp), 0);
	cr_assert_geq(again.next_gen, gen3, "generation %u could be handed out again", gen3);
	state_free(&again);
}

Test(state, a_port_vip_renews_the_whole_address_vips_generations)
{
	char err[256];
	const char *text =
		"interfaces = ( { name = \"lo\"; } );\n"
		"source = { ipv4 = \"10.0.0.1\"; };\n"
		"vips = ( { name = \"all\"; address = \"10.0.0.50\"; port = 0; protocol = \"tcp\";\n"
		"           health = { type = \"none\"; };\n"
		"           backends = ( { address = \"10.1.0.1\"; } ); }%s );\n";
	char buf[1024];
	struct sl_addr a;

	snprintf(buf, sizeof(buf), text, "");
	cfg_free(&cfg);
	cr_assert_eq(cfg_parse_string(buf, "t.conf", &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(state_apply(&st, dp, NULL, &cfg, err, sizeof(err)), 0, "%s", err);
	sl_addr_parse("10.1.0.1", &a);
	__u32 gen = state_backend(state_vip(&st, "all"), &a)->gen;

	snprintf(buf, sizeof(buf), text,
		 ",\n { name = \"tls\"; address = \"10.0.0.50\"; port = 443; protocol = \"tcp\";\n"
		 "   health = { type = \"none\"; }; backends = ( { address = \"10.1.0.2\"; } ); }");
	cfg_free(&cfg);
	cr_assert_eq(cfg_parse_string(buf, "t.conf", &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(state_apply(&st, dp, NULL, &cfg, err, sizeof(err)), 0, "%s", err);
	struct rt_backend *b = state_backend(state_vip(&st, "all"), &a);
	struct sl_backend v;

	cr_assert_neq(b->gen, gen, "wildcard flows would keep port 443");
	cr_assert_eq(dp_backend_get(dp, b->id, &v), 0);
	cr_assert_eq(v.gen, b->gen, "new generation not in the map");
}

/* The base configuration with the global source 10.0.0.9 instead of 10.0.0.1. */
static void load_source_9(void)
{
	char text[2048], *p;

	snprintf(text, sizeof(text), "%s", CONF("", "drop"));
	p = strstr(text, "10.0.0.1");
	cr_assert_not_null(p);
	p[7] = '9';
	load(text);
}

/* The outer source lives in each backend slot (no VIP read per packet): a new source rewrites them. */
Test(state, a_new_source_reaches_every_backend_slot)
{
	const char *addrs[] = { "10.1.0.1", "10.1.0.2", "10.1.0.3" };
	struct sl_addr want;
	struct sl_backend v;

	for (size_t i = 0; i < 3; i++) {
		cr_assert_eq(dp_backend_get(dp, be(addrs[i])->id, &v), 0);
		cr_assert_eq(sl_addr_parse("10.0.0.1", &want), 0);
		cr_assert_eq(v.src[0], want.addr[0], "slot of %s: source not the VIP's", addrs[i]);
	}
	load_source_9();
	cr_assert_eq(sl_addr_parse("10.0.0.9", &want), 0);
	for (size_t i = 0; i < 3; i++) {
		cr_assert_eq(dp_backend_get(dp, be(addrs[i])->id, &v), 0);
		cr_assert_eq(v.src[0], want.addr[0], "slot of %s kept the old source", addrs[i]);
	}
}

/* A retiring backend still serves its flows: a new source must reach its slot too. */
Test(state, a_new_source_reaches_a_retiring_backend)
{
	struct sl_addr want;
	struct sl_backend v;
	__u32 id;

	load(CONF(", { address = \"10.1.0.4\"; }", "drop"));
	id = be("10.1.0.4")->id;
	load(CONF("", "drop"));
	cr_assert(be("10.1.0.4")->retiring, "removed backend should retire");
	load_source_9();
	cr_assert_eq(sl_addr_parse("10.0.0.9", &want), 0);
	cr_assert_eq(dp_backend_get(dp, id, &v), 0);
	cr_assert_eq(v.family, SL_FAMILY_V4, "retiring slot freed too early");
	cr_assert_eq(v.src[0], want.addr[0], "retiring slot kept the old source");
	cr_assert_eq(entries_of(id), 0, "retiring backend back in the table");
}
