#!/bin/sh
# build-llama-cpp.sh - build llama.cpp's llama-bench and llama-quantize from
# the llama-cpp-python source distribution on PyPI (which vendors
# llama.cpp), once, into tests/bench/cache/ (git-ignored).  Nothing of
# llama.cpp is committed.  Prints the bin directory on stdout.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cache=$here/cache
version=${LLAMA_CPP_PYTHON_VERSION:-0.3.36}
src=$cache/llama_cpp_python-$version/vendor/llama.cpp
build=$cache/llama.cpp-build
bin=$build/bin

if [ -x "$bin/llama-bench" ] && [ -x "$bin/llama-quantize" ]; then
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
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DBUILD_SHARED_LIBS=OFF \
	-DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF \
	-DGGML_OPENMP=ON >&2
cmake --build "$build" -j "$(nproc)" --target llama-bench llama-quantize >&2
echo "$bin"
