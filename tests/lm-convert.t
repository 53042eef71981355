#!/bin/sh
# lm-convert: model directories (written by test-hfdir -w as transformers
# saved them, and test-safetensors -w with a tokenizer) into GGUF files
# that give lm-step the same logits, bit for bit, with the tokenizer as
# keys; -q as lm-step -q; usage and runtime errors.
. "$(dirname "$0")/lib.sh"
: "${LMU_TESTBIN:=$top/build/native/tests}"
[ -x "$LMU_TESTBIN/test-hfdir" ] || skip_all "$LMU_TESTBIN/test-hfdir is not built (run make test)"
(cd "$top" && "$LMU_TESTBIN/test-hfdir" -w "$tmp/hf") >/dev/null || { echo "not ok 1 - test-hfdir -w"; echo "1..1"; exit 1; }
"$LMU_TESTBIN/test-safetensors" -w "$tmp/st" >/dev/null || { echo "not ok 1 - test-safetensors -w"; echo "1..1"; exit 1; }

ids="5 17 42 3 88 9 61 0 95 33"
for d in "$tmp"/hf/*/; do
	d=${d%/}
	n=$(basename "$d")
	ok "$n: lm-convert DIR OUT" lm-convert "$d" "$tmp/$n.gguf"
	echo "$ids" | lm-step -m "$d" --all-logits > "$tmp/$n.dir.bin"
	echo "$ids" | lm-step -m "$tmp/$n.gguf" --all-logits > "$tmp/$n.gguf.bin"
	ok "$n: the GGUF gives the directory's logits, bit for bit" cmp "$tmp/$n.dir.bin" "$tmp/$n.gguf.bin"
	ok "$n: lm-convert -q Q8_0" lm-convert -q Q8_0 "$d" "$tmp/$n.q8.gguf"
	echo "$ids" | lm-step -m "$d" -q Q8_0 --all-logits > "$tmp/$n.dirq.bin"
	echo "$ids" | lm-step -m "$tmp/$n.q8.gguf" --all-logits > "$tmp/$n.q8.bin"
	ok "$n: ... the logits of lm-step -q Q8_0 on the directory" cmp "$tmp/$n.dirq.bin" "$tmp/$n.q8.bin"
done
lm-step -m "$tmp/llama-f32-sharded.q8.gguf" --info > "$tmp/info"
like "-q Q8_0: the matrices are Q8_0" "$(cat "$tmp/info")" '^blk\.1\.ffn_down\.weight *Q8_0 *128 x 64 '
like "... the norms stay F32" "$(cat "$tmp/info")" '^blk\.1\.ffn_norm\.weight *F32 '
ok "a GGUF in, requantized" lm-convert -q Q4_0 "$tmp/llama-f32-sharded.gguf" "$tmp/re.gguf"
like "... to Q4_0" "$(lm-step -m "$tmp/re.gguf" --info)" 'blk\.0\.attn_q\.weight *Q4_0'
like "... the output head to Q8_0" "$(lm-step -m "$tmp/re.gguf" --info)" '^output\.weight *Q8_0'

# the tokenizer of a directory becomes GGUF keys
t=$tmp/st/valid-tiny-llama
ok "a directory with a tokenizer" lm-convert "$t" "$tmp/tiny.gguf"
info=$(lm-step -m "$tmp/tiny.gguf" --info)
like "... the tokenizer is gpt2" "$info" '^tokenizer *gpt2'
is "... tok-encode gives the directory's ids" "$(tok-encode -m "$tmp/tiny.gguf" "abba<eos>" --special)" \
	"$(tok-encode -m "$t" "abba<eos>" --special)"
is "... tok-decode the directory's text" "$(echo "2 0 1 3" | tok-decode -m "$tmp/tiny.gguf" --special)" \
	"$(echo "2 0 1 3" | tok-decode -m "$t" --special)"
is "... <eos> is the end of generation" \
	"$(printf 'pos=0 token=1 vocab=4 3:1.0 0:0.5\n' | lm-sample -m "$tmp/tiny.gguf" --temperature 0)" ""

fails "no arguments: usage error" 2 lm-convert
fails "an unknown -q type: usage error" 2 lm-convert -q Q5_K "$t" "$tmp/x.gguf"
like "... naming the known ones" "$(cat "$tmp/err")" "unknown type 'Q5_K' (known: Q8_0, Q4_0, Q4_1, Q4_K)"
fails "a missing model: exit 1" 1 lm-convert "$tmp/none" "$tmp/x.gguf"
fails "an output in a missing directory: exit 1" 1 lm-convert "$t" "$tmp/no/such/dir/x.gguf"
like "... the message names it" "$(cat "$tmp/err")" "lm-convert: $tmp/no/such/dir/x.gguf"
is "... and nothing is left behind" "$(ls "$tmp" | grep -c '\.tmp')" 0
fails "a hostile directory: exit 1" 1 lm-convert "$tmp/st/overlap" "$tmp/x.gguf"
ok "-V" lm-convert -V
done_testing
