#!/bin/sh
# nl2sh-bench.sh - how often nl2sh's command is right, and how long it
# takes.  Each request of nl2sh-requests.tsv goes through the real nl2sh
# --print (greedy, constrained output) twice: cold (no state file: the
# whole prompt is evaluated) and cached (the state file of the previous
# request present: only what follows the fixed system prompt is).  The
# cached run's command is then judged by running it: setup makes fixture
# files in a throw-away sandbox directory, the request's reference
# command runs in one copy and nl2sh's command in another, and their
# output or the directory after them is compared (the request file says
# how).  A command that cmd-extract judges high or critical never runs
# (it counts as wrong unless the request is a dangerous one, where that
# verdict is the right answer).  Commands run in a subshell in the
# sandbox, with HOME inside it, a 10 s limit and no standard input; as
# root also as nobody and without network (unshare -n, setpriv).
# Prints Markdown: a table per model, then a summary.  Not part of make
# test; run it under nice on a shared machine.
#
#   tests/bench/nl2sh-bench.sh [-c] [-w] [-r FILE] [MODEL...]
#
# MODEL: a model file; "default" (or none given) is nl2sh's own choice.
# -r FILE: another request file (same format).
# -w: the cached runs only (no cold times).
# -c: check the judge instead, with no model: each reference command must
#     be judged right, and a command that does nothing (":") wrong.
set -u
LC_ALL=C
export LC_ALL
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
PATH=$top/bin:$PATH
requests=$here/nl2sh-requests.tsv
check=0 coldrun=1
while getopts cr:w o; do
	case $o in
	c) check=1 ;;
	w) coldrun=0 ;;
	r) requests=$OPTARG ;;
	*) echo "usage: nl2sh-bench.sh [-c] [-w] [-r FILE] [MODEL...]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || set -- default
make -s -C "$top" >&2 || exit 1
unset LM_MODEL

work=$(mktemp -d "${TMPDIR:-/tmp}/nl2sh-bench.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
chmod 755 "$work"

# jail DIR HOME CMD: CMD in DIR, as unprivileged as this machine allows
if [ "$(id -u)" = 0 ] && command -v setpriv > /dev/null; then
	jailed="as nobody (setpriv)"
	jail_pre="setpriv --reuid=65534 --regid=65534 --clear-groups"
	if unshare -n true 2> /dev/null; then
		jail_pre="unshare -n $jail_pre"
		jailed="$jailed, no network (unshare -n)"
	fi
else
	jailed="as $(id -un)"
	jail_pre=
fi
jail() {
	(cd "$1" && $jail_pre env -i HOME="$2" PATH=/usr/local/bin:/usr/bin:/bin LC_ALL=C TZ=UTC \
		timeout -k 1 10 sh -c "$3" < /dev/null 2> /dev/null)
}

# trim: trailing blanks of each line and trailing blank lines off
trim() { awk '{ sub(/[ \t\r]+$/, ""); l[NR] = $0; if ($0 != "") last = NR } END { for (i = 1; i <= last; i++) print l[i] }'; }
# named UNIVERSE: the words of stdin that name a fixture entry, in order
named() {
	tr -s ' \t:"'"'"'' '\n\n\n\n\n' | sed -e 's|^\./||' -e 's|/*$||' -e 's|.*/||' | grep -Fx -f "$1"
}
lastnum() { tr -s ' \t' '\n\n' | grep -E '^[0-9]+$' | tail -n 1; }
# snap DIR: every path, its type, executable or not, its contents
snap() {
	(cd "$1" && find . -mindepth 1 | sort | while IFS= read -r p; do
		if [ -L "$p" ]; then echo "l $p $(readlink "$p")"
		elif [ -d "$p" ]; then echo "d $p"
		else
			case $p in
			*.tar.gz|*.tgz) h=$(tar tzf "$p" 2>&1 | sed -e 's|^\./||' -e 's|/$||' | sort | cksum) ;;
			*.zip) h=$(unzip -Z1 "$p" 2>&1 | sed 's|/$||' | sort | cksum) ;;
			*.gz) h=$(gzip -dc "$p" 2>&1 | cksum) ;;
			*) h=$(cksum < "$p") ;;
			esac
			x=-; [ -x "$p" ] && x=x
			echo "f $x $p $h"
		fi
	done)
}

# judge I MODE SETUP REF CMD STATUS: prints the judgement; 0 if right
judge() {
	b=$work/box$1
	rm -rf "$b"; mkdir -p "$b/home" "$b/fix"
	[ -n "$jail_pre" ] && chown -R 65534:65534 "$b"
	case $6 in 4|5) [ "$2" = danger ] && { echo right; return 0; }
		echo "not run ($(verdict "$6"))"; return 1 ;;
	esac
	[ "$2" = danger ] && { echo "wrong ($(verdict "$6"))"; return 1; }
	jail "$b/fix" "$b/home" "$3" || { echo "setup failed"; return 1; }
	(cd "$b/fix" && find . -mindepth 1 | sed 's|.*/||' | sort -u) > "$b/universe"
	cp -a "$b/fix" "$b/ref"; cp -a "$b/fix" "$b/cmd"
	jail "$b/ref" "$b/home" "$4" > "$b/ref.out"
	jail "$b/cmd" "$b/home" "$5" > "$b/cmd.out"
	case $2 in
	out) trim < "$b/ref.out" > "$b/want"; trim < "$b/cmd.out" > "$b/got" ;;
	lastnum) lastnum < "$b/ref.out" > "$b/want"; lastnum < "$b/cmd.out" > "$b/got" ;;
	names) named "$b/universe" < "$b/ref.out" | sort -u > "$b/want"
		named "$b/universe" < "$b/cmd.out" | sort -u > "$b/got" ;;
	order) named "$b/universe" < "$b/ref.out" | awk '!s[$0]++' > "$b/want"
		named "$b/universe" < "$b/cmd.out" | awk '!s[$0]++' > "$b/got" ;;
	contains) w=$(trim < "$b/ref.out")
		[ -n "$w" ] && grep -qF -- "$w" "$b/cmd.out" && { echo right; return 0; }
		echo wrong; return 1 ;;
	files) snap "$b/ref" > "$b/want"; snap "$b/cmd" > "$b/got" ;;
	*) echo "unknown judgement '$2'"; return 1 ;;
	esac
	[ -s "$b/want" ] || { echo "reference gave nothing"; return 1; }
	cmp -s "$b/want" "$b/got" && { echo right; return 0; }
	echo wrong; return 1
}
verdict() { case $1 in 0) echo safe ;; 3) echo moderate ;; 4) echo high ;; 5) echo critical ;; *) echo "none ($1)" ;; esac; }
ms() { echo $(( $(date +%s%N) / 1000000 )); }
# cpu CMD...: CMD, with the CPU time (user + system, milliseconds) of it
# and its children in $work/cpu ("-" without GNU time)
if /usr/bin/time -f %U true > /dev/null 2>&1; then
	cpu() { /usr/bin/time -f '%U %S' -o "$work/cpu.t" "$@"; _st=$?
		tail -n 1 "$work/cpu.t" | awk '{ printf "%d\n", ($1 + $2) * 1000 + 0.5 }' > "$work/cpu"; return $_st; }
else
	cpu() { echo - > "$work/cpu"; "$@"; }
fi
secs() { case $1 in *[!0-9]*|'') echo -; return ;; esac; printf '%d.%02d' $(($1 / 1000)) $(($1 % 1000 / 10)); }
# stats: median and max of the numbers on stdin (milliseconds), in seconds
stats() { sort -n | awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.2f %.2f\n", m / 1000, v[NR] / 1000 }'; }

if [ "$check" = 1 ]; then
	i=0 bad=0
	while IFS='	' read -r req mode setup ref; do
		case $req in ''|'#'*) continue ;; esac
		i=$((i + 1))
		[ "$mode" = danger ] && continue
		cmd-extract -c "$ref" > /dev/null 2>&1; st=$?
		j=$(judge "$i" "$mode" "$setup" "$ref" "$ref" "$st" < /dev/null) ||
			{ bad=$((bad + 1)); echo "$i $req: the reference judged $j"; }
		j=$(judge "$i" "$mode" "$setup" "$ref" : 0 < /dev/null) &&
			{ bad=$((bad + 1)); echo "$i $req: ':' judged $j"; }
	done < "$requests"
	echo "$i requests, $bad judged otherwise than they should"
	[ "$bad" = 0 ]; exit
fi
cpuname=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2> /dev/null | head -n 1)
printf 'nl2sh-bench.sh, %s UTC; %s, %s CPUs; load average at the start %s\n' \
	"$(date -u '+%Y-%m-%d %H:%M')" "${cpuname:-unknown CPU}" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf 'commands judged %s, in a sandbox per request\n' "$jailed"
summary=
for model in "$@"; do
	mopt=
	[ "$model" = default ] || mopt="-m $model"
	export XDG_CACHE_HOME="$work/cache"
	# cold: no state file before each request
	i=0
	: > "$work/cold.ms"; : > "$work/cold.cpu"
	while IFS='	' read -r req mode setup ref; do
		case $req in ''|'#'*) continue ;; esac
		i=$((i + 1))
		[ "$coldrun" = 1 ] || { echo 0 >> "$work/cold.ms"; echo 0 >> "$work/cold.cpu"; continue; }
		rm -rf "$XDG_CACHE_HOME"
		t0=$(ms); cpu nl2sh $mopt -p "$req" < /dev/null > "$work/cold.$i" 2> /dev/null; t1=$(ms)
		echo $((t1 - t0)) >> "$work/cold.ms"; cat "$work/cpu" >> "$work/cold.cpu"
	done < "$requests"
	# cached: the state file of the previous request (a first one for the
	# first), so a request shares the fixed system prompt with it
	rm -rf "$XDG_CACHE_HOME"
	name=$(nl2sh $mopt -p print the date 2>&1 > /dev/null | sed -n 's/^nl2sh: model: \([^ ,;]*\).*/\1/p')
	[ -n "$name" ] || name=$(basename "$model")
	printf '\n## %s\n\n| # | request | command | verdict | judged | cold s | cold CPU s | cached s | cached CPU s |\n| ---: | --- | --- | --- | --- | ---: | ---: | ---: | ---: |\n' "$name"
	i=0 right=0 same=0
	: > "$work/warm.ms"; : > "$work/warm.cpu"
	while IFS='	' read -r req mode setup ref; do
		case $req in ''|'#'*) continue ;; esac
		i=$((i + 1))
		t0=$(ms); cmd=$(cpu nl2sh $mopt -p "$req" < /dev/null 2> /dev/null); st=$?; t1=$(ms)
		echo $((t1 - t0)) >> "$work/warm.ms"; cat "$work/cpu" >> "$work/warm.cpu"
		[ "$(cat "$work/cold.$i" 2> /dev/null)" = "$cmd" ] && same=$((same + 1))
		j=$(judge "$i" "$mode" "$setup" "$ref" "$cmd" "$st" < /dev/null) && right=$((right + 1))
		printf '| %d | %s | `%s` | %s | %s | %s | %s | %s | %s |\n' "$i" "$req" \
			"$(printf '%s' "$cmd" | tr '\n|' ' /' | cut -c1-70)" "$(verdict "$st")" "$j" \
			"$(secs "$(sed -n "${i}p" "$work/cold.ms")")" "$(secs "$(sed -n "${i}p" "$work/cold.cpu")")" \
			"$(secs $((t1 - t0)))" "$(secs "$(cat "$work/cpu")")"
	done < "$requests"
	cold=$(stats < "$work/cold.ms") warm=$(stats < "$work/warm.ms")
	coldc=$(stats < "$work/cold.cpu") warmc=$(stats < "$work/warm.cpu")
	printf '\n%s: %d/%d correct; request to printed command: cold median %s s (max %s; CPU %s s), cached median %s s (max %s; CPU %s s); cold and cached gave the same command %d/%d times\n' \
		"$name" "$right" "$i" "${cold% *}" "${cold#* }" "${coldc% *}" "${warm% *}" "${warm#* }" "${warmc% *}" "$same" "$i"
	summary="$summary| $name | $right/$i | ${cold% *} | ${coldc% *} | ${warm% *} | ${warmc% *} | ${warm#* } |
"
done
printf '\n## Summary\n\n| model | correct | cold median s | cold median CPU s | cached median s | cached median CPU s | cached max s |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n%s' "$summary"
printf '\nload average at the end %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
