#!/bin/sh
# -m MODEL names a GGUF file or a directory holding exactly one (modelpath.c),
# shown through lm-step --info on a tiny file written by test-gguf -w.
. "$(dirname "$0")/lib.sh"
: "${LMU_TESTBIN:=$top/build/native/tests}"
[ -x "$LMU_TESTBIN/test-gguf" ] || skip_all "$LMU_TESTBIN/test-gguf is not built (run make test)"
"$LMU_TESTBIN/test-gguf" -w "$tmp/h" >/dev/null || { echo "not ok 1 - test-gguf -w"; echo "1..1"; exit 1; }
mkdir "$tmp/one" "$tmp/two" "$tmp/none"
cp "$tmp/h/valid-tiny-llama.gguf" "$tmp/one/model.gguf"
cp "$tmp/h/valid-tiny-llama.gguf" "$tmp/two/a.gguf"
cp "$tmp/h/valid-tiny-llama.gguf" "$tmp/two/b.gguf"
: > "$tmp/none/readme.txt"

ok "a directory with one .gguf file" lm-step -m "$tmp/one" --info
like "... is that file" "$(head -n 1 "$tmp/out")" "^file *$tmp/one/model.gguf\$"
fails "a directory with two .gguf files: exit 1" 1 lm-step -m "$tmp/two" --info
like "... the message says to name one" "$(cat "$tmp/err")" "lm-step: $tmp/two: 2 .gguf files in this directory; name one"
fails "a directory without .gguf files: exit 1" 1 lm-step -m "$tmp/none" --info
like "... the message says so" "$(cat "$tmp/err")" "lm-step: $tmp/none: no .gguf file in this directory"
ok "LM_MODEL may name the directory" env LM_MODEL="$tmp/one" lm-step --info
done_testing
