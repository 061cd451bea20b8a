#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Run every benchmark (XDP, control plane, peers), collect the records, write
# bench/results/latest.{json,svg} and the results section of docs/BENCHMARKS.md.
#
#   sh bench/run.sh          (root; `make bench`)   QUICK=1 for the short version
#
# Exit status: non-zero only when a benchmark broke (build failure, a part that
# crashed or printed no records); a missed target prints "target missed" instead.
set -u
cd "$(dirname "$0")/.." || exit 1

BUILD=${BUILD:-build}	# relative to the repository (tests/lib.sh wants it so)
QUICK=${QUICK:-0}
export QUICK
RESULTS=bench/results
DOC=docs/BENCHMARKS.md
case $QUICK in
0 | "") XDP_LIMIT=360 ;;	# seconds the XDP part may take
*) XDP_LIMIT=120 ;;
esac

log() { echo "bench: $*" >&2; }

if [ "$(id -u)" != 0 ]; then
	log "must run as root (BPF programs, network namespaces)"
	exit 1
fi
for tool in jq awk; do
	command -v "$tool" >/dev/null 2>&1 || { log "missing $tool (make deps)"; exit 1; }
done

TMP=$(mktemp -d /tmp/sl-bench.XXXXXX)
CTL_PID=""
# Remove what a crashed ctlbench left: its namespaces are named sl-bench-<pid>-...
cleanup_ctl_ns() {
	[ -n "$CTL_PID" ] || return 0
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^sl-bench-$CTL_PID-"); do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
}
cleanup() {
	[ -n "$CTL_PID" ] && kill "$CTL_PID" 2>/dev/null && sleep 1
	cleanup_ctl_ns
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

BROKEN=0
: >"$TMP/records.jsonl"
: >"$TMP/parts.jsonl"

# part NAME STATUS: remember how a part went (for latest.json and the report).
part() {
	jq -cn --arg n "$1" --arg s "$2" '{name: $n, status: $s}' >>"$TMP/parts.jsonl"
	log "$1: $2"
}

# collect FILE: keep the lines of FILE that are JSON objects with a name. Returns how many.
collect() {
	n=$(jq -cR 'fromjson? | select(type == "object" and has("name"))' "$1" |
		tee -a "$TMP/records.jsonl" | wc -l)
	[ "$n" -gt 0 ]
}

# busy_pct SECONDS: how busy the machine is (all cores, %) with none of our load running.
busy_pct() {
	a=$(head -1 /proc/stat)
	sleep "$1"
	b=$(head -1 /proc/stat)
	echo "$a $b" | awk '{busy = ($13 + $14 + $15 + $18 + $19) - ($2 + $3 + $4 + $7 + $8)
		all = busy + ($16 + $17 + $20) - ($5 + $6 + $9); printf "%.0f\n", (all > 0 ? 100 * busy / all : 0)}'
}

# ---- build ----------------------------------------------------------------------------

log "building"
if ! make --no-print-directory compile BUILD="$BUILD" >"$TMP/build.log" 2>&1 ||
	! make --no-print-directory -C bench/ctl BUILD="$PWD/$BUILD" >>"$TMP/build.log" 2>&1; then
	cat "$TMP/build.log" >&2
	log "build failed"
	exit 1
fi
if ! command -v gnuplot >/dev/null 2>&1; then
	log "installing gnuplot-nox (for the chart)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq gnuplot-nox >/dev/null 2>&1 ||
		{ apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq gnuplot-nox >/dev/null 2>&1; } ||
		log "could not install gnuplot-nox: no chart"
fi

# Anything else running skews every figure; say so (and record it) rather than guess later.
BUSY_BEFORE=$(busy_pct 2)
if [ "$BUSY_BEFORE" -gt 10 ]; then
	log "warning: the machine is ${BUSY_BEFORE}% busy before the run; figures will be low and noisy"
fi

# ---- 1. XDP data path (bench/xdp/run.sh, written separately) ----------------------------

if [ -f bench/xdp/run.sh ]; then
	log "running bench/xdp/run.sh (at most ${XDP_LIMIT}s)"
	BUILD="$PWD/$BUILD" timeout -s TERM -k 10 "$XDP_LIMIT" bash bench/xdp/run.sh >"$TMP/xdp.out"
	rc=$?
	if collect "$TMP/xdp.out"; then recs=yes; else recs=no; fi
	if [ "$rc" = 0 ] && [ $recs = yes ]; then
		part xdp ok
	elif [ "$rc" = 124 ]; then
		part xdp "timed out after ${XDP_LIMIT}s"
		BROKEN=1
	else
		part xdp "failed (exit $rc, records: $recs)"
		BROKEN=1
	fi
else
	part xdp "missing (bench/xdp/run.sh not present)"
fi

# ---- 2. control plane ---------------------------------------------------------------

log "running $BUILD/bench/ctlbench"
"$BUILD/bench/ctlbench" >"$TMP/ctl.out" &
CTL_PID=$!
wait "$CTL_PID"
rc=$?
if collect "$TMP/ctl.out" && [ "$rc" = 0 ]; then
	part ctl ok
else
	part ctl "failed (exit $rc)"
	BROKEN=1
fi
cleanup_ctl_ns	# normally nothing left: ctlbench deletes its namespace
CTL_PID=""

# ---- 3. peers on the lab topology -------------------------------------------------------

log "running bench/peers/run.sh"
BUILD="$BUILD" sh bench/peers/run.sh >"$TMP/peers.out"
rc=$?
if collect "$TMP/peers.out" && [ "$rc" = 0 ]; then
	part peers ok
else
	part peers "failed (exit $rc)"
	BROKEN=1
fi

# ---- results ------------------------------------------------------------------------------

mkdir -p "$RESULTS"
cpu_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
[ -n "$cpu_model" ] || cpu_model=$(uname -m)
if ! jq -n --arg kernel "$(uname -r)" --arg cpu "$cpu_model" --argjson cores "$(nproc)" \
	--arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg quick "$QUICK" \
	--argjson busy "$BUSY_BEFORE" \
	--slurpfile r "$TMP/records.jsonl" --slurpfile p "$TMP/parts.jsonl" \
	'{machine: {kernel: $kernel, cpu_model: $cpu, cores: $cores, date: $date,
		    quick: ($quick != "0" and $quick != ""), busy_before_pct: $busy},
	  parts: $p, results: $r}' >"$RESULTS/latest.json.tmp"; then
	log "writing latest.json failed"
	exit 1
fi
mv "$RESULTS/latest.json.tmp" "$RESULTS/latest.json"
log "wrote $RESULTS/latest.json ($(jq '.results | length' "$RESULTS/latest.json") records)"

# Numbers for humans: whole from 1000 up, else 2 decimals (4 below 1).
JQ_FMT='def f: if . == null then "-" elif type == "number" then
	(if (. | fabs) >= 1000 then (. | round | tostring)
	 elif (. | fabs) >= 1 then ((. * 100 | round) / 100 | tostring)
	 else ((. * 10000 | round) / 10000 | tostring) end) else tostring end;'

# The table, on stdout.
{
	printf 'name\tvalue\tunit\tbaseline\tratio\tmin\tmax\n'
	jq -r "$JQ_FMT"' .results[] | [.name, (.value | f), .unit, (.baseline | f), (.ratio | f),
		(.min | f), (.max | f)] | @tsv' "$RESULTS/latest.json"
} | column -t -s "$(printf '\t')"

# Targets: "lower is better" unless the unit is a rate (ends in /s or pps).
jq -r '.results[] | select(.baseline == "target" and .ratio != null) |
	select(if (.unit | test("/s$|pps$")) then .ratio < 1 else .ratio > 1 end) |
	"target missed: \(.name) = \(.value) \(.unit) (\(.ratio * 100 | round)% of the target)"' \
	"$RESULTS/latest.json"

# ---- chart ----------------------------------------------------------------------------------
# Left: the rate records (units ending in /s or pps) that have a same-run baseline or are
# one, as bars at their median with min..max, per second (Mpps scaled), log scale. Right: every ratio to a baseline
# or target, as a bar from 1 to the ratio, log scale (so 0.5 and 2 are equally long).

jq -r '[.results[] | .baseline] as $bases | .results[] |
	select(.value != null and (.unit | test("/s$|pps$"))) |
	select((.baseline != null and .baseline != "target") or (.name as $n | $bases | index($n))) |
	(if (.unit | test("^M")) then 1e6 elif (.unit | test("^[kK]")) then 1e3 else 1 end) as $k |
	[.name, .value * $k, (.min // .value) * $k, (.max // .value) * $k] | @tsv' \
	"$RESULTS/latest.json" >"$TMP/rates.tsv"
jq -r '.results[] | select(.ratio != null and .ratio > 0) | [.name, .ratio, (.baseline // "")] | @tsv' \
	"$RESULTS/latest.json" >"$TMP/ratios.tsv"
if command -v gnuplot >/dev/null 2>&1 && { [ -s "$TMP/rates.tsv" ] || [ -s "$TMP/ratios.tsv" ]; }; then
	nr=$(wc -l <"$TMP/rates.tsv")
	# log-scale bars start at the power of ten below the smallest minimum
	floor=$(awk -F '\t' 'NR == 1 || $3 < m {m = $3} END {e = 1; while (e * 10 <= m) e *= 10; print e}' \
		"$TMP/rates.tsv")
	nq=$(wc -l <"$TMP/ratios.tsv")
	h=$((300 + 22 * (nr > nq ? nr : nq)))
	gnuplot >"$TMP/gnuplot.log" 2>&1 <<GP
set terminal svg size 1200,$h dynamic font "sans,11" background rgb "white"
set output "$RESULTS/latest.svg.tmp"
set datafile separator "\t"
set multiplot layout 1,2 title "sluice benchmarks - $(uname -r), $(nproc) cores, $(date -u +%Y-%m-%d)"
set termoption noenhanced
set style fill solid 0.6 border -1
set boxwidth 0.6
set grid xtics
set ytics nomirror
set yrange [-0.5:*] reverse
set lmargin 34
set title "rates: median, min..max (log scale)"
set logscale x
set xlabel "per second (packets, requests or connections)"
$(if [ "$nr" -gt 0 ]; then
	echo "set xrange [$floor:*]"
	echo "plot \"$TMP/rates.tsv\" using 2:0:($floor):2:(\$0-0.3):(\$0+0.3):yticlabels(1) with boxxyerror lc rgb \"#4a7ab5\" notitle, \\"
	echo "     \"\" using 2:0:3:4 with xerrorbars lc rgb \"black\" pt 7 ps 0.4 notitle"
else
	echo "set label 1 \"no rate records\" at graph 0.3,0.5; plot 1/0 notitle; unset label 1"
fi)
set title "ratio to the same-run baseline or target (log scale, 1 = equal)"
set xlabel "ratio (value / baseline)"
set xrange [*:*]
set arrow 1 from 1, graph 0 to 1, graph 1 nohead lc rgb "red" dt 2
$(if [ "$nq" -gt 0 ]; then
	echo "plot \"$TMP/ratios.tsv\" using 2:0:(\$2 < 1 ? \$2 : 1):(\$2 < 1 ? 1 : \$2):(\$0-0.3):(\$0+0.3):yticlabels(1) with boxxyerror lc rgb \"#d08c2a\" notitle"
else
	echo "set label 1 \"no ratios\" at graph 0.3,0.5; plot 1/0 notitle"
fi)
unset multiplot
GP
	if [ -s "$RESULTS/latest.svg.tmp" ]; then
		mv "$RESULTS/latest.svg.tmp" "$RESULTS/latest.svg"
		log "wrote $RESULTS/latest.svg"
	else
		rm -f "$RESULTS/latest.svg.tmp"
		log "gnuplot failed, no chart:"
		cat "$TMP/gnuplot.log" >&2
	fi
fi

# ---- docs/BENCHMARKS.md results section ----------------------------------------------------

if grep -q '<!-- results:start -->' "$DOC" && grep -q '<!-- results:end -->' "$DOC"; then
	{
		jq -r '.machine | "Machine: Linux \(.kernel), \(.cpu_model), \(.cores) cores; run \(.date)" +
			(if .quick then " (QUICK=1: fewer trials)" else "" end) +
			"; machine \(.busy_before_pct)% busy before the run" +
			(if .busy_before_pct > 10 then " (other load: figures are low and noisy)" else "" end) + "."' \
			"$RESULTS/latest.json"
		echo
		jq -r '"Parts: " + ([.parts[] | "\(.name) \(.status)"] | join("; ")) + "."' "$RESULTS/latest.json"
		echo
		echo '| name | value | unit | baseline | ratio | min | max |'
		echo '|---|---:|---|---|---:|---:|---:|'
		jq -r "$JQ_FMT"' .results[] | "| \(.name) | \(.value | f) | \(.unit) | \(.baseline | f) | \(.ratio | f) | \(.min | f) | \(.max | f) |"' \
			"$RESULTS/latest.json"
		missed=$(jq -r '.results[] | select(.baseline == "target" and .ratio != null) |
			select(if (.unit | test("/s$|pps$")) then .ratio < 1 else .ratio > 1 end) | .name' \
			"$RESULTS/latest.json")
		if [ -n "$missed" ]; then
			echo
			echo "Targets missed: $(echo "$missed" | paste -sd, - | sed 's/,/, /g')."
		fi
	} >"$TMP/section.md"
	awk -v sec="$TMP/section.md" '
		/<!-- results:start -->/ { print; while ((getline l < sec) > 0) print l; skip = 1; next }
		/<!-- results:end -->/ { skip = 0 }
		!skip' "$DOC" >"$TMP/doc.md" && cat "$TMP/doc.md" >"$DOC"
	log "updated the results section of $DOC"
else
	log "$DOC has no results markers: not updated"
	BROKEN=1
fi

[ "$BROKEN" = 0 ] || log "some part broke (see above)"
exit "$BROKEN"
