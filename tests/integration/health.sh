#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Health checks and draining in the lab: real servers failing, answering 500, coming back.
. tests/lib.sh
. tests/lab.sh

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# be_state VIP ADDRESS: the backend's state as sluicectl reports it.
be_state() {
	lab_ctl -j backend list "$1" | jq -r ".[] | select(.address == \"$2\") | .state"
}

# count_for OUTPUT NAME: how many replies came from backend NAME.
count_for() {
	n=$(echo "$1" | awk -v b="$2" '$1 == "backend" && $2 == b {print $3}')
	echo "${n:-0}"
}

test_tcp_check_takes_a_dead_backend_out_and_back() {
	b3=$(lab_ip4 b3)
	t0=$(now_ms)
	lab_server_stop b3
	wait_for 10 "b3 down" sh -c "[ \"\$($BUILD/sluicectl -s $LAB_SOCK -j backend list web4 | jq -r '.[] | select(.address == \"$b3\") | .state')\" = down ]"
	t1=$(now_ms)
	# fall (2) x interval (0.5 s) + one interval = 1.5 s; 1 s of slack for a busy machine.
	check "down within 2.5 s (took $((t1 - t0)) ms)" [ $((t1 - t0)) -le 2500 ]
	out=$(lab_client c1 tcp-spread "$LAB_VIP4:80" --count 200) || fail "connections failed: $out"
	check "no new connection reached b3" [ "$(count_for "$out" b3)" = 0 ]
	lab_ctl health | grep -q "refused" || fail "health shows no reason: $(lab_ctl health)"
	lab_server_start b3
	wait_for 10 "b3 up again" sh -c "[ \"\$($BUILD/sluicectl -s $LAB_SOCK -j backend list web4 | jq -r '.[] | select(.address == \"$b3\") | .state')\" = up ]"
	out=$(lab_client c1 tcp-spread "$LAB_VIP4:80" --count 200) || fail "connections failed: $out"
	check "b3 serves again" [ "$(count_for "$out" b3)" -gt 0 ]
	grep -q "backend $b3 is DOWN" "$LAB_LOG" || fail "state change not logged"
}

test_http_check_takes_a_500_backend_out() {
	b1=$(lab_ip4 b1)
	# Switch the lab's TCP checks to HTTP GET /health through the file, then reload.
	sed -i 's/health = { type = "tcp"; port = 80;/health = { type = "http"; http_path = "\/health"; port = 80;/' "$LAB_CONF"
	lab_ctl reload
	lab_wait_healthy 20
	kill -USR1 "$(cat "$SL_TMP/server-b1.pid")"	# b1 now answers 500
	wait_for 10 "b1 down on HTTP 500" sh -c "[ \"\$($BUILD/sluicectl -s $LAB_SOCK -j backend list web4 | jq -r '.[] | select(.address == \"$b1\") | .state')\" = down ]"
	lab_ctl -j health | jq -e ".[] | select(.vip == \"web4\" and .address == \"$b1\") | .last_result | test(\"500\")" >/dev/null ||
		fail "last result does not name the status"
	out=$(lab_client c1 tcp-spread "$LAB_VIP4:80" --count 100) || fail "connections failed: $out"
	check "no new connection reached b1" [ "$(count_for "$out" b1)" = 0 ]
	kill -USR1 "$(cat "$SL_TMP/server-b1.pid")"	# back to 200
	wait_for 10 "b1 up" sh -c "[ \"\$($BUILD/sluicectl -s $LAB_SOCK -j backend list web4 | jq -r '.[] | select(.address == \"$b1\") | .state')\" = up ]"
}

test_udp_check() {
	b2=$(lab_ip4 b2)
	lab_server_stop b2
	wait_for 10 "b2 down on UDP" sh -c "[ \"\$($BUILD/sluicectl -s $LAB_SOCK -j backend list dns4 | jq -r '.[] | select(.address == \"$b2\") | .state')\" = down ]"
	out=$(lab_client c1 udp-spread "$LAB_VIP4:53" --count 100) || fail "requests failed: $out"
	check "no request reached b2" [ "$(count_for "$out" b2)" = 0 ]
	lab_server_start b2
	lab_wait_healthy 20
}

test_weight_change_moves_new_flows() {
	lab_ctl backend weight web4 "$(lab_ip4 b1)" 400
	out=$(lab_client c1 tcp-spread "$LAB_VIP4:80" --count 300) || fail "$out"
	n=$(count_for "$out" b1)
	# b1 now has 400 of 600 weight: about two thirds.
	check "b1 got $n of 300 at weight 400/600" [ "$n" -ge 150 ] && [ "$n" -le 250 ]
	lab_ctl backend weight web4 "$(lab_ip4 b1)" 100
}

test_drain_keeps_established_connections() {
	b2=$(lab_ip4 b2)
	nsenter --net="/var/run/netns/$SL_RUN-c2" "$SL_CLIENT" tcp-long "$LAB_VIP4:80" --conns 30 \
		--interval-ms 100 --duration 60 --status-file "$SL_TMP/long.status" \
		>"$SL_TMP/long.out" 2>&1 &
	lpid=$!
	wait_for 10 "long-lived connections running" sh -c \
		"[ -s $SL_TMP/long.status ] && [ \$(cut -d' ' -f2 $SL_TMP/long.status) -gt 60 ]"
	check "some long-lived connections are on b2" \
		[ "$(lab_ctl -j backend list web4 | jq ".[] | select(.address == \"$b2\") | .flows")" -gt 0 ]
	lab_ctl backend drain web4 "$b2"
	check "b2 draining" [ "$(be_state web4 "$b2")" = draining ]
	out=$(lab_client c1 tcp-spread "$LAB_VIP4:80" --count 200) || fail "$out"
	check "no new connection reached the draining b2" [ "$(count_for "$out" b2)" = 0 ]
	n=$(cut -d' ' -f2 "$SL_TMP/long.status")
	wait_for 10 "established connections keep exchanging data" sh -c \
		"[ \$(cut -d' ' -f2 $SL_TMP/long.status) -gt $((n + 200)) ]"
	if lab_ctl backend drain web4 "$b2" --wait --timeout 1 2>/dev/null; then
		fail "drain finished while connections were alive"
	fi
	kill -INT "$lpid"
	wait_for 15 "long-lived client finished" sh -c "! kill -0 $lpid 2>/dev/null"
	grep -q "failed_conns 0" "$SL_TMP/long.out" || fail "$(tail -3 "$SL_TMP/long.out")"
	# Idle flows stop counting after 10 s; then the drain is complete.
	lab_ctl backend drain web4 "$b2" --wait --timeout 30 || fail "drain did not finish"
	lab_ctl backend weight web4 "$b2" 100
}

if ! lab_up; then
	echo "lab set-up failed; sluiced log:" >&2
	tail -n 30 "$LAB_LOG" >&2
	echo "0 passed, 1 failed"
	exit 1
fi
t_main
rc=$?
[ $rc -eq 0 ] || { echo "--- sluiced log"; tail -n 40 "$LAB_LOG"; }
exit $rc
