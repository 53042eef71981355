#!/bin/sh
# The AVX2 kernel family must be what a CPU with AVX2 and no AVX-512 runs,
# whatever the build targets: no EVEX-encoded instruction (AVX-512, also
# its 256-bit VL forms), no zmm, ymm16-31, xmm16-31 or mask register in
# kernels_avx2.o.  Otherwise LMU_KERNELS=avx2 on an AVX-512 machine (the
# AVX2 benchmarks) measures registers an AVX2 CPU does not have.
. "$(dirname "$0")/lib.sh"
case $(uname -m) in x86_64|i?86) ;; *) skip_all "not x86 (uname -m: $(uname -m))" ;; esac
command -v objdump > /dev/null || skip_all "objdump (binutils) is not installed"
obj=$top/build/${LMU_VARIANT:-native}/obj/forward/kernels_avx2.o

ok "kernels_avx2.o is built" test -f "$obj"
objdump -d --no-show-raw-insn "$obj" > "$tmp/asm" 2>&1
objdump -d "$obj" > "$tmp/raw" 2>&1
# the instruction bytes are the second tab-separated field; in 64-bit mode
# 0x62 as the first opcode byte is the EVEX prefix
evex=$(awk -F'\t' 'NF >= 3 && $2 ~ /^(67 )?62 /' "$tmp/raw" | wc -l)
regs=$(grep -cE '%(zmm|[xy]mm(1[6-9]|2[0-9]|3[01])\b|k[0-7]\b)' "$tmp/asm")
vex=$(grep -cE 'vpmaddubsw|vfmadd[0-9]+ps' "$tmp/asm")
like "it has the AVX2 kernels (VPMADDUBSW, VFMADD*PS)" "$vex" '^[1-9]'
is "no EVEX-encoded instruction" "$evex" 0
is "no zmm, ymm16-31, xmm16-31 or mask register" "$regs" 0
[ "$evex" = 0 ] || diag "$(awk -F'\t' 'NF >= 3 && $2 ~ /^(67 )?62 /' "$tmp/raw" | head -n 3)"
done_testing
