#!/bin/sh
# tok-bench.sh [MB] - tok-encode speed against Hugging Face tokenizers
# (Rust, called from Python, one thread) on the same text in one run, and
# whether the ids are the same.  Prints a table.  `make tok-bench`.
#
# The text (MB megabytes, default 6): about half English prose (Debian
# changelogs under /usr/share/doc), a third code (Python's standard library
# and this repository's C), the rest the multilingual test corpus.
# Throughput = input bytes / seconds for encoding the whole text as one
# input; "encode" leaves out the time to load the model (an empty run).
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=${LMU_BIN:-$top/bin}
models=${LMU_MODELS:-$top/models}
mb=${1:-6}
work=$(mktemp -d "${TMPDIR:-/tmp}/tok-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
bytes=$((mb * 1000000))

# the text
for f in $(ls /usr/share/doc/*/changelog*.gz 2>/dev/null | sort); do gzip -dc "$f"; done 2>/dev/null |
	head -c $((bytes / 2)) > "$work/prose"
stdlib=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
{ cat $(ls "$stdlib"/*.py | sort); cat "$top"/*/*.c; } | head -c $((bytes / 3)) > "$work/code"
: > "$work/multi"
while [ "$(wc -c < "$work/multi")" -lt $((bytes - $(wc -c < "$work/prose") - $(wc -c < "$work/code"))) ]; do
	cat "$top/tests/fixtures/tok/corpus.txt" >> "$work/multi"
done
cat "$work/prose" "$work/code" "$work/multi" | head -c "$bytes" > "$work/text"

# the directory tokenizer
mkdir "$work/smollm2-dir"
gzip -dc "$top/tests/fixtures/tok/smollm2-tokenizer.json.gz" > "$work/smollm2-dir/tokenizer.json"
cp "$top/tests/fixtures/tok/smollm2-tokenizer_config.json" "$work/smollm2-dir/tokenizer_config.json"

now() { date +%s.%N; }
printf '%-22s %8s %12s %12s %12s %6s\n' tokenizer MB "ours MB/s" "(encode)" "HF MB/s" "same"
for which in smollm2 gemma3 smollm2-dir; do
	case $which in
	smollm2) m=$models/smollm2-135m-instruct-q4_1.gguf ;;
	gemma3) m=$models/gemma-3-270m-q4_k_m.gguf ;;
	smollm2-dir) m=$work/smollm2-dir ;;
	esac
	[ -e "$m" ] || { printf '%-22s missing %s\n' "$which" "$m"; continue; }
	t0=$(now); "$bin/tok-encode" -m "$m" < /dev/null > /dev/null; t1=$(now)
	"$bin/tok-encode" -m "$m" < "$work/text" > "$work/ours" 2> /dev/null; t2=$(now)
	hf=$(RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false python3 - "$which" "$m" "$work/text" "$work/hf" <<'PY' 2>/dev/null
import sys, time
which, m, text_path, out = sys.argv[1:]
text = open(text_path, "rb").read().decode("utf-8", "replace")
if which == "smollm2-dir" or which == "smollm2":
    from tokenizers import Tokenizer
    import os
    path = m if which == "smollm2-dir" else os.path.join(os.path.dirname(text_path), "smollm2-dir")
    tok = Tokenizer.from_file(os.path.join(path, "tokenizer.json"))
else:
    import os
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(os.path.dirname(m), gguf_file=os.path.basename(m)).backend_tokenizer
tok.encode_special_tokens = True
t0 = time.perf_counter()
ids = tok.encode(text, add_special_tokens=True).ids
dt = time.perf_counter() - t0
open(out, "w").write(" ".join(map(str, ids)) + "\n")
print(dt)
PY
)
	awk -v b="$bytes" -v t0="$t0" -v t1="$t1" -v t2="$t2" -v hf="${hf:-0}" -v w="$which" \
		-v same="$(cmp -s "$work/ours" "$work/hf" && echo yes || echo NO)" 'BEGIN {
		mb = b / 1e6
		printf "%-22s %8.1f %12.1f %12.1f %12s %6s\n", w, mb, mb / (t2 - t1), mb / ((t2 - t1) - (t1 - t0)),
			(hf > 0 ? sprintf("%.1f", mb / hf) : "n/a"), same }'
done
