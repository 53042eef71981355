#!/bin/sh
# lm-chat from a script: three turns leave in the state exactly the ids of
# the whole conversation (as tok-encode and transformers' apply_chat_template
# render it), no turn re-evaluates earlier ones, and the ! commands.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/porcelain.sh"
need_model smollm2
unset LM_MODEL
fixture=$top/tests/fixtures/sample/chat3.json

fails "no model is a usage error" 2 lm-chat < /dev/null
fails "unknown option is a usage error" 2 lm-chat -m "$SMOLLM2" --no-such-option < /dev/null
ok "-h prints usage" lm-chat -h
like "usage line" "$(cat "$tmp/out")" '^usage: lm-chat'

if pipeline_missing; then
	skip "the whole pipeline: $why"
	done_testing
	exit
fi
M=$SMOLLM2
# a private TMPDIR, to see that the scripts clean up after themselves
TMPDIR=$tmp/tmpdir; export TMPDIR; mkdir "$TMPDIR"

# three turns, greedy, with -v for lm-step's count of positions evaluated;
# the user messages and the reply length are the fixture's
cd "$tmp" || exit 1
jq -r '.messages[] | select(.role == "user") | .content' "$fixture" > users
n_new=$(jq -r .max_new "$fixture")
{ sed -n 1p users; echo '!set temperature=abc'; echo '!set top-k=3'; sed -n '2,$p' users; echo '!save conv.json'; } > script
lm-chat -m "$M" -t 2 --temperature 0 --repeat-penalty 1 -n "$n_new" -v --state chat.state < script > chat.out 2> chat.err
is "three turns: exit status 1 (one bad !set)" "$?" 1
like "the bad value is reported (checked by lm-sample)" "$(cat chat.err)" "lm-chat: temperature: 'abc' is not a number"
is "the conversation has six messages" "$(jq length conv.json)" 6
is "roles alternate" "$(jq -r 'map(.role) | join(" ")' conv.json)" "user assistant user assistant user assistant"
is "the user messages as typed" "$(jq -r '[.[0].content, .[2].content, .[4].content] | join("|")' conv.json)" \
	"$(paste -sd'|' users)"
is "three replies on stdout, one line each" "$(wc -l < chat.out | tr -d ' ')" 3
state=$(state_ids chat.state) || state="(not an lm-step state file)"
want=$(tok-encode -m "$M" --chat --no-generation-prompt < conv.json)
is "the state holds the whole conversation as tok-encode renders it" "$state" "$want"
if [ "$(jq -c .messages "$fixture")" = "$(jq -c . conv.json)" ]; then
	is "... and as transformers' apply_chat_template does (tests/ref/chat_state.py)" \
		"$state" "$(jq -r '.ids | map(tostring) | join(" ")' "$fixture")"
else
	skip "greedy replies differ from transformers' in $fixture (a near-tie flipped), so its ids do not apply"
	diag "lm-chat: $(jq -c '[.[] | select(.role == "assistant") | .content]' conv.json)"
	diag "fixture: $(jq -c '[.messages[] | select(.role == "assistant") | .content]' "$fixture")"
fi

# no turn re-evaluates earlier turns: over the whole chat lm-step evaluated
# each position of the final state once (plus the tail of a reply whose
# re-tokenized text differs from the ids sampled)
evaluated=$(sed -n 's/^lm-step: \([0-9]*\) positions evaluated.*/\1/p' chat.err | awk '{ s += $1 } END { print s + 0 }')
final=$(printf '%s\n' "$state" | wc -w | tr -d ' ')
diag "positions in the final state: $final; evaluated over 3 turns: $evaluated; per lm-step run: $(sed -n 's/^lm-step: \([0-9]*\) positions evaluated.*/\1/p' chat.err | tr '\n' ' ')"
is "lm-step ran twice per turn" "$(grep -c 'positions evaluated' chat.err)" 6
is "each position evaluated once over the whole chat" "$evaluated" "$final"

# commands
printf '%s\n' '!set seed=5' '!set' '!set nosuch=1' '!set n=x' '!bogus' '!help' '!save conv2.json' > cmds
lm-chat -m "$M" -t 2 < cmds > cmds.out 2> cmds.err
is "command errors give status 1" "$?" 1
like "!set shows the settings in force" "$(cat cmds.err)" 'temperature=0.8 (default)'
like "... and where they come from" "$(cat cmds.err)" 'seed=5 (option)'
like "unknown setting" "$(cat cmds.err)" "no setting 'nosuch'"
like "n wants a number" "$(cat cmds.err)" 'n wants a whole number'
like "unknown command" "$(cat cmds.err)" "unknown command '!bogus'"
like "!help lists !reset" "$(cat cmds.err)" '!reset'
is "nothing on stdout" "$(cat cmds.out)" ""
is "an empty conversation saved" "$(jq -c . conv2.json)" "[]"

printf '%s\n' 'Hi' '!reset' '!save conv3.json' > reset
lm-chat -m "$M" -t 2 --temperature 0 -n 2 --system "Be brief." --state reset.state < reset > /dev/null 2>&1
is "!reset keeps the system message only" "$(jq -c . conv3.json)" '[{"role":"system","content":"Be brief."}]'
if [ -e reset.state ]; then _result 1 "!reset removes the state"; else _result 0 "!reset removes the state"; fi

printf '%s\n' '[{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello."}]' > saved.json
printf '%s\n' '!save conv4.json' > load
lm-chat -m "$M" -t 2 --load saved.json < load > /dev/null 2>&1
is "--load reads a saved conversation" "$(jq -c . conv4.json)" "$(jq -c . saved.json)"
echo '{"messages": 3}' > bad.json
printf '%s\n' '!load bad.json' '!save conv5.json' > load
lm-chat -m "$M" -t 2 --load saved.json < load > /dev/null 2> load.err
like "!load refuses what is not a conversation" "$(cat load.err)" 'not a conversation'
is "... and keeps the current one" "$(jq -c . conv5.json)" "$(jq -c . saved.json)"
# the ! commands people type, and what they say
printf '%s\n' '!set temperature 0.2' '!set top-k=5' '!set temp 0.3' '!set temperature' '!set top-k=' '!set top-p' \
	'!system Be brief.' '!system' '!stats' '!stats' '!save' '!save /nonexistent-dir/x.json' '!load missing.json' \
	'!save conv6.json' '!reset' > cmds2
lm-chat -m "$M" -t 2 < cmds2 > cmds2.out 2> cmds2.err
is "!set NAME VALUE and !set NAME=VALUE, confirmed" "$(grep -e '^lm-chat: t' cmds2.err | head -n 3)" "lm-chat: temperature=0.2 (option)
lm-chat: top-k=5 (option)
lm-chat: temperature=0.3 (option)"
like "!set NAME shows one" "$(cat cmds2.err)" "^temperature=0.3 (option)"
like "!set NAME= restores the default" "$(cat cmds2.err)" "lm-chat: top-k=40 (default)"
like "!system TEXT is confirmed" "$(cat cmds2.err)" "lm-chat: system message set"
like "!system shows it" "$(cat cmds2.err)" "^Be brief.$"
like "!stats toggles" "$(cat cmds2.err | tr '\n' '|')" "stats on|lm-chat: stats off"
like "!save with no file" "$(cat cmds2.err)" "lm-chat: !save FILE"
like "!save to a missing directory says why, without a shell line number" "$(cat cmds2.err)" \
	"^lm-chat: cannot save to /nonexistent-dir/x.json: no such directory: /nonexistent-dir$"
like "!load of a missing file: no such file" "$(cat cmds2.err)" "^lm-chat: missing.json: no such file$"
like "!save is confirmed" "$(cat cmds2.err)" "^lm-chat: saved 1 messages to conv6.json$"
is "!system put the system message first" "$(jq -c . conv6.json)" '[{"role":"system","content":"Be brief."}]'
like "!reset is confirmed" "$(cat cmds2.err)" "^lm-chat: conversation forgotten (the system message stays)$"

# """ starts and ends a message of several lines
printf '%s\n' '"""' 'first line' 'second line' '"""' '"""one line"""' '!save conv7.json' > multi
lm-chat -m "$M" -t 2 --temperature 0 -n 2 < multi > /dev/null 2>&1
is '""" ... """: one message of two lines' "$(jq -r '.[0].content' conv7.json)" "first line
second line"
is '"""...""" on one line' "$(jq -r '.[2].content' conv7.json)" "one line"

# a turn that fails says why, leaves the conversation as it was, and the
# chat goes on (a context of 56 cannot hold the message and its reply)
printf '%s\n' 'Tell me about the history of Rome in detail.' 'Hi' '!save conv8.json' > failing
lm-chat -m "$M" -t 2 --temperature 0 -n 3 -c 56 < failing > failing.out 2> failing.err
is "a failed turn: status 1 at the end" "$?" 1
like "... says why (the sizes, in tokens)" "$(cat failing.err)" "the conversation is [0-9]* tokens and the context holds 56"
like "... and that the chat goes on" "$(cat failing.err)" "the turn failed"
is "... the next turn was answered" "$(jq -r 'map(.role) | join(" ")' conv8.json)" "user assistant"

# a full context: the oldest turns are dropped (the system message stays)
printf '%s\n' 'Hi' 'Name a colour.' 'Name a fruit.' '!save conv9.json' > full
lm-chat -m "$M" -t 2 --temperature 0 -n 8 -c 64 --system "Be brief." < full > full.out 2> full.err
is "full context: the chat went on" "$?" 0
like "... saying that turns were dropped" "$(cat full.err)" "dropped the [0-9]* oldest turn"
is "... the system message stays, the last turn is there" \
	"$(jq -r '[.[0].content, .[-2].content] | join("|")' conv9.json)" "Be brief.|Name a fruit."
if [ "$(jq length conv9.json)" -lt 7 ]; then _result 0 "... fewer than all 7 messages"; else _result 1 "... fewer than all 7 messages"; fi

# --session NAME and --continue keep the history and the context under
# $XDG_STATE_HOME/lmutils/chats
XDG_STATE_HOME=$tmp/xdg; export XDG_STATE_HOME
echo 'Hi' | lm-chat -m "$M" -t 2 --temperature 0 -n 4 --session test1 > /dev/null 2> s1.err
ok "--session: the chat is kept" test -s "$XDG_STATE_HOME/lmutils/chats/test1.json"
ok "... with its context" test -s "$XDG_STATE_HOME/lmutils/chats/test1.state"
is "... and the model" "$(jq -r .model "$XDG_STATE_HOME/lmutils/chats/test1.json")" "$M"
printf '%s\n' 'And again?' '!save conv10.json' | lm-chat -t 2 --temperature 0 -n 4 --continue -v > /dev/null 2> s2.err
is "--continue resumes it (the model from the chat)" "$(jq -r 'map(.role) | join(" ")' conv10.json)" "user assistant user assistant"
a=$(jq '.[:2]' conv10.json | tok-encode -m "$M" --chat --no-generation-prompt | wc -w)
b=$(jq '.[:3]' conv10.json | tok-encode -m "$M" --chat | wc -w)
first=$(sed -n 's/^lm-step: \([0-9]*\) positions evaluated.*/\1/p' s2.err | head -n 1)
if [ "$first" -le $((b - a + 4)) ]; then _result 0 "... lm-step evaluated only the new message and the reply ($first positions)"
else _result 1 "... lm-step evaluated only the new message and the reply"; diag "$first positions, $((b - a)) new + 4"; fi
like "... and -v counts those of the prompt" "$(cat s2.err)" "^prompt: $((b - a)) tokens"
like "-v: prompt and reply tokens/s" "$(cat s2.err)" "^prompt: [0-9]* tokens in [0-9.]* s ([0-9.]* tokens/s); reply: "
unset XDG_STATE_HOME
fails "--continue with no earlier chat" 1 env XDG_STATE_HOME="$tmp/xdg2" lm-chat -m "$M" --continue

# top-k frames (lm-sample's exact-top), worked out again after !set: a stub
# lm-step found first through LMU_EXEC_PATH records its arguments
mkdir rec
cat > rec/lm-step <<EOF
#!/bin/sh
printf '%s\n' "\$*" >> "$tmp/rec/args"
exec "$(command -v lm-step)" "\$@"
EOF
chmod +x rec/lm-step
printf '%s\n' 'Hi' '!set top-k=0' 'Hello again' | LMU_EXEC_PATH=$tmp/rec lm-chat -m "$M" -t 2 -n 4 --seed 3 --state rec.state > /dev/null 2>&1
# (two runs a turn: the reply, then the state brought to the text's ids)
tops=$(grep -e '--state' rec/args | sed -e 's/.*--top \([0-9]*\).*/\1/' -e 't' -e 's/.*/whole/' | paste -sd' ')
is "lm-step: top-k frames (40 + 64 ids) until !set top-k=0, then whole ones" "$tops" "104 104 whole whole"

ls "$TMPDIR" | grep '^lm-chat\.' > left || true
is "no temporary directory left behind" "$(grep -c . left)" 0
done_testing
