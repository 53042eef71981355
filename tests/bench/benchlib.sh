# benchlib.sh - what the benchmarks of lm-step against llama.cpp share
# (sourced by lm-bench.sh and cpu-bench.sh, bash): where things are, the
# options -r and -k, llama.cpp's build, and the default list of models.
#
#   . "$(dirname "$0")/benchlib.sh"
#   reps=5                       # the default, before bench_options
#   bench_options NAME "$@"; shift "$bench_shift"
#   bench_build                  # make, llama.cpp: lmbin
#   [ $# -gt 0 ] || { bench_models; set -- "${models[@]}"; }
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cache=$here/cache
base=$top/models/smollm2-135m-instruct-q4_1.gguf  # SmolLM2 as shipped
variant=native

# -r REPS (reps), -k avx2|avx512 (variant, and LMU_KERNELS for lm-step:
# llama.cpp's build of the same family), -a (lmact: lm-step --quant-act,
# 8-bit activations as llama.cpp's, instead of the exact default);
# bench_shift: the arguments taken.
lmact=
bench_options() { # name args...
	local name=$1
	shift
	bench_shift=0
	while [ $# -gt 0 ]; do
		case $1 in
		-a) lmact=--quant-act; shift; bench_shift=$((bench_shift + 1)); continue ;;
		-r) reps=$2 ;;
		-k) case $2 in avx2 | avx512) ;; *) echo "$name: -k avx2 or -k avx512" >&2; exit 2 ;; esac
		    [ "$2" = avx2 ] || grep -qw avx512f /proc/cpuinfo ||
			{ echo "$name: -k avx512: this CPU has no AVX-512 (no avx512f in /proc/cpuinfo)" >&2; exit 1; }
		    variant=$2; export LMU_KERNELS=$2 ;;
		*) break ;;
		esac
		shift 2
		bench_shift=$((bench_shift + 2))
	done
}

# lmutils built, llama.cpp's tools of the variant built: their folder in
# lmbin; the lm-step to measure in lmstep.  -k avx2 measures the build for a
# CPU with AVX2 and no AVX-512 (make AVX2=1: -march=x86-64-v3), so that no
# part of the forward pass uses AVX-512; LMU_KERNELS=avx2 still keeps it
# from picking the AVX-512 family here.
bench_build() {
	make -s -C "$top" >&2
	lmstep=$top/bin/lm-step
	if [ "$variant" = avx2 ]; then
		make -s -C "$top" AVX2=1 build/avx2/bin/lm-step >&2
		lmstep=$top/build/avx2/bin/lm-step
	fi
	lmbin=$(sh "$here/build-llama-cpp.sh" "$variant")
	mkdir -p "$cache"
}

# bench_skip MODEL LMSTEP: true when MODEL is absent or LMSTEP cannot run
# it, with "NAME: skipped: why" added to $skipped (bench_skipped prints
# them after the table).
bench_skip() {
	local name why
	name=$(basename "$1" .gguf)
	if [ ! -f "$1" ]; then
		case $name in *1.5b*) why="absent (make model-large)" ;; *) why="absent (make model)" ;; esac
	elif ! why=$("$2" -m "$1" < /dev/null 2>&1 >/dev/null); then
		why=${why#lm-step: }
	else
		return 1
	fi
	skipped="$skipped$name: skipped: $why\n"
}

bench_skipped() {
	[ -z "${skipped:-}" ] || printf '\n%b' "$skipped"
}

# The default models, in the array models: SmolLM2-135M-Instruct as shipped
# in Q4_1, plus Q8_0 and F16 made from it with llama.cpp's quantize tool,
# and Q4_K_M made from the F16 one (the K-quant mix from the float
# weights), all in the cache; then the other test models as shipped:
# Gemma 3 270M Q4_K_M, Qwen2.5-Coder 0.5B Q4_K_M and, from make
# model-large, Qwen2.5-Coder 1.5B Q4_K_M (the benchmarks say "skipped"
# with the reason for one that is absent or that lm-step cannot run).
bench_models() {
	local t src
	[ -f "$base" ] || make -s -C "$top" model >&2
	for t in Q8_0 F16 Q4_K_M; do
		src=$base
		[ "$t" = Q4_K_M ] && src=$cache/smollm2-F16.gguf
		[ -f "$cache/smollm2-$t.gguf" ] ||
			"$lmbin/llama-quantize" --allow-requantize "$src" "$cache/smollm2-$t.gguf" "$t" >/dev/null 2>&1
	done
	models=("$base" "$cache/smollm2-Q8_0.gguf" "$cache/smollm2-F16.gguf" "$cache/smollm2-Q4_K_M.gguf"
		"$top/models/gemma-3-270m-q4_k_m.gguf" "$top/models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
		"$top/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf")
}
