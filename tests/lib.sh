# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Shell library for the netns tests: unique names, teardown on exit, waits, counting.
# Source it, define test_* functions, then call `t_main`.

# Every name this run creates starts with $SL_RUN, so teardown finds them all.
SL_RUN="sl-$$$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')"
SL_TMP=$(mktemp -d "/tmp/$SL_RUN.XXXXXX")
SL_BPFFS="/sys/fs/bpf/$SL_RUN"
BUILD=${BUILD:-build}
SLUICED="$PWD/$BUILD/sluiced"
SLUICECTL="$PWD/$BUILD/sluicectl"
SLUICE_BACKEND="$PWD/$BUILD/sluice-backend"
SL_LOG="$SL_TMP/sluiced.log"	# sluiced's output, shown when a suite fails
T_PASSED=0
T_FAILED=0

# Remove every namespace, pin, process and file of this run. Idempotent.
sl_teardown() {
	if command -v sl_teardown_hook >/dev/null 2>&1; then
		sl_teardown_hook
	fi
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$SL_RUN" || true); do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "$SL_BPFFS"* 2>/dev/null
	rm -rf "$SL_TMP"
}
trap sl_teardown EXIT
trap 'exit 130' INT TERM

# Make namespace $SL_RUN-$1.
sl_ns_add() {
	ip netns add "$SL_RUN-$1" && ip -n "$SL_RUN-$1" link set lo up
}

# Run a command in namespace $1 without remounting /sys (ip netns exec would
# give it a private bpffs whose pins vanish with it).
sl_in() {
	ns="$SL_RUN-$1"
	shift
	nsenter --net="/var/run/netns/$ns" "$@"
}

# wait_for SECONDS DESCRIPTION COMMAND...: poll until COMMAND succeeds.
wait_for() {
	limit=$1
	desc=$2
	shift 2
	end=$(($(date +%s%N) / 1000000 + limit * 1000))
	while ! "$@" >/dev/null 2>&1; do
		if [ $(($(date +%s%N) / 1000000)) -ge "$end" ]; then
			echo "timed out after ${limit}s waiting for: $desc" >&2
			return 1
		fi
		sleep 0.05
	done
}

# Returns true once process $1 is gone (for wait_for).
is_gone() {
	! kill -0 "$1" 2>/dev/null
}

# sl_sluiced_start NS CONF SOCKET: start sluiced -v in namespace NS (output
# appended to $SL_LOG) and wait until it answers on SOCKET.
sl_sluiced_start() {
	# nsenter execs sluiced, so $! is sluiced itself.
	nsenter --net="/var/run/netns/$SL_RUN-$1" "$SLUICED" -c "$2" -v >>"$SL_LOG" 2>&1 &
	echo $! >"$SL_TMP/sluiced.pid"
	wait_for 10 "sluiced answers on $3" "$SLUICECTL" -s "$3" status
}

# The pid of the sluiced sl_sluiced_start started last.
sl_sluiced_pid() { cat "$SL_TMP/sluiced.pid"; }

# Fail the current test with a message.
fail() {
	echo "    FAIL: $*" >&2
	return 1
}

# check DESCRIPTION COMMAND...: the command must succeed.
check() {
	desc=$1
	shift
	"$@" || fail "$desc"
}

# check_between DESCRIPTION VALUE MIN MAX: MIN <= VALUE <= MAX.
check_between() {
	[ "$2" -ge "$3" ] && [ "$2" -le "$4" ] || fail "$1: $2 not in $3..$4"
}

# check_teardown NS DEV SOCKET: `sluicectl teardown` makes sluiced exit and
# leaves no XDP program on DEV in namespace NS, no pins and no socket.
check_teardown() {
	pid=$(sl_sluiced_pid)
	"$SLUICECTL" -s "$3" teardown
	wait_for 10 "sluiced exits" is_gone "$pid"
	check "no program on $2" sh -c "! ip -n $SL_RUN-$1 link show $2 | grep -q prog/xdp"
	check "no pins" [ ! -e "$SL_BPFFS" ]
	check "no socket" [ ! -e "$3" ]
}

# Run test function $1 in a subshell with errexit; count the result. (Not
# as an `if` condition: errexit is ignored there, even in a subshell.)
t_run() {
	echo "--- $1"
	(set -e; "$1")
	rc=$?
	if [ "$rc" -eq 0 ]; then
		echo "PASS $1"
		T_PASSED=$((T_PASSED + 1))
	else
		echo "FAIL $1"
		T_FAILED=$((T_FAILED + 1))
	fi
}

# Run every test_* function defined by the sourcing script, in order, then the summary.
t_main() {
	for t in $(grep -o '^test_[a-z0-9_]*' "$0"); do
		t_run "$t"
	done
	echo "$T_PASSED passed, $T_FAILED failed"
	[ "$T_FAILED" -eq 0 ]
}

# A test script's main: run SETUP, then t_main; exit with the verdict and
# show sluiced's log when anything failed.
sl_main() {
	if ! "$1"; then
		echo "set-up failed; sluiced log:" >&2
		tail -n 30 "$SL_LOG" >&2
		echo "0 passed, 1 failed"
		exit 1
	fi
	t_main
	rc=$?
	[ $rc -eq 0 ] || { echo "--- sluiced log"; tail -n 40 "$SL_LOG"; }
	exit $rc
}
