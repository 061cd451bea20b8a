#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# End to end in the lab: real clients, sluiced, decapsulating backends with real servers.
. tests/lib.sh
. tests/lab.sh

LAB_SPARE="b4"

# spread_ok OUTPUT N: every backend b1..b3 got between 15% and 55% of N.
spread_ok() {
	for b in b1 b2 b3; do
		n=$(echo "$1" | awk -v b="$b" '$1 == "backend" && $2 == b {print $3}')
		check_between "$b's share of $2" "${n:-0}" $(($2 * 15 / 100)) $(($2 * 55 / 100)) ||
			return 1
	done
}

# backends_in OUTPUT: how many distinct backends answered.
backends_in() { echo "$1" | grep -c '^backend '; }

test_spread_tcp_udp_ipv4_ipv6() {
	for target in "tcp-spread $LAB_VIP4:80" "udp-spread $LAB_VIP4:53" \
		      "tcp-spread [$LAB_VIP6]:80" "udp-spread [$LAB_VIP6]:53"; do
		# shellcheck disable=SC2086
		out=$(lab_client c1 $target --count 300) || fail "$target: failures: $out"
		spread_ok "$out" 300 || fail "$target spread"
	done
}

test_same_5tuple_same_backend() {
	out=$(lab_client c1 tcp-spread "$LAB_VIP4:80" --count 20 --same-port 41000) || fail "tcp: $out"
	check "one TCP backend for one 5-tuple" [ "$(backends_in "$out")" = 1 ]
	out=$(lab_client c1 udp-spread "$LAB_VIP4:53" --count 20 --same-port 41001) || fail "udp: $out"
	check "one UDP backend for one 5-tuple" [ "$(backends_in "$out")" = 1 ]
	out=$(lab_client c1 tcp-spread "[$LAB_VIP6]:80" --count 20 --same-port 41002) || fail "ipv6: $out"
	check "one IPv6 backend for one 5-tuple" [ "$(backends_in "$out")" = 1 ]
}

test_source_hash_pins_a_client() {
	for c in c1 c2; do
		out=$(lab_client "$c" tcp-spread "$LAB_STICKY4:80" --count 60) || fail "$c: $out"
		check "$c: 60 ports, one backend" [ "$(backends_in "$out")" = 1 ]
	done
}

test_replies_bypass_the_balancer() {
	# A capture on the balancer for anything sent from a VIP (the replies).
	nsenter --net="/var/run/netns/$SL_RUN-lb" timeout 30 tcpdump -i eth0 -n -l \
		"src host $LAB_VIP4 or src host $LAB_VIP6" >"$SL_TMP/dsr.txt" 2>"$SL_TMP/dsr.err" &
	cap=$!
	wait_for 10 "tcpdump listening" grep -q "listening on" "$SL_TMP/dsr.err"
	before=$(lab_ctl -j stats | jq .reasons.tx_encap)
	out=$(lab_client c1 tcp-spread "$LAB_VIP4:80" --count 50) || fail "tcp: $out"
	out=$(lab_client c1 udp-spread "[$LAB_VIP6]:53" --count 50) || fail "udp: $out"
	after=$(lab_ctl -j stats | jq .reasons.tx_encap)
	kill -INT "$cap"
	wait_for 10 "tcpdump done" grep -q "packets captured" "$SL_TMP/dsr.err"
	check "no reply passed the balancer: $(grep . "$SL_TMP/dsr.txt" | head -3)" \
		[ "$(grep -c . "$SL_TMP/dsr.txt")" = 0 ]
	grep -q "^0 packets captured" "$SL_TMP/dsr.err" || fail "$(cat "$SL_TMP/dsr.err")"
	# 50 TCP connections are at least 150 client packets (SYN, request, ACK/RST),
	# 50 UDP requests 50 more: the balancer forwarded them, and nothing else.
	check_between "packets the balancer forwarded" $((after - before)) 200 600
}

test_long_lived_connections_survive_changes() {
	lab_long_start 30 60
	lab_ctl backend add web4 "$(lab_ip4 b4)"
	lab_wait_healthy 20
	lab_long_progress 100
	lab_ctl backend del web4 "$(lab_ip4 b3)"
	lab_long_progress 100
	lab_write_conf
	lab_ctl reload
	lab_long_progress 100
	kill -9 "$(lab_sluiced_pid)"
	lab_long_progress 100
	lab_sluiced_start
	lab_wait_healthy 20
	lab_long_progress 100
	lab_long_stop
}

test_backend_failure_under_new_connections() {
	secs=12
	nsenter --net="/var/run/netns/$SL_RUN-c1" "$SL_CLIENT" tcp-stream "$LAB_VIP4:80" \
		--rate 50 --duration $secs --timeout-ms 1000 \
		--log "$SL_TMP/stream.log" >"$SL_TMP/stream.out" 2>&1 &
	stream_pid=$!
	wait_for 10 "stream running" grep -q "^t=2 " "$SL_TMP/stream.out"
	lab_server_stop b2
	# How fast detection is, is health.sh's business; here: after it, no failure.
	wait_for 10 "b2 marked down" lab_state_is web4 "$(lab_ip4 b2)" down
	detected=$(($(date +%s%N) / 1000000))
	detected_sec=$(grep -c '^t=' "$SL_TMP/stream.out")
	wait_for $((secs + 8)) "stream finished" is_gone "$stream_pid"
	late=$(awk -v t="$detected" '{ sub("start=", "", $2); if ($2 + 0 > t) n++ } END { print n + 0 }' \
		"$SL_TMP/stream.log")
	check "no connection started after detection failed ($late did)" [ "$late" = 0 ]
	# New connections went on to the end: every second after detection had successes.
	check "the stream ran its $secs s: $(tail -3 "$SL_TMP/stream.out")" \
		grep -q "^t=$secs " "$SL_TMP/stream.out"
	idle=$(awk -v d="$detected_sec" -v n=$secs \
		'/^t=/ { s = substr($1, 3) + 0; if (s > d && s <= n && $2 == "ok=0") print }' \
		"$SL_TMP/stream.out")
	check "every second after detection had successes: $idle" [ -z "$idle" ]
	grep -q "^backend b2 " "$SL_TMP/stream.out" || fail "b2 got nothing before it failed: $(tail -8 "$SL_TMP/stream.out")"
	lab_server_start b2
	lab_wait_healthy 20
}

test_teardown_leaves_nothing() {
	check_teardown lb eth0 "$LAB_SOCK"
	sl_teardown
	trap - EXIT
	check "no namespace left" sh -c "! ip netns list | grep -q $SL_RUN"
	check "no pin left" sh -c "! ls -d /sys/fs/bpf/$SL_RUN* /sys/fs/bpf/sluice-backend/netns-$SL_RUN-* 2>/dev/null | grep -q ."
	left=$(pgrep -f -- "$SL_RUN" || true)
	check "no process left ($left)" [ -z "$left" ]
}

lab_main
