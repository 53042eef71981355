# tests/cluster.sh - shared by cluster-parallel.t and cluster-slurm.t
# (sourced after tests/lib.sh): the batch job both run, and helpers.
#
# The cluster tests need Debian packages that `make test` does not install
# (GNU parallel, an ssh server, rsync; Slurm and MUNGE): install them with
# `make deps-cluster` (tests/install-deps.sh --cluster), run them with
# `make test-cluster`.  Without them `make test` reports them skipped.

# need_cmds CMD...: skip the whole test unless every command is there
need_cmds() {
	for _c in "$@"; do
		command -v "$_c" > /dev/null 2>&1 ||
			[ -x "/usr/sbin/$_c" ] || skip_all "$_c is missing: make deps-cluster (tests/install-deps.sh --cluster)"
	done
	[ "$(id -u)" = 0 ] || skip_all "the cluster tests start system daemons: run them as root"
}

# requests N FILE: N completion requests, greedy and sampled with seeds
requests() {
	awk -v n="$1" 'BEGIN { for (i = 0; i < n; i++)
		printf "{\"custom_id\":\"job%d\",\"method\":\"POST\",\"url\":\"/v1/completions\",\"body\":{\"prompt\":\"Fact %d: the sky is\",\"max_tokens\":%d,\"temperature\":%s}}\n",
			i, i, 3 + i % 4, i % 2 ? "0.7" : "0" }' > "$2"
}

# a free TCP port on 127.0.0.1
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for SECONDS CMD...: poll until CMD succeeds; false on timeout
wait_for() {
	_w=$(($1 * 10)); shift
	while [ "$_w" -gt 0 ]; do
		"$@" > /dev/null 2>&1 && return 0
		sleep 0.1
		_w=$((_w - 1))
	done
	return 1
}
