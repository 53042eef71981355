#!/bin/bash
# lm-bench.sh - lm-step against llama.cpp's llama-bench, side by side, in one
# run on this machine (issue 6).  Not part of `make test`.
#
#   tests/bench/lm-bench.sh [-r REPS] [-k avx2|avx512] [-a] [MODEL...]
#
# -k avx2: lm-step built for a CPU with AVX2 and no AVX-512 (make AVX2=1,
# -march=x86-64-v3: no AVX-512 anywhere in the forward pass) with
# LMU_KERNELS=avx2, against llama.cpp built with AVX-512 off
# (build-llama-cpp.sh avx2): what an AVX2-only CPU gets.
# -k avx512: LMU_KERNELS=avx512 against llama.cpp's AVX-512 build without
# AMX (build-llama-cpp.sh avx512), for CPUs whose native build crashes.
# -a: lm-step --quant-act (8-bit activations, what llama.cpp multiplies
# with) instead of the exact default; the table's first line says which.
#
# For each model (default: SmolLM2-135M-Instruct as shipped in Q4_1, plus
# Q8_0 and F16 made from it with llama.cpp's quantize tool, and Q4_K_M made
# from the F16 one; then the other test models as shipped: Gemma 3 270M
# Q4_K_M, Qwen2.5-Coder 0.5B Q4_K_M (mostly Q5_0, Q6_K and Q8_0) and, from
# make model-large, Qwen2.5-Coder 1.5B Q4_K_M; a model that is absent or
# that this lm-step cannot run is a "skipped" line with the reason) and 1
# and 2 threads it prints prefill tokens/s (a 512-token prompt as one batch) and
# decode tokens/s (128 tokens, one batch each, from an empty context) for
# both programs, the ratio lm-step / llama.cpp, peak RSS of each, and decode
# as a fraction of the memory-bandwidth roofline (read bandwidth measured by
# tests/bench/bwprobe.c in the same run / weight bytes read per token).
# bwprobe reports the fastest of several ways to read (4 KiB or huge pages,
# 1-8 streams per thread, with and without software prefetch): a ceiling
# that no way of reading the weights exceeds, not the rate of the way
# lm-step reads them (4 streams per thread from the mapped GGUF file, in
# 2 MiB or 4 KiB pages as the page cache holds it).  Each way's figure:
# tests/bench/cache/bwprobe-THREADS.txt.
#
# Each cell is REPS rounds, a round lm-step then llama-bench (-r 1, after
# its own warm-up run) back to back, so that both programs run within
# seconds of each other: this host's speed drifts by 10-25 % over minutes
# (other virtual machines), and with all of lm-step's runs before all of
# llama.cpp's a drift between them decided cells within 10 % of 1.0x (in
# the 2026-12-07 14:15 and 14:50 tables each cell behind in one run was
# 1.10-1.48x in the other).  A round's lm-step figures come from whole
# processes: prefill = t(prompt) - t(load), decode = t(128 single-token
# batches) - t(load), where t(load) is a run on empty input; llama-bench's
# are its own (avg_ts of its one run).  The table gives the median of
# each program's rounds and, as the ratio, the median of the rounds'
# ratios (so the ratio column need not be the quotient of the other two).
set -eu
. "$(dirname "$0")/benchlib.sh"
reps=5
bench_options lm-bench "$@"
shift "$bench_shift"
bench_build
cc -O2 -march=native -pthread "$here/bwprobe.c" -o "$cache/bwprobe"
[ $# -gt 0 ] || { bench_models; set -- "${models[@]}"; }

python3 - "$cache/prompt512.txt" "$cache/decode128.txt" <<'PY'
import random, sys
r = random.Random(1)
open(sys.argv[1], "w").write(" ".join(str(r.randrange(100, 49000)) for _ in range(512)) + "\n")
open(sys.argv[2], "w").write("".join(f"{r.randrange(100, 49000)}\n" for _ in range(128)))
PY

# seconds and peak KiB of one lm-step run on the given input file
run_once() { # threads input model
	/usr/bin/time -f "%e %M" -o "$cache/time.out" "$lmstep" $lmact -m "$3" -t "$1" < "$2" > /dev/null
	cat "$cache/time.out"
}
median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
col() { awk -v c="$1" '{ print $c }' "$cache/rounds.txt" | median; }  # column of this cell's rounds

# wall time with sub-ms resolution: use bash's EPOCHREALTIME
time_run() { # threads input model -> seconds
	local t0 t1
	t0=$EPOCHREALTIME
	"$lmstep" $lmact -m "$3" -t "$1" < "$2" > /dev/null
	t1=$EPOCHREALTIME
	echo "$t1 - $t0" | bc -l
}

: > "$cache/empty.txt"
printf '# machine: %s, %s CPUs; lm-step: %s, kernels %s; llama.cpp build: %s\n' \
	"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" "$(nproc)" "${lmstep#"$top"/}" \
	"$("$lmstep" $lmact -m "$base" -v < /dev/null 2>&1 >/dev/null | sed -n 's/.*kernels //p')" "$variant"
for t in 1 2; do bw[$t]=$("$cache/bwprobe" "$t" 1024 2> "$cache/bwprobe-$t.txt"); done
printf '# read bandwidth (bwprobe, the fastest way): 1 thread %s GB/s, 2 threads %s GB/s; %s repetitions\n\n' "${bw[1]}" "${bw[2]}" "$reps"

printf '| model | threads | test | lm-step t/s | llama.cpp t/s | ratio | RSS lm-step MiB | RSS llama.cpp MiB | decode / roofline |\n'
printf '| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n'
skipped=
for m in "$@"; do
	name=$(basename "$m" .gguf)
	bench_skip "$m" "$lmstep" && continue
	wbytes=$("$lmstep" -m "$m" --info | awk '$1 == "total" { print $4 }')
	for t in 1 2; do
		: > "$cache/rounds.txt"
		: > "$cache/lrss.txt"
		for i in $(seq "$reps"); do
			load=$(time_run "$t" "$cache/empty.txt" "$m")
			pp=$(time_run "$t" "$cache/prompt512.txt" "$m")
			tg=$(time_run "$t" "$cache/decode128.txt" "$m")
			/usr/bin/time -f "%M" -a -o "$cache/lrss.txt" "$lmbin/llama-bench" -m "$m" -t "$t" -p 512 -n 128 -r 1 \
				-o csv > "$cache/llama-bench.csv" 2>/dev/null
			read -r lpp ltg < <(python3 - "$cache/llama-bench.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
pp = [r for r in rows if int(r["n_prompt"]) > 0][0]["avg_ts"]
tg = [r for r in rows if int(r["n_gen"]) > 0][0]["avg_ts"]
print(pp, tg)
PY
)
			echo "$(echo "512 / ($pp - $load)" | bc -l) $(echo "128 / ($tg - $load)" | bc -l) $lpp $ltg" >> "$cache/rounds.txt"
		done
		pp_ts=$(col 1) tg_ts=$(col 2) lpp=$(col 3) ltg=$(col 4)
		pp_ratio=$(awk '{ print $1 / $3 }' "$cache/rounds.txt" | median)
		tg_ratio=$(awk '{ print $2 / $4 }' "$cache/rounds.txt" | median)
		rss1=$(run_once "$t" "$cache/prompt512.txt" "$m" | awk '{ print $2 }')
		rss2=$(run_once "$t" "$cache/decode128.txt" "$m" | awk '{ print $2 }')
		rss=$(( rss1 > rss2 ? rss1 : rss2 ))
		lrss=$(sort -g "$cache/lrss.txt" | tail -1)
		roof=$(echo "${bw[$t]} * 1000000000 / $wbytes" | bc -l)
		printf '| %s | %d | pp512 | %.1f | %.1f | %.2f | %.0f | %.0f | |\n' "$name" "$t" "$pp_ts" "$lpp" \
			"$pp_ratio" "$(echo "$rss / 1024" | bc -l)" "$(echo "$lrss / 1024" | bc -l)"
		printf '| %s | %d | tg128 | %.1f | %.1f | %.2f | | | %.0f%% (roof %.0f t/s) |\n' "$name" "$t" "$tg_ts" "$ltg" \
			"$tg_ratio" "$(echo "100 * $tg_ts / $roof" | bc -l)" "$roof"
	done
done
bench_skipped
