#!/bin/sh
# The test models as Hugging Face directories that transformers made from
# their GGUF files (tests/ref/make-hfdirs.py, `make hfdirs`; large, never
# committed, not made in CI): per model,
#   - 20 greedy continuations from the float32 directory, the same weights
#     as the GGUF, identical to those from the GGUF file;
#   - lm-step's logits on the bfloat16 directory no farther from
#     transformers' float32 logits than transformers' own bfloat16 run is;
#   - lm-convert of the directory gives lm-step the directory's logits bit
#     for bit, and llama.cpp's llama-bench runs the file (when a build of
#     tests/bench/build-llama-cpp.sh is at hand, LLAMA_BENCH; by default its
#     avx2 build: the native one of llama-cpp-python 0.3.36 crashes here
#     (segmentation fault) even on the shipped GGUF files).
. "$(dirname "$0")/lib.sh"
: "${LMU_TESTBIN:=$top/build/native/tests}"
dirs=${LMU_HFDIRS:-$top/tests/ref/cache}
[ -d "$dirs/smollm2-f32" ] || skip_all "no model directories in $dirs: make hfdirs (needs python3 with torch and transformers)"
: "${LLAMA_BENCH:=$top/tests/bench/cache/llama.cpp-build-avx2/bin/llama-bench}"

prompts='The capital of France is
def fibonacci(n):
Once upon a time, in a small village,
The three primary colors are
import numpy as np
To make a cup of tea, first
The quick brown fox
In 1969, the first humans
#!/bin/sh
for i in range(10):
The best way to learn a language is
Water boils at
SELECT name FROM users WHERE
Dear Sir or Madam,
The mitochondria is
git commit -m "
A haiku about the sea:
The square root of 144 is
Linux is an operating system that
2 + 2 ='

n_models=0
# name in $dirs, GGUF file in $LMU_MODELS
for spec in "smollm2 smollm2-135m-instruct-q4_1" "qwen2.5-coder-0.5b qwen2.5-coder-0.5b-instruct-q4_k_m" \
	"gemma-3-270m gemma-3-270m-q4_k_m"; do
	set -- $spec
	name=$1 gguf=$LMU_MODELS/$2.gguf
	f32=$dirs/$name-f32 bf16=$dirs/$name-bf16 ref=$dirs/$name-ref
	if [ ! -d "$f32" ] || [ ! -f "$gguf" ]; then
		skip "$name: $f32 or $gguf is missing (make model hfdirs)"
		continue
	fi
	n_models=$((n_models + 1))
	same=0
	printf '%s\n' "$prompts" > "$tmp/prompts"
	[ "$(wc -l < "$tmp/prompts")" -eq 20 ] || diag "not 20 prompts"
	while IFS= read -r p; do
		a=$(lm-run -m "$gguf" --raw --temperature 0 --repeat-penalty 1 --ignore-eos -n 24 --format ids -- "$p" </dev/null 2>/dev/null)
		b=$(lm-run -m "$f32" --raw --temperature 0 --repeat-penalty 1 --ignore-eos -n 24 --format ids -- "$p" </dev/null 2>/dev/null)
		if [ -n "$a" ] && [ "$a" = "$b" ]; then same=$((same + 1)); else diag "$name: '$p': $a | $b"; fi
	done < "$tmp/prompts"
	is "$name: 20 greedy continuations of 24 tokens from the float32 directory as from the GGUF" "$same" 20

	echo "$(cat "$ref/ids.txt")" | lm-step -m "$bf16" --all-logits > "$tmp/bf16.bin"
	ours=$("$LMU_TESTBIN/test-hfdir" --diff "$tmp/bf16.bin" "$ref/f32.bin")
	theirs=$("$LMU_TESTBIN/test-hfdir" --diff "$ref/bf16.bin" "$ref/f32.bin")
	o=${ours##* } t=${theirs##* }
	ok "$name: bfloat16 directory: max |dlogit| from transformers float32 $o <= transformers' own bfloat16 $t" \
		awk -v o="$o" -v t="$t" 'BEGIN { exit !(o ~ /^[0-9.e+-]+$/ && t ~ /^[0-9.e+-]+$/ && o + 0 <= t + 0) }'

	ok "$name: lm-convert the float32 directory" lm-convert "$f32" "$tmp/$name.gguf"
	ids=$(cat "$ref/ids.txt")
	echo "$ids" | lm-step -m "$f32" --all-logits > "$tmp/dir.bin"
	echo "$ids" | lm-step -m "$tmp/$name.gguf" --all-logits > "$tmp/file.bin"
	ok "$name: ... the file gives the directory's logits, bit for bit" cmp "$tmp/dir.bin" "$tmp/file.bin"
	is "$name: ... and the GGUF's tokens" "$(tok-encode -m "$tmp/$name.gguf" -- "$prompts")" \
		"$(tok-encode -m "$gguf" -- "$prompts")"
	ok "$name: lm-convert -q Q8_0 the bfloat16 directory" lm-convert -q Q8_0 "$bf16" "$tmp/$name-q8.gguf"
	if [ -x "$LLAMA_BENCH" ]; then
		ok "$name: ... llama-bench runs the file" "$LLAMA_BENCH" -m "$tmp/$name-q8.gguf" -p 8 -n 4 -r 1 -t 1
	else
		skip "$name: no llama-bench at $LLAMA_BENCH (tests/bench/build-llama-cpp.sh avx2)"
	fi
	rm -f "$tmp/$name.gguf" "$tmp/$name-q8.gguf"
done
[ "$n_models" -ge 1 ] && _result 0 "$n_models models tried" || _result 1 "no model tried"
done_testing
