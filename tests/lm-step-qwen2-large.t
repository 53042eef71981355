#!/bin/sh
# lm-step on Qwen2.5-Coder-1.5B-Instruct Q4_K_M (qwen2, make model-large)
# against transformers (tests/lm-step-real.sh).
. "$(dirname "$0")/lib.sh"
need_model qwen15
. "$top/tests/lm-step-real.sh"
real_setup qwen2.5-coder-1.5b "$QWEN15"
real_checks qwen2.5-coder-1.5b 0.5
done_testing
