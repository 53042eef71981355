#!/bin/sh
# The porcelain's options and where it finds its stages: beside itself
# first (also through a symlink), then on PATH; the same option names
# across programs (-t threads, --temp, -s, --n-predict, -p); a bad option
# is one line plus "Try 'PROG -h'" naming the program the user ran; -h
# shows the defaults.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/porcelain.sh"
need_model smollm2
unset LM_MODEL
M=$SMOLLM2
if pipeline_missing; then
	skip_all "the whole pipeline: $why"
fi

# a copy of the porcelain beside the programs, in a directory not on PATH
d=$tmp/inst/bin
mkdir -p "$d"
cp "$top/bin/lm-run" "$top/bin/nl2sh" "$top/bin/lm-chat" "$top/bin/lmutils-sh-setup" "$d"
for p in tok-encode lm-step lm-sample tok-decode cmd-extract; do
	ln -s "$(command -v "$p")" "$d/$p"
done
bare() { env -u LMU_EXEC_PATH PATH=/usr/bin:/bin "$@"; }
ok "lm-run by its path, stages beside it, none on PATH" bare "$d/lm-run" -m "$M" -t 2 --temperature 0 -n 3 hi
want=$(lm-run -m "$M" -t 2 --temperature 0 -n 3 hi)
is "... the same text as from PATH" "$(cat "$tmp/out")" "$want"
mkdir "$tmp/links"
ln -s "$d/lm-run" "$tmp/links/lm-run"
ok "lm-run through a symlink elsewhere" bare "$tmp/links/lm-run" -m "$M" -t 2 --temperature 0 -n 3 hi
is "... the same text" "$(cat "$tmp/out")" "$want"
ok "nl2sh by its path" bare "$d/nl2sh" -m "$M" -t 2 -p "list the files"
rm "$d/lm-step"
fails "a stage neither beside it nor on PATH" 1 bare "$d/lm-run" -m "$M" hi
like "... is named, with where it was looked for" "$(cat "$tmp/err")" "lm-step not found (looked beside lm-run in $d, then on PATH)"

# bad options: one line, then "Try 'PROG -h'"
for p in lm-run lm-chat nl2sh; do
	fails "$p --bogus" 2 $p -m "$M" --bogus x
	is "$p --bogus: one line and the hint, in $p's name" "$(cat "$tmp/err")" "$p: unknown option '--bogus'
Try '$p -h' for help."
done
fails "lm-run --top-k x (checked by lm-sample)" 2 lm-run -m "$M" --top-k x hi
is "... reported in lm-run's name" "$(cat "$tmp/err")" "lm-run: top-k: 'x' is not a whole number
Try 'lm-run -h' for help."
fails "lm-chat --temp x" 2 lm-chat -m "$M" --temp x
like "... reported in lm-chat's name" "$(cat "$tmp/err")" "^lm-chat: temperature: 'x' is not a number"
fails "nl2sh --temp x" 2 nl2sh -m "$M" --temp x list files
like "... reported in nl2sh's name" "$(cat "$tmp/err")" "^nl2sh: temperature: 'x' is not a number"
fails "nl2sh -t is threads now: a number" 2 nl2sh -m "$M" -t 0.5 list files
like "... says so" "$(cat "$tmp/err")" "^nl2sh: -t wants a whole number"

# aliases give the same ids as the long names
a=$(lm-run -m "$M" -t 2 --temperature 0.9 --seed 5 -n 6 --format ids "Tell me a story." | tr '\n' ' ')
b=$(lm-run -m "$M" -t 2 --temp 0.9 -s 5 --n-predict 6 --format ids -p "Tell me a story." | tr '\n' ' ')
is "lm-run: --temp -s --n-predict -p are --temperature --seed -n and the prompt" "$b" "$a"
tok-encode -m "$M" "Once upon a time" | lm-step -m "$M" -t 2 > "$tmp/frame"
is "lm-sample: --temp and -s are --temperature and --seed" \
	"$(lm-sample --temp 1.5 -s 3 < "$tmp/frame")" "$(lm-sample --temperature 1.5 --seed 3 < "$tmp/frame")"
ok "nl2sh takes -t N, --temp, -s" nl2sh -m "$M" -t 1 --temp 0.5 -s 3 -p "list the files"

# where the prompt comes from: piped text, then -f files, then the words
printf 'The sky is blue.\n' > "$tmp/doc"
ids() { tr '\n' ' ' < "$tmp/out"; }
run_ids() { lm-run -m "$M" -t 2 --temperature 0 -n 4 --format ids "$@"; }
ok "piped text and a prompt" sh -c 'lm-run -m "$1" -t 2 --temperature 0 -n 4 --format ids "What colour is the sky?" < "$2"' sh "$M" "$tmp/doc"
a=$(ids)
b=$(run_ids -- "The sky is blue.
What colour is the sky?" | tr '\n' ' ')
is "... is the piped text, a newline, then the prompt" "$a" "$b"
ok "-f FILE and a prompt" run_ids -f "$tmp/doc" "What colour is the sky?"
is "... the same" "$(ids)" "$a"
ok "- reads stdin" sh -c 'lm-run -m "$1" -t 2 --temperature 0 -n 4 --format ids - "What colour is the sky?" < "$2"' sh "$M" "$tmp/doc"
is "... the same" "$(ids)" "$a"
fails "-f of a missing file" 1 run_ids -f "$tmp/nope" hi

# -h shows the defaults
ok "lm-run -h" lm-run -h
like "lm-run -h: -n's default" "$(cat "$tmp/out")" "(default 256)"
like "lm-run -h: lm-sample's defaults" "$(cat "$tmp/out")" "--temperature T .*(default 0.8"
like "lm-run -h: the aliases" "$(cat "$tmp/out")" "--n-predict"
ok "nl2sh -h" nl2sh -h
like "nl2sh -h: -t is threads" "$(cat "$tmp/out")" "-t, --threads N"
ok "lm-chat -h" lm-chat -h
like "lm-chat -h: -n's default" "$(cat "$tmp/out")" "(default 512)"

# the context, in the user's words
echo 1 | lm-step -m "$M" -t 2 -c 9000 > /dev/null 2> "$tmp/err"
like "lm-step -c above the trained length warns" "$(cat "$tmp/err")" "above the 8192 positions the model was trained on"
done_testing
