# tests/porcelain.sh - shared by lm-run.t, lm-chat.t and
# tests/bench/pipeline-bench.sh (sourced after tests/lib.sh).

# pipeline_missing: true (with the reason in $why) unless every stage of
# the pipeline exists and runs on SmolLM2.
pipeline_missing() {
	for p in tok-encode tok-decode lm-step lm-sample jq; do
		command -v "$p" > /dev/null 2>&1 || { why="$p is not on PATH yet"; return 0; }
	done
	echo 1 | lm-step -m "$SMOLLM2" -t 2 > "$tmp/probe.frame" 2> "$tmp/probe.err" ||
		{ why="lm-step has no forward pass for SmolLM2 yet: $(head -n 1 "$tmp/probe.err")"; return 0; }
	tok-encode -m "$SMOLLM2" --chat --user hi > "$tmp/probe.ids" 2> "$tmp/probe.err" ||
		{ why="tok-encode --chat does not work yet: $(head -n 1 "$tmp/probe.err")"; return 0; }
	echo 19556 | tok-decode -m "$SMOLLM2" > "$tmp/probe.txt" 2> "$tmp/probe.err" ||
		{ why="tok-decode does not work yet: $(head -n 1 "$tmp/probe.err")"; return 0; }
	return 1
}

# greedy_loop BATCHFILE N: N ids chosen by a greedy loop over lm-step alone
# (its text frames with the best id, fed back by this shell), one per line.
greedy_loop() {
	rm -f "$tmp/gin" "$tmp/gout"
	mkfifo "$tmp/gin" "$tmp/gout"
	lm-step -m "$SMOLLM2" -t 2 --text=1 < "$tmp/gin" > "$tmp/gout" &
	_gpid=$!
	exec 3> "$tmp/gin" 4< "$tmp/gout"
	cat "$1" >&3
	_i=0
	while [ "$_i" -lt "$2" ] && IFS= read -r _frame <&4; do
		_id=${_frame##* }
		_id=${_id%%:*}
		echo "$_id"
		echo "$_id" >&3
		_i=$((_i + 1))
	done
	exec 3>&- 4<&-
	wait "$_gpid"
}

# state_ids FILE: the ids an lm-step state file holds, on one line
# (layout in forward/state.h: the header size at byte 12, n_pos at byte
# 72, the ids after the header).
state_ids() {
	[ "$(head -c 8 "$1")" = LMUSTATE ] || return 1
	_hs=$(od -A n -t u4 -j 12 -N 4 "$1" | tr -d ' ')
	_np=$(od -A n -t u8 -j 72 -N 8 "$1" | tr -d ' ')
	od -A n -t d4 -v -j "$_hs" -N $((4 * _np)) "$1" | tr -s ' \n' '  ' | sed 's/^ //; s/ $//'
}
