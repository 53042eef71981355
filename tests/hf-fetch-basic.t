#!/bin/sh
# hf-fetch against the local Hub server: the huggingface_hub cache layout,
# pagination, selection, --dry-run, --search, offline use and -m ORG/NAME.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hublib.sh"
start_hub 2
r=$(mkrepo org/model)
printf '{"model_type": "llama"}\n' >"$r/config.json"
mkbytes 5000 1 >"$r/model.gguf"
mkdir -p "$r/sub/deep"
echo hi >"$r/sub/deep/x.txt"
echo readme >"$r/README.md"
: >"$r/empty.txt"
repo=$HF_HUB_CACHE/models--org--model

ok "fetch a whole repo" hf-fetch org/model
snap=$(cat "$tmp/out")
commit=$(basename "$snap")
is "stdout is the snapshot folder" "$snap" "$repo/snapshots/$commit"
is "stderr is silent when it is not a terminal" "$(cat "$tmp/err")" ""
is "refs/main holds the commit" "$(cat "$repo/refs/main")" "$commit"
sha=$(sha256sum "$r/model.gguf" | cut -d' ' -f1)
is "LFS blob named by its sha256" "$(readlink "$snap/model.gguf")" "../../blobs/$sha"
gitid=$(python3 -c 'import hashlib,sys; d=open(sys.argv[1],"rb").read(); print(hashlib.sha1(b"blob %d\0" % len(d) + d).hexdigest())' "$r/config.json")
is "small blob named by its git blob id" "$(readlink "$snap/config.json")" "../../blobs/$gitid"
is "deeper paths add ../" "$(readlink "$snap/sub/deep/x.txt")" "../../../../blobs/$(python3 -c 'import hashlib; print(hashlib.sha1(b"blob 3\0hi\n").hexdigest())')"
ok "the files read back intact" cmp "$snap/model.gguf" "$r/model.gguf"
ok "nested file intact" cmp "$snap/sub/deep/x.txt" "$r/sub/deep/x.txt"
is "an empty file is its git blob" "$(readlink "$snap/empty.txt")" "../../blobs/e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
ok "and is empty" test ! -s "$snap/empty.txt"
is "no temporary files left in blobs/" "$(ls "$repo/blobs" | grep -c -e incomplete -e tmp)" 0
like "the listing was paginated (Link rel=next followed)" "$(cat "$HUBLOG")" 'tree/.*cursor=6'
like "the LFS file came from the CDN redirect" "$(cat "$HUBLOG")" "GET /cdn/org/model/$sha"

: >"$HUBLOG"
ok "a second run succeeds" hf-fetch org/model
is "same snapshot" "$(cat "$tmp/out")" "$snap"
is "and downloads nothing" "$(grep -c -e /resolve/ -e /cdn/ "$HUBLOG")" 0

# A new commit: only the changed file is fetched; the rest share blobs.
cp "$r/config.json" "$tmp/config.old"
printf '{"model_type": "qwen2"}\n' >"$r/config.json"
: >"$HUBLOG"
ok "fetch after a new commit" hf-fetch org/model
snapb=$(cat "$tmp/out")
ok "a new snapshot folder" test "$snapb" != "$snap"
is "refs/main moved to the new commit" "$(cat "$repo/refs/main")" "$(basename "$snapb")"
is "only the changed file was downloaded" "$(grep -e /resolve/ "$HUBLOG" | sed 's|.*/resolve/[0-9a-f]*/||; s| .*||')" "config.json"
is "unchanged files share the blob" "$(readlink "$snapb/model.gguf")" "$(readlink "$snap/model.gguf")"
ok "the old snapshot is intact" cmp "$snap/config.json" "$tmp/config.old"
ok "the new one has the new file" cmp "$snapb/config.json" "$r/config.json"
cp "$tmp/config.old" "$r/config.json"
ok "and back to the first commit" hf-fetch org/model
is "same snapshot as before" "$(cat "$tmp/out")" "$snap"

ok "dry run" hf-fetch --dry-run org/model '*.gguf' config.json
is "dry run lists size, state, path" "$(cat "$tmp/out")" "$(printf '24\tcached\tconfig.json\n5000\tcached\tmodel.gguf')"

r2=$(mkrepo org/pick)
mkbytes 3000 2 >"$r2/a.gguf"; mkbytes 3000 3 >"$r2/b.gguf"; echo x >"$r2/notes.txt"; echo y >"$r2/tokenizer.json"
ok "dry run before fetching" hf-fetch -n org/pick
is "everything marked fetch" "$(cut -f2 "$tmp/out" | sort -u)" fetch
ok "a glob selects files" hf-fetch org/pick '*.gguf'
snap2=$(cat "$tmp/out")
is "only the matching files are linked" "$(cd "$snap2" && ls | tr '\n' ' ')" "a.gguf b.gguf "
ok "--include/--exclude" hf-fetch --include '*.json' --include '*.txt' --exclude 'notes*' org/pick
is "include minus exclude" "$(cd "$snap2" && ls | tr '\n' ' ')" "a.gguf b.gguf tokenizer.json "
fails "a named file that does not exist: exit 1" 1 hf-fetch org/pick missing.bin
like "message names the file" "$(cat "$tmp/err")" 'org/pick: missing.bin: no such file at revision main'
fails "a glob matching nothing: exit 1" 1 hf-fetch org/pick '*.safetensors'
like "message names the glob" "$(cat "$tmp/err")" "no file matches '\*.safetensors'"
is "... and suggests nothing when nothing is close" "$(grep -c 'did you mean' "$tmp/err")" 0
fails "a glob that matches only ignoring case: exit 1" 1 hf-fetch org/pick '*.GGUF'
like "... says did you mean, naming the files" "$(cat "$tmp/err")" "no file matches '\*.GGUF' at revision main (did you mean a.gguf, b.gguf? names are case-sensitive)"
fails "a file name in the wrong case: exit 1" 1 hf-fetch org/pick NOTES.TXT
like "... did you mean" "$(cat "$tmp/err")" "NOTES.TXT: no such file at revision main (did you mean notes.txt? names are case-sensitive)"
fails "an --include in the wrong case: exit 1" 1 hf-fetch --include 'Tokenizer*' org/pick
like "... did you mean" "$(cat "$tmp/err")" "no file matches the --include/--exclude globs (did you mean tokenizer.json?"
ok "an explicit commit as --revision" hf-fetch -r "$commit" org/model config.json
is "commit revision gives the same snapshot" "$(cat "$tmp/out")" "$snap"
ok "a tag" hf-fetch -r v1.0 org/model config.json
is "refs/v1.0 written" "$(cat "$repo/refs/v1.0")" "$commit"
ok "a revision with slashes" hf-fetch -r refs/pr/1 org/model config.json
is "refs/refs/pr/1 written" "$(cat "$repo/refs/refs/pr/1")" "$commit"
like "sent URL-encoded" "$(cat "$HUBLOG")" 'revision/refs%2Fpr%2F1 '
ok "offline by tag" hf-fetch --offline -r v1.0 org/model config.json
fails "unknown revision: exit 1" 1 hf-fetch -r v9 org/model
like "revision not found message" "$(cat "$tmp/err")" "org/model: revision 'v9' not found (HTTP 404)"

# Offline: the cache alone.
n0=$(wc -l <"$HUBLOG")
ok "--offline finds the cached snapshot" hf-fetch --offline org/model
is "offline prints the same folder" "$(cat "$tmp/out")" "$snap"
ok "HF_HUB_OFFLINE=1 too, with a file" env HF_HUB_OFFLINE=1 hf-fetch org/model model.gguf
is "no request reached the server offline" "$(wc -l <"$HUBLOG")" "$n0"
fails "offline, a file that is not cached: exit 1" 1 hf-fetch --offline org/pick notes.txt
like "offline miss says so" "$(cat "$tmp/err")" "offline, and not in the cache.*'notes.txt' is not in the cached snapshot"
fails "offline, a repo never fetched: exit 1" 1 hf-fetch --offline org/other
# No network: a port nobody listens on.
dead=http://127.0.0.1:$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ok "no network, files cached: success from the cache" hf-fetch --endpoint "$dead" org/model model.gguf
is "no network prints the cached snapshot" "$(cat "$tmp/out")" "$snap"
like "and says it worked offline" "$(cat "$tmp/err")" 'cannot reach .*using the cached snapshot'
fails "no network, not cached: exit 1" 1 hf-fetch --endpoint "$dead" org/pick notes.txt
like "no network message" "$(cat "$tmp/err")" "cannot reach $dead (.*), and the cache cannot stand in: org/pick: 'notes.txt' is not in the cached snapshot"

# Search.
mkrepo other/model-two >/dev/null
ok "search" hf-fetch --search model
is "search prints id, downloads, likes, pipeline tag for each match" "$(cut -f1 "$tmp/out" | sort | tr '\n' ' ')" "org/model other/model-two "
like "search line format" "$(head -n 1 "$tmp/out")" "^[a-z/-]*	[0-9]*	[0-9]*	text-generation$"
ok "search --author" hf-fetch --search model --author other
is "author filter" "$(cut -f1 "$tmp/out")" "other/model-two"
ok "search --limit 1" hf-fetch --search o --limit 1
is "limit" "$(wc -l <"$tmp/out" | tr -d ' ')" 1
ok "search across pages" hf-fetch --search o --limit 10
is "all three repos over two pages" "$(wc -l <"$tmp/out" | tr -d ' ')" 3

# -m ORG/NAME in the other programs resolves to the same snapshot.
fails "lm-step -m org/model opens the cached file" 1 lm-step -m org/model --info
like "the path it opened is the snapshot's gguf" "$(cat "$tmp/err")" "$snap/model.gguf"
fails "two gguf files: exit 1" 1 lm-step -m org/pick --info
like "lists them" "$(cat "$tmp/err")" 'a.gguf'
fails "ORG/NAME:FILE picks one" 1 lm-step -m org/pick:b.gguf --info
like "it opened b.gguf" "$(cat "$tmp/err")" "$snap2/b.gguf"
fails "not in the cache: exit 1" 1 lm-step -m nobody/nothing --info
like "says how to fetch it" "$(cat "$tmp/err")" 'hf-fetch nobody/nothing'

# --list: the models in the cache and in directories.  GGUF files are made
# here: key/value pairs and, optionally, one 32 x 2 Q8_0 matrix.
mkgguf() {  # FILE ARCH FILE_TYPE|- WITH_TENSOR(0|1)
	perl -e '
		my ($arch, $ft, $t) = @ARGV[1..3];
		sub str { pack("Q<", length $_[0]) . $_[0] }
		my @kv = (str("general.architecture") . pack("V", 8) . str($arch));
		push @kv, str("general.file_type") . pack("V V", 4, $ft) if $ft ne "-";
		my $h = "GGUF" . pack("V Q< Q<", 3, $t, scalar @kv) . join("", @kv);
		$h .= str("blk.0.w") . pack("V Q< Q< V Q<", 2, 32, 2, 8, 0) if $t;
		$h .= "\0" x ((32 - length($h) % 32) % 32) if $t;
		$h .= "\0" x 68 if $t;
		open my $f, ">", $ARGV[0] or die; print $f $h;' "$@"
}
r4=$(mkrepo org/listed)
mkgguf "$r4/tiny.Q4_K_M.gguf" llama 15 0
mkdir -p "$r4/hf"
printf '{"model_type": "qwen2", "torch_dtype": "bfloat16"}\n' >"$r4/hf/config.json"
mkbytes 3000 5 >"$r4/hf/model.safetensors"
ok "fetch a repo with a GGUF file and a model directory" hf-fetch -q org/listed
mkdir -p "$tmp/models/sub"
mkgguf "$tmp/models/sub/local.gguf" gemma3 - 1
printf 'not a gguf' >"$tmp/models/broken.gguf"
ok "--list DIR" hf-fetch --list "$tmp/models"
sort "$tmp/out" > "$tmp/list"
like "the cached GGUF file: repo, path in the repo, architecture, size, file type" "$(cat "$tmp/list")" "$(printf 'org/listed\ttiny.Q4_K_M.gguf\tllama\t[0-9.]* [KMG]*i*B\tQ4_K_M')"
like "the cached model directory: config.json's model type and dtype, the weights' size" "$(cat "$tmp/list")" "$(printf 'org/listed\thf\tqwen2\t2.9 KiB\tBF16')"
like "a local GGUF file without a file type: its matrices' type" "$(cat "$tmp/list")" "$(printf -- '-\t%s/models/sub/local.gguf\tgemma3\t[0-9]* B\tQ8_0' "$tmp")"
like "a file that is not GGUF: listed with dashes" "$(cat "$tmp/list")" "$(printf -- '-\t%s/models/broken.gguf\t-\t10 B\t-' "$tmp")"
like "... and a warning" "$(cat "$tmp/err")" "broken.gguf: .*not a GGUF file"
like "other cached repos are listed too" "$(cat "$tmp/list")" "$(printf 'org/model\tmodel.gguf\t-')"
like "a snapshot refs/main does not name shows its revision" "$(cat "$tmp/list")" "$(printf 'org/model@[0-9a-f]*\tmodel.gguf')"
fails "-m takes what --list shows, ORG/NAME:FILE (this file has no hyper-parameters)" 1 lm-step -m org/listed:tiny.Q4_K_M.gguf --info
like "... it found the file in the snapshot" "$(cat "$tmp/err")" "snapshots/[0-9a-f]*/tiny.Q4_K_M.gguf: architecture llama: missing"
(cd "$tmp" && hf-fetch --list) > "$tmp/out2" 2>/dev/null
like "without DIR: ./models" "$(cat "$tmp/out2")" "models/sub/local.gguf"

# Progress bars only on a terminal (script(1) gives the run one).
if command -v script >/dev/null 2>&1; then
	r3=$(mkrepo org/bar); mkbytes 40000 9 >"$r3/model.gguf"
	script -qec "hf-fetch org/bar" /dev/null 2>&1 | tr '\r' '\n' >"$tmp/tty"
	like "on a terminal: a progress bar per file with the total" "$(cat "$tmp/tty")" 'model.gguf 100% 39.1 KiB/39.1 KiB .*/s | total 100%'
	like "and the snapshot" "$(cat "$tmp/tty")" "models--org--bar/snapshots/"
	rm -rf "$HF_HUB_CACHE/models--org--bar"
	script -qec "hf-fetch -q org/bar" /dev/null 2>&1 | tr '\r' '\n' >"$tmp/tty"
	is "-q: no bar even on a terminal" "$(grep -c '%' "$tmp/tty")" 0
else
	skip "script(1) is not installed: no terminal to test progress bars on"
fi

# Usage.
fails "no repo: usage error" 2 hf-fetch
fails "bad repo id: usage error" 2 hf-fetch ../etc
fails "bad revision: usage error" 2 hf-fetch -r ../../x org/model
fails "bad --retries: usage error" 2 hf-fetch --retries -1 org/model
ok "-h" hf-fetch -h
like "usage line" "$(head -n 1 "$tmp/out")" '^usage: hf-fetch'
ok "-V" hf-fetch -V
done_testing
