#!/bin/bash
# cpu-bench.sh - lm-step against llama.cpp's llama-bench at 1 thread in
# tokens per CPU-second: the comparison that survives a machine shared by
# many jobs, where wall time measures the run queue (lm-bench.sh's
# figures moved 7x with the load average, and llama.cpp's spinning
# OpenMP threads collapse at 2 threads when a core is taken away).  Not
# part of make test.
#
#   tests/bench/cpu-bench.sh [-r REPS] [-k avx2|avx512] [-a] [MODEL...]
#
# -k avx2: lm-step with LMU_KERNELS=avx2 against llama.cpp built with
# AVX-512 off (build-llama-cpp.sh avx2): what an AVX2-only CPU gets.
# -k avx512: LMU_KERNELS=avx512 against llama.cpp's AVX-512 build without
# AMX (build-llama-cpp.sh avx512), for CPUs whose native build crashes.
# -a: lm-step --quant-act, as in lm-bench.sh.
# Models: as lm-bench.sh (the default list, absent or unsupported ones
# reported as skipped).
#
# Each figure is a difference of two whole runs of the same program, so
# that loading, the warm-up and start-up cancel: user + system CPU seconds
# (/usr/bin/time) of
#   decode:  64 single-id batches minus 16 (lm-step), llama-bench -n 64
#            minus -n 16: 48 tokens;
#   prefill: one batch of 256 ids minus one of 64 (lm-step), llama-bench
#            -p 256 minus -p 64: 192 tokens.
# Both programs run one thread, where CPU time is the time the work took
# on the core it had.  REPS (default 2) repetitions, programs alternating;
# the table gives the best of each (the least disturbed by the neighbours'
# use of the caches), and the ratio lm-step / llama.cpp.
set -eu
. "$(dirname "$0")/benchlib.sh"
reps=2
bench_options cpu-bench "$@"
shift "$bench_shift"
bench_build
[ $# -gt 0 ] || { bench_models; set -- "${models[@]}"; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 - "$tmp" <<'PY'
import random, sys
r = random.Random(1)
for n in (16, 64):
    open(f"{sys.argv[1]}/decode{n}.txt", "w").write("".join(f"{r.randrange(100, 49000)}\n" for _ in range(n)))
for n in (64, 256):
    open(f"{sys.argv[1]}/prompt{n}.txt", "w").write(" ".join(str(r.randrange(100, 49000)) for _ in range(n)) + "\n")
PY

cpu() { # command... -> user + system seconds
	/usr/bin/time -f "%U %S" -o "$tmp/cpu.out" "$@" > /dev/null 2>&1 || { echo "cpu-bench: failed: $*" >&2; exit 1; }
	awk '{ print $1 + $2 }' "$tmp/cpu.out"
}
lm() { cpu "$lmstep" $lmact -m "$1" -t 1 < "$2"; }
lb() { cpu "$lmbin/llama-bench" -m "$1" -t 1 -r 1 "${@:2}"; }
best() { sort -g | head -n 1; }

printf '# machine: %s, %s CPUs, load average %s; lm-step kernels: %s; llama.cpp build: %s; 1 thread, best of %s\n\n' \
	"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" "$(nproc)" \
	"$(cut -d' ' -f1-3 /proc/loadavg)" \
	"$("$lmstep" $lmact -m "$top/models/smollm2-135m-instruct-q4_1.gguf" -v < /dev/null 2>&1 >/dev/null |
		sed -n 's/.*kernels //p')" "$variant" "$reps"
printf '| model | test | lm-step t/cpu-s | llama.cpp t/cpu-s | ratio |\n| --- | --- | ---: | ---: | ---: |\n'
skipped=
for m in "$@"; do
	name=$(basename "$m" .gguf)
	bench_skip "$m" "$lmstep" && continue
	: > "$tmp/runs"
	for i in $(seq "$reps"); do
		a=$(lm "$m" "$tmp/decode16.txt"); b=$(lm "$m" "$tmp/decode64.txt")
		c=$(lb "$m" -p 0 -n 16); d=$(lb "$m" -p 0 -n 64)
		e=$(lm "$m" "$tmp/prompt64.txt"); f=$(lm "$m" "$tmp/prompt256.txt")
		g=$(lb "$m" -p 64 -n 0); h=$(lb "$m" -p 256 -n 0)
		echo "$a $b $c $d $e $f $g $h" >> "$tmp/runs"
	done
	# tokens per CPU-second of each repetition; the best of each column
	awk -v name="$name" '
		function mx(i, v) { if (!(i in m) || v > m[i]) m[i] = v }
		{ mx(1, 48 / ($2 - $1)); mx(2, 48 / ($4 - $3)); mx(3, 192 / ($6 - $5)); mx(4, 192 / ($8 - $7)) }
		END {
			printf "| %s | prefill | %.1f | %.1f | %.2f |\n", name, m[3], m[4], m[3] / m[4]
			printf "| %s | decode | %.1f | %.1f | %.2f |\n", name, m[1], m[2], m[1] / m[2]
		}' "$tmp/runs"
done
bench_skipped
