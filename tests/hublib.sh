# hublib.sh - start tests/hubserver.py for a test (sourced after lib.sh).
#
#   start_hub [PAGESIZE]   sets HUB (endpoint URL), HUBROOT (repos), HUBLOG,
#                          FAULTS; exports HF_HUB_CACHE, HF_HOME, test knobs
#   mkrepo ORG/NAME        an empty repo under HUBROOT, path on stdout
# The server is stopped when the test exits.
command -v python3 >/dev/null 2>&1 || skip_all "python3 is needed for the local Hub server"

start_hub() {
	HUBROOT=$tmp/hub; HUBLOG=$tmp/hub.log; FAULTS=$tmp/faults
	mkdir -p "$HUBROOT"; : >"$HUBLOG"; : >"$FAULTS"
	python3 "$top/tests/hubserver.py" "$HUBROOT" "$tmp/port" "$HUBLOG" "$FAULTS" ${1:-3} \
		2>"$tmp/hub.err" &
	_hub_pid=$!
	trap 'kill $_hub_pid 2>/dev/null; wait $_hub_pid 2>/dev/null; rm -rf "$tmp"' EXIT
	_i=0
	while [ ! -s "$tmp/port" ] && [ $_i -lt 100 ]; do sleep 0.05; _i=$((_i + 1)); done
	[ -s "$tmp/port" ] || { echo "1..0 # SKIP the local Hub server did not start: $(cat "$tmp/hub.err")"; exit 0; }
	HUB=http://127.0.0.1:$(cat "$tmp/port")
	HF_ENDPOINT=$HUB
	HF_HOME=$tmp/hfhome
	HF_HUB_CACHE=$tmp/cache
	HF_FETCH_BACKOFF=0.05
	HF_FETCH_MAX_WAIT=2
	export HF_ENDPOINT HF_HOME HF_HUB_CACHE HF_FETCH_BACKOFF HF_FETCH_MAX_WAIT
	unset HF_TOKEN HF_TOKEN_PATH HF_HUB_OFFLINE HUGGINGFACE_HUB_CACHE
}

mkrepo() { mkdir -p "$HUBROOT/$1"; printf '%s\n' "$HUBROOT/$1"; }

# A deterministic binary file of N bytes.
mkbytes() { python3 -c "import sys; sys.stdout.buffer.write(bytes((i * 7 + $2) & 255 for i in range($1)))"; }
