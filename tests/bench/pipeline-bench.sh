#!/bin/sh
# pipeline-bench.sh - tokens/s of the whole generation loop against lm-step
# driven alone over the same tokens (goal: at least 95%).
#
#   sh tests/bench/pipeline-bench.sh [MODEL] [N_TOKENS] [THREADS] [ROUNDS] [TOP]
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
# Against lm-step alone fed the same batches (the prompt, then each
# generated id but the last as its own batch, all written at once), its
# frames to /dev/null: the same evaluation without the feedback, the
# frames' trip through a pipe and the sampling.
#
# The host's own speed drifts by several percent within seconds (other
# virtual machines, the clock), more than the 5 % being measured, so each
# loop run is timed between two runs of lm-step alone, and its ratio is
# the mean of those two against it: drift that is linear over the three
# runs cancels, whichever way it goes.  A round is alone, top-k, alone,
# whole frames, alone, by hand, alone (each alone run serves the loop
# before and the loop after it); the whole-frame loop (for the ids),
# lm-step alone and the top-k loop run once first, untimed (page cache,
# first faults).  "of alone" is the median
# of a kind's ROUNDS ratios (with their range), not the best of each side
# (two extremes taken apart, each at another moment); "seconds" is the
# median of the kind's runs.  The load average before and after goes with
# the table.  Programs come from $LMU_BIN, else bin/.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
PATH=${LMU_BIN:-$top/bin}:$PATH
prog=pipeline-bench here=${LMU_BIN:-$top/bin}
. "$top/bin/lmutils-sh-setup"
M=${1:-$top/models/smollm2-135m-instruct-q4_1.gguf}
N=${2:-128}
T=${3:-2}
RUNS=${4:-5}
K=${5:-40}
for p in tok-encode lm-step lm-sample; do
	command -v "$p" > /dev/null || { echo "pipeline-bench: $p not built" >&2; exit 1; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pipeline-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
now() { date +%s.%N; }

tok-encode -m "$M" --chat --user "Write a long story about a lighthouse keeper." > "$tmp/prompt"
np=$(wc -w < "$tmp/prompt")

lmu_tmp=$tmp
lmu_spin_for "$T"  # as the porcelain's -t T does
# The timed commands run the loop and nothing else (each program the
# shell runs is a fork and an exec, a millisecond or more on a busy
# machine): loop_run checks the ids after the clock has stopped.
# loop FRAME_ARGS: one generation loop of the porcelain into $tmp/ids
# shellcheck disable=SC2086 # $frame_args is a list of options
step() { lm-step -m "$M" -t "$T" $frame_args "$@"; }
loop() {
	frame_args=$1
	lmu_loop "$tmp/prompt" step lm-sample -m "$M" --temperature 0 --ignore-eos -n "$N" > /dev/null
	lmu_status || { echo "pipeline-bench: the loop failed" >&2; exit 1; }
}
# by_hand FRAME_ARGS: the loop as doc/internals.md types it, into $tmp/ids
mkfifo "$tmp/hand"
by_hand() {
	# shellcheck disable=SC2086 # $1 is a list of options
	{ cat "$tmp/prompt"; cat "$tmp/hand"; } | lm-step -m "$M" -t "$T" $1 |
		lm-sample -m "$M" --temperature 0 --ignore-eos -n "$N" | tee "$tmp/hand" > "$tmp/ids"
}

load0=$(cut -d' ' -f1-3 /proc/loadavg 2> /dev/null || echo '?')
# untimed: the ids, the feed of lm-step alone, a run of each
loop ""
[ "$(wc -l < "$tmp/ids")" = "$N" ] || { echo "pipeline-bench: the loop made $(wc -l < "$tmp/ids") ids, not $N" >&2; exit 1; }
cp "$tmp/ids" "$tmp/ids.full"
# the last id needs no frame, and the loop does not evaluate it
# (lm-sample does not feed it back)
head -n $((N - 1)) "$tmp/ids" > "$tmp/feed"
alone() { cat "$tmp/prompt" "$tmp/feed" | lm-step -m "$M" -t "$T" > /dev/null; }
alone
loop "--top $K"
# timed KIND COMMAND...: run COMMAND, its seconds go to $tmp/secs.KIND
# and to $secs
timed() {
	_kind=$1
	shift
	_t0=$(now); "$@"; _t1=$(now)
	secs=$(echo "$_t0 $_t1" | awk '{ print $2 - $1 }')
	echo "$secs" >> "$tmp/secs.$_kind"
}
# loop_run KIND COMMAND...: a loop run of KIND, then lm-step alone; the
# ratio of KIND is the mean of the alone runs before ($before) and after
# it against the loop's seconds
loop_run() {
	_k=$1
	shift
	timed "$_k" "$@"
	cmp -s "$tmp/ids" "$tmp/ids.full" || { echo "pipeline-bench: the $_k loop made other ids" >&2; exit 1; }
	_loop=$secs
	timed alone alone
	echo "$before $secs $_loop" | awk '{ print ($1 + $2) / 2 / $3 }' >> "$tmp/ratio.$_k"
	before=$secs
}
: > "$tmp/secs.alone"; : > "$tmp/secs.top"; : > "$tmp/secs.full"; : > "$tmp/secs.hand"
: > "$tmp/ratio.top"; : > "$tmp/ratio.full"; : > "$tmp/ratio.hand"
timed alone alone
before=$secs
i=0
while [ "$i" -lt "$RUNS" ]; do
	loop_run top loop "--top $K"
	loop_run full loop ""
	loop_run hand by_hand "--top $K"
	i=$((i + 1))
done
echo "model: $(basename "$M"), prompt $np tokens, $N generated, $T threads, $RUNS rounds," \
	"load average $load0 before, $(cut -d' ' -f1-3 /proc/loadavg 2> /dev/null || echo '?') after"
# median FILE: the median of FILE's numbers; range FILE: their least and
# greatest, in percent
median() { sort -g "$1" | awk '{ r[NR] = $1 } END { print NR % 2 ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2 }'; }
range() { sort -g "$1" | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "(%.0f-%.0f)", 100 * lo, 100 * hi }'; }
printf '%-40s %10s %10s %9s %10s\n' "" "seconds" "tokens/s" "of alone" "range"
row() {
	awk -v name="$1" -v s="$(median "$tmp/secs.$2")" -v n="$N" -v r="${3:+$(median "$tmp/ratio.$2")}" \
	    -v range="${3:+$(range "$tmp/ratio.$2")}" 'BEGIN {
		if (r == "") printf "%-40s %10.3f %10.1f\n", name, s, n / s
		else printf "%-40s %10.3f %10.1f %8.1f%% %10s\n", name, s, n / s, 100 * r, range }'
}
row "lm-step alone (prompt + ids)" alone
row "loop, whole frames" full 1
row "loop, top-k frames (lm-step --top $K)" top 1
row "loop typed by hand (cat, tee), top-k" hand 1
