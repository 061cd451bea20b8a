#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# sluiced and sluicectl in a network namespace: maps, reload, kill -9, permissions, teardown.
. tests/lib.sh

SOCK="$SL_TMP/ctl.sock"
CONF="$SL_TMP/sluice.conf"
VIP=10.201.9.9

ctl() { "$SLUICECTL" -s "$SOCK" "$@"; }
ctlj() { "$SLUICECTL" -s "$SOCK" -j "$@"; }

write_conf() {
	cat >"$CONF" <<CONF
bpffs = "$SL_BPFFS";
flow_table_size = 65536;
interfaces = ( { name = "sl-l0"; } );
control = { socket = "$SOCK"; group = "nogroup"; };
source = { ipv4 = "10.201.0.1"; ipv6 = "fd00:201::1"; };
vips = (
  { name = "web"; address = "$VIP"; port = 80; protocol = "tcp";
    health = { type = "none"; };
    backends = ( { address = "10.201.0.11"; }, { address = "10.201.0.12"; },
                 { address = "10.201.0.13"; } $1 ); },
  { name = "dns"; address = "$VIP"; port = 53; protocol = "udp";
    health = { type = "none"; };
    backends = ( { address = "10.201.0.11"; }, { address = "10.201.0.12"; } ); }
);
CONF
}

start_sluiced() { sl_sluiced_start lb "$CONF" "$SOCK"; }

# Send N UDP datagrams to the DNS VIP from distinct source ports of the client.
send_udp() {
	i=0
	while [ $i -lt "$1" ]; do
		echo x | sl_in cl socat -u - "UDP4-SENDTO:$VIP:53,sourceport=$((20000 + i))"
		i=$((i + 1))
	done
}

flows() { ctlj status | jq .flows; }
flows_at_least() { [ "$(flows)" -ge "$1" ]; }

# Packets encapsulated, from the pinned counters (16 = SL_TX_ENCAP,
# include/sluice_abi.h): readable without the daemon.
pinned_tx_encap() {
	bpftool -j map dump pinned "$SL_BPFFS/sluice_reasons" |
		jq '[.[].formatted | select(.key == 16) | .values[].value.packets] | add'
}
pinned_tx_encap_at_least() { [ "$(pinned_tx_encap)" -ge "$1" ]; }

# Does program $1 use the pinned .bss (clock and backend epoch, shared by
# every program sluiced loads, so a program still attached sees slot writes)?
uses_shared_bss() {
	m=$(bpftool -j map show pinned "$SL_BPFFS/sluice_bss" | jq .id) || return 1
	bpftool -j prog show id "$1" | jq -e --argjson m "$m" '.map_ids | index($m) != null' >/dev/null
}

setup() {
	sl_ns_add lb && sl_ns_add cl || return 1
	ip link add sl-l0 netns "$SL_RUN-lb" type veth peer name sl-l1 netns "$SL_RUN-cl"
	ip -n "$SL_RUN-lb" addr add 10.201.0.1/24 dev sl-l0
	ip -n "$SL_RUN-lb" link set sl-l0 up
	ip -n "$SL_RUN-cl" addr add 10.201.0.2/24 dev sl-l1
	ip -n "$SL_RUN-cl" link set sl-l1 up
	ip -n "$SL_RUN-cl" route add "$VIP/32" via 10.201.0.1
	# Backends exist only as neighbours: enough for next-hop resolution.
	for b in 11 12 13 14; do
		ip -n "$SL_RUN-lb" neigh replace "10.201.0.$b" lladdr "02:00:00:00:00:$b" \
			dev sl-l0 nud permanent
	done
	chmod 755 "$SL_TMP"	# the socket's group must reach it
	write_conf ""
	start_sluiced
}

test_starts_attached_and_pinned() {
	st=$(ctlj status)
	check "interface attached" [ "$(echo "$st" | jq '.interfaces[0].attached')" = true ]
	id=$(echo "$st" | jq '.interfaces[0].prog_id')
	check "program $id on sl-l0" sh -c "ip -n $SL_RUN-lb link show sl-l0 | grep -q 'prog/xdp id $id'"
	for m in sluice_vips sluice_rings sluice_backends sluice_flows link_sl-l0; do
		check "$m pinned" [ -e "$SL_BPFFS/$m" ]
	done
	# Two services and one address marker, as bpftool sees the pinned map.
	check "3 entries in sluice_vips" \
		[ "$(bpftool -j map dump pinned "$SL_BPFFS/sluice_vips" | jq length)" = 3 ]
	check "config matches" [ "$(echo "$st" | jq .config_differs)" = false ]
}

test_second_instance_is_refused_and_changes_nothing() {
	id=$(ctlj status | jq '.interfaces[0].prog_id')
	rc=0
	sl_in lb "$SLUICED" -c "$CONF" >"$SL_TMP/second.log" 2>&1 || rc=$?
	check "second sluiced exits non-zero" [ "$rc" != 0 ]
	grep -q "another sluiced is running" "$SL_TMP/second.log" || fail "$(cat "$SL_TMP/second.log")"
	check "program untouched" [ "$(ctlj status | jq '.interfaces[0].prog_id')" = "$id" ]
}

test_lists_show_config_and_next_hops() {
	check "2 VIPs" [ "$(ctlj vip list | jq length)" = 2 ]
	bl=$(ctlj backend list web)
	check "3 backends" [ "$(echo "$bl" | jq length)" = 3 ]
	check "all up" [ "$(echo "$bl" | jq '[.[] | select(.state == "up")] | length')" = 3 ]
	check "next hop resolved from the neighbour table" \
		[ "$(echo "$bl" | jq -r '.[] | select(.address == "10.201.0.11") | .nexthop_mac')" = \
		  "02:00:00:00:00:11" ]
	ctl vip list | grep -q web || fail "text table names the VIP"
	ctl backend list web | grep -q 10.201.0.12 || fail "text table names a backend"
}

test_traffic_creates_flows_and_counts() {
	send_udp 20
	wait_for 5 "20 flows" flows_at_least 20
	s=$(ctlj stats)
	check "tx counted" [ "$(echo "$s" | jq .reasons.tx_encap)" -ge 20 ]
	check "dns VIP counted 20 new flows" \
		[ "$(echo "$s" | jq '.vips[] | select(.name == "dns") | .new_flows')" -ge 20 ]
}

test_runtime_changes_and_dump() {
	ctl backend add web 10.201.0.14 weight 50
	check "4 backends" [ "$(ctlj backend list web | jq length)" = 4 ]
	check "state differs from the file" [ "$(ctlj status | jq .config_differs)" = true ]
	ctl config dump >"$SL_TMP/dump.conf"
	ctl config check "$SL_TMP/dump.conf" >/dev/null || fail "dumped config does not validate"
	grep -q 10.201.0.14 "$SL_TMP/dump.conf" || fail "dump lacks the new backend"
	ctl backend weight web 10.201.0.14 0
	check "weight 0 is draining" [ "$(ctlj backend list web | jq -r '.[] | select(.address == "10.201.0.14") | .state')" = draining ]
	ctl backend del web 10.201.0.14
	ctl vip add tmp 10.201.9.10 0 tcp hash source
	check "port-0 VIP added" [ "$(ctlj vip list | jq length)" = 3 ]
	ctl vip del tmp
	check "back to 2 VIPs" [ "$(ctlj vip list | jq length)" = 2 ]
	check "state equals the file again" [ "$(ctlj status | jq .config_differs)" = false ]
}

test_bad_requests_change_nothing() {
	before=$(ctlj backend list)
	if ctl backend add nosuch 10.201.0.20 2>"$SL_TMP/err"; then fail "unknown VIP accepted"; fi
	grep -q "nosuch" "$SL_TMP/err" || fail "message names the VIP: $(cat "$SL_TMP/err")"
	if ctl backend add web 10.201.0.300 2>"$SL_TMP/err"; then fail "bad address accepted"; fi
	if ctl vip add web 10.201.9.11 80 tcp 2>/dev/null; then fail "duplicate VIP name accepted"; fi
	if ctl vip add other $VIP 80 tcp 2>/dev/null; then fail "duplicate VIP address accepted"; fi
	# Malformed and half-sent requests on the socket itself.
	printf 'not json' | socat -t1 - "UNIX-CONNECT:$SOCK,type=5" >"$SL_TMP/r1" || true
	grep -q '"ok": *false' "$SL_TMP/r1" || fail "malformed request: $(cat "$SL_TMP/r1")"
	# (Oversized requests: tests/unit/test_control.c; socat cannot send one message that big.)
	socat -t0.2 /dev/null "UNIX-CONNECT:$SOCK,type=5" || true
	check "daemon still answers" ctl status >/dev/null
	check "nothing changed" [ "$(ctlj backend list)" = "$before" ]
}

test_reload_keeps_slots_and_flows() {
	id11=$(ctlj backend list web | jq '.[] | select(.address == "10.201.0.11") | .id')
	f=$(flows)
	check "flows to keep" [ "$f" -gt 0 ]
	write_conf ', { address = "10.201.0.14"; }'
	ctl reload
	bl=$(ctlj backend list web)
	check "new backend from the file" [ "$(echo "$bl" | jq length)" = 4 ]
	check "unchanged backend kept its slot" \
		[ "$(echo "$bl" | jq '.[] | select(.address == "10.201.0.11") | .id')" = "$id11" ]
	check "flows kept ($f)" [ "$(flows)" -ge "$f" ]
	check "state equals the file" [ "$(ctlj status | jq .config_differs)" = false ]
}

test_broken_reload_changes_nothing() {
	before=$(ctlj backend list)
	cp "$CONF" "$SL_TMP/good.conf"
	printf 'vips = ( { name = "x"; address = "1.2.3"; } );\n' >>"$CONF"
	if ctl reload 2>"$SL_TMP/err"; then fail "broken config accepted"; fi
	grep -q "sluice.conf:[0-9]*:" "$SL_TMP/err" || fail "no file:line in: $(cat "$SL_TMP/err")"
	kill -HUP "$(sl_sluiced_pid)"
	wait_for 5 "SIGHUP reload failure logged" grep -q "reload failed" "$SL_LOG"
	check "daemon alive" ctl status >/dev/null
	check "nothing changed" [ "$(ctlj backend list)" = "$before" ]
	cp "$SL_TMP/good.conf" "$CONF"
}

test_new_hash_seed_swaps_the_program_only_when_applied() {
	send_udp 3
	id=$(ctlj status | jq '.interfaces[0].prog_id')
	cp "$CONF" "$SL_TMP/good.conf"
	# A new seed with a broken VIP: nothing may change, the program included.
	{ echo 'hash_seed = 0x1234;'; cat "$SL_TMP/good.conf"; } >"$CONF"
	sed -i 's/"10.201.0.13"/"10.201.0.300"/' "$CONF"
	if ctl reload 2>/dev/null; then fail "broken config accepted"; fi
	check "program kept after a failed reload" [ "$(ctlj status | jq '.interfaces[0].prog_id')" = "$id" ]
	check "the running program uses the pinned clock and epoch" uses_shared_bss "$id"
	{ echo 'hash_seed = 0x1234;'; cat "$SL_TMP/good.conf"; } >"$CONF"
	ctl reload
	st=$(ctlj status)
	check "new program attached" [ "$(echo "$st" | jq '.interfaces[0].prog_id')" != "$id" ]
	check "the new program shares the pinned clock and epoch" \
		uses_shared_bss "$(echo "$st" | jq '.interfaces[0].prog_id')"
	check "still attached" [ "$(echo "$st" | jq '.interfaces[0].attached')" = true ]
	check "flows kept" [ "$(echo "$st" | jq .flows)" -gt 0 ]
	cp "$SL_TMP/good.conf" "$CONF"
	ctl reload
}

test_kill9_keeps_forwarding_and_restart_adopts() {
	send_udp 5
	f=$(flows)
	vipid=$(ctlj vip show web | jq .id)
	kill -9 "$(sl_sluiced_pid)"
	wait_for 5 "sluiced gone" is_gone "$(sl_sluiced_pid)"
	check "program still attached" sh -c "ip -n $SL_RUN-lb link show sl-l0 | grep -q prog/xdp"
	before=$(pinned_tx_encap)
	send_udp 3
	wait_for 5 "forwarding without the daemon (from $before encapsulated)" \
		pinned_tx_encap_at_least $((before + 3))
	start_sluiced
	check "flow table intact" [ "$(flows)" -ge "$f" ]
	check "VIP kept its slot" [ "$(ctlj vip show web | jq .id)" = "$vipid" ]
	check "adoption logged" grep -q "adopted 2 VIP" "$SL_LOG"
	check "attached" [ "$(ctlj status | jq '.interfaces[0].attached')" = true ]
	check "the new program shares the pinned clock and epoch" \
		uses_shared_bss "$(ctlj status | jq '.interfaces[0].prog_id')"
}

test_socket_refuses_outsiders() {
	check "socket mode 0660 root:nogroup" [ "$(stat -c '%a %U %G' "$SOCK")" = "660 root nogroup" ]
	check "group member allowed" setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$SLUICECTL" -s "$SOCK" status >/dev/null
	rc=0
	setpriv --reuid=65534 --regid=1 --clear-groups "$SLUICECTL" -s "$SOCK" status \
		>/dev/null 2>"$SL_TMP/err" || rc=$?
	check "outsider refused with exit 3 (got $rc: $(cat "$SL_TMP/err"))" [ "$rc" = 3 ]
}

test_teardown_leaves_nothing() {
	check_teardown lb sl-l0 "$SOCK"
}

sl_main setup
