#!/bin/sh
# loop-rate.sh - how often generation falls into a loop, under sampling
# settings given side by side: the same prompts and seeds for each.
#
#   tests/bench/loop-rate.sh [-m MODEL] [-n N] [-s "SEEDS"] -- "SETTINGS" ...
#
# Each SETTINGS is a string of lm-run options (for example
# "--repeat-penalty 1" and "--repeat-penalty 1.1").  A generation loops
# when some run of 8 token ids occurs 3 times or more in it (a repeated
# sentence or list item; ordinary text almost never repeats 8 tokens
# three times).  Prints one row per SETTINGS: generations, loops, the rate,
# and the mean length.
set -u
here=$(cd "$(dirname "$0")/../.." && pwd)
PATH=$here/bin:$PATH
model=$here/models/smollm2-135m-instruct-q4_1.gguf n=256 seeds="1 2 3 4 5"
while getopts m:n:s: o; do
	case $o in m) model=$OPTARG ;; n) n=$OPTARG ;; s) seeds=$OPTARG ;; *) exit 2 ;; esac
done
shift $((OPTIND - 1))
prompts="Write a story about a dragon.
Explain how a computer works.
List the planets of the solar system and describe each.
Write a poem about the sea.
What are the benefits of exercise?
Describe your ideal city.
Give me ten ideas for a birthday party.
Explain photosynthesis to a child.
Write a letter to a friend about your holiday.
What is the history of the internet?"
loops() {  # ids on stdin, one per line: 1 if some 8-gram occurs 3 times
	awk '{ id[NR] = $1 } END { for (i = 1; i + 7 <= NR; i++) { k = ""; for (j = 0; j < 8; j++) k = k " " id[i + j];
		if (++c[k] >= 3) { print 1; exit } } print 0 }'
}
printf '%-40s %5s %5s %6s %8s\n' settings gens loops rate "mean len"
for settings in "$@"; do
	gens=0 looped=0 total=0
	for seed in $seeds; do
		printf '%s\n' "$prompts" | while IFS= read -r p; do
			lm-run -m "$model" -n "$n" -s "$seed" $settings --format ids "$p" < /dev/null > "${TMPDIR:-/tmp}/loop-rate.$$"
			printf '%s %s\n' "$(loops < "${TMPDIR:-/tmp}/loop-rate.$$")" "$(wc -l < "${TMPDIR:-/tmp}/loop-rate.$$")"
		done
	done > "${TMPDIR:-/tmp}/loop-rate.$$.rows"
	awk -v s="$settings" '{ g++; l += $1; t += $2 } END { printf "%-40s %5d %5d %5.0f%% %8.0f\n", s, g, l, 100 * l / g, t / g }' \
		"${TMPDIR:-/tmp}/loop-rate.$$.rows"
done
rm -f "${TMPDIR:-/tmp}/loop-rate.$$" "${TMPDIR:-/tmp}/loop-rate.$$.rows"
