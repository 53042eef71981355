#!/bin/sh
# lm-step streams, directives, errors and --state on the tiny random-weight
# models that test-forward writes (reference logits: tests/ref/tiny_models.py).
. "$(dirname "$0")/lib.sh"
: "${LMU_TESTBIN:=$top/build/native/tests}"
fixture=$top/tests/fixtures/fwd/tiny-logits.txt
"$LMU_TESTBIN/test-forward" --write "$tmp" || { echo "1..0 # SKIP test-forward is not built"; exit 0; }
M=$tmp/tiny-f32-gqa-tied.gguf
M16=$tmp/tiny-f16-mqa-untied.gguf

# ids of a model in the fixture, and the reference's best id at each position
ref_ids() { awk -v m="$1" '$1 == "model" { f = ($2 == m) } f && $1 == "ids" { $1 = ""; sub(/^ /, ""); print; exit }' "$fixture"; }
ref_top1() {
	awk -v m="$1" '$1 == "model" { f = ($2 == m) }
		f && $1 == "logits" { b = 3; for (i = 4; i <= NF; i++) if ($i + 0 > $b + 0) b = i; print $2, b - 3 }' "$fixture"
}
ids=$(ref_ids tiny-f32-gqa-tied)
first10=$(echo "$ids" | cut -d' ' -f1-10)
rest=$(echo "$ids" | cut -d' ' -f11-)

# --- frames ---
ok "one batch, binary frame" sh -c "echo '$ids' | lm-step -m '$M' -t 2 > '$tmp/bin'"
is "one binary frame of 24 + 96 x 4 bytes" "$(wc -c < "$tmp/bin" | tr -d ' ')" 408
is "frame magic and version" "$(od -An -tx1 -N8 "$tmp/bin" | tr -d ' ')" 894c475401000000
got=$(echo "$ids" | lm-step -m "$M" --text=2)
like "text frame: last position and token" "$got" '^pos=23 token=74 vocab=96 [0-9]*:[-0-9.e]* [0-9]*:[-0-9.e]*$'
echo "$ids" | lm-step -m "$M" --all-logits --text=1 | sed 's/^pos=\([0-9]*\) .* \([0-9]*\):.*/\1 \2/' > "$tmp/top1"
ref_top1 tiny-f32-gqa-tied > "$tmp/reftop1"
is "--all-logits: a frame per position, best ids as transformers'" "$(cmp "$tmp/top1" "$tmp/reftop1" && wc -l < "$tmp/top1" | tr -d ' ')" 24
echo "$ids" | lm-step -m "$M" --all-logits | "$LMU_TESTBIN/test-forward" --top1 | cut -d' ' -f1,2 > "$tmp/top1b"
ok "binary --all-logits frames read back: same best ids" cmp "$tmp/top1b" "$tmp/reftop1"
is "an empty line is an empty batch: no frame" "$(printf '\n1 2\n\n' | lm-step -m "$M" --text | wc -l | tr -d ' ')" 1
got=$(printf '5 6 7\n!reset\n5 6 7\n# a comment\n8\n' | lm-step -m "$M" --text=3)
is "!reset: the same batch gives the same frame" "$(echo "$got" | sed -n 1p)" "$(echo "$got" | sed -n 2p)"
like "a batch after it continues the context" "$(echo "$got" | sed -n 3p)" '^pos=3 token=8 '
is "default --text lists 10 ids" "$(echo 1 | lm-step -m "$M" --text | wc -w | tr -d ' ')" 13
ok "-v reports statistics on stderr" sh -c "echo '1 2 3' | lm-step -m '$M' -v >/dev/null 2>'$tmp/v'"
like "3 positions evaluated" "$(cat "$tmp/v")" '3 positions evaluated, context 3 of 64'

# --- input files: FILE operands one after another, '-' standard input ---
echo "$ids" | lm-step -m "$M" --all-logits --text=3 > "$tmp/one.txt"
echo "$first10" > "$tmp/first10"
printf '%s' "$rest" > "$tmp/rest.nonl"  # no newline at the end: the line ends with the file
echo "$rest" | lm-step -m "$M" --all-logits --text=3 "$tmp/first10" - > "$tmp/two.txt"
is "a file then standard input: the frames of one stream" "$(cut -d' ' -f1-2 "$tmp/two.txt")" \
	"$(cut -d' ' -f1-2 "$tmp/one.txt")"
echo "$rest" > "$tmp/rest"
lm-step -m "$M" --text=3 "$tmp/first10" "$tmp/rest" > "$tmp/files.txt"
is "two files: a frame for each one's batch" "$(cut -d' ' -f1-2 "$tmp/files.txt")" \
	"pos=9 token=$(echo "$first10" | awk '{ print $NF }')
$(tail -n 1 "$tmp/one.txt" | cut -d' ' -f1-2)"
is "the same frames as the two batches in one stream" "$(cat "$tmp/files.txt")" \
	"$(cat "$tmp/first10" "$tmp/rest" | lm-step -m "$M" --text=3)"
fails "a file whose last line has no newline is an error, as on stdin" 1 \
	lm-step -m "$M" --text=3 "$tmp/rest.nonl" "$tmp/first10"
like "... at its own end, not joined to the next file's first line" "$(cat "$tmp/err")" 'line 1: incomplete last line'
is "'-' read twice: the second sees the end of input" \
	"$(echo 5 6 | lm-step -m "$M" --text=1 - - | cut -d' ' -f1-2)" "pos=1 token=6"
fails "a missing file fails before any frame" 1 sh -c "echo 1 | lm-step -m '$M' --text - '$tmp/nonesuch'"
like "... naming it" "$(cat "$tmp/err")" "^lm-step: $tmp/nonesuch: No such file or directory\$"
is "... and nothing is written" "$(wc -c < "$tmp/out" 2> /dev/null | tr -d ' ')" 0
printf '1 2\n3 x\n' > "$tmp/bad.tok"
fails "a malformed line in the second file is an error" 1 lm-step -m "$M" "$tmp/first10" "$tmp/bad.tok"
like "... its line numbered on from the first file's" "$(cat "$tmp/err")" 'line 3: unexpected character'
fails "--info takes no FILE" 2 lm-step -m "$M" --info "$tmp/first10"

# --- errors ---
fails "an id out of range is an error" 1 sh -c "echo '1 96' | lm-step -m '$M'"
like "message names the line and the id" "$(cat "$tmp/err")" 'line 1: id 96 is out of range'
fails "a malformed line is an error" 1 sh -c "printf '1 2\n3 x\n' | lm-step -m '$M'"
like "message names line 2" "$(cat "$tmp/err")" 'line 2: unexpected character'
fails "an unknown directive is an error" 1 sh -c "echo '!frobnicate' | lm-step -m '$M'"
fails "a batch that overflows the context is an error" 1 sh -c "printf '1 2 3\n4 5 6 7 8 9\n' | lm-step -m '$M' -c 8"
like "message says it does not fit" "$(cat "$tmp/err")" 'line 2: a batch of 6 ids does not fit in the context (3 of 8 positions used)'
ok "a batch that fills the context exactly is fine" sh -c "echo '1 2 3 4 5 6 7 8' | lm-step -m '$M' -c 8 --text"
fails "-c 0 is a usage error" 2 lm-step -m "$M" -c 0
fails "-t 0 is a usage error" 2 lm-step -m "$M" -t 0
fails "--text=0 is a usage error" 2 lm-step -m "$M" --text=0
for bad in bad-arch bad-type bad-shape no-norm; do
	fails "refuses $bad.gguf" 1 sh -c "echo 1 | lm-step -m '$tmp/$bad.gguf'"
done
like "unsupported architecture named" "$(echo 1 | lm-step -m "$tmp/bad-arch.gguf" 2>&1)" "architecture 'llamax' is not supported (supported: llama, qwen2, gemma3, phi3, granite)"
like "unsupported tensor type named" "$(echo 1 | lm-step -m "$tmp/bad-type.gguf" 2>&1)" 'tensor blk.0.attn_q.weight: type I32 is not supported'
like "wrong shape named" "$(echo 1 | lm-step -m "$tmp/bad-shape.gguf" 2>&1)" 'blk.1.attn_k.weight has shape {64, 16}, expected {64, 32}'
# sizes from header values are computed in 64 bits and bounded: a key
# length whose product with 64 heads wraps to the tensors' 64 rows in 32
# bits (it read past the attention buffers), a context length near 2^32
# (the attention row length wrapped to 0)
fails "a head dimension x heads that wraps in 32 bits is refused" 1 sh -c "echo 1 | lm-step -m '$tmp/wrap-qdim.gguf'"
like "... naming the dimension" "$(cat "$tmp/err")" 'query dimension (heads x key length) 4294967360 is above the limit of 1048576'
fails "a model context length near 2^32 is refused" 1 sh -c "echo 1 | lm-step -m '$tmp/huge-ctx.gguf'"
like "... as -c would be" "$(cat "$tmp/err")" "the model's context of 4294967288 positions is above the limit of 16777216: use -c N"
is "... and runs with -c" "$(echo "$ids" | lm-step -m "$tmp/huge-ctx.gguf" -c 64 --text=2)" "$(echo "$ids" | lm-step -m "$M" --text=2)"
fails "-c above the limit is a usage error" 2 lm-step -m "$M" -c 16777217

# --- state files ---
# compare two text frames of every id (--text=96) to 1e-4
same_frame() {
	printf '%s\n%s\n' "$1" "$2" | awk '
		{ for (i = 4; i <= NF; i++) { split($i, p, ":"); v[NR, p[1]] = p[2] } h[NR] = $1 " " $2 " " $3 }
		END { if (h[1] != h[2]) exit 1
		      for (k in v) { split(k, q, SUBSEP); d = v[1, q[2]] - v[2, q[2]]; if (d > 1e-4 || d < -1e-4) exit 1 } }'
}
one=$(echo "$ids" | lm-step -m "$M" --text=96)
S=$tmp/s.state
ok "split run 1 saves a state" sh -c "echo '$first10' | lm-step -m '$M' --state '$S' > /dev/null"
ok "the state file exists" test -s "$S"
two=$(echo "$rest" | lm-step -m "$M" --state "$S" --text=96)
ok "split runs give the logits of one run" same_frame "$one" "$two"
like "the second run continues at position 23" "$two" '^pos=23 token=74 '
cp "$S" "$tmp/s.before"
fails "a state of another model is refused" 1 sh -c "echo 1 | lm-step -m '$M16' --state '$S'"
like "message says another model" "$(cat "$tmp/err")" 'made for another model'
ok "the refused state is left as it was" cmp "$S" "$tmp/s.before"
echo "$first10" | lm-step -m "$M" --state "$tmp/p.state" > /dev/null
got=$({ echo '!reset'; echo "$ids"; } | lm-step -m "$M" --state "$tmp/p.state" --text=96 -v 2>"$tmp/v")
ok "prefix reuse after !reset: the logits of one run" same_frame "$one" "$got"
like "only the 14 new positions were evaluated" "$(cat "$tmp/v")" '14 positions evaluated, context 24 of 64'
fails "a state larger than -c is refused" 1 sh -c "echo 1 | lm-step -m '$M' -c 20 --state '$S'"
head -c 1000 "$S" > "$tmp/cut.state"
fails "a truncated state is refused" 1 sh -c "echo 1 | lm-step -m '$M' --state '$tmp/cut.state'"
like "message names the size" "$(cat "$tmp/err")" 'state file has 1000 bytes'
echo junk > "$tmp/junk.state"
fails "a file that is not a state is refused" 1 sh -c "echo 1 | lm-step -m '$M' --state '$tmp/junk.state'"
# what differs is named: version, header size, architecture, model (its
# weights too), a layer's size; offsets as forward/state.h gives them
patch() { cp "$S" "$tmp/x.state"; printf "$2" | dd of="$tmp/x.state" bs=1 seek="$1" conv=notrunc 2>/dev/null; }
refused() { fails "$1" 1 sh -c "echo 1 | lm-step -m '${3:-$M}' --state '$tmp/x.state'"; like "... $2" "$(cat "$tmp/err")" "$2"; }
patch 8 '\001'
refused "a state of another version is refused" 'state file version 1 is not supported (this lm-step reads and writes version 2)'
patch 12 '\120'
refused "a bad header size is refused as such" 'state file header size 80 is wrong (96 + 8 per layer for 2 layers'
patch 24 'qwen2'
refused "a state of another architecture is refused" "made for a model of architecture 'qwen2', this one is 'llama'"
patch 100 '\003'
refused "a layer that keeps another number of positions is refused" 'layer 0 keeps 3 positions of 32 values, this model 24 of 32'
cp "$S" "$tmp/x.state"
refused "a state of a model with other weights under the same metadata is refused" 'made for another model' "$tmp/other-weights.gguf"
refused "a state of another architecture is refused, naming both" \
	"made for a model of architecture 'llama', this one is 'qwen2'" "$tmp/tiny-qwen2-f32-gqa-untied.gguf"
mkfifo "$tmp/fifo.state"
fails "a fifo as --state is refused, not waited on" 1 timeout 20 sh -c "echo 1 | lm-step -m '$M' --state '$tmp/fifo.state'"
like "... as not a regular file" "$(cat "$tmp/err")" 'fifo.state: not a regular file'
fails "a directory as --state is refused" 1 sh -c "echo 1 | lm-step -m '$M' --state '$tmp'"
like "... likewise" "$(cat "$tmp/err")" "$tmp: Is a directory"

# a save killed before its rename leaves a temporary file (path.tmp.XXXXXX):
# the next save removes such files, empty or begun as a state, and keeps a
# file of the same form that is something else
cp "$S" "$tmp/k.state"
head -c 500 "$S" > "$tmp/k.state.tmp.Ab3xYz"
: > "$tmp/k.state.tmp.000000"
echo 'not a state' > "$tmp/k.state.tmp.notes"
echo 'not a state' > "$tmp/k.state.tmp.notes1"
ok "a save beside stale temporary files" sh -c "echo 1 | lm-step -m '$M' --state '$tmp/k.state' > /dev/null"
is "they are removed, other files kept" "$(cd "$tmp" && ls k.state* | tr '\n' ' ')" "k.state k.state.tmp.notes k.state.tmp.notes1 "
rm "$tmp"/k.state.tmp.notes*

# two lm-step on one state: the second waits for the first, then continues
# from what it saved
rm -f "$tmp/c.state"; mkfifo "$tmp/in1"
lm-step -m "$M" --state "$tmp/c.state" --text=1 < "$tmp/in1" > "$tmp/a.out" 2> "$tmp/a.err" &
apid=$!
exec 3> "$tmp/in1"
echo "$first10" >&3
i=0; while [ ! -s "$tmp/a.out" ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
echo "$rest" | lm-step -m "$M" --state "$tmp/c.state" --text=96 > "$tmp/b.out" 2> "$tmp/b.err" 3>&- &
bpid=$!
i=0; while ! grep -q waiting "$tmp/b.err" 2>/dev/null && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
like "the second says it waits" "$(cat "$tmp/b.err")" 'c.state: in use by another lm-step: waiting for it to finish'
is "... and has not run" "$(wc -c < "$tmp/b.out" | tr -d ' ')" 0
exec 3>&-
wait $apid; wait $bpid
ok "then it continues the first one's context" same_frame "$one" "$(cat "$tmp/b.out")"

# phi3's long-context RoPE across runs: a state of 5 positions (the short
# factors) continued past the original context of 8 (the whole context
# computed again with the long ones), and one of 13 (the long ones) made
# again: the frames of one run
P3=$tmp/tiny-phi3-f32-longrope.gguf
pids=$(ref_ids tiny-phi3-f32-longrope)
p_one=$(echo "$pids" | lm-step -m "$P3" --text=96)
for cut in 5 13; do
	rm -f "$tmp/p3.state"
	echo "$pids" | cut -d' ' -f1-$cut | lm-step -m "$P3" --state "$tmp/p3.state" > /dev/null
	got=$(echo "$pids" | cut -d' ' -f$((cut + 1))- | lm-step -m "$P3" --state "$tmp/p3.state" --text=96)
	ok "phi3: a state of $cut positions continued: the logits of one run" same_frame "$p_one" "$got"
done

# local layers' rings across state files: with a context of 400 a local
# layer keeps 6 + 256 rows (Mistral, window 7) or 7 + 256 (Gemma 3, window
# 8), so 300 positions wrap them; saved at 300 (and at 5, inside the
# window) and continued to 350, the frames of one run, and the state keeps
# the window's last rows in a local layer, all in a global one
# the rows layer L keeps in a state file (the header's per-layer table)
state_rows() { od -A n -t u4 -j $((96 + 8 * $2 + 4)) -N 4 "$1" | tr -d ' '; }
long=$(awk 'BEGIN { for (i = 0; i < 350; i++) printf "%s%d", i ? " " : "", (i * 37 + i * i) % 96 }')
for m in tiny-mistral-f32-window:6 tiny-gemma3-f32-hd96:7; do
	W=$tmp/${m%:*}.gguf
	w_one=$(echo "$long" | lm-step -m "$W" -c 400 --text=96)
	for cut in 5 300; do
		rm -f "$tmp/w.state"
		echo "$long" | cut -d' ' -f1-$cut | lm-step -m "$W" -c 400 --state "$tmp/w.state" > /dev/null
		got=$(echo "$long" | cut -d' ' -f$((cut + 1))- | lm-step -m "$W" -c 400 --state "$tmp/w.state" --text=96)
		ok "${m%:*}: a state of $cut positions continued past the ring: the frame of one run" same_frame "$w_one" "$got"
	done
	k=${m#*:}
	is "${m%:*}: the state of 350 positions keeps $k rows in local layers 0 and 1" \
		"$(state_rows "$tmp/w.state" 0) $(state_rows "$tmp/w.state" 1)" "$k $k"
done
is "tiny-gemma3-f32-hd96: ... and all 350 in its global layer 5" "$(state_rows "$tmp/w.state" 5)" 350

# downstream closes the pipe: exit 0, the state is saved all the same.
# 12 batches of 24 frames (117 KB, more than a pipe holds, each batch
# after a reset so that all fit the context): lm-step must meet EPIPE
# however fast it runs, and cannot finish before head has gone
rm -f "$tmp/e.state"
st=$( { { for i in 1 2 3 4 5 6 7 8 9 10 11 12; do printf '%s\n!reset\n' "$ids"; done; } | lm-step -m "$M" --all-logits --state "$tmp/e.state"; echo $? > "$tmp/st"; } | head -c 100 > /dev/null; cat "$tmp/st")
is "EPIPE is a quiet normal end" "$st" 0
ok "the state is saved after EPIPE" test -s "$tmp/e.state"
ok "and loads again" sh -c "echo 1 | lm-step -m '$M' --state '$tmp/e.state' >/dev/null"
ls "$tmp" | grep -q 'state\.tmp' && ls "$tmp" >&2
is "no temporary state files are left" "$(ls "$tmp" | grep -c 'state\.tmp')" 0

# --- the generation loop through a fifo (doc/internals.md "The generation loop") ---
mkfifo "$tmp/loop"
{ echo "$first10"; cat "$tmp/loop"; } | lm-step -m "$M" --text=1 |
	greedy 8 | tee "$tmp/loop" > "$tmp/gen"
is "a fifo loop generates 8 ids" "$(wc -l < "$tmp/gen" | tr -d ' ')" 8
# the same greedy continuation, one id per run through a state file
rm -f "$tmp/g.state"; next=$first10; : > "$tmp/gen2"
for i in 1 2 3 4 5 6 7 8; do
	next=$(echo "$next" | lm-step -m "$M" --state "$tmp/g.state" --text=1 | sed 's/.* \([0-9]*\):.*/\1/')
	echo "$next" >> "$tmp/gen2"
done
ok "repeated --state runs continue exactly like the loop" cmp "$tmp/gen" "$tmp/gen2"
done_testing
