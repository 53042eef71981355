#!/bin/sh
# huggingface_hub (PyPI), offline, finds and opens what hf-fetch wrote; and
# hf-fetch --offline finds what huggingface_hub downloaded from the same
# local Hub.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hublib.sh"
# huggingface_hub comes from the tests' venv (make deps), pinned in
# tests/requirements.txt
"$LMU_PYTHON" -c 'import huggingface_hub' 2>/dev/null ||
	skip_all "huggingface_hub is not installed for $LMU_PYTHON (make deps installs tests/requirements.txt in .venv)"
start_hub
r=$(mkrepo org/interop)
mkbytes 9000 4 >"$r/model.gguf"
echo '{"a": 1}' >"$r/config.json"
mkdir -p "$r/sub"; echo nested >"$r/sub/n.txt"
ok "hf-fetch the repo" hf-fetch org/interop
snap=$(cat "$tmp/out")

ok "huggingface_hub offline: hf_hub_download, snapshot_download, scan_cache_dir" \
env HF_HUB_OFFLINE=1 "$LMU_PYTHON" - "$snap" "$r" <<'PY'
import os, sys
from huggingface_hub import hf_hub_download, snapshot_download, scan_cache_dir, try_to_load_from_cache
snap, src = sys.argv[1], sys.argv[2]
for f in ("model.gguf", "config.json", "sub/n.txt"):
    p = hf_hub_download("org/interop", f)
    assert os.path.realpath(p) == os.path.realpath(os.path.join(snap, f)), (p, snap)
    assert open(p, "rb").read() == open(os.path.join(src, f), "rb").read(), f
assert try_to_load_from_cache("org/interop", "model.gguf") == os.path.join(snap, "model.gguf")
assert snapshot_download("org/interop") == snap
info = scan_cache_dir()
assert not info.warnings, info.warnings
(repo,) = [x for x in info.repos if x.repo_id == "org/interop"]
(rev,) = repo.revisions
assert rev.commit_hash == os.path.basename(snap)
assert repo.refs == {"main"} or set(repo.refs) == {"main"}, repo.refs
assert {f.file_name for f in rev.files} == {"model.gguf", "config.json", "n.txt"}
assert repo.size_on_disk == 9000 + 9 + 7, repo.size_on_disk
PY

# The other way: huggingface_hub downloads from the local Hub into a second
# cache, and hf-fetch finds it offline.
mkdir -p "$tmp/cache2"
if env HF_HUB_CACHE="$tmp/cache2" HF_HUB_DISABLE_XET=1 "$LMU_PYTHON" -c '
from huggingface_hub import hf_hub_download
print(hf_hub_download("org/interop", "model.gguf"))' >"$tmp/py.out" 2>"$tmp/py.err"; then
	_result 0 "huggingface_hub downloads from the local Hub"
	ok "hf-fetch --offline finds the file huggingface_hub wrote" \
		env HF_HUB_CACHE="$tmp/cache2" hf-fetch --offline org/interop model.gguf
	is "at the path huggingface_hub gave" "$(cat "$tmp/out")/model.gguf" "$(cat "$tmp/py.out")"
	n=$(grep -c /cdn/ "$HUBLOG")
	ok "hf-fetch online in that cache" env HF_HUB_CACHE="$tmp/cache2" hf-fetch org/interop model.gguf
	is "reuses huggingface_hub's blob (no download)" "$(grep -c /cdn/ "$HUBLOG")" "$n"
else
	skip "huggingface_hub could not download from the local Hub: $(tail -n 1 "$tmp/py.err")"
fi
done_testing
