#!/bin/sh
# The porcelain (lm-run, lm-chat, nl2sh) when a stage fails: each stage of
# each script is made to fail, at once and in the middle of the loop, and
# the script must end by itself with that stage's exit status (timeout
# only guards against a hang: 124 means it hung).  Then the real failures
# of issue 18: a missing model, a file that is not GGUF, a model lm-step
# refuses, empty prompts.
#
# A failing stage is a stub found first through LMU_EXEC_PATH (the way the
# porcelain finds its stages): it runs the real program and fails with
# status 7 after FAIL_AT lines of its input (FAIL_SIDE=in) or of its output
# (out), or at once (FAIL_AT=0).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/porcelain.sh"
need_model smollm2
unset LM_MODEL
M=$SMOLLM2
if pipeline_missing; then
	skip_all "the whole pipeline: $why"
fi
# a private TMPDIR, to see that the scripts clean up after themselves
TMPDIR=$tmp/tmpdir; export TMPDIR; mkdir "$TMPDIR"

stub=$tmp/stub
mkdir "$stub"
for p in tok-encode lm-step lm-sample tok-decode cmd-extract; do
	ln -s "$(command -v "$p")" "$stub/$p"
done
cat > "$tmp/fail-stub" <<'STUB'
#!/bin/sh
real=$REAL_DIR/${0##*/}
if [ "$FAIL_AT" = 0 ]; then echo "${0##*/}: stub failure" >&2; exit 7; fi
count() {
	n=0
	while IFS= read -r l; do
		printf '%s\n' "$l" || exit 0
		n=$((n + 1))
		[ "$n" -lt "$FAIL_AT" ] || { : > "$flag"; exit 0; }
	done
}
flag=$(mktemp "${TMPDIR:-/tmp}/stubflag.XXXXXX")
rm -f "$flag"
if [ "$FAIL_SIDE" = in ]; then count | "$real" "$@"; else "$real" "$@" | count; fi
st=$?
[ -e "$flag" ] || exit "$st"
rm -f "$flag"
echo "${0##*/}: stub failure" >&2
exit 7
STUB
chmod +x "$tmp/fail-stub"
REAL_DIR=$tmp/real
mkdir "$REAL_DIR"
for p in tok-encode lm-step lm-sample tok-decode cmd-extract; do
	ln -s "$(command -v "$p")" "$REAL_DIR/$p"
done
export REAL_DIR

# fail STAGE AT SIDE: the stub dir with STAGE failing
fail() {
	rm -f "$stub/$1"
	cp "$tmp/fail-stub" "$stub/$1"
	FAIL_AT=$2 FAIL_SIDE=$3
	export FAIL_AT FAIL_SIDE
}
restore() { rm -f "$stub/$1"; ln -s "$REAL_DIR/$1" "$stub/$1"; }

# ends NAME STATUS CMD...: CMD ends by itself (within 20 s; timings in the
# TAP comments) with STATUS, and says why on stderr
ends() {
	_name=$1 _want=$2
	shift 2
	_t0=$(date +%s%N)
	timeout 20 "$@" > "$tmp/out" 2> "$tmp/err" < "${STDIN:-/dev/null}"
	_st=$?
	_ms=$((($(date +%s%N) - _t0) / 1000000))
	if [ "$_st" = "$_want" ]; then
		_result 0 "$_name: status $_want, ended in ${_ms} ms"
	else
		_result 1 "$_name: status $_want"
		diag "got status $_st after ${_ms} ms (124: it hung): $*"
		diag "$(tail -n 5 "$tmp/err")"
	fi
}
ex="env LMU_EXEC_PATH=$stub"

echo 'Name three colours.' > "$tmp/stdin"
for stage in tok-encode lm-step lm-sample tok-decode; do
	case $stage in
	tok-encode) modes="0:in" ;;
	lm-sample) modes="0:in 2:out" ;;
	*) modes="0:in 2:in" ;;
	esac
	for mode in $modes; do
		fail "$stage" "${mode%%:*}" "${mode#*:}"
		what="$stage fails $([ "${mode%%:*}" = 0 ] && echo at once || echo "after ${mode%%:*} lines of its ${mode#*:}put")"
		ends "lm-run, $what" 7 $ex lm-run -m "$M" -t 2 --temperature 0 --ignore-eos -n 8 "Name three colours."
		like "lm-run, $what: its message is shown" "$(cat "$tmp/err")" ": stub failure"
		# (with --format json, tok-decode reads one line: the whole reply)
		if [ "$stage:$mode" != tok-decode:2:in ]; then
			ends "lm-run --format json, $what" 7 $ex lm-run -m "$M" -t 2 --temperature 0 --ignore-eos -n 8 --format json "Hi"
			is "lm-run --format json, $what: no JSON printed" "$(cat "$tmp/out")" ""
		fi
		STDIN=$tmp/stdin ends "lm-chat, $what" 7 $ex lm-chat -m "$M" -t 2 --temperature 0 --ignore-eos -n 8
		ends "nl2sh -p, $what" 7 $ex nl2sh -m "$M" -t 2 -p "list the files"
		ends "nl2sh, $what" 7 $ex nl2sh -m "$M" -t 2 "list the files"
		restore "$stage"
	done
done
fail cmd-extract 0 in
ends "nl2sh, cmd-extract fails" 1 $ex nl2sh -m "$M" -t 2 -p "list the files"
like "... says there is no usable command" "$(cat "$tmp/err")" "no usable command"
restore cmd-extract

# the real failures
echo "not a model" > "$tmp/notgguf"
for s in lm-run nl2sh lm-chat; do
	STDIN=$tmp/stdin ends "$s -m /nope" 1 $s -m "$tmp/nope" ${s#lm-chat}
	like "$s -m /nope names the file" "$(cat "$tmp/err")" "nope.*no such file"
	STDIN=$tmp/stdin ends "$s -m NOT-GGUF" 1 $s -m "$tmp/notgguf" ${s#lm-chat}
	like "$s -m NOT-GGUF says so" "$(cat "$tmp/err")" 'not a GGUF file'
done
# a model lm-step refuses: a Hugging Face directory whose tokenizer works
# but whose config.json names an architecture lm-step does not run (the
# tiny llama of test-safetensors -w, renamed)
: "${LMU_TESTBIN:=$top/build/native/tests}"
if "$LMU_TESTBIN/test-safetensors" -w "$tmp/st" > /dev/null; then
	R=$tmp/st/valid-tiny-llama
	sed 's/LlamaForCausalLM/Qwen3MoeForCausalLM/' "$R/config.json" > "$tmp/config" && mv "$tmp/config" "$R/config.json"
	ends "lm-run --raw, a model lm-step refuses" 1 lm-run -m "$R" --raw ab
	like "... with lm-step's message naming the architecture" "$(cat "$tmp/err")" \
		"^lm-step: $R/config.json: architecture Qwen3MoeForCausalLM is not supported"
	STDIN=$tmp/stdin ends "lm-chat, a model lm-step refuses" 1 lm-chat -m "$R"
	ends "nl2sh, a model lm-step refuses" 1 nl2sh -m "$R" "list the files"
else
	_result 1 "test-safetensors -w wrote the tiny model directory"
fi

ends "lm-run --raw \"\"" 2 lm-run -m "$M" --raw ""
like "... says the prompt is empty" "$(cat "$tmp/err")" "prompt is empty"
ends "lm-run \"\"" 2 lm-run -m "$M" ""
ends "lm-run, empty stdin" 2 lm-run -m "$M"
like "... says the prompt is empty" "$(cat "$tmp/err")" "prompt is empty"
printf '\n\n' > "$tmp/blank"
STDIN=$tmp/blank ends "lm-run, stdin of blank lines" 2 lm-run -m "$M"
STDIN=$tmp/blank ends "lm-run --raw, stdin of blank lines is a prompt" 0 lm-run -m "$M" -t 2 --raw -n 2
ends "nl2sh \"\"" 2 nl2sh -m "$M" ""
ends "a prompt longer than the context" 1 lm-run -m "$M" -c 16 "Tell me about the history of the city of Rome in many words."
like "... says so in tokens" "$(cat "$tmp/err")" "the prompt is [0-9]* tokens, and the context holds 16"
ends "a full context ends the reply" 0 lm-run -m "$M" -t 2 -c 40 -n 0 --ignore-eos --format json "Tell me a story."
is "... with finish_reason length" "$(jq -r '.choices[0].finish_reason' "$tmp/out")" length
is "... the context filled: prompt + reply = 40" "$(jq -r '.usage.total_tokens' "$tmp/out")" 40

ls "$TMPDIR" | grep -v '^stubflag' > "$tmp/left" || true
is "no temporary directory left behind" "$(cat "$tmp/left")" ""
done_testing
