#!/bin/sh
# lm-step --info on the real SmolLM2 file, and its usage errors.
. "$(dirname "$0")/lib.sh"
need_model smollm2

ok "lm-step --info runs" lm-step -m "$SMOLLM2" --info
info=$(cat "$tmp/out")
field() { printf '%s\n' "$info" | awk -v k="$1" 'index($0, k) == 1 { print $NF; exit }'; }
is "architecture" "$(field architecture)" llama
is "30 layers" "$(field layers)" 30
is "embedding 576" "$(field embedding)" 576
is "9 heads" "$(field heads)" 9
is "3 kv heads" "$(field 'kv heads')" 3
is "vocabulary 49152" "$(field vocabulary)" 49152
is "tokenizer gpt2" "$(field tokenizer)" gpt2
is "272 tensors in the total" "$(printf '%s\n' "$info" | awk '$1 == "total" { print $2 }')" 272
like "token_embd is Q8_0 576 x 49152" "$info" 'token_embd.weight *Q8_0 *576 x 49152'
is "the supported architectures are listed" "$(printf '%s\n' "$info" | sed -n 's/^supported *//p')" "llama, qwen2, gemma3, phi3, granite"
if [ -f "$GEMMA3" ]; then
	g=$(lm-step -m "$GEMMA3" --info)
	like "gemma3: heads of 256" "$g" '^head dim *256$'
	like "gemma3: the window on 15 of 18 layers" "$g" '^sliding window *512 positions on 15 of 18 layers$'
	like "gemma3: the local layers' RoPE base" "$g" '^local rope base *10000$'
	like "gemma3: embeddings scaled by sqrt(640)" "$g" '^embedding scale *25.29'
else
	skip "Gemma 3 model missing"
fi
is "LM_MODEL is the default model" "$(LM_MODEL=$SMOLLM2 lm-step --info | head -n 1)" "file             $SMOLLM2"

fails "no model is a usage error" 2 env -u LM_MODEL lm-step --info
fails "unknown option is a usage error" 2 lm-step -m "$SMOLLM2" --no-such-option
fails "missing file is a runtime error" 1 lm-step -m "$tmp/nonexistent.gguf" --info
like "missing file message names the file" "$(cat "$tmp/err")" "lm-step: $tmp/nonexistent.gguf: no such file"
printf 'GGUF' > "$tmp/short.gguf"
fails "truncated header is a runtime error" 1 lm-step -m "$tmp/short.gguf" --info
like "message says cut short" "$(cat "$tmp/err")" 'cut short'
ok "-V prints a version" lm-step -V
like "version line" "$(cat "$tmp/out")" '^lm-step (lmutils) '
ok "-h prints usage" lm-step -h
like "usage line" "$(cat "$tmp/out")" '^usage: lm-step'
done_testing
