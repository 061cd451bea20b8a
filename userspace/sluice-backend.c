// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* sluice-backend: set up, check and undo a backend (decapsulator, VIPs on lo, ARP sysctls). */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <net/if.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <bpf/libbpf.h>
#include "backend.h"

#define PROG "sluice-backend"
#define EXIT_USAGE 2

static bool verbose;

/* What a command got on its command line. */
struct args {
	const char *ifname;		/* the interface */
	struct sl_dc_addr vips[64];	/* VIPs, parsed */
	const char *vip_text[64];	/* VIPs as written */
	int n_vips;
	bool generic;			/* --generic */
	char pin_dir[PATH_MAX];		/* where this interface's pins live */
	char again[512];		/* the `up` command that would fix things */
};

static void err_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void err_msg(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* libbpf's warnings always show (a failed load says why); the rest with -v. */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level != LIBBPF_WARN && !verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* One command: its name, what it takes, what it does, and its function. */
struct cmd {
	const char *name;
	const char *args;
	const char *help;
	int (*fn)(struct args *a);
	int min_vips;		/* VIPs it needs */
	bool takes_vips;	/* VIPs allowed at all */
	bool takes_generic;	/* --generic allowed */
};

static int cmd_up(struct args *a);
static int cmd_down(struct args *a);
static int cmd_check(struct args *a);
static int cmd_stats(struct args *a);

static const struct cmd cmds[] = {
	{ "up", "IFACE VIP [VIP...] [--generic]",
	  "attach the decapsulator, put the VIPs on lo, set the ARP sysctls",
	  cmd_up, 1, true, true },
	{ "down", "IFACE [VIP...]",
	  "detach, remove the pins and these VIPs from lo (sysctls stay)",
	  cmd_down, 0, true, false },
	{ "check", "IFACE VIP [VIP...]",
	  "check every step; exit 0 only when all are in place",
	  cmd_check, 1, true, false },
	{ "stats", "IFACE", "print the decapsulator's counters by reason",
	  cmd_stats, 0, false, false },
};

#define N_CMDS (sizeof(cmds) / sizeof(cmds[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: " PROG " [-v] COMMAND ARGS\n\n");
	for (size_t i = 0; i < N_CMDS; i++)
		fprintf(f, "  " PROG " %-6s %-32s %s\n", cmds[i].name, cmds[i].args,
			cmds[i].help);
	fprintf(f, "\nCommands may be abbreviated. -v shows libbpf's messages.\n"
		   "In a network namespace, run it with nsenter --net=/var/run/netns/NAME\n"
		   "(not ip netns exec: its private /sys/fs/bpf dies with the command).\n");
}

/* Finds @name by unique prefix; NULL (with a message) when none or ambiguous. */
static const struct cmd *cmd_find(const char *name)
{
	const struct cmd *found = NULL;

	for (size_t i = 0; i < N_CMDS; i++) {
		if (!strcmp(cmds[i].name, name))
			return &cmds[i];
		if (strncmp(cmds[i].name, name, strlen(name)))
			continue;
		if (found) {
			err_msg("'%s' is ambiguous: %s or %s?", name, found->name,
				cmds[i].name);
			return NULL;
		}
		found = &cmds[i];
	}
	if (!found)
		err_msg("unknown command '%s' (try '" PROG " --help')", name);
	return found;
}

/* Parse what follows the command name into @a; returns 0 or EXIT_USAGE. */
static int args_parse(const struct cmd *c, int argc, char **argv, struct args *a)
{
	int n;

	for (int i = 0; i < argc; i++) {
		const char *s = argv[i];

		if (!strcmp(s, "--generic") && c->takes_generic) {
			a->generic = true;
		} else if (s[0] == '-') {
			err_msg("%s: unknown option '%s'", c->name, s);
			return EXIT_USAGE;
		} else if (!a->ifname) {
			a->ifname = s;
		} else if (!c->takes_vips) {
			err_msg("%s: unexpected argument '%s' (usage: %s %s)", c->name, s,
				c->name, c->args);
			return EXIT_USAGE;
		} else if (a->n_vips == (int)(sizeof(a->vips) / sizeof(a->vips[0]))) {
			err_msg("%s: too many VIPs (at most %zu per command)", c->name,
				sizeof(a->vips) / sizeof(a->vips[0]));
			return EXIT_USAGE;
		} else if (bk_addr_parse(s, &a->vips[a->n_vips])) {
			err_msg("%s: '%s' is not an IPv4 or IPv6 address (no /prefix)",
				c->name, s);
			return EXIT_USAGE;
		} else {
			a->vip_text[a->n_vips++] = s;
		}
	}
	if (!a->ifname) {
		err_msg("%s: no interface given (usage: %s %s)", c->name, c->name, c->args);
		return EXIT_USAGE;
	}
	if (strlen(a->ifname) >= IFNAMSIZ || strchr(a->ifname, '/')) {
		err_msg("%s: '%s' is not a valid interface name", c->name, a->ifname);
		return EXIT_USAGE;
	}
	if (a->n_vips < c->min_vips) {
		err_msg("%s: no VIP given (usage: %s %s)", c->name, c->name, c->args);
		return EXIT_USAGE;
	}
	n = snprintf(a->again, sizeof(a->again), PROG " up %s", a->ifname);
	for (int i = 0; i < a->n_vips && n > 0 && (size_t)n < sizeof(a->again); i++)
		n += snprintf(a->again + n, sizeof(a->again) - (size_t)n, " %s",
			      a->vip_text[i]);
	return 0;
}

/* Returns the interface's index, or 0 after saying it does not exist. */
static int ifindex_of(const char *ifname)
{
	int idx = (int)if_nametoindex(ifname);

	if (!idx)
		err_msg("no interface '%s' in this network namespace", ifname);
	return idx;
}

/* Explain a failed bk_attach() of @a on @ifindex. */
static void attach_failed(const struct args *a, int ifindex, int err)
{
	struct bk_attach at;

	switch (err) {
	case -EEXIST:
		err_msg("%s/%s holds the link of another interface, likely in another "
			"network namespace without a /var/run/netns name: name this "
			"one (ip netns attach NAME PID) to give it its own pin "
			"directory", a->pin_dir, BK_LINK_PIN);
		break;
	case -EBUSY:
		if (!bk_attached(a->pin_dir, ifindex, &at) && at.xdp_prog &&
		    !strcmp(at.xdp_name, BK_PROG_NAME))
			err_msg("%s already runs a decapsulator (prog %u) whose link is "
				"not pinned in %s: it was attached by hand (ip link set "
				"dev %s xdp off removes that) or from another mount "
				"namespace (ip netns exec: run '" PROG " down' the same "
				"way), then retry", a->ifname, at.xdp_prog, a->pin_dir,
				a->ifname);
		else if (at.xdp_prog)
			err_msg("%s already runs XDP program %u (%s), not attached by "
				PROG ": remove it first (ip link set dev %s xdp off)",
				a->ifname, at.xdp_prog, at.xdp_name, a->ifname);
		else
			err_msg("failed to attach XDP to %s: another program is attached",
				a->ifname);
		break;
	case -EOPNOTSUPP:
	case -EINVAL:
		if (!a->generic) {
			err_msg("failed to attach XDP to %s in native mode: %s; the "
				"driver may lack native XDP: try --generic", a->ifname,
				strerror(-err));
			break;
		}
		/* fallthrough */
	default:
		err_msg("failed to attach XDP to %s (%s): %s", a->ifname,
			a->generic ? "generic" : "native", strerror(-err));
	}
}

static int cmd_up(struct args *a)
{
	const char *knobs[] = { "arp_ignore", "arp_announce" };
	const int mins[] = { 1, 2 };
	bool mounted;
	struct bk *bk;
	__u32 prog_id;
	int ifindex, err, n;
	char buf[64];

	ifindex = ifindex_of(a->ifname);
	if (!ifindex)
		return 1;
	err = bk_bpffs_ensure(&mounted);
	if (err) {
		err_msg("%s is not a bpf filesystem and mounting one failed: %s",
			BK_BPFFS, strerror(-err));
		return 1;
	}
	if (mounted && bk_mntns_is_private())
		err_msg("warning: mounted a bpffs on %s in a private mount namespace "
			"(ip netns exec?): the pins, and with them the decapsulator, "
			"go away when that namespace does; use nsenter "
			"--net=/var/run/netns/NAME instead", BK_BPFFS);

	err = bk_pin_check(a->pin_dir, ifindex);
	if (err == -EEXIST) {
		attach_failed(a, ifindex, err);
		return 1;
	} else if (err) {
		err_msg("cannot inspect the link pinned in %s: %s", a->pin_dir,
			strerror(-err));
		return 1;
	}

	/* ARP first: the VIP must never be on lo while the host would answer for it. */
	for (int i = 0; i < 2; i++) {
		err = bk_sysctl_raise(a->ifname, knobs[i], mins[i]);
		if (err) {
			err_msg("failed to set net.ipv4.conf.{all,%s}.%s=%d: %s", a->ifname,
				knobs[i], mins[i], strerror(-err));
			return 1;
		}
	}

	bk = bk_load(a->pin_dir);
	if (!bk) {
		err = -errno;
		err_msg("failed to load the decapsulator with maps pinned under %s: %s%s",
			a->pin_dir, strerror(-err),
			err == -EINVAL ? " (maps from another version? run '" PROG
					 " down' first)" : "");
		return 1;
	}
	n = bk_local_sync(bk, a->ifname);
	if (n < 0) {
		if (n == -ENOENT)
			err_msg("%s has no IP address: the balancer sends to one of them",
				a->ifname);
		else
			err_msg("failed to fill the local addresses of %s: %s", a->ifname,
				strerror(-n));
		goto out_close;
	}
	for (int i = 0; i < a->n_vips; i++) {
		err = bk_vip_add(bk, &a->vips[i]);
		if (err) {
			err_msg("failed to add VIP %s to the decapsulator: %s",
				a->vip_text[i], strerror(-err));
			goto out_close;
		}
		err = bk_lo_add(&a->vips[i]);
		if (err) {
			err_msg("failed to add VIP %s to lo: %s", a->vip_text[i],
				strerror(-err));
			goto out_close;
		}
	}
	err = bk_attach(bk, a->pin_dir, ifindex, a->generic, &prog_id);
	if (err) {
		attach_failed(a, ifindex, err);
		goto out_close;
	}
	bk_close(bk);

	printf("decapsulator attached to %s (%s, prog %u), %d local address%s, VIP%s",
	       a->ifname, a->generic ? "generic" : "native", prog_id, n, n == 1 ? "" : "es",
	       a->n_vips == 1 ? "" : "s");
	for (int i = 0; i < a->n_vips; i++)
		printf(" %s", bk_addr_str(&a->vips[i], buf, sizeof(buf)));
	printf(" on lo; pins in %s\n", a->pin_dir);
	return 0;

out_close:
	bk_close(bk);
	return 1;
}

static int cmd_down(struct args *a)
{
	struct stat st;
	bool was_up = !stat(a->pin_dir, &st);
	int err, ret = 0;

	err = bk_pin_check(a->pin_dir, (int)if_nametoindex(a->ifname));
	if (err == -EEXIST) {
		err_msg("%s/%s holds the link of another interface (in another "
			"network namespace?): leaving it alone", a->pin_dir, BK_LINK_PIN);
		return 1;
	}
	err = bk_detach(a->pin_dir);
	if (err) {
		err_msg("failed to remove the pins under %s: %s", a->pin_dir,
			strerror(-err));
		ret = 1;
	} else {
		printf(was_up ? "decapsulator detached from %s, pins removed\n" :
				"nothing pinned for %s\n", a->ifname);
	}
	for (int i = 0; i < a->n_vips; i++) {
		err = bk_lo_del(&a->vips[i]);
		if (!err) {
			printf("VIP %s removed from lo\n", a->vip_text[i]);
		} else if (err == -EADDRNOTAVAIL) {
			printf("VIP %s was not on lo\n", a->vip_text[i]);
		} else {
			err_msg("failed to remove VIP %s from lo: %s", a->vip_text[i],
				strerror(-err));
			ret = 1;
		}
	}
	if (!ret)
		printf("ARP sysctls (arp_ignore, arp_announce) left as they are\n");
	return ret;
}

/* Prints one check line; returns 0 when @ok, else 1. */
static int report(bool ok, const char *bad, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int report(bool ok, const char *bad, const char *fmt, ...)
{
	va_list ap;

	printf("%-8s ", ok ? "ok" : bad);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	return !ok;
}

/* Check that the decapsulator on @ifindex is the one pinned for it. */
static int check_attached(const struct args *a, int ifindex)
{
	struct bk_attach at;
	int err = bk_attached(a->pin_dir, ifindex, &at);
	bool ours;

	if (err)
		return report(false, "MISSING", "cannot tell what %s runs: %s", a->ifname,
			      strerror(-err));
	ours = at.xdp_prog && !strcmp(at.xdp_name, BK_PROG_NAME);
	if (ours && at.link_prog == at.xdp_prog && at.link_ifindex == (__u32)ifindex)
		return report(true, NULL, "decapsulator attached to %s (%s, prog %u)",
			      a->ifname, at.generic ? "generic" : "native", at.xdp_prog);
	if (ours)
		return report(false, "MISSING", "%s runs a decapsulator (prog %u) whose link "
			      "is not pinned in %s: run '%s'", a->ifname, at.xdp_prog,
			      a->pin_dir, a->again);
	if (at.xdp_prog)
		return report(false, "MISSING", "%s runs XDP program %u (%s), not the "
			      "decapsulator: remove it, then run '%s'", a->ifname,
			      at.xdp_prog, at.xdp_name, a->again);
	return report(false, "MISSING", "decapsulator not attached to %s: run '%s'",
		      a->ifname, a->again);
}

/* Check that the decapsulator's local set is exactly the interface's addresses. */
static int check_local(const struct args *a, struct bk *bk)
{
	struct sl_dc_addr want[SL_DC_MAX_LOCAL], have[SL_DC_MAX_LOCAL];
	int n = bk_if_addrs(a->ifname, want, SL_DC_MAX_LOCAL);
	int m = bk_local_list(bk, have, SL_DC_MAX_LOCAL);
	char buf[64], list[256] = "";
	int bad = 0;
	size_t off = 0;

	if (n < 0 || m < 0)
		return report(false, "MISSING", "cannot read the addresses of %s: %s",
			      a->ifname, strerror(n < 0 ? -n : -m));
	if (!n)
		return report(false, "MISSING", "%s has no IP address for the balancer to "
			      "send to", a->ifname);
	for (int i = 0; i < n; i++) {
		if (!bk_addr_in(&want[i], have, (size_t)m))
			bad |= report(false, "MISSING", "address %s of %s not in the "
				      "decapsulator's local set: run '%s'",
				      bk_addr_str(&want[i], buf, sizeof(buf)), a->ifname,
				      a->again);
		else if (off < sizeof(list))
			off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s",
						off ? ", " : "",
						bk_addr_str(&want[i], buf, sizeof(buf)));
	}
	for (int j = 0; j < m; j++) {
		if (!bk_addr_in(&have[j], want, (size_t)n))
			bad |= report(false, "STALE", "address %s in the decapsulator's local "
				      "set is no longer on %s: run '%s'",
				      bk_addr_str(&have[j], buf, sizeof(buf)), a->ifname,
				      a->again);
	}
	if (bad)
		return 1;
	return report(true, NULL, "decapsulator accepts tunnels to the %d address%s of "
		      "%s (%s)", n, n == 1 ? "" : "es", a->ifname, list);
}

/* Check an ARP sysctl: the kernel uses max(all, interface). */
static int check_sysctl(const struct args *a, const char *knob, int min)
{
	int all = bk_sysctl_get("all", knob), dev = bk_sysctl_get(a->ifname, knob);
	int eff = all > dev ? all : dev;

	if (all < 0 || dev < 0)
		return report(false, "MISSING", "cannot read net.ipv4.conf.{all,%s}.%s: %s",
			      a->ifname, knob, strerror(all < 0 ? -all : -dev));
	if (eff >= min)
		return report(true, NULL, "%s %d on %s (all %d, %s %d)", knob, eff,
			      a->ifname, all, a->ifname, dev);
	return report(false, "MISSING", "%s is %d on %s (all %d, %s %d), needs %d: run '%s'",
		      knob, eff, a->ifname, all, a->ifname, dev, min, a->again);
}

static int cmd_check(struct args *a)
{
	struct statfs sf;
	struct bk *bk = NULL;
	int ifindex = (int)if_nametoindex(a->ifname);
	int bad = 0, err;
	char buf[64];

	if (statfs(BK_BPFFS, &sf) || sf.f_type != BPF_FS_MAGIC)
		bad |= report(false, "MISSING", "no bpffs on %s (in ip netns exec? use "
			      "nsenter --net=/var/run/netns/NAME): run '%s'", BK_BPFFS,
			      a->again);
	if (!ifindex)
		bad |= report(false, "MISSING", "no interface %s in this network namespace",
			      a->ifname);
	else
		bad |= check_attached(a, ifindex);

	bk = bk_open_pinned(a->pin_dir);
	if (!bk) {
		err = errno;
		bad |= report(false, "MISSING", "decapsulator maps not pinned in %s%s%s: "
			      "run '%s'", a->pin_dir, err == ENOENT ? "" : ": ",
			      err == ENOENT ? "" : strerror(err), a->again);
	} else if (ifindex) {
		bad |= check_local(a, bk);
	}
	for (int i = 0; i < a->n_vips; i++) {
		const char *v = bk_addr_str(&a->vips[i], buf, sizeof(buf));
		int has;

		if (bk) {
			has = bk_vip_has(bk, &a->vips[i]);
			bad |= report(has == 1, "MISSING", has == 1 ?
				      "VIP %s served by the decapsulator" :
				      "VIP %s not in the decapsulator's VIP set: run '%s'",
				      v, a->again);
		}
		has = bk_lo_has(&a->vips[i]);
		bad |= report(has == 1, "MISSING", has == 1 ? "VIP %s on lo" :
			      "VIP %s not on lo: run '%s'", v, a->again);
	}
	if (ifindex) {
		bad |= check_sysctl(a, "arp_ignore", 1);
		bad |= check_sysctl(a, "arp_announce", 2);
	}
	bk_close(bk);
	return bad ? 1 : 0;
}

static int cmd_stats(struct args *a)
{
	struct sl_dc_count c[SL_DC_REASON_MAX];
	__u64 packets = 0, bytes = 0;
	struct bk *bk;
	int err;

	bk = bk_open_pinned(a->pin_dir);
	if (!bk) {
		if (errno == ENOENT)
			err_msg("nothing pinned for %s in %s: is it up? ('" PROG
				" up %s VIP')", a->ifname, a->pin_dir, a->ifname);
		else
			err_msg("failed to open the maps pinned in %s: %s", a->pin_dir,
				strerror(errno));
		return 1;
	}
	err = bk_stats(bk, c);
	bk_close(bk);
	if (err) {
		err_msg("failed to read the counters: %s", strerror(-err));
		return 1;
	}
	printf("%-16s %14s %16s\n", "reason", "packets", "bytes");
	for (__u32 r = 0; r < SL_DC_REASON_MAX; r++) {
		printf("%-16s %14llu %16llu\n", bk_reason_name(r),
		       (unsigned long long)c[r].packets, (unsigned long long)c[r].bytes);
		packets += c[r].packets;
		bytes += c[r].bytes;
	}
	printf("%-16s %14llu %16llu\n", "total", (unsigned long long)packets,
	       (unsigned long long)bytes);
	return 0;
}

int main(int argc, char **argv)
{
	static struct args a;
	const struct cmd *c;
	int i = 1, err;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) {
			verbose = true;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else {
			err_msg("unknown option '%s' (try '" PROG " --help')", argv[i]);
			return EXIT_USAGE;
		}
	}
	if (i == argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[i], "help")) {
		usage(stdout);
		return 0;
	}
	c = cmd_find(argv[i]);
	if (!c)
		return EXIT_USAGE;
	err = args_parse(c, argc - i - 1, argv + i + 1, &a);
	if (err)
		return err;
	err = bk_pin_dir(a.pin_dir, sizeof(a.pin_dir), a.ifname);
	if (err) {
		err_msg("cannot name the pin directory of %s: %s", a.ifname,
			strerror(-err));
		return 1;
	}
	libbpf_set_print(libbpf_print);
	return c->fn(&a);
}
