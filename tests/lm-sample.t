#!/bin/sh
# lm-sample on synthetic logits frames (text frames by printf, binary ones
# by perl's pack), with the SmolLM2 vocabulary for end-of-generation ids
# and stop strings.
. "$(dirname "$0")/lib.sh"
need_model smollm2
unset LM_MODEL

# binary frame: token pos score...
frame() {
	perl -e 'my ($t, $p, @s) = @ARGV; print pack("a4 V V l< Q< f<*", "\x89LGT", 1, scalar @s, $t, $p, @s)' "$@"
}
# a text frame over the SmolLM2 vocabulary whose best id is $1
best() { printf 'pos=%d token=0 vocab=49152 %d:10 100:1\n' "${2:-0}" "$1"; }
ids() { tr '\n' ' ' < "$1" | sed 's/ $//'; }

printf 'pos=0 token=5 vocab=10 3:1.5 7:2.5 1:2.5\npos=1 token=1 vocab=10 2:0.5\n' > "$tmp/text"
ok "text frames, greedy" lm-sample --temperature 0 < "$tmp/text"
is "greedy ids, ties to the lowest id" "$(ids "$tmp/out")" "1 2"

{ frame 0 0 1 3 2 3; frame 1 1 -1 -2 0.5 0.25; } > "$tmp/bin"
ok "binary frames, greedy" lm-sample --temperature 0 < "$tmp/bin"
is "binary greedy ids" "$(ids "$tmp/out")" "1 2"
{ frame 0 0 1 3 2 3; printf 'pos=1 token=1 vocab=4 0:5\n'; frame 1 2 0 0 0 9; } > "$tmp/mixed"
ok "binary and text frames mixed" lm-sample --temperature 0 < "$tmp/mixed"
is "mixed ids" "$(ids "$tmp/out")" "1 0 3"
ok "-n 2 stops after two ids" lm-sample --temperature 0 -n 2 < "$tmp/mixed"
is "-n 2 ids" "$(ids "$tmp/out")" "1 0"
ok "top-k 1 at temperature 2 is greedy" lm-sample --temperature 2 --top-k 1 < "$tmp/mixed"
is "top-k 1 ids" "$(ids "$tmp/out")" "1 0 3"

# end of generation: <|im_end|> (id 2) is an end-of-generation id of SmolLM2
{ best 19556; best 905; best 2; best 17; } > "$tmp/eog"
ok "stops on <|im_end|>" lm-sample -m "$SMOLLM2" --temperature 0 < "$tmp/eog"
is "the end-of-generation id is not printed" "$(ids "$tmp/out")" "19556 905"
ok "--ignore-eos goes on" lm-sample -m "$SMOLLM2" --temperature 0 --ignore-eos < "$tmp/eog"
is "--ignore-eos prints it" "$(ids "$tmp/out")" "19556 905 2 17"
ok "LM_MODEL is the default model" env LM_MODEL="$SMOLLM2" lm-sample --temperature 0 < "$tmp/eog"
is "LM_MODEL: stops on <|im_end|>" "$(ids "$tmp/out")" "19556 905"
ok "without a model nothing is end-of-generation" lm-sample --temperature 0 < "$tmp/eog"
is "no model: all ids" "$(ids "$tmp/out")" "19556 905 2 17"

# stop strings on decoded text: "Hello" " ST" "OP" "!"
{ best 19556; best 5022; best 7627; best 17; } > "$tmp/stop"
ok "stop string across tokens" lm-sample -m "$SMOLLM2" --temperature 0 --stop " STOP" < "$tmp/stop"
is "the token completing the stop string is not printed" "$(ids "$tmp/out")" "19556 5022"
ok "stop string inside one token" lm-sample -m "$SMOLLM2" --temperature 0 --stop ell < "$tmp/stop"
is "nothing printed" "$(ids "$tmp/out")" ""
ok "several stop strings, the first seen wins" lm-sample -m "$SMOLLM2" --temperature 0 --stop "!" --stop "OP" < "$tmp/stop"
is "stops at OP" "$(ids "$tmp/out")" "19556 5022"
ok "a stop string never seen" lm-sample -m "$SMOLLM2" --temperature 0 --stop "STOP!?" < "$tmp/stop"
is "all ids" "$(ids "$tmp/out")" "19556 5022 7627 17"
fails "--stop needs a model" 2 lm-sample --stop x < "$tmp/stop"

# log-probabilities: a side file, never the id stream
printf 'pos=0 token=3 vocab=4 0:0 1:0 2:0 3:0\npos=1 token=0 vocab=4 2:0 3:0\n' > "$tmp/lp"
ok "--logprobs FILE" lm-sample --temperature 0 --logprobs "$tmp/lp.out" --top-logprobs 2 < "$tmp/lp"
is "ids alone on stdout" "$(ids "$tmp/out")" "0 2"
is "log-probabilities with the two best" "$(cat "$tmp/lp.out")" "$(printf '0\t0\t-1.386294\t0:-1.386294 1:-1.386294\n1\t2\t-0.693147\t2:-0.693147 3:-0.693147')"
lm-sample --temperature 0 --logprobs - < "$tmp/lp" > "$tmp/o2" 2> "$tmp/e2"
is "--logprobs - writes to stderr" "$(wc -l < "$tmp/e2" | tr -d ' '):$(ids "$tmp/o2")" "2:0 2"

# seeds: 40 frames of 8 equal scores
i=0; : > "$tmp/flat"
while [ $i -lt 40 ]; do printf 'pos=%d token=0 vocab=8 0:1 1:1 2:1 3:1 4:1 5:1 6:1 7:1\n' $i >> "$tmp/flat"; i=$((i + 1)); done
a=$(lm-sample --seed 7 < "$tmp/flat" | tr '\n' ' ')
b=$(lm-sample --seed 7 < "$tmp/flat" | tr '\n' ' ')
c=$(lm-sample --seed 8 < "$tmp/flat" | tr '\n' ' ')
is "same seed, same ids" "$a" "$b"
is "40 ids" "$(printf '%s' "$a" | wc -w | tr -d ' ')" 40
if [ "$a" != "$c" ]; then _result 0 "different seeds, different ids"; else _result 1 "different seeds, different ids"; fi
# fixed on every machine: the generator is lmutils' own
is "seed 7 gives the same ids as when this test was written" "$(lm-sample --seed 7 --repeat-penalty 1 -n 8 < "$tmp/flat" | tr '\n' ' ')" "5 2 6 7 7 6 0 0 "

# penalties and the prompt window
printf 'pos=0 token=0 vocab=3 0:2 1:1.9 2:0\n' > "$tmp/pen"
echo "0 2" > "$tmp/prompt"
ok "repeat penalty over prompt ids" lm-sample --temperature 0 --repeat-penalty 1.1 --prompt-ids "$tmp/prompt" < "$tmp/pen"
is "id 0 of the prompt is penalised" "$(ids "$tmp/out")" "1"
ok "no prompt ids" lm-sample --temperature 0 --repeat-penalty 1.1 < "$tmp/pen"
is "nothing penalised" "$(ids "$tmp/out")" "0"
printf 'pos=0 token=0 vocab=3 0:2 1:1.9 2:0\npos=1 token=0 vocab=3 0:2 1:1.9 2:0\n' > "$tmp/pen2"
ok "its own ids count" lm-sample --temperature 0 --presence-penalty 0.5 < "$tmp/pen2"
is "the second choice avoids the first" "$(ids "$tmp/out")" "0 1"
fails "with a model, a frame of another vocabulary is an error" 1 lm-sample -m "$SMOLLM2" --temperature 0 < "$tmp/pen"
like "... that says so" "$(cat "$tmp/err")" "3 scores, but the vocabulary of .* has 49152 tokens"
fails "missing prompt ids file" 1 lm-sample --prompt-ids "$tmp/nonexistent" < "$tmp/pen"
printf '99999\n' > "$tmp/badprompt"
fails "prompt id out of the model's range" 1 lm-sample -m "$SMOLLM2" --prompt-ids "$tmp/badprompt" < "$tmp/pen"
like "message names the file and line" "$(cat "$tmp/err")" "badprompt: token stream line 1: id 99999 is out of range"
printf '2000000000\n' > "$tmp/hugeprompt"
fails "without a model, a prompt id beyond any vocabulary is refused" 1 lm-sample --prompt-ids "$tmp/hugeprompt" < "$tmp/pen"

# malformed input
frame 0 0 1 2 3 4 | head -c 30 > "$tmp/cut"
fails "truncated binary frame" 1 lm-sample < "$tmp/cut"
like "message says cut short" "$(cat "$tmp/err")" 'lm-sample: logits stream byte 0: frame cut short'
frame 0 0 1 2 | head -c 10 > "$tmp/cuthdr"
fails "truncated header" 1 lm-sample < "$tmp/cuthdr"
printf 'hello\n' > "$tmp/junk"
fails "not a frame" 1 lm-sample < "$tmp/junk"
like "message names the byte" "$(cat "$tmp/err")" 'not a logits frame'
printf 'pos=0 token=0 vocab=4 0:1 9:2\n' > "$tmp/badid"
fails "text frame id out of range" 1 lm-sample < "$tmp/badid"
printf 'pos=0 token=0 vocab=4 0:1' > "$tmp/nonl"
fails "text frame without newline" 1 lm-sample < "$tmp/nonl"
printf 'pos=0 token=0 vocab=4\n' > "$tmp/empty"
fails "a frame with no finite score" 1 lm-sample < "$tmp/empty"
like "message says no finite score" "$(cat "$tmp/err")" 'no finite score'
{ frame 0 0 1 3 2 3; frame 1 1 1 nan 2; } > "$tmp/nan"
fails "a NaN score in a binary frame is refused (lm-logits(5))" 1 lm-sample --temperature 0 < "$tmp/nan"
is "... after the id of the frame before it" "$(ids "$tmp/out")" "1"
like "... naming the frame's byte and the id" "$(cat "$tmp/err")" 'lm-sample: logits stream byte 40: the score of id 1 is NaN'
printf 'pos=0 token=0 vocab=4 0:1\000 3:9\n' > "$tmp/nul"
fails "a NUL byte in a text frame is refused, not taken as the frame's end" 1 lm-sample --temperature 0 < "$tmp/nul"
like "... naming the line" "$(cat "$tmp/err")" 'lm-sample: logits stream line 1: NUL byte in a text frame'
perl -e 'print pack("a4 V V l< Q<", "\x89LGT", 1, 4000000000, 0, 0)' > "$tmp/huge"
fails "huge vocabulary refused before allocating" 1 lm-sample < "$tmp/huge"
ok "empty input is a normal end" lm-sample < /dev/null
is "nothing printed" "$(cat "$tmp/out")" ""

# the stream rules
{ lm-sample --temperature 0 < "$tmp/flat" 2> "$tmp/pipe.err"; echo $? > "$tmp/pipe.st"; } | head -n 1 > /dev/null
is "closed downstream: exit 0" "$(cat "$tmp/pipe.st")" 0
is "closed downstream: no message" "$(cat "$tmp/pipe.err")" ""
if [ -w /dev/full ]; then
	fails "write error: exit 1" 1 sh -c 'lm-sample --temperature 0 < "$1" > /dev/full' sh "$tmp/flat"
	like "write error message" "$(cat "$tmp/err")" 'lm-sample: .*No space left on device'
else
	skip "no /dev/full"; skip "no /dev/full"
fi
# -n reached: exit at once, without waiting for the end of the input (the
# fifo loop depends on it); timeout only guards against a hang
mkfifo "$tmp/held"
{ cat "$tmp/mixed"; sleep 20; } > "$tmp/held" &
writer=$!
timeout 10 lm-sample --temperature 0 -n 3 < "$tmp/held" > "$tmp/held.out"
st=$?
kill $writer 2>/dev/null
is "-n reached: exits while its input is still open" "$st:$(ids "$tmp/held.out")" "0:1 0 3"

# usage
fails "negative temperature" 2 lm-sample --temperature -1
fails "top-p above 1" 2 lm-sample --top-p 1.5
fails "top-k not a number" 2 lm-sample --top-k x
fails "unknown option" 2 lm-sample --no-such-option
fails "an argument" 2 lm-sample foo
ok "-h prints usage" lm-sample -h
like "usage line" "$(cat "$tmp/out")" '^usage: lm-sample'
ok "-V prints a version" lm-sample -V
like "version line" "$(cat "$tmp/out")" '^lm-sample (lmutils) '
# the settings in force: options over the model's recommendation over the
# defaults (a repetition penalty of 1.1 over 64 ids, so that small models
# do not loop); SmolLM2 recommends nothing
ok "--show-settings" lm-sample --show-settings --temp 0.3
like "... an option" "$(cat "$tmp/out")" "temperature=0.3 (option)"
like "... the default repetition penalty" "$(cat "$tmp/out")" "repeat-penalty=1.1 (default)"
like "... over 64 ids" "$(cat "$tmp/out")" "repeat-last-n=64 (default)"
ok "--show-settings with a model that recommends nothing" lm-sample -m "$SMOLLM2" --show-settings -s 4
is "... the defaults" "$(cat "$tmp/out")" "temperature=0.8 (default)
top-k=40 (default)
top-p=0.95 (default)
min-p=0.05 (default)
repeat-penalty=1.1 (default)
presence-penalty=0 (default)
frequency-penalty=0 (default)
repeat-last-n=64 (default)
seed=4 (option)
exact-top=104"
# exact-top: the smallest lm-step --top K whose every frame is taken
ok "--show-settings, greedy without penalties" lm-sample --show-settings --temp 0 --repeat-penalty 1
like "... exact-top=1" "$(cat "$tmp/out")" "exact-top=1\$"
ok "--show-settings, greedy with --logprobs" lm-sample --show-settings --temp 0 --repeat-penalty 1 --logprobs - --top-logprobs 5
like "... exact-top=5 (the alternatives listed)" "$(cat "$tmp/out")" "exact-top=5\$"
ok "--show-settings, no top-k" lm-sample --show-settings --top-k 0
like "... exact-top=0" "$(cat "$tmp/out")" "exact-top=0\$"
ok "--show-settings, --constrain json-cmd" lm-sample -m "$SMOLLM2" --show-settings --temp 0 --constrain json-cmd
like "... exact-top=0" "$(cat "$tmp/out")" "exact-top=0\$"
# a model directory's generation_config.json (Qwen2.5-Coder-Instruct's
# settings) under the options
d=$tmp/modeldir
mkdir "$d"
gzip -dc "$top/tests/fixtures/tok/smollm2-tokenizer.json.gz" > "$d/tokenizer.json"
cp "$top/tests/fixtures/tok/smollm2-tokenizer_config.json" "$d/tokenizer_config.json"
printf '{"do_sample": true, "repetition_penalty": 1.05, "temperature": 0.7, "top_p": 0.8, "top_k": 20}\n' \
	> "$d/generation_config.json"
ok "--show-settings of a model directory" lm-sample -m "$d" --show-settings --top-k 3
is "... the model's settings under the option" "$(head -n 5 "$tmp/out")" "temperature=0.7 (model)
top-k=3 (option)
top-p=0.8 (model)
min-p=0.05 (default)
repeat-penalty=1.05 (model)"
printf '{"temperature": "hot"}' > "$d/generation_config.json"
ok "a bad generation_config.json is a warning" lm-sample -m "$d" --show-settings
like "... naming the key" "$(cat "$tmp/err")" "temperature: not a number"
like "... and the defaults stay" "$(cat "$tmp/out")" "temperature=0.8 (default)"

# --feed FILE: the ids again, first, less each generation's last (the
# generation loop's fifo to lm-step, without tee)
printf 'pos=0 token=0 vocab=4 2:1\npos=1 token=2 vocab=4 1:1\npos=2 token=1 vocab=4 3:1\n' > "$tmp/three"
is "--feed: stdout has every id" "$(lm-sample -m '' --temperature 0 -n 2 --feed "$tmp/fed" < "$tmp/three" | tr '\n' ' ')" "2 1 "
is "... the feed all but the one that ends the generation" "$(tr '\n' ' ' < "$tmp/fed")" "2 "
lm-sample -m '' --temperature 0 --feed "$tmp/fed" < "$tmp/three" > /dev/null
is "... and every id when the frames end first" "$(tr '\n' ' ' < "$tmp/fed")" "2 1 3 "
printf 'seq=1 pos=0 token=0 vocab=4 2:1\nseq=2 pos=0 token=0 vocab=4 3:1\nseq=1 pos=1 token=2 vocab=4 1:1\nseq=2 pos=1 token=3 vocab=4 0:1\n' > "$tmp/tagged"
lm-sample -m '' --temperature 0 -n 2 --sequences 2 --feed "$tmp/fed" < "$tmp/tagged" > "$tmp/tagged.out"
is "tagged sequences: the feed has each one's ids but the last, and its !end" "$(tr '\n' ' ' < "$tmp/fed")" \
	"@1 2 @2 3 @1 !end @2 !end "
is "... stdout all of them" "$(tr '\n' ' ' < "$tmp/tagged.out")" "@1 2 @2 3 @1 1 @1 !end @2 0 @2 !end "
is "--feed /dev/fd/N writes to descriptor N" \
	"$(lm-sample -m '' --temperature 0 -n 2 --feed /dev/fd/3 < "$tmp/three" 3>&1 > /dev/null | tr '\n' ' ')" "2 "
fails "--feed /dev/fd/N of a closed descriptor is an error" 1 lm-sample -m '' --feed /dev/fd/7 < "$tmp/three"
like "... naming it" "$(cat "$tmp/err")" '^lm-sample: --feed /dev/fd/7: Bad file descriptor$'
fails "--feed into a missing directory is an error" 1 lm-sample -m '' --feed "$tmp/no/such" < "$tmp/three"
# a feed whose reader has gone (lm-step failed): lm-sample stops at its
# first id, quietly (the fifo is opened by a reader on fd 4, then that closes)
mkfifo "$tmp/gone"
(exec 4<> "$tmp/gone" 3> "$tmp/gone" 4<&-
 lm-sample -m '' --temperature 0 --feed /dev/fd/3 < "$tmp/flat" > "$tmp/fedout" 2> "$tmp/feederr"; echo $? > "$tmp/st")
is "a feed with no reader ends lm-sample, status 0" "$(cat "$tmp/st")" 0
is "... before the id goes to stdout" "$(wc -c < "$tmp/fedout" | tr -d ' ')" 0
is "... quietly" "$(cat "$tmp/feederr")" ""

# --spin: the frames of a loop (a step's time apart) give the same ids,
# and the polling is bounded: a frame that comes a second and a half late
# (a person typing) costs a few milliseconds of CPU time, not the wait
# (CPU time of the child from perl's times, 10 ms ticks)
slow_frames() {
	perl -e '$| = 1; my @best = (2, 1, 3, 0, 2);
		for my $i (0 .. $#best) {
			select(undef, undef, undef, $i == 4 ? 1.5 : 0.02) if $i;
			print "pos=$i token=0 vocab=4 $best[$i]:1\n";
		}'
}
cpu() {
	perl -e 'system(@ARGV) == 0 or exit 1; my @t = times; printf "%d\n", 1000 * ($t[2] + $t[3])' "$@"
}
slow_frames | lm-sample -m '' --temperature 0 > "$tmp/plain.ids"
slow_frames | cpu lm-sample -m '' --temperature 0 --spin > "$tmp/spin.out"
is "--spin: the same ids" "$(head -n 5 "$tmp/spin.out" | tr '\n' ' ')" \
	"$(tr '\n' ' ' < "$tmp/plain.ids")"
ms=$(tail -n 1 "$tmp/spin.out")
diag "lm-sample --spin over 1.6 s of waits: $ms ms of CPU time"
ok "--spin: a late frame costs no CPU time beyond the bound ($ms ms, under 250)" test "$ms" -lt 250
is "--spin with no model and no frame: a clean end" "$(lm-sample -m '' --spin < /dev/null; echo $?)" 0
done_testing
