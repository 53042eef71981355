#!/bin/sh
# nl2sh with real models and the real plumbing (tests/nl2sh.t covers the
# script's logic with stub programs): the model it picks from models/,
# and its cached context: the same commands with and without it, and a
# request that evaluates only its own tokens.
. "$(dirname "$0")/lib.sh"
need_model smollm2
need_model qwen05
export XDG_CACHE_HOME=$tmp/cache

for req in "list all files in the current directory" "show disk usage of this folder" "show the running processes"; do
	cmd=$(LM_MODEL=$SMOLLM2 nl2sh --print "$req" 2>"$tmp/err")
	st=$?
	case $st in 0|3|4|5) _result 0 "'$req': a verdict as exit status ($st)" ;;
	*) _result 1 "'$req': a verdict as exit status"; diag "status $st: $(cat "$tmp/err")" ;; esac
	like "'$req': a command is printed" "$cmd" '[a-z]'
	is "'$req': --print and -p agree" "$(LM_MODEL=$SMOLLM2 nl2sh -p "$req" 2>/dev/null)" "$cmd"
	is "'$req': the same without the cached context" "$(LM_MODEL=$SMOLLM2 NL2SH_STATE=0 nl2sh -p "$req" 2>/dev/null)" "$cmd"
done
is "one cached context for the model, in \$XDG_CACHE_HOME/lmutils/nl2sh" \
	"$(find "$XDG_CACHE_HOME/lmutils/nl2sh" -name '*.state' -size +0 | wc -l | tr -d ' ')" 1
is "a request to delete everything is judged critical, whatever the model says" \
	"$(LM_MODEL=$SMOLLM2 nl2sh --print 'delete everything in my home directory' >/dev/null 2>&1; echo $?)" 5
fails "an unknown long option is a usage error" 2 nl2sh --bogus "list files"

# positions FILE: what lm-step -v said it evaluated (nl2sh -v passes -v)
positions() { sed -n 's/^lm-step: \([0-9]*\) positions evaluated.*/\1/p' "$1"; }
# own MODEL REQUEST FILE: an upper bound on the positions that are the
# request's own: its text, the answer in FILE, and 12 for the chat
# template's markup around the user's turn and the assistant's
own() {
	_a=$(sed -n 's/^nl2sh: answer: //p' "$3")
	echo $(( $(tok-encode -m "$1" --count -- "$2") + $(printf '%s' "$_a" | tok-encode -m "$1" --count) + 12 ))
}

# The model nl2sh picks: a scratch tree with nl2sh beside a models/
# folder of links (the stages come from LMU_EXEC_PATH).
inst=$tmp/inst
mkdir -p "$inst/bin" "$inst/models"
cp "$top/bin/nl2sh" "$top/bin/lmutils-sh-setup" "$inst/bin/"
ln -s "$SMOLLM2" "$inst/models/"
ln -s "$QWEN05" "$inst/models/"
req="create a directory called build"
rm -rf "$XDG_CACHE_HOME"
is "make model: Qwen2.5-Coder-0.5B, and the command" "$(env -u LM_MODEL "$inst/bin/nl2sh" -v -p "$req" 2> "$tmp/err0")" "mkdir build"
like "... named on stderr" "$(cat "$tmp/err0")" '^nl2sh: model: qwen2.5-coder-0.5b-instruct-q4_k_m.gguf (models/)$'
env -u LM_MODEL "$inst/bin/nl2sh" -v -p "show the last 20 lines of app.log" > "$tmp/out1" 2> "$tmp/err1"
env -u LM_MODEL "$inst/bin/nl2sh" -v -p "$req" > /dev/null 2> "$tmp/err2"
env -u LM_MODEL NL2SH_STATE=0 "$inst/bin/nl2sh" -v -p "$req" > /dev/null 2> "$tmp/err3"
n0=$(positions "$tmp/err0") n2=$(positions "$tmp/err2") n3=$(positions "$tmp/err3") mine=$(own "$QWEN05" "$req" "$tmp/err2")
is "a cold run evaluates the whole prompt" "${n0:-none}" "${n3:-none}"
ok "after another request, only the request's own positions ($n2 of $n3; at most $mine are its own)" \
	test "${n2:-999999}" -le "$mine" -a "$n3" -gt "$((mine + 20))"
is "... and the same answer" "$(sed -n 's/^nl2sh: answer: //p' "$tmp/err2")" "$(sed -n 's/^nl2sh: answer: //p' "$tmp/err3")"

if [ -f "$QWEN15" ]; then
	ln -s "$QWEN15" "$inst/models/"
	rm -rf "$XDG_CACHE_HOME"
	is "make model-large: Qwen2.5-Coder-1.5B, and the command" "$(env -u LM_MODEL "$inst/bin/nl2sh" -v -p "$req" 2> "$tmp/err0")" "mkdir build"
	like "... named on stderr" "$(cat "$tmp/err0")" '^nl2sh: model: qwen2.5-coder-1.5b-instruct-q4_k_m.gguf (models/)$'
	req="show the disk usage of each folder here"
	is "... a command with no absolute path in it" "$(env -u LM_MODEL "$inst/bin/nl2sh" -v -p "$req" 2> "$tmp/err2")" "du -sh *"
	n0=$(positions "$tmp/err0") n2=$(positions "$tmp/err2") mine=$(own "$QWEN15" "$req" "$tmp/err2")
	ok "... evaluating only its own positions after the first request ($n2, at most $mine its own, of $n0 for the first)" \
		test "${n2:-999999}" -le "$mine" -a "$n0" -gt "$((mine + 20))"
else
	skip "skipped: make model-large"
	skip "skipped: make model-large"
	skip "skipped: make model-large"
	skip "skipped: make model-large"
fi
done_testing
