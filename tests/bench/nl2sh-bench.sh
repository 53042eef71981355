#!/bin/sh
# nl2sh-bench.sh - the requests of nl2sh-requests.tsv through the real
# nl2sh (default model, constrained output, greedy): for each, the command,
# cmd-extract's verdict, whether it is plausible (a regex per request), and
# the time until the command is printed.  Prints a table and a summary.
# Not part of make test.
#
#   tests/bench/nl2sh-bench.sh [MODEL]
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
PATH=$top/bin:$PATH
export LM_MODEL=${1:-$top/models/smollm2-135m-instruct-q4_1.gguf}
make -s -C "$top" >&2 || exit 1

n=0 parsed=0 plausible=0 total_ms=0 max_ms=0
printf '| request | command | verdict | plausible | seconds |\n| --- | --- | --- | --- | ---: |\n'
while IFS='	' read -r req re; do
	case $req in ''|'#'*) continue ;; esac
	t0=$(date +%s%N)
	cmd=$(nl2sh --print "$req" 2>/dev/null)
	st=$?
	t1=$(date +%s%N)
	ms=$(( (t1 - t0) / 1000000 ))
	case $st in 0) v=safe ;; 3) v=moderate ;; 4) v=high ;; 5) v=critical ;; *) v="none ($st)" ;; esac
	n=$((n + 1))
	[ -n "$cmd" ] && case $st in 0|3|4|5) parsed=$((parsed + 1)) ;; esac
	p=no
	if [ -n "$cmd" ] && printf '%s' "$cmd" | grep -Eq -e "$re"; then p=yes; plausible=$((plausible + 1)); fi
	total_ms=$((total_ms + ms)); [ "$ms" -gt "$max_ms" ] && max_ms=$ms
	printf '| %s | `%s` | %s | %s | %d.%03d |\n' "$req" "$(printf '%s' "$cmd" | cut -c1-60 | tr '|' '/')" "$v" "$p" \
		$((ms / 1000)) $((ms % 1000))
done < "$here/nl2sh-requests.tsv"
printf '\n%d requests: %d gave a command, %d plausible (regex); time to the command: mean %d ms, max %d ms\n' \
	"$n" "$parsed" "$plausible" $((total_ms / n)) "$max_ms"
