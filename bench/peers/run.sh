#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Peer benchmarks on the lab topology: sluice (XDP), nftables DNAT and HAProxy on the
# balancer host, one at a time, under the same UDP request and TCP connection load.
# Records, one JSON object per line, go to stdout; progress goes to stderr.
#
#   sh bench/peers/run.sh            (root; QUICK=1 for the short version)
#
# Needs `make compile` and `make -C bench/ctl BUILD=$PWD/build` (build/bench/slblast).
set -u
cd "$(dirname "$0")/../.." || exit 1

BUILD=${BUILD:-build}
case ${QUICK:-0} in
0 | "") DUR=10 ;;	# measured seconds per case; each second is one sample
*) DUR=3 ;;
esac
SLBLAST="$PWD/$BUILD/bench/slblast"
UDP_ARGS="--sockets 64 --window 256"	# 64 source ports (flows), 256 requests in flight
TCP_ARGS="--conns 64"			# 64 connections at a time, closed loop
PEERS_BROKEN=0
# The client on the first CPU, the servers on the last: without pinning, where the
# scheduler puts five busy processes on two cores moves the figures by up to 2x.
CLIENT_CPU=0
SERVER_CPU=$(($(nproc) - 1))

log() { echo "peers: $*" >&2; }

if [ "$(id -u)" != 0 ]; then
	log "must run as root (XDP, network namespaces)"
	exit 1
fi
for f in "$SLBLAST" "$BUILD/sluiced" "$BUILD/sluicectl" "$BUILD/sluice-backend" \
	"$BUILD/tests/sl-server" "$BUILD/xdp_pass.bpf.o"; do
	if [ ! -e "$f" ]; then
		log "missing $f: run 'make compile' and 'make -C bench/ctl BUILD=\$PWD/build'"
		exit 1
	fi
done

# install_pkg COMMAND PACKAGE: the peers are benchmark-only dependencies, installed here.
install_pkg() {
	command -v "$1" >/dev/null 2>&1 && return 0
	log "installing $2"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq "$2" >/dev/null 2>&1 ||
		{ apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "$2" >/dev/null 2>&1; }
	command -v "$1" >/dev/null 2>&1 || { log "could not install $2"; return 1; }
}
install_pkg nft nftables || PEERS_BROKEN=1
install_pkg haproxy haproxy || PEERS_BROKEN=1

. tests/lib.sh
. tests/lab.sh

# ---- measuring -----------------------------------------------------------------------

# blast MODE TARGET OUT: slblast from c1; its output to OUT. Bounded by --duration and timeout.
blast() {
	mode=$1
	target=$2
	out=$3
	if [ "$mode" = udp ]; then args=$UDP_ARGS; else args=$TCP_ARGS; fi
	# shellcheck disable=SC2086
	nsenter --net="/var/run/netns/$SL_RUN-c1" timeout -s KILL $((DUR + 20)) \
		taskset -c "$CLIENT_CPU" "$SLBLAST" "$mode" "$target" $args --duration "$DUR" \
		>"$out" 2>&1
	rc=$?
	{
		printf '  %s %s: ' "$mode" "$target"
		grep '^total' "$out" || echo "no total line (rc $rc)"
		printf '  backends:'
		awk '$1 == "backend" {printf " %s=%s", $2, $3}' "$out"
		echo
		awk '$1 == "interval" {c += $4; n++} END {if (n) printf "  machine busy: %.2f of %d cores\n", c / n, '"$(nproc)"'}' "$out"
	} >&2
	awk '$1 == "total" && $5 + $7 > 0 && $7 * 100 > $5 + $7 {
		printf "  warning: %.1f%% of the operations failed\n", 100 * $7 / ($5 + $7) }' \
		"$out" >&2
	[ "$rc" = 0 ]
}

# values FILE rate|cpu: one number per measured second of FILE: operations/s, or the
# machine's busy CPU microseconds per operation in that second.
values() {
	[ -f "$1" ] || return 0
	awk -v what="$2" '$1 == "interval" && $2 > 0 {
		if (what == "rate") print $2; else printf "%.4f\n", $4 * 1e6 / $2 }' "$1"
}

# median: of the numbers on stdin (empty if none).
median() {
	sort -g | awk '{v[NR] = $1} END {if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2)}'
}

# emit NAME UNIT [BASELINE_NAME BASELINE_VALUE] < numbers: one record, value = median,
# ratio = value / baseline value; no numbers: value null.
emit() {
	sort -g | awk -v name="$1" -v unit="$2" -v base="${3:-}" -v bval="${4:-}" '
		function num(x) { return x == "" ? "null" : sprintf("%.6g", x) }
		{ v[NR] = $1 }
		END {
			if (NR) { med = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; lo = v[1]; hi = v[NR] }
			else { med = ""; lo = ""; hi = "" }
			ratio = (med != "" && bval != "" && bval > 0) ? med / bval : ""
			printf "{\"name\":\"%s\",\"value\":%s,\"unit\":\"%s\",\"baseline\":%s,\"ratio\":%s,\"min\":%s,\"median\":%s,\"max\":%s}\n",
				name, num(med), unit, base == "" ? "null" : "\"" base "\"", num(ratio), num(lo), num(med), num(hi)
		}'
}

# run_case BALANCER MODE...: udp and/or tcp load against the lab's IPv4 VIP; output in $SL_TMP.
run_case() {
	lb=$1
	shift
	for mode in "$@"; do
		if [ "$mode" = udp ]; then target="$LAB_VIP4:53"; else target="$LAB_VIP4:80"; fi
		log "$lb: $mode load on $target for ${DUR}s"
		blast "$mode" "$target" "$SL_TMP/$mode-$lb.out" || log "$lb: $mode run failed"
	done
}

# ---- the balancers ---------------------------------------------------------------------

lb_sysctl() { ip netns exec "$SL_RUN-lb" sysctl -qw "$@" >/dev/null; }

# From sluice to plain kernel forwarding: no XDP on lb, no decapsulator on the backends,
# and replies routed back through lb (they must pass its conntrack to be un-NATed).
# The XDP_PASS program on lb's bridge port exists only so that sluice's XDP_TX frames
# are delivered (NETNS-FACTS); with frames from the stack arriving from two CPUs it
# stalled now and then (20 ms gaps, half the UDP rate), so the kernel path goes without.
sluice_down() {
	spid=$(lab_sluiced_pid)
	kill "$spid" 2>/dev/null
	wait_for 10 "sluiced gone" sh -c "! kill -0 $spid 2>/dev/null" || return 1
	nsenter --net="/var/run/netns/$SL_RUN-lb" "$BUILD/sluiced" -c "$LAB_CONF" --teardown \
		>>"$LAB_LOG" 2>&1 || return 1
	for b in $LAB_BACKENDS; do
		sl_in "$b" "$BUILD/sluice-backend" down eth0 >/dev/null 2>&1 || return 1
		for c in c1 c2; do
			ip -n "$SL_RUN-$b" route add "$(lab_ip4 "$c")/32" via "$(lab_ip4 lb)" || return 1
		done
	done
	ip -n "$SL_RUN-sw" link set lb-p xdpdrv off || return 1
	lb_sysctl net.ipv4.ip_forward=1 net.ipv4.conf.all.send_redirects=0 \
		net.ipv4.conf.eth0.send_redirects=0 net.ipv4.ip_local_port_range="1024 65000"
}

# nftables DNAT: a new flow takes the next backend (numgen inc); conntrack keeps it there.
nft_up() {
	map=""
	i=0
	for b in $LAB_BACKENDS; do
		map="$map${map:+, }$i : $(lab_ip4 "$b")"
		i=$((i + 1))
	done
	ip netns exec "$SL_RUN-lb" nft -f - <<NFT
table ip slbench {
	chain pre {
		type nat hook prerouting priority dstnat; policy accept;
		ip daddr $LAB_VIP4 udp dport 53 dnat to numgen inc mod $i map { $map }
		ip daddr $LAB_VIP4 tcp dport 80 dnat to numgen inc mod $i map { $map }
	}
}
NFT
}

nft_down() { ip netns exec "$SL_RUN-lb" nft delete table ip slbench; }

# HAProxy, TCP mode, on the VIP (made local on lb), round robin over the backends.
haproxy_up() {
	cfg="$SL_TMP/haproxy.cfg"
	ip -n "$SL_RUN-lb" addr add "$LAB_VIP4/32" dev lo || return 1
	{
		cat <<CFG
global
	maxconn 8000		# 64 are used; the fd limit here is 20000
	nbthread $(nproc)
defaults
	mode tcp
	option nolinger
	timeout connect 2s
	timeout client 10s
	timeout server 10s
frontend web4
	bind $LAB_VIP4:80
	default_backend servers
backend servers
	balance roundrobin
CFG
		for b in $LAB_BACKENDS; do
			printf '\tserver %s %s:80\n' "$b" "$(lab_ip4 "$b")"
		done
	} >"$cfg"
	nsenter --net="/var/run/netns/$SL_RUN-lb" haproxy -db -f "$cfg" >"$SL_TMP/haproxy.log" 2>&1 &
	wait_for 10 "haproxy listening" sh -c \
		"nsenter --net=/var/run/netns/$SL_RUN-lb ss -Hltn 'sport = :80' | grep -q $LAB_VIP4"
}

# ---- the run ---------------------------------------------------------------------------

log "building the lab"
if ! lab_up >&2; then
	log "lab_up failed; sluiced log:"
	tail -20 "$LAB_LOG" >&2
	exit 1
fi
for b in $LAB_BACKENDS; do
	taskset -pc "$SERVER_CPU" "$(cat "$SL_TMP/server-$b.pid")" >/dev/null
done
before=$(lab_ctl -j stats | jq '.reasons.tx_encap')
run_case sluice udp tcp
after=$(lab_ctl -j stats | jq '.reasons.tx_encap')
log "sluice: $((after - before)) packets encapsulated by XDP during the run"

if sluice_down && nft_up; then
	run_case nft_dnat udp tcp
	nft_down
else
	log "nftables DNAT: setup failed"
	PEERS_BROKEN=1
fi

if haproxy_up; then
	run_case haproxy tcp	# a TCP-mode proxy: no UDP figure
else
	log "haproxy: setup failed"
	tail -5 "$SL_TMP/haproxy.log" >&2 2>/dev/null
	PEERS_BROKEN=1
fi

# Every case against sluice's figure of this run.
for kind in udp tcp; do
	if [ $kind = udp ]; then unit="req/s" cunit="us/req" rname=udp_pps cname=udp_cpu
	else unit="conn/s" cunit="us/conn" rname=tcp_cps cname=tcp_cpu; fi
	base_rate=$(values "$SL_TMP/$kind-sluice.out" rate | median)
	base_cpu=$(values "$SL_TMP/$kind-sluice.out" cpu | median)
	[ -n "$base_rate" ] || PEERS_BROKEN=1
	for lb in sluice nft_dnat haproxy; do
		f="$SL_TMP/$kind-$lb.out"
		[ "$kind/$lb" = udp/haproxy ] && f=/nonexistent	# TCP mode only: null
		if [ $lb = sluice ]; then
			values "$f" rate | emit "peers.$rname.$lb" "$unit"
			values "$f" cpu | emit "peers.$cname.$lb" "$cunit"
		else
			values "$f" rate | emit "peers.$rname.$lb" "$unit" "peers.$rname.sluice" "$base_rate"
			values "$f" cpu | emit "peers.$cname.$lb" "$cunit" "peers.$cname.sluice" "$base_cpu"
		fi
	done
done
exit "$PEERS_BROKEN"
