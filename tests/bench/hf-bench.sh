#!/bin/bash
# hf-bench.sh - a model directory run with lm-step -q against the GGUF file
# of the same quantization, side by side, in one run (issue 12).  Not part
# of `make test`.
#
#   tests/bench/hf-bench.sh [-r REPS] [NAME...]
#
# NAME is a model of `make hfdirs` (default: every one there, in
# $HFDIRS, default tests/ref/cache).  For each it runs lm-step at 1 thread
# on
#   dir bf16          the bfloat16 directory as it is
#   dir bf16 -q Q8_0  the same, quantized to Q8_0 at load
#   gguf Q8_0 (lm-convert)      lm-convert -q Q8_0 of the bfloat16 directory
#   gguf Q8_0 (llama-quantize)  llama.cpp's Q8_0 of the float32 directory
#                     converted by lm-convert, when a build of
#                     build-llama-cpp.sh (or LLAMA_QUANTIZE) is there
# and prints
#   load   wall and CPU seconds of a run on empty input: mapping, checking,
#          and for -q quantizing every matrix;
#   decode tokens per CPU-second: 128 / (CPU(144 single-id batches) -
#          CPU(16)), a difference of two whole runs, so that loading and
#          start-up cancel.
# CPU time (user + system, /usr/bin/time), not wall time: the figure that
# survives a machine shared with other jobs, where wall time measures the
# run queue.  REPS (default 3) repetitions, the variants alternating; the
# table gives the median load (-q's varies with the kernel's work to find
# huge pages) and the best decode (the least disturbed by the neighbours'
# use of the caches).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cache=$here/cache
dirs=${HFDIRS:-$top/tests/ref/cache}
reps=3
while [ $# -gt 0 ]; do
	case $1 in
	-r) reps=$2; shift 2 ;;
	*) break ;;
	esac
done
if [ $# -eq 0 ]; then
	for d in "$dirs"/*-bf16; do
		[ -d "$d" ] && set -- "$@" "$(basename "$d" -bf16)"
	done
fi
[ $# -gt 0 ] || { echo "hf-bench: no model directories in $dirs (make hfdirs)" >&2; exit 1; }
make -s -C "$top" >&2
mkdir -p "$cache"
lmstep=$top/bin/lm-step
quantize=${LLAMA_QUANTIZE:-}
[ -n "$quantize" ] || for q in "$cache"/llama-noamx/bin/llama-quantize "$cache"/llama.cpp-build*/bin/llama-quantize; do
	[ -x "$q" ] && { quantize=$q; break; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 - "$tmp" <<'PY'
import random, sys
r = random.Random(1)
for n in (16, 144):
    open(f"{sys.argv[1]}/decode{n}.txt", "w").write("".join(f"{r.randrange(100, 40000)}\n" for _ in range(n)))
PY
: > "$tmp/empty.txt"

run() { # input model [options] -> "wall cpu" seconds
	local in=$1
	shift
	/usr/bin/time -f "%e %U %S" -o "$tmp/t" "$lmstep" -t 1 -m "$@" < "$in" > /dev/null 2>&1 ||
		{ echo "hf-bench: failed: lm-step -m $*" >&2; exit 1; }
	awk '{ print $1, $2 + $3 }' "$tmp/t"
}

printf '# machine: %s, %s CPUs, load average %s; lm-step kernels: %s; 1 thread, %s runs each\n\n' \
	"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" "$(nproc)" \
	"$(cut -d' ' -f1-3 /proc/loadavg)" \
	"$("$lmstep" -m "$dirs/$1-bf16" -v < /dev/null 2>&1 >/dev/null | sed -n 's/.*kernels \([^,]*\),.*/\1/p')" "$reps"
echo '| model | weights | load wall s | load CPU s | decode tok/CPU-s |'
echo '| --- | --- | ---: | ---: | ---: |'
for name in "$@"; do
	bf16=$dirs/$name-bf16 f32=$dirs/$name-f32
	q8=$cache/$name-q8_0.gguf
	[ -f "$q8" ] || "$top/bin/lm-convert" -q Q8_0 "$bf16" "$q8"
	labels=("dir bf16" "dir bf16 -q Q8_0" "gguf Q8_0 (lm-convert)")
	models=("$bf16" "$bf16 -q Q8_0" "$q8")
	if [ -n "$quantize" ] && [ -d "$f32" ]; then
		lq8=$cache/$name-q8_0-llama.gguf
		if [ ! -f "$lq8" ]; then
			"$top/bin/lm-convert" "$f32" "$cache/$name-f32.gguf"
			"$quantize" "$cache/$name-f32.gguf" "$lq8" Q8_0 >/dev/null 2>&1
			rm -f "$cache/$name-f32.gguf"
		fi
		labels+=("gguf Q8_0 (llama-quantize)")
		models+=("$lq8")
	fi
	: > "$tmp/runs"
	for i in $(seq "$reps"); do
		for k in "${!models[@]}"; do
			# shellcheck disable=SC2086 # the model and its options
			echo "$k $(run "$tmp/empty.txt" ${models[$k]}) $(run "$tmp/decode16.txt" ${models[$k]}) \
				$(run "$tmp/decode144.txt" ${models[$k]})" >> "$tmp/runs"
		done
	done
	# per variant: the median load (wall, CPU), the most tokens per CPU-second
	for k in "${!models[@]}"; do
		awk -v k="$k" -v name="$name" -v label="${labels[$k]}" '
			function median(a, n,   i, j, t) {
				for (i = 2; i <= n; i++)
					for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
				return a[int((n + 1) / 2)]
			}
			$1 == k {
				n++; w[n] = $2; c[n] = $3
				d = $7 - $5; if (d > 0 && 128 / d > r) r = 128 / d
			}
			END { printf "| %s | %s | %.3f | %.3f | %.1f |\n", name, label, median(w, n), median(c, n), r }' "$tmp/runs"
	done
done
