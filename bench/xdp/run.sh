#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# XDP data-plane benchmark: two namespaces joined by a veth pair, a live-frame
# generator on one side, the program under test (native XDP, XDP_TX back) on
# the other. JSON lines on stdout, a table on stderr. See docs/BENCH-XDP.md.
#
#   bench/xdp/run.sh [xdpbench options]     about 2 minutes
#   QUICK=1 bench/xdp/run.sh                under a minute, fewer/shorter trials
#   GEN_CPU=N      core for the generator, and so for the forwarding (default 1)
#   NAPI_CPU=N     run the LB side's NAPI in a kernel thread pinned to core N
#                  instead (two-core mode; see the doc for why it is not the default)
set -eu

TOP=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$TOP/build}
NS="sl-bench-$$"
GEN_NS="$NS-gen"
LB_NS="$NS-lb"
GEN_CPU=${GEN_CPU:-1}
NAPI_CPU=${NAPI_CPU:-}
BENCH_PID=""

# Remove what this run made: the benchmark process, then the namespaces
# (which takes the veth pair and its XDP programs with them). Idempotent.
cleanup() {
	if [ -n "$BENCH_PID" ] && kill -0 "$BENCH_PID" 2>/dev/null; then
		kill "$BENCH_PID" 2>/dev/null || true
		sleep 0.2
		kill -9 "$BENCH_PID" 2>/dev/null || true
	fi
	for ns in "$GEN_NS" "$LB_NS"; do
		if ip netns list 2>/dev/null | grep -qw "^$ns"; then
			ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
			ip netns del "$ns" 2>/dev/null || true
		fi
	done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$(id -u)" != 0 ]; then
	echo "run.sh: needs root (namespaces, XDP)" >&2
	exit 1
fi
ncpu=$(nproc)
if [ "$GEN_CPU" -ge "$ncpu" ] || { [ -n "$NAPI_CPU" ] && [ "$NAPI_CPU" -ge "$ncpu" ]; }; then
	echo "run.sh: GEN_CPU/NAPI_CPU must be below $ncpu" >&2
	exit 1
fi

# Build what is missing (the top-level build first: libsluice.a, the skeleton).
if [ ! -e "$BUILD/libsluice.a" ] || [ ! -e "$BUILD/sluice.skel.h" ]; then
	make -s -C "$TOP" compile BUILD="$BUILD" >&2
fi
make -s -C "$TOP/bench/xdp" BUILD="$BUILD" >&2

if [ -n "${QUICK:-}" ] && [ "${QUICK}" != 0 ]; then
	args="--trials 5 --warmup 150 --window 300 --cost-repeat 500000"
	limit=100
else
	args="--trials 9 --warmup 200 --window 600 --cost-repeat 2000000"
	limit=280
fi

ip netns add "$GEN_NS"
ip netns add "$LB_NS"
ip -n "$GEN_NS" link add xbg type veth peer name xbl netns "$LB_NS"
for ns in "$GEN_NS" "$LB_NS"; do
	ip -n "$ns" link set lo up
done
ip -n "$GEN_NS" link set xbg up
ip -n "$LB_NS" link set xbl up

if [ -n "$NAPI_CPU" ]; then
	# A NAPI instance exists only while XDP is attached: attach a pass program,
	# make the NAPI threaded and pin its thread; xdpbench then replaces the
	# program (which keeps the NAPI and its thread).
	ip -n "$LB_NS" link set dev xbl xdpdrv obj "$BUILD/xdp_pass.bpf.o" sec xdp
	ip netns exec "$LB_NS" sh -c 'echo 1 > /sys/class/net/xbl/threaded'
	tid=$(pgrep -x 'napi/xbl-.*' | head -n1)
	taskset -pc "$NAPI_CPU" "$tid" >/dev/null
	set -- --napi-cpu "$NAPI_CPU" "$@"
fi

echo "run.sh: namespaces $GEN_NS, $LB_NS; generator on CPU $GEN_CPU" \
     "${NAPI_CPU:+, LB NAPI thread on CPU $NAPI_CPU}" >&2
# shellcheck disable=SC2086
timeout --signal=TERM --kill-after=10 "$limit" \
	ip netns exec "$LB_NS" "$BUILD/bench/xdpbench" --gen-ns "$GEN_NS" \
	--lb-if xbl --gen-if xbg --gen-cpu "$GEN_CPU" --cost-cpu "$GEN_CPU" $args "$@" &
BENCH_PID=$!
wait "$BENCH_PID"
