#!/bin/sh
# Hostile GGUF files through lm-step --info: each must give exit status 1
# and a message on stderr that names the problem, never a crash (a signal,
# a sanitizer report) or a hang.  The files and the text each message must
# contain are written by the unit test: test-gguf -w DIR (tests/unit/test-gguf.c).
. "$(dirname "$0")/lib.sh"
: "${LMU_TESTBIN:=$top/build/native/tests}"
gen=$LMU_TESTBIN/test-gguf
[ -x "$gen" ] || skip_all "$gen is not built (run make test)"
"$gen" -w "$tmp/h" >/dev/null || { echo "not ok 1 - test-gguf -w wrote the hostile files"; echo "1..1"; exit 1; }

n=0
for m in "$tmp"/h/*.msg; do
	f=${m%.msg}.gguf
	name=$(basename "$f" .gguf)
	n=$((n + 1))
	fails "$name: exit 1" 1 lm-step -m "$f" --info
	err=$(cat "$tmp/err")
	want=$(cat "$m")
	# fixed string, not a pattern: the messages hold ( ) ? [ ...
	if printf '%s\n' "$err" | grep -qF -e "lm-step: $f: " && printf '%s\n' "$err" | grep -qF -e "$want" &&
	   [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ]; then
		_result 0 "$name: one line naming the file and '$want'"
	else
		_result 1 "$name: one line naming the file and '$want'"
		diag "got: $err"
	fi
	is "$name: nothing on stdout" "$(wc -c < "$tmp/out" | tr -d ' ')" 0
done
[ "$n" -ge 60 ] && _result 0 "$n hostile files tried" || _result 1 "only $n hostile files (want >= 60)"

# The well-formed files written alongside are described.
ok "1000 tensors: lm-step --info describes the file" sh -c "lm-step -m '$tmp/h/valid-1000-tensors.gguf' --info; true"
is "1000 tensors: the total line counts 1000" "$(awk '$1 == "total" { print $2 }' "$tmp/out")" 1000
like "1000 tensors: one of them listed with its shape" "$(cat "$tmp/out")" 'blk\.249\.ffn_norm\.weight *F32 *40 x 1 '
fails "1000 tensors: the unsupported architecture is named (exit 1)" 1 lm-step -m "$tmp/h/valid-1000-tensors.gguf" --info
like "... with its name" "$(cat "$tmp/err")" "architecture 'test' is not supported"
ok "every value type: lm-step --info -v lists the keys" sh -c "lm-step -m '$tmp/h/valid-types.gguf' --info -v; true"
like "a uint64 over 2^63 shown exactly" "$(cat "$tmp/out")" 't\.u64 .*9223372036854775813'
like "a string array summarised" "$(cat "$tmp/out")" 'a\.str .*\[string x 4\]'
ok "tiny llama: lm-step --info exits 0" lm-step -m "$tmp/h/valid-tiny-llama.gguf" --info
like "tiny llama: 2 layers" "$(cat "$tmp/out")" '^layers *2$'
like "tiny llama: vocabulary 5" "$(cat "$tmp/out")" '^vocabulary *5$'
done_testing
