#!/bin/bash
# hf-bench.sh - a model directory run with lm-step -q against the GGUF file
# of the same quantization, side by side, in one run (issue 12).  Not part
# of `make test`.
#
#   tests/bench/hf-bench.sh [-r REPS] [-t "1 2"] [NAME...]
#
# NAME is a model of `make hfdirs` (default: every one there, in
# $HFDIRS, default tests/ref/cache).  For each, and 1 and 2 threads, it
# prints the load time (a run on empty input: opening, checking, and for -q
# quantizing) and the decode speed (128 single-token batches from an empty
# context; tokens/s = 128 / (t(run) - t(load))) of:
#   dir bf16          the bfloat16 directory as it is
#   dir bf16 -q Q8_0  the same, quantized to Q8_0 at load
#   gguf Q8_0         lm-convert -q Q8_0 of the bfloat16 directory
#   gguf Q8_0 (llama-quantize)  llama.cpp's Q8_0 of the float32 directory
#                     converted by lm-convert, when a llama.cpp build is there
# Timings are medians over REPS (default 5) runs of whole processes.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cache=$here/cache
dirs=${HFDIRS:-$top/tests/ref/cache}
reps=5
threads="1 2"
while [ $# -gt 0 ]; do
	case $1 in
	-r) reps=$2; shift 2 ;;
	-t) threads=$2; shift 2 ;;
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
quantize=${LLAMA_QUANTIZE:-}
[ -n "$quantize" ] || for q in "$cache"/llama-noamx/bin/llama-quantize "$cache"/llama.cpp-build/bin/llama-quantize; do
	[ -x "$q" ] && { quantize=$q; break; }
done

python3 - "$cache/decode128.txt" <<'PY'
import random, sys
r = random.Random(1)
open(sys.argv[1], "w").write("".join(f"{r.randrange(100, 40000)}\n" for _ in range(128)))
PY
: > "$cache/empty.txt"

median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
time_run() { # threads input model [options] -> seconds
	local t=$1 in=$2 m=$3 t0 t1
	shift 3
	t0=$EPOCHREALTIME
	"$top/bin/lm-step" -m "$m" -t "$t" "$@" < "$in" > /dev/null
	t1=$EPOCHREALTIME
	echo "$t1 - $t0" | bc -l
}
measure() { # label threads model [options]
	local label=$1 t=$2 m=$3 load run i
	shift 3
	load=$(for i in $(seq "$reps"); do time_run "$t" "$cache/empty.txt" "$m" "$@"; done | median)
	run=$(for i in $(seq "$reps"); do time_run "$t" "$cache/decode128.txt" "$m" "$@"; done | median)
	printf '| %s | %s | %s | %.2f | %.1f |\n' "$name" "$label" "$t" "$load" "$(echo "128 / ($run - $load)" | bc -l)"
}

printf '# machine: %s, %s CPUs; lm-step kernels: %s; load average %s\n' \
	"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" "$(nproc)" \
	"$("$top/bin/lm-step" -m "$dirs/$1-bf16" -v < /dev/null 2>&1 >/dev/null | sed -n 's/.*kernels \([^,]*\),.*/\1/p')" \
	"$(cut -d' ' -f1-3 /proc/loadavg)"
echo '| model | weights | threads | load s | decode tok/s |'
echo '| --- | --- | ---: | ---: | ---: |'
for name in "$@"; do
	bf16=$dirs/$name-bf16 f32=$dirs/$name-f32
	q8=$cache/$name-q8_0.gguf
	[ -f "$q8" ] || "$top/bin/lm-convert" -q Q8_0 "$bf16" "$q8"
	lq8=
	if [ -n "$quantize" ] && [ -d "$f32" ]; then
		lq8=$cache/$name-q8_0-llama.gguf
		if [ ! -f "$lq8" ]; then
			"$top/bin/lm-convert" "$f32" "$cache/$name-f32.gguf"
			"$quantize" "$cache/$name-f32.gguf" "$lq8" Q8_0 >/dev/null 2>&1
			rm -f "$cache/$name-f32.gguf"
		fi
	fi
	for t in $threads; do
		measure "dir bf16" "$t" "$bf16"
		measure "dir bf16 -q Q8_0" "$t" "$bf16" -q Q8_0
		measure "gguf Q8_0 (lm-convert)" "$t" "$q8"
		[ -n "$lq8" ] && measure "gguf Q8_0 (llama-quantize)" "$t" "$lq8"
	done
done
