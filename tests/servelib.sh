# servelib.sh - start and stop lm-serve for a test (sourced after lib.sh).
#
#   serve_start [OPTIONS]   lm-serve -m $SMOLLM2 --port 0 OPTIONS in the
#                           background, its database and Hugging Face cache
#                           under $tmp; sets SERVE (http://127.0.0.1:PORT),
#                           SERVE_PID, SERVE_ERR (its stderr) once /health
#                           answers 200
#   serve_spawn [OPTIONS]   the same, back as soon as it listens (the model
#                           may still be loading)
#   serve_stop [SIGNAL]     signal it (default TERM), wait; SERVE_STATUS
#   serve_fds               its open file descriptors (a number)
#   serve_rss               its resident memory in KiB
# The server is killed when the test exits.
command -v curl >/dev/null 2>&1 || skip_all "curl is needed (apt-get install curl)"

serve_start() {
	serve_spawn "$@" || return 1
	_i=0
	while [ "$(curl -s -o /dev/null -w '%{http_code}' "$SERVE/health")" != 200 ] && [ $_i -lt 600 ]; do
		kill -0 $SERVE_PID 2>/dev/null || { diag "lm-serve died: $(cat "$SERVE_ERR")"; return 1; }
		sleep 0.1; _i=$((_i + 1))
	done
}

serve_spawn() {
	SERVE_ERR=$tmp/serve.err.$$.$(date +%s%N)
	# its database and the Hugging Face cache it scans are the test's own
	mkdir -p "$tmp/xdg" "$tmp/hf"
	env -u HF_HUB_CACHE -u HUGGINGFACE_HUB_CACHE XDG_DATA_HOME="$tmp/xdg" HF_HOME="$tmp/hf" \
		lm-serve -m "$SMOLLM2" --port 0 "$@" 2>"$SERVE_ERR" &
	SERVE_PID=$!
	trap 'kill -9 $SERVE_PID 2>/dev/null; wait $SERVE_PID 2>/dev/null; rm -rf "$tmp"' EXIT
	_i=0
	while ! grep -q 'listening on' "$SERVE_ERR" 2>/dev/null && [ $_i -lt 1500 ]; do
		kill -0 $SERVE_PID 2>/dev/null || break
		sleep 0.02; _i=$((_i + 1))
	done
	SERVE=$(sed -n '1s/^lm-serve: listening on //p' "$SERVE_ERR")
	[ -n "$SERVE" ] || { diag "lm-serve did not start: $(cat "$SERVE_ERR")"; return 1; }
}

serve_stop() {
	kill -"${1:-TERM}" $SERVE_PID 2>/dev/null
	wait $SERVE_PID
	SERVE_STATUS=$?
}

serve_fds() { ls /proc/$SERVE_PID/fd | wc -l; }
serve_rss() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p' /proc/$SERVE_PID/status; }

# serve_python MODULE...: PY, the tests' Python ($LMU_PYTHON, tests/lib.sh:
# the venv `make deps` makes from tests/requirements.txt), if it has the
# modules; else the test is skipped and says which are missing.
serve_python() {
	PY=$LMU_PYTHON
	_miss=
	for _m in "$@"; do "$PY" -c "import $_m" 2>/dev/null || _miss="$_miss $_m"; done
	[ -z "$_miss" ] || skip_all "Python modules missing for $PY:$_miss (make deps installs tests/requirements.txt in .venv)"
	export PYTHONPATH=$top/tests/serve${PYTHONPATH:+:$PYTHONPATH}
}
