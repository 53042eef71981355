#!/bin/sh
# lm-step on Qwen2.5-Coder-0.5B-Instruct Q4_K_M (qwen2) against
# transformers (tests/lm-step-real.sh); the last prompt is of 700+ ids.
. "$(dirname "$0")/lib.sh"
need_model qwen05
. "$top/tests/lm-step-real.sh"
real_setup qwen2.5-coder-0.5b "$QWEN05"
real_checks qwen2.5-coder-0.5b 0.5
done_testing
