"""serve-bench.py URL CLIENTS REQUESTS MAX_TOKENS - CLIENTS streaming chat
clients at once against an OpenAI-compatible server, each sending
REQUESTS requests one after another (a different prompt each), every
request generating MAX_TOKENS tokens (ignore_eos).  Prints one JSON line:
aggregate generated tokens per second over the whole run, time to first
token (first text) p50 and p99 in seconds, the requests and tokens seen."""
import http.client
import json
import sys
import threading
import time

url, clients, reqs, max_tokens = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
host, port = url[len("http://"):].rsplit(":", 1)
TOPICS = ["pipes", "lighthouses", "rivers", "compilers", "owls", "glaciers", "bicycles", "tea", "comets", "moss",
          "harbours", "clocks", "bridges", "foxes", "libraries", "storms", "kites", "deserts", "violins", "bees"]

ttfts, tokens, errors = [], [0], []
lock = threading.Lock()


def model_id():
    """The id the server lists first (lm-serve answers 404 to a name it
    does not hold; llama-server takes any)."""
    c = http.client.HTTPConnection(host, int(port), timeout=60)
    c.request("GET", "/v1/models")
    ids = [m["id"] for m in json.loads(c.getresponse().read())["data"]]
    c.close()
    return ids[0]


MODEL = model_id()


def one(i, k):
    topic = TOPICS[(i * reqs + k) % len(TOPICS)]
    body = json.dumps({"model": MODEL, "max_tokens": max_tokens, "temperature": 0, "ignore_eos": True,
                       "stream": True, "stream_options": {"include_usage": True},
                       "messages": [{"role": "user", "content": "Write a short story about %s, number %d." % (topic, i * reqs + k)}]})
    c = http.client.HTTPConnection(host, int(port), timeout=600)
    t0 = time.time()
    c.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
    r = c.getresponse()
    if r.status != 200:
        errors.append(r.status)
        r.read()
        return
    first, n, usage = None, 0, None
    buf = b""
    while True:
        line = r.fp.readline()
        if not line:
            break
        line = line.strip()
        if not line.startswith(b"data: "):
            continue
        data = line[6:]
        if data == b"[DONE]":
            break
        ev = json.loads(data)
        if ev.get("usage"):
            usage = ev["usage"]["completion_tokens"]
        for ch in ev.get("choices") or []:
            if (ch.get("delta") or {}).get("content"):
                n += 1
                if first is None:
                    first = time.time() - t0
    c.close()
    with lock:
        if first is not None:
            ttfts.append(first)
        tokens[0] += usage if usage is not None else n


def client(i):
    for k in range(reqs):
        one(i, k)


ths = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
t0 = time.time()
for th in ths:
    th.start()
for th in ths:
    th.join()
wall = time.time() - t0
ttfts.sort()


def pct(p):
    if not ttfts:
        return None
    return ttfts[min(len(ttfts) - 1, int(round(p / 100.0 * (len(ttfts) - 1))))]


print(json.dumps({"tps": tokens[0] / wall, "ttft_p50": pct(50), "ttft_p99": pct(99), "requests": len(ttfts),
                  "tokens": tokens[0], "errors": errors, "wall": wall}))
