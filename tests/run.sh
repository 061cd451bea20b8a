#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Run every test suite (Criterion binaries, then netns scripts); end with a total line.
set -u

BUILD=${1:-build}
passed=0
failed=0
status=0

if [ "$(id -u)" != 0 ]; then
	echo "tests: must run as root (BPF programs, network namespaces)" >&2
	echo "0 passed, 1 failed"
	exit 1
fi

# Add the counts of one Criterion run, read from its Synthesis line.
count_criterion() {
	line=$(grep 'Synthesis:' "$1" | tail -n 1)
	if [ -z "$line" ]; then
		echo "tests: $2 printed no summary (crashed?)" >&2
		failed=$((failed + 1))
		return
	fi
	t=$(echo "$line" | sed -n 's/.*Tested: \([0-9]*\).*/\1/p')
	p=$(echo "$line" | sed -n 's/.*Passing: \([0-9]*\).*/\1/p')
	passed=$((passed + p))
	failed=$((failed + t - p))
}

# Add the counts of a script that ends with "N passed, N failed".
count_plain() {
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
	if [ -z "$line" ]; then
		echo "tests: $2 printed no summary" >&2
		failed=$((failed + 1))
		return
	fi
	p=${line%% passed*}
	f=${line#*passed, }
	f=${f%% failed*}
	passed=$((passed + p))
	failed=$((failed + f))
}

log=$(mktemp)
trap 'rm -f "$log"' EXIT

for suite in unit_tests bpf_tests; do
	bin="$BUILD/tests/$suite"
	if [ ! -x "$bin" ]; then
		echo "tests: $bin is missing" >&2
		failed=$((failed + 1))
		status=1
		continue
	fi
	echo "== $suite"
	"$bin" -j2 2>&1 | tee "$log"
	[ "$(grep -c 'Synthesis:' "$log")" -gt 0 ] || status=1
	count_criterion "$log" "$suite"
done

for script in tests/integration/*.sh; do
	[ -e "$script" ] || continue
	echo "== $script"
	BUILD="$BUILD" sh "$script" </dev/null 2>&1 | tee "$log"
	count_plain "$log" "$script"
done

[ "$failed" -eq 0 ] || status=1
echo "$passed passed, $failed failed"
exit $status
