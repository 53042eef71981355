#!/usr/bin/env python3
"""hubserver.py - a local stand-in for the Hugging Face Hub, for the hf-fetch
tests (python3 standard library only).

    hubserver.py ROOT PORTFILE LOGFILE FAULTFILE [PAGESIZE]

Serves the repos under ROOT/<org>/<name>/ on 127.0.0.1 (a free port, written
to PORTFILE once listening):
  GET /api/models/ORG/NAME/revision/REV  repo info with "sha"
  GET /api/models/ORG/NAME/tree/REV      recursive listing, PAGESIZE entries a
                                         page, Link: rel="next"
  GET /api/models?search=&author=&limit= search, paginated the same way
  GET|HEAD /ORG/NAME/resolve/REV/PATH    small files directly (ETag = git blob
                                         id); LFS files (*.gguf, *.bin,
                                         *.safetensors, or > 64 bytes) by a
                                         302 to http://localhost:PORT/cdn/...
                                         with X-Repo-Commit, X-Linked-Etag
                                         (sha256), X-Linked-Size
  GET /cdn/ORG/NAME/SHA256               the bytes, with Range
Repos under org "private" need "Authorization: Bearer hf_testtoken" (else
401 RepoNotFound, or 401 "Invalid credentials" for another token); under
org "gated" a token gets 403 GatedRepo, no token 401 GatedRepo.

FAULTFILE is re-read on every request; each line is
    PATHPREFIX COUNT ACTION [ARGS]
and applies to the first COUNT requests (0: every request) whose path starts
with PATHPREFIX:
    status CODE [X-ERROR-CODE|-] [RETRY-AFTER]   answer with that status
    drop BYTES        send the headers and BYTES bytes of the body, then close
    norange           ignore Range: 200 and the whole file
    corrupt           the right length, wrong bytes
    trickle BPS       send the body at BPS bytes per second
    hostile           add unsafe names to the tree listing
    looplink          a listing or search page's next link is its own URL
    silent            read the request, never answer
    repeatlink        every page is the first one, under a new next link
Revisions: main, the tag v1.0 and refs/pr/1 all name the commit, which is
a hash of the repo's files.
LOGFILE gets one line per request: METHOD PATH range=R auth=0|1.
"""
import hashlib
import json
import os
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT, PORTFILE, LOGFILE, FAULTFILE = sys.argv[1:5]
PAGE = int(sys.argv[5]) if len(sys.argv) > 5 else 3
TOKEN = "hf_testtoken"
counts = {}
lock = threading.Lock()


def is_lfs(path, data):
    return path.endswith((".gguf", ".bin", ".safetensors")) or len(data) > 64


def git_oid(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def repo_files(repo):
    base = os.path.join(ROOT, repo)
    out = {}
    for d, _, files in os.walk(base):
        for f in files:
            full = os.path.join(d, f)
            with open(full, "rb") as fh:
                out[os.path.relpath(full, base)] = fh.read()
    return out


def commit_of(repo, files):
    h = hashlib.sha1(repo.encode())
    for p in sorted(files):
        h.update(p.encode() + b"\0" + hashlib.sha256(files[p]).digest())
    return h.hexdigest()


def faults_for(path):
    """The actions that apply to this request (counted)."""
    try:
        with open(FAULTFILE) as f:
            lines = [l.split() for l in f if l.strip() and not l.startswith("#")]
    except FileNotFoundError:
        return []
    acts = []
    with lock:
        for l in lines:
            prefix, count, act = l[0], int(l[1]), l[2:]
            if not path.startswith(prefix):
                continue
            key = " ".join(l)
            n = counts.get(key, 0)
            if count and n >= count:
                continue
            counts[key] = n + 1
            acts.append(act)
    return acts


class Hub(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def log(self):
        with lock, open(LOGFILE, "a") as f:
            f.write("%s %s range=%s auth=%d\n" % (self.command, self.path,
                    self.headers.get("Range", "-"), "Authorization" in self.headers))

    def send(self, code, body=b"", headers=(), ctype="application/json"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def error(self, code, xcode=None, msg=None, extra=()):
        h = list(extra)
        if xcode:
            h.append(("X-Error-Code", xcode))
        if msg:
            h.append(("X-Error-Message", msg))
        self.send(code, json.dumps({"error": msg or xcode or str(code)}).encode(), h)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        self.log()
        url = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(url.path)
        q = urllib.parse.parse_qs(url.query)
        self.acts = faults_for(path)
        if any(a[0] == "silent" for a in self.acts):
            time.sleep(3600)
            return
        for a in self.acts:
            if a[0] == "status":
                extra = [("Retry-After", a[3])] if len(a) > 3 else []
                return self.error(int(a[1]), None if len(a) < 3 or a[2] == "-" else a[2], None, extra)
        try:
            if path == "/api/models":
                return self.search(q)
            if path.startswith("/api/models/"):
                return self.api(path[len("/api/models/"):], q)
            if path.startswith("/cdn/"):
                return self.cdn(path[5:])
            if "/resolve/" in path:
                return self.resolve(path[1:])
            self.error(404)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def auth(self, repo):
        """None if allowed, else the error already sent."""
        got = self.headers.get("Authorization")
        org = repo.split("/")[0]
        if org == "private":
            if got is None:
                return self.error(401, "RepoNotFound", "Repository Not Found") or True
            if got != "Bearer " + TOKEN:
                return self.error(401, None, "Invalid credentials in Authorization header") or True
        if org == "gated":
            if got is None:
                return self.error(401, "GatedRepo", "Access to this model is restricted") or True
            return self.error(403, "GatedRepo", "Access to model %s is restricted" % repo) or True
        if not os.path.isdir(os.path.join(ROOT, repo)):
            return self.error(401 if got is None else 404, "RepoNotFound", "Repository Not Found") or True
        return None

    def revision(self, repo, files, rev):
        c = commit_of(repo, files)
        if rev in ("main", "v1.0", "refs/pr/1", c):
            return c
        self.error(404, "RevisionNotFound", "Invalid rev id: " + rev)
        return None

    def api(self, rest, q):
        parts = rest.split("/")
        repo, kind = "/".join(parts[:2]), parts[2] if len(parts) > 2 else ""
        if self.auth(repo):
            return
        files = repo_files(repo)
        rev = "/".join(parts[3:]) or "main"
        c = self.revision(repo, files, rev)
        if c is None:
            return
        if kind == "revision":
            return self.send(200, json.dumps({"id": repo, "sha": c, "siblings":
                             [{"rfilename": p} for p in sorted(files)]}).encode())
        if kind != "tree":
            return self.error(404)
        entries, dirs = [], set()
        for p in sorted(files):
            d = os.path.dirname(p)
            while d and d not in dirs:
                dirs.add(d)
                entries.append({"type": "directory", "oid": "0" * 40, "path": d})
                d = os.path.dirname(d)
            data = files[p]
            e = {"type": "file", "oid": git_oid(data), "size": len(data), "path": p}
            if is_lfs(p, data):
                e["oid"] = git_oid(b"pointer " + p.encode())
                e["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data),
                            "pointerSize": 134}
            entries.append(e)
        if any(a[0] == "hostile" for a in self.acts):
            for bad in ("../escape.txt", "/tmp/abs.txt", "sub/../../up.txt", "a\nb.txt", ""):
                entries.append({"type": "file", "oid": git_oid(b"x"), "size": 1, "path": bad})
        self.page(entries, q, "/api/models/%s/tree/%s?recursive=true&expand=false" % (repo, rev))

    def page(self, items, q, base):
        start = int(q.get("cursor", ["0"])[0])
        acts = {a[0] for a in self.acts}
        chunk = items[0 if "repeatlink" in acts else start:][:PAGE]
        h = []
        host = "http://127.0.0.1:%d" % self.server.server_port
        if "looplink" in acts:
            h.append(("Link", '<%s%s>; rel="next"' % (host, self.path)))
        elif start + PAGE < len(items) or "repeatlink" in acts:
            sep = "&" if "?" in base else "?"
            h.append(("Link", '<%s%s%scursor=%d>; rel="next"' % (host, base, sep, start + PAGE)))
        self.send(200, json.dumps(chunk).encode(), h)

    def search(self, q):
        term = q.get("search", [""])[0].lower()
        author = q.get("author", [None])[0]
        limit = int(q.get("limit", ["1000"])[0])
        found = []
        for org in sorted(os.listdir(ROOT)):
            for name in sorted(os.listdir(os.path.join(ROOT, org))):
                rid = org + "/" + name
                if term in rid.lower() and (author is None or org == author):
                    dl = int(hashlib.sha1(rid.encode()).hexdigest()[:4], 16)
                    found.append({"_id": rid, "id": rid, "modelId": rid, "downloads": dl,
                                  "likes": dl % 97, "pipeline_tag": "text-generation"})
        found.sort(key=lambda m: -m["downloads"])
        found = found[:limit]
        base = "/api/models?search=%s%s&limit=%d" % (
            urllib.parse.quote(term), "&author=" + author if author else "", limit)
        self.page(found, q, base)

    def resolve(self, rest):
        head, path = rest.split("/resolve/", 1)
        repo = head
        if self.auth(repo):
            return
        files = repo_files(repo)
        rev, _, fpath = path.partition("/")
        c = self.revision(repo, files, rev)
        if c is None:
            return
        if fpath not in files:
            return self.error(404, "EntryNotFound", "%s does not exist" % fpath,
                              [("X-Repo-Commit", c)])
        data = files[fpath]
        if is_lfs(fpath, data):
            sha = hashlib.sha256(data).hexdigest()
            loc = "http://localhost:%d/cdn/%s/%s" % (self.server.server_port, repo, sha)
            return self.send(302, b"", [("Location", loc), ("X-Repo-Commit", c),
                             ("ETag", '"%s"' % git_oid(b"pointer " + fpath.encode())),
                             ("X-Linked-Etag", '"%s"' % sha), ("X-Linked-Size", str(len(data)))])
        self.body(data, [("ETag", '"%s"' % git_oid(data)), ("X-Repo-Commit", c)])

    def cdn(self, rest):
        org, name, sha = rest.split("/", 2)
        for data in repo_files(org + "/" + name).values():
            if hashlib.sha256(data).hexdigest() == sha:
                return self.body(data, [("ETag", '"%s"' % sha)])
        self.error(404)

    def body(self, data, headers):
        acts = {a[0]: a[1:] for a in self.acts}
        if "corrupt" in acts:
            data = bytes(b ^ 0x5a for b in data)
        start, code = 0, 200
        rng = self.headers.get("Range")
        if rng and "norange" not in acts and rng.startswith("bytes=") and rng.endswith("-"):
            start = int(rng[6:-1])
            if start >= len(data):
                return self.error(416)
            code = 206
            headers = headers + [("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))]
        part = data[start:]
        self.send_response(code)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(part)))
        self.send_header("Accept-Ranges", "bytes")
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command == "HEAD":
            return
        if "drop" in acts:
            self.wfile.write(part[:int(acts["drop"][0])])
            self.wfile.flush()
            self.close_connection = True
            return
        if "trickle" in acts:
            step = max(1, int(float(acts["trickle"][0]) / 20))
            for i in range(0, len(part), step):
                self.wfile.write(part[i:i + step])
                self.wfile.flush()
                time.sleep(0.05)
            return
        self.wfile.write(part)


def watchdog(parent):
    # Never outlive the test that started us.
    deadline = time.time() + 300
    while os.getppid() == parent and time.time() < deadline:
        time.sleep(0.5)
    os._exit(0)


if __name__ == "__main__":
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    srv.daemon_threads = True
    threading.Thread(target=watchdog, args=(os.getppid(),), daemon=True).start()
    with open(PORTFILE + ".tmp", "w") as f:
        f.write(str(srv.server_port))
    os.rename(PORTFILE + ".tmp", PORTFILE)
    srv.serve_forever()
