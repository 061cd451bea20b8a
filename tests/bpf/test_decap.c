// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The backend decapsulator: packets through the loaded program, the library, sluice-backend in netns. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <bpf/bpf.h>
#include "backend.h"
#include "bpf/pkt.h"
#include "shell.h"

#define XDP_DROP_ 1
#define XDP_PASS_ 2

/* Addresses of the packet tests: the balancer, this backend, VIPs, a client. */
#define LB4	"192.168.1.1"
#define ME4	"192.168.1.2"
#define LB6	"2001:db8:a::1"
#define ME6	"2001:db8:b::2"
#define VIP4	"10.0.0.100"
#define VIP6	"2001:db8::100"
#define CLI4	"192.0.2.7"
#define CLI6	"2001:db8:c::7"
#define OTHER4	"192.168.1.99"
#define OTHER6	"2001:db8:b::99"

static struct bk *bk;

static struct sl_dc_addr addr(const char *text)
{
	struct sl_dc_addr a;

	cr_assert_eq(bk_addr_parse(text, &a), 0, "bad address %s", text);
	return a;
}

static void setup(void)
{
	const char *local[] = { ME4, ME6 }, *vips[] = { VIP4, VIP6 };

	bk = bk_load(NULL);
	cr_assert_not_null(bk, "bk_load: %s", strerror(errno));
	for (int i = 0; i < 2; i++) {
		struct sl_dc_addr l = addr(local[i]), v = addr(vips[i]);

		cr_assert_eq(bk_local_add(bk, &l), 0);
		cr_assert_eq(bk_vip_add(bk, &v), 0);
	}
}

static void teardown(void)
{
	bk_close(bk);
	bk = NULL;
}

TestSuite(decap, .init = setup, .fini = teardown);

/* The outer header put around a packet; family 0: none, the packet as built. */
struct outer_spec {
	int family;		/* 4 or 6; 0 = not encapsulated */
	char src[48];		/* outer source, text */
	char dst[48];		/* outer destination, text */
	__u8 proto;		/* protocol / next header; 0 = 4 or 41 from the inner */
	__u8 opt_words;		/* IPv4 option words (IHL = 5 + this) */
	__u8 tos;		/* TOS / traffic class, ECN bits included */
	bool frag;		/* IPv4 MF / IPv6 fragment header */
	__u16 frag_off;		/* IPv4 fragment offset, 8-byte units */
};

#define IPIP	{ 4, LB4, ME4 }
#define IP6IP6	{ 6, LB6, ME6 }
#define TCP4	{ 4, CLI4, VIP4, 40000, 80, 6, .payload = 100 }
#define UDP4	{ 4, CLI4, VIP4, 40000, 53, 17, .payload = 33 }
#define TCP6	{ 6, CLI6, VIP6, 40000, 80, 6, .payload = 100 }

static size_t l2_len(const struct pkt_spec *s)
{
	return s->vlan ? 18 : 14;
}

/*
 * Put the IP packet of the frame @plain (@len bytes, @l2 of them L2) inside
 * the outer header @o, into @buf. Returns the new frame's length.
 */
static size_t wrap(const __u8 *plain, size_t len, size_t l2, int inner_family,
		   const struct outer_spec *o, __u8 *buf)
{
	__u8 src[16] = {}, dst[16] = {}, *b = buf + l2;
	size_t ip = len - l2, hl;
	__u8 proto = o->proto ? o->proto : inner_family == 6 ? 41 : 4;
	int af = o->family == 6 ? AF_INET6 : AF_INET;

	memset(buf, 0, PKT_MAX);
	if (!o->family) {
		memcpy(buf, plain, len);
		return len;
	}
	cr_assert_eq(inet_pton(af, o->src, src), 1);
	cr_assert_eq(inet_pton(af, o->dst, dst), 1);
	memcpy(buf, plain, l2);
	put16(buf + l2 - 2, o->family == 6 ? 0x86dd : 0x0800);
	if (o->family == 4) {
		hl = 20 + 4 * (size_t)o->opt_words;
		b[0] = 0x40 | (__u8)(hl / 4);
		b[1] = o->tos;
		put16(b + 2, (__u16)(hl + ip));
		put16(b + 4, 0x4242);
		put16(b + 6, (__u16)((o->frag ? 0x2000 : 0) | o->frag_off));
		b[8] = 63;
		b[9] = proto;
		memcpy(b + 12, src, 4);
		memcpy(b + 16, dst, 4);
		for (size_t i = 20; i < hl; i++)
			b[i] = 0x01;	/* NOP options */
		put16(b + 10, pkt_fold(pkt_sum(b, hl, 0)));
	} else {
		hl = 40 + (o->frag ? 8 : 0);
		b[0] = 0x60 | (o->tos >> 4);
		b[1] = (__u8)(o->tos << 4);
		put16(b + 4, (__u16)(hl - 40 + ip));
		b[6] = o->frag ? 44 : proto;
		b[7] = 63;
		memcpy(b + 8, src, 16);
		memcpy(b + 24, dst, 16);
		if (o->frag) {
			b[40] = proto;
			put16(b + 42, 0x0001);	/* offset 0, M=1 */
		}
	}
	memcpy(b + hl, plain + l2, ip);
	return l2 + hl + ip;
}

/* Build the frame of @in inside @o into @buf; *@plain gets @in alone. */
static size_t enc_build(const struct pkt_spec *in, const struct outer_spec *o, __u8 *buf,
			__u8 *plain, size_t *plain_len)
{
	*plain_len = pkt_build(in, plain);
	return wrap(plain, *plain_len, l2_len(in), in->family, o, buf);
}

/* Result of one run. */
struct run {
	int action;
	__u8 out[PKT_MAX + 64];
	__u32 len;
};

static struct run run_pkt(const __u8 *in, size_t len)
{
	struct run r = {};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (__u32)len,
		    .data_out = r.out, .data_size_out = sizeof(r.out), .repeat = 1);

	cr_assert_eq(bpf_prog_test_run_opts(bk_prog_fd(bk), &o), 0, "test_run: %s",
		     strerror(errno));
	r.action = (int)o.retval;
	r.len = o.data_size_out;
	return r;
}

static __u64 reason(int r)
{
	struct sl_dc_count c[SL_DC_REASON_MAX];

	cr_assert_eq(bk_stats(bk, c), 0);
	return c[r].packets;
}

/* Names the non-zero reason counters, for failure messages. */
static const char *reasons_seen(void)
{
	static char buf[256];
	struct sl_dc_count c[SL_DC_REASON_MAX];
	size_t off = 0;

	buf[0] = 0;
	if (bk_stats(bk, c))
		return "?";
	for (int i = 0; i < SL_DC_REASON_MAX; i++)
		if (c[i].packets)
			off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s=%llu ",
						bk_reason_name(i),
						(unsigned long long)c[i].packets);
	return buf;
}

/* Encapsulated packets that must come out as Ethernet + the inner packet. */
struct ok_case {
	char name[64];
	struct pkt_spec in;	/* the client's packet, as the balancer got it */
	struct outer_spec out;	/* the balancer's outer header */
};

static struct ok_case ok_cases[] = {
	{ "IPIP, TCP", TCP4, IPIP },
	{ "IPIP, UDP", UDP4, IPIP },
	{ "IP6IP6, TCP", TCP6, IP6IP6 },
	{ "IPv4-in-IPv6, UDP", UDP4, IP6IP6 },
	{ "IPIP, 802.1Q tagged", { 4, CLI4, VIP4, 1, 80, 6, .vlan = 42, .payload = 5 },
	  IPIP },
	{ "IP6IP6, 802.1Q tagged", { 6, CLI6, VIP6, 1, 80, 6, .vlan = 7, .payload = 5 },
	  IP6IP6 },
	{ "IPv4-in-IPv6, 802.1Q tagged", { 4, CLI4, VIP4, 1, 80, 17, .vlan = 9 },
	  IP6IP6 },
	{ "IPIP, outer IPv4 options stripped too", TCP4, { 4, LB4, ME4, .opt_words = 3 } },
	{ "IPIP, inner IPv4 options kept", { 4, CLI4, VIP4, 1, 80, 6, .ip_opt_words = 2 },
	  IPIP },
	{ "IPIP, inner fragment passes on", { 4, CLI4, VIP4, 1, 80, 17, .frag = true },
	  IPIP },
	{ "IP6IP6, inner fragment passes on", { 6, CLI6, VIP6, 1, 80, 17, .frag = true },
	  IP6IP6 },
	{ "IPIP, no inner payload", { 4, CLI4, VIP4, 1, 80, 17 }, IPIP },
	{ "IPIP, full-size inner packet", { 4, CLI4, VIP4, 1, 80, 6, .payload = 1460 },
	  IPIP },
	{ "IPIP, outer ECN not CE: inner untouched", { 4, CLI4, VIP4, 1, 80, 6, .tos = 2 },
	  { 4, LB4, ME4, .tos = 0x01 } },
	{ "IPIP, outer CE, inner not ECN-capable: untouched", { 4, CLI4, VIP4, 1, 80, 6 },
	  { 4, LB4, ME4, .tos = 0x03 } },
};

ParameterizedTestParameters(decap, strips_the_outer_header)
{
	return cr_make_param_array(struct ok_case, ok_cases,
				   sizeof(ok_cases) / sizeof(ok_cases[0]));
}

ParameterizedTest(struct ok_case *c, decap, strips_the_outer_header)
{
	__u8 in[PKT_MAX], want[PKT_MAX];
	size_t want_len, len = enc_build(&c->in, &c->out, in, want, &want_len);
	size_t l2 = l2_len(&c->in);
	struct run r = run_pkt(in, len);

	cr_assert_eq(r.action, XDP_PASS_, "%s: action %d (%s)", c->name, r.action,
		     reasons_seen());
	cr_assert_eq(r.len, want_len, "%s: length %u, want %zu", c->name, r.len, want_len);
	cr_assert_eq(get16(r.out + l2 - 2), c->in.family == 6 ? 0x86dd : 0x0800,
		     "%s: EtherType not the inner family", c->name);
	cr_assert_arr_eq(r.out, want, want_len, "%s: not Ethernet + the inner packet",
			 c->name);
	cr_assert_eq(reason(SL_DC_DECAP_OK), 1, "%s: %s", c->name, reasons_seen());
}

/* ECN (RFC 6040): outer CE is copied to an ECN-capable inner packet. */
struct ecn_case {
	char name[64];
	struct pkt_spec in;
	struct outer_spec out;
	__u8 want_tos;		/* inner TOS / traffic class after decap */
};

static struct ecn_case ecn_cases[] = {
	{ "IPIP, ECT(0) becomes CE", { 4, CLI4, VIP4, 1, 80, 6, .tos = 0xb8 | 2 },
	  { 4, LB4, ME4, .tos = 0xb8 | 3 }, 0xb8 | 3 },
	{ "IPIP, ECT(1) becomes CE", { 4, CLI4, VIP4, 1, 80, 6, .tos = 1 },
	  { 4, LB4, ME4, .tos = 3 }, 3 },
	{ "IP6IP6, ECT(1) becomes CE", { 6, CLI6, VIP6, 1, 80, 6, .tos = 0x28 | 1 },
	  { 6, LB6, ME6, .tos = 0x28 | 3 }, 0x28 | 3 },
	{ "IPv4-in-IPv6, ECT(0) becomes CE", { 4, CLI4, VIP4, 1, 80, 17, .tos = 2 },
	  { 6, LB6, ME6, .tos = 3 }, 3 },
};

ParameterizedTestParameters(decap, outer_congestion_mark_reaches_the_inner_packet)
{
	return cr_make_param_array(struct ecn_case, ecn_cases,
				   sizeof(ecn_cases) / sizeof(ecn_cases[0]));
}

ParameterizedTest(struct ecn_case *c, decap, outer_congestion_mark_reaches_the_inner_packet)
{
	__u8 in[PKT_MAX], plain[PKT_MAX], want[PKT_MAX];
	size_t plain_len, len = enc_build(&c->in, &c->out, in, plain, &plain_len);
	struct pkt_spec marked = c->in;
	struct run r = run_pkt(in, len);

	/* pkt_build() with the CE TOS gives the expected bytes, checksum included. */
	marked.tos = c->want_tos;
	cr_assert_eq(pkt_build(&marked, want), plain_len);
	cr_assert_eq(r.action, XDP_PASS_, "%s (%s)", c->name, reasons_seen());
	cr_assert_eq(r.len, plain_len, "%s", c->name);
	cr_assert_arr_eq(r.out, want, plain_len, "%s: inner packet not as expected",
			 c->name);
	if (c->in.family == 4)
		cr_assert_eq(pkt_fold(pkt_sum(r.out + 14, 20, 0)), 0,
			     "%s: inner IPv4 checksum broken", c->name);
}

/* Packets that are not ours: XDP_PASS, bytes untouched, counted by reason. */
struct pass_case {
	char name[64];
	struct pkt_spec in;
	struct outer_spec out;
	int cut;		/* bytes removed from the end */
	int reason;
};

static struct pass_case pass_cases[] = {
	{ "plain IPv4 to a VIP", TCP4, {}, 0, SL_DC_PASS_NOT_ENCAP },
	{ "plain IPv6 to a VIP", TCP6, {}, 0, SL_DC_PASS_NOT_ENCAP },
	{ "plain IPv4 to this host", { 4, CLI4, ME4, 1, 22, 6 }, {}, 0,
	  SL_DC_PASS_NOT_ENCAP },
	{ "plain IPv6 fragment to this host", { 6, CLI6, ME6, 1, 2, 17, .frag = true },
	  {}, 0, SL_DC_PASS_NOT_ENCAP },
	{ "IPIP to another address", TCP4, { 4, LB4, OTHER4 }, 0, SL_DC_PASS_NOT_LOCAL },
	{ "IP6IP6 to another address", TCP6, { 6, LB6, OTHER6 }, 0, SL_DC_PASS_NOT_LOCAL },
	{ "IPv4-in-IPv6 to another address", TCP4, { 6, LB6, OTHER6 }, 0,
	  SL_DC_PASS_NOT_LOCAL },
	{ "IPIP to a VIP (not a host address)", TCP4, { 4, LB4, VIP4 }, 0,
	  SL_DC_PASS_NOT_LOCAL },
	{ "6in4 (SIT, protocol 41) is not ours", TCP6, { 4, LB4, ME4, .proto = 41 }, 0,
	  SL_DC_PASS_NOT_ENCAP },
	{ "GRE is not ours", TCP4, { 4, LB4, ME4, .proto = 47 }, 0, SL_DC_PASS_NOT_ENCAP },
	{ "IPv6 destination options before IP-in-IP", TCP4, { 6, LB6, ME6, .proto = 60 },
	  0, SL_DC_PASS_NOT_ENCAP },
	{ "IPIP frame too short for the outer header", TCP4, IPIP, 160,
	  SL_DC_PASS_NOT_ENCAP },
	{ "IP6IP6 frame too short for the outer header", TCP6, IP6IP6, 180,
	  SL_DC_PASS_NOT_ENCAP },
	{ "IPv6 fragment header cut short", TCP6, { 6, LB6, ME6, .frag = true }, 164,
	  SL_DC_PASS_NOT_ENCAP },
};

ParameterizedTestParameters(decap, passes_what_is_not_ours_untouched)
{
	return cr_make_param_array(struct pass_case, pass_cases,
				   sizeof(pass_cases) / sizeof(pass_cases[0]));
}

ParameterizedTest(struct pass_case *c, decap, passes_what_is_not_ours_untouched)
{
	__u8 in[PKT_MAX], plain[PKT_MAX];
	size_t plain_len, len = enc_build(&c->in, &c->out, in, plain, &plain_len);

	cr_assert_gt(len, (size_t)c->cut);
	len -= (size_t)c->cut;
	struct run r = run_pkt(in, len);

	cr_assert_eq(r.action, XDP_PASS_, "%s: action %d", c->name, r.action);
	cr_assert_eq(r.len, len, "%s", c->name);
	cr_assert_arr_eq(r.out, in, len, "%s: bytes changed", c->name);
	cr_assert_eq(reason(c->reason), 1, "%s: not counted as %s (%s)", c->name,
		     bk_reason_name(c->reason), reasons_seen());
}

/* Encapsulated to us but refused: XDP_DROP, counted by reason. */
struct drop_case {
	char name[64];
	struct pkt_spec in;
	struct outer_spec out;
	int keep;		/* outer bytes kept, outer length set to match; 0 = all */
	int off;		/* offset from the outer header of a byte to set, or -1 */
	__u8 val;		/* value written there */
	int reason;
};

/* Where the inner header starts after a plain outer IPv4 / IPv6 header. */
#define IN4 20
#define IN6 40

static struct drop_case drop_cases[] = {
	{ "inner IPv4 not a VIP", { 4, CLI4, "10.0.0.99", 1, 80, 6 }, IPIP, 0, -1, 0,
	  SL_DC_DROP_NOT_VIP },
	{ "inner IPv6 not a VIP", { 6, CLI6, "2001:db8::99", 1, 80, 6 }, IP6IP6, 0, -1, 0,
	  SL_DC_DROP_NOT_VIP },
	{ "inner IPv4 in IPv6 not a VIP", { 4, CLI4, "10.0.0.99", 1, 80, 6 }, IP6IP6, 0,
	  -1, 0, SL_DC_DROP_NOT_VIP },
	{ "inner to this host's own address", { 4, CLI4, ME4, 1, 80, 6 }, IPIP, 0, -1, 0,
	  SL_DC_DROP_NOT_VIP },
	{ "inner IPv4 header truncated", TCP4, IPIP, IN4 + 12, -1, 0,
	  SL_DC_DROP_BAD_INNER },
	{ "inner IPv6 header truncated", TCP6, IP6IP6, IN6 + 30, -1, 0,
	  SL_DC_DROP_BAD_INNER },
	{ "inner IPv4 in IPv6 header truncated", TCP4, IP6IP6, IN6 + 19, -1, 0,
	  SL_DC_DROP_BAD_INNER },
	{ "nothing inside IPIP", TCP4, IPIP, IN4, -1, 0, SL_DC_DROP_BAD_INNER },
	{ "inner IHL 4", TCP4, IPIP, 0, IN4, 0x44, SL_DC_DROP_BAD_INNER },
	{ "inner IPv6 inside IPIP (protocol 4)", TCP4, IPIP, 0, IN4, 0x65,
	  SL_DC_DROP_BAD_INNER },
	{ "inner IPv4 inside next header 41", TCP6, IP6IP6, 0, IN6, 0x45,
	  SL_DC_DROP_BAD_INNER },
	{ "inner IPv4 total length past the outer payload", TCP4, IPIP, 0, IN4 + 3, 0xff,
	  SL_DC_DROP_BAD_INNER },
	{ "inner IPv4 total length below IHL", TCP4, IPIP, 0, IN4 + 3, 0x0c,
	  SL_DC_DROP_BAD_INNER },
	{ "inner IPv6 payload length past the outer payload", TCP6, IP6IP6, 0, IN6 + 4,
	  0x10, SL_DC_DROP_BAD_INNER },
	{ "inner IPv4 longer than an IPv6 outer payload", TCP4, IP6IP6, 0, IN6 + 2, 0x10,
	  SL_DC_DROP_BAD_INNER },
	{ "outer IPv4 total length past the frame", TCP4, IPIP, 0, 2, 0x10,
	  SL_DC_DROP_BAD_OUTER },
	{ "outer IPv4 IHL 4", TCP4, IPIP, 0, 0, 0x44, SL_DC_DROP_BAD_OUTER },
	{ "outer IPv4 total length below IHL", TCP4, IPIP, 0, 3, 0x10,
	  SL_DC_DROP_BAD_OUTER },
	{ "outer IPv6 payload length past the frame", TCP6, IP6IP6, 0, 4, 0x10,
	  SL_DC_DROP_BAD_OUTER },
	{ "outer IPv4 first fragment (MF)", TCP4, { 4, LB4, ME4, .frag = true }, 0, -1, 0,
	  SL_DC_DROP_FRAGMENT },
	{ "outer IPv4 later fragment", TCP4, { 4, LB4, ME4, .frag_off = 185 }, 0, -1, 0,
	  SL_DC_DROP_FRAGMENT },
	{ "outer IPv6 fragment, IPv6 inside", TCP6, { 6, LB6, ME6, .frag = true }, 0, -1,
	  0, SL_DC_DROP_FRAGMENT },
	{ "outer IPv6 fragment, IPv4 inside", TCP4, { 6, LB6, ME6, .frag = true }, 0, -1,
	  0, SL_DC_DROP_FRAGMENT },
};

ParameterizedTestParameters(decap, refuses_what_is_ours_but_wrong)
{
	return cr_make_param_array(struct drop_case, drop_cases,
				   sizeof(drop_cases) / sizeof(drop_cases[0]));
}

ParameterizedTest(struct drop_case *c, decap, refuses_what_is_ours_but_wrong)
{
	__u8 in[PKT_MAX], plain[PKT_MAX];
	size_t plain_len, len = enc_build(&c->in, &c->out, in, plain, &plain_len);
	size_t l2 = l2_len(&c->in);
	__u8 *outer = in + l2;

	if (c->keep) {
		len = l2 + (size_t)c->keep;
		if (c->out.family == 4) {
			put16(outer + 2, (__u16)c->keep);
			put16(outer + 10, 0);
			put16(outer + 10, pkt_fold(pkt_sum(outer, 20, 0)));
		} else {
			put16(outer + 4, (__u16)(c->keep - 40));
		}
	}
	if (c->off >= 0)
		outer[c->off] = c->val;
	struct run r = run_pkt(in, len);

	cr_assert_eq(r.action, XDP_DROP_, "%s: action %d (%s)", c->name, r.action,
		     reasons_seen());
	cr_assert_eq(reason(c->reason), 1, "%s: not counted as %s (%s)", c->name,
		     bk_reason_name(c->reason), reasons_seen());
	cr_assert_eq(reason(SL_DC_DECAP_OK), 0, "%s", c->name);
}

Test(decap, non_ip_and_short_frames_pass)
{
	__u8 in[PKT_MAX] = {};
	struct run r;

	memcpy(in, pkt_mac_lb, 6);
	put16(in + 12, 0x0806);		/* ARP */
	r = run_pkt(in, 60);
	cr_assert_eq(r.action, XDP_PASS_);
	cr_assert_arr_eq(r.out, in, 60);
	put16(in + 12, 0x8100);		/* a VLAN tag cut off */
	r = run_pkt(in, 16);
	cr_assert_eq(r.action, XDP_PASS_);
	put16(in + 12, 0x88a8);		/* 802.1ad tag around ARP */
	put16(in + 16, 0x0806);
	r = run_pkt(in, 60);
	cr_assert_eq(r.action, XDP_PASS_);
	cr_assert_eq(reason(SL_DC_PASS_NOT_ENCAP), 3, "%s", reasons_seen());
}

Test(decap, an_802_1ad_tag_is_kept_and_its_ethertype_fixed)
{
	struct pkt_spec s = { 4, CLI4, VIP4, 1, 80, 6, .vlan = 5, .payload = 9 };
	struct outer_spec o = IP6IP6;
	__u8 in[PKT_MAX], want[PKT_MAX];
	size_t want_len, len = enc_build(&s, &o, in, want, &want_len);

	put16(in + 12, 0x88a8);
	put16(want + 12, 0x88a8);
	struct run r = run_pkt(in, len);

	cr_assert_eq(r.action, XDP_PASS_, "%s", reasons_seen());
	cr_assert_eq(r.len, want_len);
	cr_assert_arr_eq(r.out, want, want_len);
}

Test(decap, vips_and_local_addresses_follow_the_maps)
{
	struct pkt_spec s = TCP4;
	struct outer_spec o = IPIP;
	__u8 in[PKT_MAX], plain[PKT_MAX];
	size_t plain_len, len = enc_build(&s, &o, in, plain, &plain_len);
	struct sl_dc_addr vip = addr(VIP4), me = addr(ME4);

	cr_assert_eq(run_pkt(in, len).action, XDP_PASS_);
	cr_assert_eq(bk_vip_has(bk, &vip), 1);
	cr_assert_eq(bk_vip_del(bk, &vip), 0);
	cr_assert_eq(bk_vip_has(bk, &vip), 0);
	cr_assert_eq(bk_vip_del(bk, &vip), -ENOENT);
	cr_assert_eq(run_pkt(in, len).action, XDP_DROP_, "VIP removed: refused");
	cr_assert_eq(reason(SL_DC_DROP_NOT_VIP), 1);
	cr_assert_eq(bk_local_del(bk, &me), 0);
	struct run r = run_pkt(in, len);

	cr_assert_eq(r.action, XDP_PASS_, "address no longer ours: not ours to judge");
	cr_assert_arr_eq(r.out, in, len);
	cr_assert_eq(reason(SL_DC_PASS_NOT_LOCAL), 1);
	cr_assert_eq(bk_vip_add(bk, &vip), 0);
	cr_assert_eq(bk_local_add(bk, &me), 0);
	cr_assert_eq(run_pkt(in, len).action, XDP_PASS_);
	cr_assert_eq(reason(SL_DC_DECAP_OK), 2);
}

Test(decap, counters_add_up)
{
	struct pkt_spec t4 = TCP4, t6 = TCP6, bad = { 4, CLI4, "10.0.0.99", 1, 80, 6 };
	struct outer_spec o4 = IPIP, o6 = IP6IP6, none = {};
	struct sl_dc_count c[SL_DC_REASON_MAX];
	__u8 in[PKT_MAX], plain[PKT_MAX];
	size_t plain_len, len, bytes_ok = 0;
	__u64 total = 0;

	for (int i = 0; i < 3; i++) {
		len = enc_build(&t4, &o4, in, plain, &plain_len);
		run_pkt(in, len);
		bytes_ok += len;
		len = enc_build(&t6, &o6, in, plain, &plain_len);
		run_pkt(in, len);
		bytes_ok += len;
		len = enc_build(&t4, &none, in, plain, &plain_len);
		run_pkt(in, len);
	}
	len = enc_build(&bad, &o4, in, plain, &plain_len);
	run_pkt(in, len);
	cr_assert_eq(bk_stats(bk, c), 0);
	for (int i = 0; i < SL_DC_REASON_MAX; i++)
		total += c[i].packets;
	cr_assert_eq(c[SL_DC_DECAP_OK].packets, 6);
	cr_assert_eq(c[SL_DC_DECAP_OK].bytes, bytes_ok, "bytes as received");
	cr_assert_eq(c[SL_DC_PASS_NOT_ENCAP].packets, 3);
	cr_assert_eq(c[SL_DC_DROP_NOT_VIP].packets, 1);
	cr_assert_eq(total, 10, "every packet counted exactly once");
	cr_assert_eq(bk_stats_reset(bk), 0);
	cr_assert_eq(bk_stats(bk, c), 0);
	cr_assert_eq(c[SL_DC_DECAP_OK].packets, 0);
}

Test(decap, addresses_parse_and_print)
{
	struct sl_dc_addr a;
	char buf[64];

	cr_assert_eq(bk_addr_parse("10.0.0.1", &a), 0);
	cr_assert_eq(a.family, SL_FAMILY_V4);
	cr_assert_eq(a.addr[1] | a.addr[2] | a.addr[3], 0, "IPv4 in addr[0] only");
	cr_assert_str_eq(bk_addr_str(&a, buf, sizeof(buf)), "10.0.0.1");
	cr_assert_eq(bk_addr_parse("2001:db8::1", &a), 0);
	cr_assert_eq(a.family, SL_FAMILY_V6);
	cr_assert_str_eq(bk_addr_str(&a, buf, sizeof(buf)), "2001:db8::1");
	cr_assert_eq(bk_addr_parse("10.0.0.1/32", &a), -EINVAL);
	cr_assert_eq(bk_addr_parse("eth0", &a), -EINVAL);
	cr_assert_eq(bk_pin_dir(buf, sizeof(buf), "../x"), -EINVAL);
	cr_assert_eq(bk_pin_dir(buf, sizeof(buf), "a-very-long-interface"), -EINVAL);
}

Test(decap, library_follows_a_real_interface_and_lo)
{
	struct sl_dc_addr have[16], stale = addr("10.8.8.8"), vip = addr("10.0.0.42");
	struct sl_dc_addr vip6 = addr("2001:db8::42");
	const char *want[] = { "10.9.0.1", "10.9.0.2", "2001:db8:9::1" };
	int n;

	/* A private network namespace of this test process only. */
	netns_private();
	SH("ip link add sldcs0 type veth peer name sldcs1 && "
	   "ip addr add 10.9.0.1/24 dev sldcs0 && "
	   "ip addr add 10.9.0.2/24 dev sldcs0 label sldcs0:1 && "
	   "ip addr add 2001:db8:9::1/64 dev sldcs0 nodad && "
	   "ip addr add 10.7.0.1/24 dev sldcs1");
	cr_assert_eq(bk_local_add(bk, &stale), 0);
	n = bk_local_sync(bk, "sldcs0");
	cr_assert_eq(n, 3, "sync: %d", n);
	cr_assert_eq(bk_local_list(bk, have, 16), 3);
	for (int i = 0; i < 3; i++) {
		struct sl_dc_addr w = addr(want[i]);
		bool found = false;

		for (int j = 0; j < 3; j++)
			found |= !memcmp(&w, &have[j], sizeof(w));
		cr_assert(found, "%s (aliases included) not in the local set", want[i]);
	}
	cr_assert_eq(bk_if_addrs("sldcs9", have, 16), -ENODEV);

	/* lo: add twice (replace), find, remove twice. */
	SH("ip link set lo up");
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(bk_lo_add(&vip), 0);
		cr_assert_eq(bk_lo_add(&vip6), 0);
	}
	cr_assert_eq(bk_lo_has(&vip), 1);
	cr_assert_eq(bk_lo_has(&vip6), 1);
	SH("ip -4 addr show dev lo | grep -q 'inet 10.0.0.42/32 '");
	SH("ip -6 addr show dev lo | grep -q 'inet6 2001:db8::42/128 '");
	cr_assert_eq(bk_lo_del(&vip), 0);
	cr_assert_eq(bk_lo_del(&vip6), 0);
	cr_assert_eq(bk_lo_has(&vip), 0);
	cr_assert_eq(bk_lo_has(&vip6), 0);
	cr_assert_eq(bk_lo_del(&vip), -EADDRNOTAVAIL);
	cr_assert_eq(bk_lo_del(&vip6), -EADDRNOTAVAIL);

	/* ARP sysctls only go up: a stricter interface value stays. */
	cr_assert_eq(bk_sysctl_set("all", "arp_ignore", 0), 0);
	cr_assert_eq(bk_sysctl_set("sldcs0", "arp_ignore", 2), 0);
	cr_assert_eq(bk_sysctl_raise("sldcs0", "arp_ignore", 1), 0);
	cr_assert_eq(bk_sysctl_get("all", "arp_ignore"), 1);
	cr_assert_eq(bk_sysctl_get("sldcs0", "arp_ignore"), 2);
	cr_assert_eq(bk_sysctl_get("sldcs9", "arp_ignore"), -ENOENT);
}

Test(decap, pinned_maps_survive_a_reload)
{
	char dir[128];
	struct sl_dc_addr vip = addr("10.0.0.77");
	struct bk *a, *b;
	struct stat st;
	bool mounted;

	cr_assert_eq(bk_bpffs_ensure(&mounted), 0);
	snprintf(dir, sizeof(dir), "%s/test-%d", BK_PIN_ROOT, (int)getpid());
	a = bk_load(dir);
	cr_assert_not_null(a, "bk_load(%s): %s", dir, strerror(errno));
	cr_assert_eq(bk_vip_add(a, &vip), 0);
	bk_close(a);
	b = bk_open_pinned(dir);
	cr_assert_not_null(b, "bk_open_pinned: %s", strerror(errno));
	cr_assert_eq(bk_vip_has(b, &vip), 1);
	cr_assert_eq(bk_prog_fd(b), -ENOENT);
	bk_close(b);
	a = bk_load(dir);	/* what `up` does a second time */
	cr_assert_not_null(a);
	cr_assert_eq(bk_vip_has(a, &vip), 1, "reload lost the VIPs");
	bk_close(a);
	cr_assert_eq(bk_detach(dir), 0);
	cr_assert_neq(stat(dir, &st), 0, "pin dir still there");
	cr_assert_eq(bk_detach(dir), 0, "nothing pinned is not an error");
	cr_assert_null(bk_open_pinned(dir));
	cr_assert_eq(errno, ENOENT);
}

/*
 * End to end: two namespaces joined by a veth pair. "a" plays the balancer
 * (it sends encapsulated packets with a raw socket), "b" is the backend
 * prepared with `sluice-backend up` run through nsenter --net.
 */
#define WAIT_MS 5000	/* longest any condition may take */
#define E2E_NET4 "192.168.200"
#define E2E_NET6 "2001:db8:200:"
#define E2E_VIP4 "10.0.0.100"
#define E2E_VIP6 "2001:db8::100"
#define E2E_CLI4 "198.51.100.7"
#define E2E_CLI6 "2001:db8:c::7"
#define E2E_PORT 5555

static char ns_a[32], ns_b[32], if_a[IFNAMSIZ], if_b[IFNAMSIZ];
static char vips[] = E2E_VIP4 " " E2E_VIP6;

/*
 * Path of the command under test: $SLUICE_BACKEND, else sluice-backend in
 * the build directory this test binary sits in (BUILD/tests/bpf_tests).
 */
static const char *tool(void)
{
	static char path[PATH_MAX];
	const char *t = getenv("SLUICE_BACKEND");
	ssize_t n;
	char *slash;

	if (t)
		return t;
	n = readlink("/proc/self/exe", path, sizeof(path) - 32);
	if (n <= 0)
		return "build/sluice-backend";
	path[n] = 0;
	for (int i = 0; i < 2 && (slash = strrchr(path, '/')); i++)
		*slash = 0;
	strcat(path, "/sluice-backend");
	return path;
}

/* Run `sluice-backend ARGS` in namespace b; returns the exit status, output in @out. */
static int backend_cmd(char *out, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int backend_cmd(char *out, size_t len, const char *fmt, ...)
{
	char cmd[1024], args[512];
	size_t n = 0;
	va_list ap;
	FILE *p;
	int st;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "nsenter --net=/var/run/netns/%s %s %s 2>&1", ns_b,
		 tool(), args);
	p = popen(cmd, "r");
	cr_assert_not_null(p, "popen: %s", strerror(errno));
	if (out && len) {
		n = fread(out, 1, len - 1, p);
		out[n] = 0;
	} else {
		char sink[4096];

		while (fread(sink, 1, sizeof(sink), p) > 0)
			;
	}
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Remove what a crashed earlier run (whose process is gone) left behind. */
static void reap_stale(void)
{
	struct dirent *de;
	DIR *d = opendir("/var/run/netns");
	int pid;
	char side;

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (sscanf(de->d_name, "sl-dc-%d-%c", &pid, &side) != 2)
			continue;
		if (kill(pid, 0) == 0 || errno != ESRCH)
			continue;
		sh("ip netns del %s 2>/dev/null", de->d_name);
		sh("rm -rf %s/netns-%s", BK_PIN_ROOT, de->d_name);
	}
	closedir(d);
}

static void e2e_setup(void)
{
	int pid = (int)getpid();
	struct stat st;

	cr_assert_eq(stat(tool(), &st), 0, "%s: %s (build it: make compile)", tool(),
		     strerror(errno));
	reap_stale();
	snprintf(ns_a, sizeof(ns_a), "sl-dc-%d-a", pid);
	snprintf(ns_b, sizeof(ns_b), "sl-dc-%d-b", pid);
	snprintf(if_a, sizeof(if_a), "sldc%da", pid);
	snprintf(if_b, sizeof(if_b), "sldc%db", pid);
	SH("ip netns add %s && ip netns add %s", ns_a, ns_b);
	SH("ip -n %s link add %s type veth peer name %s netns %s", ns_a, if_a, if_b, ns_b);
	SH("ip -n %s addr add " E2E_NET4 ".1/24 dev %s && "
	   "ip -n %s addr add " E2E_NET6 ":1/64 dev %s nodad && "
	   "ip -n %s link set %s up && ip -n %s link set lo up",
	   ns_a, if_a, ns_a, if_a, ns_a, if_a, ns_a);
	/* The backend's way back to clients is its default route, via "a". */
	SH("ip -n %s addr add " E2E_NET4 ".2/24 dev %s && "
	   "ip -n %s addr add " E2E_NET6 ":2/64 dev %s nodad && "
	   "ip -n %s link set %s up && ip -n %s link set lo up && "
	   "ip -n %s route add default via " E2E_NET4 ".1 && "
	   "ip -n %s -6 route add default via " E2E_NET6 ":1",
	   ns_b, if_b, ns_b, if_b, ns_b, if_b, ns_b, ns_b, ns_b);
	/* Strict reverse-path filtering on the backend: it must still work. */
	SH("nsenter --net=/var/run/netns/%s sysctl -qw net.ipv4.conf.all.rp_filter=1 "
	   "net.ipv4.conf.%s.rp_filter=1", ns_b, if_b);
}

static void e2e_teardown(void)
{
	if (!ns_b[0])
		return;
	backend_cmd(NULL, 0, "down %s %s", if_b, vips);
	sh("ip netns del %s 2>/dev/null", ns_a);
	sh("ip netns del %s 2>/dev/null", ns_b);
	sh("rm -rf %s/netns-%s", BK_PIN_ROOT, ns_b);
	sh("rmdir %s 2>/dev/null", BK_PIN_ROOT);
}

/* Enter the network namespace @name (this thread only). */
static int netns_enter(const char *name)
{
	char path[64];
	int fd, err;

	snprintf(path, sizeof(path), "/var/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = setns(fd, CLONE_NEWNET) ? -errno : 0;
	close(fd);
	return err;
}

/* Open a UDP socket bound to @vip:E2E_PORT inside namespace b. */
static int server_open(int family, const char *vip)
{
	int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), fd;
	struct sockaddr_storage ss = {};
	socklen_t len;

	cr_assert_geq(self, 0);
	cr_assert_eq(netns_enter(ns_b), 0);
	fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)&ss;

		s->sin_family = AF_INET;
		s->sin_port = htons(E2E_PORT);
		inet_pton(AF_INET, vip, &s->sin_addr);
		len = sizeof(*s);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;

		s->sin6_family = AF_INET6;
		s->sin6_port = htons(E2E_PORT);
		inet_pton(AF_INET6, vip, &s->sin6_addr);
		len = sizeof(*s);
	}
	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&ss, len), 0, "bind %s: %s", vip,
		     strerror(errno));
	cr_assert_eq(setns(self, CLONE_NEWNET), 0);
	close(self);
	return fd;
}

/* Fill in the UDP checksum of the IP packet @ip (the kernel checks it). */
static void udp_csum(__u8 *ip, int family)
{
	size_t hl = family == 6 ? 40 : (size_t)(ip[0] & 0xf) * 4;
	__u8 *u = ip + hl;
	__u16 ulen = get16(u + 4);
	__u32 sum;
	__u16 c;

	put16(u + 6, 0);
	if (family == 6)
		sum = pkt_sum(ip + 8, 32, 0);
	else
		sum = pkt_sum(ip + 12, 8, 0);
	sum += 17 + ulen;
	c = pkt_fold(pkt_sum(u, ulen, sum));
	put16(u + 6, c ? c : 0xffff);
}

/*
 * Fork a child that enters namespace a and, each time a byte arrives on the
 * returned pipe, sends @pkt (an IP packet, outer header first) with a raw
 * socket to @dst. Returns the pipe's write end; *@pid gets the child.
 */
static int sender_start(const __u8 *pkt, size_t len, int family, const char *dst,
			pid_t *pid)
{
	int p[2];
	char c;

	cr_assert_eq(pipe(p), 0);
	*pid = fork();
	cr_assert_geq(*pid, 0);
	if (*pid) {
		close(p[0]);
		return p[1];
	}
	close(p[1]);
	struct sockaddr_storage ss = {};
	socklen_t sl;
	int fd;

	if (netns_enter(ns_a))
		_exit(10);
	fd = socket(family, SOCK_RAW, IPPROTO_RAW);	/* we write the IP header */
	if (fd < 0)
		_exit(11);
	if (family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)&ss;

		s->sin_family = AF_INET;
		inet_pton(AF_INET, dst, &s->sin_addr);
		sl = sizeof(*s);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;

		s->sin6_family = AF_INET6;
		inet_pton(AF_INET6, dst, &s->sin6_addr);
		sl = sizeof(*s);
	}
	while (read(p[0], &c, 1) == 1)
		if (sendto(fd, pkt, len, 0, (struct sockaddr *)&ss, sl) != (ssize_t)len)
			_exit(12);
	_exit(0);
}

/* One way for a client's datagram to reach the backend. */
struct e2e_case {
	char name[48];
	int outer;		/* 4 or 6 */
	int inner;		/* 4 or 6 */
};

static struct e2e_case e2e_cases[] = {
	{ "IPIP", 4, 4 },
	{ "IP6IP6", 6, 6 },
	{ "IPv4-in-IPv6", 6, 4 },
};

/*
 * Send the client's datagram encapsulated from "a" until the server bound to
 * the VIP in "b" gets it (resending every 200 ms covers neighbour
 * resolution; WAIT_MS bounds it). Checks payload and client source.
 */
static void deliver(const struct e2e_case *c)
{
	struct pkt_spec in = { c->inner, "", "", 40000, E2E_PORT, 17, .payload = 48 };
	struct outer_spec o = { c->outer };
	const char *vip = c->inner == 6 ? E2E_VIP6 : E2E_VIP4;
	int af_in = c->inner == 6 ? AF_INET6 : AF_INET;
	__u8 plain[PKT_MAX], frame[PKT_MAX], got[256];
	struct sockaddr_storage from;
	socklen_t flen = sizeof(from);
	char src[64];
	size_t plain_len, len;
	ssize_t n = -1;
	int srv, tx, waited = 0;
	pid_t pid;

	snprintf(in.src, sizeof(in.src), "%s", c->inner == 6 ? E2E_CLI6 : E2E_CLI4);
	snprintf(in.dst, sizeof(in.dst), "%s", vip);
	snprintf(o.src, sizeof(o.src), c->outer == 6 ? E2E_NET6 ":1" : E2E_NET4 ".1");
	snprintf(o.dst, sizeof(o.dst), c->outer == 6 ? E2E_NET6 ":2" : E2E_NET4 ".2");
	plain_len = pkt_build(&in, plain);
	udp_csum(plain + 14, c->inner);
	len = wrap(plain, plain_len, 14, c->inner, &o, frame);

	srv = server_open(af_in, vip);
	tx = sender_start(frame + 14, len - 14, c->outer == 6 ? AF_INET6 : AF_INET, o.dst,
			  &pid);
	for (; waited < WAIT_MS; waited += 200) {
		struct pollfd pfd = { .fd = srv, .events = POLLIN };

		cr_assert_eq(write(tx, "x", 1), 1, "sender died");
		if (poll(&pfd, 1, 200) == 1) {
			n = recvfrom(srv, got, sizeof(got), 0, (struct sockaddr *)&from,
				     &flen);
			break;
		}
	}
	close(tx);
	int st;

	waitpid(pid, &st, 0);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: sender failed (%d)", c->name,
		  WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	cr_assert_eq(n, 48, "%s: nothing arrived at %s:%d within %d ms", c->name, vip,
		     E2E_PORT, WAIT_MS);
	cr_assert_arr_eq(got, plain + 14 + (c->inner == 6 ? 40 : 20) + 8, 48,
			 "%s: payload", c->name);
	if (from.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&from)->sin6_addr, src,
			  sizeof(src));
	else
		inet_ntop(AF_INET, &((struct sockaddr_in *)&from)->sin_addr, src,
			  sizeof(src));
	cr_assert_str_eq(src, in.src, "%s: the server saw source %s, not the client",
			 c->name, src);
	cr_assert_eq(ntohs(((struct sockaddr_in *)&from)->sin_port), 40000);
	close(srv);
}

/* Read the decapsulator's counters from its pins in the host's bpffs. */
static void pinned_stats(struct sl_dc_count *c)
{
	char dir[256];
	struct bk *p;

	snprintf(dir, sizeof(dir), "%s/netns-%s/%s", BK_PIN_ROOT, ns_b, if_b);
	p = bk_open_pinned(dir);
	cr_assert_not_null(p, "%s: %s", dir, strerror(errno));
	cr_assert_eq(bk_stats(p, c), 0);
	bk_close(p);
}

ParameterizedTestParameters(decap, e2e_client_datagram_reaches_the_vip_server)
{
	return cr_make_param_array(struct e2e_case, e2e_cases,
				   sizeof(e2e_cases) / sizeof(e2e_cases[0]));
}

ParameterizedTest(struct e2e_case *c, decap, e2e_client_datagram_reaches_the_vip_server,
		  .init = e2e_setup, .fini = e2e_teardown, .timeout = 30)
{
	char out[4096];
	struct sl_dc_count st[SL_DC_REASON_MAX];

	cr_assert_eq(backend_cmd(out, sizeof(out), "up %s %s", if_b, vips), 0, "up: %s",
		     out);
	deliver(c);
	pinned_stats(st);
	cr_assert_geq(st[SL_DC_DECAP_OK].packets, 1, "%s: decap_ok not counted", c->name);
	cr_assert_eq(st[SL_DC_DROP_NOT_VIP].packets + st[SL_DC_DROP_BAD_INNER].packets +
		     st[SL_DC_DROP_BAD_OUTER].packets, 0);
}

Test(decap, e2e_up_check_down_check, .init = e2e_setup, .fini = e2e_teardown,
     .timeout = 30)
{
	struct e2e_case ipip = { "IPIP", 4, 4 };
	char out[4096], dir[256];
	struct stat st;

	cr_assert_eq(backend_cmd(out, sizeof(out), "check %s %s", if_b, vips), 1,
		     "check before up: %s", out);
	cr_assert_eq(backend_cmd(out, sizeof(out), "up %s %s", if_b, vips), 0, "up: %s",
		     out);
	cr_assert_eq(backend_cmd(out, sizeof(out), "up %s %s", if_b, vips), 0,
		     "up again (idempotent): %s", out);
	deliver(&ipip);

	cr_assert_eq(backend_cmd(out, sizeof(out), "check %s %s", if_b, vips), 0,
		     "check after up: %s", out);
	cr_assert_null(strstr(out, "MISSING"), "%s", out);
	cr_assert_not_null(strstr(out, "ok       decapsulator attached to"), "%s", out);
	cr_assert_not_null(strstr(out, "(native, prog "), "%s", out);
	cr_assert_not_null(strstr(out, "ok       VIP " E2E_VIP4 " on lo"), "%s", out);
	cr_assert_not_null(strstr(out, "ok       VIP " E2E_VIP6 " on lo"), "%s", out);
	cr_assert_not_null(strstr(out, "ok       arp_ignore 1"), "%s", out);
	cr_assert_not_null(strstr(out, "ok       arp_announce 2"), "%s", out);
	cr_assert_eq(backend_cmd(out, sizeof(out), "stats %s", if_b), 0, "stats: %s", out);
	cr_assert_not_null(strstr(out, "decap_ok"), "%s", out);

	cr_assert_eq(backend_cmd(out, sizeof(out), "down %s %s", if_b, vips), 0, "down: %s",
		     out);
	snprintf(dir, sizeof(dir), "%s/netns-%s", BK_PIN_ROOT, ns_b);
	cr_assert_neq(stat(dir, &st), 0, "%s still there after down", dir);
	SH("! ip -n %s link show %s | grep -q xdp", ns_b, if_b);
	SH("! ip -n %s addr show dev lo | grep -q '" E2E_VIP4 "'", ns_b);
	cr_assert_eq(backend_cmd(out, sizeof(out), "check %s %s", if_b, vips), 1,
		     "check after down: %s", out);
	cr_assert_not_null(strstr(out, "MISSING  decapsulator not attached to"), "%s", out);
	cr_assert_not_null(strstr(out, "MISSING  VIP " E2E_VIP4 " not on lo"), "%s", out);
	cr_assert_not_null(strstr(out, "MISSING  VIP " E2E_VIP6 " not on lo"), "%s", out);
	cr_assert_eq(backend_cmd(out, sizeof(out), "down %s %s", if_b, vips), 0,
		     "down twice: %s", out);
	cr_assert_eq(backend_cmd(out, sizeof(out), "up %s", if_b), 2, "usage: %s", out);
	cr_assert_eq(backend_cmd(out, sizeof(out), "up nosuchif0 " E2E_VIP4), 1, "%s", out);
	cr_assert_not_null(strstr(out, "no interface 'nosuchif0'"), "%s", out);
}

/* Send one UDP datagram from namespace a to @dst port 9 (starts neighbour resolution). */
static void udp_send_from_a(const char *dst)
{
	int family = strchr(dst, ':') ? AF_INET6 : AF_INET, st;
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (!pid) {
		struct sockaddr_storage ss = {};
		socklen_t sl = sizeof(struct sockaddr_in);
		int fd;

		if (netns_enter(ns_a))
			_exit(10);
		fd = socket(family, SOCK_DGRAM, 0);
		if (family == AF_INET) {
			struct sockaddr_in *s = (struct sockaddr_in *)&ss;

			s->sin_family = AF_INET;
			s->sin_port = htons(9);
			inet_pton(AF_INET, dst, &s->sin_addr);
		} else {
			struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;

			s->sin6_family = AF_INET6;
			s->sin6_port = htons(9);
			inet_pton(AF_INET6, dst, &s->sin6_addr);
			sl = sizeof(*s);
		}
		if (fd < 0 || sendto(fd, "x", 1, 0, (struct sockaddr *)&ss, sl) != 1)
			_exit(11);
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && !WEXITSTATUS(st), "sending to %s from %s failed", dst,
		  ns_a);
}

/* The neighbour entry of @addr on a's interface, as `ip neigh show` prints it. */
static void neigh_state(const char *addr, char *buf, size_t len)
{
	char cmd[256];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "ip -n %s neigh show %s dev %s", ns_a, addr, if_a);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	if (!fgets(buf, (int)len, p))
		buf[0] = 0;
	pclose(p);
}

/*
 * The backend holds the VIP but must not claim it on the link: from "a",
 * resolving the VIP (routed on-link) has to fail, for ARP and for ND, while
 * the backend's own address resolves.
 */
Test(decap, e2e_backend_does_not_answer_for_the_vip, .init = e2e_setup,
     .fini = e2e_teardown, .timeout = 30)
{
	const char *fam[] = { "-4", "-6" }, *vip[] = { E2E_VIP4, E2E_VIP6 };
	char out[4096], state[256];
	int waited;

	cr_assert_eq(backend_cmd(out, sizeof(out), "up %s %s", if_b, vips), 0, "up: %s",
		     out);
	/* Give up on an unanswered neighbour after 3 x 100 ms, not 3 s. */
	SH("nsenter --net=/var/run/netns/%s sysctl -qw "
	   "net.ipv4.neigh.%s.retrans_time_ms=100 net.ipv6.neigh.%s.retrans_time_ms=100",
	   ns_a, if_a, if_a);
	for (int i = 0; i < 2; i++) {
		SH("ip -n %s %s route add %s dev %s", ns_a, fam[i], vip[i], if_a);
		udp_send_from_a(vip[i]);
		for (waited = 0; waited < WAIT_MS; waited += 50) {
			neigh_state(vip[i], state, sizeof(state));
			if (strstr(state, "FAILED") || strstr(state, "lladdr"))
				break;
			usleep(50 * 1000);	/* polling interval, bounded by WAIT_MS */
		}
		cr_assert_null(strstr(state, "lladdr"), "the backend answered for %s: %s",
			       vip[i], state);
		cr_assert_not_null(strstr(state, "FAILED"), "resolving %s: '%s' (%d ms)",
				   vip[i], state, waited);
	}
	udp_send_from_a(E2E_NET4 ".2");
	for (waited = 0; waited < WAIT_MS; waited += 50) {
		neigh_state(E2E_NET4 ".2", state, sizeof(state));
		if (strstr(state, "lladdr"))
			break;
		usleep(50 * 1000);
	}
	cr_assert_not_null(strstr(state, "lladdr"), "own address unresolved: '%s'", state);
}
