#!/bin/sh
# lm-run --temperature 0 against the greedy fixtures of lm-step's issue
# (tests/fixtures/fwd/smollm2-greedy.txt, made by tests/ref/model_ref.py
# with transformers): for every prompt, the user message is decoded from
# the fixture's chat prompt, lm-run generates from it, and its ids must equal
# the reference continuation up to the end of the turn, or first differ at
# a near-tie (the reference's two best logits within 0.1 there).  Prompts
# that are not chat prompts are raw completions (lm-run --raw).
. "$(dirname "$0")/lib.sh"
need_model smollm2
M=$SMOLLM2
fixture=$top/tests/fixtures/fwd/smollm2-greedy.txt

line() { awk -v k="$1" -v i="$2" '$1 == k && $2 == i { $1 = ""; $2 = ""; sub(/^ +/, ""); print; exit }' "$fixture"; }
n=$(awk '$1 == "p" { n++ } END { print n }' "$fixture")
[ "$n" -ge 20 ] || { echo "1..1"; echo "not ok 1 - fixture has $n prompts"; exit 1; }
for i in $(seq 0 $((n - 1))); do
	p=$(line p "$i")
	# the user message: the ids after "<|im_start|>user\n" (1 4093 198) up to "<|im_end|>" (2)
	user_ids=$(printf '%s\n' "$p" | awk '{ for (k = 1; k <= NF; k++) if ($k == 4093 && $(k-1) == 1 && $(k+1) == 198) { s = k + 2; break }
		if (s) for (k = s; k <= NF && $k != 2; k++) printf "%s%s", (k > s ? " " : ""), $k; print "" }')
	mode=
	if [ -z "$user_ids" ]; then  # a raw completion prompt: all of it is text
		user_ids=$p
		mode=--raw
	fi
	text=$(printf '%s\n' "$user_ids" | tok-decode -m "$M"; printf x)  # x keeps trailing newlines
	text=${text%x}
	want=$(line g "$i" | awk '{ for (k = 1; k <= NF && $k != 2; k++) printf "%s%s", (k > 1 ? " " : ""), $k; print "" }')
	nwant=$(printf '%s\n' "$want" | wc -w)
	got=$(lm-run -m "$M" $mode --temperature 0 --repeat-penalty 1 -n "$nwant" --format ids -- "$text" 2>"$tmp/err" | tr '\n' ' ' | sed 's/ $//')
	if [ "$got" = "$want" ]; then
		_result 0 "prompt $i: $nwant ids equal the reference"
		continue
	fi
	# first difference, and the reference's top-2 margin there
	pos=$(printf '%s\n%s\n' "$got" "$want" | awk 'NR == 1 { n = split($0, a) } NR == 2 { m = split($0, b);
		for (k = 1; k <= (n > m ? n : m); k++) if (a[k] != b[k]) { print k - 1; exit } }')
	margin=$(line m "$i" | awk -v p="$pos" '{ print $(p + 1) }')
	if awk -v m="$margin" 'BEGIN { exit !(m != "" && m < 0.1) }'; then
		_result 0 "prompt $i: first differs at $pos, a near-tie (margin $margin)"
	else
		_result 1 "prompt $i: lm-run equals the reference"
		diag "got:  $got"; diag "want: $want"; diag "first difference at $pos, margin $margin"; diag "$(cat "$tmp/err")"
	fi
done
done_testing
