#!/bin/sh
# lm-step on SmolLM2-135M-Instruct Q4_1 (llama) against transformers
# (tests/lm-step-real.sh), under every kernel family the CPU has.
. "$(dirname "$0")/lib.sh"
need_model smollm2
. "$top/tests/lm-step-real.sh"
real_setup smollm2 "$SMOLLM2"
unset LMU_KERNELS
real_checks "smollm2 $(default_family)" 0.5
real_families 0.5
done_testing
