"""hostile.py - the chat's readers of what clients send (a session posted
or imported, a PATCH, a message on the WebSocket) given broken and hostile
documents: seeded random mutations of good ones (fields dropped, values of
every wrong type, huge and deep values, ill-formed UTF-8, truncations).
Every answer must be a success or a 4xx with a JSON error, every socket
message an answer, and the server must live on with its data intact (run
it under make SAN=1 to have ASan watch the readers)."""
import json
import random

from servetest import Server, Tap, chat

t = Tap()
MODEL = "smollm2-135m-instruct-q4_1"
rng = random.Random(15)

WRONG = [None, True, False, 0, -1, 1.5, 1e308, -2**63, 2**64, "", "x" * 70000, "\u0000", "\ud7ff\ue000",
         [], [None], {}, {"a": {"b": {"c": []}}}, "<script>alert(1)</script>", "'); DROP TABLE sessions; --"]


def deep(n):
    """n nested arrays, made by encode (too deep for Python's json)."""
    return "__deep_%d__" % n


def mutate(doc):
    """One random change somewhere in a copy of doc (a JSON value)."""
    doc = json.loads(json.dumps(doc))
    paths = []

    def walk(v, path):
        paths.append(path)
        if isinstance(v, dict):
            for k in v:
                walk(v[k], path + [k])
        elif isinstance(v, list):
            for i, x in enumerate(v):
                walk(x, path + [i])
    walk(doc, [])
    path = rng.choice(paths)
    if not path:
        return rng.choice(WRONG + [deep(rng.choice([10, 500, 5000]))])
    parent = doc
    for k in path[:-1]:
        parent = parent[k]
    key = path[-1]
    r = rng.random()
    if r < 0.25 and isinstance(parent, dict):
        del parent[key]
    elif r < 0.35:
        parent[key] = deep(rng.choice([10, 500, 5000]))
    elif r < 0.45 and isinstance(parent, dict):
        parent["unknown_" + str(rng.randrange(100))] = rng.choice(WRONG)
    else:
        parent[key] = rng.choice(WRONG)
    return doc


def encode(doc):
    """doc as bytes, sometimes broken on the way: truncated, a byte
    flipped, ill-formed UTF-8 inside a string."""
    b = json.dumps(doc).encode()
    for n in (10, 500, 5000):
        b = b.replace(b'"__deep_%d__"' % n, b"[" * n + b"]" * n)
    r = rng.random()
    if r < 0.1 and len(b) > 2:
        b = b[:rng.randrange(1, len(b))]
    elif r < 0.2 and b:
        i = rng.randrange(len(b))
        b = b[:i] + bytes([rng.randrange(256)]) + b[i + 1:]
    elif r < 0.3:
        b = b.replace(b'"', b'"\xff\xfe', 1)
    return b


def answer_ok(st, body):
    if st in (200, 201, 204):
        return True
    if 400 <= st < 500 and st != 408:
        try:
            e = json.loads(body)
            return isinstance(e["error"]["message"], str)
        except (ValueError, KeyError, TypeError):
            return False
    return False


with Server(["--parallel", "2"]) as s:
    keep = s.session(title="kept", model=MODEL, settings={"temperature": 0, "max_tokens": 4})
    w = s.ws()
    w.send(json.dumps({"type": "chat", "session": keep["id"], "content": "Say hi."}))
    while json.loads(w.recv())["type"] != "done":
        pass
    msgs_before = s.json("GET", "/api/sessions/%s/messages" % keep["id"])[1]["data"]
    export = json.loads(s.get("/api/sessions/%s/export" % keep["id"]).body)

    new_doc = {"title": "t", "model": MODEL, "settings": {"temperature": 0.7, "top_p": 0.9, "max_tokens": 4,
                                                           "system": "Be brief.", "seed": 1}}
    patch_doc = {"title": "renamed", "model": MODEL, "settings": {"temperature": 0, "max_tokens": 4}}
    bad = []
    n_ok = n_4xx = 0
    for i in range(300):
        kind = i % 3
        src = (new_doc, export, patch_doc)[kind]
        body = encode(mutate(src))
        if kind < 2:
            r = s.request("POST", "/api/sessions", body, headers={"Content-Type": "application/json"})
        else:
            target = s.session(title="p", settings={"max_tokens": 4})
            r = s.request("PATCH", "/api/sessions/" + target["id"], body,
                          headers={"Content-Type": "application/json"})
        if not answer_ok(r.status, r.body):
            bad.append((r.status, body[:200], r.body[:200]))
        n_ok += r.status < 300
        n_4xx += r.status >= 400
    t.ok(not bad, "300 mutated session documents (new, import, PATCH): %d taken, %d refused with a JSON error, "
         "none answered otherwise" % (n_ok, n_4xx), "\n".join(map(repr, bad[:5])))

    # After each mutated message a marker (a type the server does not
    # know) whose error answer says that the message before it was read:
    # a stop, or an auth, is answered by nothing of its own.
    chat_doc = {"type": "chat", "session": keep["id"], "content": "Hi."}
    marker = json.dumps({"type": "marker"})
    answers = {}
    bad = []
    for i in range(150):
        body = encode(mutate(chat_doc if i % 2 else {"type": "stop"}))
        try:
            if rng.random() < 0.2:
                w.send_binary(body)
            else:  # a text frame, as it is (ill-formed UTF-8 too) or made good
                w.send(body if rng.random() < 0.5 else body.decode("utf-8", "replace"))
            w.send(marker)
            while True:
                f = json.loads(w.recv())
                if f["type"] == "error" and "'marker'" in f["message"]:
                    break
                if f["type"] in ("error", "done"):
                    k = f.get("code", "done")
                    answers[k] = answers.get(k, 0) + 1
        except Exception as ex:  # a socket the server closed is an answer too
            answers["closed"] = answers.get("closed", 0) + 1
            if type(ex).__name__ not in ("WebSocketConnectionClosedException", "ConnectionResetError",
                                         "BrokenPipeError"):
                bad.append((repr(ex), body[:200]))
            w = s.ws()
    t.ok(not bad, "150 mutated socket messages, each read and the socket usable after it (%s)" %
         ", ".join("%s %d" % kv for kv in sorted(answers.items())), "\n".join(map(repr, bad[:5])))
    w.close()

    t.is_(s.get("/health").status, 200, "the server lives on")
    t.is_(s.json("GET", "/api/sessions/%s/messages" % keep["id"])[1]["data"][:len(msgs_before)], msgs_before,
          "the session it had keeps its messages")
    w = s.ws()
    f = chat(w, keep["id"], "Again.")
    t.is_(f[-1]["type"], "done", "... and a chat goes on")
    w.close()
t.is_(s.status, 0, "SIGTERM: lm-serve exits 0 (nothing leaked, under ASan)")
t.done()
