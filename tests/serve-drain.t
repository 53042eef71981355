#!/bin/sh
# lm-serve's SIGTERM drain when the step in flight is slow: cancelled
# requests end when that step does, however long it takes (up to
# --cancel-timeout), and their streams end with data: [DONE] under curl.
# LMU_SERVE_STEP_DELAY makes every step that many seconds longer, as a
# long prompt on a large model would.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/servelib.sh"
need_model smollm2

body='{"messages":[{"role":"user","content":"Tell me a long story about a lighthouse keeper."}],"max_tokens":500,"stream":true,"temperature":0}'

# stream OUT: a streamed chat request with curl in the background (CURL_PID)
stream() {
	curl -sN --max-time 300 -H 'Content-Type: application/json' -d "$body" "$SERVE/v1/chat/completions" >"$1" 2>&1 &
	CURL_PID=$!
}

# wait_grep SECONDS PATTERN FILE: until the file has the pattern
wait_grep() {
	_i=0
	while ! grep -q "$2" "$3" 2>/dev/null && [ $_i -lt $(($1 * 10)) ]; do
		sleep 0.1; _i=$((_i + 1))
	done
	grep -q "$2" "$3" 2>/dev/null
}

busy() { curl -s "$SERVE/metrics" | sed -n 's/^lmserve_busy_sequences[{ ].* \([0-9.]*\)$/\1/p'; }
# wait_busy: until one sequence is in a step (30 s at most)
wait_busy() {
	_i=0
	while [ "$(busy)" != 1 ] && [ $_i -lt 300 ]; do sleep 0.1; _i=$((_i + 1)); done
}

# 1. Steps of 5 s (the fixed 2 s wait lm-serve had after cancelling cut
# these streams off): SIGTERM once a token has come, no time to finish,
# so the request is cancelled during the next step and ends with it.
export LMU_SERVE_STEP_DELAY=5
serve_start --parallel 1 --shutdown-timeout 0
stream "$tmp/s1"
ok "a token comes (steps of 5 s)" wait_grep 60 '"content":"[^"]' "$tmp/s1"
t0=$(date +%s%N)
serve_stop TERM
t1=$(date +%s%N)
wait $CURL_PID
is "SIGTERM during a 5 s step: exit 0" "$SERVE_STATUS" 0
ms=$(( (t1 - t0) / 1000000 ))
ok "... it waited for the step in flight ($ms ms, more than the old 2 s)" test $ms -gt 2000
ok "... the stream has an error event" grep -q '"error"' "$tmp/s1"
ok "... and ends with data: [DONE]" sh -c "tail -n 3 '$tmp/s1' | grep -q '^data: \[DONE\]'"
ok "... the log says it waits for the step" grep -q 'cancelling 1 requests (waiting up to 60 s for the step in flight)' "$SERVE_ERR"
ok "... and that it stopped" grep -q 'stopped$' "$SERVE_ERR"

# 2. A step longer than --cancel-timeout: the drain still ends in bounded
# time, without that request.
export LMU_SERVE_STEP_DELAY=60
serve_start --parallel 1 --shutdown-timeout 0 --cancel-timeout 1
stream "$tmp/s2"
wait_busy
is "a request in a 60 s step" "$(busy)" 1
t0=$(date +%s%N)
serve_stop TERM
t1=$(date +%s%N)
kill $CURL_PID 2>/dev/null; wait $CURL_PID
is "SIGTERM with --cancel-timeout 1: exit 0" "$SERVE_STATUS" 0
ms=$(( (t1 - t0) / 1000000 ))
ok "... within 1 s and a margin, not the step's 60 ($ms ms)" test $ms -lt 30000
ok "... the log says the request did not end" grep -q '1 requests did not end in 1\.[0-9] s: exiting without them' "$SERVE_ERR"

# 3. A second signal cuts the wait short the same way.
serve_start --parallel 1 --shutdown-timeout 0
stream "$tmp/s3"
wait_busy
kill -TERM $SERVE_PID
wait_grep 30 'cancelling 1 requests' "$SERVE_ERR"
t0=$(date +%s%N)
serve_stop INT
t1=$(date +%s%N)
kill $CURL_PID 2>/dev/null; wait $CURL_PID
is "a second signal while it waits for the step: exit 0" "$SERVE_STATUS" 0
ms=$(( (t1 - t0) / 1000000 ))
ok "... at once ($ms ms), not after the 60 s step" test $ms -lt 30000
ok "... without that request" grep -q '1 requests did not end in' "$SERVE_ERR"
unset LMU_SERVE_STEP_DELAY

done_testing
