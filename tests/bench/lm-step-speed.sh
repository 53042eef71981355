#!/bin/sh
# lm-step speed on one model: prefill (one batch of N ids) and decode (one
# id per batch, in one process), with float activations (default) and with
# --quant-act.  Prints a table; not run by make test.
#   sh tests/bench/lm-step-speed.sh [MODEL] [THREADS] [N_PREFILL] [N_DECODE]
M=${1:-models/smollm2-135m-instruct-q4_1.gguf}
T=${2:-$(nproc)}
NP=${3:-256}
ND=${4:-64}
B=${LMU_BIN:-bin}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
awk -v n="$NP" 'BEGIN { for (i = 0; i < n; i++) printf "%s%d", i ? " " : "", 100 + (i * 37) % 4000; print "" }' > "$tmp/prefill"
{ echo 1; i=0; while [ $i -lt "$ND" ]; do echo $((200 + i)); i=$((i + 1)); done; } > "$tmp/decode"
secs() { # seconds of wall time of a command (stdout discarded)
	s=$(date +%s.%N); "$@" > /dev/null; e=$(date +%s.%N); echo "$s $e" | awk '{ print $2 - $1 }'
}
printf '%-14s %8s %12s %12s\n' mode threads prefill_t/s decode_t/s
for mode in float quant-act; do
	opt=; [ $mode = quant-act ] && opt=--quant-act
	p=$(secs sh -c "$B/lm-step -m '$M' -t $T $opt < '$tmp/prefill'")
	d=$(secs sh -c "$B/lm-step -m '$M' -t $T $opt < '$tmp/decode'")
	l=$(secs sh -c "echo 1 | $B/lm-step -m '$M' -t $T $opt")
	awk -v m=$mode -v t=$T -v p=$p -v d=$d -v l=$l -v np=$NP -v nd=$ND \
		'BEGIN { printf "%-14s %8d %12.1f %12.1f\n", m, t, np / (p - l), nd / (d - l) }'
done
echo "(load time of one run subtracted; model $M)"
