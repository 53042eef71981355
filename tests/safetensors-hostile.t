#!/bin/sh
# Hostile safetensors model directories through lm-step (loading the model,
# no input): each must
# give exit status 1 and one line on stderr that names the file and the
# problem, never a crash (a signal, a sanitizer report) or a hang.  The
# directories (a valid config.json beside hostile weights or a hostile
# index) and the text each message must contain are written by the unit
# test: test-safetensors -w DIR (tests/unit/test-safetensors.c).
. "$(dirname "$0")/lib.sh"
: "${LMU_TESTBIN:=$top/build/native/tests}"
gen=$LMU_TESTBIN/test-safetensors
[ -x "$gen" ] || skip_all "$gen is not built (run make test)"
"$gen" -w "$tmp/h" >/dev/null || { echo "not ok 1 - test-safetensors -w wrote the hostile directories"; echo "1..1"; exit 1; }

n=0
for m in "$tmp"/h/*.msg; do
	d=${m%.msg}
	name=$(basename "$d")
	n=$((n + 1))
	fails "$name: exit 1" 1 lm-step -m "$d" </dev/null
	err=$(cat "$tmp/err")
	want=$(cat "$m")
	# fixed strings, not patterns: the messages hold ( ) ? [ ...
	if printf '%s\n' "$err" | grep -qF -e "lm-step: $d" && printf '%s\n' "$err" | grep -qF -e "$want" &&
	   [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ]; then
		_result 0 "$name: one line naming the file and '$want'"
	else
		_result 1 "$name: one line naming the file and '$want'"
		diag "got: $err"
	fi
	is "$name: nothing on stdout" "$(wc -c < "$tmp/out" | tr -d ' ')" 0
done
[ "$n" -ge 30 ] && _result 0 "$n hostile directories tried" || _result 1 "only $n hostile directories (want >= 30)"

# the well-formed tiny model loads and runs
ok "tiny llama directory: lm-step runs it" sh -c "echo '0 1 2' | lm-step -m '$tmp/h/valid-tiny-llama' --text=2"
like "... one text frame of 4 scores" "$(cat "$tmp/out")" '^pos=2 token=2 vocab=4 [0-3]:'
ok "tiny llama directory: --info" lm-step -m "$tmp/h/valid-tiny-llama" --info
like "... names the directory as the model" "$(cat "$tmp/out")" "^name *valid-tiny-llama\$"
done_testing
