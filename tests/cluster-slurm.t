#!/bin/sh
# A Slurm job array splits a batch job over a cluster (README "Batch
# jobs"): the recipe's sbatch script, run on a single-node Slurm bound to
# 127.0.0.1 that the test starts (munged as the munge user, slurmctld,
# slurmd; their own ports, sockets and state under a private directory)
# and stops by their process ids.  The array tasks' outputs together equal
# one lm-batch run; rerunning the array adds nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster.sh"
need_model smollm2
need_cmds munged slurmctld slurmd sbatch sinfo runuser jq
M=$SMOLLM2
SOURCE_DATE_EPOCH=1700000000; export SOURCE_DATE_EPOCH

# --- MUNGE and Slurm of our own: munged runs as munge, which must reach
# its socket directory, so that lives outside the private $tmp ---
d=$(mktemp -d "${TMPDIR:-/tmp}/lmutils-slurm.XXXXXX")
chmod 755 "$d"
mkdir "$d/munge" "$d/state" "$d/spool" "$d/results" "$d/logs"
chown munge:munge "$d/munge"
key=/etc/munge/munge.key
if [ ! -r "$key" ]; then  # a package install that made no key: one of our own
	key=$d/munge/munge.key
	dd if=/dev/urandom of="$key" bs=1024 count=1 2>/dev/null
	chown munge:munge "$key"
	chmod 400 "$key"
fi
# the daemons run in the foreground as our children: stopped by their ids
# and waited for at the end
pids=
stop_all() {
	[ -n "$pids" ] && kill $pids 2>/dev/null
	[ -s "$d/munge/munged.pid" ] && kill "$(cat "$d/munge/munged.pid")" 2>/dev/null
	wait
	rm -rf "$d" "$tmp"
}
trap stop_all EXIT
runuser -u munge -- "$(command -v munged || echo /usr/sbin/munged)" --foreground \
	--socket="$d/munge/socket" --pid-file="$d/munge/munged.pid" --seed-file="$d/munge/seed" \
	--log-file="$d/munge/log" --key-file="$key" > "$d/logs/munged.out" 2>&1 &
if wait_for 10 test -S "$d/munge/socket"; then _result 0 "munged starts as the munge user"; else
	_result 1 "munged starts as the munge user"; diag "$(cat "$d/munge/log")"; fi
port=$(free_port)
cat > "$d/slurm.conf" <<EOF
ClusterName=lmutils
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
AuthInfo=socket=$d/munge/socket
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd.pid
SlurmctldLogFile=$d/logs/slurmctld.log
SlurmdLogFile=$d/logs/slurmd.log
SlurmUser=root
ReturnToService=2
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
SLURM_CONF=$d/slurm.conf; export SLURM_CONF
slurmctld -D -f "$SLURM_CONF" > "$d/logs/slurmctld.out" 2>&1 &
pids="$pids $!"
slurmd -D -N localhost -f "$SLURM_CONF" > "$d/logs/slurmd.out" 2>&1 &
pids="$pids $!"
node_idle() { [ "$(sinfo -h -o %t 2>/dev/null)" = idle ]; }
if wait_for 60 node_idle; then _result 0 "slurmctld and slurmd start, the node is idle"; else
	_result 1 "slurmctld and slurmd start, the node is idle"; diag "$(sinfo 2>&1; tail -n 5 "$d/logs/"*.log)"; fi

# --- the job: 45 requests in an array of 3 tasks ---
requests 45 "$d/requests.jsonl"
ok "one lm-batch run of the whole input (the reference)" lm-batch -m "$M" -t 1 -q -o "$tmp/one.jsonl" "$d/requests.jsonl"
# the README's sbatch script
cat > "$d/lm-batch.sbatch" <<'EOF'
#!/bin/sh
#SBATCH --job-name=lm-batch
#SBATCH --array=0-2
#SBATCH --cpus-per-task=1
#SBATCH --output=logs/%A_%a.out
# each task answers every N-th request into a file of its own; a task that
# is run again (a rerun of the array, a requeue) resumes its file
exec lm-batch -t "$SLURM_CPUS_PER_TASK" -q --shard "$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT" \
	-o "results/out.$SLURM_ARRAY_TASK_ID.jsonl" requests.jsonl
EOF
cd "$d" || exit 1
LM_MODEL=$M; export LM_MODEL
ok "sbatch --wait runs the array" sbatch --wait lm-batch.sbatch
diag "$(cat "$d"/logs/*_*.out 2>/dev/null | head -n 5)"
is "3 result files" "$(ls results | wc -l | tr -d ' ')" 3
is "the tasks together: the lines of the one run" "$(cat results/*.jsonl | sort | md5sum)" "$(sort "$tmp/one.jsonl" | md5sum)"
is "each custom_id once" "$(cat results/*.jsonl | jq -r .custom_id | sort | uniq -d | wc -l | tr -d ' '):$(cat results/*.jsonl | wc -l | tr -d ' ')" "0:45"
ok "the array again" sbatch --wait lm-batch.sbatch
is "adds nothing" "$(cat results/*.jsonl | wc -l | tr -d ' ')" 45
cd "$top" || exit 1
done_testing
