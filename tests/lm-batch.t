#!/bin/sh
# lm-batch on SmolLM2: answers equal lm-run's for the same request, the
# Batch API's output shape, per-request errors and refused inputs, resuming
# (a torn last line, 1,000 requests killed at random points five times and
# resumed give the uninterrupted run's lines, each custom_id once), shards,
# and a progress bar only on a terminal.
. "$(dirname "$0")/lib.sh"
need_model smollm2
unset LM_MODEL
M=$SMOLLM2
SOURCE_DATE_EPOCH=1700000000; export SOURCE_DATE_EPOCH
command -v jq > /dev/null || { echo "1..0 # SKIP jq is missing (make deps)"; exit 0; }

# requests: chat and completion bodies as jq builds them
chat() { # custom_id content [extra body fields as JSON]
	jq -cn --arg id "$1" --arg c "$2" --argjson x "${3:-{\}}" \
		'{custom_id: $id, method: "POST", url: "/v1/chat/completions",
		  body: ({model: "m", messages: [{role: "user", content: $c}]} + $x)}'
}
completion() {
	jq -cn --arg id "$1" --arg p "$2" --argjson x "${3:-{\}}" \
		'{custom_id: $id, method: "POST", url: "/v1/completions", body: ({model: "m", prompt: $p} + $x)}'
}
field() { jq -r --arg id "$2" "select(.custom_id == \$id) | $1" "$3"; }

# --- answers, shape, errors per request ---
{
	chat c1 "Name three colours." '{"temperature": 0, "max_tokens": 24}'
	chat c2 "What is 2+2?" '{"temperature": 0, "max_completion_tokens": 40}'
	completion p1 "The capital of France is" '{"temperature": 0, "max_tokens": 12, "stop": "\n"}'
	chat s1 "Tell me a joke." '{"temperature": 0.8, "seed": 42, "max_tokens": 16}'
	chat bad1 "x" '{"n": 2}'
	chat bad2 "x" '{"temperature": "hot"}'
	completion bad3 "x" '{"stream": true}'
	jq -cn '{custom_id: "bad4", method: "POST", url: "/v1/chat/completions", body: {messages: "hi"}}'
} > "$tmp/req"
ok "a batch of 8 requests" lm-batch -m "$M" -t 2 --parallel 3 -o "$tmp/out1" "$tmp/req"
is "8 result lines" "$(wc -l < "$tmp/out1" | tr -d ' ')" 8
is "each line is the Batch API shape" "$(jq -c '[has("id"), has("custom_id"), has("response"), .error] | tostring' "$tmp/out1" | sort -u)" '"[true,true,true,null]"'
is "4 answered, 4 refused with 400" "$(jq -r .response.status_code "$tmp/out1" | sort | uniq -c | tr -s ' ' | tr '\n' ,)" " 4 200, 4 400,"
for id in bad1 bad2 bad3 bad4; do
	is "$id: an OpenAI error body naming the field" "$(field '.response.body.error | [.type, .param] | join(" ")' $id "$tmp/out1")" \
		"invalid_request_error $(case $id in bad1) echo n ;; bad2) echo temperature ;; bad3) echo stream ;; bad4) echo messages ;; esac)"
done
is "chat.completion object" "$(field '[.response.body.object, .response.body.choices[0].message.role] | join(" ")' c1 "$tmp/out1")" \
	"chat.completion assistant"
is "text_completion object" "$(field .response.body.object p1 "$tmp/out1")" text_completion
is "created is SOURCE_DATE_EPOCH" "$(field .response.body.created c1 "$tmp/out1")" 1700000000
is "usage adds up" "$(field '.response.body.usage | .prompt_tokens + .completion_tokens == .total_tokens' c1 "$tmp/out1")" true
is "max_tokens 24: finish_reason length, 24 tokens" "$(field '.response.body | [.choices[0].finish_reason, .usage.completion_tokens] | join(" ")' c1 "$tmp/out1")" "length 24"
ok "lm-run answers the same chat" lm-run -m "$M" -t 2 --temperature 0 --repeat-penalty 1 -n 24 --format json "Name three colours."
is "the same text as lm-run --temperature 0" "$(field .response.body.choices[0].message.content c1 "$tmp/out1")" \
	"$(jq -r .choices[0].message.content "$tmp/out")"
is "and the same prompt size" "$(field .response.body.usage.prompt_tokens c1 "$tmp/out1")" "$(jq -r .usage.prompt_tokens "$tmp/out")"
ok "lm-run answers the same completion" lm-run -m "$M" -t 2 --raw --temperature 0 --repeat-penalty 1 -n 12 --format json "The capital of France is"
want=$(jq -r .choices[0].text "$tmp/out" | sed -n 1p)
is "a stop string ends it, and is cut off" "$(field '.response.body.choices[0] | [.finish_reason, .text] | join("|")' p1 "$tmp/out1")" "stop|$want"
ok "lm-run answers the sampled chat with its seed" lm-run -m "$M" -t 2 --temperature 0.8 --top-k 0 --top-p 1 --min-p 0 --repeat-penalty 1 \
	--seed 42 -n 16 --format json "Tell me a joke."
is "the same text as lm-run with the same seed and OpenAI's defaults (no penalty)" "$(field .response.body.choices[0].message.content s1 "$tmp/out1")" \
	"$(jq -r .choices[0].message.content "$tmp/out")"
ok "run again on the same output: nothing left to do" lm-batch -m "$M" -t 2 -o "$tmp/out1" -v "$tmp/req"
like "it says so" "$(cat "$tmp/err")" "0 requests answered .* 8 were done before"
is "and the output is unchanged" "$(wc -l < "$tmp/out1" | tr -d ' ')" 8

# --- response_format: json_schema and json_object, as lm-serve takes them ---
S=$top/tests/fixtures/schema
rf() { jq -cn --slurpfile s "$S/$1.json" '{response_format: {type: "json_schema", json_schema: {name: "w", schema: $s[0]}}}'; }
q="What is the weather in Paris today?"
{
	chat w0 "$q" "$(rf weather | jq -c '. + {temperature: 0, max_tokens: 128}')"
	chat w1 "$q" "$(rf weather | jq -c '. + {temperature: 1.0, seed: 7, max_tokens: 128}')"
	chat t8 "Keywords for a text about cats?" "$(rf tags | jq -c '. + {temperature: 0, max_tokens: 12}')"
	chat o1 "Describe a cat as JSON." '{"response_format": {"type": "json_object"}, "temperature": 0, "max_tokens": 64}'
	chat sb "x" '{"response_format": {"type": "json_schema", "json_schema": {"name": "m", "schema": {"type": "integer", "minimum": 0}}}}'
} > "$tmp/sreq"
ok "a batch with response_format" lm-batch -m "$M" -t 2 --parallel 4 -o "$tmp/sout" "$tmp/sreq"
out=$(lm-run -m "$M" -t 2 --temperature 0 --repeat-penalty 1 -n 128 --schema "$S/weather.json" "$q")
is "json_schema, greedy: lm-run --schema's reply" "$(field .response.body.choices[0].message.content w0 "$tmp/sout")" "$out"
is "... that ends as complete JSON: finish_reason stop" "$(field .response.body.choices[0].finish_reason w0 "$tmp/sout")" stop
if "$LMU_PYTHON" -c 'import jsonschema' 2>/dev/null; then
	for id in w0 w1; do
		field '.response.body.choices[0].message.content | tojson' $id "$tmp/sout" > "$tmp/$id.json"
		ok "$id: the content validates against the schema (Python's jsonschema)" \
			"$LMU_PYTHON" "$top/tests/schema/validate.py" "$S/weather.json" "$tmp/$id.json"
	done
	field '.response.body.choices[0].message.content | tojson' t8 "$tmp/sout" > "$tmp/t8.json"
	ok "max_tokens 12: the value closed in time, and it validates" \
		"$LMU_PYTHON" "$top/tests/schema/validate.py" "$S/tags.json" "$tmp/t8.json"
else
	for id in w0 w1 t8; do skip "$id's validation: Python's jsonschema is missing ($LMU_PYTHON; make deps installs it)"; done
fi
is "... with finish_reason length, in 12 tokens or fewer" \
	"$(field '.response.body | [.choices[0].finish_reason, .usage.completion_tokens <= 12] | join(" ")' t8 "$tmp/sout")" "length true"
is "json_object: an object" "$(field '.response.body.choices[0].message.content | fromjson | type' o1 "$tmp/sout")" object
is "a schema lm-batch cannot follow: 400 naming the field" \
	"$(field '[.response.status_code, .response.body.error.param] | join(" ")' sb "$tmp/sout")" \
	"400 response_format.json_schema.schema"

# --- refused inputs name their line ---
printf '%s\n' "$(chat a x)" 'not json' > "$tmp/r2"
fails "a line that is not JSON is refused" 1 lm-batch -m "$M" "$tmp/r2"
like "naming the line" "$(cat "$tmp/err")" "r2:2: not JSON"
printf '%s\n%s\n' "$(chat a x)" "$(chat a y)" > "$tmp/r3"
fails "a custom_id used twice is refused" 1 lm-batch -m "$M" "$tmp/r3"
like "naming the second line" "$(cat "$tmp/err")" "r3:2: custom_id 'a' is used twice"
echo '{"custom_id":"e","method":"POST","url":"/v1/embeddings","body":{}}' > "$tmp/r4"
fails "an unknown url is refused" 1 lm-batch -m "$M" "$tmp/r4"
like "naming the routes" "$(cat "$tmp/err")" "'url' must be"
echo garbage > "$tmp/notours"
fails "an output file that is not ours is left alone" 1 lm-batch -m "$M" -o "$tmp/notours" "$tmp/req"
is "and unchanged" "$(cat "$tmp/notours")" garbage
fails "--shard 4/4 is a usage error" 2 lm-batch -m "$M" --shard 4/4 "$tmp/req"
fails "--shard without N" 2 lm-batch -m "$M" --shard 1 "$tmp/req"

# --- a torn last line is dropped, its request done again ---
head -n 3 "$tmp/out1" > "$tmp/torn"
sed -n 4p "$tmp/out1" | head -c 40 >> "$tmp/torn"
ok "resume after a torn line" lm-batch -m "$M" -t 2 -o "$tmp/torn" "$tmp/req"
like "with a warning" "$(cat "$tmp/err")" "the last line is cut short"
is "every custom_id once" "$(jq -r .custom_id "$tmp/torn" | sort | uniq -d | wc -l | tr -d ' '):$(wc -l < "$tmp/torn" | tr -d ' ')" "0:8"
is "the same lines as one run" "$(sort "$tmp/torn" | md5sum)" "$(sort "$tmp/out1" | md5sum)"

# --- 1,000 requests: one run, shards, and five kills at random points ---
# Under ASan (make SAN=1 test, 15-30 times slower) the same with 100.
N=1000 F=150
if [ "${LMU_VARIANT:-}" = asan ]; then
	N=100 F=60
	skip "1,000 requests under ASan (about an hour of CPU): the same checks with 100"
fi
awk -v n=$N 'BEGIN { srand(7); for (i = 0; i < n; i++) {
	t = (i % 3 == 0) ? 0 : 0.9
	printf "{\"custom_id\":\"q%d\",\"method\":\"POST\",\"url\":\"/v1/completions\",\"body\":{\"prompt\":\"Item %d: the %s\",\"max_tokens\":%d,\"temperature\":%s}}\n",
		i, i, (i % 2 ? "colour of the sky is" : "best fruit is"), 2 + i % 5, t } }' > "$tmp/big"
start=$(date +%s)
ok "$N requests" lm-batch -m "$M" -t 2 --parallel 16 -o "$tmp/full" -v "$tmp/big"
took=$(($(date +%s) - start))
diag "$(cat "$tmp/err")"
is "$N lines, each custom_id once" "$(jq -r .custom_id "$tmp/full" | sort -u | wc -l | tr -d ' '):$(wc -l < "$tmp/full" | tr -d ' ')" "$N:$N"
head -n $F "$tmp/big" > "$tmp/first"
for s in 0 1 2; do lm-batch -m "$M" -t 2 --parallel 16 --shard $s/3 -o "$tmp/shard$s" -q "$tmp/first"; done
is "three shards of $F requests: every third each, the same lines as one run of all" \
	"$(sort "$tmp/shard0" "$tmp/shard1" "$tmp/shard2" | md5sum):$(wc -l < "$tmp/shard1" | tr -d ' ')" \
	"$(awk -v f=$F 'match($0, /"custom_id":"q[0-9]+"/) && substr($0, RSTART + 14, RLENGTH - 15) + 0 < f' "$tmp/full" | sort | md5sum):$((F / 3))"
kills=0
for k in 1 2 3 4 5; do
	# a point in the run: up to the time a whole run took
	ms=$(( ($(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % (took * 900 + 300)) + 100 ))
	lm-batch -m "$M" -t 2 --parallel 16 -o "$tmp/killed" -q "$tmp/big" &
	pid=$!
	sleep "$(awk -v m=$ms 'BEGIN { printf "%.3f", m / 1000 }')"
	kill -9 $pid 2>/dev/null && kills=$((kills + 1))
	wait $pid 2>/dev/null
	diag "kill $k after ${ms} ms: $(wc -l < "$tmp/killed" 2>/dev/null | tr -d ' ') lines"
done
ok "resumed after $kills kills" lm-batch -m "$M" -t 2 --parallel 16 -o "$tmp/killed" -q "$tmp/big"
is "each custom_id exactly once" "$(jq -r .custom_id "$tmp/killed" | sort | uniq -d | wc -l | tr -d ' '):$(wc -l < "$tmp/killed" | tr -d ' ')" "0:$N"
is "the same lines as the uninterrupted run" "$(sort "$tmp/killed" | md5sum)" "$(sort "$tmp/full" | md5sum)"

# --- a progress bar on a terminal, nothing on a pipe ---
lm-batch -m "$M" -t 2 -o "$tmp/quiet" "$tmp/req" 2> "$tmp/pipe.err"
is "nothing on stderr when it is not a terminal" "$(cat "$tmp/pipe.err")" ""
if command -v script > /dev/null; then
	script -qec "lm-batch -m '$M' -t 2 -o '$tmp/tty' '$tmp/req'" /dev/null > "$tmp/tty.out" 2>&1
	like "a progress bar on a terminal" "$(tr '\r' '\n' < "$tmp/tty.out" | tail -n 2)" "8/8 done, 4 failed, .* tok/s, ETA"
else
	skip "script(1) is missing: no terminal to show a progress bar on"
fi
done_testing
