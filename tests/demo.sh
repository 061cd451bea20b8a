#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# make demo: sluice balancing real TCP and UDP in network namespaces, a backend failing and returning.
. tests/lib.sh
. tests/lab.sh

LAB_TEMPLATE=configs/demo.conf

if [ -t 1 ]; then B=$(printf '\033[1m') N=$(printf '\033[0m'); else B="" N=""; fi
say() { printf '\n%s== %s%s\n' "$B" "$*" "$N"; }
note() { printf '   %s\n' "$*"; }

# Print sl-client's per-backend lines as a small table with bars.
distribution() {
	echo "$1" | awk '
		$1 == "backend" { name[++n] = $2; cnt[n] = $3; total += $3 }
		$1 == "total" { summary = $0 }
		END {
			printf "   %-8s %6s %6s\n", "BACKEND", "COUNT", "SHARE"
			for (i = 1; i <= n; i++) {
				bar = ""
				for (j = 0; j < cnt[i] * 40 / total; j++) bar = bar "#"
				printf "   %-8s %6d %5.1f%%  %s\n", name[i], cnt[i], 100 * cnt[i] / total, bar
			}
			printf "   (%s)\n", summary
		}'
}

# spread ARGS...: sl-client ARGS from client c1, shown as a table.
spread() { distribution "$(lab_client c1 "$@")"; }

say "Building the lab: 2 clients, 1 balancer, 3 backends on one bridge (namespaces $SL_RUN-*)"
note "balancer: sluiced with the XDP program in native mode on its eth0"
note "backends: our XDP decapsulator, the VIPs on lo, sl-server naming itself in every reply"
note "VIPs: 10.210.100.1 (tcp/80, udp/53), fd00:210:100::1 (tcp/80), 10.210.100.2 (tcp/80, source hash)"
if ! lab_up; then
	echo "lab set-up failed; sluiced log:" >&2
	tail -n 30 "$LAB_LOG" >&2
	exit 1
fi
lab_ctl status

say "300 TCP connections to 10.210.100.1:80 from client c1"
spread tcp-spread "$LAB_VIP4:80" --count 300

say "300 UDP requests to 10.210.100.1:53"
spread udp-spread "$LAB_VIP4:53" --count 300

say "100 TCP connections over IPv6 to [fd00:210:100::1]:80"
spread tcp-spread "[$LAB_VIP6]:80" --count 100

say "Source hashing: 100 connections from c1 to 10.210.100.2 all reach one backend"
spread tcp-spread "$LAB_STICKY4:80" --count 100

say "What the balancer counted (sluicectl stats)"
lab_ctl stats
note "Replies went from the backends straight to the client: the balancer only saw client packets."

say "Stopping the server on backend b2 ($(lab_ip4 b2))"
start=$(date +%s%N)
lab_server_stop b2
wait_for 20 "b2 down" lab_state_is web4 "$(lab_ip4 b2)" down
note "health check marked b2 down after $((($(date +%s%N) - start) / 1000000)) ms; its table entries moved to b1 and b3"
lab_ctl backend list web4

say "300 more TCP connections: none fails, none reaches b2"
spread tcp-spread "$LAB_VIP4:80" --count 300

say "Starting b2 again"
lab_server_start b2
lab_wait_healthy 20
lab_ctl health | head -n 4
spread tcp-spread "$LAB_VIP4:80" --count 300

say "Tearing down: sluicectl teardown, then every namespace"
lab_ctl teardown
sl_teardown
trap - EXIT
left=$(ip netns list | grep -c "$SL_RUN" || true)
note "namespaces left: $left; pins left: $(ls -d "$SL_BPFFS" 2>/dev/null | wc -l)"
say "Done."
