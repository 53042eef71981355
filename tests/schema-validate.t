#!/bin/sh
# lm-sample --schema against the reference: every output, validated by
# Python's jsonschema (tests/schema/validate.py), for the ten schemas of
# tests/fixtures/schema/: the random walks of test-schema (2000, byte by
# byte) and test-constrain (200, SmolLM2's tokens), then SmolLM2 itself at
# temperature 1.0, ten prompts per schema (100 generations, ten sequences
# at a time through one lm-step); then lm-run --schema and the errors.
. "$(dirname "$0")/lib.sh"
: "${LMU_TESTBIN:=$top/build/native/tests}"
need_model smollm2
M=$SMOLLM2
"$LMU_PYTHON" -c 'import jsonschema' 2>/dev/null ||
	skip_all "Python's jsonschema is missing ($LMU_PYTHON; make deps installs it)"
S=$top/tests/fixtures/schema
schemas="person weather tags user points shape counts recipe tree answer"
validate() { "$LMU_PYTHON" "$top/tests/schema/validate.py" "$@"; }

# the random walks
mkdir "$tmp/walk" "$tmp/tok"
ok "test-schema writes its random walks" "$LMU_TESTBIN/test-schema" -w "$tmp/walk"
ok "test-constrain writes its random generations" "$LMU_TESTBIN/test-constrain" -w "$tmp/tok"
for s in $schemas; do
	ok "$s: 200 random walks of the machine validate" validate "$S/$s.json" "$tmp/walk/$s.txt"
	ok "$s: 20 random generations over SmolLM2's tokens validate" validate "$S/$s.json" "$tmp/tok/$s.txt"
done

# the model: ten subjects, an instruction per schema
subjects="a baker in Lyon|a summer storm|a space probe|an old library|a football match|a rose garden|a jazz band|a mountain village|a coffee shop|a kitchen robot"
instruction() {
	case $1 in
	person) echo "Give a person from a story about $2: name, age and email." ;;
	weather) echo "Give the weather in a story about $2: city, temperature, unit, conditions, windy." ;;
	tags) echo "Give keywords for a story about $2." ;;
	user) echo "Give a user account for a website about $2, with roles, whether it is active, and its manager." ;;
	points) echo "Give two to four points of a drawing of $2 with x, y and a label." ;;
	shape) echo "Describe a circle in a drawing of $2: kind, radius, a note, version 2." ;;
	counts) echo "Count the things in a picture of $2." ;;
	recipe) echo "Give a recipe someone in a story about $2 would cook." ;;
	tree) echo "Give the parts of $2 as a tree of named nodes with sizes and children." ;;
	answer) echo "How many people are in a story about $2? Answer with your confidence and sources." ;;
	esac
}
seed=1
total=0
for s in $schemas; do
	i=0
	IFS='|'
	for subject in $subjects; do
		unset IFS
		printf '@%d ' $i
		tok-encode -m "$M" --chat --system "Answer with JSON only." --user "$(instruction "$s" "$subject")"
		i=$((i + 1))
	done > "$tmp/$s.chat"
	unset IFS
	rm -f "$tmp/loop"; mkfifo "$tmp/loop"
	{ cat "$tmp/$s.chat"; cat "$tmp/loop"; } | lm-step -m "$M" --parallel 10 -t 2 |
		lm-sample -m "$M" --schema "$S/$s.json" --sequences 10 -n 128 --temperature 1.0 --seed $seed 2> "$tmp/$s.err" |
		tee "$tmp/loop" | tok-decode -m "$M" > "$tmp/$s.out"
	seed=$((seed + 1))
	n=$(wc -l < "$tmp/$s.out" | tr -d ' ')
	total=$((total + n))
	closed=$(grep -c 'closing the JSON value early' "$tmp/$s.err")
	if validate "$S/$s.json" "$tmp/$s.out" > "$tmp/$s.val" && [ "$n" = 10 ]; then
		_result 0 "SmolLM2 at temperature 1: 10 outputs under $s.json validate ($closed closed at the token limit)"
	else
		_result 1 "SmolLM2 at temperature 1: 10 outputs under $s.json validate"
		diag "$(cat "$tmp/$s.val" "$tmp/$s.err")"
	fi
done
is "100 generations in all" "$total" 100

# lm-run --schema, greedy: the reply, and the reply inside --format json
out=$(lm-run -m "$M" -t 2 --temperature 0 --schema "$S/weather.json" "What is the weather in Paris today?")
ok "lm-run --schema: the reply validates" sh -c 'printf "%s" "$1" | jq -Rs . | "$LMU_PYTHON" "$2" "$3"' sh "$out" \
	"$top/tests/schema/validate.py" "$S/weather.json"
lm-run -m "$M" -t 2 --temperature 0 --schema "$S/weather.json" --format json "What is the weather in Paris today?" > "$tmp/run.json"
is "lm-run --format json --schema: the same reply as its content" "$(jq -r '.choices[0].message.content' "$tmp/run.json")" "$out"
out=$(lm-run -m "$M" -t 2 --temperature 0 --constrain json-schema="$S/tags.json" -n 12 "Keywords for a text about cats?" 2> "$tmp/err")
ok "lm-run --constrain json-schema=FILE -n 12: a reply that validates" sh -c 'printf "%s" "$1" | jq -Rs . | "$LMU_PYTHON" "$2" "$3"' sh "$out" \
	"$top/tests/schema/validate.py" "$S/tags.json"

# errors, before any work, in the program's name
echo '{"type": "object", "properties": {"n": {"type": "integer", "minimum": 0}}}' > "$tmp/min.json"
fails "lm-sample --schema: an unsupported keyword is an error" 1 lm-sample -m "$M" --schema "$tmp/min.json"
like "... that names the keyword and where it is" "$(cat "$tmp/err")" \
	"^lm-sample: --schema: $tmp/min.json: schema: /properties/n: minimum is not supported"
fails "lm-run --schema: a missing file is an error" 1 lm-run -m "$M" --schema "$tmp/nope.json" hello
like "... in lm-run's name" "$(cat "$tmp/err")" "^lm-run: --schema: $tmp/nope.json: No such file"
echo '{"type": "object",' > "$tmp/bad.json"
fails "a schema that is not JSON is an error" 1 lm-sample -m "$M" --schema "$tmp/bad.json"
like "... saying so" "$(cat "$tmp/err")" "schema: not JSON"
fails "--schema needs -m" 2 env -u LM_MODEL lm-sample --schema "$S/tags.json"
fails "--schema '' is a usage error" 2 lm-sample -m "$M" --schema ''
done_testing
