#!/bin/sh
# GNU parallel splits a batch job over machines (README "Batch jobs"): the
# recipe, run here with two local job slots and one ssh login on
# 127.0.0.1 (an sshd of the test's own, on a free port, with a key the
# test makes, stopped at the end).  The shards' outputs together equal one
# lm-batch run of the whole input; a rerun with --resume does nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster.sh"
need_model smollm2
need_cmds parallel sshd ssh ssh-keygen rsync jq
M=$SMOLLM2
SOURCE_DATE_EPOCH=1700000000; export SOURCE_DATE_EPOCH

# --- an ssh server of our own ---
ssh-keygen -q -t ed25519 -N '' -f "$tmp/key"
ssh-keygen -q -t ed25519 -N '' -f "$tmp/hostkey"
cp "$tmp/key.pub" "$tmp/authorized_keys"
port=$(free_port)
cat > "$tmp/sshd_config" <<EOF
Port $port
ListenAddress 127.0.0.1
HostKey $tmp/hostkey
AuthorizedKeysFile $tmp/authorized_keys
PidFile $tmp/sshd.pid
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
EOF
mkdir -p /run/sshd  # sshd's privilege separation directory
sshd=$(command -v sshd || echo /usr/sbin/sshd)
ok "sshd starts on 127.0.0.1:$port" "$sshd" -f "$tmp/sshd_config" -E "$tmp/sshd.log"
stop_sshd() { [ -s "$tmp/sshd.pid" ] && kill "$(cat "$tmp/sshd.pid")" 2>/dev/null; }
trap 'stop_sshd; rm -rf "$tmp"' EXIT
login="ssh -i $tmp/key -p $port -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=$tmp/known_hosts -o LogLevel=ERROR $(id -un)@127.0.0.1"
wait_for 10 $login true
ok "a login with the test's key works" $login true

# --- the job: 60 requests in 4 shards ---
requests 60 "$tmp/requests.jsonl"
ok "one lm-batch run of the whole input (the reference)" lm-batch -m "$M" -t 1 -q -o "$tmp/one.jsonl" "$tmp/requests.jsonl"
cd "$tmp" || exit 1
# the README's recipe: the input goes to each login with --basefile, each
# shard's output comes back with --return, the job log allows --resume;
# lm-batch and the model are found through the PATH and LM_MODEL sent along
LM_MODEL=$M; export LM_MODEL
recipe() {
	seq 0 3 | parallel --sshlogin "2/:,1/$login" --env PATH --env LM_MODEL --env SOURCE_DATE_EPOCH \
		--joblog jobs.log --resume --basefile requests.jsonl --return 'out.{}.jsonl' --cleanup \
		lm-batch -t 1 -q --shard {}/4 -o out.{}.jsonl requests.jsonl
}
ok "parallel runs the 4 shards" recipe
is "4 jobs in the log, all exit 0" "$(awk -F '\t' 'NR > 1 && $7 == 0' jobs.log | wc -l | tr -d ' ')" 4
like "at least one of them ran over ssh" "$(cut -f2 jobs.log)" "ssh -i"
is "the shards together: the lines of the one run" "$(cat out.*.jsonl | sort | md5sum)" "$(sort one.jsonl | md5sum)"
is "each custom_id once" "$(cat out.*.jsonl | jq -r .custom_id | sort | uniq -d | wc -l | tr -d ' '):$(cat out.*.jsonl | wc -l | tr -d ' ')" "0:60"
is "nothing left behind in the remote home (--cleanup)" "$($login 'ls out.*.jsonl requests.jsonl 2>/dev/null | wc -l' | tr -d ' ')" 0
ok "a rerun with the job log" recipe
is "does nothing: still 4 jobs in the log" "$(awk 'NR > 1' jobs.log | wc -l | tr -d ' ')" 4
cd "$top" || exit 1
done_testing
