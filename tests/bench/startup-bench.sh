#!/bin/bash
# startup-bench.sh - time from exec to the first logits frame for a
# 1-token prompt, lm-step against llama.cpp's llama-simple (the smallest
# program that loads a model, evaluates a prompt and samples one token),
# side by side in one run; the page cache is warm (each program runs once
# untimed first).  Not part of make test.
#
#   tests/bench/startup-bench.sh [-r REPS] [MODEL...]
#
# Per model, best and median wall time of REPS (default 11) runs, and the
# best CPU time (perf stat's task-clock, children included; the wall time
# includes perf's own start): on a machine shared by many jobs the wall time is mostly
# the wait for a core, the CPU time is the work.
#   lm-step, no input    exec, model opened and checked, threads, exit:
#                        everything before the model's own work
#   lm-step, 1 token     the same plus one position evaluated and its frame
#                        written (echo 1 | lm-step)
#   loop, 1 token        tok-encode | lm-step | lm-sample -n 1: the first id
#                        of a generation from a one-word prompt
#   tok-encode alone     the tokenizer's share of that
#   llama-simple         llama-simple -n 1 on a one-word prompt: load,
#                        evaluate, sample and print one token (it has no
#                        thread option: llama.cpp's default of 4 threads)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
reps=11
if [ "${1:-}" = -r ]; then reps=$2; shift 2; fi
[ $# -gt 0 ] || set -- "$top/models/smollm2-135m-instruct-q4_1.gguf"
make -s -C "$top" >&2
lmbin=$(sh "$here/build-llama-cpp.sh" native llama-simple)
PATH=$top/bin:$PATH

# run CMD... REPS times; print "best-wall median-wall best-cpu" in ms
timeit() {
	local i w t0 t1
	"$@" > /dev/null 2>&1 || { echo "startup-bench: failed: $*" >&2; exit 1; }
	for ((i = 0; i < reps; i++)); do
		t0=$EPOCHREALTIME
		perf stat -x, -e task-clock -o "$tmp" -- "$@" > /dev/null 2>&1
		t1=$EPOCHREALTIME
		echo "$t0 $t1 $(awk -F, '$3 == "task-clock" || $3 ~ /^task-clock/ { print $1 }' "$tmp")"
	done > "$tmp.all"
	w=$(awk '{ printf "%.1f\n", ($2 - $1) * 1000 }' "$tmp.all" | sort -g | awk '{ a[NR] = $1 } END { print a[1], a[int((NR + 1) / 2)] }')
	echo "$w $(awk '{ printf "%.1f\n", $3 }' "$tmp.all" | sort -g | head -n 1)"
}
tmp=$(mktemp -u)
trap 'rm -f "$tmp" "$tmp.all"' EXIT
command -v perf > /dev/null || { echo "startup-bench: perf is needed (apt-get install linux-perf)" >&2; exit 1; }

printf '# machine: %s, %s CPUs, load average %s; %s repetitions, warm page cache\n\n' \
	"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" "$(nproc)" \
	"$(cut -d' ' -f1-3 /proc/loadavg)" "$reps"
printf '| model | what | best wall ms | median wall ms | best CPU ms |\n| --- | --- | ---: | ---: | ---: |\n'
for m in "$@"; do
	name=$(basename "$m" .gguf)
	row() { printf '| %s | %s | %s | %s | %s |\n' "$name" "$1" $2; }
	row "lm-step, no input (start-up alone)" "$(timeit sh -c "lm-step -m '$m' -t 1 < /dev/null")"
	row "lm-step, 1 token to its frame" "$(timeit sh -c "echo 1 | lm-step -m '$m' -t 1")"
	row "tok-encode \\| lm-step \\| lm-sample -n 1" \
		"$(timeit sh -c "tok-encode -m '$m' Hello | lm-step -m '$m' -t 1 | lm-sample -m '$m' -n 1")"
	row "tok-encode alone" "$(timeit tok-encode -m "$m" Hello)"
	row "llama-simple -n 1" "$(timeit "$lmbin/llama-simple" -m "$m" -n 1 Hello)"
done
