#!/bin/sh
# Every example in README.md and man/*.[157] runs, and shows what it prints.
#
# The rules, for whoever adds an example:
#  1. An example block is an indented (4 spaces) code block of README.md, or
#     the text between .EX and .EE of a man page (groff escapes undone:
#     \- \e \(dq \(aq \& and font changes).
#  2. In a block with lines starting "$ ", each such line is a command and
#     the lines after it, up to the next "$ " line, are what it prints.  In
#     a README block without them, every line is a command; a man page
#     block without them is not an example (a layout, a format).  A line
#     ending with "\" or "|" goes on with the next line.
#  3. Each command runs with sh, one after another in the order of its
#     block (a block is one session: "mkfifo loop" serves the next command),
#     in a scratch directory made for the block, where
#     the file M, $M, $LM_MODEL and smollm2.gguf name the SmolLM2 test
#     model, models/ is
#     the test models, and the files of "fixtures" below exist; the lmutils
#     programs are on PATH; stdin is /dev/null; at most 120 s.  It must
#     exit 0 (show a status with "; echo $?").
#  4. What it prints must be what the block shows, except for a shown line
#     that is "..." (any lines) or contains "<...>" (any text there).  Keep
#     examples deterministic (--temperature 0, --seed) where output is
#     shown.
#  5. A command that cannot run here (the network, a server, a build, a
#     terminal) matches a pattern in "cannot" below, with the reason; keep
#     that list short.  "broken" lists examples known to be wrong, reported
#     as TAP TODO until they are fixed: fix them, do not add to it.
. "$(dirname "$0")/lib.sh"
need_model smollm2
M=$SMOLLM2
export XDG_CACHE_HOME=$tmp/cache  # nl2sh keeps its context there

# pattern (grep -E on the command) <TAB> why it is not run
cannot='^make( |$)	builds, installs or fetches (make test runs the tests)
hf-fetch [A-Za-z]	needs the Hugging Face Hub
-m (HuggingFaceTB|ORG)/	a repo id in a Hugging Face cache this machine does not have
lm-serve |^curl |^from openai|^client = |^for chunk|^ *(model|messages)=|^ *print\(	a running server (tests/lm-serve.t, tests/serve-openai.t)
make run 	builds and fetches
SmolLM2-135M-Instruct	a model directory the tests do not have
smollm2-q8_0\.gguf	the file lm-convert writes from that directory (lm-convert(1))
^python3 -c	Python with transformers (tests/ref/)
\.whl	a wheel the tests do not have
lm-chat -m smollm2.gguf --system|lm-chat --continue|lm-readline -p	a terminal (tests/porcelain-tty.t)
^nl2sh [^-]	asks on the terminal before it runs the command (tests/porcelain-tty.t)
^sqlite3 .*lm-serve\.db	the database of a running server (tests/serve-chat.t backs one up)
^xdg-open 	a desktop
--sshloginfile|^cat out\.\*|sbatch 	a cluster: ssh logins, Slurm (tests/cluster-parallel.t, tests/cluster-slurm.t run these)'

# examples known to be wrong (rule 5): pattern <TAB> what is wrong
broken=''

# the scratch directory's files
fixtures() {
	ln -s "$M" smollm2.gguf
	ln -s "$M" M
	ln -s "$LMU_MODELS" models
	printf '%s\n' "Write a haiku about pipes." "Name three colours." "What is 2+2?" "Tell me a joke." > prompts.txt
	printf '%s\n' "The capital of France is" "The capital of Italy is" > lines.txt
	printf '%s\n' "Pipes connect programs: the output of one is the input of the next." > doc.txt
	cp doc.txt essay.txt
	printf '%s\n' '[{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello!"}]' > conv.json
	head -n 2 prompts.txt | jq -Rc '{custom_id: "p\(input_line_number)", method: "POST", url: "/v1/chat/completions",
		 body: {messages: [{role: "user", content: .}], max_tokens: 8, temperature: 0}}' > requests.jsonl
	# a sequence per prompt, as lm-step(1) makes them
	i=0
	while IFS= read -r p; do
		printf '@%d ' $i; tok-encode -m "$M" --chat --user "$p"; i=$((i + 1))
	done < prompts.txt > prompts.tok
}

# extract FILE...: "@@ block" at each block, then one record per
# command: "@@ FILE:LINE", the command's lines, "@@ out", the lines shown,
# "@@ end"
extract() {
	awk '
	function unescape(s) {
		if (!man) return s
		gsub(/\\f[BIRP]/, "", s); gsub(/\\f\(..|\\f\[[^]]*\]/, "", s)
		gsub(/\\-/, "-", s); gsub(/\\\(dq/, "\"", s); gsub(/\\\(aq/, "\047", s)
		gsub(/\\&/, "", s); gsub(/\\e/, "\\", s)
		return s
	}
	function flush(   i, dollar, cmd, out, start, cont) {
		if (n == 0) return
		print "@@ block"
		# a block inside a list item is indented further: that
		# indentation goes
		ind = -1
		for (i = 1; i <= n; i++) if (line[i] !~ /^[ \t]*$/) { match(line[i], /^ */); if (ind < 0 || RLENGTH < ind) ind = RLENGTH }
		if (ind > 0) for (i = 1; i <= n; i++) line[i] = substr(line[i], ind + 1)
		dollar = 0
		for (i = 1; i <= n; i++) if (line[i] ~ /^\$ /) dollar = 1
		cmd = ""; cont = 0
		for (i = 1; i <= n; i++) {
			l = line[i]
			if (cont) { cmd = cmd "\n" l; cont = (l ~ /(\\|\|)[ \t]*$/); if (!cont) emit_cmd(cmd, start); continue }
			if (dollar && l !~ /^\$ /) { if (open) print l; continue }
			if (l ~ /^[ \t]*$/) continue
			if (open) { print "@@ end"; open = 0 }
			sub(/^\$ /, "", l)
			cmd = l; start = where[i]
			cont = (l ~ /(\\|\|)[ \t]*$/)
			if (!cont) emit_cmd(cmd, start)
		}
		if (open) { print "@@ end"; open = 0 }
		n = 0
	}
	function emit_cmd(c, w) {
		print "@@ " w; print c; print "@@ out"; open = 1
		if (!dollar_block) { print "@@ end"; open = 0 }
	}
	FNR == 1 { flush(); man = FILENAME ~ /\.[157]$/; inex = 0; fence = 0 }
	man && /^\.EX/ { inex = 1; n = 0; next }
	man && /^\.EE/ { dollar_block = 0; for (i = 1; i <= n; i++) if (line[i] ~ /^\$ /) dollar_block = 1; if (!dollar_block) n = 0; flush(); inex = 0; next }
	man && inex { if ($0 ~ /^\.(PP|br|IP|TP)/) next; line[++n] = unescape($0); where[n] = FILENAME ":" FNR; next }
	!man && /^```/ { fence = !fence; next }
	!man && !fence && /^    / { s = substr($0, 5); line[++n] = s; where[n] = FILENAME ":" FNR; next }
	!man && !fence && n > 0 && /^[ \t]*$/ { line[++n] = ""; where[n] = FILENAME ":" FNR; next }
	!man && n > 0 { dollar_block = 0; for (i = 1; i <= n; i++) if (line[i] ~ /^\$ /) dollar_block = 1; flush() }
	END { dollar_block = 0; for (i = 1; i <= n; i++) if (line[i] ~ /^\$ /) dollar_block = 1; flush() }
	' "$@"
}

cd "$top" || exit 1
# DOC_FILES="man/lm-run.1 ..." checks only those, while fixing them
extract ${DOC_FILES:-README.md man/*.1 man/*.5 man/*.7} > "$tmp/examples"
n_ex=$(grep -c '^@@ [^oeb]' "$tmp/examples")
[ "$n_ex" -ge 20 ] || [ -n "${DOC_FILES:-}" ] || { echo "1..1"; echo "not ok 1 - only $n_ex examples found: is the extraction broken?"; exit 1; }

# output_matches SHOWN GOT: rule 4
output_matches() {
	# through the environment: awk -v would turn a "\n" the program
	# printed (in a JSON string, say) into a line break
	shown=$1 got=$2 awk 'BEGIN {
		ns = split(ENVIRON["shown"], s, "\n"); ng = split(ENVIRON["got"], g, "\n")
		while (ns > 0 && s[ns] == "") ns--
		while (ng > 0 && g[ng] == "") ng--
		exit !match_from(1, 1)
	}
	function glob(p, t,   re) {
		re = p; gsub(/[][\\.^$*+?(){}|]/, "\\\\&", re); gsub(/<\\\.\\\.\\\.>|<[^>]*>/, ".*", re)
		return t ~ ("^" re "$")
	}
	function match_from(i, j,   k) {
		if (i > ns) return j > ng
		if (s[i] == "...") { for (k = j; k <= ng + 1; k++) if (match_from(i + 1, k)) return 1; return 0 }
		if (j > ng) return 0
		if (s[i] == g[j] || (s[i] ~ /</ && glob(s[i], g[j]))) return match_from(i + 1, j + 1)
		return 0
	}'
}

scratch=$tmp/scratch
while IFS= read -r hdr; do
	case $hdr in
	'@@ block')
		rm -rf "$scratch"; mkdir "$scratch"
		(cd "$scratch" && fixtures) > /dev/null 2>&1
		continue ;;
	'@@ '*) ;;
	*) continue ;;
	esac
	src=${hdr#@@ }
	cmd= shown= part=cmd
	while IFS= read -r l; do
		case $l in
		'@@ out') part=out; continue ;;
		'@@ end') break ;;
		esac
		if [ "$part" = cmd ]; then cmd="$cmd${cmd:+
}$l"; else shown="$shown${shown:+
}$l"; fi
	done
	# the first line, for the test's name (backslashes doubled: echo)
	first=$(printf '%s\n' "$cmd" | head -n 1 | sed 's/\\/\\\\/g')
	why=$(printf '%s\n' "$cannot" | while IFS='	' read -r pat reason; do
		printf '%s\n' "$cmd" | grep -q -E -e "$pat" && { echo "$reason"; break; }; done)
	if [ -n "$why" ]; then
		skip "$src: $first: $why"
		continue
	fi
	todo=$(printf '%s\n' "$broken" | while IFS='	' read -r pat reason; do
		[ -n "$pat" ] || continue
		printf '%s\n' "$cmd" | grep -q -E -e "$pat" && { echo "$reason"; break; }; done)
	(cd "$scratch" && M=$M LM_MODEL=$M timeout 120 sh -c "$cmd" < /dev/null > "$tmp/ex.out" 2> "$tmp/ex.err")
	st=$?
	if [ -n "$todo" ]; then
		if [ "$st" = 0 ] && { [ -z "$shown" ] || output_matches "$shown" "$(cat "$tmp/ex.out")"; }; then st=ok; else st=broken; fi
		_n=$((_n + 1))
		echo "$([ "$st" = ok ] || echo 'not ')ok $_n - $src: $first # TODO $todo"
		continue
	fi
	if [ "$st" != 0 ]; then
		_result 1 "$src: $first"
		diag "exit status $st; stderr:"; diag "$(tail -n 5 "$tmp/ex.err")"
		continue
	fi
	if [ -n "$shown" ] && ! output_matches "$shown" "$(cat "$tmp/ex.out")"; then
		_result 1 "$src: $first: prints what the example shows"
		diag "shown:"; diag "$shown"; diag "printed:"; diag "$(head -n 20 "$tmp/ex.out")"
		continue
	fi
	_result 0 "$src: $first${shown:+ (output as shown)}"
done < "$tmp/examples"
done_testing
