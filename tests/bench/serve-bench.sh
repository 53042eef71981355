#!/bin/sh
# serve-bench.sh - lm-serve against llama.cpp's llama-server, side by side
# in one run on this machine: 1, 4 and 16 streaming chat clients at once,
# the same model, threads and parallel sequences (one per client), each
# client sending requests one after another, every request generating
# the same number of tokens.  Prints aggregate generated tokens/s, the
# time to first token (p50, p99) and the server's CPU time per generated
# token.  Not part of `make test`.
#
#   tests/bench/serve-bench.sh [-t THREADS] [-n TOKENS] [-r REQUESTS] [-c CTX] [MODEL]
#
# MODEL defaults to SmolLM2-135M-Instruct Q4_1; THREADS to every CPU;
# TOKENS (per request) to 64; REQUESTS (per client) to 4; CTX (per
# sequence) to 512.  llama-server is built once by build-llama-cpp.sh
# server from the same llama.cpp source as lm-bench.sh.
#
# llama-server runs with -nr (no weight repacking): on this machine's
# AMX-capable Xeon its AMX path dies with SIGSEGV in
# ggml_backend_amx_mul_mat on the first batch.  Its OpenMP threads wait
# passively (OMP_WAIT_POLICY=passive, unless the environment sets it): on
# a machine shared with other work, spinning threads that lose their core
# made it 20 times slower (0.7 against 16 tokens/s, one client, load 14
# on 2 cores); lm-serve's threads block in any case.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
threads=$(nproc) tokens=64 reqs=4 ctx=512
while getopts t:n:r:c: o; do
	case $o in
	t) threads=$OPTARG ;;
	n) tokens=$OPTARG ;;
	r) reqs=$OPTARG ;;
	c) ctx=$OPTARG ;;
	*) echo "usage: $0 [-t THREADS] [-n TOKENS] [-r REQUESTS] [-c CTX] [MODEL]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
model=${1:-$top/models/smollm2-135m-instruct-q4_1.gguf}
[ -f "$model" ] || make -s -C "$top" model >&2
make -s -C "$top" >&2
lbin=$(sh "$here/build-llama-cpp.sh" server)
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT

# start SERVER-NAME PARALLEL: the server on a free port; sets url, pid
start() {
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	if [ "$1" = lm-serve ]; then
		"$top/bin/lm-serve" -m "$model" --port "$port" -t "$threads" --parallel "$2" -c "$ctx" \
			2> "$tmp/server.err" &
	else
		OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive} "$lbin/llama-server" -m "$model" --port "$port" \
			-t "$threads" -np "$2" -c $((ctx * $2)) -nr --host 127.0.0.1 > "$tmp/server.err" 2>&1 &
	fi
	pid=$!
	url=http://127.0.0.1:$port
	i=0
	until [ "$(curl -s -o /dev/null -w '%{http_code}' "$url/health")" = 200 ]; do
		kill -0 $pid 2>/dev/null || { cat "$tmp/server.err" >&2; exit 1; }
		i=$((i + 1)); [ $i -lt 600 ] || { echo "$1 did not start" >&2; exit 1; }
		sleep 0.1
	done
	# one request to warm the caches
	python3 "$here/serve-bench.py" "$url" 1 1 8 > /dev/null
}

stop() { kill $pid; wait $pid 2>/dev/null || true; pid=; }
# CPU time the server has used (user + system, in clock ticks): on a
# shared machine its CPU per token varies less than its tokens per second
cpu_ticks() { awk '{ print $14 + $15 }' /proc/$pid/stat; }

printf '# %s, %s CPUs, load %s; model %s; %s threads, a sequence per client of %s positions; %s tokens per request, %s requests per client\n\n' \
	"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" "$(nproc)" "$(cut -d' ' -f1 /proc/loadavg)" \
	"$(basename "$model")" "$threads" "$ctx" "$tokens" "$reqs"
printf '| clients | server | tokens/s | TTFT p50 s | TTFT p99 s | CPU ms/token | requests | errors |\n'
printf '| ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |\n'
for n in 1 4 16; do
	for s in lm-serve llama-server; do
		start "$s" "$n"
		c0=$(cpu_ticks)
		python3 "$here/serve-bench.py" "$url" "$n" "$reqs" "$tokens" > "$tmp/r.json"
		c1=$(cpu_ticks)
		stop
		python3 - "$n" "$s" "$tmp/r.json" $((c1 - c0)) "$(getconf CLK_TCK)" <<'PY'
import json, sys
r = json.load(open(sys.argv[3]))
f = lambda x: "-" if x is None else "%.3f" % x
cpu = int(sys.argv[4]) / float(sys.argv[5]) * 1000 / max(r["tokens"], 1)
print("| %s | %s | %.1f | %s | %s | %.1f | %d | %s |" % (sys.argv[1], sys.argv[2], r["tps"], f(r["ttft_p50"]),
      f(r["ttft_p99"]), cpu, r["requests"], ",".join(map(str, r["errors"])) or "-"))
PY
	done
done
