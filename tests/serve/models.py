"""models.py - lm-serve's model registry and its several models: what a
scan of --models and of the Hugging Face cache finds, the sha256 computed
once, --max-models with the least recently used model unloaded (seen in
/metrics), a request for a model being loaded that waits, --keep-alive,
rescans."""
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import time

from servetest import MODELS, SMOLLM2, Server, Tap

t = Tap()
GEMMA = os.path.join(MODELS, "gemma-3-270m-q4_k_m.gguf")


def place(src, dst):
    """dst: the same bytes as src, another file (a hard link, else a copy)."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def metrics(s):
    out = {}
    for line in s.get("/metrics").body.decode().splitlines():
        m = re.match(r'^(\w+)(?:\{model="([^"]*)"\})? (\S+)$', line)
        if m:
            out[(m.group(1), m.group(2))] = float(m.group(3))
    return out


def wait_hashed(s):
    """Wait (up to 240 s) until the background hashing has no file left."""
    deadline = time.time() + 240
    while time.time() < deadline and registry(s)[1]["hashing"]["files"]:
        time.sleep(0.5)


def registry(s):
    st, r = s.json("GET", "/api/models")
    return {m["id"]: m for m in r["data"]}, r


def ask(s, model, out=None, key=None):
    st, r = s.json("POST", "/v1/chat/completions", {"model": model, "max_tokens": 2, "temperature": 0,
                                                    "messages": [{"role": "user", "content": "Hi"}]})
    if out is not None:
        out[key] = st
    return st


home = tempfile.mkdtemp(prefix="lm-serve-models-")
mdir = os.path.join(home, "models")
os.makedirs(os.path.join(mdir, "sub", ".hidden"))
place(SMOLLM2, os.path.join(mdir, "a.gguf"))
place(SMOLLM2, os.path.join(mdir, "sub", "b.gguf"))
place(SMOLLM2, os.path.join(mdir, "sub", ".hidden", "h.gguf"))
with open(os.path.join(mdir, "broken.gguf"), "wb") as f:
    f.write(b"GGUF" + b"\0" * 60)
if os.path.exists(GEMMA):
    os.symlink(GEMMA, os.path.join(mdir, "gemma.gguf"))
# a repo in the Hugging Face cache, laid out as hf-fetch and huggingface_hub leave it
commit = "0123456789abcdef0123456789abcdef01234567"
repo = os.path.join(home, "hf", "hub", "models--test-org--tiny-llama")
os.makedirs(os.path.join(repo, "refs"))
os.makedirs(os.path.join(repo, "snapshots", commit))
os.makedirs(os.path.join(repo, "blobs"))
with open(os.path.join(repo, "refs", "main"), "w") as f:
    f.write(commit)
sha_smol = hashlib.sha256(open(SMOLLM2, "rb").read()).hexdigest()
place(SMOLLM2, os.path.join(repo, "blobs", sha_smol))
os.symlink("../../blobs/" + sha_smol, os.path.join(repo, "snapshots", commit, "tiny-q4_1.gguf"))

args = ["--models", mdir, "--max-models", "1", "--keep-alive", "-1", "--parallel", "1"]
with Server(args, model=None, home=home) as s:
    reg, whole = registry(s)
    want = {"a", "sub/b", "broken", "test-org/tiny-llama"} | ({"gemma"} if os.path.exists(GEMMA) else set())
    t.is_(set(reg), want, "the registry: the .gguf files of --models (hidden ones left out) and the cache's repo")
    a = reg["a"]
    t.ok(a["architecture"] == "llama" and a["parameters"] == 134515008 and a["quantization"] == "Q4_1" and
         a["context_length"] == 8192 and a["size"] == os.path.getsize(SMOLLM2) and a["format"] == "gguf" and
         a["source"] == "models-dir" and a["error"] is None, "a model's architecture, parameters, quantization, "
         "context length, size", a)
    hf = reg["test-org/tiny-llama"]
    t.ok(hf["source"] == "hf-cache" and hf["path"].endswith(commit + "/tiny-q4_1.gguf"), "the cache's model", hf)
    t.ok(reg["broken"]["error"] and reg["broken"]["state"] == "unavailable",
         "a broken file is listed with what is wrong, and not served", reg["broken"])
    if "gemma" in reg:
        g = reg["gemma"]
        t.ok(g["architecture"] == "gemma3" and g["parameters"] > 2.6e8 and
             (g["error"] is None or "gemma3" in g["error"]), "Gemma 3: read, and served or said why not", g)
    st, v1 = s.json("GET", "/v1/models")
    served = {m["id"] for m in v1["data"]}
    t.is_(served, {m for m in want if reg[m]["error"] is None}, "/v1/models lists the models that can run")
    t.is_(metrics(s)[("lmserve_models_loaded", None)], 0.0, "nothing is loaded before a request names it")

    # the sha256 of every file, once
    wait_hashed(s)
    reg, _ = registry(s)
    t.ok(reg["a"]["sha256"] == sha_smol and reg["sub/b"]["sha256"] == sha_smol and
         reg["test-org/tiny-llama"]["sha256"] == sha_smol, "sha256 as hashlib computes it")
    t.ok("hashing them in the background, once" in s.log(), "the log says the files are hashed once")

    # --max-models 1: the least recently used model makes room (the other
    # model: Gemma 3 once lmutils runs it, else a second copy of SmolLM2)
    B = "gemma" if "gemma" in reg and reg["gemma"]["error"] is None else "sub/b"
    t.diag("alternating between a (SmolLM2) and %s" % B)
    t.is_(ask(s, "a"), 200, "a request for a: 200")
    m = metrics(s)
    t.ok(m[("lmserve_model_loads_total", "a")] == 1 and m[("lmserve_model_loaded", "a")] == 1 and
         m[("lmserve_models_loaded", None)] == 1, "/metrics: a loaded, once")
    t.is_(ask(s, B), 200, "a request for %s: 200" % B)
    m = metrics(s)
    t.ok(m[("lmserve_model_unloads_total", "a")] == 1 and m[("lmserve_model_loaded", "a")] == 0 and
         m[("lmserve_model_loaded", B)] == 1 and m[("lmserve_models_loaded", None)] == 1 and
         m[("lmserve_models_max", None)] == 1, "/metrics: a unloaded to make room, %s loaded, 1 of 1" % B)
    t.is_(ask(s, "a"), 200, "a again: 200")
    m = metrics(s)
    t.ok(m[("lmserve_model_loads_total", "a")] == 2 and m[("lmserve_model_unloads_total", B)] == 1 and
         m[("lmserve_model_loaded", B)] == 0, "/metrics: a loaded a second time, %s unloaded" % B)
    reg, _ = registry(s)
    t.ok(reg["a"]["state"] == "loaded" and reg[B]["state"] == "unloaded" and reg["a"]["loads"] == 2 and
         reg["a"]["load_seconds"] > 0, "GET /api/models shows which are loaded")
    t.diag("load %.3f s (a), unload %.3f s (%s)" % (reg["a"]["load_seconds"], reg[B]["unload_seconds"], B))

    # a request for a model being loaded waits for it
    res = {}
    first = threading.Thread(target=ask, args=(s, B, res, 1))
    first.start()
    seen = None
    deadline = time.time() + 30
    while time.time() < deadline and seen not in ("loading", "loaded"):
        reg, _ = registry(s)
        seen = reg[B]["state"]
    second = threading.Thread(target=ask, args=(s, B, res, 2))
    second.start()
    first.join()
    second.join()
    m = metrics(s)
    t.ok(res == {1: 200, 2: 200}, "two requests for a model being loaded (seen %s): both answered, none 503" % seen,
         res)
    t.is_(m[("lmserve_model_loads_total", B)], 2.0, "... and it was loaded once for both")
    st, e = s.json("POST", "/v1/chat/completions", {"model": "nope", "messages": [{"role": "user", "content": "x"}]})
    t.ok(st == 404 and e["error"]["code"] == "model_not_found", "a model nobody has: 404")
    st, e = s.json("POST", "/v1/chat/completions", {"model": "broken", "messages": [{"role": "user", "content": "x"}]})
    t.is_(st, 404, "a model that cannot run is not served: 404")

    # a rescan finds what came and drops what went
    place(SMOLLM2, os.path.join(mdir, "c.gguf"))
    os.unlink(os.path.join(mdir, "sub", "b.gguf"))
    st, r = s.json("POST", "/api/models/rescan")
    ids = {m["id"] for m in r["data"]}
    t.ok(st == 200 and "c" in ids and "sub/b" not in ids, "POST /api/models/rescan: c came, sub/b went")
    st, v1 = s.json("GET", "/v1/models")
    t.ok("c" in {m["id"] for m in v1["data"]} and "sub/b" not in {m["id"] for m in v1["data"]},
         "... and /v1/models follows")
    t.is_(ask(s, "sub/b"), 404, "... a request for the model that went: 404")
    t.is_(ask(s, "c"), 200, "... for the one that came: 200")
    # c's sha256 is computed in the background: let it end before the
    # restart below, which must find every file's sum kept
    wait_hashed(s)

# the same data again: nothing is hashed a second time
with Server(args, model=None, home=home) as s:
    reg, r = registry(s)
    t.ok("no sha256 yet" not in s.log() and r["hashing"]["files"] == 0 and reg["a"]["sha256"] == sha_smol,
         "a restart hashes nothing again: the sha256s are kept with (file, size, time)")
shutil.rmtree(home)

# --keep-alive: an idle model is unloaded
with Server(["--keep-alive", "1s"]) as s:
    name = os.path.basename(SMOLLM2)[:-5]
    t.is_(ask(s, name), 200, "--keep-alive 1s: a request")
    deadline = time.time() + 90
    while time.time() < deadline and metrics(s)[("lmserve_model_unloads_total", name)] != 1:
        time.sleep(0.2)
    m = metrics(s)
    t.ok(m[("lmserve_model_loaded", name)] == 0 and m[("lmserve_model_unloads_total", name)] == 1,
         "... the idle model is unloaded after it")
    t.ok("unloaded (idle)" in s.log(), "... and the log says so")
    t.is_(ask(s, name), 200, "... the next request loads it again")
    t.is_(metrics(s)[("lmserve_model_loads_total", name)], 2.0, "... (a second load)")
t.is_(s.status, 0, "SIGTERM: lm-serve exits 0 (nothing leaked, under ASan)")

t.done()
