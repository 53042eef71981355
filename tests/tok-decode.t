#!/bin/sh
# tok-decode: round trips over the corpus, streaming, special tokens, and
# bad streams.
. "$(dirname "$0")/lib.sh"
need_model smollm2
fx=$top/tests/fixtures/tok
GEMMA3=$LMU_MODELS/gemma-3-270m-q4_k_m.gguf

# decode(encode(x)) == x: the whole corpus, and each line on its own.
# SmolLM2's vocabulary has no token for the byte 0x1d (Hugging Face drops
# it too), so its lossless corpus leaves that line out.
roundtrip() {
	tok-encode -m "$1" < "$2" | tok-decode -m "$1" > "$tmp/rt"
	ok "$3: decode(encode(corpus)) is the corpus" cmp "$tmp/rt" "$2"
	tok-encode -m "$1" --lines < "$2" | tok-decode -m "$1" > "$tmp/rt"
	tr -d '\n' < "$2" > "$tmp/nonl"
	ok "$3: line batches decode to the lines, newlines aside" cmp "$tmp/rt" "$tmp/nonl"
}
LC_ALL=C grep -v "$(printf '\035')" "$fx/corpus.txt" > "$tmp/corpus-no1d"
is "one corpus line has the byte 0x1d" "$(wc -l < "$tmp/corpus-no1d")" $(($(wc -l < "$fx/corpus.txt") - 1))
roundtrip "$SMOLLM2" "$tmp/corpus-no1d" smollm2
is "smollm2: 0x1d is dropped, as Hugging Face does" "$(printf 'a\035b' | tok-encode -m "$SMOLLM2")" "81 82"
is "smollm2: and its neighbours still merge (\" -\" is one token)" "$(printf " \035-" | tok-encode -m "$SMOLLM2")" 731
if [ -f "$GEMMA3" ]; then
	roundtrip "$GEMMA3" "$fx/corpus.txt" gemma3
	is "gemma3: <bos> skipped, SPM space markers" "$(echo '2 9259 1902' | tok-decode -m "$GEMMA3")" "Hello world"
	is "gemma3: byte tokens join into a character" "$(echo '481 414 366 366' | tok-decode -m "$GEMMA3" | od -An -tx1 | tr -d ' ')" f3b08080
	# byte tokens that are not valid UTF-8 as a run: one U+FFFD per byte
	# token, as Hugging Face's ByteFallback decoder gives (Python's
	# errors="replace" would give U+FFFD n here)
	is "gemma3: <0x94><0x6E> is two U+FFFD" "$(echo '386 348' | tok-decode -m "$GEMMA3" | od -An -tx1 | tr -d ' ')" efbfbdefbfbd
	is "gemma3: a 2-byte character cut short is two U+FFFD" "$(echo '481 414' | tok-decode -m "$GEMMA3" | od -An -tx1 | tr -d ' ')" efbfbdefbfbd
	# 300 random sequences of byte tokens (tests/ref/spm-decode-ref.py):
	# all cases through one tok-decode, a newline token after each, as one
	# batch per case and as one id per batch (streaming must not change
	# the text), without and with --special
	cases=$fx/gemma3.bytes.cases
	nl=$(printf '\n' | tok-encode -m "$GEMMA3" --no-bos)
	cut -f1 "$cases" | sed "s/\$/ $nl/" > "$tmp/batches"
	cut -f1 "$cases" | awk -v nl="$nl" '{ for (i = 1; i <= NF; i++) print $i; print nl }' > "$tmp/single"
	hexlines() { perl -ne 'chomp; print unpack("H*", $_), "\n"'; }
	compare_cases() {  # NAME COLUMN FILE
		cut -f"$2" "$cases" > "$tmp/want"
		_same=$(paste "$3" "$tmp/want" | awk -F '\t' '$1 == $2' | wc -l | tr -d ' ')
		diag "$1: $_same of $(wc -l < "$cases" | tr -d ' ') byte-token sequences decode as Hugging Face does"
		is "$1" "$_same" "$(wc -l < "$cases" | tr -d ' ')"
		paste "$cases" "$3" | awk -F '\t' -v c="$2" '$c != $4 { print "first difference: ids " $1 ": want " $c ", got " $4; exit }' | while read -r l; do diag "$l"; done
	}
	tok-decode -m "$GEMMA3" < "$tmp/batches" | hexlines > "$tmp/got"
	compare_cases "gemma3: random byte-token runs, one batch each" 2 "$tmp/got"
	tok-decode -m "$GEMMA3" < "$tmp/single" | hexlines > "$tmp/got"
	compare_cases "gemma3: random byte-token runs, one id per batch" 2 "$tmp/got"
	tok-decode -m "$GEMMA3" --special < "$tmp/batches" | hexlines > "$tmp/got"
	compare_cases "gemma3: random byte-token runs, --special" 3 "$tmp/got"
else
	skip "Gemma 3 model $GEMMA3 missing (run 'make model')"
fi

# streaming: one token per batch; an emoji is four byte tokens
printf '\360\237\230\200 ok' | tok-encode -m "$SMOLLM2" | tr ' ' '\n' > "$tmp/one-per-line"
is "emoji split over batches comes out whole" "$(tok-decode -m "$SMOLLM2" < "$tmp/one-per-line")" "$(printf '\360\237\230\200 ok')"
head -n 1 "$tmp/one-per-line" > "$tmp/first"
is "character cut by the end of input becomes U+FFFD" "$(tok-decode -m "$SMOLLM2" < "$tmp/first" | od -An -tx1 | tr -d ' ')" efbfbd

# special tokens
is "special tokens skipped by default" "$(echo '1 19556 2' | tok-decode -m "$SMOLLM2")" Hello
is "--special prints them" "$(echo '1 19556 2' | tok-decode -m "$SMOLLM2" --special)" '<|im_start|>Hello<|im_end|>'
is "directives and comments are not text" "$(printf '19556\n!reset\n# note\n905\n' | tok-decode -m "$SMOLLM2")" 'Hello world'
is "empty batch prints nothing" "$(printf '\n\n' | tok-decode -m "$SMOLLM2" | wc -c | tr -d ' ')" 0

# several sequences: each tagged one decoded on its own, a JSON line at its end
printf '@1 19556\n@2 504 2365\n@1 905\n@1 !end\n@2 6354\n' > "$tmp/tagged"
is "tagged sequences: a JSON line each, in the order they end" "$(tok-decode -m "$SMOLLM2" < "$tmp/tagged" | tr '\n' ,)" \
	'{"seq":1,"text":"Hello world"},{"seq":2,"text":"The quick brown"},'
is "--seq 2 streams one sequence" "$(tok-decode -m "$SMOLLM2" --seq 2 < "$tmp/tagged")" "The quick brown"
is "--seq 0 takes untagged lines" "$(printf '19556\n@1 504\n905\n' | tok-decode -m "$SMOLLM2" --seq 0)" "Hello world"
printf '@3 ' > "$tmp/emoji"; printf '\360\237\230\200"\n' | tok-encode -m "$SMOLLM2" >> "$tmp/emoji"
is "JSON escapes quotes and newlines; characters stay whole" "$(tok-decode -m "$SMOLLM2" < "$tmp/emoji")" \
	"$(printf '{"seq":3,"text":"\360\237\230\200\\"\\n"}')"

# bad streams
fails "id out of range is an error" 1 sh -c "printf '19556\n49152\n' | tok-decode -m '$SMOLLM2'"
like "message names the line" "$(cat "$tmp/err")" 'line 2: id 49152 is out of range'
fails "text in the stream is an error" 1 sh -c "printf 'hello\n' | tok-decode -m '$SMOLLM2'"
fails "huge id is an error" 1 sh -c "printf '99999999999999999999\n' | tok-decode -m '$SMOLLM2'"
fails "negative id is an error" 1 sh -c "printf -- '-1\n' | tok-decode -m '$SMOLLM2'"
fails "last line without newline is an error" 1 sh -c "printf '19556' | tok-decode -m '$SMOLLM2'"
fails "a bad sequence tag is an error" 1 sh -c "printf '@x 1\n' | tok-decode -m '$SMOLLM2'"
yes '19556' | head -n 20000 > "$tmp/many"
ok "closed downstream is a quiet end" sh -c "tok-decode -m '$SMOLLM2' < '$tmp/many' | head -c 1 > /dev/null"
fails "argument is a usage error" 2 tok-decode -m "$SMOLLM2" extra
ok "-V" tok-decode -V
ok "-h" tok-decode -h
like "usage line" "$(cat "$tmp/out")" '^usage: tok-decode'
done_testing
