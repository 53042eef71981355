#!/bin/sh
# pipeline-bench.sh - tokens/s of the whole generation loop against lm-step
# driven alone over the same tokens (goal: at least 95%).
#
#   sh tests/bench/pipeline-bench.sh [MODEL] [N_TOKENS] [THREADS] [RUNS] [TOP]
#
# The loop is doc/internals.md's (tok-encode first, untimed):
#   { cat prompt; cat loop; } | lm-step | lm-sample | tee loop > ids
# greedy with --ignore-eos, so it generates exactly N tokens, once with
# whole frames and once with top-k frames (lm-step --top TOP, default 40).
# Then lm-step alone gets the same batches (the prompt, then each
# generated id as its own batch, all written at once) and its frames go
# to /dev/null: the same evaluation without the feedback, the frames' trip
# through a pipe and the sampling.  The three runs alternate; each figure
# is the best of RUNS.  Programs come from $LMU_BIN, else bin/.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
PATH=${LMU_BIN:-$top/bin}:$PATH
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

# loop FRAME_ARGS: one generation loop into $tmp/ids
loop() {
	rm -f "$tmp/loop"; mkfifo "$tmp/loop"
	# shellcheck disable=SC2086 # $1 is a list of options
	{ cat "$tmp/prompt"; cat "$tmp/loop"; } | lm-step -m "$M" -t "$T" $1 |
		lm-sample -m "$M" --temperature 0 --ignore-eos -n "$N" | tee "$tmp/loop" > "$tmp/ids"
	[ "$(wc -l < "$tmp/ids")" = "$N" ] || { echo "pipeline-bench: the loop made $(wc -l < "$tmp/ids") ids, not $N" >&2; exit 1; }
}

best_loop= best_top= best_alone=
i=0
while [ "$i" -lt "$RUNS" ]; do
	t0=$(now); loop ""; t1=$(now)
	cp "$tmp/ids" "$tmp/ids.full"
	t2=$(now); loop "--top $K"; t3=$(now)
	cmp -s "$tmp/ids" "$tmp/ids.full" || { echo "pipeline-bench: --top $K changed the ids" >&2; exit 1; }
	# lm-step alone: the same batches; the last id needs no frame in the
	# loop (lm-sample has stopped), so it is left out here too
	head -n $((N - 1)) "$tmp/ids" > "$tmp/feed"
	t4=$(now)
	cat "$tmp/prompt" "$tmp/feed" | lm-step -m "$M" -t "$T" > /dev/null
	t5=$(now)
	best_loop=$(best "$t0" "$t1" "$best_loop")
	best_top=$(best "$t2" "$t3" "$best_top")
	best_alone=$(best "$t4" "$t5" "$best_alone")
	i=$((i + 1))
done
echo "model: $(basename "$M"), prompt $np tokens, $N generated, $T threads, best of $RUNS"
printf '%-40s %10s %10s %12s\n' "" "seconds" "tokens/s" "of alone"
awk -v a="$best_alone" -v l="$best_loop" -v t="$best_top" -v n="$N" -v k="$K" 'BEGIN {
	printf "%-40s %10.3f %10.1f\n", "lm-step alone (prompt + ids)", a, n / a
	printf "%-40s %10.3f %10.1f %11.1f%%\n", "loop, whole frames", l, n / l, 100 * a / l
	printf "%-40s %10.3f %10.1f %11.1f%%\n", "loop, top-k frames (lm-step --top " k ")", t, n / t, 100 * a / t }'
