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
	fails "a model without a template is an error" 1 tok-encode -m "$GEMMA3" --chat --user hi
	like "message says so" "$(cat "$tmp/err")" 'no chat template'
else
	skip "Gemma 3 model missing"
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
