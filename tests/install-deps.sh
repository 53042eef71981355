#!/bin/sh
# install-deps.sh - the Debian packages the build and the tests need.
# Run as root (CI does); `make deps` calls it.
set -eu
# perl brings prove; python3-pip fetches the test models (make model);
# man-db lets tests/install.t render the installed man pages; civetweb
# is lm-serve's HTTP server, curl drives it in the tests.  Only
# `make fuzz` needs clang (libFuzzer): apt-get install clang.
pkgs="build-essential make pkg-config perl python3 python3-pip
libcurl4-openssl-dev libjq-dev libarchive-dev libcivetweb-dev curl unicode-data man-db jq"
missing=
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && { echo "install-deps: all packages present"; exit 0; }
if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing packages:$missing (run as root or: sudo apt-get install$missing)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq $missing
