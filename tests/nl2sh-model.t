#!/bin/sh
# nl2sh with the real default model and the real plumbing (tests/nl2sh.t
# covers the script's logic with stub programs).
. "$(dirname "$0")/lib.sh"
need_model smollm2
export LM_MODEL=$SMOLLM2

for req in "list all files in the current directory" "show disk usage of this folder" "show the running processes"; do
	cmd=$(nl2sh --print "$req" 2>"$tmp/err")
	st=$?
	case $st in 0|3|4|5) _result 0 "'$req': a verdict as exit status ($st)" ;;
	*) _result 1 "'$req': a verdict as exit status"; diag "status $st: $(cat "$tmp/err")" ;; esac
	like "'$req': a command is printed" "$cmd" '[a-z]'
	is "'$req': --print and -p agree" "$(nl2sh -p "$req" 2>/dev/null)" "$cmd"
done
is "a request to delete everything is judged critical, whatever the model says" \
	"$(nl2sh --print 'delete everything in my home directory' >/dev/null 2>&1; echo $?)" 5
fails "an unknown long option is a usage error" 2 nl2sh --bogus "list files"
done_testing
