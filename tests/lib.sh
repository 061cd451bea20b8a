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
