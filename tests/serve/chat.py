"""chat.py - lm-serve's chat behind the page: sessions over REST, replies
over the WebSocket, the database (WAL, foreign keys, schema version, a
crash mid-reply), the guard against other sites, the key."""
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import stat
import subprocess
import tempfile
import time

import websocket

from servetest import SMOLLM2, Server, Tap, chat

t = Tap()
MODEL = "smollm2-135m-instruct-q4_1"
HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)> '); DROP TABLE sessions; -- \"\\ \u00e9\u4e2d"


def tokens(frames):
    return [f["text"] for f in frames if f["type"] == "token"]


def last(frames, kind):
    fs = [f for f in frames if f["type"] == kind]
    return fs[-1] if fs else None


def metric(s, name, model=None):
    body = s.get("/metrics").body.decode()
    pat = r"^%s%s (\S+)$" % (re.escape(name), re.escape('{model="%s"}' % model) if model else "")
    m = re.search(pat, body, re.M)
    return float(m.group(1)) if m else None


def raw_request(s, head):
    """Send a request head as it is; the status line's code."""
    c = socket.create_connection((s.host, s.port), timeout=30)
    c.sendall(head.encode())
    data = c.recv(65536).decode(errors="replace")
    c.close()
    return int(data.split()[1]) if data.startswith("HTTP/") else 0


home = tempfile.mkdtemp(prefix="lm-serve-chat-")  # kept for the restart
with Server(["--parallel", "2"], home=home) as s:
    # ---- sessions over REST ----
    st, lst = s.json("GET", "/api/sessions")
    t.ok(st == 200 and lst == {"object": "list", "data": []}, "GET /api/sessions: none yet", lst)

    a = s.session(title=HOSTILE, model=MODEL, settings={"temperature": 0, "system": "Answer briefly.", "max_tokens": 40,
                                                             "repeat_penalty": 1})
    t.ok(re.fullmatch(r"[0-9a-f]{32}", a["id"]) is not None, "a session id is 32 hex digits (128 bits)")
    t.is_(a["title"], HOSTILE, "a title with HTML, script and SQL comes back as it was")
    t.is_(a["settings"], {"system": "Answer briefly.", "temperature": 0, "repeat_penalty": 1, "max_tokens": 40},
          "settings kept")
    ids = [s.session()["id"] for _ in range(20)]
    t.ok(len(set(ids)) == 20 and len({i[:8] for i in ids}) == 20, "20 new ids share no 8-digit prefix")
    for i in ids:
        s.request("DELETE", "/api/sessions/" + i)
    st, got = s.json("GET", "/api/sessions/" + a["id"])
    t.ok(st == 200 and got["title"] == HOSTILE and got["messages"] == 0, "GET /api/sessions/ID")

    st, e = s.json("POST", "/api/sessions", {"settings": {"temperature": 3}})
    t.ok(st == 400 and e["error"]["param"] == "settings" and "temperature" in e["error"]["message"],
         "a setting out of range: 400 naming it", e)
    st, e = s.json("POST", "/api/sessions", {"settings": {"stop": ["x"]}})
    t.ok(st == 400 and "'stop' is not a setting" in e["error"]["message"], "an unknown setting: 400", e)
    st, e = s.json("POST", "/api/sessions", {"model": "no-such-model"})
    t.ok(st == 400 and e["error"]["param"] == "model", "an unknown model: 400 naming model", e)
    st, e = s.json("POST", "/api/sessions", {"title": 7})
    t.ok(st == 400 and e["error"]["param"] == "title", "a title that is no string: 400", e)
    st, e = s.json("POST", "/api/sessions", "not json{")
    t.is_(st, 400, "a body that is not JSON: 400")

    b = s.session(title="second")
    st, p = s.json("PATCH", "/api/sessions/" + b["id"], {"title": "renamed", "settings": {"top_k": 5, "max_tokens": 16}})
    t.ok(st == 200 and p["title"] == "renamed" and p["settings"] == {"top_k": 5, "max_tokens": 16}, "PATCH: title and settings", p)
    st, p = s.json("PATCH", "/api/sessions/" + b["id"], {"model": MODEL})
    t.ok(st == 200 and p["model"] == MODEL and p["title"] == "renamed", "PATCH: the model alone", p)
    st, p = s.json("PATCH", "/api/sessions/" + b["id"], {"model": None})
    t.ok(st == 200 and p["model"] is None, "PATCH: model null takes it away", p)
    st, lst = s.json("GET", "/api/sessions")
    t.is_([x["id"] for x in lst["data"]], [b["id"], a["id"]], "the list: last changed first")
    for method in ("GET", "PATCH", "DELETE"):
        st, _ = s.json(method, "/api/sessions/" + "0" * 32, {} if method == "PATCH" else None)
        t.is_(st, 404, "%s of a session that does not exist: 404" % method)
    st, _ = s.json("GET", "/api/sessions/../../etc/passwd")
    st2, _ = s.json("GET", "/api/sessions/%27%20OR%201=1%20--%20aaaaaaaaaaaaaaaaaaaa")
    t.ok(st == 404 and st2 == 404, "ids of the wrong shape never reach the database: 404")

    # ---- replies over the WebSocket ----
    w = s.ws()
    t.is_(w.hello, {"type": "hello", "session": None, "version": w.hello.get("version"), "auth": False},
          "the socket says hello")
    q = "What is the capital of France?"
    frames = chat(w, a["id"], q)
    kinds = [f["type"] for f in frames]
    t.ok(kinds[0] == "message" and kinds[1] == "start" and kinds[-1] == "done", "frames: message, start, tokens, done",
         kinds)
    t.ok(len(tokens(frames)) >= 3, "the reply comes token by token (%d token frames)" % len(tokens(frames)))
    done = last(frames, "done")
    reply = done["message"]
    t.is_("".join(tokens(frames)), reply["content"], "the tokens add up to the stored reply")
    t.ok(reply["role"] == "assistant" and reply["model"] == MODEL and reply["finish"] in ("stop", "length") and
         reply["usage"]["completion_tokens"] > 0 and reply["tokens_per_second"] > 0, "the reply's record", reply)
    # the same conversation through the OpenAI route, greedy: the same text
    st, oc = s.json("POST", "/v1/chat/completions", {"model": MODEL, "temperature": 0, "max_tokens": 40, "messages": [
        {"role": "system", "content": "Answer briefly."}, {"role": "user", "content": q}]})
    t.is_(reply["content"], oc["choices"][0]["message"]["content"],
          "temperature 0: the chat's reply equals /v1/chat/completions' for the same messages")

    frames2 = chat(w, a["id"], "And of Italy?")
    r2 = last(frames2, "done")["message"]
    first_prompt = reply["usage"]["prompt_tokens"]
    t.ok(r2["usage"]["cached_tokens"] >= first_prompt,
         "the second turn resumes from the KV state: %d of %d prompt tokens cached (first turn's prompt: %d)"
         % (r2["usage"]["cached_tokens"], r2["usage"]["prompt_tokens"], first_prompt))
    st, msgs = s.json("GET", "/api/sessions/%s/messages" % a["id"])
    t.is_([(m["role"], m["content"]) for m in msgs["data"]],
          [("user", q), ("assistant", reply["content"]), ("user", "And of Italy?"), ("assistant", r2["content"])],
          "GET .../messages: the four messages in order")

    # HTML in a message is stored and given back as it is
    hb = s.session(settings={"max_tokens": 4})
    chat(w, hb["id"], HOSTILE)
    st, msgs = s.json("GET", "/api/sessions/%s/messages" % hb["id"])
    t.is_(msgs["data"][0]["content"], HOSTILE, "a message with HTML and SQL is stored as it is")
    st, got = s.json("GET", "/api/sessions/" + hb["id"])
    t.is_(got["title"], HOSTILE[:60].strip(), "an untitled session takes its first message's start as title")

    # stop a long reply: it ends, what came is kept, the sequence is free again
    c = s.session(settings={"temperature": 0, "max_tokens": 400})
    seen = []

    def stop_after_5(f, w):
        if f["type"] == "token":
            seen.append(f)
            if len(seen) == 5:
                w.send(json.dumps({"type": "stop"}))
    frames = chat(w, c["id"], "Count from 1 to 500, one number per line.", stop_after_5)
    done = last(frames, "done")
    n = len(tokens(frames))
    t.ok(done["finish"] == "cancelled" and 5 <= n <= 8, "stop: the reply ends within a few tokens (%d)" % n, done)
    t.ok(done["message"] and done["message"]["finish"] == "cancelled" and
         done["message"]["content"] == "".join(tokens(frames)), "... and what came is stored, marked cancelled")
    time.sleep(0.3)
    t.is_(metric(s, "lmserve_busy_sequences", MODEL), 0.0, "... and its sequence is free")

    # one reply at a time on a socket
    w.send(json.dumps({"type": "chat", "session": c["id"], "content": "Count to 200."}))
    w.send(json.dumps({"type": "chat", "session": c["id"], "content": "again"}))
    got = []
    while True:
        f = json.loads(w.recv())
        got.append(f)
        if f["type"] == "error" and f["code"] == "busy":
            w.send(json.dumps({"type": "stop"}))
        if f["type"] == "done":
            break
    t.ok(any(f["type"] == "error" and f["code"] == "busy" for f in got), "a second chat while one runs: busy")

    # bad messages are answered, the socket stays
    for msg, code, name in (("{", "bad_message", "not JSON"), ('{"type":"dance"}', "bad_message", "an unknown type"),
                            ('{"type":"chat","content":"x"}', "bad_message", "no session"),
                            ('{"type":"chat","session":"%s","content":"x"}' % ("f" * 32), "session_not_found",
                             "a session that does not exist")):
        w.send(msg)
        f = json.loads(w.recv())
        t.ok(f["type"] == "error" and f["code"] == code, "a message with %s: error %s" % (name, code), f)
    f = chat(w, b["id"], "Say hi.")
    t.is_(last(f, "done")["message"]["role"], "assistant", "the socket still works after bad messages")
    w.close()

    # ---- export, import ----
    r = s.get("/api/sessions/%s/export" % a["id"])
    ex = json.loads(r.body)
    t.ok(r.status == 200 and "attachment" in (r.getheader("Content-Disposition") or "") and
         ex["lmutils_session"] == 1 and ex["session"]["id"] == a["id"] and len(ex["messages"]) == 4,
         "export: the session and its messages, as a file to save")
    st, imp = s.json("POST", "/api/sessions", ex)
    st2, msgs = s.json("GET", "/api/sessions/%s/messages" % imp["id"])
    t.ok(st == 201 and imp["id"] != a["id"] and imp["title"] == HOSTILE and
         [(m["role"], m["content"], m["usage"]) for m in msgs["data"]] ==
         [(m["role"], m["content"], m["usage"]) for m in ex["messages"]], "an export imports as a new session")
    st, e = s.json("POST", "/api/sessions", {"messages": [{"role": "robot", "content": "x"}]})
    t.ok(st == 400 and "role" in e["error"]["message"], "an import with a bad role: 400", e)

    # ---- other sites ----
    st, e = s.json("GET", "/api/sessions", headers={"Origin": "http://evil.example"})
    t.ok(st == 403 and e["error"]["code"] == "forbidden_origin", "a request from another site's page: 403", e)
    st, _ = s.json("DELETE", "/api/sessions/" + b["id"], headers={"Origin": "http://evil.example"})
    st2, _ = s.json("GET", "/api/sessions/" + b["id"])
    t.ok(st == 403 and st2 == 200, "... and it deletes nothing")
    st, _ = s.json("GET", "/api/sessions", headers={"Origin": "http://%s:%d" % (s.host, s.port)})
    t.is_(st, 200, "the page's own origin passes")
    t.is_(raw_request(s, "GET /api/sessions HTTP/1.1\r\nHost: evil.example:%d\r\n\r\n" % s.port), 403,
          "a Host that is not a loopback name (DNS rebinding): 403")
    try:
        websocket.create_connection("ws://%s:%d/api/ws" % (s.host, s.port), origin="http://evil.example",
                                    timeout=10)
        refused = False
    except Exception:
        refused = True
    t.ok(refused, "a WebSocket from another site's page is refused")

    # ---- the page ----
    r = s.get("/")
    page = r.body.decode()
    csp = r.getheader("Content-Security-Policy") or ""
    t.ok(r.status == 200 and r.getheader("Content-Type").startswith("text/html") and "<textarea" in page,
         "GET /: the chat page (%d bytes)" % len(r.body))
    t.ok("script-src 'sha256-" in csp and "connect-src 'self'" in csp and "default-src 'none'" in csp,
         "... with a Content-Security-Policy: its own script only, this server only", csp)
    t.ok(not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", page) and "@import" not in page and
         "url(" not in page, "... that loads nothing from elsewhere")
    t.ok("innerHTML" not in page and "insertAdjacentHTML" not in page and "document.write" not in page,
         "... and never writes text as HTML")
    r2 = s.get("/", headers={"If-None-Match": r.getheader("ETag")})
    t.is_(r2.status, 304, "... asked again with its ETag: 304")

    # ---- the database ----
    mode = stat.S_IMODE(os.stat(s.db).st_mode)
    t.is_(oct(mode), oct(0o600), "the database file is the user's only (0600)")
    con = sqlite3.connect(s.db)
    t.is_(con.execute("PRAGMA journal_mode").fetchone()[0], "wal", "WAL mode")
    t.is_(con.execute("PRAGMA user_version").fetchone()[0], 1, "schema version 1")
    fks = con.execute("PRAGMA foreign_key_list(messages)").fetchall()
    t.ok(any(fk[2] == "sessions" and fk[6] == "CASCADE" for fk in fks), "messages belong to sessions (ON DELETE CASCADE)")
    before = con.execute("SELECT count(*) FROM messages WHERE session_id = ?", (c["id"],)).fetchone()[0]
    st, _ = s.json("DELETE", "/api/sessions/" + c["id"])
    after = con.execute("SELECT count(*) FROM messages WHERE session_id = ?", (c["id"],)).fetchone()[0]
    t.ok(st == 204 and before > 0 and after == 0, "DELETE: 204, and its messages are gone (%d -> %d)" % (before, after))
    t.is_(con.execute("SELECT count(*) FROM sessions").fetchone()[0], 4, "the other sessions are there")
    con.close()

    # the backup README.md and lm-serve(1) show, taken while the server runs
    if shutil.which("sqlite3"):
        bk = os.path.join(home, "backup.db")
        p = subprocess.run(["sqlite3", s.db, ".backup '%s'" % bk], capture_output=True, text=True, timeout=60)
        con = sqlite3.connect(s.db)
        con2 = sqlite3.connect(bk)
        q = "SELECT id, role, content FROM messages ORDER BY id"
        live, saved = con.execute(q).fetchall(), con2.execute(q).fetchall()
        t.ok(p.returncode == 0 and live and saved == live and
             con2.execute("PRAGMA integrity_check").fetchone()[0] == "ok",
             "sqlite3 DB .backup while the server runs: every message (%d) in a sound copy" % len(saved), p.stderr)
        con.close()
        con2.close()
    else:
        t.skip("sqlite3 DB .backup while the server runs", "no sqlite3 (apt-get install sqlite3, or make deps)")

    # ---- kill -9 during a reply ----
    sessions_before = s.json("GET", "/api/sessions")[1]["data"]
    msgs_before = {x["id"]: s.json("GET", "/api/sessions/%s/messages" % x["id"])[1]["data"] for x in sessions_before}
    w = s.ws()
    w.send(json.dumps({"type": "chat", "session": a["id"], "content": "Write a long story about a lighthouse."}))
    n = 0
    while n < 5:
        f = json.loads(w.recv())
        n += f["type"] == "token"
    s.proc.send_signal(signal.SIGKILL)
    s.proc.wait()
    t.is_(s.proc.returncode, -9, "the server is killed with SIGKILL in the middle of a reply")

with Server(["--parallel", "2"], home=home) as s2:
    st, lst = s2.json("GET", "/api/sessions")
    t.is_(sorted(x["id"] for x in lst["data"]), sorted(x["id"] for x in sessions_before),
          "after the restart: every session is there")
    lost = 0
    for sid, old in msgs_before.items():
        now = s2.json("GET", "/api/sessions/%s/messages" % sid)[1]["data"]
        if now[:len(old)] != old:
            lost += 1
    t.is_(lost, 0, "... every earlier message is there")
    now = s2.json("GET", "/api/sessions/%s/messages" % a["id"])[1]["data"]
    t.ok(len(now) == len(msgs_before[a["id"]]) + 1 and now[-1]["role"] == "user" and "lighthouse" in now[-1]["content"],
         "... with the message whose reply was cut (only the reply is lost)")
    con = sqlite3.connect(s2.db)
    t.is_(con.execute("PRAGMA integrity_check").fetchone()[0], "ok", "... and the database is sound")
    con.close()
    w = s2.ws()
    f = chat(w, a["id"], "Are you there?")
    r = last(f, "done")["message"]
    t.ok(r["role"] == "assistant" and r["usage"]["cached_tokens"] == 0,
         "the session goes on; its history is evaluated again (nothing cached after a restart)")
    w.close()
t.is_(s2.status, 0, "SIGTERM: lm-serve exits 0 (nothing leaked, under ASan)")
shutil.rmtree(home)

# ---- files that are no database of ours ----
for what, setup in (("a newer schema", "PRAGMA user_version = 99"),
                    ("another program's SQLite file", "CREATE TABLE notes (x)")):
    d = tempfile.mkdtemp()
    db = os.path.join(d, "x.db")
    con = sqlite3.connect(db)
    con.execute(setup)
    con.commit()
    con.close()
    srv = Server(["--db", db])
    try:
        srv.start()
        ok, log = False, ""
    except RuntimeError as e:
        ok, log = True, str(e)
    srv.stop()
    t.ok(ok and (("99" in log and "newer" in log) or "not lm-serve's" in log), "%s is refused, saying why" % what, log)
d = tempfile.mkdtemp()
junk = os.path.join(d, "junk.db")
with open(junk, "w") as f:
    f.write("this is no database\n" * 100)
srv = Server(["--db", junk])
try:
    srv.start()
    refused = False
except RuntimeError as e:
    refused = "junk.db" in str(e)
srv.stop()
t.ok(refused, "a file that is no SQLite database is refused, naming it")

# ---- a key ----
kd = tempfile.mkdtemp()
key = os.path.join(kd, "key")
with open(key, "w") as f:
    f.write("s3cret-key\n")
os.chmod(key, 0o600)
with Server(["--api-key-file", key]) as s:
    t.is_(s.get("/").status, 200, "with a key: the page loads without one (it holds nothing)")
    t.is_(s.get("/api/sessions").status, 401, "... the sessions need it")
    auth = {"Authorization": "Bearer s3cret-key"}
    sid = s.json("POST", "/api/sessions", {"settings": {"max_tokens": 8}}, headers=auth)[1]["id"]
    w = s.ws()
    t.ok(w.hello["auth"] is True, "the socket's hello says a key is needed")
    w.send(json.dumps({"type": "chat", "session": sid, "content": "hi"}))
    f = json.loads(w.recv())
    t.ok(f["type"] == "error" and f["code"] == "invalid_api_key", "a chat before auth: refused", f)
    w2 = s.ws()
    w2.send(json.dumps({"type": "auth", "key": "wrong"}))
    f = json.loads(w2.recv())
    t.ok(f["type"] == "error" and f["code"] == "invalid_api_key", "a wrong key: refused", f)
    w3 = s.ws()
    w3.send(json.dumps({"type": "auth", "key": "s3cret-key"}))
    f = chat(w3, sid, "Say hi.")
    t.is_(last(f, "done")["message"]["role"], "assistant", "the right key: the chat goes on")
    w3.close()

t.done()
