# The forward pass's vector code (GCC vector extensions in steps.c) is
# written as a * b + c; -std=c11 turns contraction off, and without it
# those become a multiply and an add instead of one fused multiply-add.
$(B)/obj/forward/steps.o: CFLAGS += -ffp-contract=fast

$(B)/obj/tests/unit/test-batch.o: CPPFLAGS += -Iforward -Isample
# lm-batch: the engine with the sampler (sample/) and the tokenizer (tokenize/)
$(B)/obj/forward/lm-batch.o: CPPFLAGS += -Isample -Itokenize

# kernels_avx2.c is what a CPU with AVX2 and no AVX-512 runs.  Its target
# attribute adds AVX2, FMA and F16C to whatever the build targets; with
# -march=native on an AVX-512 machine that would let the compiler use
# AVX-512VL encodings and ymm16-31 in it, so LMU_KERNELS=avx2 would measure
# a CPU that does not exist.  tests/kernels-isa.t checks the object.
ifneq ($(filter x86_64-% i386-% i486-% i586-% i686-%,$(shell $(CC) -dumpmachine)),)
$(B)/obj/forward/kernels_avx2.o: CFLAGS += -mno-avx512f
endif

# The kernel files are most of the build's time (kernels_avx512.c alone took
# 71 s of a clean build's 140 CPU seconds on a 2-core Zen 3).  GCC's
# variable-tracking assignments, which only make -g's locations of variables
# more precise, were a quarter of that; without them the machine code is the
# same (objdump -d identical) and the file takes 54 s.  clang has no such
# pass and no such flag.
NO_VTA := $(shell $(CC) -fno-var-tracking-assignments -E -x c /dev/null > /dev/null 2>&1 && echo -fno-var-tracking-assignments)
$(B)/obj/forward/kernels_%.o: CFLAGS += $(NO_VTA)
