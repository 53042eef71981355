#!/bin/sh
# hf-fetch --unpack: tar and zip bundles unpack; hostile archives (../x,
# absolute names, a symlink then a file through it, a hard link out, zip
# slip) are refused before anything is written, inside or outside DIR.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null 2>&1 || skip_all "python3 is needed to build the test archives"

mkdir -p "$tmp/a" "$tmp/outside"
# Build the archives with python3's tarfile and zipfile, which write any
# name they are given.
python3 - "$tmp/a" "$tmp/outside" <<'PY'
import io, os, sys, tarfile, zipfile
d, outside = sys.argv[1], sys.argv[2]

def tar(name, entries, mode="w"):
    with tarfile.open(os.path.join(d, name), mode) as t:
        for e in entries:
            kind, path = e[0], e[1]
            ti = tarfile.TarInfo(path)
            data = b""
            if kind == "file":
                data = e[2]
                ti.size = len(data)
            elif kind == "dir":
                ti.type = tarfile.DIRTYPE
                ti.mode = 0o755
            elif kind == "sym":
                ti.type = tarfile.SYMTYPE
                ti.linkname = e[2]
            elif kind == "hard":
                ti.type = tarfile.LNKTYPE
                ti.linkname = e[2]
            elif kind == "fifo":
                ti.type = tarfile.FIFOTYPE
            t.addfile(ti, io.BytesIO(data))

def zipf(name, entries):
    with zipfile.ZipFile(os.path.join(d, name), "w") as z:
        for path, data in entries:
            z.writestr(path, data)

tar("good.tar.gz", [("dir", "./pkg"), ("file", "./pkg/model.gguf", b"GGUF" * 100),
                    ("file", "pkg/sub/config.json", b"{}\n"), ("sym", "pkg/link.gguf", "model.gguf"),
                    ("hard", "pkg/hard.gguf", "pkg/model.gguf")], "w:gz")
zipf("good.whl", [("llm_x/model.gguf", b"GGUF" * 50), ("llm_x-0.1.dist-info/METADATA", b"Name: x\n")])
tar("dotdot.tar", [("file", "ok.txt", b"fine"), ("file", "../escape.txt", b"evil")])
tar("deepdotdot.tar", [("file", "a/b/../../../escape.txt", b"evil")])
tar("absolute.tar", [("file", "ok.txt", b"fine"), ("file", outside + "/abs.txt", b"evil")])
tar("symlink-then-file.tar", [("sym", "link", outside), ("file", "link/through.txt", b"evil")])
tar("symlink-inside-then-file.tar", [("dir", "real"), ("sym", "link", "real"), ("file", "link/x.txt", b"evil")])
tar("symlink-up.tar", [("sym", "sub/up", "../../outside")])
tar("hardlink-out.tar", [("hard", "h", outside + "/victim.txt")])
tar("hardlink-dotdot.tar", [("hard", "h", "../outside/victim.txt")])
tar("fifo.tar", [("fifo", "pipe")])
tar("via-existing-link.tar", [("file", "link/x.txt", b"evil")])
zipf("zipslip.zip", [("ok.txt", b"fine"), ("../../escape.txt", b"evil")])
zipf("zipabs.zip", [(outside + "/abs.txt", b"evil")])
zipf("zipbackslash.zip", [("..\\..\\escape.txt", b"evil")])
with open(os.path.join(d, "notarchive.tar"), "wb") as f:
    f.write(b"this is not an archive at all\n" * 20)
PY
echo "keep me" >"$tmp/outside/victim.txt"

ok "a good tar.gz unpacks" hf-fetch --unpack "$tmp/a/good.tar.gz" "$tmp/x1"
is "file content" "$(head -c 8 "$tmp/x1/pkg/model.gguf")" "GGUFGGUF"
is "nested file" "$(cat "$tmp/x1/pkg/sub/config.json")" "{}"
is "an inside symlink is kept" "$(readlink "$tmp/x1/pkg/link.gguf")" "model.gguf"
ok "an inside hard link is made" test "$tmp/x1/pkg/hard.gguf" -ef "$tmp/x1/pkg/model.gguf"
ok "a wheel (zip) unpacks one member" hf-fetch --unpack "$tmp/a/good.whl" "$tmp/x2" llm_x/model.gguf
is "the member" "$(wc -c <"$tmp/x2/llm_x/model.gguf" | tr -d ' ')" 200
ok "and only that member" test ! -e "$tmp/x2/llm_x-0.1.dist-info"
fails "a member that is not there: exit 1" 1 hf-fetch --unpack "$tmp/a/good.whl" "$tmp/x3" nope.gguf
like "says which" "$(cat "$tmp/err")" "no entry named 'nope.gguf'"
(cd "$tmp" && hf-fetch --unpack a/good.whl rel/dir >/dev/null 2>&1)
ok "relative ARCHIVE and DIR work" test -f "$tmp/rel/dir/llm_x/model.gguf"

refused() {
	# $1 archive, $2 message pattern
	rm -rf "$tmp/t"
	fails "$1 is refused" 1 hf-fetch --unpack "$tmp/a/$1" "$tmp/t/in"
	like "$1: message" "$(cat "$tmp/err")" "$2"
	is "$1: nothing written in the target" "$(find "$tmp/t" ! -type d 2>/dev/null | wc -l | tr -d ' ')" 0
}
refused dotdot.tar "entry '../escape.txt': absolute path or '..' refused"
refused deepdotdot.tar "absolute path or '..' refused"
refused absolute.tar "abs.txt': absolute path or '..' refused"
refused symlink-then-file.tar "symlink to '$tmp/outside' points outside"
refused symlink-inside-then-file.tar "entry 'link/x.txt' would be written through a symlink"
refused symlink-up.tar "symlink to '../../outside' points outside"
refused hardlink-out.tar "hard link to '$tmp/outside/victim.txt' points outside"
refused hardlink-dotdot.tar "hard link to '../outside/victim.txt' points outside"
refused fifo.tar "entry 'pipe': not a file, directory or link"
refused zipslip.zip "entry '../../escape.txt': absolute path or '..' refused"
refused zipabs.zip "absolute path or '..' refused"
refused zipbackslash.zip "absolute path or '..' refused"
refused notarchive.tar "notarchive.tar: "
# A symlink already in DIR (not from the archive) is not written through.
rm -rf "$tmp/t"; mkdir -p "$tmp/t/in"; ln -s "$tmp/outside" "$tmp/t/in/link"
fails "a symlink already in DIR is not followed" 1 hf-fetch --unpack "$tmp/a/via-existing-link.tar" "$tmp/t/in"
like "libarchive's secure flags refuse it" "$(cat "$tmp/err")" 'link/x.txt: .*symlink'
is "nothing was written outside" "$(ls "$tmp/outside" | tr '\n' ' ')" "victim.txt "
is "the hard link target is untouched" "$(cat "$tmp/outside/victim.txt")" "keep me"
ok "no escape.txt anywhere" sh -c "! find '$tmp' -name escape.txt | grep -q ."
head -c $(($(wc -c <"$tmp/a/good.tar.gz") / 2)) "$tmp/a/good.tar.gz" >"$tmp/a/cut.tar.gz"
head -c 150 "$tmp/a/good.whl" >"$tmp/a/cut.whl"
refused cut.tar.gz "cut.tar.gz: "
refused cut.whl "cut.whl: "
fails "--unpack without DIR: usage error" 2 hf-fetch --unpack "$tmp/a/good.whl"
fails "a missing archive: exit 1" 1 hf-fetch --unpack "$tmp/a/missing.tar" "$tmp/t"
done_testing
