"""servetest.py - TAP output and an lm-serve to test, for the Python tests
of lm-serve (tests/serve-*.t run them with the interpreter servelib.sh
finds).

    t = Tap()
    with Server(["--parallel", "2"]) as s:      # lm-serve -m $SMOLLM2 --port 0 ...
        t.ok(s.get("/health").status == 200, "health")
    t.done()
"""
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

MODELS = os.environ.get("LMU_MODELS") or os.path.join(os.path.dirname(__file__), "..", "..", "models")
SMOLLM2 = os.path.join(MODELS, "smollm2-135m-instruct-q4_1.gguf")
BIN = os.environ.get("LMU_BIN") or os.path.join(os.path.dirname(__file__), "..", "..", "bin")


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name, diag=None):
        self.n += 1
        print(("ok %d - %s" if cond else "not ok %d - %s") % (self.n, name), flush=True)
        if not cond:
            self.failed += 1
            if diag is not None:
                self.diag(diag)
        return cond

    def is_(self, got, want, name):
        return self.ok(got == want, name, "got:  %r\nwant: %r" % (got, want))

    def diag(self, msg):
        for line in str(msg).splitlines():
            print("# " + line, file=sys.stderr, flush=True)

    def skip(self, name, why):
        self.n += 1
        print("ok %d - %s # SKIP %s" % (self.n, name, why), flush=True)

    def skip_all(self, why):
        print("1..0 # SKIP " + why, flush=True)
        sys.exit(0)

    def done(self):
        print("1..%d" % self.n, flush=True)
        sys.exit(1 if self.failed else 0)


class Server:
    """lm-serve on 127.0.0.1, any free port, stopped with SIGTERM at the end.

    Its database ($XDG_DATA_HOME/lmutils/lm-serve.db) and the Hugging Face
    cache it scans ($HF_HOME/hub) are under home: a fresh temporary folder,
    removed at the end, unless one is given (to start a server again on the
    same data).  model None: no -m."""

    def __init__(self, args=(), model=SMOLLM2, home=None, env=None):
        self.args = list(args)
        self.model = model
        self.proc = None
        self.status = None
        self.own_home = home is None
        self.home = home or tempfile.mkdtemp(prefix="lm-serve-home-")
        self.env = dict(os.environ)
        self.env.pop("HF_HUB_CACHE", None)
        self.env.pop("HUGGINGFACE_HUB_CACHE", None)
        self.env["XDG_DATA_HOME"] = os.path.join(self.home, "data")
        self.env["HF_HOME"] = os.path.join(self.home, "hf")
        self.env.update(env or {})
        self.db = os.path.join(self.env["XDG_DATA_HOME"], "lmutils", "lm-serve.db")

    def __enter__(self):
        self.start()
        return self

    def start(self, wait_health=True):
        self.err = tempfile.NamedTemporaryFile(prefix="lm-serve-", suffix=".err", delete=False)
        cmd = [os.path.join(BIN, "lm-serve")] + (["-m", self.model] if self.model else []) + ["--port", "0"]
        self.proc = subprocess.Popen(cmd + self.args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self.err, env=self.env)
        deadline = time.time() + 30
        self.url = None
        while time.time() < deadline and self.proc.poll() is None:
            with open(self.err.name) as f:
                first = f.readline()
            if first.startswith("lm-serve: listening on "):
                self.url = first.split()[-1]
                break
            time.sleep(0.05)
        if not self.url:
            raise RuntimeError("lm-serve did not start: " + self.log())
        self.host, self.port = self.url[len("http://"):].rsplit(":", 1)
        self.port = int(self.port)
        while wait_health and time.time() < deadline + 60:
            try:
                if self.get("/health").status == 200:
                    return self
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError("lm-serve died: " + self.log())
            time.sleep(0.1)
        if wait_health:
            raise RuntimeError("lm-serve did not get ready: " + self.log())
        return self

    def __exit__(self, *exc):
        self.stop()
        os.unlink(self.err.name)
        if self.own_home:
            shutil.rmtree(self.home, ignore_errors=True)

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.status = self.proc.returncode
        return self.status

    def log(self):
        with open(self.err.name, errors="replace") as f:
            return f.read()

    def request(self, method, path, body=None, headers=None, timeout=120):
        c = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        r.body = r.read()
        c.close()
        return r

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body, **kw):
        return self.request("POST", path, body, **kw)

    def fds(self):
        return len(os.listdir("/proc/%d/fd" % self.proc.pid))

    def rss_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def threads(self):
        return len(os.listdir("/proc/%d/task" % self.proc.pid))

    # ---- the chat (sessions over REST, replies over the WebSocket) ----

    def json(self, method, path, body=None, **kw):
        """(status, parsed body or None)"""
        r = self.request(method, path, body, **kw)
        try:
            return r.status, json.loads(r.body) if r.body else None
        except ValueError:
            return r.status, None

    def session(self, **fields):
        st, s = self.json("POST", "/api/sessions", fields)
        if st != 201:
            raise RuntimeError("POST /api/sessions: %d %r" % (st, s))
        return s

    def ws(self, **kw):
        """A WebSocket to /api/ws (websocket-client), its hello read."""
        import websocket
        w = websocket.create_connection("ws://%s:%d/api/ws" % (self.host, self.port), timeout=120, **kw)
        w.hello = json.loads(w.recv())
        return w


def chat(w, sid, content, on_frame=None):
    """Send a chat message over the WebSocket w and read until its reply is
    done (or an error): the frames, in order.  on_frame(frame, w) is called
    for each one (to send a stop, say)."""
    w.send(json.dumps({"type": "chat", "session": sid, "content": content}))
    frames = []
    while True:
        f = json.loads(w.recv())
        frames.append(f)
        if on_frame:
            on_frame(f, w)
        if f["type"] in ("done", "error") and f.get("session") in (sid, None):
            return frames
