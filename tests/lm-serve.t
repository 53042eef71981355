#!/bin/sh
# lm-serve: it listens where it says, answers the OpenAI routes with curl
# (whole and streamed), gives lm-run's greedy text, and stops on SIGTERM.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/servelib.sh"
need_model smollm2
command -v jq >/dev/null || skip_all "jq is needed"

# while the model loads (about 0.2 s for this one), /health answers 503
serve_spawn
code=$(curl -s -D "$tmp/load.head" -o "$tmp/load.body" -w '%{http_code}' "$SERVE/health")
if [ "$code" = 503 ]; then
	is "GET /health while the model loads: 503" "$code" 503
	is "... {\"status\":\"loading\"}" "$(cat "$tmp/load.body")" '{"status":"loading"}'
	like "... with Retry-After" "$(cat "$tmp/load.head")" 'Retry-After: 1'
else
	skip "the model was loaded before the first /health (answered $code)"
	skip "the model was loaded before the first /health"
	skip "the model was loaded before the first /health"
fi
serve_stop KILL
# the model is marked loading before the socket takes requests: a 200 from
# /health, however early, means completions are served (the window this
# closes was too short to hit on purpose: the check is on every start)
bad=
for i in 1 2 3 4 5; do
	serve_spawn
	code=$(curl -s -o /dev/null -w '%{http_code}' "$SERVE/health")
	if [ "$code" = 200 ]; then
		c2=$(curl -s -o /dev/null -w '%{http_code}' "$SERVE/v1/completions" -d '{"prompt":"Hi","max_tokens":1}')
		[ "$c2" = 200 ] || bad="$bad start $i: /health 200, then a completion $c2;"
	elif [ "$code" != 503 ]; then
		bad="$bad start $i: /health $code;"
	fi
	serve_stop
done
is "five starts: /health is 503 until a completion can be served" "$bad" ""

ok "lm-serve starts on a free port" serve_start --parallel 2
like "the first stderr line says where it listens" "$(head -n 1 "$SERVE_ERR")" \
	'^lm-serve: listening on http://127\.0\.0\.1:[1-9][0-9]*$'
is "GET /health" "$(curl -s "$SERVE/health")" '{"status":"ok"}'
is "GET /v1/models lists the model" "$(curl -s "$SERVE/v1/models" | jq -r '.data[0].id')" \
	smollm2-135m-instruct-q4_1

msgs='[{"role":"user","content":"Write a haiku about pipes."}]'
curl -s "$SERVE/v1/chat/completions" -d "{\"messages\":$msgs,\"max_tokens\":24,\"temperature\":0}" \
	> "$tmp/chat.json"
is "chat completion: object" "$(jq -r .object "$tmp/chat.json")" chat.completion
is "... finish_reason length at max_tokens" "$(jq -r '.choices[0].finish_reason' "$tmp/chat.json")" length
is "... usage counts 24 tokens" "$(jq -r '.usage.completion_tokens' "$tmp/chat.json")" 24
lm-run -m "$SMOLLM2" --temperature 0 --repeat-penalty 1 -n 24 "Write a haiku about pipes." > "$tmp/lmrun.txt"
is "greedy text equals lm-run --temperature 0" "$(jq -r '.choices[0].message.content' "$tmp/chat.json")" \
	"$(cat "$tmp/lmrun.txt")"

curl -sN "$SERVE/v1/chat/completions" \
	-d "{\"messages\":$msgs,\"max_tokens\":24,\"temperature\":0,\"stream\":true}" > "$tmp/stream.txt"
is "the raw event stream ends with data: [DONE]" "$(grep . "$tmp/stream.txt" | tail -n 1)" 'data: [DONE]'
sed -n 's/^data: \({.*\)$/\1/p' "$tmp/stream.txt" > "$tmp/chunks"
is "the first chunk carries the role" "$(head -n 1 "$tmp/chunks" | jq -r '.choices[0].delta.role')" assistant
is "one id for the whole stream" "$(jq -r .id "$tmp/chunks" | sort -u | wc -l)" 1
is "streamed text equals the whole answer" "$(jq -j '.choices[0].delta.content // empty' "$tmp/chunks")" \
	"$(cat "$tmp/lmrun.txt")"
is "the last chunk has finish_reason" "$(tail -n 1 "$tmp/chunks" | jq -r '.choices[0].finish_reason')" length

serve_stop TERM
is "SIGTERM: exit 0" "$SERVE_STATUS" 0
like "... and says so" "$(tail -n 1 "$SERVE_ERR")" 'lm-serve: stopped'
done_testing
