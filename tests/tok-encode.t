#!/bin/sh
# tok-encode against Hugging Face: the corpus in tests/fixtures/tok, line by
# line and whole, for SmolLM2 (GGUF), Gemma 3 (GGUF) and tokenizer.json
# directories; reference ids made by tests/ref/tok-ref.py.  Then options
# and errors.
. "$(dirname "$0")/lib.sh"
need_model smollm2
fx=$top/tests/fixtures/tok
GEMMA3=$LMU_MODELS/gemma-3-270m-q4_k_m.gguf
QWEN05=$LMU_MODELS/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf

# compare NAME WANT_FILE tok-encode args...: per-line match rate in a diag
compare() {
	_cname=$1 _want=$2
	shift 2
	if ! tok-encode "$@" > "$tmp/got" 2> "$tmp/err"; then
		_result 1 "$_cname: tok-encode failed"
		diag "$(tail -n 3 "$tmp/err")"
		return
	fi
	_total=$(wc -l < "$_want")
	_same=$(paste -d '|' "$tmp/got" "$_want" | awk -F '|' '$1 == $2' | wc -l)
	_gotn=$(wc -l < "$tmp/got")
	diag "$_cname: $_same of $_total lines equal to Hugging Face"
	if [ "$_same" = "$_total" ] && [ "$_gotn" = "$_total" ]; then _result 0 "$_cname"; else
		_result 1 "$_cname"
		paste -d '|' "$tmp/got" "$_want" | awk -F '|' '$1 != $2 { print "line " NR ": got  " $1; print "line " NR ": want " $2; exit }' >&2
	fi
}

# corpus MODEL NAME: all the reference files of one tokenizer
corpus() {
	compare "$2: corpus lines" "$fx/$2.ids" -m "$1" --lines < "$fx/corpus.txt"
	compare "$2: corpus lines, --special" "$fx/$2.special.ids" -m "$1" --lines --special < "$fx/corpus.txt"
	compare "$2: whole corpus as one text" "$fx/$2.all.ids" -m "$1" < "$fx/corpus.txt"
	compare "$2: ill-formed UTF-8 as U+FFFD" "$fx/$2.invalid.ids" -m "$1" --lines < "$fx/invalid.txt"
	compare "$2: random lines of tricky characters" "$fx/$2.random.ids" -m "$1" --lines < "$fx/random.txt"
}

corpus "$SMOLLM2" smollm2
if [ -f "$GEMMA3" ]; then
	corpus "$GEMMA3" gemma3
else
	skip "Gemma 3 model $GEMMA3 missing (run 'make model')"
fi
# Qwen2.5 as its own tokenizer.json does it: NFC first (e + U+0301 is é)
if [ -f "$QWEN05" ]; then
	corpus "$QWEN05" qwen2.5-coder
	is "qwen2.5-coder: e + combining acute gives the ids of the precomposed e-acute" \
		"$(printf 'caf\145\314\201' | tok-encode -m "$QWEN05")" "$(printf 'caf\303\251' | tok-encode -m "$QWEN05")"
else
	skip "Qwen2.5 model $QWEN05 missing (run 'make model')"
fi

# tokenizer.json directories: SmolLM2's own, and the same vocabulary with
# the Llama 3, Qwen2 and GPT-2 pre-tokenizers (line 2 of the file)
mkdir "$tmp/smollm2"
gzip -dc "$fx/smollm2-tokenizer.json.gz" > "$tmp/smollm2/tokenizer.json"
cp "$fx/smollm2-tokenizer_config.json" "$tmp/smollm2/tokenizer_config.json"
corpus "$tmp/smollm2" smollm2
variant() {  # variant NAME PRE NORMALIZER: lines 2 and 3 of the file replaced
	mkdir "$tmp/$1"
	awk -v f="$fx/pre-$2.json" -v norm="$3" '
		NR == 2 { while ((getline l < f) > 0) printf "\"pre_tokenizer\":%s,\n", l; next }
		NR == 3 { printf "\"normalizer\":%s,\n", norm; next } 1' \
		"$tmp/smollm2/tokenizer.json" > "$tmp/$1/tokenizer.json"
	corpus "$tmp/$1" "smollm2-$1"
}
variant llama3 llama3 null
variant qwen2 qwen2 null
variant gpt2 gpt2 null
variant qwen2-nfc qwen2 '{"type":"NFC"}'
is "qwen2-nfc: e + combining acute is one token, as precomposed" \
	"$(printf 'e\314\201' | tok-encode -m "$tmp/qwen2-nfc")" "$(printf '\303\251' | tok-encode -m "$tmp/qwen2-nfc")"

# a Llama-2-style SentencePiece tokenizer.json (merges list, Metaspace
# dummy prefix), made by tests/ref/spm-ref.py from part of Gemma's vocabulary
mkdir "$tmp/llama-spm"
gzip -dc "$fx/llama-spm-tokenizer.json.gz" > "$tmp/llama-spm/tokenizer.json"
cp "$fx/llama-spm-tokenizer_config.json" "$tmp/llama-spm/tokenizer_config.json"
compare "llama-spm: corpus lines" "$fx/llama-spm.ids" -m "$tmp/llama-spm" --lines < "$fx/corpus.txt"
compare "llama-spm: random lines of tricky characters" "$fx/llama-spm.random.ids" -m "$tmp/llama-spm" --lines < "$fx/random.txt"
# the same vocabulary in the form transformers 5 saves Gemma 3's tokenizer:
# spaces made U+2581 by the normalizer, then a split at spaces (none left),
# no dummy prefix (tests/ref/spm-split-ref.py)
mkdir "$tmp/spm-split"
sed 's/"normalizer":null,"pre_tokenizer":{"type":"Metaspace","replacement":"\(.*\)","prepend_scheme":"first","split":false}/"normalizer":{"type":"Replace","pattern":{"String":" "},"content":"\1"},"pre_tokenizer":{"type":"Split","pattern":{"String":" "},"behavior":"MergedWithPrevious","invert":false}/' \
	"$tmp/llama-spm/tokenizer.json" > "$tmp/spm-split/tokenizer.json"
cp "$tmp/llama-spm/tokenizer_config.json" "$tmp/spm-split/"
compare "spm-split (Gemma 3 as transformers 5 saves it): corpus lines" "$fx/spm-split.ids" -m "$tmp/spm-split" --lines \
	< "$fx/corpus.txt"
is "llama-spm: the decoder drops the dummy prefix" "$(tok-encode -m "$tmp/llama-spm" 'Hello world' | tok-decode -m "$tmp/llama-spm")" "Hello world"

# options
is "TEXT arguments joined by one space" "$(tok-encode -m "$SMOLLM2" Hello world)" "$(printf 'Hello world' | tok-encode -m "$SMOLLM2")"
is "--count" "$(tok-encode -m "$SMOLLM2" --count 'Hello world')" 2
is "--pieces" "$(tok-encode -m "$SMOLLM2" --pieces 'Hello world')" "$(printf '19556\tHello\n905\t world')"
is "--pieces escapes a newline" "$(printf 'a\n' | tok-encode -m "$SMOLLM2" --pieces | tail -n 1 | cut -f 2)" '\n'
is "SmolLM2 adds no BOS by default" "$(tok-encode -m "$SMOLLM2" Hi)" 26843
is "--bos adds <|im_start|>" "$(tok-encode -m "$SMOLLM2" --bos Hi)" "1 26843"
is "--eos adds <|im_end|>" "$(tok-encode -m "$SMOLLM2" --eos Hi)" "26843 2"
is "special token text is plain text by default" "$(tok-encode -m "$SMOLLM2" --count '<|im_end|>')" 7
is "--special parses it" "$(tok-encode -m "$SMOLLM2" --special '<|im_end|>')" 2
is "empty input is an empty batch" "$(printf '' | tok-encode -m "$SMOLLM2" | od -An -c | tr -d ' ')" '\n'
is "--lines: one batch per line" "$(printf 'a\nb\n\nc' | tok-encode -m "$SMOLLM2" --lines | wc -l | tr -d ' ')" 4
if [ -f "$GEMMA3" ]; then
	is "Gemma adds <bos>" "$(tok-encode -m "$GEMMA3" Hello)" "2 9259"
	is "--no-bos" "$(tok-encode -m "$GEMMA3" --no-bos Hello)" 9259
	is "Gemma: byte fallback for U+F0000 (ids from Hugging Face)" "$(printf '\363\260\200\200' | tok-encode -m "$GEMMA3" --no-bos)" "481 414 366 366"
else
	skip "Gemma 3 model missing"
fi

# errors
fails "no model is a usage error" 2 env -u LM_MODEL tok-encode hi
fails "unknown option is a usage error" 2 tok-encode -m "$SMOLLM2" --frobnicate
fails "--pieces with --count is a usage error" 2 tok-encode -m "$SMOLLM2" --pieces --count hi
fails "--lines with TEXT is a usage error" 2 tok-encode -m "$SMOLLM2" --lines hi
fails "missing model is a runtime error" 1 tok-encode -m "$tmp/none.gguf" hi
mkdir "$tmp/bad"
printf '{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "pre_tokenizer": ' > "$tmp/bad/tokenizer.json"
fails "truncated tokenizer.json is a runtime error" 1 tok-encode -m "$tmp/bad" hi
like "message names the file" "$(cat "$tmp/err")" "tokenizer.json"
printf '{"model": {"type": "WordPiece", "vocab": {"a": 0}}}' > "$tmp/bad/tokenizer.json"
fails "unsupported model type is a runtime error" 1 tok-encode -m "$tmp/bad" hi
like "message says so" "$(cat "$tmp/err")" "not BPE"
printf '{"model": {"type": "BPE", "vocab": {"a": 0, "b": 99999999999}, "merges": []}, "pre_tokenizer": {"type": "ByteLevel"}}' > "$tmp/bad/tokenizer.json"
fails "huge id in tokenizer.json is a runtime error" 1 tok-encode -m "$tmp/bad" hi
printf '{"model": {"type": "BPE", "vocab": {"a": 0, "b": 2000000000}, "merges": []}, "pre_tokenizer": {"type": "ByteLevel"}}' > "$tmp/bad/tokenizer.json"
fails "an id far beyond the vocabulary is refused, not allocated" 1 tok-encode -m "$tmp/bad" hi
like "message says the ids are not dense" "$(cat "$tmp/err")" "not dense"
printf '{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": [["a"]]}, "pre_tokenizer": {"type": "ByteLevel"}}' > "$tmp/bad/tokenizer.json"
fails "a malformed merge is an error" 1 tok-encode -m "$tmp/bad" hi
printf '{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a b"]}, "pre_tokenizer": {"type": "Whitespace"}}' > "$tmp/bad/tokenizer.json"
fails "an unknown pre-tokenizer is an error" 1 tok-encode -m "$tmp/bad" hi
like "message names the pre_tokenizer" "$(cat "$tmp/err")" "pre_tokenizer"
printf '{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}, "pre_tokenizer": {"type": "ByteLevel"}}' > "$tmp/bad/tokenizer.json"
is "a minimal tokenizer.json works" "$(tok-encode -m "$tmp/bad" ab)" 2
printf '{"eos_token": "<|end|>", "bos_token": {"content": "a"}}' > "$tmp/bad/tokenizer_config.json"
ok "an eos token that is not in the vocabulary: it still encodes" tok-encode -m "$tmp/bad" ab
like "... with a warning naming the token" "$(cat "$tmp/err")" "warning: tokenizer.json: the eos_token '<|end|>' is not in the vocabulary; using none"
is "... and only that warning (bos_token 'a' is in it)" "$(wc -l < "$tmp/err" | tr -d ' ')" 1
rm "$tmp/bad/tokenizer_config.json"
is "--chat TEXT is one more user message" "$(tok-encode -m "$SMOLLM2" --chat --system 'Be brief.' Hi there)" \
	"$(tok-encode -m "$SMOLLM2" --chat --system 'Be brief.' --user 'Hi there')"
fails "--chat with --lines is a usage error" 2 tok-encode -m "$SMOLLM2" --chat --lines
ok "-V" tok-encode -V
ok "-h" tok-encode -h
like "usage line" "$(cat "$tmp/out")" '^usage: tok-encode'
done_testing
