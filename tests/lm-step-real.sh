# tests/lm-step-real.sh - lm-step on a real model against transformers
# running the same GGUF dequantized to float32 (fixtures:
# tests/ref/model_ref.py KEY), sourced by tests/lm-step-*.t after lib.sh:
#
#   real_setup KEY MODEL     the fixtures of KEY, the model file
#   real_checks LABEL TOL    the three checks below, LABEL in their names
#   real_families TOL        the same under every other kernel family the
#                            CPU has (LMU_KERNELS); the scalar reference (a
#                            few tokens/s) on the first 2 prompts' greedy
#                            continuations only
#
# LMU_GREEDY_ONLY=N (make neon-test, lm-step under an emulator): only the
# greedy continuations of the first N prompts, under each SIMD family, and
# no scalar run.
#
#  - greedy: each of 20 prompts is continued 32 tokens by a real generation
#    loop (lm-step --text=1 | pick the best id | tee fifo, doc/internals.md
#    "The generation loop"); the continuation must equal the reference's,
#    or first differ where the reference's two best logits are within 0.1
#    (a near-tie);
#  - top-1: prompt + reference continuation fed to lm-step --all-logits,
#    best ids compared position by position: agreement >= 99%;
#  - perplexity of a 2 KB text from --all-logits within TOL percent of the
#    reference's.
: "${LMU_TESTBIN:=$top/build/native/tests}"
N_NEW=32

real_setup() {
	key=$1 M=$2
	greedy_fix=$top/tests/fixtures/fwd/$key-greedy.txt
	ppl_fix=$top/tests/fixtures/fwd/$key-ppl.txt
	n_prompts=$(awk '$1 == "p"' "$greedy_fix" | wc -l | tr -d ' ')
	is "$key: 20 prompts in the fixture" "$n_prompts" 20
}

field() { awk -v k="$1" -v i="$2" '$1 == k && $2 == i { $1 = ""; $2 = ""; sub(/^  /, ""); print; exit }' "$greedy_fix"; }

# greedy_check LABEL N: the first N prompts continued through a fifo loop
greedy_check() {
	same=0 tie=0 bad=0 longest=0
	k=0
	while [ "$k" -lt "$2" ]; do
		prompt=$(field p "$k")
		want=$(field g "$k")
		n=$(echo "$prompt" | wc -w)
		[ "$n" -gt "$longest" ] && longest=$n
		rm -f "$tmp/loop"; mkfifo "$tmp/loop"
		{ echo "$prompt"; cat "$tmp/loop"; } | lm-step -m "$M" --text=1 | greedy "$N_NEW" | tee "$tmp/loop" > "$tmp/gen"
		got=$(tr '\n' ' ' < "$tmp/gen" | sed 's/ $//')
		if [ "$got" = "$want" ]; then
			same=$((same + 1))
		else
			# first differing step j (from 1); the reference's margin at the
			# position that predicted it, n_prompt - 2 + j from 0: field
			# n_prompt - 1 + j of the margins
			verdict=$(printf '%s\n%s\n%s\n%s\n' "$prompt" "$want" "$got" "$(field m "$k")" | awk '
				NR == 1 { np = NF } NR == 2 { n = split($0, w) } NR == 3 { split($0, g) }
				NR == 4 { for (j = 1; j <= n; j++) if (w[j] != g[j]) break
					  m = $(np - 1 + j); print (m + 0 <= 0.1 ? "tie" : "bad"), j, m }')
			diag "$1: prompt $k: continuation differs: $verdict"
			case $verdict in tie*) tie=$((tie + 1)) ;; *) bad=$((bad + 1)) ;; esac
		fi
		k=$((k + 1))
	done
	diag "$1: greedy: $same identical, $tie differ first at a near-tie, $bad differ elsewhere (longest prompt $longest ids)"
	is "$1: every greedy continuation is identical or first differs at a near-tie (<= 0.1)" "$bad" 0
	ok "$1: most continuations are identical" test "$same" -ge $(($2 * 3 / 4))
}

# top1_check LABEL: top-1 agreement on the same tokens
top1_check() {
	k=0
	: > "$tmp/in"; : > "$tmp/want"
	while [ "$k" -lt "$n_prompts" ]; do
		echo '!reset' >> "$tmp/in"
		echo "$(field p "$k") $(field g "$k")" >> "$tmp/in"
		field t "$k" | tr ' ' '\n' | sed '$d' >> "$tmp/want"  # the last position predicts past the fixture
		k=$((k + 1))
	done
	# rebuild without each sequence's last frame: a frame is last when the next starts at pos 0
	lm-step -m "$M" --all-logits < "$tmp/in" | "$LMU_TESTBIN/test-forward" --top1 |
		awk '{ if (NR > 1 && $1 != 0) print prev; prev = $2 }' > "$tmp/got"
	total=$(wc -l < "$tmp/want" | tr -d ' ')
	agree=$(paste -d' ' "$tmp/want" "$tmp/got" | awk '$1 == $2 { n++ } END { print n + 0 }')
	diag "$1: top-1 agreement: $agree of $total positions"
	is "$1: as many positions as the reference" "$(wc -l < "$tmp/got" | tr -d ' ')" "$total"
	ok "$1: top-1 agreement >= 99% ($agree of $total)" test $((agree * 100)) -ge $((total * 99))
}

# ppl_check LABEL TOL
ppl_check() {
	sed -n 's/^ids //p' "$ppl_fix" > "$tmp/ppl.ids"
	n_ppl=$(($(wc -w < "$tmp/ppl.ids") - 1))
	got=$(lm-step -m "$M" --all-logits < "$tmp/ppl.ids" | "$LMU_TESTBIN/test-forward" --ppl "$tmp/ppl.ids")
	want=$(sed -n 's/^ppl \([0-9.]*\) .*/\1/p' "$ppl_fix")
	diag "$1: perplexity: lm-step $(echo "$got" | awk '{ print $6 }'), transformers $want"
	like "$1: a loss at each of $n_ppl positions" "$got" "^positions $n_ppl "
	ok "$1: perplexity within $2% of transformers'" awk -v g="$(echo "$got" | awk '{ print $6 }')" -v w="$want" \
		-v t="$2" 'BEGIN { d = 100 * (g - w) / w; exit !(d < t && d > -t) }'
}

real_checks() {
	if [ -n "${LMU_GREEDY_ONLY:-}" ]; then
		greedy_check "$1" "$LMU_GREEDY_ONLY"
		return
	fi
	greedy_check "$1" "$n_prompts"
	top1_check "$1"
	ppl_check "$1" "$2"
}

# the kernel family lm-step picks by itself
default_family() { lm-step -m "$M" -v < /dev/null 2>&1 | sed -n 's/.*kernels \([^,]*\),.*/\1/p'; }

real_families() {
	default=$(default_family)
	for fam in avx512 avx2 neondot neon scalar; do
		if ! LMU_KERNELS=$fam lm-step -m "$M" -v < /dev/null > /dev/null 2>&1; then
			skip "kernel family $fam: not built for or not supported by this CPU"
			continue
		fi
		name=$(LMU_KERNELS=$fam default_family)
		[ "$name" = "$default" ] && continue
		export LMU_KERNELS=$fam
		if [ "$fam" = scalar ] && [ -n "${LMU_GREEDY_ONLY:-}" ]; then
			skip "kernel family scalar: too slow under emulation (the same C code runs natively)"
		elif [ "$fam" = scalar ]; then
			greedy_check "$key $name" 2
		else
			real_checks "$key $name" "$1"
		fi
		unset LMU_KERNELS
	done
}
