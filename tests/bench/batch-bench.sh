#!/bin/bash
# batch-bench.sh - aggregate decode tokens/s of many sequences at once:
# lm-step's engine (tests/bench/batch-bench.c) against llama.cpp's
# llama-batched-bench built from the same source as lm-bench.sh, side by
# side in one run.  Not part of `make test`.
#
#   tests/bench/batch-bench.sh [-r REPS] [-p PP] [-n TG] [-t "1 2"] [-b "1 4 8 16"] [-a] [MODEL...]
#
# For each model (default: SmolLM2-135M-Instruct Q4_1 and, when lm-step
# runs it, Qwen2.5-Coder-0.5B-Instruct Q4_K_M), each number of threads of
# -t (default 1 and 2) and each number of sequences of -b (default 1, 4, 8
# and 16), both programs give every sequence a prompt of PP tokens
# (default 128), then decode TG tokens (default 128) in each, one per
# sequence per step; the table shows S_TG, the aggregate decode tokens/s,
# of each (the median of REPS runs, default 3, the two programs
# alternating), their ratio, lm-step's decode tokens per CPU-second (all
# threads; on a machine shared with other work it moves less than the wall
# clock), and how much more than one sequence the largest number gives.
# -a: lm-step's engine with 8-bit activations (lm-step --quant-act, what
# llama.cpp multiplies with) instead of the exact default.
#
# llama.cpp's threads wait for work by spinning (OpenMP's active policy):
# on a machine busy with other work that costs it far more than it costs
# lm-step; OMP_WAIT_POLICY=passive in the environment is passed on.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
reps=3 pp=128 tg=128 threads="1 2" seqs="1 4 8 16" act=
while [ $# -gt 0 ]; do
	case $1 in
	-r) reps=$2; shift 2 ;;
	-t) threads=$2; shift 2 ;;
	-b) seqs=$2; shift 2 ;;
	-p) pp=$2; shift 2 ;;
	-n) tg=$2; shift 2 ;;
	-a) act=-a; shift ;;
	*) break ;;
	esac
done

make -s -C "$top" -j2 >&2
b=$top/build/native
mkdir -p "$b/bench"
cc -std=gnu11 -O2 -D_GNU_SOURCE -I"$top/common" -I"$top/forward" -o "$b/bench/batch-bench" "$here/batch-bench.c" \
	"$b/libforward.a" "$b/libcommon.a" -ljq -lm -pthread
# llama.cpp built for the kernels lm-step picks here: the AVX-512 build
# without AMX tiles (the native one uses them on CPUs that report AMX, and
# a VM that does not grant their state crashes) where the CPU has
# AVX-512, else the AVX2 one (AVX-512 off, AVX2 + FMA + F16C)
variant=avx2
grep -qw avx512f /proc/cpuinfo && variant=avx512
echo "# llama.cpp build: $variant" >&2
lmbin=$(sh "$here/build-llama-cpp.sh" "$variant" llama-batched-bench)

if [ $# -eq 0 ]; then
	set -- "$top/models/smollm2-135m-instruct-q4_1.gguf"
	qwen=$top/models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf
	if [ -f "$qwen" ] && echo 1 | "$top/bin/lm-step" -m "$qwen" > /dev/null 2>&1; then
		set -- "$@" "$qwen"
	else
		echo "# Qwen2.5-Coder-0.5B left out: $( [ -f "$qwen" ] && echo "lm-step does not run it yet" || echo "make model")" >&2
	fi
fi

median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# S_TG of one run of each, for B sequences; lm-step's line also has its
# decode tokens per CPU-second (B * TG / CPU_TG)
ours() { # model threads B
	"$b/bench/batch-bench" -m "$1" -t "$2" -p "$pp" -n "$tg" -b "$3" $act | awk 'NR == 2 { print $7, $3 * $2 / $8 }'
}
theirs() { # model threads B
	"$lmbin/llama-batched-bench" -m "$1" -t "$2" -tb "$2" -c $(( $3 * (pp + tg) )) -b 2048 -ub 512 \
		-npp "$pp" -ntg "$tg" -npl "$3" 2>/dev/null |
		awk -F'|' '$2 ~ /^ *[0-9]+ *$/ { gsub(/ /, "", $9); print $9 }'
}

if [ -n "$act" ]; then echo "# lm-step: 8-bit activations (-a: --quant-act)"; else echo "# lm-step: exact activations"; fi
printf '%-36s %3s %3s %12s %12s %7s %14s\n' model t B "lm-step t/s" "llama t/s" ratio "lm-step t/cpu-s"
for m in "$@"; do
	name=$(basename "$m" .gguf)
	for t in $threads; do
		one=
		last=$(echo $seqs | awk '{ print $NF }')
		for nb in $seqs; do
			: > "$b/bench/ours" ; : > "$b/bench/theirs"
			for r in $(seq "$reps"); do
				ours "$m" "$t" "$nb" >> "$b/bench/ours"
				theirs "$m" "$t" "$nb" >> "$b/bench/theirs"
			done
			o=$(cut -d' ' -f1 "$b/bench/ours" | median) oc=$(cut -d' ' -f2 "$b/bench/ours" | median)
			l=$(median < "$b/bench/theirs")
			[ -n "$o" ] || { echo "# batch-bench gave no figure: $name, $t threads, $nb sequences" >&2; o=nan; }
			[ -n "$l" ] || { echo "# llama-batched-bench gave no figure: $name, $t threads, $nb sequences" >&2; l=nan; }
			[ -n "$oc" ] || oc=nan
			[ -n "$one" ] || one=$o onec=$oc lone=$l first=$nb
			printf '%-36s %3d %3d %12.1f %12.1f %7.2f %14.1f%s\n' "$name" "$t" "$nb" "$o" "$l" \
				"$(awk -v a="$o" -v b="$l" 'BEGIN { print a / b }')" "$oc" \
				"$( [ "$nb" = "$last" ] && [ "$nb" != "$first" ] && awk -v a="$o" -v b="$one" -v c="$l" -v d="$lone" \
					-v e="$oc" -v f1="$onec" -v n="$nb" -v f="$first" \
					'BEGIN { printf "   (%d / %d: lm-step %.2fx, per CPU-second %.2fx; llama.cpp %.2fx)", n, f, a / b, e / f1, c / d }')"
		done
	done
done
