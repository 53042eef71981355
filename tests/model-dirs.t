#!/bin/sh
# Every program that takes -m reads a model directory of either kind as it
# reads the model itself, the same input giving the same output byte for
# byte:
#   - a directory holding a GGUF file (SmolLM2's), against the file;
#   - a Hugging Face directory of safetensors (the tiny llama that
#     test-safetensors -w writes, with a chat template), against the GGUF
#     file lm-convert makes of it.
# lm-step, lm-sample, tok-encode, tok-decode, and the pipelines lm-run,
# lm-chat and nl2sh built on them.
. "$(dirname "$0")/lib.sh"
: "${LMU_TESTBIN:=$top/build/native/tests}"
need_model smollm2
"$LMU_TESTBIN/test-safetensors" -w "$tmp/s" >/dev/null || { echo "not ok 1 - test-safetensors -w"; echo "1..1"; exit 1; }

mkdir "$tmp/g"
ln -s "$SMOLLM2" "$tmp/g/"
hf=$tmp/s/valid-tiny-llama
# a chat template (tokenizer_config.json), so that lm-chat and nl2sh can
# talk to the tiny model
cat > "$hf/tokenizer_config.json" <<'EOF'
{"eos_token": "<eos>", "add_bos_token": false,
 "chat_template": "{% for m in messages %}{{ m['content'] }}<eos>{% endfor %}{% if add_generation_prompt %}ab{% endif %}"}
EOF
lm-convert "$hf" "$tmp/tiny.gguf" 2>"$tmp/err" || diag "lm-convert: $(cat "$tmp/err")"

# same KIND DIR FILE NAME COMMAND...: COMMAND with -m DIR and with -m FILE
# (in its words: "$M" for the model) gives the same stdout, stderr (its
# temporary files' names aside) and exit status, one of $want (default 0)
same() {
	kind=$1 dir=$2 file=$3 name=$4
	shift 4
	a=$(M=$dir sh -c "$*" 2>"$tmp/err.a"; echo "status $?")
	b=$(M=$file sh -c "$*" 2>"$tmp/err.b"; echo "status $?")
	# nl2sh names the model it was given (-m): the directory or the file
	ea=$(sed -e 's|/tmp/[^/ ]*|TMP|g' -e '/^nl2sh: model: /d' "$tmp/err.a")
	eb=$(sed -e 's|/tmp/[^/ ]*|TMP|g' -e '/^nl2sh: model: /d' "$tmp/err.b")
	case " ${want:-0} " in *" ${a##*status } "*) worked=yes ;; *) worked=no ;; esac
	if [ "$a" = "$b" ] && [ "$ea" = "$eb" ] && [ $worked = yes ]; then
		_result 0 "$kind directory: $name as from the file (${a##*status })"
	else
		_result 1 "$kind directory: $name as from the file"
		diag "directory: $(printf '%s' "$a" | tail -c 300) $(tail -c 300 "$tmp/err.a")"
		diag "file: $(printf '%s' "$b" | tail -c 300) $(tail -c 300 "$tmp/err.b")"
	fi
}

# all KIND DIR FILE TEXT IDS NL2SH-STATUSES
all() {
	kind=$1 dir=$2 file=$3 text=$4 ids=$5
	same "$kind" "$dir" "$file" "lm-step --info's weights" 'lm-step -m "$M" --info | grep "^blk\.0\."'
	same "$kind" "$dir" "$file" "lm-step" "echo '$ids' | lm-step -m \"\$M\" -t 1 --text=5"
	same "$kind" "$dir" "$file" "lm-sample" \
		"echo '$ids' | lm-step -m \"\$M\" -t 1 --text=20 | lm-sample -m \"\$M\" --temperature 0"
	same "$kind" "$dir" "$file" "tok-encode" "tok-encode -m \"\$M\" -- '$text'"
	same "$kind" "$dir" "$file" "tok-decode" "echo '$ids' | tok-decode -m \"\$M\""
	same "$kind" "$dir" "$file" "lm-run" \
		"lm-run -m \"\$M\" -t 1 --raw --temperature 0 --repeat-penalty 1 --ignore-eos -n 6 --format ids -- '$text' </dev/null"
	same "$kind" "$dir" "$file" "lm-chat" \
		"printf '%s\n' '$text' | lm-chat -m \"\$M\" -t 1 --temperature 0 --repeat-penalty 1 -n 6"
	want=$6 same "$kind" "$dir" "$file" "nl2sh" "NL2SH_STATE=0 nl2sh -m \"\$M\" -t 1 -v -p '$text' </dev/null"
}

all GGUF "$tmp/g" "$SMOLLM2" "list the files here" "1 2 3 4" "0 3 4 5"
# nl2sh: the tiny model cannot write a command (status 1), the same way
all safetensors "$hf" "$tmp/tiny.gguf" "abab" "0 1 2" 1
done_testing
