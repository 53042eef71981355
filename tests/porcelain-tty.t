#!/bin/sh
# lm-chat and nl2sh on a terminal, driven through tmux as a person would:
# typing with the arrows, a paste of several lines, Ctrl-C in the middle of
# a reply and another turn after it, the !set forms, the history of an
# earlier run, Ctrl-D; nl2sh answered y and n, and with a model that fails.
. "$(dirname "$0")/lib.sh"
export XDG_CACHE_HOME=$tmp/cache  # nl2sh keeps its context there
. "$(dirname "$0")/porcelain.sh"
need_model smollm2
unset LM_MODEL
M=$SMOLLM2
command -v tmux > /dev/null || skip_all "tmux is not installed (make deps installs it)"
if pipeline_missing; then
	skip_all "the whole pipeline: $why"
fi

sock=lmutils-test-$$
tm() { tmux -L "$sock" "$@"; }
trap 'tm kill-server 2> /dev/null; rm -rf "$tmp"' EXIT
export XDG_STATE_HOME="$tmp/xdg"
# screen: the pane of the current session ($t) as text
t=0
screen() { tm capture-pane -t "s$t" -p -J -S -200; }
# wait_for PATTERN [SECONDS]: until the pane shows PATTERN (grep -E);
# under ASan (make SAN=1 test: 15-30 times slower) ten times as long
slow=1
[ "${LMU_VARIANT:-}" = asan ] && slow=10
wait_for() {
	_i=0
	while [ "$_i" -lt "$((${2:-30} * 10 * slow))" ]; do
		screen | grep -q -E -e "$1" && return 0
		sleep 0.1
		_i=$((_i + 1))
	done
	diag "waited for '$1'; the pane:"
	diag "$(screen)"
	return 1
}
# run CMD: CMD in a new 80x24 terminal; its status lands in $tmp/status
run() {
	rm -f "$tmp/status"
	t=$((t + 1))
	tm new-session -d -s "s$t" -x 80 -y 24 "$1; echo \$? > $tmp/status; sleep 600"
}
status() {
	_i=0
	while [ ! -s "$tmp/status" ] && [ "$_i" -lt 300 ]; do sleep 0.1; _i=$((_i + 1)); done
	cat "$tmp/status" 2> /dev/null
}
keys() { tm send-keys -t "s$t" "$@"; }

run "lm-chat -m $M -t 2 --temperature 0 --session tty -n 400 --ignore-eos"
ok "lm-chat shows its prompt" wait_for '^> '
# typing: a typo fixed with Backspace, a word inserted with the arrows
keys 'Say hllo' Left Left Left 'e' End BSpace 'o please' Enter
ok "a reply comes" wait_for 'please$' 5
ok "... and the prompt again" wait_for '^> $' 60
# a paste of three lines is one message
keys -l "$(printf '\033[200~Repeat these words:\nred\nblue\033[201~')"
ok "the paste is shown on one line, newlines marked" wait_for 'Repeat these words:.red.blue' 5
keys Enter
ok "... and answered once" wait_for '^> $' 60
# Ctrl-C in the middle of a reply, then another turn
keys 'Write a very long story about a lighthouse keeper.' Enter
sleep $((2 * slow))  # into the reply
keys C-c
ok "Ctrl-C stops the reply, not the chat" wait_for 'stopped \(Ctrl-C\): the reply so far is kept' 10
keys '!set temperature 0.5' Enter
ok "!set NAME VALUE is confirmed" wait_for 'lm-chat: temperature=0.5 \(option\)' 10
keys '!set top-k=7' Enter
ok "!set NAME=VALUE is confirmed" wait_for 'lm-chat: top-k=7 \(option\)' 10
keys '!set n 3' Enter '!set temperature 0' Enter 'Thank you.' Enter
ok "another turn after Ctrl-C" wait_for 'Thank you\.' 10
sleep 1
ok "... answered" wait_for '^> $' 60
keys '!save' ' ' "$tmp/tty.json" Enter
ok "!save" wait_for "saved [0-9]+ messages" 10
keys C-d
is "Ctrl-D ends the chat, status 0" "$(status)" 0
if [ -s "$tmp/tty.json" ]; then
	is "the typed message, as fixed with the arrows" "$(jq -r '.[0].content' "$tmp/tty.json")" "Say hello please"
	is "the paste, one message of three lines" "$(jq -r '.[2].content' "$tmp/tty.json")" "Repeat these words:
red
blue"
	is "the interrupted turn is kept: its message" "$(jq -r '.[4].content' "$tmp/tty.json")" \
		"Write a very long story about a lighthouse keeper."
	like "... and the reply so far" "$(jq -r '.[5].role + ": " + .[5].content' "$tmp/tty.json")" '^assistant: .'
	is "then the next turn" "$(jq -r '.[6].content' "$tmp/tty.json")" "Thank you."
	is "eight messages in all" "$(jq length "$tmp/tty.json")" 8
else
	for i in 1 2 3 4 5 6; do skip "no conversation saved"; done
fi
# a second run: the history of the first, and --continue
run "lm-chat -t 2 --continue -n 2"
ok "--continue resumes the chat" wait_for "resuming chat 'tty' \(8 messages" 10
ok "... and shows its prompt" wait_for '^> $' 10
keys Up Up
ok "Up Up: the line before the last of the earlier run" wait_for '^> Thank you\.$' 5
keys C-u '!exit' Enter
is "!exit: status 0" "$(status)" 0

# nl2sh: y runs the command, n does not (stub plumbing answers with it);
# the question is asked on the terminal
stub=$tmp/stub
mkdir "$stub"
cat > "$stub/lm-step" <<'STUB'
#!/bin/sh
# the input as lm-step reads it: the loop gives the files PROMPT -, last
for a; do last=$a; done
if [ "${last:-}" = - ]; then eval "in=\${$(($# - 1))}"; cat "$in" -; else cat; fi |
while read -r line; do echo "pos=0 token=1 vocab=4 1:0.5" || exit 0; done
STUB
cat > "$stub/lm-sample" <<'STUB'
#!/bin/sh
[ "$1" = -h ] && exit 0
read -r frame || exit 0
echo 7
STUB
cat > "$stub/tok-decode" <<STUB
#!/bin/sh
cat > /dev/null
printf '{"cmd": "touch %s/ran"}' "$tmp"
STUB
chmod +x "$stub"/*
nl="env LMU_EXEC_PATH=$stub:$LMU_EXEC_PATH nl2sh -m $M -t 2"
run "$nl make a file"
ok "nl2sh shows the command and asks" wait_for 'Run it\? \[y/N\]' 20
ok "... with the verdict" wait_for 'verdict: safe' 1
keys y Enter
is "y: status 0" "$(status)" 0
ok "... the command ran" test -e "$tmp/ran"
rm -f "$tmp/ran"
run "$nl make a file"
ok "nl2sh asks again" wait_for 'Run it\? \[y/N\]' 20
keys n Enter
is "n: status 0 (the verdict)" "$(status)" 0
ok "... says it was not run" wait_for 'nl2sh: not run' 5
ok "... and it did not run" test ! -e "$tmp/ran"
run "nl2sh -m $tmp/nope.gguf list the files"
is "a model that fails: status 1, at once" "$(status)" 1
ok "... with the reason" wait_for 'nope.gguf: no such file' 5
done_testing
