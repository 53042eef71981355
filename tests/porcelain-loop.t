#!/bin/sh
# lmu_loop and lmu_spin_for of bin/lmutils-sh-setup with stand-in stages
# (no model): the sampler's end of the fifo is held by the sampler alone,
# so the step sees the end of its input as soon as the sampler closes it,
# not when the sampler's shell is done; lm-sample gets --spin only when
# lm-step's threads leave a CPU free.
. "$(dirname "$0")/lib.sh"
prog=porcelain-loop here=$top/bin
. "$top/bin/lmutils-sh-setup"
lmu_tmp=$tmp/loop.d
mkdir "$lmu_tmp"

# the step: the prompt, then the fifo up to its end; a mark when it ends
step() { cat "$1" - > "$lmu_tmp/step.in"; : > "$lmu_tmp/step.done"; }
# the sampler: its arguments, one id to the fifo, which it then closes;
# it waits (up to 10 s) to see whether the step has ended meanwhile
cat > "$tmp/sampler" << 'END'
printf '%s\n' "$@" > "$lmu_tmp/sampler.args"
echo 7 >&3
exec 3>&-
i=0
while [ ! -e "$lmu_tmp/step.done" ] && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -e "$lmu_tmp/step.done" ] && echo early || echo late
END
export lmu_tmp
echo 1 2 3 > "$tmp/prompt"

lmu_spin=
lmu_loop "$tmp/prompt" step sh "$tmp/sampler" > "$tmp/loop.out"
ok "the loop ends well" lmu_status
is "the step ended while the sampler still ran: it held the fifo alone" "$(cat "$tmp/loop.out")" early
is "... the step had the prompt, then the sampler's id" "$(tr '\n' ' ' < "$lmu_tmp/step.in")" "1 2 3 7 "
is "... the sampler got --feed, and no --spin" "$(tr '\n' ' ' < "$lmu_tmp/sampler.args")" "--feed /dev/fd/3 "
is "... the ids file has its output" "$(cat "$lmu_tmp/ids")" early
lmu_spin=1
lmu_loop "$tmp/prompt" step sh "$tmp/sampler" > /dev/null
ok "a second loop (the fifo made once) ends well" lmu_status
is "with lmu_spin the sampler gets --spin" "$(tr '\n' ' ' < "$lmu_tmp/sampler.args")" "--spin --feed /dev/fd/3 "

# a stage that fails: its status, read without a fork
step_fails() { cat "$1" - > /dev/null; return 3; }
lmu_loop "$tmp/prompt" step_fails sh "$tmp/sampler" > /dev/null
lmu_status; is "a failed step's status" $? 3

n=$(getconf _NPROCESSORS_ONLN)
lmu_spin_for; is "lmu_spin_for with no threads (lm-step takes every CPU): no spin" "$lmu_spin" ""
lmu_spin_for "$n"; is "lmu_spin_for $n, every CPU online: no spin" "$lmu_spin" ""
lmu_spin_for $((n + 4)); is "... more threads than CPUs: no spin" "$lmu_spin" ""
if [ "$n" -ge 2 ]; then
	lmu_spin_for $((n - 1)); is "lmu_spin_for $((n - 1)) of $n CPUs: spin" "$lmu_spin" 1
else
	skip "one CPU online: no thread count leaves one free"
fi
done_testing
