// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Packets through the loaded XDP program (BPF_PROG_TEST_RUN), maps set by the library. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <net/if.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include "dataplane.h"
#include "sluice_hash.h"
#include "bpf/pkt.h"
#include "shell.h"

#define SEED 0x5eed1ceU
#define XDP_ABORTED_ 0
#define XDP_DROP_ 1
#define XDP_PASS_ 2
#define XDP_TX_ 3

static struct dp *dp;

/* A VIP of the fixture and its backends. */
struct fx_vip {
	const char *addr;
	__u16 port;
	__u8 proto;
	__u32 id;
	__u32 flags;
	const char *be[4];	/* backend addresses */
	__u32 be_base;		/* first backend id */
};

static const struct fx_vip fx[] = {
	/* IPv4 TCP, IPIP */
	{ "10.0.0.100", 80, 6, 1, 0, { "10.1.0.1", "10.1.0.2", "10.1.0.3" }, 10 },
	/* IPv4 UDP on the same address */
	{ "10.0.0.100", 53, 17, 2, 0, { "10.1.0.1", "10.1.0.2", "10.1.0.3" }, 20 },
	/* whole-address TCP, source hashing */
	{ "10.0.0.101", 0, 6, 3, SL_VIP_F_SRC_HASH,
	  { "10.1.0.1", "10.1.0.2", "10.1.0.3", "10.1.0.4" }, 30 },
	/* IPv6 TCP, IP6IP6 */
	{ "2001:db8::100", 80, 6, 4, 0,
	  { "2001:db8:1::1", "2001:db8:1::2", "2001:db8:1::3" }, 40 },
	/* IPv4 UDP to IPv6 backends, IPv4-in-IPv6 */
	{ "10.0.0.102", 80, 17, 5, 0, { "2001:db8:1::a", "2001:db8:1::b" }, 50 },
	/* IPv6 VIP with an IPv4 backend: the config refuses it, the program drops */
	{ "2001:db8::101", 80, 6, 6, 0, { "10.1.0.9" }, 60 },
	/* IPv6 UDP, IP6IP6 */
	{ "2001:db8::100", 53, 17, 9, 0, { "2001:db8:1::1", "2001:db8:1::2" }, 80 },
};

#define SRC4 "10.0.0.2"
#define SRC6 "2001:db8::2"

/* Fill a VIP key from text. */
static struct sl_vip_key vkey(const char *addr, __u16 port, __u8 proto)
{
	struct sl_vip_key k = {};

	k.family = strchr(addr, ':') ? SL_FAMILY_V6 : SL_FAMILY_V4;
	cr_assert_eq(inet_pton(k.family == SL_FAMILY_V6 ? AF_INET6 : AF_INET, addr,
			       k.addr), 1);
	k.port = htons(port);
	k.proto = proto;
	return k;
}

/* Backend slot for @addr with a MAC derived from @id. */
static struct sl_backend mk_backend(const char *addr, __u32 id)
{
	struct sl_backend b = {};

	b.family = strchr(addr, ':') ? SL_FAMILY_V6 : SL_FAMILY_V4;
	cr_assert_eq(inet_pton(b.family == SL_FAMILY_V6 ? AF_INET6 : AF_INET, addr,
			       b.addr), 1);
	b.flags = SL_BE_F_MAC;
	b.mac[0] = 0x02;
	b.mac[5] = (__u8)id;
	b.gen = 1;
	return b;
}

static void apply_vip(const struct fx_vip *v, __u32 skip_be)
{
	struct sl_vip_key k = vkey(v->addr, v->port, v->proto);
	struct sl_vip_meta m = { .id = v->id, .flags = v->flags };
	struct dp_backend be[4] = {};
	size_t n = 0;

	inet_pton(AF_INET, SRC4, &m.src4);
	inet_pton(AF_INET6, SRC6, m.src6);
	for (int i = 0; i < 4 && v->be[i]; i++) {
		be[n].id = v->be_base + i;
		be[n].be = mk_backend(v->be[i], be[n].id);
		be[n].be.vip = v->id;
		be[n].weight = be[n].id == skip_be ? 0 : 100;
		n++;
	}
	cr_assert_eq(dp_vip_apply(dp, &k, &m, be, n), 0, "dp_vip_apply %s", v->addr);
}

/* Counters of fixture VIP @v: the program counts per backend slot. */
static int vip_stats(const struct fx_vip *v, struct sl_counters *c)
{
	__u32 slots[4];
	size_t n = 0;

	while (n < 4 && v->be[n]) {
		slots[n] = v->be_base + (__u32)n;
		n++;
	}
	return dp_vip_stats(dp, v->id, slots, n, c);
}

static void setup(void)
{
	struct dp_opts o = { .hash_seed = SEED, .mtu = 1500, .flow_entries = 65536 };
	int cpu = sched_getcpu();
	cpu_set_t one;

	/* The flow cache is per CPU: every packet of a test must find the same one. */
	CPU_ZERO(&one);
	CPU_SET(cpu >= 0 ? cpu : 0, &one);
	cr_assert_eq(sched_setaffinity(0, sizeof(one), &one), 0, "pinning: %s", strerror(errno));
	dp = dp_open(&o);
	cr_assert_not_null(dp, "dp_open: %s", strerror(errno));
	for (size_t i = 0; i < sizeof(fx) / sizeof(fx[0]); i++)
		apply_vip(&fx[i], ~0U);
	/* A VIP whose table was never published. */
	struct sl_vip_key k = vkey("10.0.0.103", 80, 6);
	struct sl_vip_meta m = { .id = 7 };
	cr_assert_eq(dp_vip_set(dp, &k, &m), 0);
}

static void teardown(void)
{
	dp_close(dp);
	dp = NULL;
}

TestSuite(pkt, .init = setup, .fini = teardown);

/* Result of one run. */
struct run {
	int action;
	__u8 out[PKT_MAX + 64];
	__u32 len;
};

static struct run run_pkt_ctx(const __u8 *in, size_t len, __u32 ifindex)
{
	struct xdp_md ctx = { .data_end = (__u32)len, .ingress_ifindex = ifindex };
	struct run r = {};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (__u32)len,
		    .data_out = r.out, .data_size_out = sizeof(r.out), .repeat = 1,
		    .ctx_in = ifindex ? &ctx : NULL,
		    .ctx_size_in = ifindex ? sizeof(ctx) : 0);

	cr_assert_eq(bpf_prog_test_run_opts(dp_prog_fd(dp), &o), 0,
		     "test_run: %s", strerror(errno));
	r.action = (int)o.retval;
	r.len = o.data_size_out;
	return r;
}

static struct run run_pkt(const __u8 *in, size_t len)
{
	return run_pkt_ctx(in, len, 0);
}

/* The flow key the program builds for the packet of @s. */
static struct sl_flow_key flow_key(const struct pkt_spec *s)
{
	struct sl_flow_key k = {};
	int af = s->family == 6 ? AF_INET6 : AF_INET;

	k.family = s->family == 6 ? SL_FAMILY_V6 : SL_FAMILY_V4;
	inet_pton(af, s->src, k.src);
	inet_pton(af, s->dst, k.dst);
	k.sport = htons(s->sport);
	k.dport = htons(s->dport);
	k.proto = s->proto;
	return k;
}

/* The backend id that the Maglev table of @vip_id gives the packet of @s. */
static __u32 expected_backend(const struct pkt_spec *s, __u32 vip_id, bool src_hash)
{
	static __u32 table[SLUICE_RING_SIZE];
	struct sl_flow_key k = flow_key(s);
	__u32 h = src_hash ? sl_hash_src(&k, SEED) : sl_hash_flow(&k, SEED);

	cr_assert_eq(dp_ring_get(dp, vip_id, table), 0);
	return table[h % SLUICE_RING_SIZE];
}

/* Backend id whose MAC the program put as Ethernet destination. */
static __u32 out_backend(const struct run *r)
{
	cr_assert_eq(r->out[0], 0x02);
	return r->out[5];
}

static __u64 reason(int r)
{
	__u64 v[SL_REASON_MAX];

	cr_assert_eq(dp_reason_stats(dp, v), 0);
	return v[r];
}

/* Names the non-zero reason counters, for failure messages. */
static const char *last_reason(void)
{
	static char buf[512];
	__u64 v[SL_REASON_MAX];
	size_t off = 0;

	buf[0] = 0;
	if (dp_reason_stats(dp, v))
		return "?";
	for (int i = 0; i < SL_REASON_MAX; i++)
		if (v[i])
			off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s=%llu ",
						dp_reason_name(i), (unsigned long long)v[i]);
	return buf;
}

/* Check an IPIP packet: L2, outer IPv4 header, and the unchanged inner packet. */
static void check_ipip(const struct run *r, const __u8 *in, size_t len, size_t l2,
		       __u32 be_id, const char *be_addr)
{
	const __u8 *o = r->out + l2;
	__u8 a[4];

	cr_assert_eq(r->action, XDP_TX_, "action %d (%s)", r->action, last_reason());
	cr_assert_eq(r->len, len + 20);
	cr_assert_eq(out_backend(r), be_id, "eth dst names backend %u", be_id);
	cr_assert_arr_eq(r->out + 6, pkt_mac_lb, 6, "eth src must be our own MAC");
	cr_assert_eq(get16(r->out + l2 - 2), 0x0800);
	cr_assert_eq(o[0], 0x45);
	cr_assert_eq(o[1], in[l2 + 1], "outer TOS copies inner");
	cr_assert_eq(get16(o + 2), len - l2 + 20, "outer total length");
	cr_assert_eq(get16(o + 4), 0);
	cr_assert_eq(get16(o + 6), 0x4000, "DF set, no fragment");
	cr_assert_eq(o[8], 64);
	cr_assert_eq(o[9], 4, "IPPROTO_IPIP");
	cr_assert_eq(pkt_fold(pkt_sum(o, 20, 0)), 0, "outer IPv4 checksum");
	inet_pton(AF_INET, SRC4, a);
	cr_assert_arr_eq(o + 12, a, 4);
	inet_pton(AF_INET, be_addr, a);
	cr_assert_arr_eq(o + 16, a, 4);
	cr_assert_arr_eq(r->out + l2 + 20, in + l2, len - l2, "inner packet changed");
}

/* Check an IPv6 outer header carrying @nexthdr; same idea as check_ipip(). */
static void check_ip6(const struct run *r, const __u8 *in, size_t len, size_t l2,
		      __u32 be_id, const char *be_addr, __u8 nexthdr)
{
	const __u8 *o = r->out + l2;
	__u8 a[16];

	cr_assert_eq(r->action, XDP_TX_, "action %d", r->action);
	cr_assert_eq(r->len, len + 40);
	cr_assert_eq(out_backend(r), be_id);
	cr_assert_arr_eq(r->out + 6, pkt_mac_lb, 6);
	cr_assert_eq(get16(r->out + l2 - 2), 0x86dd);
	cr_assert_eq(o[0] >> 4, 6);
	cr_assert_eq(get16(o + 4), len - l2, "payload length = inner packet");
	cr_assert_eq(o[6], nexthdr);
	cr_assert_eq(o[7], 64);
	inet_pton(AF_INET6, SRC6, a);
	cr_assert_arr_eq(o + 8, a, 16);
	inet_pton(AF_INET6, be_addr, a);
	cr_assert_arr_eq(o + 24, a, 16);
	cr_assert_arr_eq(r->out + l2 + 40, in + l2, len - l2, "inner packet changed");
}

static const char *be_addr_of(const struct fx_vip *v, __u32 id)
{
	return v->be[id - v->be_base];
}

Test(pkt, tcp4_to_vip_is_ipip_to_the_maglev_backend)
{
	struct pkt_spec s = { 4, "192.0.2.7", "10.0.0.100", 40000, 80, 6, .payload = 100,
			      .tos = 0x28 };
	__u8 in[PKT_MAX];
	size_t len = pkt_build(&s, in);
	__u32 want = expected_backend(&s, 1, false);
	struct run r = run_pkt(in, len);

	check_ipip(&r, in, len, 14, want, be_addr_of(&fx[0], want));
	cr_assert_eq(reason(SL_TX_ENCAP), 1);
}

Test(pkt, udp4_to_vip_is_ipip)
{
	struct pkt_spec s = { 4, "192.0.2.8", "10.0.0.100", 5353, 53, 17, .payload = 33 };
	__u8 in[PKT_MAX];
	size_t len = pkt_build(&s, in);
	__u32 want = expected_backend(&s, 2, false);
	struct run r = run_pkt(in, len);

	check_ipip(&r, in, len, 14, want, be_addr_of(&fx[1], want));
}

Test(pkt, ipv4_options_are_carried_unchanged)
{
	struct pkt_spec s = { 4, "192.0.2.9", "10.0.0.100", 40001, 80, 6, .payload = 10,
			      .ip_opt_words = 3 };
	__u8 in[PKT_MAX];
	size_t len = pkt_build(&s, in);
	__u32 want = expected_backend(&s, 1, false);
	struct run r = run_pkt(in, len);

	check_ipip(&r, in, len, 14, want, be_addr_of(&fx[0], want));
}

Test(pkt, tcp6_to_vip_is_ip6ip6)
{
	struct pkt_spec s = { 6, "2001:db8:9::7", "2001:db8::100", 40000, 80, 6,
			      .payload = 64, .tos = 0xb8 };
	__u8 in[PKT_MAX];
	size_t len = pkt_build(&s, in);
	__u32 want = expected_backend(&s, 4, false);
	struct run r = run_pkt(in, len);

	check_ip6(&r, in, len, 14, want, be_addr_of(&fx[3], want), 41);
	cr_assert_eq(((r.out[14] & 0xf) << 4) | (r.out[15] >> 4), 0xb8,
		     "outer traffic class copies inner");
}

Test(pkt, udp4_to_ipv6_backends_is_ipv4_in_ipv6)
{
	struct pkt_spec s = { 4, "192.0.2.10", "10.0.0.102", 1234, 80, 17, .payload = 20 };
	__u8 in[PKT_MAX];
	size_t len = pkt_build(&s, in);
	__u32 want = expected_backend(&s, 5, false);
	struct run r = run_pkt(in, len);

	check_ip6(&r, in, len, 14, want, be_addr_of(&fx[4], want), 4);
}

Test(pkt, vlan_tag_is_kept_in_front_of_the_outer_header)
{
	struct pkt_spec s = { 4, "192.0.2.11", "10.0.0.100", 40002, 80, 6, .payload = 5,
			      .vlan = 42 };
	__u8 in[PKT_MAX];
	size_t len = pkt_build(&s, in);
	__u32 want = expected_backend(&s, 1, false);
	struct run r = run_pkt(in, len);

	cr_assert_eq(get16(r.out + 12), 0x8100);
	cr_assert_eq(get16(r.out + 14), 42, "VLAN id kept");
	check_ipip(&r, in, len, 18, want, be_addr_of(&fx[0], want));
}

Test(pkt, vlan_tagged_ipv6)
{
	struct pkt_spec s = { 6, "2001:db8:9::8", "2001:db8::100", 40003, 80, 6,
			      .payload = 5, .vlan = 7 };
	__u8 in[PKT_MAX];
	size_t len = pkt_build(&s, in);
	__u32 want = expected_backend(&s, 4, false);
	struct run r = run_pkt(in, len);

	cr_assert_eq(get16(r.out + 12), 0x8100);
	check_ip6(&r, in, len, 18, want, be_addr_of(&fx[3], want), 41);
}

Test(pkt, same_flow_same_backend_and_remembered)
{
	struct pkt_spec s = { 4, "192.0.2.12", "10.0.0.100", 41000, 80, 6 };
	struct sl_flow_key k = flow_key(&s);
	struct sl_flow f;
	__u8 in[PKT_MAX];
	size_t len = pkt_build(&s, in);
	struct run r = run_pkt(in, len);
	__u32 first = out_backend(&r);
	for (int i = 0; i < 20; i++) {
		r = run_pkt(in, len);
		cr_assert_eq(out_backend(&r), first);
	}
	cr_assert_eq(dp_flow_get(dp, &k, &f), 0, "flow remembered");
	cr_assert_eq(f.backend, first);
	struct sl_counters c;
	cr_assert_eq(vip_stats(&fx[0], &c), 0);
	cr_assert_eq(c.packets, 21);
	cr_assert_eq(c.new_flows, 1, "one new flow, then flow-table hits");
	cr_assert_eq(c.bytes, 21 * len);
	cr_assert_eq(dp_backend_stats(dp, first, &c), 0);
	cr_assert_eq(c.packets, 21);
	cr_assert_eq(c.new_flows, 1);
}

/* The program counts per backend slot: a freed slot's counts must stay with its VIP. */
Test(pkt, a_freed_backend_leaves_its_counts_with_the_vip)
{
	struct pkt_spec s = { 4, "192.0.2.13", "10.0.0.100", 41001, 80, 6 };
	__u8 in[PKT_MAX];
	size_t len = pkt_build(&s, in);
	struct sl_counters c;
	__u32 used = 0;

	for (int i = 0; i < 5; i++) {
		struct run r = run_pkt(in, len);

		used = out_backend(&r);
	}
	cr_assert_eq(vip_stats(&fx[0], &c), 0);
	cr_assert_eq(c.packets, 5);
	cr_assert_eq(dp_backend_free(dp, used), 0);
	cr_assert_eq(dp_backend_stats(dp, used, &c), 0);
	cr_assert_eq(c.packets, 0, "freed slot keeps counts a new occupant would inherit");
	cr_assert_eq(vip_stats(&fx[0], &c), 0);
	cr_assert_eq(c.packets, 5, "VIP lost the freed backend's packets");
	cr_assert_eq(c.bytes, 5 * len);
	cr_assert_eq(c.new_flows, 1);
}

Test(pkt, many_flows_spread_over_all_backends)
{
	unsigned hits[3] = {};
	__u8 in[PKT_MAX];

	for (int i = 0; i < 3000; i++) {
		/* Even ports only, as Linux tends to pick them. */
		struct pkt_spec s = { 4, "192.0.2.13", "10.0.0.100", (__u16)(20000 + 2 * i),
				      80, 6 };
		size_t len = pkt_build(&s, in);
		struct run r = run_pkt(in, len);

		cr_assert_eq(r.action, XDP_TX_);
		hits[out_backend(&r) - 10]++;
	}
	for (int b = 0; b < 3; b++)
		cr_assert(hits[b] > 800 && hits[b] < 1200,
			  "backend %d got %u of 3000 flows", b, hits[b]);
	struct sl_counters c;
	cr_assert_eq(vip_stats(&fx[0], &c), 0);
	cr_assert_eq(c.new_flows, 3000);
}

Test(pkt, source_hash_ignores_the_source_port)
{
	__u8 in[PKT_MAX];
	int first = -1;
	unsigned seen = 0;

	for (int i = 0; i < 200; i++) {
		struct pkt_spec s = { 4, "192.0.2.14", "10.0.0.101", (__u16)(30000 + i),
				      (__u16)(1 + i % 3), 6 };
		size_t len = pkt_build(&s, in);
		struct run r = run_pkt(in, len);

		cr_assert_eq(r.action, XDP_TX_, "port-0 VIP takes every port");
		if (first < 0)
			first = (int)out_backend(&r);
		cr_assert_eq(out_backend(&r), (__u32)first, "source hash moved with port");
	}
	cr_assert_eq((__u32)first, expected_backend(&(struct pkt_spec){ 4, "192.0.2.14",
				"10.0.0.101", 1, 1, 6 }, 3, true));
	/* Different sources do spread. */
	for (int i = 0; i < 200; i++) {
		struct pkt_spec s = { 4, "", "10.0.0.101", 5000, 22, 6 };

		snprintf(s.src, sizeof(s.src), "198.51.100.%d", i + 1);
		size_t len = pkt_build(&s, in);
		struct run r = run_pkt(in, len);

		seen |= 1U << (out_backend(&r) - 30);
	}
	cr_assert_eq(seen, 0xf, "200 sources reached all 4 backends");
}

/* Cases that must come back untouched with XDP_PASS, counted by reason. */
struct pass_case {
	char name[64];
	struct pkt_spec s;
	int reason;
};

static struct pass_case pass_cases[] = {
	{ "non-VIP address", { 4, "192.0.2.1", "10.9.9.9", 1000, 80, 6 }, SL_PASS_NOT_VIP },
	{ "VIP address, other port", { 4, "192.0.2.1", "10.0.0.100", 1000, 81, 6 },
	  SL_PASS_NOT_VIP },
	{ "VIP address+port, other proto", { 4, "192.0.2.1", "10.0.0.100", 1000, 80, 17 },
	  SL_PASS_NOT_VIP },
	{ "IPv6 non-VIP", { 6, "2001:db8:9::1", "2001:db8::999", 1000, 80, 6 },
	  SL_PASS_NOT_VIP },
	{ "ICMP to a VIP", { 4, "192.0.2.1", "10.0.0.100", 0, 0, 1 }, SL_PASS_NOT_L4 },
	{ "IPv4 fragment, non-VIP", { 4, "192.0.2.1", "10.9.9.9", 1, 2, 17, .frag = true },
	  SL_PASS_FRAGMENT },
	{ "IPv6 fragment, non-VIP", { 6, "2001:db8:9::1", "2001:db8::999", 1, 2, 17,
				      .frag = true }, SL_PASS_FRAGMENT },
};

ParameterizedTestParameters(pkt, passes_untouched)
{
	return cr_make_param_array(struct pass_case, pass_cases,
				   sizeof(pass_cases) / sizeof(pass_cases[0]));
}

ParameterizedTest(struct pass_case *c, pkt, passes_untouched)
{
	__u8 in[PKT_MAX];
	size_t len = pkt_build(&c->s, in);
	struct run r = run_pkt(in, len);

	cr_assert_eq(r.action, XDP_PASS_, "%s: action %d", c->name, r.action);
	cr_assert_eq(r.len, len, "%s", c->name);
	cr_assert_arr_eq(r.out, in, len, "%s: bytes changed", c->name);
	cr_assert_eq(reason(c->reason), 1, "%s: counted as %s", c->name,
		     dp_reason_name(c->reason));
}

/* A packet that is broken after building, and what must happen to it. */
struct bad_case {
	char name[64];
	struct pkt_spec s;
	int cut;		/* bytes removed from the end */
	int off;		/* offset (from L3) of a byte to overwrite, or -1 */
	__u8 val;		/* value written there */
	int off2;		/* a second byte to overwrite, or -1 */
	__u8 val2;
	int action;
	int reason;
};

#define TCP4 { 4, "192.0.2.1", "10.0.0.100", 1000, 80, 6 }
#define UDP4 { 4, "192.0.2.1", "10.0.0.100", 1000, 53, 17 }
#define TCP6 { 6, "2001:db8:9::1", "2001:db8::100", 1000, 80, 6 }

static struct bad_case bad_cases[] = {
	{ "IPv4 header truncated", TCP4, 30, -1, 0, -1, 0, XDP_DROP_, SL_DROP_BAD_IP },
	{ "IPv4 IHL 4", TCP4, 0, 0, 0x44, -1, 0, XDP_DROP_, SL_DROP_BAD_IP },
	{ "IPv4 version 6 in IPv4 frame", TCP4, 0, 0, 0x65, -1, 0, XDP_DROP_,
	  SL_DROP_BAD_IP },
	{ "IPv4 total length past the frame", TCP4, 0, 2, 0x05, -1, 0, XDP_DROP_,
	  SL_DROP_BAD_IP },
	{ "IPv4 total length below IHL", TCP4, 0, 2, 0x00, 3, 12, XDP_DROP_,
	  SL_DROP_BAD_IP },
	{ "TCP header truncated", TCP4, 10, 3, 30, -1, 0, XDP_DROP_, SL_DROP_BAD_L4 },
	{ "TCP data offset < 5", TCP4, 0, 32, 0x40, -1, 0, XDP_DROP_, SL_DROP_BAD_L4 },
	{ "UDP length below 8", UDP4, 0, 24, 0, 25, 4, XDP_DROP_, SL_DROP_BAD_L4 },
	{ "UDP length past IP", UDP4, 0, 24, 0, 25, 200, XDP_DROP_, SL_DROP_BAD_L4 },
	{ "IPv6 header truncated", TCP6, 40, -1, 0, -1, 0, XDP_DROP_, SL_DROP_BAD_IP },
	{ "IPv6 payload length past frame", TCP6, 0, 4, 0x10, -1, 0, XDP_DROP_,
	  SL_DROP_BAD_IP },
	{ "IPv6 version 4 in IPv6 frame", TCP6, 0, 0, 0x40, -1, 0, XDP_DROP_,
	  SL_DROP_BAD_IP },
	{ "TCP v6 data offset < 5", TCP6, 0, 52, 0x40, -1, 0, XDP_DROP_, SL_DROP_BAD_L4 },
	{ "TCP v6 data offset past the packet", TCP6, 0, 52, 0xf0, -1, 0, XDP_DROP_,
	  SL_DROP_BAD_L4 },
	{ "IPv4 fragment to a VIP", { 4, "192.0.2.1", "10.0.0.100", 1, 80, 6, .frag = true },
	  0, -1, 0, -1, 0, XDP_DROP_, SL_DROP_FRAGMENT },
	{ "IPv4 first fragment (MF) to a VIP", TCP4, 0, 6, 0x20, -1, 0, XDP_DROP_,
	  SL_DROP_FRAGMENT },
	{ "IPv4 later fragment to a VIP", TCP4, 0, 6, 0x00, 7, 0x10, XDP_DROP_,
	  SL_DROP_FRAGMENT },
	{ "IPv6 fragment to a VIP", { 6, "2001:db8:9::1", "2001:db8::100", 1, 80, 6,
				      .frag = true }, 0, -1, 0, -1, 0, XDP_DROP_,
	  SL_DROP_FRAGMENT },
	{ "VIP without a table", { 4, "192.0.2.1", "10.0.0.103", 1000, 80, 6 }, 0, -1, 0,
	  -1, 0, XDP_DROP_, SL_DROP_NO_RING },
	{ "IPv6 VIP with an IPv4 backend", { 6, "2001:db8:9::1", "2001:db8::101", 1000,
					     80, 6 }, 0, -1, 0, -1, 0, XDP_DROP_,
	  SL_DROP_FAMILY },
	{ "TCP data offset past the packet", TCP4, 0, 32, 0xf0, -1, 0, XDP_DROP_, SL_DROP_BAD_L4 },
	{ "too big after encapsulation", { 4, "192.0.2.1", "10.0.0.100", 1000, 80, 6,
					   .payload = 1500 - 40 - 10 }, 0, -1, 0, -1, 0,
	  XDP_DROP_, SL_DROP_TOO_BIG },
};

ParameterizedTestParameters(pkt, malformed_and_refused)
{
	return cr_make_param_array(struct bad_case, bad_cases,
				   sizeof(bad_cases) / sizeof(bad_cases[0]));
}

/* Break the packet @in of @len bytes as @c says; returns its new length. */
static size_t bad_apply(const struct bad_case *c, __u8 *in, size_t len)
{
	if (c->off >= 0)
		in[14 + c->off] = c->val;
	if (c->off2 >= 0)
		in[14 + c->off2] = c->val2;
	return len - (size_t)c->cut;
}

ParameterizedTest(struct bad_case *c, pkt, malformed_and_refused)
{
	__u8 in[PKT_MAX];
	size_t len = bad_apply(c, in, pkt_build(&c->s, in));
	struct run r = run_pkt(in, len);

	cr_assert_eq(r.action, c->action, "%s: action %d", c->name, r.action);
	cr_assert_eq(reason(c->reason), 1, "%s: not counted as %s", c->name,
		     dp_reason_name(c->reason));
	cr_assert_eq(reason(SL_TX_ENCAP), 0, "%s: forwarded", c->name);
}

/*
 * The first packet of a flow is a new flow, the second a flow-table hit that
 * fills this CPU's flow cache, the third and later take the fast path
 * (bpf/fast.h) when it applies. Runs @in three times, asserts the three
 * results are the same, and returns the last.
 */
static struct run run_thrice(const __u8 *in, size_t len)
{
	struct run first = run_pkt(in, len), r;

	for (int i = 0; i < 2; i++) {
		r = run_pkt(in, len);
		cr_assert_eq(r.action, first.action, "run %d: action %d, then %d (%s)", i + 2,
			     first.action, r.action, last_reason());
		cr_assert_eq(r.len, first.len, "run %d: length", i + 2);
		cr_assert_arr_eq(r.out, first.out, r.len, "run %d: other bytes", i + 2);
	}
	return r;
}

/* Forwarded packets, each sent three times: every path gives the same bytes. */
struct fwd_case {
	char name[64];
	struct pkt_spec s;
	__u32 vip;		/* index into fx[] */
	int pad;		/* Ethernet padding bytes after the IP packet */
};

static struct fwd_case fwd_cases[] = {
	{ "TCP v4", { 4, "192.0.2.40", "10.0.0.100", 40100, 80, 6, .payload = 100,
		      .tos = 0x28 }, 0, 0 },
	{ "TCP v4 bare ACK", { 4, "192.0.2.40", "10.0.0.100", 40101, 80, 6 }, 0, 0 },
	{ "UDP v4", { 4, "192.0.2.40", "10.0.0.100", 40102, 53, 17, .payload = 33 }, 1, 0 },
	{ "UDP v4 empty", { 4, "192.0.2.40", "10.0.0.100", 40103, 53, 17 }, 1, 0 },
	{ "IPv4 options", { 4, "192.0.2.40", "10.0.0.100", 40104, 80, 6, .payload = 10,
			    .ip_opt_words = 3 }, 0, 0 },
	{ "VLAN v4", { 4, "192.0.2.40", "10.0.0.100", 40105, 80, 6, .payload = 5,
		       .vlan = 42 }, 0, 0 },
	{ "padded v4", { 4, "192.0.2.40", "10.0.0.100", 40106, 80, 6 }, 0, 6 },
	{ "whole-address VIP", { 4, "192.0.2.40", "10.0.0.101", 40107, 8080, 6 }, 2, 0 },
	{ "TCP v6", { 6, "2001:db8:9::40", "2001:db8::100", 40108, 80, 6, .payload = 64,
		      .tos = 0xb8 }, 3, 0 },
	{ "TCP v6 bare ACK", { 6, "2001:db8:9::40", "2001:db8::100", 40110, 80, 6 }, 3, 0 },
	{ "VLAN v6", { 6, "2001:db8:9::40", "2001:db8::100", 40111, 80, 6, .payload = 5,
		       .vlan = 7 }, 3, 0 },
	{ "padded v6", { 6, "2001:db8:9::40", "2001:db8::100", 40112, 80, 6 }, 3, 2 },
	{ "UDP v6", { 6, "2001:db8:9::40", "2001:db8::100", 40113, 53, 17, .payload = 33,
		      .tos = 0x2c }, 6, 0 },
	{ "v4 to IPv6 backends", { 4, "192.0.2.40", "10.0.0.102", 40109, 80, 17,
				   .payload = 20 }, 4, 0 },
};

ParameterizedTestParameters(pkt, every_path_forwards_alike)
{
	return cr_make_param_array(struct fwd_case, fwd_cases,
				   sizeof(fwd_cases) / sizeof(fwd_cases[0]));
}

ParameterizedTest(struct fwd_case *c, pkt, every_path_forwards_alike)
{
	const struct fx_vip *v = &fx[c->vip];
	__u8 in[PKT_MAX];
	size_t len = pkt_build(&c->s, in);
	size_t l2 = c->s.vlan ? 18 : 14;
	__u32 want = expected_backend(&c->s, v->id, v->flags & SL_VIP_F_SRC_HASH);
	struct sl_counters k;

	memset(in + len, 0xee, (size_t)c->pad);
	struct run r = run_thrice(in, len + (size_t)c->pad);

	if (c->s.family == 6)
		check_ip6(&r, in, len, l2, want, be_addr_of(v, want), 41);
	else if (strchr(v->be[0], ':'))
		check_ip6(&r, in, len, l2, want, be_addr_of(v, want), 4);
	else
		check_ipip(&r, in, len, l2, want, be_addr_of(v, want));
	cr_assert_eq(reason(SL_TX_ENCAP), 3, "%s: %s", c->name, last_reason());
	cr_assert_eq(dp_backend_stats(dp, want, &k), 0);
	cr_assert_eq(k.packets, 3, "%s: counted on the backend", c->name);
	cr_assert_eq(k.bytes, 3 * (len + (size_t)c->pad), "%s: bytes as received", c->name);
	cr_assert_eq(k.new_flows, 1, "%s", c->name);
}

ParameterizedTestParameters(pkt, malformed_in_a_cached_flow)
{
	return cr_make_param_array(struct bad_case, bad_cases,
				   sizeof(bad_cases) / sizeof(bad_cases[0]));
}

/* A broken packet of a flow the cache holds is judged as any other. */
ParameterizedTest(struct bad_case *c, pkt, malformed_in_a_cached_flow)
{
	__u8 in[PKT_MAX];
	size_t len = pkt_build(&c->s, in);
	__u64 sent;

	run_pkt(in, len);	/* new flow */
	run_pkt(in, len);	/* flow table: into the cache */
	sent = reason(SL_TX_ENCAP);	/* 0 where the intact packet is refused too */
	len = bad_apply(c, in, len);
	struct run r = run_pkt(in, len);

	cr_assert_eq(r.action, c->action, "%s: action %d", c->name, r.action);
	cr_assert_geq(reason(c->reason), 1, "%s: not counted as %s", c->name,
		      dp_reason_name(c->reason));
	cr_assert_eq(reason(SL_TX_ENCAP), sent, "%s: forwarded", c->name);
}

/* Warm the cache with @s (two packets), then send @in; returns its result. */
static struct run run_cached(const struct pkt_spec *s, const __u8 *in, size_t len)
{
	__u8 warm[PKT_MAX];
	size_t wlen = pkt_build(s, warm);

	cr_assert_eq(run_pkt(warm, wlen).action, XDP_TX_);
	cr_assert_eq(run_pkt(warm, wlen).action, XDP_TX_);
	return run_pkt(in, len);
}

Test(pkt, cached_flow_too_big_is_dropped)
{
	/* IPv4 into IPIP (20 more bytes), IPv6 into IP6IP6 and IPv4 (UDP) into IPv6 (40 more). */
	struct pkt_spec s[3] = { { 4, "192.0.2.41", "10.0.0.100", 40110, 80, 6 },
				 { 6, "2001:db8:9::41", "2001:db8::100", 40110, 80, 6 },
				 { 4, "192.0.2.41", "10.0.0.102", 40110, 80, 17 } };
	__u16 fits[3] = { 1500 - 20 - 20 - 20, 1500 - 40 - 40 - 20, 1500 - 40 - 20 - 8 };
	__u8 in[PKT_MAX];

	for (int i = 0; i < 3; i++) {
		struct pkt_spec big = s[i];

		big.payload = (__u16)(fits[i] + 10);
		size_t len = pkt_build(&big, in);
		struct run r = run_cached(&s[i], in, len);

		cr_assert_eq(r.action, XDP_DROP_, "case %d: action %d (%s)", i, r.action,
			     last_reason());
		cr_assert_eq(reason(SL_DROP_TOO_BIG), (__u64)i + 1);
		big.payload = fits[i];	/* exactly the MTU after encapsulation */
		len = pkt_build(&big, in);
		cr_assert_eq(run_pkt(in, len).action, XDP_TX_, "case %d", i);
	}
}

Test(pkt, cached_flow_syn_is_a_new_flow_on_the_same_backend)
{
	struct pkt_spec s = { 4, "192.0.2.42", "10.0.0.100", 40111, 80, 6 };
	__u32 want = expected_backend(&s, 1, false);
	static const __u8 flags[2] = { 0x02 /* SYN */, 0x06 /* SYN+RST, still no ACK */ };
	struct sl_counters k;
	__u8 in[PKT_MAX];
	size_t len = pkt_build(&s, in);

	for (int i = 0; i < 2; i++) {
		in[14 + 20 + 13] = flags[i];
		struct run r = run_cached(&s, in, len);

		cr_assert_eq(r.action, XDP_TX_);
		cr_assert_eq(out_backend(&r), want);
		cr_assert_eq(dp_backend_stats(dp, want, &k), 0);
		cr_assert_eq(k.new_flows, (__u64)i + 2,
			     "flags %#x: a SYN re-picks, even when the flow is cached", flags[i]);
	}
}

/*
 * Two flows in one cache slot: warm @a's, then send @b's (Maglev backend
 * @want, not @a's): it must go to its own backend, as a new flow.
 */
static void check_slot_shared(const struct pkt_spec *a, const struct pkt_spec *b, __u32 want)
{
	struct sl_counters k;
	__u8 in[PKT_MAX];
	size_t len = pkt_build(b, in);
	struct run r = run_cached(a, in, len);

	cr_assert_eq(r.action, XDP_TX_);
	cr_assert_eq(out_backend(&r), want, "%s took %s's cached backend", b->src, a->src);
	cr_assert_eq(dp_backend_stats(dp, want, &k), 0);
	cr_assert_eq(k.new_flows, 1, "a new flow, not a cache hit");
}

Test(pkt, flows_sharing_a_cache_slot_keep_their_own_backends)
{
	/*
	 * The slot hash xor-folds the key's words: source 192.0.2.63 vs
	 * 193.0.2.63 and source ports p vs p ^ 0x100 flip the same bit of
	 * the fold, so the two keys share a slot. Pick a p whose two flows
	 * have different Maglev backends.
	 */
	struct pkt_spec a = { 4, "192.0.2.63", "10.0.0.100", 0, 80, 6 };
	struct pkt_spec b = { 4, "193.0.2.63", "10.0.0.100", 0, 80, 6 };
	__u32 want_a = 0, want_b = 0;

	for (__u16 p = 41000; p < 41100 && want_a == want_b; p++) {
		a.sport = p;
		b.sport = p ^ 0x100;
		want_a = expected_backend(&a, 1, false);
		want_b = expected_backend(&b, 1, false);
	}
	cr_assert_neq(want_a, want_b, "no port pair with different backends");
	check_slot_shared(&a, &b, want_b);
}

Test(pkt, v6_flows_sharing_a_cache_slot_keep_their_own_backends)
{
	/* Source bytes 11 and 15 (bits 24..31 and 56..63 of key word 1) xor-cancel in the fold. */
	struct pkt_spec a = { 6, "2001:db8:9::1", "2001:db8::100", 41000, 80, 6 };
	struct pkt_spec b = a;
	__u32 want_a = expected_backend(&a, 4, false), want_b = want_a;
	__u8 sa[16], sb[16];

	cr_assert_eq(inet_pton(AF_INET6, a.src, sa), 1);
	for (int v = 1; v < 256 && want_a == want_b; v++) {
		memcpy(sb, sa, sizeof(sb));
		sb[11] ^= (__u8)v;
		sb[15] ^= (__u8)v;
		inet_ntop(AF_INET6, sb, b.src, sizeof(b.src));
		want_b = expected_backend(&b, 4, false);
	}
	cr_assert_neq(want_a, want_b, "no address pair with different backends");
	check_slot_shared(&a, &b, want_b);
}

/* The inner IPv6 flow label is the flow's own: the outer traffic class copies only the inner one. */
Test(pkt, v6_inner_flow_label_stays_inside)
{
	struct pkt_spec s = { 6, "2001:db8:9::44", "2001:db8::100", 40120, 80, 6,
			      .payload = 8, .tos = 0xb8 };
	__u8 in[PKT_MAX];
	size_t len = pkt_build(&s, in);

	in[14 + 1] |= 0x0f;	/* flow label 0xfabcd */
	in[14 + 2] = 0xab;
	in[14 + 3] = 0xcd;
	struct run r = run_thrice(in, len);

	cr_assert_eq(r.action, XDP_TX_);
	cr_assert_eq(((r.out[14] & 0xf) << 4) | (r.out[15] >> 4), 0xb8, "outer traffic class");
}

/* UDP with the addresses and ports of a cached TCP flow is another flow. */
Test(pkt, udp_with_a_cached_tcp_flows_ports_is_not_that_flow)
{
	/* Neither 10.0.0.100:80/udp nor [2001:db8::100]:80/udp is a VIP. */
	struct pkt_spec t[2] = { { 4, "192.0.2.45", "10.0.0.100", 40121, 80, 6 },
				 { 6, "2001:db8:9::45", "2001:db8::100", 40121, 80, 6 } };
	__u8 in[PKT_MAX];

	for (int i = 0; i < 2; i++) {
		struct pkt_spec u = t[i];

		u.proto = 17;
		size_t len = pkt_build(&u, in);
		struct run r = run_cached(&t[i], in, len);

		cr_assert_eq(r.action, XDP_PASS_, "IPv%d: action %d (%s)", t[i].family,
			     r.action, last_reason());
		cr_assert_eq(reason(SL_PASS_NOT_VIP), (__u64)i + 1);
	}
}

/* A frame of another EtherType is not IP, whatever its bytes look like. */
Test(pkt, cached_flow_bytes_under_another_ethertype_pass)
{
	struct pkt_spec s = { 4, "192.0.2.64", "10.0.0.100", 40114, 80, 6 };
	__u8 in[PKT_MAX];
	size_t len = pkt_build(&s, in);

	put16(in + 12, 0x88b5);	/* IEEE local experimental */
	struct run r = run_cached(&s, in, len);

	cr_assert_eq(r.action, XDP_PASS_);
	cr_assert_arr_eq(r.out, in, len);
	cr_assert_eq(reason(SL_PASS_NOT_IP), 1);
}

Test(pkt, fits_exactly_at_mtu)
{
	/* 1480 bytes of inner IP + 20 of outer = 1500: allowed. */
	struct pkt_spec s = { 4, "192.0.2.1", "10.0.0.100", 1000, 80, 6,
			      .payload = 1480 - 40 };
	__u8 in[PKT_MAX];
	size_t len = pkt_build(&s, in);
	struct run r = run_pkt(in, len);

	cr_assert_eq(r.action, XDP_TX_);
}

Test(pkt, short_vlan_and_non_ip_pass)
{
	__u8 in[PKT_MAX] = {};
	struct run r;

	memcpy(in, pkt_mac_lb, 6);
	put16(in + 12, 0x8100);
	r = run_pkt(in, 16);
	cr_assert_eq(r.action, XDP_PASS_);
	cr_assert_eq(reason(SL_PASS_SHORT_L2), 1);
	put16(in + 12, 0x0806);		/* ARP */
	r = run_pkt(in, 60);
	cr_assert_eq(r.action, XDP_PASS_);
	cr_assert_arr_eq(r.out, in, 60);
	cr_assert_eq(reason(SL_PASS_NOT_IP), 1);
}

Test(pkt, established_flows_stay_when_the_backend_set_changes)
{
	__u8 in[PKT_MAX];
	__u32 before[300];
	__u32 removed = 12, moved = 0;

	for (int i = 0; i < 300; i++) {
		struct pkt_spec s = { 4, "192.0.2.15", "10.0.0.100", (__u16)(10000 + i), 80, 6 };
		size_t len = pkt_build(&s, in);

		struct run r = run_pkt(in, len);
		before[i] = out_backend(&r);
	}
	/* Take backend 12 out of the table (weight 0), as a drain would. */
	apply_vip(&fx[0], removed);
	for (int i = 0; i < 300; i++) {
		struct pkt_spec s = { 4, "192.0.2.15", "10.0.0.100", (__u16)(10000 + i), 80, 6 };
		size_t len = pkt_build(&s, in);
		struct run r = run_pkt(in, len);

		cr_assert_eq(out_backend(&r), before[i], "established flow %d moved", i);
		/* A new flow never goes to the removed backend. */
		s.sport = (__u16)(50000 + i);
		len = pkt_build(&s, in);
		r = run_pkt(in, len);
		cr_assert_neq(out_backend(&r), removed);
		moved += before[i] == removed;
	}
	cr_assert(moved > 0, "some flows were on the removed backend");
}

Test(pkt, flows_of_a_down_backend_move_and_others_stay)
{
	__u8 in[PKT_MAX];
	__u32 before[300];
	__u32 down = 11;
	struct sl_backend b;

	for (int i = 0; i < 300; i++) {
		struct pkt_spec s = { 4, "192.0.2.16", "10.0.0.100", (__u16)(10000 + i), 80, 6 };
		size_t len = pkt_build(&s, in);
		struct run r = run_pkt(in, len);

		before[i] = out_backend(&r);
	}
	/* New table without it first, then the down flag. */
	apply_vip(&fx[0], down);
	cr_assert_eq(dp_backend_get(dp, down, &b), 0);
	b.flags |= SL_BE_F_DOWN;
	cr_assert_eq(dp_backend_set(dp, down, &b), 0);
	for (int i = 0; i < 300; i++) {
		struct pkt_spec s = { 4, "192.0.2.16", "10.0.0.100", (__u16)(10000 + i), 80, 6 };
		size_t len = pkt_build(&s, in);
		struct run r = run_pkt(in, len);

		if (before[i] == down)
			cr_assert_neq(out_backend(&r), down, "flow %d still on down backend", i);
		else
			cr_assert_eq(out_backend(&r), before[i], "healthy flow %d moved", i);
	}
}

Test(pkt, reused_backend_slot_does_not_inherit_flows)
{
	struct pkt_spec s = { 4, "192.0.2.17", "10.0.0.100", 42000, 80, 6 };
	__u8 in[PKT_MAX];
	size_t len = pkt_build(&s, in);
	struct run r = run_pkt(in, len);
	__u32 id = out_backend(&r);
	struct sl_backend b;

	/* The slot is given to a different backend: generation changes. */
	cr_assert_eq(dp_backend_get(dp, id, &b), 0);
	b.gen++;
	b.mac[4] = 0x77;
	cr_assert_eq(dp_backend_set(dp, id, &b), 0);
	r = run_pkt(in, len);
	cr_assert_eq(r.action, XDP_TX_);
	struct sl_counters c;
	cr_assert_eq(vip_stats(&fx[0], &c), 0);
	cr_assert_eq(c.new_flows, 2, "stale entry treated as a new flow");
}

Test(pkt, unresolved_next_hop_without_route_is_dropped)
{
	struct pkt_spec s = { 4, "192.0.2.18", "10.0.0.100", 43000, 80, 6 };
	__u8 in[PKT_MAX];
	size_t len = pkt_build(&s, in);
	__u32 want = expected_backend(&s, 1, false);
	struct sl_backend b;

	cr_assert_eq(dp_backend_get(dp, want, &b), 0);
	b.flags &= (__u8)~SL_BE_F_MAC;
	cr_assert_eq(dp_backend_set(dp, want, &b), 0);
	/* New flow, flow table, cache: a slot copy without a MAC is no shortcut. */
	for (int i = 0; i < 3; i++) {
		struct run r = run_pkt_ctx(in, len, 1);	/* lo: no route to 10.1.0.0/16 */

		cr_assert_eq(r.action, XDP_DROP_, "packet %d: action %d", i + 1, r.action);
	}
	cr_assert_eq(reason(SL_DROP_NO_NEXTHOP), 3);
}

Test(pkt, unresolved_next_hop_uses_the_kernel_fib)
{
	struct pkt_spec s = { 4, "192.0.2.19", "10.0.0.100", 43001, 80, 6 };
	__u8 in[PKT_MAX];
	size_t len = pkt_build(&s, in);
	__u32 want = expected_backend(&s, 1, false);
	const char *addr = be_addr_of(&fx[0], want);
	struct sl_backend b;
	const __u8 mac[6] = { 0x02, 0xfe, 0xed, 0x00, 0x00, 0x01 };

	/* A private network namespace of this test process only. */
	netns_private();
	SH("ip link add sl-fib0 type veth peer name sl-fib1 && "
	   "ip link set sl-fib0 up && ip link set sl-fib1 up && "
	   "ip addr add 10.1.0.254/16 dev sl-fib0 && "
	   "sysctl -qw net.ipv4.conf.sl-fib0.forwarding=1 && "
	   "ip neigh replace %s lladdr 02:fe:ed:00:00:01 dev sl-fib0 nud permanent", addr);
	cr_assert_eq(dp_backend_get(dp, want, &b), 0);
	b.flags &= (__u8)~SL_BE_F_MAC;
	cr_assert_eq(dp_backend_set(dp, want, &b), 0);

	struct run r = run_pkt_ctx(in, len, if_nametoindex("sl-fib0"));

	cr_assert_eq(r.action, XDP_TX_, "action %d (%s)", r.action, last_reason());
	cr_assert_arr_eq(r.out, mac, 6, "next-hop MAC from the neighbour table");
	cr_assert_eq(reason(SL_TX_ENCAP), 1);
}

Test(pkt, reason_counters_add_up)
{
	__u8 in[PKT_MAX];
	struct pkt_spec tx = { 4, "192.0.2.20", "10.0.0.100", 1000, 80, 6 };
	struct pkt_spec pass = { 4, "192.0.2.20", "10.9.9.9", 1000, 80, 6 };
	__u64 v[SL_REASON_MAX], total = 0;

	for (int i = 0; i < 5; i++) {
		size_t len = pkt_build(&tx, in);

		run_pkt(in, len);
		len = pkt_build(&pass, in);
		run_pkt(in, len);
		run_pkt(in, len);
	}
	cr_assert_eq(dp_reason_stats(dp, v), 0);
	for (int i = 0; i < SL_REASON_MAX; i++)
		total += v[i];
	cr_assert_eq(v[SL_TX_ENCAP], 5);
	cr_assert_eq(v[SL_PASS_NOT_VIP], 10);
	cr_assert_eq(total, 15, "every packet counted exactly once");
}

Test(pkt, flows_record_the_coarse_clock)
{
	struct pkt_spec s = { 4, "192.0.2.21", "10.0.0.100", 44000, 80, 6 };
	struct sl_flow_key k = flow_key(&s);
	struct sl_flow f;
	__u32 counts[SLUICE_MAX_BACKENDS];
	__u64 total;
	__u8 in[PKT_MAX];
	size_t len = pkt_build(&s, in);

	dp_clock_set(dp, 1000);
	run_pkt(in, len);
	cr_assert_eq(dp_flow_get(dp, &k, &f), 0);
	cr_assert_eq(f.seen, 1000, "new flow stamped with the clock");
	dp_clock_set(dp, 1005);
	run_pkt(in, len);
	cr_assert_eq(dp_flow_get(dp, &k, &f), 0);
	cr_assert_eq(f.seen, 1005, "hit refreshes the stamp");
	cr_assert_eq(dp_flow_counts(dp, counts, &total, 1005), 0);
	cr_assert_eq(total, 1);
	cr_assert_eq(counts[f.backend], 1);
	cr_assert_eq(dp_flow_counts(dp, counts, &total, 1006), 0);
	cr_assert_eq(total, 0, "a flow not seen since is not live");
}

Test(pkt, ethernet_padding_is_not_carried)
{
	struct pkt_spec s = { 4, "192.0.2.22", "10.0.0.100", 45000, 80, 6 };
	__u8 in[PKT_MAX];
	size_t len = pkt_build(&s, in);	/* 54 bytes: a bare TCP ACK */
	__u32 want = expected_backend(&s, 1, false);

	memset(in + len, 0xee, 6);	/* padded to the 60-byte minimum frame */
	struct run r = run_pkt(in, len + 6);

	cr_assert_eq(r.action, XDP_TX_);
	cr_assert_eq(r.len, len + 20, "padding forwarded inside the tunnel");
	check_ipip(&r, in, len, 14, want, be_addr_of(&fx[0], want));
}

Test(pkt, broadcast_frame_to_a_vip_passes)
{
	struct pkt_spec s = { 4, "192.0.2.23", "10.0.0.100", 45001, 80, 6 };
	__u8 in[PKT_MAX];
	size_t len = pkt_build(&s, in);

	memset(in, 0xff, 6);
	struct run r = run_pkt(in, len);

	cr_assert_eq(r.action, XDP_PASS_);
	cr_assert_arr_eq(r.out, in, len);
	cr_assert_eq(reason(SL_PASS_L2_MULTICAST), 1);
	/* The same once the flow is in the cache. */
	r = run_cached(&s, in, len);
	cr_assert_eq(r.action, XDP_PASS_);
	cr_assert_arr_eq(r.out, in, len);
	cr_assert_eq(reason(SL_PASS_L2_MULTICAST), 2);
}

Test(pkt, next_hop_on_another_interface_is_redirected)
{
	struct pkt_spec s = { 4, "192.0.2.24", "10.0.0.100", 45002, 80, 6 };
	__u8 in[PKT_MAX];
	size_t len = pkt_build(&s, in);
	__u32 want = expected_backend(&s, 1, false);
	struct sl_backend b;

	/* Each three times: new flow, flow table, cache (and fast path). */
	cr_assert_eq(dp_backend_get(dp, want, &b), 0);
	b.ifindex = 1;	/* lo: the receiving interface in a test run */
	cr_assert_eq(dp_backend_set(dp, want, &b), 0);
	cr_assert_eq(run_thrice(in, len).action, XDP_TX_, "sent back out where it came");
	cr_assert_eq(reason(SL_TX_ENCAP), 3);
	b.ifindex = 999;	/* another one */
	cr_assert_eq(dp_backend_set(dp, want, &b), 0);
	struct run r = run_thrice(in, len);

	cr_assert_eq(r.action, 4 /* XDP_REDIRECT */, "action %d", r.action);
	cr_assert_eq(reason(SL_TX_REDIRECT), 3);
	cr_assert_eq(reason(SL_TX_ENCAP), 3);
}

Test(pkt, a_more_specific_vip_takes_over_existing_flows)
{
	/* A flow of the whole-address VIP 10.0.0.101:0 to port 443 ... */
	struct pkt_spec s = { 4, "192.0.2.25", "10.0.0.101", 45003, 443, 6 };
	__u8 in[PKT_MAX];
	size_t len = pkt_build(&s, in);
	struct run r = run_pkt(in, len);

	cr_assert_eq(r.action, XDP_TX_);
	cr_assert_geq(out_backend(&r), 30);
	cr_assert_lt(out_backend(&r), 34);
	/* ... then 10.0.0.101:443 becomes its own VIP with other backends. */
	struct fx_vip v = { "10.0.0.101", 443, 6, 8, 0, { "10.1.0.7", "10.1.0.8" }, 70 };
	apply_vip(&v, ~0U);
	/* Known flows skip the VIP lookup, so nothing changes yet ... */
	r = run_pkt(in, len);
	cr_assert_lt(out_backend(&r), 34, "flow moved before its entry was invalidated");
	/* ... until the control plane renews the wildcard VIP's generations. */
	for (__u32 id = 30; id < 34; id++) {
		struct sl_backend b;

		cr_assert_eq(dp_backend_get(dp, id, &b), 0);
		b.gen += 100;
		cr_assert_eq(dp_backend_set(dp, id, &b), 0);
	}
	r = run_pkt(in, len);
	cr_assert_geq(out_backend(&r), 70, "flow stayed with the old VIP's backend");
}

Test(pkt, new_flows_beyond_the_limit_are_forwarded_but_not_remembered)
{
	struct dp_opts o = { .hash_seed = SEED, .mtu = 1500, .flow_entries = 4096,
			     .flow_limit = 5 };
	__u32 counts[SLUICE_MAX_BACKENDS];
	__u64 total;
	__u8 in[PKT_MAX];

	dp_close(dp);
	dp = dp_open(&o);
	cr_assert_not_null(dp);
	apply_vip(&fx[0], ~0U);
	dp_clock_set(dp, 7);
	for (int i = 0; i < 10; i++) {
		struct pkt_spec s = { 4, "192.0.2.26", "10.0.0.100", (__u16)(46000 + i), 80, 6 };
		size_t len = pkt_build(&s, in);

		in[14 + 20 + 13] = 0x02;	/* SYN */
		struct run r = run_pkt(in, len);
		cr_assert_eq(r.action, XDP_TX_, "SYN %d not forwarded", i);
		cr_assert_eq(out_backend(&r), expected_backend(&s, 1, false));
	}
	cr_assert_eq(dp_flow_counts(dp, counts, &total, 0), 0);
	cr_assert_eq(total, 5, "%llu flows remembered, limit 5 per CPU per second",
		     (unsigned long long)total);
	struct sl_counters c;
	cr_assert_eq(vip_stats(&fx[0], &c), 0);
	cr_assert_eq(c.new_flows, 10, "every SYN counts as a new flow");
	/* A new second, a new allowance. */
	dp_clock_set(dp, 8);
	struct pkt_spec s = { 4, "192.0.2.26", "10.0.0.100", 47000, 80, 6 };
	size_t len = pkt_build(&s, in);
	run_pkt(in, len);
	cr_assert_eq(dp_flow_counts(dp, counts, &total, 0), 0);
	cr_assert_eq(total, 6);
}

Test(pkt, a_cached_flow_still_leaves_a_down_backend_and_refreshes_its_entry)
{
	struct pkt_spec s = { 4, "192.0.2.27", "10.0.0.100", 48000, 80, 6 };
	struct sl_flow_key k = flow_key(&s);
	struct sl_backend b;
	struct sl_flow f;
	__u8 in[PKT_MAX];
	size_t len = pkt_build(&s, in);

	dp_clock_set(dp, 50);
	struct run r = run_pkt(in, len);	/* new flow: into the flow table */
	__u32 first = out_backend(&r);

	r = run_pkt(in, len);	/* flow table hit: into the per-CPU cache */
	r = run_pkt(in, len);	/* cache hit */
	cr_assert_eq(out_backend(&r), first);
	/* A later second: the flow-table entry is refreshed through the cache. */
	dp_clock_set(dp, 51);
	r = run_pkt(in, len);
	r = run_pkt(in, len);
	cr_assert_eq(dp_flow_get(dp, &k, &f), 0);
	cr_assert_eq(f.seen, 51, "cached flow not seen by the flow table");
	/* The backend fails: the cached entry must not keep the flow on it. */
	apply_vip(&fx[0], first);
	cr_assert_eq(dp_backend_get(dp, first, &b), 0);
	b.flags |= SL_BE_F_DOWN;
	cr_assert_eq(dp_backend_set(dp, first, &b), 0);
	r = run_pkt(in, len);
	cr_assert_eq(r.action, XDP_TX_);
	cr_assert_neq(out_backend(&r), first, "cached flow stayed on a down backend");
}
