#!/bin/sh
# hf-fetch against a misbehaving local Hub: dropped connections, ignored
# Range, wrong bytes, auth errors, 404s, 429/5xx with Retry-After, a slow
# trickle, hostile names, two runs at once.  Nothing corrupt may ever land
# in blobs/ or snapshots/, and each fault gets its message and exit status.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hublib.sh"
start_hub 50

# The state of a repo's cache: every blob (name and sha256 of its content
# must agree for LFS blobs) and every snapshot entry.
cache_is_clean() {
	_rd=$HF_HUB_CACHE/models--$(echo "$1" | sed 's|/|--|')
	[ -d "$_rd/blobs" ] || return 0
	for _b in "$_rd"/blobs/*; do
		[ -e "$_b" ] || continue
		case $(basename "$_b") in
		*.incomplete) continue ;;
		????????????????????????????????????????????????????????????????)
			[ "$(sha256sum <"$_b" | cut -d' ' -f1)" = "$(basename "$_b")" ] || return 1 ;;
		esac
	done
	return 0
}
blobs_of() { ls "$HF_HUB_CACHE/models--$(echo "$1" | sed 's|/|--|')/blobs" 2>/dev/null | tr '\n' ' '; }
snapfiles() { find "$HF_HUB_CACHE/models--$(echo "$1" | sed 's|/|--|')/snapshots" ! -type d 2>/dev/null | wc -l | tr -d ' '; }
fault() { printf '%s\n' "$*" >>"$FAULTS"; }

mk() { _d=$(mkrepo "$1"); mkbytes "${2:-20000}" "${3:-5}" >"$_d/model.gguf"; echo '{}' >"$_d/config.json"; }

# --- the connection dropped mid-file: resumed with Range in the same run
mk t/drop
fault /cdn/t/drop/ 1 drop 7000
ok "dropped connection: resumed and finished" hf-fetch t/drop
like "the retry asked for the rest with Range" "$(grep /cdn/t/drop/ "$HUBLOG" | tail -n 1)" 'range=bytes=7000-'
like "a retry notice on stderr" "$(cat "$tmp/err")" 'transfer closed with 13000 bytes remaining to read; retrying in'
ok "the file is intact" cmp "$(cat "$tmp/out")/model.gguf" "$HUBROOT/t/drop/model.gguf"

# --- dropped with no retries left: the part is kept, the next run resumes
mk t/resume
fault /cdn/t/resume/ 1 drop 5000
fails "dropped, --retries 0: exit 1" 1 hf-fetch --retries 0 t/resume
like "message says the transfer broke" "$(cat "$tmp/err")" 't/resume: model.gguf: '
is "nothing in snapshots/ for the broken file" "$(find "$HF_HUB_CACHE/models--t--resume/snapshots" -name model.gguf 2>/dev/null | wc -l | tr -d ' ')" 0
sha=$(sha256sum <"$HUBROOT/t/resume/model.gguf" | cut -d' ' -f1)
is "the part is kept as <blob>.incomplete" "$(wc -c <"$HF_HUB_CACHE/models--t--resume/blobs/$sha.incomplete" | tr -d ' ')" 5000
ok "the next run resumes" hf-fetch t/resume
like "from byte 5000" "$(grep /cdn/t/resume/ "$HUBLOG" | tail -n 1)" 'range=bytes=5000-'
ok "and the file is intact" cmp "$(cat "$tmp/out")/model.gguf" "$HUBROOT/t/resume/model.gguf"
is "no .incomplete left" "$(blobs_of t/resume | grep -c incomplete)" 0

# --- a run killed outright left BLOB.incomplete.PID: the next run adopts it
mk t/orphan
sha=$(sha256sum <"$HUBROOT/t/orphan/model.gguf" | cut -d' ' -f1)
d=$HF_HUB_CACHE/models--t--orphan/blobs; mkdir -p "$d"
head -c 5000 "$HUBROOT/t/orphan/model.gguf" >"$d/$sha.incomplete.2147483000"
ok "a dead run's part is adopted" hf-fetch t/orphan
like "and resumed from byte 5000" "$(grep /cdn/t/orphan/ "$HUBLOG")" 'range=bytes=5000-'
ok "the file is intact" cmp "$(cat "$tmp/out")/model.gguf" "$HUBROOT/t/orphan/model.gguf"
is "no part left behind" "$(blobs_of t/orphan | grep -c incomplete)" 0

# --- Range ignored (200 to a Range request): restart, never append
mk t/norange
d=$HF_HUB_CACHE/models--t--norange/blobs; mkdir -p "$d"
sha=$(sha256sum <"$HUBROOT/t/norange/model.gguf" | cut -d' ' -f1)
head -c 6000 "$HUBROOT/t/norange/model.gguf" >"$d/$sha.incomplete"
fault /cdn/t/norange/ 0 norange
ok "Range ignored: restarted and finished" hf-fetch t/norange
like "a Range was asked for" "$(grep /cdn/t/norange/ "$HUBLOG")" 'range=bytes=6000-'
like "says it restarted" "$(cat "$tmp/err")" 'ignored the Range request; restarting'
ok "the file is intact (not appended)" cmp "$(cat "$tmp/out")/model.gguf" "$HUBROOT/t/norange/model.gguf"

# --- same size, wrong bytes: refused, nothing enters the cache
mk t/corrupt
fault /cdn/t/corrupt/ 0 corrupt
fails "same-size wrong bytes: exit 1" 1 hf-fetch t/corrupt
like "message says the bytes do not match the sha256" "$(cat "$tmp/err")" 'model.gguf: the downloaded bytes do not match the sha256'
is "no blob for it" "$(blobs_of t/corrupt | grep -c "$(sha256sum <"$HUBROOT/t/corrupt/model.gguf" | cut -c1-64)")" 0
is "no snapshot entry for it" "$(find "$HF_HUB_CACHE/models--t--corrupt/snapshots" -name model.gguf 2>/dev/null | wc -l | tr -d ' ')" 0
ok "every blob in the cache matches its name" cache_is_clean t/corrupt
# a small (git-stored) file with wrong bytes is caught by its git blob id
r=$(mkrepo t/corrupt-small); echo '{"a": 1}' >"$r/config.json"
fault /t/corrupt-small/resolve/ 0 corrupt
fails "wrong bytes in a small file: exit 1" 1 hf-fetch t/corrupt-small
like "checked against the git blob id" "$(cat "$tmp/err")" 'do not match the git blob id'
is "no blob" "$(blobs_of t/corrupt-small)" ""
# a resumable part whose prefix is wrong is caught too
mk t/badpart
d=$HF_HUB_CACHE/models--t--badpart/blobs; mkdir -p "$d"
sha=$(sha256sum <"$HUBROOT/t/badpart/model.gguf" | cut -d' ' -f1)
mkbytes 4000 99 >"$d/$sha.incomplete"
fails "a wrong .incomplete prefix: exit 1" 1 hf-fetch t/badpart
is "and it is discarded, not kept" "$(blobs_of t/badpart | grep -c "$sha")" 0
ok "the next run starts afresh and succeeds" hf-fetch t/badpart

# --- 401 / 403: private and gated repos, tokens
mk private/model
fails "private repo without a token: exit 1" 1 hf-fetch private/model
like "401 message says how to pass a token" "$(cat "$tmp/err")" 'private/model: repository not found, private, or gated (HTTP 401); no token was sent: set HF_TOKEN'
fails "a wrong token: exit 1" 1 env HF_TOKEN=hf_wrong hf-fetch private/model
like "invalid credentials message" "$(cat "$tmp/err")" 'the token was refused (HTTP 401, invalid credentials)'
if grep -q hf_wrong "$tmp/err" "$tmp/out"; then _result 1 "the token is never printed"; else _result 0 "the token is never printed"; fi
: >"$HUBLOG"
ok "HF_TOKEN opens it" env HF_TOKEN=hf_testtoken hf-fetch private/model
like "the token went to the Hub" "$(grep /resolve/ "$HUBLOG" | head -n 1)" 'auth=1'
like "but not to the CDN host the redirect named" "$(grep /cdn/ "$HUBLOG")" 'auth=0'
rm -rf "$HF_HUB_CACHE/models--private--model"
mkdir -p "$HF_HOME"; printf 'hf_testtoken\n' >"$HF_HOME/token"
ok "the token file \$HF_HOME/token opens it" hf-fetch private/model
if grep -q hf_testtoken "$tmp/err" "$tmp/out"; then _result 1 "token file contents never printed"; else _result 0 "token file contents never printed"; fi
rm -f "$HF_HOME/token"
printf 'hf_testtoken\n' >"$tmp/tok"
ok "--token-file opens it" hf-fetch --token-file "$tmp/tok" private/model config.json
ok "--token-file wins over HF_TOKEN" env HF_TOKEN=hf_wrong hf-fetch --token-file "$tmp/tok" private/model config.json
head -c 1023 /dev/zero | tr '\000' a >"$tmp/tok1023"; printf '\n\n' >>"$tmp/tok1023"
fails "a token file of 1023 bytes and line breaks is read whole (and sent)" 1 hf-fetch --token-file "$tmp/tok1023" private/model config.json
like "... the Hub refuses it as a token" "$(cat "$tmp/err")" 'the token was refused (HTTP 401, invalid credentials)'
head -c 1024 /dev/zero | tr '\000' a >"$tmp/toklong"
requests=$(wc -l <"$HUBLOG")
fails "a token file over 1023 bytes: exit 1" 1 hf-fetch --token-file "$tmp/toklong" private/model config.json
like "... refused, not cut" "$(cat "$tmp/err")" "toklong: the token file holds more than 1023 bytes, more than any token; it was not sent"
is "... before any request" "$(wc -l <"$HUBLOG")" "$requests"
n=$(wc -l <"$HUBLOG")
fails "a token with a line break: exit 1" 1 env HF_TOKEN="$(printf 'hf_x\r\nX-Evil: 1')" hf-fetch private/model
like "refused before sending" "$(cat "$tmp/err")" 'HF_TOKEN holds a character a token cannot have'
is "nothing was sent" "$(wc -l <"$HUBLOG")" "$n"
if grep -q -e hf_x -e X-Evil "$tmp/err"; then _result 1 "the bad token is not printed"; else _result 0 "the bad token is not printed"; fi
mk gated/model
fails "gated repo without a token: exit 1" 1 hf-fetch gated/model
like "gated message (401)" "$(cat "$tmp/err")" 'gated/model is a gated repo (HTTP 401): request access at'
fails "gated repo with a token: exit 1" 1 env HF_TOKEN=hf_testtoken hf-fetch gated/model
like "gated message (403)" "$(cat "$tmp/err")" 'gated/model is a gated repo (HTTP 403).*a token was sent'
mk t/forbidden
fault /t/forbidden/resolve/ 0 status 403
fails "403 on a file: exit 1" 1 hf-fetch t/forbidden
like "403 message" "$(cat "$tmp/err")" 'access denied (HTTP 403)'

# --- 404
fails "missing repo (no token: 401): exit 1" 1 hf-fetch t/nothing
like "not found message" "$(cat "$tmp/err")" 't/nothing: repository not found, private, or gated'
fails "missing repo with a token (404): exit 1" 1 env HF_TOKEN=hf_testtoken hf-fetch t/nothing
like "404 repo message" "$(cat "$tmp/err")" 't/nothing: repository not found (HTTP 404)'
mk t/gone
fault /t/gone/resolve/ 0 status 404 EntryNotFound
fails "file 404 from the resolve endpoint: exit 1" 1 hf-fetch t/gone config.json
like "file 404 message" "$(cat "$tmp/err")" 't/gone: config.json: no such file at revision main (HTTP 404)'
is "nothing was linked" "$(snapfiles t/gone)" 0

# --- 429 then success, honouring Retry-After; 5xx; other 4xx not retried
mk t/busy
fault /api/models/t/busy/revision 1 status 429 - 1
ok "429 then success" hf-fetch t/busy
is "the revision was asked for twice" "$(grep -c 'busy/revision/main' "$HUBLOG")" 2
like "waited as Retry-After said (1 s, not the 0.05 s backoff)" "$(cat "$tmp/err")" 'HTTP 429; retrying in 1.0 s'
mk t/flaky
fault /cdn/t/flaky/ 2 status 503
ok "503 twice on the file, then success" hf-fetch t/flaky
is "three requests to the CDN" "$(grep -c /cdn/t/flaky/ "$HUBLOG")" 3
mk t/down
fault /api/models/t/down/ 0 status 500
fails "500 every time: exit 1 after the retries" 1 hf-fetch --retries 2 t/down
is "1 + 2 retries" "$(grep -c /api/models/t/down/ "$HUBLOG")" 3
like "server error message" "$(cat "$tmp/err")" 'server error (HTTP 500) after every retry'
mk t/limited
fault /api/models/t/limited/ 0 status 429
fails "429 every time: exit 1" 1 hf-fetch --retries 1 t/limited
like "rate limit message" "$(cat "$tmp/err")" 'rate limited (HTTP 429)'
mk t/bad
fault /api/models/t/bad/ 0 status 400
fails "400: exit 1" 1 hf-fetch t/bad
is "400 is not retried" "$(grep -c /api/models/t/bad/ "$HUBLOG")" 1

# --- a slow trickle: the low-speed timeout aborts, the retry resumes
mk t/slow 3000
fault /cdn/t/slow/ 1 trickle 400
ok "slow trickle once, then normal: success" hf-fetch --low-speed-time 1 --low-speed-limit 1000 t/slow
like "the low-speed timeout fired" "$(cat "$tmp/err")" 'retrying'
like "and the retry resumed with Range" "$(grep /cdn/t/slow/ "$HUBLOG" | tail -n 1)" 'range=bytes=[1-9]'
ok "the file is intact" cmp "$(cat "$tmp/out")/model.gguf" "$HUBROOT/t/slow/model.gguf"
mk t/slower 3000
fault /cdn/t/slower/ 0 trickle 400
fails "always too slow: exit 1" 1 hf-fetch --retries 0 --low-speed-time 1 --low-speed-limit 1000 t/slower
like "says it was too slow" "$(cat "$tmp/err")" 'Operation too slow'
is "no snapshot entry" "$(find "$HF_HUB_CACHE/models--t--slower/snapshots" -name model.gguf 2>/dev/null | wc -l | tr -d ' ')" 0

# --- hostile file names in the listing
mk t/evil
fault /api/models/t/evil/tree 0 hostile
fails "hostile names selected: exit 1" 1 hf-fetch t/evil
like "refused with the name" "$(cat "$tmp/err")" "unsafe file name '../escape.txt'; refused"
is "nothing written" "$(snapfiles t/evil)" 0
ls "$tmp" >"$tmp/before"
ok "a safe file from the same repo still works" hf-fetch t/evil config.json
like "with a warning about each unsafe name" "$(cat "$tmp/err")" "ignoring the unsafe file name '/tmp/abs.txt'"
ok "no escape.txt or up.txt anywhere under the test dir" sh -c "! find '$tmp' -name escape.txt -o -name up.txt | grep -q ."
ok "no /tmp/abs.txt" test ! -e /tmp/abs.txt

# --- pagination that never ends: a next link back to the same page, and
# pages that repeat under ever new links; each is stopped at once
mk t/loop
fault /api/models/t/loop/tree 0 looplink
fails "a listing whose next link is itself: exit 1" 1 timeout 20 hf-fetch t/loop
like "says the pages go round in a loop" "$(cat "$tmp/err")" "t/loop: .*listing's next page .* was fetched before: the server's pages go round in a loop"
is "after one request" "$(grep -c 'GET /api/models/t/loop/tree' "$HUBLOG")" 1
mk t/repeat
fault /api/models/t/repeat/tree 0 repeatlink
fails "a listing that repeats its first page under new links: exit 1" 1 timeout 20 hf-fetch t/repeat
like "says which file came twice" "$(cat "$tmp/err")" "t/repeat: .*the tree listing names config.json twice: the server's pages repeat themselves"
is "after two requests" "$(grep -c 'GET /api/models/t/repeat/tree' "$HUBLOG")" 2
is "nothing written" "$(snapfiles t/repeat)" 0
fault /api/models 0 looplink
fails "a search whose next link is itself: exit 1" 1 timeout 20 hf-fetch --search loop --limit 1000
like "says so" "$(cat "$tmp/err")" "search's next page .* was fetched before"
is "after one search request" "$(grep -c 'GET /api/models?' "$HUBLOG")" 1
: >"$FAULTS"

# --- a server that reads the request and never answers: given up after
# the answer timeout (HF_FETCH_TIMEOUT, --timeout), retries included,
# instead of five retries of 30 s each
mk t/silent
fault /api/models/t/silent/ 0 silent
start=$(date +%s)
fails "a silent server: exit 1" 1 env HF_FETCH_TIMEOUT=3 hf-fetch --retries 5 t/silent
took=$(($(date +%s) - start))
like "says the server sent nothing" "$(cat "$tmp/err")" "cannot reach http://127.0.0.1:[0-9]* (the server sent nothing in [3-9] s)"
ok "within a few seconds of the timeout (took $took s)" test "$took" -le 8
is "two requests at most (no five retries)" "$(test "$(grep -c 'GET /api/models/t/silent/' "$HUBLOG")" -le 2 && echo yes)" yes
fails "--timeout sets it too" 1 hf-fetch --timeout 2 --retries 5 t/silent
like "... 2 s" "$(cat "$tmp/err")" "the server sent nothing in [2-5] s"
: >"$FAULTS"

# --- two runs at once on the same files: the second starts while the
# first is downloading (its CDN request is in the log; the transfer takes
# 1.5 s), waits for the lock and reuses the blob
await_cdn() { _i=0; while ! grep -q "/cdn/$1/" "$HUBLOG" && [ $_i -lt 200 ]; do sleep 0.05; _i=$((_i + 1)); done; }
mk t/twice 150000
fault /cdn/t/twice/ 0 trickle 100000
hf-fetch t/twice >"$tmp/o1" 2>"$tmp/e1" & p1=$!
await_cdn t/twice
hf-fetch t/twice >"$tmp/o2" 2>"$tmp/e2" & p2=$!
wait $p1; s1=$?; wait $p2; s2=$?
is "both concurrent runs succeed" "$s1 $s2" "0 0"
is "both print the snapshot" "$(cat "$tmp/o1")" "$(cat "$tmp/o2")"
like "the second waited for the first" "$(cat "$tmp/e2")" 'model.gguf: another process is fetching it; waiting'
is "one download only" "$(grep -c /cdn/t/twice/ "$HUBLOG")" 1
ok "the file is intact" cmp "$(cat "$tmp/o1")/model.gguf" "$HUBROOT/t/twice/model.gguf"
is "only the blobs remain in blobs/" "$(blobs_of t/twice | wc -w | tr -d ' ')" 2
ok "every blob in the cache matches its name" cache_is_clean t/twice

# the same with locks that succeed for everyone (network filesystems):
# each process writes its own temporary file and renames it into place
mk t/nolock 150000 7
fault /cdn/t/nolock/ 0 trickle 100000
HF_FETCH_NO_LOCK=1 hf-fetch -q t/nolock >"$tmp/o1" 2>"$tmp/e1" & p1=$!
await_cdn t/nolock
HF_FETCH_NO_LOCK=1 hf-fetch -q t/nolock >"$tmp/o2" 2>"$tmp/e2" & p2=$!
wait $p1; s1=$?; wait $p2; s2=$?
is "both unlocked concurrent runs succeed" "$s1 $s2" "0 0"
is "both downloaded at once (no lock held the second back)" "$(grep -c /cdn/t/nolock/ "$HUBLOG")" 2
ok "the file is intact" cmp "$(cat "$tmp/o1")/model.gguf" "$HUBROOT/t/nolock/model.gguf"
is "only the blobs remain in blobs/" "$(blobs_of t/nolock | wc -w | tr -d ' ')" 2
ok "every blob matches its name" cache_is_clean t/nolock
done_testing
