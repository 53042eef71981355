#!/bin/sh
# Top-k frames (lm-step --top K, lm-logits(5) version 3) on SmolLM2: a
# generation loop gives the ids whole frames give, greedy and sampled,
# with the same log-probabilities; lm-sample refuses what it cannot sample
# exactly.
. "$(dirname "$0")/lib.sh"
need_model smollm2
M=$SMOLLM2

prompt() { tok-encode -m "$M" --chat --user "$1"; }

# loop PROMPT_IDS TOP SAMPLE_ARGS...: 24 ids of a generation loop
loop() {
	_p=$1 _top=$2
	shift 2
	rm -f "$tmp/fifo"; mkfifo "$tmp/fifo"
	{ echo "$_p"; cat "$tmp/fifo"; } | lm-step -m "$M" -t 1 $_top | lm-sample -m "$M" -n 24 --ignore-eos "$@" |
		tee "$tmp/fifo" | tr '\n' ' '
}

for q in "Write a poem about the sea." "List three prime numbers." "What is a fifo?"; do
	p=$(prompt "$q")
	is "greedy, --top 8: the ids of whole frames ($q)" "$(loop "$p" "--top 8" --temperature 0)" \
		"$(loop "$p" "" --temperature 0)"
	is "top-k 40 without a penalty, --top 40: the ids of whole frames ($q)" \
		"$(loop "$p" "--top 40" --seed 11 --repeat-penalty 1)" "$(loop "$p" "" --seed 11 --repeat-penalty 1)"
	is "min-p 0.1 alone at temperature 0.7, --top 32: the ids of whole frames ($q)" \
		"$(loop "$p" "--top 32" --seed 5 --temperature 0.7 --top-k 0 --top-p 1 --min-p 0.1)" \
		"$(loop "$p" "" --seed 5 --temperature 0.7 --top-k 0 --top-p 1 --min-p 0.1)"
done

# --show-settings' exact-top: every frame of that many ids is taken (the
# defaults: top-k 40 and 64 ids of the window the penalty may push down)
k=$(lm-sample -m "$M" --show-settings | sed -n 's/^exact-top=//p')
is "exact-top of the defaults" "$k" 104
p=$(prompt "Write a poem about the sea.")
is "defaults, --top $k (exact-top): the ids of whole frames" "$(loop "$p" "--top $k" --seed 3)" \
	"$(loop "$p" "" --seed 3)"

# log-probabilities: the normaliser includes the ids left out
p=$(prompt "Name a colour.")
echo "$p" | lm-step -m "$M" --top 16 | lm-sample -m "$M" --temperature 0 --logprobs "$tmp/lp.top" > /dev/null
echo "$p" | lm-step -m "$M" | lm-sample -m "$M" --temperature 0 --logprobs "$tmp/lp.full" > /dev/null
ok "--logprobs wrote a line for each" sh -c "test -s '$tmp/lp.top' && test -s '$tmp/lp.full'"
ok "--logprobs of a top-16 frame = of the whole frame (to 1e-5)" awk '
	NR == FNR { n = split($0, a, /[\t :]/); for (i = 1; i <= n; i++) w[i] = a[i]; next }
	{ n = split($0, a, /[\t :]/); for (i = 1; i <= n; i++) { d = a[i] - w[i]; if (d > 1e-5 || d < -1e-5) exit 1 } }
	' "$tmp/lp.full" "$tmp/lp.top"

# the selection runs on lm-step's threads: the same frames whatever -t
# (whole frames are: the products do not depend on the thread count)
printf '%s\n5 6 7\n8\n' "$p" > "$tmp/batches"
lm-step -m "$M" -t 1 < "$tmp/batches" > "$tmp/whole1"
lm-step -m "$M" -t 1 --top 104 < "$tmp/batches" > "$tmp/top1"
for t in 2 3; do
	lm-step -m "$M" -t $t < "$tmp/batches" > "$tmp/whole$t"
	ok "whole frames at -t $t: the bytes of -t 1" cmp "$tmp/whole1" "$tmp/whole$t"
	lm-step -m "$M" -t $t --top 104 < "$tmp/batches" > "$tmp/top$t"
	ok "top-104 frames at -t $t: the bytes of -t 1" cmp "$tmp/top1" "$tmp/top$t"
done

# tagged frames keep their sequence
got=$(echo "@7 $p" | lm-step -m "$M" --top 4 | lm-sample -m "$M" --temperature 0 -n 1)
want=$(echo "$p" | lm-step -m "$M" | lm-sample -m "$M" --temperature 0 -n 1)
is "a tagged batch gives a tagged top-k frame, answered as sequence 7" "$(echo "$got" | head -n 1)" "@7 $want"

# refusals
echo "$p" | lm-step -m "$M" --top 5 > "$tmp/top5"
fails "defaults (top-k 40) from a top-5 frame: refused" 1 lm-sample -m "$M" < "$tmp/top5"
like "the message says why and what to do" "$(lm-sample -m "$M" < "$tmp/top5" 2>&1)" \
	'lists the 5 best of 49152 ids.*--top-k is larger.*larger --top'
fails "temperature 1 over the whole distribution: refused" 1 lm-sample --temperature 1 --top-k 0 --top-p 1 --min-p 0 < "$tmp/top5"
fails "--top-logprobs 6 from a top-5 frame: refused" 1 lm-sample --temperature 0 --logprobs /dev/null --top-logprobs 6 < "$tmp/top5"
ok "greedy from a top-5 frame: accepted" sh -c "lm-sample --temperature 0 < '$tmp/top5'"
fails "--text and --top together: a usage error" 2 lm-step -m "$M" --text=3 --top 3
fails "--top 0: a usage error" 2 lm-step -m "$M" --top 0
done_testing
