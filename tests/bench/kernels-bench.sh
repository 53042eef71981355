#!/bin/sh
# kernels-bench.sh - build and run tests/bench/kernels-bench.c against the
# native build's libraries: GB/s and GFLOP/s of quant_matmul per weight type
# and kernel family, one thread.  Not part of make test.
#   tests/bench/kernels-bench.sh [NB]    NB: prefill batch (default 128)
#   tests/bench/kernels-bench.sh a16 NB FAMILY TYPE:ROWSxN...
#                                        quant_matmul_a16 per shape against NB
#                                        activations, e.g. the products of a
#                                        decode step of NB sequences:
#     a16 16 avx512 q4_1:576x576 q4_1:576x1536 q8_0:49152x576 q5_0:896x896
set -eu
cd "$(dirname "$0")/../.."
make -s -j2 build/native/libforward.a build/native/libcommon.a >&2
mkdir -p build/native/bench
cc -std=gnu11 -O2 -D_GNU_SOURCE -Icommon -o build/native/bench/kernels-bench tests/bench/kernels-bench.c \
	build/native/libforward.a build/native/libcommon.a -lm -pthread
exec build/native/bench/kernels-bench "$@"
