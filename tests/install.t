#!/bin/sh
# make install DESTDIR=... PREFIX=/usr puts every program, every porcelain
# script and every man page in place, and nothing else.
. "$(dirname "$0")/lib.sh"
command -v make >/dev/null || skip_all "make is not installed"

case ${LMU_VARIANT:-native} in
asan) variant=SAN=1 ;;
portable) variant=PORTABLE=1 ;;
*) variant= ;;
esac
d=$tmp/dest
ok "make install DESTDIR PREFIX=/usr" make -s -C "$top" $variant install DESTDIR="$d" PREFIX=/usr

progs=$(cd "$top" && for f in tokenize/*-*.c forward/*-*.c sample/*-*.c fetch/*-*.c common/*-*.c serve/*-*.c; do
	[ -f "$f" ] && basename "$f" .c; done)
scripts=$(cd "$top/bin" && for f in *; do
	[ -f "$f" ] || continue
	case " $(echo $progs) " in *" $f "*) ;; *) echo "$f" ;; esac; done)
for p in $progs $scripts; do
	ok "$p installed executable" test -x "$d/usr/bin/$p"
done
ok "installed lm-step runs (-V)" "$d/usr/bin/lm-step" -V
like "... and prints its version" "$(cat "$tmp/out")" '^lm-step (lmutils) '
n=0
for m in "$top"/man/*.1 "$top"/man/*.5 "$top"/man/*.7; do
	[ -f "$m" ] || continue
	n=$((n + 1))
	sec=${m##*.}
	ok "$(basename "$m") installed in man$sec" cmp "$m" "$d/usr/share/man/man$sec/$(basename "$m")"
done
[ "$n" -ge 1 ] && _result 0 "$n man pages" || _result 1 "no man page found in man/"
if command -v man >/dev/null; then
	ok "the installed lm-step(1) renders" sh -c "MANWIDTH=80 man -l '$d/usr/share/man/man1/lm-step.1' 2>&1 >/dev/null | grep . && exit 1; exit 0"
else
	skip "man is not installed"
fi
extra=$(cd "$d" && find . -type f | grep -v -e '^\./usr/bin/[^/]*$' -e '^\./usr/share/man/man[157]/[^/]*\.[157]$')
is "nothing installed outside usr/bin and usr/share/man" "$extra" ""
ok "install is idempotent" make -s -C "$top" $variant install DESTDIR="$d" PREFIX=/usr
done_testing
