#!/bin/sh
# build-llama-cpp.sh - build llama.cpp's llama-bench and llama-quantize (or
# the targets named) from the llama-cpp-python source distribution on PyPI
# (which vendors llama.cpp), once, into tests/bench/cache/ (git-ignored).
# Nothing of llama.cpp is committed.  Prints the bin directory on stdout.
#
#   build-llama-cpp.sh [VARIANT] [TARGET...]
#   VARIANT native              -march=native (AVX-512 here), the default
#   VARIANT avx2                AVX-512 off, AVX2 + FMA + F16C on: what an
#                               AVX2-only machine gets (its own build dir)
#   VARIANT avx512              AVX-512 (F, BW, VL, DQ, VBMI, VNNI, BF16) without
#                               AMX: the native build uses AMX tiles where the
#                               CPU reports them, and a VM that does not grant
#                               their state crashes in its first prefill
#                               (ldtilecfg); its own build dir
#   VARIANT server              llama-server, native, without its web UI
#                               (nothing downloaded), in its own build dir:
#                               the server option never meets the other builds
#   TARGET                      e.g. llama-batched-bench, llama-simple
#                               (startup-bench.sh) (default llama-bench
#                               llama-quantize; llama-server for server);
#                               every target of a variant from the same
#                               source and flags
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cache=$here/cache
version=${LLAMA_CPP_PYTHON_VERSION:-0.3.36}
src=$cache/llama_cpp_python-$version/vendor/llama.cpp
variant=native
case ${1:-} in native|avx2|avx512|server) variant=$1; shift ;; esac
server="-DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_EXAMPLES=ON"
case $variant in
native)
	build=$cache/llama.cpp-build
	isa="-DGGML_NATIVE=ON" ;;
server)
	build=$cache/llama.cpp-build-server
	isa="-DGGML_NATIVE=ON"
	[ $# -gt 0 ] || set -- llama-server
	server="-DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF" ;;
avx2)
	build=$cache/llama.cpp-build-avx2
	isa="-DGGML_NATIVE=OFF -DGGML_SSE42=ON -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
	     -DGGML_BMI2=ON -DGGML_AVX_VNNI=OFF -DGGML_AVX512=OFF -DGGML_AVX512_VBMI=OFF
	     -DGGML_AVX512_VNNI=OFF -DGGML_AVX512_BF16=OFF" ;;
avx512)
	build=$cache/llama.cpp-build-avx512
	isa="-DGGML_NATIVE=OFF -DGGML_SSE42=ON -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
	     -DGGML_BMI2=ON -DGGML_AVX_VNNI=OFF -DGGML_AVX512=ON -DGGML_AVX512_VBMI=ON
	     -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF
	     -DGGML_AMX_BF16=OFF" ;;
esac
case ${1:-} in -*) echo "usage: build-llama-cpp.sh [native|avx2|avx512|server] [TARGET...]" >&2; exit 2 ;; esac
bin=$build/bin
[ $# -gt 0 ] || set -- llama-bench llama-quantize

missing=
for t in "$@"; do [ -x "$bin/$t" ] || missing="$missing $t"; done
if [ -z "$missing" ]; then
	echo "$bin"
	exit 0
fi
command -v cmake >/dev/null || { echo "build-llama-cpp: cmake is needed (apt-get install cmake)" >&2; exit 1; }
command -v c++ >/dev/null || { echo "build-llama-cpp: a C++ compiler is needed (apt-get install g++)" >&2; exit 1; }
mkdir -p "$cache"
if [ ! -d "$src" ]; then
	python3 -m pip download --quiet --no-deps --no-binary :all: --dest "$cache" \
		"llama-cpp-python==$version" >&2 ||
		{ echo "build-llama-cpp: pip could not download llama-cpp-python==$version" >&2; exit 1; }
	tar -xzf "$cache/llama_cpp_python-$version.tar.gz" -C "$cache" "llama_cpp_python-$version/vendor/llama.cpp"
fi
# shellcheck disable=SC2086 # $isa and $server are lists of options
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release $isa -DBUILD_SHARED_LIBS=OFF \
	-DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF $server \
	-DGGML_OPENMP=ON >&2
# shellcheck disable=SC2086 # a list of targets
cmake --build "$build" -j "$(nproc)" --target $missing >&2
echo "$bin"
