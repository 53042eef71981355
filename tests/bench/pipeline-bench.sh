#!/bin/sh
# pipeline-bench.sh - tokens/s of the whole generation loop against lm-step
# driven alone over the same tokens (goal: at least 95%).
#
#   sh tests/bench/pipeline-bench.sh [MODEL] [N_TOKENS] [THREADS] [RUNS] [TOP]
#
# The loop is the porcelain's, lmu_loop of bin/lmutils-sh-setup (tok-encode
# first, untimed):
#   lm-step prompt - < loop | lm-sample --feed /dev/fd/3 3> loop | tee ids
# (lm-sample with --spin when THREADS leaves a CPU free, as lm-run -t does)
# greedy with --ignore-eos, so it generates exactly N tokens, once with
# whole frames and once with top-k frames (lm-step --top TOP, default 40);
# then the loop as typed by hand, with top-k frames, where cat and tee
# are on the loop's path too and lm-step evaluates the last id as well:
#   { cat prompt; cat loop; } | lm-step | lm-sample | tee loop > ids
# Then lm-step alone gets the same batches (the prompt, then each
# generated id but the last as its own batch, all written at once) and
# its frames go to /dev/null: the same evaluation without the feedback,
# the frames' trip through a pipe and the sampling.  The four runs
# alternate, RUNS rounds of them: tokens/s and "of alone" are the best of
# the rounds; "rounds"
# is the median of each round's ratio (the loop against lm-step alone in
# the same round, seconds apart) and their range, which on a shared
# machine says more than the best.  The load average before and after goes with the
# table.  Programs come from $LMU_BIN, else bin/.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
PATH=${LMU_BIN:-$top/bin}:$PATH
prog=pipeline-bench here=${LMU_BIN:-$top/bin}
. "$top/bin/lmutils-sh-setup"
M=${1:-$top/models/smollm2-135m-instruct-q4_1.gguf}
N=${2:-128}
T=${3:-2}
RUNS=${4:-3}
K=${5:-40}
for p in tok-encode lm-step lm-sample; do
	command -v "$p" > /dev/null || { echo "pipeline-bench: $p not built" >&2; exit 1; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pipeline-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
now() { date +%s.%N; }
best() { echo "$1 $2 ${3:-}" | awk '{ d = $2 - $1; if ($3 != "" && $3 < d) d = $3; print d }'; }

tok-encode -m "$M" --chat --user "Write a long story about a lighthouse keeper." > "$tmp/prompt"
np=$(wc -w < "$tmp/prompt")

lmu_tmp=$tmp
lmu_spin_for "$T"  # as the porcelain's -t T does
# loop FRAME_ARGS: one generation loop of the porcelain into $tmp/ids
# shellcheck disable=SC2086 # $frame_args is a list of options
step() { lm-step -m "$M" -t "$T" $frame_args "$@"; }
loop() {
	frame_args=$1
	lmu_loop "$tmp/prompt" step lm-sample -m "$M" --temperature 0 --ignore-eos -n "$N" > /dev/null
	lmu_status || { echo "pipeline-bench: the loop failed" >&2; exit 1; }
	[ "$(wc -l < "$tmp/ids")" = "$N" ] || { echo "pipeline-bench: the loop made $(wc -l < "$tmp/ids") ids, not $N" >&2; exit 1; }
}
# by_hand FRAME_ARGS: the loop as doc/internals.md types it, into $tmp/ids
by_hand() {
	rm -f "$tmp/hand"; mkfifo "$tmp/hand"
	# shellcheck disable=SC2086 # $1 is a list of options
	{ cat "$tmp/prompt"; cat "$tmp/hand"; } | lm-step -m "$M" -t "$T" $1 |
		lm-sample -m "$M" --temperature 0 --ignore-eos -n "$N" | tee "$tmp/hand" > "$tmp/ids"
	[ "$(wc -l < "$tmp/ids")" = "$N" ] || { echo "pipeline-bench: the loop made $(wc -l < "$tmp/ids") ids, not $N" >&2; exit 1; }
}

best_loop="" best_top="" best_hand="" best_alone=""
load0=$(cut -d' ' -f1-3 /proc/loadavg 2> /dev/null || echo '?')
: > "$tmp/ratios"
i=0
while [ "$i" -lt "$RUNS" ]; do
	t0=$(now); loop ""; t1=$(now)
	cp "$tmp/ids" "$tmp/ids.full"
	t2=$(now); loop "--top $K"; t3=$(now)
	cmp -s "$tmp/ids" "$tmp/ids.full" || { echo "pipeline-bench: --top $K changed the ids" >&2; exit 1; }
	t6=$(now); by_hand "--top $K"; t7=$(now)
	cmp -s "$tmp/ids" "$tmp/ids.full" || { echo "pipeline-bench: the loop typed by hand made other ids" >&2; exit 1; }
	# lm-step alone: the same batches; the last id needs no frame, and
	# the loop does not evaluate it (lm-sample does not feed it back)
	head -n $((N - 1)) "$tmp/ids" > "$tmp/feed"
	t4=$(now)
	cat "$tmp/prompt" "$tmp/feed" | lm-step -m "$M" -t "$T" > /dev/null
	t5=$(now)
	awk -v l0="$t0" -v l1="$t1" -v p0="$t2" -v p1="$t3" -v a0="$t4" -v a1="$t5" -v h0="$t6" -v h1="$t7" \
		'BEGIN { print (a1 - a0) / (l1 - l0), (a1 - a0) / (p1 - p0), (a1 - a0) / (h1 - h0) }' >> "$tmp/ratios"
	best_loop=$(best "$t0" "$t1" "$best_loop")
	best_top=$(best "$t2" "$t3" "$best_top")
	best_hand=$(best "$t6" "$t7" "$best_hand")
	best_alone=$(best "$t4" "$t5" "$best_alone")
	i=$((i + 1))
done
echo "model: $(basename "$M"), prompt $np tokens, $N generated, $T threads, $RUNS rounds," \
	"load average $load0 before, $(cut -d' ' -f1-3 /proc/loadavg 2> /dev/null || echo '?') after"
printf '%-40s %10s %10s %9s %20s\n' "" "seconds" "tokens/s" "of alone" "rounds (range)"
# the median and the range of column $1 of the ratios, in percent
spread() { sort -g -k "$1" "$tmp/ratios" | awk -v c="$1" '{ r[NR] = $c }
	END { m = NR % 2 ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2
	      printf "%.1f%% (%.0f-%.0f)", 100 * m, 100 * r[1], 100 * r[NR] }'; }
awk -v a="$best_alone" -v l="$best_loop" -v t="$best_top" -v h="$best_hand" -v n="$N" -v k="$K" \
    -v sl="$(spread 1)" -v st="$(spread 2)" -v sh="$(spread 3)" 'BEGIN {
	printf "%-40s %10.3f %10.1f\n", "lm-step alone (prompt + ids)", a, n / a
	printf "%-40s %10.3f %10.1f %8.1f%% %20s\n", "loop, whole frames", l, n / l, 100 * a / l, sl
	printf "%-40s %10.3f %10.1f %8.1f%% %20s\n", "loop, top-k frames (lm-step --top " k ")", t, n / t, 100 * a / t, st
	printf "%-40s %10.3f %10.1f %8.1f%% %20s\n", "loop typed by hand (cat, tee), top-k", h, n / h, 100 * a / h, sh }'
