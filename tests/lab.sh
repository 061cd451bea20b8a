# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The network-namespace lab: clients, a balancer running sluiced, backends with real servers.
# Source after tests/lib.sh. lab_up builds it; lib.sh's trap removes it.
#
#   c1, c2 ---+                      every node has eth0 on one bridge in
#   lb -------+-- sw (bridge br0)    namespace "sw"; the clients route the
#   b1..b4 ---+                      VIPs via lb, lb encapsulates toward a
#                                    backend (XDP_TX), the backend decaps
#                                    and replies to the client directly.

LAB_NET4=10.210.0
LAB_NET6=fd00:210:
LAB_VIP4=10.210.100.1
LAB_VIP6=fd00:210:100::1
LAB_STICKY4=10.210.100.2
LAB_SOCK="$SL_TMP/ctl.sock"
LAB_CONF="$SL_TMP/sluice.conf"
LAB_LOG="$SL_LOG"
LAB_BACKENDS="b1 b2 b3"	# in the configuration
LAB_SPARE=""			# built and serving, not configured (to add at run time)
SL_SERVER="$PWD/$BUILD/tests/sl-server"
SL_CLIENT="$PWD/$BUILD/tests/sl-client"
XDP_PASS_OBJ="$PWD/$BUILD/xdp_pass.bpf.o"

# Host part of a node's addresses.
lab_host() {
	case $1 in
	lb) echo 1 ;;
	c1) echo 21 ;;
	c2) echo 22 ;;
	b*) echo $((10 + ${1#b})) ;;
	esac
}

lab_ip4() { echo "$LAB_NET4.$(lab_host "$1")"; }
lab_ip6() { echo "$LAB_NET6:$(lab_host "$1")"; }

lab_ctl() { "$SLUICECTL" -s "$LAB_SOCK" "$@"; }

# Join node $1 to the bridge with a veth pair: eth0 inside, $1-p in sw.
lab_node() {
	n=$1
	sl_ns_add "$n"
	ip link add eth0 netns "$SL_RUN-$n" type veth peer name "$n-p" netns "$SL_RUN-sw"
	ip -n "$SL_RUN-sw" link set "$n-p" master br0 up
	ip -n "$SL_RUN-$n" addr add "$(lab_ip4 "$n")/24" dev eth0
	ip -n "$SL_RUN-$n" addr add "$(lab_ip6 "$n")/64" dev eth0 nodad
	ip -n "$SL_RUN-$n" link set eth0 up
	# XDP_TX drops a frame's checksum-offload state: checksum in software.
	sl_in "$n" ethtool -K eth0 tx off rx off tso off gso off >/dev/null
	ip netns exec "$SL_RUN-$n" sysctl -qw net.ipv4.tcp_tw_reuse=1
}

# Write the balancer's configuration from LAB_BACKENDS.
# With LAB_TEMPLATE set, that file is used instead, with @BPFFS@ and
# @SOCKET@ filled in.
lab_write_conf() {
	if [ -n "${LAB_TEMPLATE:-}" ]; then
		sed -e "s|@BPFFS@|$SL_BPFFS|" -e "s|@SOCKET@|$LAB_SOCK|" "$LAB_TEMPLATE" >"$LAB_CONF"
		return
	fi
	bes4="" bes6=""
	for b in $LAB_BACKENDS; do
		bes4="$bes4${bes4:+, }{ address = \"$(lab_ip4 "$b")\"; }"
		bes6="$bes6${bes6:+, }{ address = \"$(lab_ip6 "$b")\"; }"
	done
	cat >"$LAB_CONF" <<CONF
bpffs = "$SL_BPFFS";
flow_table_size = 65536;
interfaces = ( { name = "eth0"; xdp_mode = "native"; } );
control = { socket = "$LAB_SOCK"; };
source = { ipv4 = "$(lab_ip4 lb)"; ipv6 = "$(lab_ip6 lb)"; };
health = { type = "tcp"; port = 80; interval = 0.5; timeout = 0.4; rise = 2; fall = 2; };
vips = (
  { name = "web4"; address = "$LAB_VIP4"; port = 80; protocol = "tcp";
    backends = ( $bes4 ); },
  { name = "dns4"; address = "$LAB_VIP4"; port = 53; protocol = "udp";
    health = { type = "udp"; port = 53; udp_payload = "health"; };
    backends = ( $bes4 ); },
  { name = "web6"; address = "$LAB_VIP6"; port = 80; protocol = "tcp";
    backends = ( $bes6 ); },
  { name = "dns6"; address = "$LAB_VIP6"; port = 53; protocol = "udp";
    health = { type = "udp"; port = 53; udp_payload = "health"; };
    backends = ( $bes6 ); },
  { name = "sticky"; address = "$LAB_STICKY4"; port = 80; protocol = "tcp";
    hash = "source"; backends = ( $bes4 ); }
);
CONF
}

# Start the server of backend $1 (names itself $1 in every reply).
lab_server_start() {
	b=$1
	nsenter --net="/var/run/netns/$SL_RUN-$b" "$SL_SERVER" --name "$b" \
		--tcp 0.0.0.0:80 --tcp "[::]:80" \
		--udp "$LAB_VIP4:53" --udp "$(lab_ip4 "$b"):53" \
		--udp "[$LAB_VIP6]:53" --udp "[$(lab_ip6 "$b")]:53" \
		--pidfile "$SL_TMP/server-$b.pid" >"$SL_TMP/server-$b.out" 2>&1 &
	wait_for 10 "server on $b" grep -q ready "$SL_TMP/server-$b.out"
}

lab_server_stop() {
	srv_pid=$(cat "$SL_TMP/server-$1.pid")
	kill "$srv_pid" 2>/dev/null
	wait_for 10 "server on $1 gone" is_gone "$srv_pid"
}

# lab_state VIP ADDRESS: the backend's state as sluicectl reports it.
lab_state() {
	lab_ctl -j backend list "$1" | jq -r ".[] | select(.address == \"$2\") | .state"
}

# lab_state_is VIP ADDRESS STATE: true when the backend is in STATE (for wait_for).
lab_state_is() {
	[ "$(lab_state "$1" "$2")" = "$3" ]
}

# lab_long_start CONNS SECONDS: long-lived connections from c2 to the
# IPv4 web VIP in the background (pid in $SL_TMP/long.pid), once running.
lab_long_start() {
	nsenter --net="/var/run/netns/$SL_RUN-c2" "$SL_CLIENT" tcp-long "$LAB_VIP4:80" \
		--conns "$1" --interval-ms 100 --duration "$2" \
		--status-file "$SL_TMP/long.status" >"$SL_TMP/long.out" 2>&1 &
	echo $! >"$SL_TMP/long.pid"
	wait_for 10 "long-lived connections running" lab_long_more_than "$1"
}

# Lines the long-lived connections have exchanged so far.
lab_long_lines() {
	cut -d' ' -f2 "$SL_TMP/long.status" 2>/dev/null || echo 0
}

lab_long_more_than() {
	[ "$(lab_long_lines)" -gt "$1" ]
}

# Wait until the long-lived connections exchanged $1 more lines, none failed.
lab_long_progress() {
	wait_for 10 "traffic keeps flowing" lab_long_more_than $(($(lab_long_lines) + $1))
	check "no connection failed: $(grep fail "$SL_TMP/long.out" | head -3)" \
		[ "$(cut -d' ' -f3 "$SL_TMP/long.status")" = 0 ]
}

# Stop the long-lived connections; true when none of them failed.
lab_long_stop() {
	kill -INT "$(cat "$SL_TMP/long.pid")"
	wait_for 15 "long-lived client finished" is_gone "$(cat "$SL_TMP/long.pid")"
	grep -q "failed_conns 0" "$SL_TMP/long.out" || fail "$(tail -3 "$SL_TMP/long.out")"
}

# Make $1 a backend: decapsulator, VIPs on lo, MSS that fits after encap.
lab_backend() {
	b=$1
	lab_node "$b"
	sl_in "$b" "$SLUICE_BACKEND" up eth0 "$LAB_VIP4" "$LAB_VIP6" "$LAB_STICKY4" \
		>"$SL_TMP/backend-$b.out" 2>&1 || { cat "$SL_TMP/backend-$b.out" >&2; return 1; }
	# Encapsulation adds 20/40 bytes: advertise an MSS that leaves room.
	ip -n "$SL_RUN-$b" route replace "$LAB_NET4.0/24" dev eth0 advmss 1440
	ip -n "$SL_RUN-$b" -6 route replace "$LAB_NET6:/64" dev eth0 advmss 1400
	lab_server_start "$b"
}

lab_sluiced_start() { sl_sluiced_start lb "$LAB_CONF" "$LAB_SOCK"; }
lab_sluiced_pid() { sl_sluiced_pid; }

# lab_ctl_has FILTER ARGS...: true when jq FILTER holds for `sluicectl -j ARGS`
# (for wait_for).
lab_ctl_has() {
	filter=$1
	shift
	lab_ctl -j "$@" | jq -e "$filter" >/dev/null
}

# Wait until every backend of every VIP is up and every next hop resolved.
# New backends start up before their first probe, so "up" alone proves
# nothing: wait for two successful probes in a row of every checked backend
# (IPv6 neighbour discovery can fail the first ones right after link-up).
lab_wait_healthy() {
	wait_for "${1:-20}" "all backends up" lab_ctl_has 'all(.state == "up")' backend list
	wait_for "${1:-20}" "every health check passing" \
		lab_ctl_has 'all(.check == "none" or (.health == "up" and .streak_ok >= 2))' health
	wait_for "${1:-20}" "next hops resolved" lab_ctl_has '.unresolved_nexthops == 0' status
}

# Remove what lives outside the namespaces: the backends' pinned decapsulators.
sl_teardown_hook() {
	for b in b1 b2 b3 b4 b5; do
		[ -e "/var/run/netns/$SL_RUN-$b" ] || continue
		nsenter --net="/var/run/netns/$SL_RUN-$b" "$SLUICE_BACKEND" down eth0 \
			>/dev/null 2>&1
	done
	rm -rf /sys/fs/bpf/sluice-backend/netns-"$SL_RUN"-* 2>/dev/null
}

# Build the whole lab. Set LAB_BACKENDS before calling to change the backends.
lab_up() {
	sl_ns_add sw
	ip -n "$SL_RUN-sw" link add br0 type bridge
	ip -n "$SL_RUN-sw" link set br0 up
	lab_node lb
	# XDP_TX out of lb's eth0 is delivered only when the receiving peer runs
	# a native XDP program (NETNS-FACTS: XDP_PASS is enough; GRO is not).
	ip -n "$SL_RUN-sw" link set lb-p xdpdrv obj "$XDP_PASS_OBJ" sec xdp
	for c in c1 c2; do
		lab_node "$c"
		ip -n "$SL_RUN-$c" route add "$LAB_VIP4/32" via "$(lab_ip4 lb)"
		ip -n "$SL_RUN-$c" route add "$LAB_STICKY4/32" via "$(lab_ip4 lb)"
		ip -n "$SL_RUN-$c" -6 route add "$LAB_VIP6/128" via "$(lab_ip6 lb)"
	done
	for b in $LAB_BACKENDS $LAB_SPARE; do
		lab_backend "$b" || return 1
	done
	lab_write_conf
	lab_sluiced_start
	lab_wait_healthy 30
}

# A test script's main: build the lab, run its tests, show the log on failure.
lab_main() { sl_main lab_up; }

# sl-client in client namespace $1.
lab_client() {
	c=$1
	shift
	nsenter --net="/var/run/netns/$SL_RUN-$c" "$SL_CLIENT" "$@"
}
