#!/bin/sh
# -m MODEL names a GGUF file, a model directory (safetensors or one .gguf
# file), a weights file inside one, or a directory of tokenizer files
# (modelpath.c, model_locate), the same way in every program: shown through
# lm-step --info, tok-encode and lm-sample on tiny files written by
# test-gguf -w and test-safetensors -w.
. "$(dirname "$0")/lib.sh"
: "${LMU_TESTBIN:=$top/build/native/tests}"
[ -x "$LMU_TESTBIN/test-gguf" ] || skip_all "$LMU_TESTBIN/test-gguf is not built (run make test)"
"$LMU_TESTBIN/test-gguf" -w "$tmp/h" >/dev/null || { echo "not ok 1 - test-gguf -w"; echo "1..1"; exit 1; }
"$LMU_TESTBIN/test-safetensors" -w "$tmp/s" >/dev/null || { echo "not ok 1 - test-safetensors -w"; echo "1..1"; exit 1; }
mkdir "$tmp/one" "$tmp/two" "$tmp/none" "$tmp/both" "$tmp/tok" "$tmp/pt"
cp "$tmp/h/valid-tiny-llama.gguf" "$tmp/one/model.gguf"
cp "$tmp/h/valid-tiny-llama.gguf" "$tmp/two/a.gguf"
cp "$tmp/h/valid-tiny-llama.gguf" "$tmp/two/b.gguf"
: > "$tmp/none/readme.txt"
st=$tmp/s/valid-tiny-llama
cp -r "$st/." "$tmp/both/"
cp "$tmp/h/valid-tiny-llama.gguf" "$tmp/both/model.gguf"
cp "$st/tokenizer.json" "$tmp/tok/"
: > "$tmp/pt/pytorch_model.bin"

ok "a directory with one .gguf file" lm-step -m "$tmp/one" --info
like "... is that file" "$(head -n 1 "$tmp/out")" "^file *$tmp/one/model.gguf\$"
fails "a directory with two .gguf files: exit 1" 1 lm-step -m "$tmp/two" --info
like "... the message says to name one" "$(cat "$tmp/err")" "lm-step: $tmp/two: 2 .gguf files in this directory; name one"
fails "a directory without a model: exit 1" 1 lm-step -m "$tmp/none" --info
like "... the message says what was looked for" "$(cat "$tmp/err")" \
	"lm-step: $tmp/none: no model in this directory (no .gguf file, no model.safetensors or model.safetensors.index.json, no tokenizer.json)"
ok "LM_MODEL may name the directory" env LM_MODEL="$tmp/one" lm-step --info

ok "a directory of safetensors" lm-step -m "$st" --info
like "... read as a llama of 1 layer" "$(cat "$tmp/out")" '^layers *1$'
like "... its tensors under GGUF names" "$(cat "$tmp/out")" '^blk\.0\.attn_q\.weight *BF16 *8 x 8 '
ok "its model.safetensors named directly" lm-step -m "$st/model.safetensors" --info
fails "safetensors and a .gguf file: exit 1" 1 lm-step -m "$tmp/both" --info
like "... the message names both" "$(cat "$tmp/err")" \
	"lm-step: $tmp/both: holds both safetensors weights and 1 .gguf file; name one: $tmp/both/model.safetensors or $tmp/both/model.gguf"
ok "... naming the .gguf file works" lm-step -m "$tmp/both/model.gguf" --info
ok "... so does naming model.safetensors" lm-step -m "$tmp/both/model.safetensors" --info
fails "tokenizer files only: lm-step exits 1" 1 lm-step -m "$tmp/tok" --info
like "... saying there are no weights" "$(cat "$tmp/err")" "lm-step: $tmp/tok: no model weights here, only a tokenizer"
ok "... tok-encode reads them" tok-encode -m "$tmp/tok" "ab"
fails "PyTorch weights only: exit 1" 1 lm-step -m "$tmp/pt" --info
like "... the message says what to do" "$(cat "$tmp/err")" "only PyTorch weights (pytorch_model.bin), which lmutils does not read"

# every program takes the same forms and gives the same errors
for p in tok-encode lm-sample; do
	ok "$p -m DIR of safetensors" sh -c "$p -m '$st' </dev/null"
	fails "$p -m DIR with two .gguf files: exit 1" 1 sh -c "$p -m '$tmp/two' </dev/null"
	like "... the same message" "$(cat "$tmp/err")" "$p: $tmp/two: 2 .gguf files in this directory; name one"
done
is "tok-encode on the directory: ids from its tokenizer.json" "$(tok-encode -m "$st" "abab")" "2 2"
is "tok-decode on the directory" "$(echo "2 2" | tok-decode -m "$st")" "abab"
is "lm-sample on the directory: a token goes out" "$(printf 'pos=0 token=1 vocab=4 2:1.0 0:0.5\n' | lm-sample -m "$st" --temperature 0)" 2
is "... and <eos> of its tokenizer_config.json ends the output" \
	"$(printf 'pos=0 token=1 vocab=4 3:1.0 0:0.5\npos=1 token=3 vocab=4 2:1.0\n' | lm-sample -m "$st" --temperature 0)" ""

# a tokenizer smaller than the embedding (Qwen2.5: 151665 tokens, 151936
# rows): the ids up to config.json's vocab_size are unused tokens
mkdir "$tmp/pad"
cp "$st/tokenizer.json" "$st/tokenizer_config.json" "$tmp/pad/"
sed 's/"vocab_size": 4/"vocab_size": 6/' "$st/config.json" > "$tmp/pad/config.json"
is "vocab_size above the tokenizer: ids up to it decode (to nothing)" "$(echo "2 5" | tok-decode -m "$tmp/pad")" "ab"
is "... as unused tokens [PADn]" "$(echo "5" | tok-decode -m "$tmp/pad" --special)" "[PAD5]"
fails "... beyond it: exit 1" 1 sh -c "echo 6 | tok-decode -m '$tmp/pad'"
sed 's/"vocab_size": 4/"vocab_size": 2000000000/' "$st/config.json" > "$tmp/pad/config.json"
fails "a vocab_size far above the tokenizer: exit 1" 1 tok-encode -m "$tmp/pad" ab
like "... saying so" "$(cat "$tmp/err")" "config.json: vocab_size 2000000000 is far above the tokenizer's 4 tokens"
done_testing
