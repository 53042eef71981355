#!/bin/sh
# install-deps.sh - what the build and the tests need: Debian packages
# (as root; CI runs it so), then the pinned Python packages of
# tests/requirements.txt in a virtual environment, .venv/ at the top of the
# tree, which the tests use (tests/lib.sh: $LMU_PYTHON).  `make deps` calls
# it; it does nothing that is already done.
set -eu
cd "$(dirname "$0")/.."
# perl brings prove; python3-pip fetches the test models (make model);
# python3-venv makes .venv; man-db lets tests/install.t render the
# installed man pages; civetweb is lm-serve's HTTP server, curl drives it
# in the tests; tmux drives lm-chat and nl2sh on a terminal in
# tests/porcelain-tty.t; SQLite keeps lm-serve's sessions (sqlite3, the
# shell, is how a user backs them up); chromium and chromium-driver run
# the chat page's test (tests/serve-browser.t; they took 2 min 20 s and
# about half a GB to install on Debian 12).  Only `make fuzz` needs clang
# (libFuzzer): apt-get install clang.
pkgs="build-essential make pkg-config perl python3 python3-pip python3-venv
libcurl4-openssl-dev libjq-dev libarchive-dev libcivetweb-dev libsqlite3-dev sqlite3 curl unicode-data
man-db jq tmux chromium chromium-driver"
# make neon-test: the aarch64 cross compiler, qemu-user to run what it
# makes, and libjq for arm64 (Debian multiarch)
pkgs="$pkgs gcc-aarch64-linux-gnu qemu-user libjq-dev:arm64"
# --cluster: also what tests/cluster-*.t run (make deps-cluster,
# make test-cluster): GNU parallel over ssh (an sshd of the test's own,
# rsync for --basefile/--return), and a single-node Slurm with MUNGE.
[ "${1:-}" = --cluster ] && pkgs="$pkgs parallel openssh-server openssh-client rsync slurm-wlm munge util-linux"
missing=
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
if [ -z "$missing" ]; then
	echo "install-deps: all packages present"
elif [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing packages:$missing (run as root or: sudo apt-get install$missing)" >&2
	exit 1
else
	export DEBIAN_FRONTEND=noninteractive
	case $missing in *:arm64*)
		dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64 ;;
	esac
	apt-get update -qq
	apt-get install -y -qq $missing
fi

# The Debian python3 makes the venv (not whatever python3 comes first on
# PATH), so that it is the same as on a clean machine; a venv made for
# another requirements.txt is made again.
venv=.venv
stamp=$venv/requirements.txt
if [ -x "$venv/bin/python3" ] && cmp -s tests/requirements.txt "$stamp"; then
	echo "install-deps: $venv is up to date"
	exit 0
fi
py=/usr/bin/python3
[ -x "$py" ] || py=python3
rm -rf "$venv"
"$py" -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check -r tests/requirements.txt
cp tests/requirements.txt "$stamp"
echo "install-deps: $venv made from tests/requirements.txt"
