# tests/lib.sh - TAP helpers for the shell tests (sourced, POSIX sh).
#
#   . "$(dirname "$0")/lib.sh"
#   plan 3                      or  need_model smollm2  (a model of make model)
#   ok "name" cmd args...       passes if the command exits 0
#   is "name" "$got" "$want"
#   fails "name" STATUS cmd...  passes if the command exits with STATUS
#   done_testing
#
# Programs come from $LMU_BIN (set by `make test`), models from $LMU_MODELS
# (default models/ in the source tree), the Python packages tests use from
# $LMU_PYTHON (default .venv/bin/python3, which `make deps` makes from
# tests/requirements.txt; python3 when there is none).

top=$(cd "$(dirname "$0")/.." && pwd)
: "${LMU_BIN:=$top/bin}"
: "${LMU_MODELS:=$top/models}"
: "${LMU_PYTHON:=$top/.venv/bin/python3}"
[ -x "$LMU_PYTHON" ] || LMU_PYTHON=python3
export LMU_PYTHON
PATH=$LMU_BIN:$top/bin:$PATH
# the porcelain finds its stages here first (lmutils-sh-setup)
: "${LMU_EXEC_PATH:=$LMU_BIN}"
export PATH LMU_BIN LMU_MODELS LMU_EXEC_PATH
# no test reads the harness's standard input (lm-run would take it as a prompt)
exec < /dev/null
SMOLLM2=$LMU_MODELS/smollm2-135m-instruct-q4_1.gguf
QWEN05=$LMU_MODELS/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf
GEMMA3=$LMU_MODELS/gemma-3-270m-q4_k_m.gguf
QWEN15=$LMU_MODELS/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf  # make model-large
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lmutils-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
_n=0
_failed=0

plan() { echo "1..$1"; }
skip_all() { echo "1..0 # SKIP $*"; exit 0; }
diag() { printf '%s\n' "$*" | sed 's/^/# /' >&2; }

_result() {
	_n=$((_n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $_n - $2"
	else
		echo "not ok $_n - $2"
		_failed=$((_failed + 1))
	fi
}

ok() {
	_name=$1; shift
	if "$@" >"$tmp/out" 2>"$tmp/err"; then _result 0 "$_name"; else
		_result 1 "$_name"; diag "command: $*"; diag "$(tail -n 5 "$tmp/err")"; fi
}

fails() {
	_name=$1; _want=$2; shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"
	_st=$?
	if [ "$_st" = "$_want" ]; then _result 0 "$_name"; else
		_result 1 "$_name"; diag "exit status $_st, wanted $_want: $*"; diag "$(tail -n 5 "$tmp/err")"; fi
}

is() {
	if [ "$2" = "$3" ]; then _result 0 "$1"; else
		_result 1 "$1"; diag "got:  $2"; diag "want: $3"; fi
}

like() {
	if printf '%s' "$2" | grep -q -e "$3"; then _result 0 "$1"; else
		_result 1 "$1"; diag "got:  $2"; diag "want match: $3"; fi
}

skip() { _n=$((_n + 1)); echo "ok $_n # SKIP $*"; }

# need_model NAME: a model of `make model` must be there (a failure
# otherwise); one of `make model-large` is skipped when absent
_need() { [ -f "$1" ] || { echo "not ok 1 - test model $1 is missing: run 'make model'"; echo "1..1"; exit 1; }; }
need_model() {
	case $1 in
	smollm2) _need "$SMOLLM2" ;;
	qwen05) _need "$QWEN05" ;;
	gemma3) _need "$GEMMA3" ;;
	qwen15) [ -f "$QWEN15" ] || skip_all "skipped: make model-large ($QWEN15 is absent)" ;;
	esac
}

# greedy N: the best id of each text frame (lm-step --text=1) on stdin,
# one per line, N times; a shell loop because awk implementations may
# buffer their input (the generation loop through a fifo needs each id at once)
greedy() {
	_g=0
	while [ "$_g" -lt "$1" ] && IFS= read -r _line; do
		_id=${_line##* }
		echo "${_id%%:*}"
		_g=$((_g + 1))
	done
}

done_testing() { echo "1..$_n"; [ "$_failed" = 0 ]; }
