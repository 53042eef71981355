#!/bin/sh
# lm-run on SmolLM2: greedy equals a greedy loop over lm-step alone, seeds,
# the JSON shape, the stream rules, and the literal fifo loop of doc/internals.md "The generation loop".
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/porcelain.sh"
need_model smollm2
unset LM_MODEL

# usage errors need no pipeline
fails "no model is a usage error" 2 lm-run hello
fails "unknown option is a usage error" 2 lm-run -m "$SMOLLM2" --no-such-option hello
fails "unknown format is a usage error" 2 lm-run -m "$SMOLLM2" --format xml hello
fails "an option without its value" 2 lm-run -m "$SMOLLM2" hello --seed
ok "-h prints usage" lm-run -h
like "usage line" "$(cat "$tmp/out")" '^usage: lm-run'

if pipeline_missing; then
	skip "the whole pipeline: $why"
	done_testing
	exit
fi
M=$SMOLLM2
# a private TMPDIR, to see that the scripts clean up after themselves
TMPDIR=$tmp/tmpdir; export TMPDIR; mkdir "$TMPDIR"
run() { lm-run -m "$M" -t 2 "$@"; }

# greedy: lm-run --temperature 0 against a greedy loop over lm-step alone
tok-encode -m "$M" -- "The capital of France is" > "$tmp/raw.prompt"
ok "lm-run --raw greedy" run --raw --temperature 0 --repeat-penalty 1 --ignore-eos -n 24 --format ids "The capital of France is"
cp "$tmp/out" "$tmp/run.ids"
greedy_loop "$tmp/raw.prompt" 24 > "$tmp/loop.ids"
is "raw: the same 24 ids as the greedy loop over lm-step" "$(tr '\n' ' ' < "$tmp/run.ids")" "$(tr '\n' ' ' < "$tmp/loop.ids")"
tok-encode -m "$M" --chat --user "Name three colours." > "$tmp/chat.prompt"
ok "lm-run chat greedy" run --temperature 0 --repeat-penalty 1 --ignore-eos -n 24 --format ids "Name three colours."
cp "$tmp/out" "$tmp/run.ids"
greedy_loop "$tmp/chat.prompt" 24 > "$tmp/loop.ids"
is "chat: the same 24 ids as the greedy loop over lm-step" "$(tr '\n' ' ' < "$tmp/run.ids")" "$(tr '\n' ' ' < "$tmp/loop.ids")"
echo "Name three colours." | run --temperature 0 --repeat-penalty 1 --ignore-eos -n 24 --format ids > "$tmp/stdin.ids"
is "prompt from stdin, same ids" "$(tr '\n' ' ' < "$tmp/stdin.ids")" "$(tr '\n' ' ' < "$tmp/run.ids")"
# -t 1 (a CPU left free on a machine of two or more: lm-sample --spin)
lm-run -m "$M" -t 1 --temperature 0 --repeat-penalty 1 --ignore-eos -n 24 --format ids "Name three colours." > "$tmp/t1.ids"
is "-t 1: the same ids" "$(tr '\n' ' ' < "$tmp/t1.ids")" "$(tr '\n' ' ' < "$tmp/run.ids")"

# seeds
a=$(run --seed 11 --temperature 1.5 --top-k 0 --top-p 1 --min-p 0 --ignore-eos -n 24 --format ids "Tell me a story." | tr '\n' ' ')
b=$(run --seed 11 --temperature 1.5 --top-k 0 --top-p 1 --min-p 0 --ignore-eos -n 24 --format ids "Tell me a story." | tr '\n' ' ')
c=$(run --seed 12 --temperature 1.5 --top-k 0 --top-p 1 --min-p 0 --ignore-eos -n 24 --format ids "Tell me a story." | tr '\n' ' ')
is "24 ids sampled" "$(printf '%s' "$a" | wc -w | tr -d ' ')" 24
is "same seed, same ids" "$a" "$b"
if [ "$a" != "$c" ]; then _result 0 "different seeds, different ids"; else _result 1 "different seeds, different ids"; diag "both: $a"; fi

# text: what tok-decode makes of the ids
ok "text output" run --seed 11 --temperature 1.5 --top-k 0 --top-p 1 --min-p 0 --ignore-eos -n 24 "Tell me a story."
printf '%s\n' "$a" | tok-decode -m "$M" > "$tmp/want.txt"
is "streamed text is the decoded ids" "$(cat "$tmp/out")" "$(cat "$tmp/want.txt")"

# JSON, chat.completion and text_completion
ok "--format json (chat)" run --temperature 0 -n 4 --format json "Say hello."
j=$tmp/j1; cp "$tmp/out" "$j"
is "object" "$(jq -r .object "$j")" chat.completion
like "id" "$(jq -r .id "$j")" '^chatcmpl-'
is "model" "$(jq -r .model "$j")" "$M"
like "created is a number" "$(jq -r '.created | type' "$j")" number
is "message role" "$(jq -r '.choices[0].message.role' "$j")" assistant
is "finish_reason length at -n 4" "$(jq -r '.choices[0].finish_reason' "$j")" length
is "completion_tokens" "$(jq -r .usage.completion_tokens "$j")" 4
is "prompt_tokens" "$(jq -r .usage.prompt_tokens "$j")" "$(tok-encode -m "$M" --chat --user "Say hello." | wc -w | tr -d ' ')"
is "total_tokens" "$(jq -r '.usage.total_tokens == .usage.prompt_tokens + .usage.completion_tokens' "$j")" true
run --temperature 0 -n 4 --format ids "Say hello." | tr '\n' ' ' > "$tmp/j1.ids"; echo >> "$tmp/j1.ids"
is "content is the decoded reply" "$(jq -j '.choices[0].message.content' "$j")" "$(tok-decode -m "$M" < "$tmp/j1.ids")"
ok "--format json (raw)" run --raw --temperature 0 -n 3 --format json "Once upon a time"
j=$tmp/j2; cp "$tmp/out" "$j"
is "raw object" "$(jq -r .object "$j")" text_completion
is "raw text field" "$(jq -r '.choices[0].text | type' "$j")" string
# a stop string made of the first three tokens of the greedy reply: the
# token that completes it is not printed, so at most two come out
first3=$(run --temperature 0 --ignore-eos -n 3 "Say hello.")
ok "--format json with a stop string" run --temperature 0 -n 40 --format json --stop "$first3" "Say hello."
j=$tmp/j3; cp "$tmp/out" "$j"
is "finish_reason stop" "$(jq -r '.choices[0].finish_reason' "$j")" stop
is "stopped before the third token" "$(jq -r '.usage.completion_tokens < 3' "$j")" true
# JSON text with quotes, backslashes and newlines stays valid: a reply
# that must contain them
ok "json stays valid with quotes and newlines" run --temperature 0 -n 40 --format json 'Print the C string "a\\n\"b\"" and explain it.'
is "it parses" "$(jq -r '.choices[0].message.content | type' "$tmp/out")" string

# stream rules
{ timeout 120 lm-run -m "$M" -t 2 --ignore-eos -n 400 "Write a long story." 2> "$tmp/head.err"; echo $? > "$tmp/head.st"; } | head -c 10 > "$tmp/head.out"
is "| head -c 10: exit 0 (124 would mean it hung)" "$(cat "$tmp/head.st")" 0
is "| head -c 10: no message" "$(cat "$tmp/head.err")" ""
is "| head -c 10: ten bytes" "$(wc -c < "$tmp/head.out" | tr -d ' ')" 10
if [ -w /dev/full ]; then
	fails "> /dev/full fails" 1 sh -c 'lm-run -m "$1" -t 2 -n 8 hello > /dev/full' sh "$M"
	like "with a message" "$(cat "$tmp/err")" 'No space left on device'
else
	skip "no /dev/full"; skip "no /dev/full"
fi
ls "$TMPDIR" | grep '^lm-run\.' > "$tmp/left" || true
is "no temporary directory left behind" "$(grep -c . "$tmp/left")" 0

# top-k frames: lm-step writes --top K (lm-sample's exact-top) where
# lm-sample always samples from them what it would from whole frames; a
# stub lm-step found first through LMU_EXEC_PATH records its arguments
mkdir "$tmp/rec"
cat > "$tmp/rec/lm-step" <<EOF
#!/bin/sh
printf '%s\n' "\$*" >> "$tmp/rec/args"
exec "$(command -v lm-step)" "\$@"
EOF
chmod +x "$tmp/rec/lm-step"
rec() { rm -f "$tmp/rec/args"; LMU_EXEC_PATH=$tmp/rec run --ignore-eos -n 24 --format ids "$@" "Tell me a story." | tr '\n' ' '; }
no_top() { if printf '%s' "$2" | grep -q -e '--top'; then _result 1 "$1"; diag "got: $2"; else _result 0 "$1"; fi; }
for s in "--temperature 0" "--seed 5" "--seed 5 --top-k 7 --repeat-penalty 1.3 --repeat-last-n 16"; do
	a=$(rec $s); args=$(cat "$tmp/rec/args")
	b=$(LMU_FRAMES=full rec $s); fargs=$(cat "$tmp/rec/args")
	k=$(lm-sample -m "$M" $s --show-settings | sed -n 's/^exact-top=//p')
	like "$s: lm-step writes top-$k frames" "$args" " --top $k "
	no_top "$s: LMU_FRAMES=full: whole frames" "$fargs"
	is "$s: the same ids from top-$k frames as from whole frames" "$a" "$b"
done
rec --seed 5 --top-k 0 > /dev/null
no_top "no top-k: whole frames" "$(cat "$tmp/rec/args")"
rec --seed 5 --top-k 5 --repeat-penalty 1 --logprobs "$tmp/lp" --top-logprobs 9 > /dev/null
like "--top-logprobs above the top-k: as many ids a frame" "$(cat "$tmp/rec/args")" " --top 9 "

# the loop has only lm-step and lm-sample on its path: lm-step reads the
# prompt file, then the fifo (no cat), and is fed every id but the last
# (lm-sample --feed, no tee): it evaluates the prompt and n - 1 ids
mkdir "$tmp/vstep"
cat > "$tmp/vstep/lm-step" <<EOF
#!/bin/sh
printf '%s\n' "\$*" > "$tmp/vstep/args"
exec "$(command -v lm-step)" -v "\$@" 2> "$tmp/vstep/err"
EOF
chmod +x "$tmp/vstep/lm-step"
LMU_EXEC_PATH=$tmp/vstep run --temperature 0 --ignore-eos -n 5 --raw --format ids "The capital of France is" > "$tmp/vstep/ids"
is "the loop made 5 ids" "$(wc -l < "$tmp/vstep/ids" | tr -d ' ')" 5
like "lm-step reads the prompt file, then standard input" "$(cat "$tmp/vstep/args")" '/prompt -$'
np=$(tok-encode -m "$M" "The capital of France is" | wc -w | tr -d ' ')
like "lm-step evaluated the prompt and 4 of the 5 ids" "$(cat "$tmp/vstep/err")" "^lm-step: $((np + 4)) positions evaluated"

# the loop of doc/internals.md, typed by hand, literally: it must end by itself
# (timeout only guards against a hang)
mkdir "$tmp/hand"
(cd "$tmp/hand" && M=$M timeout 120 sh -c '
	mkfifo loop
	{ tok-encode -m $M --chat "Write a haiku about pipes"; cat loop; } |
	  lm-step -m $M | lm-sample -m $M -n 200 | tee loop | tok-decode -m $M' > out 2> err
 echo $? > st)
is "the fifo loop of doc/internals.md ends by itself, status 0" "$(cat "$tmp/hand/st")" 0
is "no message" "$(cat "$tmp/hand/err")" ""
like "it printed text" "$(cat "$tmp/hand/out")" '[a-zA-Z]'
done_testing
