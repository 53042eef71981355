#!/bin/sh
# lm-sample --constrain json-cmd on the real model, in the real loop: every
# generation, greedy or sampled, is a JSON object whose "cmd" is a string.
. "$(dirname "$0")/lib.sh"
need_model smollm2
M=$SMOLLM2
command -v jq >/dev/null || skip_all "jq is not installed (tests/install-deps.sh installs it)"

gen() { # request, then lm-sample options
	req=$1; shift
	rm -f "$tmp/loop"; mkfifo "$tmp/loop"
	{ tok-encode -m "$M" --chat --system 'Answer with JSON {"cmd": "..."} holding one shell command.' "$req"
	  cat "$tmp/loop"; } |
	  lm-step -m "$M" -t 1 | lm-sample -m "$M" -n 48 --constrain json-cmd "$@" 2>"$tmp/gen.err" |
	  tee "$tmp/loop" | tok-decode -m "$M"
}

n=0
for req in "list all files" "show disk usage" "find rust files changed today" "count lines in main.c"; do
	for opt in "--temperature 0 --repeat-penalty 1.3" "--seed 1 --temperature 1.0" "--seed 7 --temperature 1.5 --top-k 0 --top-p 1 --min-p 0"; do
		# shellcheck disable=SC2086
		out=$(gen "$req" $opt)
		n=$((n + 1))
		if printf '%s' "$out" | jq -e 'type == "object" and (.cmd | type == "string") and (keys == ["cmd"])' >/dev/null 2>&1; then
			_result 0 "'$req' with $opt: valid JSON {cmd: string}"
		else
			_result 1 "'$req' with $opt: valid JSON {cmd: string}"
			diag "output: $out"
			diag "$(cat "$tmp/gen.err")"
		fi
	done
done
# {"cmd":"x"} is 11 bytes: with 11 tokens every one must bring the end closer
out=$(gen "write a long command" --seed 3 --temperature 1.2 -n 11)
is "a token limit of 11 still gives a JSON object with a string cmd" "$(printf '%s' "$out" | jq -r '.cmd | type' 2>&1)" string
like "... and says it closed the value early" "$(cat "$tmp/gen.err")" 'closing the JSON value early'
fails "--constrain needs -m" 2 env -u LM_MODEL lm-sample --constrain json-cmd
fails "--constrain excludes --ignore-eos" 2 lm-sample -m "$M" --constrain json-cmd --ignore-eos
fails "an unknown shape is a usage error" 2 lm-sample -m "$M" --constrain yaml
done_testing
