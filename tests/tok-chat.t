#!/bin/sh
# tok-encode --chat against transformers' apply_chat_template (tokenized):
# cases from tests/ref/chat-ref.py in tests/fixtures/tok/chat.cases.
. "$(dirname "$0")/lib.sh"
need_model smollm2
fx=$top/tests/fixtures/tok
GEMMA3=$LMU_MODELS/gemma-3-270m-q4_k_m.gguf
tab=$(printf '\t')

n=0
while IFS=$tab read -r model agp new json want; do
	n=$((n + 1))
	case $model in
	smollm2) set -- -m "$SMOLLM2" ;;
	gemma3)
		if [ ! -f "$GEMMA3" ]; then skip "case $n: Gemma 3 model missing"; continue; fi
		set -- -m "$GEMMA3" --template "$top/tests/fixtures/chat/gemma3.jinja" ;;
	esac
	[ "$agp" = 1 ] || set -- "$@" --no-generation-prompt
	[ "$new" = 0 ] || set -- "$@" --new "$new"
	got=$(printf '%s' "$json" | tok-encode "$@" --chat 2>&1)
	is "case $n: $model, $(printf "%s" "$json" | grep -o "\"role\"" | wc -l | tr -d " ") messages, generation prompt $agp, new $new" "$got" "$want"
done < "$fx/chat.cases"

# messages as options give the same ids as the JSON
want=$(awk -F '\t' '$1 == "smollm2" && $2 == 1 && $3 == 0 && /You are terse/ { print $5 }' "$fx/chat.cases")
is "--system/--user options equal the JSON" "$(tok-encode -m "$SMOLLM2" --chat --system 'You are terse.' --user 'Hi there')" "$want"
is "--count with --chat" "$(tok-encode -m "$SMOLLM2" --chat --system 'You are terse.' --user 'Hi there' --count)" \
	"$(echo "$want" | wc -w | tr -d ' ')"
is "content as an array of text parts" \
	"$(echo '[{"role":"user","content":[{"type":"text","text":"Hel"},{"type":"text","text":"lo"}]}]' | tok-encode -m "$SMOLLM2" --chat)" \
	"$(tok-encode -m "$SMOLLM2" --chat --user Hello)"

# errors
if [ -f "$GEMMA3" ]; then
	# Gemma 3's file has no template: the built-in one of its family, said once
	ok "a Gemma 3 model without a template uses the built-in one" \
		tok-encode -m "$GEMMA3" --chat --system "Be brief." --user hi --assistant hello --user bye
	is "... which renders as Google's template does" "$(cat "$tmp/out")" \
		"$(tok-encode -m "$GEMMA3" --chat --template "$top/tests/fixtures/chat/gemma3.jinja" --system "Be brief." --user hi --assistant hello --user bye)"
	is "... and says so once on stderr" "$(cat "$tmp/err")" \
		"tok-encode: $GEMMA3: the model has no chat template: using the built-in one of gemma3"
	ok "--template overrides the built-in one" \
		tok-encode -m "$GEMMA3" --chat --template "$top/tests/fixtures/chat/smollm2.jinja" --user hi
	is "... silently" "$(cat "$tmp/err")" ""
	fails "the built-in template refuses roles out of turn, as Google's" 1 \
		tok-encode -m "$GEMMA3" --chat --assistant hi
	like "... saying so" "$(cat "$tmp/err")" 'roles must alternate'
else
	skip "Gemma 3 model missing"
fi
# a llama file without a template (test-gguf writes one): no built-in one
: "${LMU_TESTBIN:=$top/build/native/tests}"
if "$LMU_TESTBIN/test-gguf" -w "$tmp/g" > /dev/null 2>&1; then
	fails "a llama model without a template is an error" 1 tok-encode -m "$tmp/g/valid-tiny-llama.gguf" --chat --user hi
	like "message says so" "$(cat "$tmp/err")" 'no chat template (give one with --template FILE)'
else
	skip "test-gguf is not built"
fi
fails "malformed JSON is an error" 1 sh -c "echo '[{\"role\": ' | tok-encode -m '$SMOLLM2' --chat"
fails "no messages is an error" 1 sh -c "echo '[]' | tok-encode -m '$SMOLLM2' --chat"
fails "--new beyond the messages is a usage error" 2 tok-encode -m "$SMOLLM2" --chat --user hi --new 2
fails "--user without --chat is a usage error" 2 tok-encode -m "$SMOLLM2" --user hi
is "--chat TEXT is a user message (the generation loop of doc/internals.md)" "$(tok-encode -m "$SMOLLM2" --chat hello)" "$(tok-encode -m "$SMOLLM2" --chat --user hello)"
printf '{%% if %%}' > "$tmp/bad.jinja"
fails "a broken template is an error" 1 tok-encode -m "$SMOLLM2" --chat --template "$tmp/bad.jinja" --user hi
fails "a missing template file is an error" 1 tok-encode -m "$SMOLLM2" --chat --template "$tmp/none.jinja" --user hi
done_testing
