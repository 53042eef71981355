#!/bin/sh
# pipeline-bench.sh - tokens/s of the whole generation loop against lm-step
# driven alone over the same tokens (issue 5: goal at least 95%).
#
#   sh tests/bench/pipeline-bench.sh [MODEL] [N_TOKENS] [THREADS] [RUNS]
#
# The loop is the one of doc/internals.md (tok-encode first, untimed):
#   { cat prompt; cat loop; } | lm-step | lm-sample | tee loop > ids
# greedy with --ignore-eos, so it generates exactly N tokens.  Then lm-step
# alone gets the same batches (the prompt, then each generated id as its
# own batch, all written at once) and its frames go to /dev/null: the same
# evaluation without the feedback, the frames' trip through a pipe and the
# sampling.  Each figure is the best of RUNS.  Programs come from $LMU_BIN, else bin/.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
PATH=${LMU_BIN:-$top/bin}:$PATH
M=${1:-$top/models/smollm2-135m-instruct-q4_1.gguf}
N=${2:-128}
T=${3:-2}
RUNS=${4:-3}
for p in tok-encode lm-step lm-sample; do
	command -v "$p" > /dev/null || { echo "pipeline-bench: $p not built" >&2; exit 1; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pipeline-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
now() { date +%s.%N; }

tok-encode -m "$M" --chat --user "Write a long story about a lighthouse keeper." > "$tmp/prompt"
np=$(wc -w < "$tmp/prompt")

best_loop= best_alone=
i=0
while [ "$i" -lt "$RUNS" ]; do
	rm -f "$tmp/loop"; mkfifo "$tmp/loop"
	t0=$(now)
	{ cat "$tmp/prompt"; cat "$tmp/loop"; } | lm-step -m "$M" -t "$T" |
		lm-sample -m "$M" --temperature 0 --ignore-eos -n "$N" | tee "$tmp/loop" > "$tmp/ids"
	t1=$(now)
	[ "$(wc -l < "$tmp/ids")" = "$N" ] || { echo "pipeline-bench: the loop made $(wc -l < "$tmp/ids") ids, not $N" >&2; exit 1; }
	# lm-step alone: the same batches; the last id needs no frame in the
	# loop (lm-sample has stopped), so it is left out here too
	head -n $((N - 1)) "$tmp/ids" > "$tmp/feed"
	t2=$(now)
	cat "$tmp/prompt" "$tmp/feed" | lm-step -m "$M" -t "$T" > /dev/null
	t3=$(now)
	best_loop=$(echo "$t0 $t1 ${best_loop:-}" | awk '{ d = $2 - $1; if ($3 == "" || d < $3) d = d; else d = $3; print d }')
	best_alone=$(echo "$t2 $t3 ${best_alone:-}" | awk '{ d = $2 - $1; if ($3 == "" || d < $3) d = d; else d = $3; print d }')
	i=$((i + 1))
done
echo "model: $(basename "$M"), prompt $np tokens, $N generated, $T threads, best of $RUNS"
printf '%-34s %10s %10s\n' "" "seconds" "tokens/s"
awk -v a="$best_alone" -v l="$best_loop" -v n="$N" 'BEGIN {
	printf "%-34s %10.3f %10.1f\n", "lm-step alone (prompt + ids)", a, n / a
	printf "%-34s %10.3f %10.1f\n", "whole loop (lm-step|lm-sample|tee)", l, n / l
	printf "%-34s %10s %9.1f%%\n", "loop / alone", "", 100 * a / l }'
