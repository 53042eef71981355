#!/bin/sh
# lm-step on Gemma 3 270M Q4_K_M (gemma3) against transformers
# (tests/lm-step-real.sh); the last prompt is of 700+ ids, past the local
# layers' window of 512 and past their ring of 767 rows once continued.
# Then a state file across the window: a long context saved and continued
# gives the logits of one run.
. "$(dirname "$0")/lib.sh"
need_model gemma3
. "$top/tests/lm-step-real.sh"
real_setup gemma3-270m "$GEMMA3"
real_checks gemma3-270m 0.5

long=$(awk '$1 == "p" && $2 == 19 { $1 = ""; $2 = ""; sub(/^  /, ""); print; exit }' "$top/tests/fixtures/fwd/gemma3-270m-greedy.txt")
n=$(echo "$long" | wc -w)
head=$(echo "$long" | cut -d' ' -f1-$((n - 100)))
tail=$(echo "$long" | cut -d' ' -f$((n - 99))-)
ok "a state of $((n - 100)) positions saved" sh -c "echo '$head' | lm-step -m '$GEMMA3' --state '$tmp/g.state' > /dev/null"
split=$(echo "$tail" | lm-step -m "$GEMMA3" --state "$tmp/g.state" --text=5)
one=$(echo "$long" | lm-step -m "$GEMMA3" --text=5)
diag "one run: $one"
diag "state:   $split"
# the same ids and scores within 1e-3 (the slices differ, so may the sums' order)
close() {
	printf '%s\n%s\n' "$1" "$2" | awk '
		{ for (i = 4; i <= NF; i++) { split($i, p, ":"); id[NR, i] = p[1]; v[NR, i] = p[2] } h[NR] = $1 " " $2; n = NF }
		END { if (h[1] != h[2]) exit 1
		      for (i = 4; i <= n; i++) { d = v[1, i] - v[2, i]; if (id[1, i] != id[2, i] || d > 1e-3 || d < -1e-3) exit 1 } }'
}
ok "continued from the state: the frame of one run" close "$split" "$one"
hs=$(od -A n -t u4 -j 12 -N 4 "$tmp/g.state" | tr -d ' ')
is "the state of $n positions: local layers keep 511, the global ones all" \
	"$(od -A n -t u4 -v -j 96 -N $((hs - 96)) "$tmp/g.state" | tr -s ' \n' '  ' | sed 's/^ //; s/ $//')" \
	"$(awk -v n=$n 'BEGIN { for (l = 0; l < 18; l++) printf "%s256 %d", l ? " " : "", (l + 1) % 6 ? 511 : n }')"
done_testing
