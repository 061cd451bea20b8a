#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Health checks and draining in the lab: real servers failing, answering 500, coming back.
. tests/lib.sh
. tests/lab.sh

# count_for OUTPUT NAME: how many replies came from backend NAME.
count_for() {
	n=$(echo "$1" | awk -v b="$2" '$1 == "backend" && $2 == b {print $3}')
	echo "${n:-0}"
}

test_tcp_check_takes_a_dead_backend_out_and_back() {
	b3=$(lab_ip4 b3)
	lab_server_stop b3
	wait_for 10 "b3 down" lab_state_is web4 "$b3" down
	# Down on the fall-th (2nd) consecutive failure, not later: with probes
	# every interval that is fall x interval after the failure began. (No
	# clock here; make demo prints the time it took.)
	grep -q "vip web4: backend $b3 is DOWN: refused (2 consecutive failures)" "$LAB_LOG" ||
		fail "not taken out on the 2nd failure: $(grep "$b3 is DOWN" "$LAB_LOG")"
	out=$(lab_client c1 tcp-spread "$LAB_VIP4:80" --count 200) || fail "connections failed: $out"
	check "no new connection reached b3" [ "$(count_for "$out" b3)" = 0 ]
	lab_ctl health | grep -q "refused" || fail "health shows no reason: $(lab_ctl health)"
	lab_server_start b3
	wait_for 10 "b3 up again" lab_state_is web4 "$b3" up
	out=$(lab_client c1 tcp-spread "$LAB_VIP4:80" --count 200) || fail "connections failed: $out"
	check "b3 serves again" [ "$(count_for "$out" b3)" -gt 0 ]
	grep -q "vip web4: backend $b3 is up: ok (2 consecutive successes)" "$LAB_LOG" ||
		fail "not back on the 2nd success"
}

test_http_check_takes_a_500_backend_out() {
	b1=$(lab_ip4 b1)
	# Switch the lab's TCP checks to HTTP GET /health through the file, then reload.
	sed -i 's/health = { type = "tcp"; port = 80;/health = { type = "http"; http_path = "\/health"; port = 80;/' "$LAB_CONF"
	lab_ctl reload
	lab_wait_healthy 20
	kill -USR1 "$(cat "$SL_TMP/server-b1.pid")"	# b1 now answers 500
	wait_for 10 "b1 down on HTTP 500" lab_state_is web4 "$b1" down
	lab_ctl -j health | jq -e ".[] | select(.vip == \"web4\" and .address == \"$b1\") | .last_result | test(\"500\")" >/dev/null ||
		fail "last result does not name the status"
	out=$(lab_client c1 tcp-spread "$LAB_VIP4:80" --count 100) || fail "connections failed: $out"
	check "no new connection reached b1" [ "$(count_for "$out" b1)" = 0 ]
	kill -USR1 "$(cat "$SL_TMP/server-b1.pid")"	# back to 200
	wait_for 10 "b1 up" lab_state_is web4 "$b1" up
}

test_udp_check() {
	b2=$(lab_ip4 b2)
	lab_server_stop b2
	wait_for 10 "b2 down on UDP" lab_state_is dns4 "$b2" down
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
	check_between "b1's connections of 300 at weight 400/600" "$n" 150 250
	lab_ctl backend weight web4 "$(lab_ip4 b1)" 100
}

test_drain_keeps_established_connections() {
	b2=$(lab_ip4 b2)
	lab_long_start 30 60
	check "some long-lived connections are on b2" \
		[ "$(lab_ctl -j backend list web4 | jq ".[] | select(.address == \"$b2\") | .flows")" -gt 0 ]
	lab_ctl backend drain web4 "$b2"
	check "b2 draining" lab_state_is web4 "$b2" draining
	out=$(lab_client c1 tcp-spread "$LAB_VIP4:80" --count 200) || fail "$out"
	check "no new connection reached the draining b2" [ "$(count_for "$out" b2)" = 0 ]
	lab_long_progress 200
	if lab_ctl backend drain web4 "$b2" --wait --timeout 1 2>/dev/null; then
		fail "drain finished while connections were alive"
	fi
	lab_long_stop
	# Idle flows stop counting after 10 s; then the drain is complete.
	lab_ctl backend drain web4 "$b2" --wait --timeout 30 || fail "drain did not finish"
	lab_ctl backend weight web4 "$b2" 100
}

lab_main
