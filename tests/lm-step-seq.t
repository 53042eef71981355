#!/bin/sh
# Several sequences through one lm-step (lm-tokens(5) tags, lm-logits(5)
# version 2 frames): each sequence's frames equal those it gets alone, bit
# for bit, however the sequences are interleaved; !end frees a sequence;
# the pool and --parallel limits; --state of one sequence; lm-sample's
# per-sequence generations and tok-decode's per-sequence text; the fifo
# loop of several sequences closes.
. "$(dirname "$0")/lib.sh"
: "${LMU_TESTBIN:=$top/build/native/tests}"
fixture=$top/tests/fixtures/fwd/tiny-logits.txt
"$LMU_TESTBIN/test-forward" --write "$tmp" || { echo "1..0 # SKIP test-forward is not built"; exit 0; }
M=$tmp/tiny-f32-gqa-tied.gguf
ids=$(awk '$1 == "model" { f = ($2 == "tiny-f32-gqa-tied") } f && $1 == "ids" { $1 = ""; sub(/^ /, ""); print; exit }' "$fixture")
w() { echo "$ids" | cut -d' ' -f"$1"; }

# three sequences of different lengths, batches of different sizes, the
# second and third starting while the first is under way
cat > "$tmp/a" <<EOF
$(w 1-7)
$(w 8)
$(w 9-10)
$(w 11)
$(w 12-20)
EOF
cat > "$tmp/b" <<EOF
$(w 5-9)
$(w 3)
$(w 1-12)
EOF
cat > "$tmp/c" <<EOF
$(w 20-24)
$(w 2)
EOF
{ sed -n 1,2p "$tmp/a" | sed 's/^/@0 /'
  sed -n 1p "$tmp/b" | sed 's/^/@17 /'
  sed -n 3p "$tmp/a" | sed 's/^/@0 /'
  sed -n 1p "$tmp/c" | sed 's/^/@4000000000 /'
  sed -n 2,3p "$tmp/b" | sed 's/^/@17 /'
  sed -n 2p "$tmp/c" | sed 's/^/@4000000000 /'
  sed -n 4,5p "$tmp/a" | sed 's/^/@0 /'
} > "$tmp/mixed"
for s in a b c; do lm-step -m "$M" --text=96 < "$tmp/$s" > "$tmp/$s.alone"; done
ok "three sequences interleaved in one stream" sh -c "lm-step -m '$M' --parallel 3 --text=96 -t 2 < '$tmp/mixed' > '$tmp/mixed.out'"
for p in "a 0" "b 17" "c 4000000000"; do
	set -- $p
	grep "^seq=$2 " "$tmp/mixed.out" | sed "s/^seq=$2 //" > "$tmp/$1.together"
	ok "sequence $2: the same frames, bit for bit, as alone" cmp "$tmp/$1.alone" "$tmp/$1.together"
done
is "one frame per batch" "$(wc -l < "$tmp/mixed.out" | tr -d ' ')" 10
# binary frames: version 2 with the id, and untagged ones stay version 1
printf '@7 1 2 3\n4 5\n' | lm-step -m "$M" --parallel 2 > "$tmp/bin"
is "a tagged batch gives a version 2 frame: seq 7, reserved 0" "$(od -An -tx1 -N32 "$tmp/bin" | tr -d ' \n')" \
	"894c4754020000006000000003000000020000000000000007000000""00000000"
is "an untagged batch in the same stream gives a version 1 frame" \
	"$(od -An -tx1 -j$((32 + 384)) -N8 "$tmp/bin" | tr -d ' ')" 894c475401000000
is "both frames whole" "$(wc -c < "$tmp/bin" | tr -d ' ')" $((32 + 384 + 24 + 384))
is "the untagged frame belongs to sequence 0, not to 7" \
	"$(printf '@7 1 2 3\n4 5\n' | lm-step -m "$M" --parallel 2 --text=1 | sed -n 2p | cut -d' ' -f1)" "pos=1"

# !end frees a slot; limits
printf '@1 1 2\n@2 3\n@1 !end\n@3 4 5\n@2 6\n' > "$tmp/slots"
ok "!end frees a slot for a new sequence (--parallel 2, three sequences)" sh -c "lm-step -m '$M' --parallel 2 --text=1 < '$tmp/slots' > '$tmp/slots.out'"
is "frames of 1, 2, 3, 2 in that order of positions" "$(cut -d' ' -f1,2 "$tmp/slots.out" | tr '\n' ,)" \
	"seq=1 pos=1,seq=2 pos=0,seq=3 pos=1,seq=2 pos=1,"
fails "a third sequence with --parallel 2 and none ended is an error" 1 sh -c "printf '@1 1\n@2 2\n@3 3\n' | lm-step -m '$M' --parallel 2"
like "the message names the line and the way out" "$(cat "$tmp/err")" "line 3: sequence 3 cannot start: all 2 sequences are in use"
printf '@1 1 2 3 4 5 6\n@2 1 2 3 4 5\n' > "$tmp/pool"
fails "two sequences that overflow the shared pool (-c 10)" 1 sh -c "lm-step -m '$M' -c 10 --parallel 2 < '$tmp/pool'"
like "the message says the pool is full" "$(cat "$tmp/err")" "line 2: a batch of 5 ids does not fit in the KV pool (6 of 10 positions used"
ok "after !end the pool has room again" sh -c "printf '@1 1 2 3 4 5 6\n@1 !end\n@2 1 2 3 4 5 6 7 8\n' | lm-step -m '$M' -c 10 --parallel 2"
fails "an unknown directive of a sequence is an error" 1 sh -c "echo '@3 !frobnicate' | lm-step -m '$M'"
like "message lists the known ones" "$(cat "$tmp/err")" "unknown directive '!frobnicate' (known: !reset, !end)"
got=$(printf '@5 1 2 3\n@5 !reset\n@5 1 2 3\n@6 9\n' | lm-step -m "$M" --parallel 2 --text=3)
is "@S !reset resets that sequence only" "$(echo "$got" | sed -n 1p)" "$(echo "$got" | sed -n 2p)"
like "-v counts steps and sequences" "$(printf '@1 1 2\n@2 3\n' | lm-step -m "$M" --parallel 2 -v 2>&1 >/dev/null)" \
	'1 steps, 2 sequences open, 3 of 128 positions in use'

# --state of one sequence
rm -f "$tmp/s3.state"
ok "--state-seq 3 saves sequence 3" sh -c "printf '@3 $(w 1-10)\n@4 1 2\n' | lm-step -m '$M' --parallel 2 --state '$tmp/s3.state' --state-seq 3 > /dev/null"
a_split=$(printf '@3 %s\n' "$(w 11-24)" | lm-step -m "$M" --state "$tmp/s3.state" --state-seq 3 --text=96 | sed 's/^seq=3 //')
ok "and continues it in a later run" test "$a_split" = "$(echo "$ids" | lm-step -m "$M" --text=96)"

# lm-sample: a generation per tagged sequence
printf 'seq=4 pos=0 token=0 vocab=8 3:1\nseq=9 pos=0 token=0 vocab=8 5:1\nseq=4 pos=1 token=3 vocab=8 6:1\nseq=9 pos=1 token=5 vocab=8 2:1\nseq=4 pos=2 token=6 vocab=8 1:1\nseq=9 pos=2 token=2 vocab=8 7:1\n' > "$tmp/tf"
is "lm-sample answers tagged frames with '@S id' and ends each with '@S !end' (-n 2)" \
	"$(lm-sample --temperature 0 -n 2 < "$tmp/tf" | tr '\n' ,)" "@4 3,@9 5,@4 6,@4 !end,@9 2,@9 !end,"
is "frames of a sequence that is over are dropped; --sequences 1 exits at the first end" \
	"$(lm-sample --temperature 0 -n 2 --sequences 1 < "$tmp/tf" | tr '\n' ,)" "@4 3,@9 5,@4 6,@4 !end,"
printf '@4 3\n@9 2\n' > "$tmp/pids"
lm-sample --temperature 0 --logprobs "$tmp/lp" -n 1 < "$tmp/tf" > /dev/null
is "--logprobs lines name the sequence" "$(cut -f1-3 "$tmp/lp" | tr '\t\n' ' ,')" "@4 0 3,@9 0 5,"
ok "--sequences 0 is a usage error" sh -c "! lm-sample --sequences 0 < /dev/null 2>/dev/null"
echo '{"seq": 4, "max_tokens": 1}' > "$tmp/params"
is "--seq-params: a budget of its own for sequence 4, the command line's for 9" \
	"$(lm-sample --temperature 0 -n 2 --seq-params "$tmp/params" < "$tmp/tf" | tr '\n' ,)" "@4 3,@4 !end,@9 5,@9 2,@9 !end,"
i=0; : > "$tmp/flat"; : > "$tmp/flat1"
while [ $i -lt 12 ]; do
	printf 'pos=%d token=0 vocab=8 0:1 1:1 2:1 3:1 4:1 5:1 6:1 7:1\n' $i >> "$tmp/flat"
	printf 'seq=1 pos=%d token=0 vocab=8 0:1 1:1 2:1 3:1 4:1 5:1 6:1 7:1\n' $i >> "$tmp/flat1"
	i=$((i + 1))
done
echo '{"seq": 1, "seed": 5, "temperature": 1.0}' > "$tmp/params"
is "--seq-params: a seed of its own gives the ids that seed gives alone" \
	"$(lm-sample --seed 99 --seq-params "$tmp/params" < "$tmp/flat1" | cut -d' ' -f2 | tr '\n' ' ')" \
	"$(lm-sample --seed 5 --temperature 1 < "$tmp/flat" | tr '\n' ' ')"
printf '{"seq": 1}\n{"seq": -1}\n' > "$tmp/params"
fails "--seq-params: a bad line is an error" 1 lm-sample --seq-params "$tmp/params" < /dev/null
like "naming the line" "$(cat "$tmp/err")" "params:2: a JSON object with \"seq\""
echo '{"seq": 1, "temperature": 9}' > "$tmp/params"
fails "--seq-params: a value out of range is an error" 1 lm-sample --seq-params "$tmp/params" < /dev/null
like "naming the field" "$(cat "$tmp/err")" "params:1: temperature: must be a number from 0 to 2"

# the fifo loop of several sequences closes, and each gives what it gives alone
mkfifo "$tmp/loop"
for s in 0 1 2; do printf '@%d %s\n' $s "$(w $((s + 1))-$((s * 4 + 3)))"; done > "$tmp/prompts"
{ cat "$tmp/prompts"; cat "$tmp/loop"; } | lm-step -m "$M" --parallel 3 |
	lm-sample --temperature 0 --sequences 3 -n 6 | tee "$tmp/loop" > "$tmp/loop.out"
is "a loop of 3 sequences closes after 3 x (6 ids + !end)" "$(wc -l < "$tmp/loop.out" | tr -d ' ')" 21
for s in 0 1 2; do
	rm -f "$tmp/loop"; mkfifo "$tmp/loop"
	{ sed -n "$((s + 1))p" "$tmp/prompts" | sed 's/^@[0-9]* //'; cat "$tmp/loop"; } | lm-step -m "$M" |
		lm-sample --temperature 0 -n 6 | tee "$tmp/loop" > "$tmp/alone$s"
	is "sequence $s in the loop gives its ids alone" "$(grep "^@$s [0-9]" "$tmp/loop.out" | cut -d' ' -f2 | tr '\n' ' ')" \
		"$(tr '\n' ' ' < "$tmp/alone$s")"
done

# the same on SmolLM2: four chat prompts, greedy and sampled with a seed
if [ -f "$SMOLLM2" ]; then
	i=0
	for p in "Write a haiku about pipes" "What is 2+2?" "Name three colours." "Tell me a joke."; do
		printf '@%d ' $i; tok-encode -m "$SMOLLM2" --chat --user "$p"; i=$((i + 1))
	done > "$tmp/chat"
	for mode in "--temperature 0" "--temperature 0.8 --seed 42"; do
		rm -f "$tmp/loop"; mkfifo "$tmp/loop"
		{ cat "$tmp/chat"; cat "$tmp/loop"; } | lm-step -m "$SMOLLM2" --parallel 4 |
			lm-sample -m "$SMOLLM2" $mode --sequences 4 -n 24 | tee "$tmp/loop" |
			tok-decode -m "$SMOLLM2" > "$tmp/json"
		is "SmolLM2, $mode: four JSON lines" "$(wc -l < "$tmp/json" | tr -d ' ')" 4
		for s in 0 1 2 3; do
			rm -f "$tmp/loop"; mkfifo "$tmp/loop"
			{ sed -n "$((s + 1))p" "$tmp/chat" | sed 's/^@[0-9]* //'; cat "$tmp/loop"; } | lm-step -m "$SMOLLM2" |
				lm-sample -m "$SMOLLM2" $mode -n 24 | tee "$tmp/loop" | tok-decode -m "$SMOLLM2" > "$tmp/one"
			is "SmolLM2, $mode: sequence $s beside three others writes what it writes alone" \
				"$(jq -r "select(.seq == $s) | .text" "$tmp/json")" "$(cat "$tmp/one")"
		done
	done
else
	skip "SmolLM2 is missing: make model"
fi
done_testing
