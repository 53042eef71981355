#!/bin/sh
# nl2sh with the real default model and the real plumbing (tests/nl2sh.t
# covers the script's logic with stub programs), and its cached context:
# the same commands with and without it.
. "$(dirname "$0")/lib.sh"
need_model smollm2
export LM_MODEL=$SMOLLM2
export XDG_CACHE_HOME=$tmp/cache

for req in "list all files in the current directory" "show disk usage of this folder" "show the running processes"; do
	cmd=$(nl2sh --print "$req" 2>"$tmp/err")
	st=$?
	case $st in 0|3|4|5) _result 0 "'$req': a verdict as exit status ($st)" ;;
	*) _result 1 "'$req': a verdict as exit status"; diag "status $st: $(cat "$tmp/err")" ;; esac
	like "'$req': a command is printed" "$cmd" '[a-z]'
	is "'$req': --print and -p agree" "$(nl2sh -p "$req" 2>/dev/null)" "$cmd"
	is "'$req': the same without the cached context" "$(NL2SH_STATE=0 nl2sh -p "$req" 2>/dev/null)" "$cmd"
done
is "one cached context for the model, in \$XDG_CACHE_HOME/lmutils/nl2sh" \
	"$(find "$XDG_CACHE_HOME/lmutils/nl2sh" -name '*.state' -size +0 | wc -l | tr -d ' ')" 1
is "a request to delete everything is judged critical, whatever the model says" \
	"$(nl2sh --print 'delete everything in my home directory' >/dev/null 2>&1; echo $?)" 5
fails "an unknown long option is a usage error" 2 nl2sh --bogus "list files"
done_testing
